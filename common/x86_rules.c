// SPDX-License-Identifier: GPL-2.0
/* Architectural rules for the exit handlers; see x86_rules.h.  Kernel-agnostic. */
#include "x86_rules.h"

enum exc_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT, EXC_DOUBLE_FAULT };

static enum exc_class exc_class(unsigned int vector)
{
	switch (vector) {
	case 0:			/* #DE */
	case X86_VEC_TS:
	case X86_VEC_NP:
	case X86_VEC_SS:
	case X86_VEC_GP:
		return EXC_CONTRIBUTORY;
	case X86_VEC_PF:
		return EXC_PAGE_FAULT;
	case X86_VEC_DF:
		return EXC_DOUBLE_FAULT;
	default:
		return EXC_BENIGN;
	}
}

int exception_merge(unsigned int first, unsigned int second)
{
	enum exc_class a = exc_class(first), b = exc_class(second);

	if (a == EXC_DOUBLE_FAULT)
		return X86_MERGE_TRIPLE_FAULT;
	if ((a == EXC_CONTRIBUTORY && b == EXC_CONTRIBUTORY) ||
	    (a == EXC_PAGE_FAULT && b != EXC_BENIGN))
		return X86_VEC_DF;
	return (int)second;	/* handled serially: the first is raised again later */
}

u64 dr6_after_debug_exception(u64 dr6, u64 payload)
{
	dr6 &= ~X86_DR6_TRAP_BITS;
	dr6 |= X86_DR6_ACTIVE_LOW;
	dr6 |= payload;
	/* Active-low bits the payload reports as set (RTM) read as 0. */
	dr6 ^= payload & X86_DR6_ACTIVE_LOW;
	/* Bit 12 is reserved outside SMM. */
	dr6 &= ~(1ULL << 12);
	return dr6 & 0xffffffffULL;
}

#define AR_TYPE(ar)		((ar) & 15)
#define AR_S			(1u << 4)
#define AR_DB			(1u << 14)
#define AR_UNUSABLE		(1u << 16)
#define TYPE_CODE		(1u << 3)
#define TYPE_EXPAND_DOWN	(1u << 2)	/* data segments */

static bool canonical48(u64 a)
{
	return (u64)((s64)(a << 16) >> 16) == a;
}

int seg_linear_address(const struct x86_seg *seg, bool is_ss, unsigned int mode, u64 ea,
		       unsigned int len, bool fs_or_gs, u64 *la)
{
	int fault = is_ss ? X86_VEC_SS : X86_VEC_GP;
	u32 type = AR_TYPE(seg->ar);
	u64 last = ea + len - 1;

	if (mode == 64) {
		*la = (fs_or_gs ? seg->base : 0) + ea;
		if (!canonical48(*la) || !canonical48(*la + len - 1))
			return fault;
		return 0;
	}
	if (seg->ar & AR_UNUSABLE)
		return fault;
	if ((seg->ar & AR_S) && !(type & TYPE_CODE) && (type & TYPE_EXPAND_DOWN)) {
		u64 top = (seg->ar & AR_DB) ? 0xffffffffULL : 0xffffULL;

		if (ea <= seg->limit || last > top)
			return fault;
	} else if (last > seg->limit) {
		return fault;
	}
	*la = (seg->base + ea) & 0xffffffffULL;
	return 0;
}

int cr0_write(u64 old, u64 val, u64 cr4, u64 efer, bool cs_l, struct cr_write *out)
{
	if (val >> 32)
		return 1;
	val = (val & X86R_CR0_DEFINED) | X86_CR0_ET;
	if (((val & X86_CR0_PG) && !(val & X86_CR0_PE)) ||
	    ((val & X86_CR0_NW) && !(val & X86_CR0_CD)))
		return 1;
	if (!(old & X86_CR0_PG) && (val & X86_CR0_PG) && (efer & X86R_EFER_LME)) {
		/* Paging on with LME: IA-32e mode becomes active, which needs PAE. */
		if (!(cr4 & X86_CR4_PAE))
			return 1;
		efer |= X86R_EFER_LMA;
	} else if ((old & X86_CR0_PG) && !(val & X86_CR0_PG) && (efer & X86R_EFER_LMA)) {
		/* Leaving IA-32e mode: from compatibility mode, PCIDE clear. */
		if (cs_l || (cr4 & X86_CR4_PCIDE))
			return 1;
		efer &= ~X86R_EFER_LMA;
	}
	out->value = val;
	out->efer = efer;
	out->flush_tlb = (old ^ val) & X86_CR0_PG;
	return 0;
}

int cr4_write(u64 old, u64 val, u64 allowed, u64 efer, u64 cr3, struct cr_write *out)
{
	if (val & ~allowed)
		return 1;
	if ((efer & X86R_EFER_LMA) && !(val & X86_CR4_PAE))
		return 1;
	/* PCIDE: only in IA-32e mode, and only turned on with CR3[11:0] = 0. */
	if ((val & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!(efer & X86R_EFER_LMA) || (cr3 & 0xfff)))
		return 1;
	/* LA57 can't change in IA-32e mode. */
	if ((efer & X86R_EFER_LMA) && ((val ^ old) & X86_CR4_LA57))
		return 1;
	out->value = val;
	out->efer = efer;
	/* What flushes the TLB on the CPU (SDM Vol. 3A 4.10.4.1). */
	out->flush_tlb = ((val ^ old) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE)) ||
			 ((old & X86_CR4_PCIDE) && !(val & X86_CR4_PCIDE)) ||
			 ((val & X86_CR4_SMEP) && !(old & X86_CR4_SMEP));
	return 0;
}

bool xcr0_valid(u64 val, u64 supported)
{
	if (!(val & X86R_XFEATURE_FP) || (val & ~supported))
		return false;
	if ((val & X86R_XFEATURE_YMM) && !(val & X86R_XFEATURE_SSE))
		return false;
	/* AVX-512 state: all three components or none, and only with YMM. */
	if ((val & X86R_XFEATURE_AVX512) &&
	    ((val & X86R_XFEATURE_AVX512) != X86R_XFEATURE_AVX512 || !(val & X86R_XFEATURE_YMM)))
		return false;
	return true;
}

static unsigned int hweight8_u8(u8 v)
{
	unsigned int n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

u64 alu_exec(unsigned int op, unsigned int size, u64 dst, u64 src, u64 rflags, u64 *out)
{
	u64 mask = size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
	u64 sign = 1ULL << (8 * size - 1);
	u64 cin = (op == X86_ALU_ADC || op == X86_ALU_SBB) ? (rflags & 1) : 0;
	u64 res, flags = 0;
	bool cf = false, of = false, af = false;

	dst &= mask;
	src &= mask;
	switch (op) {
	case X86_ALU_ADD:
	case X86_ALU_ADC:
		res = (dst + src + cin) & mask;
		cf = cin ? res <= dst : res < dst;
		of = (dst ^ res) & (src ^ res) & sign;
		af = (dst ^ src ^ res) & 0x10;
		break;
	case X86_ALU_SUB:
	case X86_ALU_SBB:
	case X86_ALU_CMP:
		res = (dst - src - cin) & mask;
		cf = cin ? dst <= src : dst < src;
		of = (dst ^ src) & (dst ^ res) & sign;
		af = (dst ^ src ^ res) & 0x10;
		break;
	case X86_ALU_OR:
		res = dst | src;
		break;
	case X86_ALU_AND:
		res = dst & src;
		break;
	default:	/* XOR */
		res = dst ^ src;
		break;
	}
	if (cf)
		flags |= 1ULL << 0;
	if (!(hweight8_u8(res & 0xff) & 1))
		flags |= 1ULL << 2;	/* PF: even parity of the low byte */
	if (af)
		flags |= 1ULL << 4;
	if (!res)
		flags |= 1ULL << 6;
	if (res & sign)
		flags |= 1ULL << 7;
	if (of)
		flags |= 1ULL << 11;
	*out = (rflags & ~X86_ALU_FLAGS) | flags;
	return res;
}

void pvclock_scale(u64 tsc_hz, u32 *mul, s8 *shift)
{
	u64 ns = 1000000000ULL, hz = tsc_hz;
	int sh = 0;

	/*
	 * Bring hz within 32 bits and below twice ns (shifting delta right),
	 * then just above ns (shifting it left), so that mul = ns / hz as a
	 * 0.32 fixed-point fraction loses as few bits as possible.
	 */
	while (hz > 2 * ns || (hz >> 32)) {
		hz >>= 1;
		sh--;
	}
	while (hz <= ns) {
		if (hz & 0x80000000ULL)
			ns >>= 1;
		else
			hz <<= 1;
		sh++;
	}
	*mul = (u32)((ns << 32) / hz);
	*shift = (s8)sh;
}

u64 pvclock_ns(u64 delta, u32 mul, s8 shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	/* (delta * mul) >> 32 of the 96-bit product, in two exact halves. */
	return (delta >> 32) * mul + (((delta & 0xffffffffULL) * mul) >> 32);
}

/* UC, WC, WT, WP, WB: the types an MTRR may hold (no UC-). */
static bool mtrr_type_valid(u8 t)
{
	return t < 8 && ((1u << t) & 0x73);
}

int mtrr_fixed_index(u32 msr)
{
	if (msr == 0x250)
		return 0;			/* 64K_00000 */
	if (msr == 0x258 || msr == 0x259)
		return 1 + msr - 0x258;		/* 16K_80000, 16K_A0000 */
	if (msr >= 0x268 && msr <= 0x26f)
		return 3 + msr - 0x268;		/* 4K_C0000 ... 4K_F8000 */
	return -1;
}

bool mtrr_valid(u32 msr, u64 data, unsigned int maxphyaddr)
{
	u64 reserved = ~0ULL << maxphyaddr;
	int i;

	if (msr == X86_MSR_MTRR_DEF_TYPE)	/* type, FE (bit 10), E (bit 11) */
		return !(data & ~0xcffULL) && mtrr_type_valid(data & 0xff);
	if (mtrr_fixed_index(msr) >= 0) {
		for (i = 0; i < 8; i++)
			if (!mtrr_type_valid(data >> (8 * i)))
				return false;
		return true;
	}
	if (!mtrr_is_var(msr))
		return false;
	if (!(msr & 1))				/* PHYSBASE: type, address */
		return !(data & (reserved | 0xf00)) && mtrr_type_valid(data & 0xff);
	return !(data & (reserved | 0x7ff));	/* PHYSMASK: V (bit 11), mask */
}

bool pat_valid(u64 pat)
{
	int i;

	for (i = 0; i < 8; i++) {
		u8 t = (pat >> (8 * i)) & 0xff;

		/* UC, WC, WT, WP, WB, UC-; 2 and 3 are reserved. */
		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}
