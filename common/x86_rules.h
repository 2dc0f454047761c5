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

#define X86_VEC_DB	1
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
 * The address register of element @i of a string instruction: @reg moved by
 * @i elements of @size bytes (down if @down), wrapped at the instruction's
 * address size (@addr_size: 0 = 16, 1 = 32, 2 = 64 bits, as in the exit's
 * instruction information).
 */
static inline u64 string_element_ea(u64 reg, unsigned int addr_size, u64 i, unsigned int size,
				    bool down)
{
	u64 mask = addr_size == 2 ? ~0ULL : addr_size == 1 ? 0xffffffffULL : 0xffffULL;
	u64 delta = i * size;

	return (down ? reg - delta : reg + delta) & mask;
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
