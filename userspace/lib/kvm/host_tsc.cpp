#include "host_tsc.hpp"

#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <vector>

namespace kvmx {

namespace {

uint64_t raw_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

} // namespace

uint64_t measure_tsc_khz(unsigned sample_ms, unsigned samples)
{
	std::vector<uint64_t> khz;

	for (unsigned i = 0; i < samples; i++) {
		uint64_t t0 = raw_ns(), c0 = __rdtsc();
		timespec d{ 0, long(sample_ms) * 1000000L };
		nanosleep(&d, nullptr);
		uint64_t t1 = raw_ns(), c1 = __rdtsc();
		if (t1 <= t0 || c1 <= c0)
			return 0;
		khz.push_back((c1 - c0) * 1000000ULL / (t1 - t0));
	}
	std::sort(khz.begin(), khz.end());
	if (khz.empty() || khz.front() == 0 || (khz.back() - khz.front()) * 1000 > khz.front())
		return 0;
	return khz[khz.size() / 2];
}

} // namespace kvmx
