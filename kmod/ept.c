// SPDX-License-Identifier: GPL-2.0
/*
 * EPT: guest-physical → host-physical translation (SDM Vol. 3C, 29.3).
 *
 * Tables are 4-level and built on demand: an EPT violation on a GPA inside
 * a memory slot pins the userspace page behind it and maps it.  Where the
 * slot and the host backing allow, a whole 2 MiB range is pinned at once and
 * mapped with one large entry (a transparent huge page) or, if the pages are
 * not contiguous, as 512 small ones.  All changes happen under vm->lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/io.h>

#include "kvmx.h"
#include "ept.h"
#include "vmx_ops.h"

/* EPTP: write-back paging structures, 4-level walk (SDM 25.6.11). */
#define EPTP_WB_4LEVEL		(6ULL | (3ULL << 3))
#define PAGES_2M		512

int kvmx_ept_init(struct kvmx_vm *vm)
{
	vm->ept_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vm->ept_root)
		return -ENOMEM;
	atomic_long_inc(&vm->ept_pages);
	kvmx_acct_add(ept_pages, 1);
	vm->eptp = __pa(vm->ept_root) | EPTP_WB_4LEVEL;
	return 0;
}

static void free_table(struct kvmx_vm *vm, u64 *table, int level)
{
	int i;

	if (level > 1) {
		for (i = 0; i < 512; i++) {
			u64 e = table[i];

			if ((e & EPT_TABLE) && !(e & EPT_LARGE))
				free_table(vm, __va(e & EPT_ADDR_MASK), level - 1);
		}
	}
	free_page((unsigned long)table);
	atomic_long_dec(&vm->ept_pages);
	kvmx_acct_add(ept_pages, -1);
}

void kvmx_ept_destroy(struct kvmx_vm *vm)
{
	if (vm->ept_root)
		free_table(vm, vm->ept_root, 4);
	vm->ept_root = NULL;
}

/* The entry for @gpa at @level (1: 4 KiB, 2: 2 MiB), allocating tables. */
static u64 *walk(struct kvmx_vm *vm, u64 gpa, int level, bool alloc)
{
	u64 *table = vm->ept_root;
	int l;

	for (l = 4; l > level; l--) {
		u64 *e = &table[(gpa >> (12 + 9 * (l - 1))) & 511];

		if (!(*e & EPT_TABLE)) {
			u64 *next;

			if (!alloc)
				return NULL;
			next = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
			if (!next)
				return NULL;
			atomic_long_inc(&vm->ept_pages);
			kvmx_acct_add(ept_pages, 1);
			*e = __pa(next) | EPT_TABLE;
		} else if (*e & EPT_LARGE) {
			return e;	/* a 2 MiB leaf covers it */
		}
		table = __va(*e & EPT_ADDR_MASK);
	}
	return &table[(gpa >> (12 + 9 * (level - 1))) & 511];
}

static u64 leaf(struct kvmx_memslot *slot, struct page *page)
{
	u64 perm = (slot->flags & KVMX_MEM_READONLY) ? EPT_READ | EPT_EXEC : EPT_TABLE;

	return page_to_phys(page) | perm | EPT_MT_WB | EPT_IGNORE_PAT;
}

static unsigned int gup_flags(struct kvmx_memslot *slot)
{
	return FOLL_LONGTERM | ((slot->flags & KVMX_MEM_READONLY) ? 0 : FOLL_WRITE);
}

static bool contiguous_2m(struct page **pages)
{
	unsigned long pfn = page_to_pfn(pages[0]);
	int i;

	if (pfn & (PAGES_2M - 1))
		return false;
	for (i = 1; i < PAGES_2M; i++)
		if (page_to_pfn(pages[i]) != pfn + i)
			return false;
	return true;
}

/* Try to pin and map the whole 2 MiB range around @gfn; 1 if it did. */
static int fault_2m(struct kvmx_vm *vm, struct kvmx_memslot *slot, u64 gfn)
{
	u64 first = gfn & ~(u64)(PAGES_2M - 1), idx = first - slot->base_gfn;
	unsigned long hva = slot->hva + (idx << PAGE_SHIFT);
	struct page **pages = &slot->pages[idx];
	u64 *e;
	int i, n;

	if (!kvmx_ctls.ept_2m || first < slot->base_gfn ||
	    first + PAGES_2M > slot->base_gfn + slot->npages || (hva & (SZ_2M - 1)))
		return 0;
	for (i = 0; i < PAGES_2M; i++)
		if (pages[i])
			return 0;	/* partly mapped already: stay small */
	e = walk(vm, first << PAGE_SHIFT, 2, true);
	if (!e)
		return -ENOMEM;
	if ((*e & EPT_TABLE) && !(*e & EPT_LARGE))
		return 0;	/* a 4 KiB table is already there */

	n = pin_user_pages_fast(hva, PAGES_2M, gup_flags(slot), pages);
	if (n < PAGES_2M) {
		/* Keep nothing half-done: the caller retries with one page. */
		for (i = 0; i < n; i++) {
			unpin_user_page(pages[i]);
			pages[i] = NULL;
		}
		return 0;
	}
	atomic_long_add(PAGES_2M, &vm->pinned_pages);
	kvmx_acct_add(pinned_pages, PAGES_2M);
	if (contiguous_2m(pages)) {
		*e = leaf(slot, pages[0]) | EPT_LARGE;
		return 1;
	}
	/* Not a huge page: map the 512 pinned pages one by one. */
	for (i = 0; i < PAGES_2M; i++) {
		e = walk(vm, (first + i) << PAGE_SHIFT, 1, true);
		if (!e)
			return -ENOMEM;
		*e = leaf(slot, pages[i]);
	}
	return 1;
}

int kvmx_ept_fault(struct kvmx_vm *vm, struct kvmx_memslot *slot, u64 gpa, bool write)
{
	u64 gfn = gpa >> PAGE_SHIFT, idx = gfn - slot->base_gfn;
	u64 *e;
	int r;

	if (!slot->pages[idx]) {
		r = fault_2m(vm, slot, gfn);
		if (r)
			return r < 0 ? r : 0;
		r = pin_user_pages_fast(slot->hva + (idx << PAGE_SHIFT), 1,
					gup_flags(slot), &slot->pages[idx]);
		if (r != 1) {
			slot->pages[idx] = NULL;
			return r < 0 ? r : -EFAULT;
		}
		atomic_long_inc(&vm->pinned_pages);
		kvmx_acct_add(pinned_pages, 1);
	}
	e = walk(vm, gpa, 1, true);
	if (!e)
		return -ENOMEM;
	if (*e & EPT_LARGE)
		return 0;	/* another vCPU mapped the 2 MiB range meanwhile */
	*e = leaf(slot, slot->pages[idx]);
	return 0;
}

static void invept_ipi(void *eptp)
{
	if (kvmx_ctls.invept_single)
		vmx_invept(INVEPT_SINGLE_CONTEXT, *(u64 *)eptp);
	else
		vmx_invept(INVEPT_ALL_CONTEXT, 0);
}

void kvmx_ept_zap(struct kvmx_vm *vm, u64 gfn, u64 npages)
{
	u64 end = gfn + npages;

	while (gfn < end) {
		u64 *e = walk(vm, gfn << PAGE_SHIFT, 1, false);

		if (!e) {
			/* No table below: skip to the next 2 MiB boundary. */
			gfn = (gfn | (PAGES_2M - 1)) + 1;
			continue;
		}
		if (*e & EPT_LARGE) {
			*e = 0;
			gfn = (gfn | (PAGES_2M - 1)) + 1;
			continue;
		}
		*e = 0;
		gfn++;
	}
	/*
	 * Every CPU may cache translations of this EPT (SDM 29.4.3.1); the IPI
	 * also kicks vCPUs out of the guest so none keeps using them.
	 */
	on_each_cpu(invept_ipi, &vm->eptp, 1);
}
