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

// MOV to CR0 (SDM Vol. 3A 2.5, 9.8.5).
TEST(Cr0Write, ReservedAndContradictoryValuesAreGp)
{
	cr_write w{};
	EXPECT_EQ(cr0_write(0x10, 1ULL << 32, 0, 0, false, &w), 1) << "bits 63:32";
	EXPECT_EQ(cr0_write(0x10, X86_CR0_PG, 0, 0, false, &w), 1) << "PG without PE";
	EXPECT_EQ(cr0_write(0x10, X86_CR0_PE | X86_CR0_NW, 0, 0, false, &w), 1) << "NW without CD";
}

TEST(Cr0Write, UndefinedBitsAreDroppedAndEtStaysSet)
{
	cr_write w{};
	ASSERT_EQ(cr0_write(0x10, X86_CR0_PE | (1u << 6) | (1u << 20), 0, 0, false, &w), 0);
	EXPECT_EQ(w.value, (uint64_t)(X86_CR0_PE | X86_CR0_ET));
	EXPECT_FALSE(w.flush_tlb);
}

TEST(Cr0Write, PagingWithLmeEntersLongModeOnlyWithPae)
{
	cr_write w{};
	const uint64_t pe = X86_CR0_PE | X86_CR0_ET, pg = pe | X86_CR0_PG;
	EXPECT_EQ(cr0_write(pe, pg, 0, X86R_EFER_LME, false, &w), 1) << "no PAE";
	ASSERT_EQ(cr0_write(pe, pg, X86_CR4_PAE, X86R_EFER_LME, false, &w), 0);
	EXPECT_EQ(w.efer, X86R_EFER_LME | X86R_EFER_LMA);
	EXPECT_TRUE(w.flush_tlb);
	// Back out: only from compatibility mode and with PCIDE clear.
	const uint64_t lma = X86R_EFER_LME | X86R_EFER_LMA;
	EXPECT_EQ(cr0_write(pg, pe, X86_CR4_PAE, lma, true, &w), 1);
	EXPECT_EQ(cr0_write(pg, pe, X86_CR4_PAE | X86_CR4_PCIDE, lma, false, &w), 1);
	ASSERT_EQ(cr0_write(pg, pe, X86_CR4_PAE, lma, false, &w), 0);
	EXPECT_EQ(w.efer, X86R_EFER_LME);
}

// MOV to CR4 (SDM Vol. 3A 2.5, 4.10.1, 4.10.4.1).
TEST(Cr4Write, ChecksTheCpuWouldMake)
{
	cr_write w{};
	const uint64_t all = ~0ULL, lma = X86R_EFER_LME | X86R_EFER_LMA;
	EXPECT_EQ(cr4_write(0, X86_CR4_VMXE, ~(uint64_t)X86_CR4_VMXE, 0, 0, &w), 1) << "not allowed";
	EXPECT_EQ(cr4_write(0, X86_CR4_PCIDE, all, 0, 0, &w), 1) << "PCIDE outside IA-32e";
	EXPECT_EQ(cr4_write(X86_CR4_PAE, X86_CR4_PAE | X86_CR4_PCIDE, all, lma, 0x1000 | 5, &w), 1)
		<< "PCIDE with CR3[11:0] != 0";
	EXPECT_EQ(cr4_write(X86_CR4_PAE, 0, all, lma, 0, &w), 1) << "PAE off in IA-32e";
	EXPECT_EQ(cr4_write(X86_CR4_PAE, X86_CR4_PAE | X86_CR4_LA57, all, lma, 0, &w), 1);
	ASSERT_EQ(cr4_write(X86_CR4_PAE, X86_CR4_PAE | X86_CR4_PCIDE, all, lma, 0x1000, &w), 0);
	EXPECT_FALSE(w.flush_tlb) << "PCIDE 0->1 needs no flush";
}

TEST(Cr4Write, TlbFlushingChanges)
{
	cr_write w{};
	ASSERT_EQ(cr4_write(0, X86_CR4_PGE, ~0ULL, 0, 0, &w), 0);
	EXPECT_TRUE(w.flush_tlb);
	ASSERT_EQ(cr4_write(0, X86_CR4_SMEP, ~0ULL, 0, 0, &w), 0);
	EXPECT_TRUE(w.flush_tlb);
	ASSERT_EQ(cr4_write(X86_CR4_SMEP, 0, ~0ULL, 0, 0, &w), 0);
	EXPECT_FALSE(w.flush_tlb) << "SMEP 1->0";
	ASSERT_EQ(cr4_write(0, X86_CR4_OSXSAVE, ~0ULL, 0, 0, &w), 0);
	EXPECT_FALSE(w.flush_tlb);
}

// XSETBV (SDM Vol. 1 13.3).
TEST(Xcr0, ValidCombinations)
{
	const uint64_t all = 0xe7;
	EXPECT_TRUE(xcr0_valid(1, all));
	EXPECT_TRUE(xcr0_valid(7, all));
	EXPECT_TRUE(xcr0_valid(0xe7, all));
	EXPECT_FALSE(xcr0_valid(0, all)) << "x87 is always on";
	EXPECT_FALSE(xcr0_valid(5, all)) << "YMM without SSE";
	EXPECT_FALSE(xcr0_valid(0x27, all)) << "part of AVX-512";
	EXPECT_FALSE(xcr0_valid(0xe3, all)) << "AVX-512 without YMM";
	EXPECT_FALSE(xcr0_valid(7, 3)) << "not supported";
}

// IA32_PAT (SDM Vol. 3A 12.12.2): 2 and 3 are reserved memory types.
TEST(Pat, ReservedTypesAreRefused)
{
	EXPECT_TRUE(pat_valid(0x0007040600070406ULL));
	EXPECT_FALSE(pat_valid(0x0007040600070402ULL));
	EXPECT_FALSE(pat_valid(0x0307040600070406ULL));
	EXPECT_FALSE(pat_valid(0x0807040600070406ULL));
}

TEST(DebugRegisters, FixedBitsReadAsOne)
{
	EXPECT_EQ(dr6_write(0), 0xffff0ff0u);
	EXPECT_EQ(dr7_write(0x1), 0x401u);
	EXPECT_EQ(dr7_write(0xffffffff00000001ULL), 0x401u);
}

// SDM Vol. 3C 25.8.3: valid, type, error code only in protected mode.
TEST(IntrInfo, HardwareExceptions)
{
	EXPECT_EQ(exception_intr_info(13, true, true), 0x80000b0du);
	EXPECT_EQ(exception_intr_info(13, true, false), 0x8000030du);
	EXPECT_EQ(exception_intr_info(6, false, true), 0x80000306u);
}

} // namespace

// MTRRs as KVM's kvm_mtrr_valid() takes them (SDM Vol. 3A 12.11).
TEST(Mtrr, FixedRangeIndices)
{
	EXPECT_EQ(mtrr_fixed_index(0x250), 0);
	EXPECT_EQ(mtrr_fixed_index(0x258), 1);
	EXPECT_EQ(mtrr_fixed_index(0x259), 2);
	EXPECT_EQ(mtrr_fixed_index(0x268), 3);
	EXPECT_EQ(mtrr_fixed_index(0x26f), 10);
	EXPECT_EQ(mtrr_fixed_index(0x251), -1);
	EXPECT_EQ(mtrr_fixed_index(0x270), -1);
	EXPECT_TRUE(mtrr_is_var(0x200));
	EXPECT_TRUE(mtrr_is_var(0x20f));
	EXPECT_FALSE(mtrr_is_var(0x210));
}

TEST(Mtrr, Validity)
{
	// Default type: WB with MTRRs and fixed ranges on; UC- (7) and bit 12 are not.
	EXPECT_TRUE(mtrr_valid(X86_MSR_MTRR_DEF_TYPE, 0xc06, 39));
	EXPECT_FALSE(mtrr_valid(X86_MSR_MTRR_DEF_TYPE, 0xc07, 39));
	EXPECT_FALSE(mtrr_valid(X86_MSR_MTRR_DEF_TYPE, 0x1006, 39));
	// Fixed ranges: every byte a type; 2 and 3 are reserved.
	EXPECT_TRUE(mtrr_valid(0x250, 0x0606060606060606ULL, 39));
	EXPECT_FALSE(mtrr_valid(0x268, 0x0606060606060206ULL, 39));
	// Variable base: type in bits 7:0, bits 11:8 reserved, address below MAXPHYADDR.
	EXPECT_TRUE(mtrr_valid(0x200, 0x80000006ULL, 39));
	EXPECT_FALSE(mtrr_valid(0x200, 0x80000106ULL, 39));
	EXPECT_FALSE(mtrr_valid(0x200, (1ULL << 39) | 6, 39));
	// Variable mask: bits 10:0 reserved, V is bit 11.
	EXPECT_TRUE(mtrr_valid(0x201, 0x7f80000800ULL, 39));
	EXPECT_FALSE(mtrr_valid(0x201, 0x7f80000801ULL, 39));
	EXPECT_FALSE(mtrr_valid(0x210, 0, 39));
	EXPECT_FALSE(mtrr_valid(X86_MSR_MTRR_CAP, X86_MTRR_CAP, 39));
}

TEST(Exceptions, WhichPushAnErrorCode)
{
	for (unsigned v : { 8u, 10u, 11u, 12u, 13u, 14u, 17u })
		EXPECT_TRUE(exception_has_error_code(v)) << v;
	// #CP (21) has one only with CET, which kvmx does not offer.
	for (unsigned v : { 0u, 1u, 2u, 3u, 6u, 7u, 9u, 15u, 16u, 18u, 19u, 20u, 21u, 31u, 32u })
		EXPECT_FALSE(exception_has_error_code(v)) << v;
}

// The ALU's status flags, on cases worked out by hand from the SDM.
TEST(Alu, AddSubAndTheirFlags)
{
	u64 f;
	// 0x7f + 1 (byte): signed overflow, AF, SF.
	EXPECT_EQ(alu_exec(X86_ALU_ADD, 1, 0x7f, 1, 0x2, &f), 0x80u);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x800u | 0x80 | 0x10);
	// 0xffffffff + 1 (dword): carry, zero, AF, PF.
	EXPECT_EQ(alu_exec(X86_ALU_ADD, 4, 0xffffffff, 1, 0x2, &f), 0u);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x1u | 0x40 | 0x10 | 0x4);
	// ADC with CF in: 0xfffe + 1 + 1 (word) = 0 with carry.
	EXPECT_EQ(alu_exec(X86_ALU_ADC, 2, 0xfffe, 1, 0x3, &f), 0u);
	EXPECT_TRUE(f & 1);
	// ADC of ~0 + ~0 + 1 (qword): ~0 with carry.
	EXPECT_EQ(alu_exec(X86_ALU_ADC, 8, ~0ULL, ~0ULL, 1, &f), ~0ULL);
	EXPECT_TRUE(f & 1);
	// 0 - 1 (byte): borrow, SF, AF, PF (0xff has even parity).
	EXPECT_EQ(alu_exec(X86_ALU_SUB, 1, 0, 1, 0x2, &f), 0xffu);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x1u | 0x80 | 0x10 | 0x4);
	// CMP 0x80, 1 (byte): 0x7f, signed overflow, AF.
	EXPECT_EQ(alu_exec(X86_ALU_CMP, 1, 0x80, 1, 0x2, &f), 0x7fu);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x800u | 0x10);
	// SBB with CF in: 5 - 5 - 1 borrows.
	EXPECT_EQ(alu_exec(X86_ALU_SBB, 4, 5, 5, 1, &f), 0xffffffffu);
	EXPECT_TRUE(f & 1);
	// Bits outside the operand size are ignored, others in RFLAGS kept.
	EXPECT_EQ(alu_exec(X86_ALU_ADD, 1, 0x1ff, 0x100, 0x202, &f), 0xffu);
	EXPECT_EQ(f & ~X86_ALU_FLAGS, 0x202u);
}

TEST(Alu, LogicClearsCarryAndOverflow)
{
	u64 f;
	EXPECT_EQ(alu_exec(X86_ALU_AND, 4, 0xf0f0, 0x0ff0, 0x8d5 | 2, &f), 0x00f0u);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x4u);	// PF only: 0xf0 has four bits
	EXPECT_EQ(alu_exec(X86_ALU_OR, 2, 0x8000, 1, 0x2, &f), 0x8001u);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x80u);	// SF; 0x01 is odd parity
	EXPECT_EQ(alu_exec(X86_ALU_XOR, 8, 0x1234, 0x1234, 0x2, &f), 0u);
	EXPECT_EQ(f & X86_ALU_FLAGS, 0x44u);	// ZF, PF
}

// kvmclock's scale: a second of TSC ticks is a second of nanoseconds, to
// within a few parts per billion, for TSCs from 1 MHz to 10 GHz.
TEST(Pvclock, ScaleTurnsTicksIntoNanoseconds)
{
	for (u64 hz : { 1000000ULL, 999999999ULL, 1000000000ULL, 2100000000ULL, 3499912000ULL,
			10000000000ULL }) {
		u32 mul;
		s8 shift;
		pvclock_scale(hz, &mul, &shift);
		EXPECT_GE(mul, 0x80000000u) << hz << ": the multiplier keeps 32 bits";
		u64 ns = pvclock_ns(hz, mul, shift);
		EXPECT_NEAR(double(ns), 1e9, 10) << hz;
		EXPECT_NEAR(double(pvclock_ns(hz * 3600, mul, shift)), 3600e9, 3600 * 10.0) << hz;
	}
	EXPECT_EQ(pvclock_ns(0, 0x80000000u, 1), 0u);
	EXPECT_EQ(pvclock_ns(1000, 0x80000000u, 1), 1000u);	// ×2 ×½
	EXPECT_EQ(pvclock_ns(1000, 0x80000000u, -1), 250u);	// ½ ×½
}

// The registers a string instruction writes: only the address size's bits,
// a 32-bit write in 64-bit mode zero-extending (SDM Vol. 1 3.4.1.1).
TEST(Segments, StringRegisterWrites)
{
	EXPECT_EQ(string_reg_write(0x12345678abcdULL, 0x0002, 0, 16), 0x123456780002ULL);
	EXPECT_EQ(string_reg_write(0xffffffff00001000ULL, 0x1004, 1, 32), 0xffffffff00001004ULL);
	EXPECT_EQ(string_reg_write(0xffffffff00001000ULL, 0x1004, 1, 64), 0x1004ULL);
	EXPECT_EQ(string_reg_write(0xffff, 0x1234567890ULL, 2, 64), 0x1234567890ULL);
}
