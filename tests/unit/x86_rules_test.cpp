// The architectural rules the exit handlers apply (kmod/x86_rules.c),
// checked against the SDM's tables natively, without the rig.
#include <gtest/gtest.h>

extern "C" {
#include "x86_rules.h"
}

namespace {

// SDM Vol. 3A 6.15, Table 6-5: conditions for generating a double fault.
TEST(ExceptionMerge, ContributoryAfterContributoryIsDoubleFault)
{
	const unsigned contributory[] = { 0, 10, 11, 12, 13 };
	for (unsigned a : contributory)
		for (unsigned b : contributory)
			EXPECT_EQ(exception_merge(a, b), X86_VEC_DF) << a << " then " << b;
}

TEST(ExceptionMerge, PageFaultThenContributoryOrPageFaultIsDoubleFault)
{
	EXPECT_EQ(exception_merge(X86_VEC_PF, X86_VEC_PF), X86_VEC_DF);
	EXPECT_EQ(exception_merge(X86_VEC_PF, X86_VEC_GP), X86_VEC_DF);
	EXPECT_EQ(exception_merge(X86_VEC_PF, 0), X86_VEC_DF);
}

TEST(ExceptionMerge, ContributoryThenPageFaultIsSerial)
{
	EXPECT_EQ(exception_merge(X86_VEC_GP, X86_VEC_PF), X86_VEC_PF);
}

TEST(ExceptionMerge, BenignOnEitherSideIsSerial)
{
	EXPECT_EQ(exception_merge(X86_VEC_AC, X86_VEC_AC), X86_VEC_AC);	// the #AC storm
	EXPECT_EQ(exception_merge(X86_VEC_DB, X86_VEC_GP), X86_VEC_GP);
	EXPECT_EQ(exception_merge(X86_VEC_GP, X86_VEC_DB), X86_VEC_DB);
	EXPECT_EQ(exception_merge(X86_VEC_PF, X86_VEC_AC), X86_VEC_AC);
	EXPECT_EQ(exception_merge(6, 13), 13);
}

TEST(ExceptionMerge, AnythingDuringDoubleFaultIsTripleFault)
{
	EXPECT_EQ(exception_merge(X86_VEC_DF, X86_VEC_GP), X86_MERGE_TRIPLE_FAULT);
	EXPECT_EQ(exception_merge(X86_VEC_DF, X86_VEC_DB), X86_MERGE_TRIPLE_FAULT);
	EXPECT_EQ(exception_merge(X86_VEC_DF, X86_VEC_PF), X86_MERGE_TRIPLE_FAULT);
}

// SDM Vol. 3A 18.2.3: the breakpoint bits are replaced, BD/BS are added, the
// fixed bits read as 1, RTM (bit 16) is active low.
TEST(Dr6, SingleStepSetsBsAndClearsOldBreakpointBits)
{
	EXPECT_EQ(dr6_after_debug_exception(0xffff0ff0 | 0x3, X86_DR6_BS), 0xffff4ff0u);
}

TEST(Dr6, BreakpointHitReplacesTheOldOne)
{
	EXPECT_EQ(dr6_after_debug_exception(0xffff0ff1, 0x4), 0xffff0ff4u);
}

TEST(Dr6, RtmIsActiveLowAndBit12Reserved)
{
	EXPECT_EQ(dr6_after_debug_exception(0xffff0ff0, 1u << 16), 0xfffe0ff0u);
	EXPECT_EQ(dr6_after_debug_exception(0xffff1ff0, X86_DR6_BD), 0xffff2ff0u);
}

x86_seg data_seg(uint64_t base, uint32_t limit, bool expand_down = false, bool big = false)
{
	uint32_t ar = 0x93 | (expand_down ? 0x4 : 0) | (big ? (1u << 14) : 0);
	return { base, limit, ar };
}

TEST(Segments, ExpandUpLimitIsInclusive)
{
	auto s = data_seg(0x10000, 0xfff);
	uint64_t la = 0;
	EXPECT_EQ(seg_linear_address(&s, false, 32, 0xffc, 4, false, &la), 0);
	EXPECT_EQ(la, 0x10ffcu);
	EXPECT_EQ(seg_linear_address(&s, false, 32, 0xffd, 4, false, &la), X86_VEC_GP);
	EXPECT_EQ(seg_linear_address(&s, true, 32, 0x1000, 1, false, &la), X86_VEC_SS);
}

TEST(Segments, ExpandDownAllowsOnlyAboveTheLimit)
{
	auto s = data_seg(0, 0xfff, true, false);
	uint64_t la = 0;
	EXPECT_EQ(seg_linear_address(&s, false, 16, 0xfff, 1, false, &la), X86_VEC_GP);
	EXPECT_EQ(seg_linear_address(&s, false, 16, 0x1000, 2, false, &la), 0);
	EXPECT_EQ(seg_linear_address(&s, false, 16, 0xffff, 2, false, &la), X86_VEC_GP);
}

TEST(Segments, UnusableSegmentFaults)
{
	x86_seg s{ 0, 0xffffffff, 1u << 16 };
	uint64_t la = 0;
	EXPECT_EQ(seg_linear_address(&s, false, 32, 0, 1, false, &la), X86_VEC_GP);
}

TEST(Segments, AddressesWrapAt4GiBOutsideLongMode)
{
	auto s = data_seg(0xfffff000, 0xffffffff);
	uint64_t la = 0;
	EXPECT_EQ(seg_linear_address(&s, false, 32, 0x2000, 1, false, &la), 0);
	EXPECT_EQ(la, 0x1000u);
}

TEST(Segments, LongModeIgnoresBaseAndLimitButFsGs)
{
	auto s = data_seg(0x5000, 0xf);
	uint64_t la = 0;
	EXPECT_EQ(seg_linear_address(&s, false, 64, 0x123456, 8, false, &la), 0);
	EXPECT_EQ(la, 0x123456u);
	EXPECT_EQ(seg_linear_address(&s, false, 64, 0x10, 8, true, &la), 0);
	EXPECT_EQ(la, 0x5010u);
	EXPECT_EQ(seg_linear_address(&s, false, 64, 0x0000800000000000ULL, 1, false, &la), X86_VEC_GP);
	EXPECT_EQ(seg_linear_address(&s, true, 64, 0x00007ffffffffffcULL, 8, false, &la), X86_VEC_SS);
}

// SDM Vol. 2B INS/OUTS: the index register wraps at the address size.
TEST(StringIo, IndexWrapsAtAddressSize)
{
	EXPECT_EQ(string_element_ea(0xffff, 0, 1, 1, false), 0u);
	EXPECT_EQ(string_element_ea(0x1234ffff, 0, 1, 1, false), 0u);
	EXPECT_EQ(string_element_ea(0, 0, 1, 2, true), 0xfffeu);
	EXPECT_EQ(string_element_ea(0xfffffffe, 1, 1, 4, false), 0x2u);
	EXPECT_EQ(string_element_ea(0xfffffffe, 2, 1, 4, false), 0x100000002ULL);
}

// SDM Vol. 2A IN: AL/AX merge into RAX, EAX zero-extends.
TEST(PioIn, ResultMergesOrZeroExtends)
{
	EXPECT_EQ(pio_in_result(0x1122334455667788ULL, 0xab, 1), 0x11223344556677abULL);
	EXPECT_EQ(pio_in_result(0x1122334455667788ULL, 0xabcd, 2), 0x112233445566abcdULL);
	EXPECT_EQ(pio_in_result(0x1122334455667788ULL, 0xdeadbeef, 4), 0xdeadbeefULL);
	EXPECT_EQ(pio_in_result(0, 0x1ff, 1), 0xffULL) << "only the port's width";
}

} // namespace
