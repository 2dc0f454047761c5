// SPDX-License-Identifier: GPL-2.0
/* Guest page-table walks: 32-bit, PAE and 4-level paging (SDM 4.3-4.5). */
#include "guest_walk.h"

#define CR0_PG		BIT_ULL(31)
#define CR0_WP		BIT_ULL(16)
#define CR4_PSE		BIT_ULL(4)
#define CR4_PAE		BIT_ULL(5)
#define EFER_LMA	BIT_ULL(10)
#define EFER_NXE	BIT_ULL(11)

#define PTE_P		BIT_ULL(0)
#define PTE_RW		BIT_ULL(1)
#define PTE_US		BIT_ULL(2)
#define PTE_PS		BIT_ULL(7)
#define PTE_NX		BIT_ULL(63)
#define PTE_ADDR_MASK	0x000ffffffffff000ULL

/* Are the permissions gathered along the walk enough for @access? */
static bool allowed(const struct guest_paging *p, unsigned int access,
		    bool rw, bool us, bool nx)
{
	if ((access & WALK_USER) && !us)
		return false;
	if ((access & WALK_WRITE) && !rw && ((access & WALK_USER) || (p->cr0 & CR0_WP)))
		return false;
	if ((access & WALK_FETCH) && nx && (p->efer & EFER_NXE))
		return false;
	return true;
}

enum walk_result guest_walk(const struct guest_paging *p, u64 gla,
			    unsigned int access, guest_read_fn read, void *ctx,
			    u64 *gpa)
{
	bool rw = true, us = true, nx = false;
	u64 table, entry = 0;
	int level, levels;

	if (!(p->cr0 & CR0_PG)) {
		*gpa = (p->efer & EFER_LMA) ? gla : (u32)gla;
		return WALK_OK;
	}

	if (!(p->cr4 & CR4_PAE)) {
		/* 32-bit paging: 10 + 10 + 12, 4 MiB pages with CR4.PSE. */
		u32 e;

		gla = (u32)gla;
		table = p->cr3 & 0xfffff000ULL;
		for (level = 2; level >= 1; level--) {
			unsigned int idx = (gla >> (12 + 10 * (level - 1))) & 0x3ff;

			if (read(ctx, table + idx * 4, &e, 4))
				return WALK_READ_ERROR;
			if (!(e & PTE_P))
				return WALK_PAGE_FAULT;
			rw &= !!(e & PTE_RW);
			us &= !!(e & PTE_US);
			if (level == 2 && (e & PTE_PS) && (p->cr4 & CR4_PSE)) {
				if (!allowed(p, access, rw, us, false))
					return WALK_PAGE_FAULT;
				*gpa = (e & 0xffc00000ULL) | (gla & 0x3fffff);
				return WALK_OK;
			}
			table = e & 0xfffff000ULL;
		}
		if (!allowed(p, access, rw, us, false))
			return WALK_PAGE_FAULT;
		*gpa = table | (gla & 0xfff);
		return WALK_OK;
	}

	if (p->efer & EFER_LMA) {
		levels = 4;
		table = p->cr3 & PTE_ADDR_MASK;
	} else {
		/* PAE: the PDPTE comes from a 32-byte table CR3 points to. */
		gla = (u32)gla;
		if (read(ctx, (p->cr3 & 0xffffffe0ULL) + ((gla >> 30) & 3) * 8, &entry, 8))
			return WALK_READ_ERROR;
		if (!(entry & PTE_P))
			return WALK_PAGE_FAULT;
		levels = 2;
		table = entry & PTE_ADDR_MASK;
	}

	for (level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		unsigned int idx = (gla >> shift) & 0x1ff;

		if (read(ctx, table + idx * 8, &entry, 8))
			return WALK_READ_ERROR;
		if (!(entry & PTE_P))
			return WALK_PAGE_FAULT;
		rw &= !!(entry & PTE_RW);
		us &= !!(entry & PTE_US);
		nx |= !!(entry & PTE_NX);
		if (level <= 3 && level > 1 && (entry & PTE_PS)) {
			u64 mask = (1ULL << shift) - 1;

			if (!allowed(p, access, rw, us, nx))
				return WALK_PAGE_FAULT;
			*gpa = (entry & PTE_ADDR_MASK & ~mask) | (gla & mask);
			return WALK_OK;
		}
		table = entry & PTE_ADDR_MASK;
	}
	if (!allowed(p, access, rw, us, nx))
		return WALK_PAGE_FAULT;
	*gpa = table | (gla & 0xfff);
	return WALK_OK;
}
