// main() of the in-rig tests: unbuffered output, so a hang shows where.
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char **argv)
{
	std::setvbuf(stdout, nullptr, _IONBF, 0);
	testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
