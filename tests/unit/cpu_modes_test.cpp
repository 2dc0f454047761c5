// The tool's CPU-mode setup: the tables it writes, walked with the module's
// own page walker, and the segment state it hands to KVM_SET_SREGS.
#include <gtest/gtest.h>

#include <cstring>

#include "cpu_modes.hpp"
#include "guest_memory.hpp"

extern "C" {
#include "guest_walk.h"
}

namespace {

int read_guest(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	auto *m = static_cast<kvmx::GuestMemory *>(ctx);
	if (gpa + len > m->size())
		return -1;
	std::memcpy(buf, m->at(gpa, len), len);
	return 0;
}

uint64_t walk(const kvmx::ModeSetup &ms, kvmx::GuestMemory &mem, uint64_t gva)
{
	guest_paging p{ ms.sregs.cr0, ms.sregs.cr3, ms.sregs.cr4, ms.sregs.efer };
	uint64_t gpa = ~0ULL;
	EXPECT_EQ(guest_walk(&p, gva, 0, read_guest, &mem, &gpa), WALK_OK) << std::hex << gva;
	return gpa;
}

kvmx_sregs reset_state()
{
	kvmx_sregs s{};
	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	s.cs.limit = 0xffff;
	s.cs.present = 1;
	s.cs.type = 0xb;
	s.cs.s = 1;
	s.cr0 = 0x60000010;
	return s;
}

TEST(CpuModes, RealModeStartsAtSegmentZero)
{
	kvmx::GuestMemory mem(2 << 20);
	auto ms = kvmx::setup_cpu_mode(kvmx::CpuMode::Real, mem, reset_state());
	EXPECT_EQ(ms.sregs.cs.base, 0u);
	EXPECT_EQ(ms.sregs.cr0 & 1, 0u);
}

TEST(CpuModes, ProtectedModeIsFlat32Bit)
{
	kvmx::GuestMemory mem(2 << 20);
	auto ms = kvmx::setup_cpu_mode(kvmx::CpuMode::Protected, mem, reset_state());
	EXPECT_EQ(ms.sregs.cr0 & 0x80000001, 1u) << "PE without PG";
	EXPECT_EQ(ms.sregs.cs.base, 0u);
	EXPECT_EQ(ms.sregs.cs.limit, 0xffffffffu);
	EXPECT_EQ(ms.sregs.cs.db, 1);
	EXPECT_EQ(ms.sregs.cs.l, 0);
	EXPECT_EQ(ms.sregs.ds.limit, 0xffffffffu);
	EXPECT_LE(ms.stack_top, mem.size());
}

TEST(CpuModes, Paged32MapsAllOfRamOneToOne)
{
	kvmx::GuestMemory mem(4 << 20);
	auto ms = kvmx::setup_cpu_mode(kvmx::CpuMode::Paged32, mem, reset_state());
	EXPECT_TRUE(ms.sregs.cr0 & 0x80000000) << "paging on";
	EXPECT_EQ(ms.sregs.efer & (1 << 8), 0u) << "not long mode";
	for (uint64_t a : { 0x0ULL, 0x1000ULL, 0x1234ULL, 0x3ff000ULL, 0x3fffffULL })
		EXPECT_EQ(walk(ms, mem, a), a);
	// The tables live in the tool's area at the top of RAM.
	EXPECT_GE(ms.sregs.cr3, mem.size() - kvmx::kSetupAreaSize);
}

TEST(CpuModes, LongModeMapsAllOfRamOneToOne)
{
	kvmx::GuestMemory mem(64 << 20);
	auto ms = kvmx::setup_cpu_mode(kvmx::CpuMode::Long, mem, reset_state());
	EXPECT_TRUE(ms.sregs.efer & (1 << 10)) << "LMA";
	EXPECT_TRUE(ms.sregs.efer & (1 << 8)) << "LME";
	EXPECT_TRUE(ms.sregs.cr4 & (1 << 5)) << "PAE";
	EXPECT_EQ(ms.sregs.cs.l, 1);
	EXPECT_EQ(ms.sregs.cs.db, 0);
	for (uint64_t a : { 0x0ULL, 0x1000ULL, 0x200000ULL, 0x2345678ULL, (64ULL << 20) - 1 })
		EXPECT_EQ(walk(ms, mem, a), a);
	EXPECT_GE(ms.sregs.cr3, mem.size() - kvmx::kSetupAreaSize);
}

TEST(CpuModes, ModeNamesRoundTrip)
{
	for (auto m : { kvmx::CpuMode::Real, kvmx::CpuMode::Protected, kvmx::CpuMode::Paged32,
			kvmx::CpuMode::Long })
		EXPECT_EQ(kvmx::parse_cpu_mode(kvmx::cpu_mode_name(m)), m);
	EXPECT_ANY_THROW(kvmx::parse_cpu_mode("vm86"));
}

} // namespace
