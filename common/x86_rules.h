/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Architectural rules the exit handlers apply, as pure functions: how two
 * exceptions combine, what a #DB writes to DR6, where an element of a string
 * I/O instruction lives and whether its segment allows it.  Kernel-agnostic,
 * so the native unit tests check them against the SDM's tables.
 */
#ifndef KVMX_X86_RULES_H
#define KVMX_X86_RULES_H

#include "kvmx_compat.h"
#include <asm/processor-flags.h>	/* X86_CR0_*, X86_CR4_*: the uapi copy in userspace */

/* EFER and XCR0 bits the rules below use (SDM Vol. 3A 2.2.1, 13.3). */
#define X86R_EFER_LME		(1ULL << 8)
#define X86R_EFER_LMA		(1ULL << 10)
#define X86R_XFEATURE_FP	(1ULL << 0)
#define X86R_XFEATURE_SSE	(1ULL << 1)
#define X86R_XFEATURE_YMM	(1ULL << 2)
#define X86R_XFEATURE_AVX512	(7ULL << 5)	/* opmask, ZMM_Hi256, Hi16_ZMM */

/* CR0 bits that exist (SDM Vol. 3A 2.5); writes of the others are ignored. */
#define X86R_CR0_DEFINED	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | \
				 X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | \
				 X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

/* What a guest's MOV to CR0/CR4 leads to. */
struct cr_write {
	u64 value;		/* the register's new value */
	u64 efer;		/* EFER after it (LMA follows CR0.PG) */
	bool flush_tlb;		/* the CPU would flush the guest's TLB */
};

/*
 * MOV to CR0 (SDM Vol. 3A 2.5, 9.8.5 "Initializing IA-32e Mode"): 0 and
 * *@out, or 1 for #GP.  @cs_l: the guest runs 64-bit code (CS.L).
 */
int cr0_write(u64 old, u64 val, u64 cr4, u64 efer, bool cs_l, struct cr_write *out);

/*
 * MOV to CR4 (SDM Vol. 3A 2.5, 4.10.1): 0 and *@out, or 1 for #GP.
 * @allowed: the bits this CPU and hypervisor let a guest set.
 */
int cr4_write(u64 old, u64 val, u64 allowed, u64 efer, u64 cr3, struct cr_write *out);

/* XSETBV of XCR0 (SDM Vol. 1 13.3): true if @val is a value XCR0 may hold. */
bool xcr0_valid(u64 val, u64 supported);

/* IA32_PAT (SDM Vol. 3A 12.12.2): every entry a memory type that exists. */
bool pat_valid(u64 pat);

/*
 * MTRRs (SDM Vol. 3A 12.11) as a CPU with 8 variable ranges, fixed ranges
 * and write-combining has them; IA32_MTRRCAP reads X86_MTRR_CAP.
 */
#define X86_MSR_MTRR_CAP	0xfe
#define X86_MSR_MTRR_PHYS_BASE0	0x200
#define X86_MSR_MTRR_DEF_TYPE	0x2ff
#define X86_NR_VAR_MTRR		8
#define X86_NR_FIXED_MTRR	11
#define X86_MTRR_CAP		(0x500 | X86_NR_VAR_MTRR)	/* WC, FIX, VCNT */

/* Which of the 11 fixed-range MSRs @msr is, or -1. */
int mtrr_fixed_index(u32 msr);
/* Is @msr a variable-range base or mask MSR (0x200-0x20f)? */
static inline bool mtrr_is_var(u32 msr)
{
	return msr >= X86_MSR_MTRR_PHYS_BASE0 &&
	       msr < X86_MSR_MTRR_PHYS_BASE0 + 2 * X86_NR_VAR_MTRR;
}

/*
 * The eight ALU operations of opcodes 00-3F and 80-83 (SDM Vol. 2A "ADD"
 * ... "CMP"), by the number in ModRM.reg / opcode bits 5:3.
 */
enum x86_alu { X86_ALU_ADD, X86_ALU_OR, X86_ALU_ADC, X86_ALU_SBB, X86_ALU_AND, X86_ALU_SUB,
	       X86_ALU_XOR, X86_ALU_CMP };
#define X86_ALU_FLAGS	0x8d5ULL	/* OF, SF, ZF, AF, PF, CF */

/*
 * @dst op @src on @size-byte operands, with CF from @rflags for ADC/SBB;
 * returns the result (CMP: the difference) and puts the new RFLAGS in
 * @out: the six status flags as the CPU leaves them (AF cleared by the
 * logical operations, where the SDM leaves it undefined).
 */
u64 alu_exec(unsigned int op, unsigned int size, u64 dst, u64 src, u64 rflags, u64 *out);

/*
 * kvmclock's TSC-to-nanoseconds scale (pvclock, Linux's
 * Documentation/virt/kvm/x86/msr.rst): ns = ((delta << shift) * mul) >> 32,
 * a negative shift shifting right.  pvclock_scale() picks the largest
 * 32-bit @mul for a TSC of @tsc_hz; pvclock_ns() is what the guest computes.
 */
void pvclock_scale(u64 tsc_hz, u32 *mul, s8 *shift);
u64 pvclock_ns(u64 delta, u32 mul, s8 shift);

/* May @data be written to MTRR @msr on a CPU with @maxphyaddr address bits? */
bool mtrr_valid(u32 msr, u64 data, unsigned int maxphyaddr);

/*
 * Does exception @vector push an error code (SDM Vol. 3A 6.15)?  #CP does
 * too, but only with CET, which kvmx does not offer.
 */
static inline bool exception_has_error_code(unsigned int vector)
{
	/* #DF, #TS, #NP, #SS, #GP, #PF, #AC */
	return vector < 32 && ((1u << vector) & 0x027d00);
}

/*
 * The interruption information that injects hardware exception @vector
 * (SDM Vol. 3C 25.8.3): valid, type 3, with an error code only where the
 * guest is in protected mode (real mode has none, SDM 27.2.1.3).
 */
static inline u32 exception_intr_info(unsigned int vector, bool has_error, bool protected_mode)
{
	u32 info = vector | (3u << 8) | (1u << 31);

	if (has_error && protected_mode)
		info |= 1u << 11;
	return info;
}

#define X86_VEC_DB	1
#define X86_VEC_NMI	2
#define X86_VEC_UD	6
#define X86_VEC_DF	8
#define X86_VEC_TS	10
#define X86_VEC_NP	11
#define X86_VEC_SS	12
#define X86_VEC_GP	13
#define X86_VEC_PF	14
#define X86_VEC_AC	17
#define X86_VEC_MC	18

/* exception_merge(): the second exception ends the guest (shutdown). */
#define X86_MERGE_TRIPLE_FAULT	(-1)

/*
 * An exception raised while the CPU delivered @first (SDM Vol. 3A 6.15,
 * Table 6-5): the vector to deliver now (#DF when both are contributory, or
 * a page fault is followed by a contributory one or another page fault;
 * @second otherwise), or X86_MERGE_TRIPLE_FAULT when @first was #DF.
 */
int exception_merge(unsigned int first, unsigned int second);

/* DR6 bits that read as 1 and are cleared by the event they report. */
#define X86_DR6_ACTIVE_LOW	0xffff0ff0ULL
#define X86_DR6_TRAP_BITS	0xfULL		/* B0-B3 */
#define X86_DR6_BD		(1ULL << 13)
#define X86_DR6_BS		(1ULL << 14)
#define X86_DR7_GD		(1ULL << 13)
#define X86_DR7_ENABLES		0xffULL		/* L0-L3, G0-G3 */

/* MOV to DR6/DR7 (SDM Vol. 3A 18.2): the value the register takes. */
static inline u64 dr6_write(u64 val)
{
	return (val | X86_DR6_ACTIVE_LOW) & 0xffffffffULL;
}

static inline u64 dr7_write(u64 val)
{
	return (val | 0x400ULL) & 0xffffffffULL;
}

/*
 * DR6 after a #DB whose cause is @payload, given as a VM exit's qualification
 * reports it (B0-B3, BD, BS active high, RTM at bit 16 active high): the
 * breakpoint bits of the old value are replaced (SDM 18.2.3).
 */
u64 dr6_after_debug_exception(u64 dr6, u64 payload);

/* One segment as the VMCS holds it. */
struct x86_seg {
	u64 base;
	u32 limit;	/* in bytes, G already applied */
	u32 ar;		/* access rights, VMCS format (bit 16: unusable) */
};

/*
 * The linear address of @len bytes at offset @ea in @seg, for a data access
 * (SDM Vol. 3A 5.3, 3.4.5): 0 and *@la set, or the vector of the fault (#GP,
 * or #SS for the stack segment @is_ss).  @mode is the code's mode: 64 (only
 * FS/GS bases count, the address must be canonical), else 16/32 (limit and
 * expand-down checked, the address wraps at 4 GiB).  Type checks (a
 * read-only ES for INS) are not made.
 */
int seg_linear_address(const struct x86_seg *seg, bool is_ss, unsigned int mode, u64 ea,
		       unsigned int len, bool fs_or_gs, u64 *la);

/*
 * The bits an address of @addr_size holds (0 = 16, 1 = 32, 2 = 64 bits, as
 * the exit's instruction information encodes it).
 */
static inline u64 address_size_mask(unsigned int addr_size)
{
	return addr_size == 2 ? ~0ULL : addr_size == 1 ? 0xffffffffULL : 0xffffULL;
}

/*
 * The address register of element @i of a string instruction: @reg moved by
 * @i elements of @size bytes (down if @down), wrapped at the instruction's
 * address size @addr_size.
 */
static inline u64 string_element_ea(u64 reg, unsigned int addr_size, u64 i, unsigned int size,
				    bool down)
{
	u64 delta = i * size;

	return (down ? reg - delta : reg + delta) & address_size_mask(addr_size);
}

/*
 * A string instruction's address or count register @reg after it takes the
 * value @val (already wrapped at @addr_size): only the bits of the address
 * size change, except that a 32-bit write in 64-bit mode zero-extends.
 */
static inline u64 string_reg_write(u64 reg, u64 val, unsigned int addr_size, unsigned int mode)
{
	u64 wmask = (addr_size == 1 && mode == 64) ? ~0ULL : address_size_mask(addr_size);

	return (reg & ~wmask) | val;
}

/*
 * RAX after IN of @size bytes of @data (SDM Vol. 2A "IN"): 8- and 16-bit
 * results replace AL/AX and keep the rest, a 32-bit one zero-extends.
 */
static inline u64 pio_in_result(u64 rax, u64 data, unsigned int size)
{
	if (size == 4)
		return (u32)data;
	return (rax & ~((1ULL << (8 * size)) - 1)) | (data & ((1ULL << (8 * size)) - 1));
}

#endif /* KVMX_X86_RULES_H */
