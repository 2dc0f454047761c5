// Guest page-table walks over a fake guest-physical memory.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

extern "C" {
#include "guest_walk.h"
}

namespace {

struct Mem {
	std::vector<uint8_t> bytes = std::vector<uint8_t>(1 << 22);
	void put32(uint64_t gpa, uint32_t v) { std::memcpy(&bytes[gpa], &v, 4); }
	void put64(uint64_t gpa, uint64_t v) { std::memcpy(&bytes[gpa], &v, 8); }
	static int read(void *ctx, uint64_t gpa, void *buf, unsigned len)
	{
		auto *m = static_cast<Mem *>(ctx);
		if (gpa + len > m->bytes.size())
			return -1;
		std::memcpy(buf, &m->bytes[gpa], len);
		return 0;
	}
};

constexpr uint64_t PG = 1ULL << 31, WP = 1ULL << 16, PE = 1;
constexpr uint64_t PSE = 1 << 4, PAE = 1 << 5, LMA = 1 << 10, LME = 1 << 8, NXE = 1 << 11;

TEST(GuestWalk, PagingOffIsIdentity)
{
	Mem m;
	guest_paging p{ PE, 0, 0, 0 };
	uint64_t gpa = 0;
	EXPECT_EQ(guest_walk(&p, 0x12345678, 0, Mem::read, &m, &gpa), WALK_OK);
	EXPECT_EQ(gpa, 0x12345678u);
}

TEST(GuestWalk, ThirtyTwoBitWith4KAnd4MPages)
{
	Mem m;
	m.put32(0x1000 + 1 * 4, 0x2000 | 3);		// PDE 1 -> PT at 0x2000
	m.put32(0x2000 + 5 * 4, 0x7000 | 1);		// PTE 5 -> 0x7000, read-only
	m.put32(0x1000 + 2 * 4, 0x00c00000 | 0x83);	// PDE 2: 4 MiB page at 12 MiB
	guest_paging p{ PE | PG | WP, 0x1000, PSE, 0 };
	uint64_t gpa = 0;
	ASSERT_EQ(guest_walk(&p, 0x00405abc, 0, Mem::read, &m, &gpa), WALK_OK);
	EXPECT_EQ(gpa, 0x7abcu);
	EXPECT_EQ(guest_walk(&p, 0x00405abc, WALK_WRITE, Mem::read, &m, &gpa), WALK_PAGE_FAULT);
	ASSERT_EQ(guest_walk(&p, 0x00812345, 0, Mem::read, &m, &gpa), WALK_OK);
	EXPECT_EQ(gpa, 0x00c12345u);
	EXPECT_EQ(guest_walk(&p, 0x00c00000, 0, Mem::read, &m, &gpa), WALK_PAGE_FAULT);
}

TEST(GuestWalk, PaeUsesThePdpt)
{
	Mem m;
	m.put64(0x1020 + 3 * 8, 0x3000 | 1);		// PDPTE 3 (CR3 = 0x1020)
	m.put64(0x3000 + 0x1ff * 8, 0x4000 | 7);	// PDE 511
	m.put64(0x4000 + 0x1ff * 8, 0x9000 | 7);	// PTE 511
	guest_paging p{ PE | PG, 0x1020, PAE, 0 };
	uint64_t gpa = 0;
	ASSERT_EQ(guest_walk(&p, 0xfffff123, WALK_USER | WALK_WRITE, Mem::read, &m, &gpa), WALK_OK);
	EXPECT_EQ(gpa, 0x9123u);
}

TEST(GuestWalk, LongModeWith2MPagesAndNx)
{
	Mem m;
	m.put64(0x1000, 0x2000 | 3);			// PML4E 0
	m.put64(0x2000 + 3 * 8, 0x3000 | 3);		// PDPTE 3 (3 GiB)
	m.put64(0x3000 + 0x80 * 8, 0x200000 | 0x83 | (1ULL << 63));	// 2 MiB, NX
	guest_paging p{ PE | PG, 0x1000, PAE, LME | LMA | NXE };
	uint64_t gpa = 0;
	uint64_t gla = (3ULL << 30) | (0x80ULL << 21) | 0x1234;
	ASSERT_EQ(guest_walk(&p, gla, 0, Mem::read, &m, &gpa), WALK_OK);
	EXPECT_EQ(gpa, 0x201234u);
	EXPECT_EQ(guest_walk(&p, gla, WALK_FETCH, Mem::read, &m, &gpa), WALK_PAGE_FAULT);
	EXPECT_EQ(guest_walk(&p, gla, WALK_USER, Mem::read, &m, &gpa), WALK_PAGE_FAULT);
}

TEST(GuestWalk, TablesOutsideMemoryAreReadErrors)
{
	Mem m;
	m.put64(0x1000, 0x7fff0000000ULL | 3);
	guest_paging p{ PE | PG, 0x1000, PAE, LME | LMA };
	uint64_t gpa = 0;
	EXPECT_EQ(guest_walk(&p, 0x1000, 0, Mem::read, &m, &gpa), WALK_READ_ERROR);
}

} // namespace
