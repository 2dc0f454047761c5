// SPDX-License-Identifier: GPL-2.0
/*
 * EPT: guest-physical → host-physical translation (SDM Vol. 3C, 29.3).
 *
 * Tables are 4-level and built on demand: an EPT violation on a GPA inside
 * a memory slot pins the userspace page behind it and maps it.  Where the
 * slot and the host backing allow, a whole 2 MiB range is pinned at once and
 * mapped with one large entry (a transparent huge page) or, if the pages are
 * not contiguous, as 512 small ones.  Pinning happens without vm->lock (it
 * may sleep on userfaultfd or FUSE for as long as they like); tables and
 * the slots' page arrays change only under it, after checking that no slot
 * moved or went away meanwhile (vm->slots_gen).
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
		for (i = 0; i < EPT_ENTRIES; i++) {
			u64 e = table[i];

			if ((e & EPT_TABLE) && !(e & EPT_LARGE))
				free_table(vm, __va(e & EPT_ADDR_MASK), level - 1);
		}
	}
	free_page((unsigned long)table);
	atomic_long_dec(&vm->ept_pages);
	kvmx_acct_add(ept_pages, -1);
}

static void invept_ipi(void *eptp)
{
	if (kvmx_ctls.invept_single)
		vmx_invept(INVEPT_SINGLE_CONTEXT, *(u64 *)eptp);
	else
		vmx_invept(INVEPT_ALL_CONTEXT, 0);
}

void kvmx_ept_flush_local(struct kvmx_vm *vm)
{
	invept_ipi(&vm->eptp);
}

void kvmx_ept_destroy(struct kvmx_vm *vm)
{
	if (!vm->ept_root)
		return;
	/*
	 * The root page may come back as another VM's root: no CPU may keep
	 * translations cached under this EPTP (SDM 29.4.3.1).  VMX is still
	 * on everywhere (the VM holds it).  A new VM's vCPUs flush too, on
	 * each CPU they first run on (kvmx_vcpu_load()).
	 */
	if (vm->ept_used)
		on_each_cpu(invept_ipi, &vm->eptp, 1);
	free_table(vm, vm->ept_root, 4);
	vm->ept_root = NULL;
}

/* The entry for @gpa at @level (1: 4 KiB, 2: 2 MiB), allocating tables. */
static u64 *walk(struct kvmx_vm *vm, u64 gpa, int level, bool alloc)
{
	u64 *table = vm->ept_root;
	int l;

	for (l = 4; l > level; l--) {
		u64 *e = &table[EPT_INDEX(gpa, l)];

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
	return &table[EPT_INDEX(gpa, level)];
}

/*
 * A leaf for @page.  A read-only slot is never writable; a slot whose writes
 * are logged is writable only once a write faulted on it (and was logged).
 */
static u64 leaf(u32 slot_flags, struct page *page, bool write)
{
	u64 perm = EPT_TABLE;

	if ((slot_flags & KVMX_MEM_READONLY) ||
	    ((slot_flags & KVMX_MEM_LOG_DIRTY_PAGES) && !write))
		perm = EPT_READ | EPT_EXEC;
	return page_to_phys(page) | perm | EPT_MT_WB | EPT_IGNORE_PAT;
}

static unsigned int gup_flags(u32 slot_flags)
{
	return FOLL_LONGTERM | ((slot_flags & KVMX_MEM_READONLY) ? 0 : FOLL_WRITE);
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

/* Pins @n user pages at @hva, charged to the VMM; all of them or -errno. */
static int pin(struct kvmx_vm *vm, unsigned long hva, int n, u32 flags, struct page **pages)
{
	int r = kvmx_charge_pinned(vm, n);

	if (r)
		return r;
	r = pin_user_pages_fast(hva, n, gup_flags(flags), pages);
	if (r == n)
		return 0;
	if (r > 0)
		unpin_user_pages(pages, r);
	kvmx_uncharge_pinned(vm, n);
	return r < 0 ? r : -EFAULT;
}

static void unpin(struct kvmx_vm *vm, struct page **pages, int n)
{
	unpin_user_pages(pages, n);
	kvmx_uncharge_pinned(vm, n);
}

/* Under vm->lock: the slot @view was copied from, if it is still there. */
static struct kvmx_memslot *slot_still(struct kvmx_vm *vm, const struct kvmx_slot_view *view,
				       u64 gfn)
{
	if (vm->slots_gen != view->gen)
		return NULL;
	return kvmx_find_slot(vm, gfn);
}

static void account_pins(struct kvmx_vm *vm, long n)
{
	atomic_long_add(n, &vm->pinned_pages);
	kvmx_acct_add(pinned_pages, n);
}

/*
 * Map the whole 2 MiB range around @gfn if the slot covers it, its backing
 * is 2 MiB-aligned and nothing in it is mapped yet: 1 if it did, 0 to go
 * on with one page, -errno.
 */
static int fault_2m(struct kvmx_vm *vm, const struct kvmx_slot_view *view, u64 gfn)
{
	u64 first = gfn & ~(u64)(PAGES_2M - 1), idx = first - view->base_gfn;
	unsigned long hva = view->hva + (idx << PAGE_SHIFT);
	struct kvmx_memslot *slot;
	struct page **pages;
	u64 *e;
	int i, r;

	/* Logged slots stay in 4 KiB pages: dirty bits are per page. */
	if (!kvmx_ctls.ept_2m || (view->flags & KVMX_MEM_LOG_DIRTY_PAGES) ||
	    first < view->base_gfn ||
	    first + PAGES_2M > view->base_gfn + view->npages || (hva & (SZ_2M - 1)))
		return 0;
	pages = kvmalloc_array(PAGES_2M, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return 0;	/* one page at a time still works */
	/* Not all there (unmapped, no permission): the caller tries one page. */
	if (pin(vm, hva, PAGES_2M, view->flags, pages)) {
		kvfree(pages);
		return 0;
	}
	mutex_lock(&vm->lock);
	slot = slot_still(vm, view, gfn);
	r = 0;
	if (!slot)
		goto out;	/* moved or gone: the guest faults again */
	for (i = 0; i < PAGES_2M; i++)
		if (slot->pages[idx + i])
			goto out;	/* partly mapped already: stay small */
	e = walk(vm, first << PAGE_SHIFT, 2, true);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	if ((*e & EPT_TABLE) && !(*e & EPT_LARGE))
		goto out;	/* a 4 KiB table is already there */
	if (contiguous_2m(pages)) {
		*e = leaf(view->flags, pages[0], true) | EPT_LARGE;
	} else {
		/* Not a huge page: map the 512 pinned pages one by one. */
		for (i = 0; i < PAGES_2M; i++) {
			e = walk(vm, (first + i) << PAGE_SHIFT, 1, true);
			if (!e) {
				/* Keep what is mapped; the rest faults again. */
				account_pins(vm, i);
				memcpy(&slot->pages[idx], pages, i * sizeof(*pages));
				mutex_unlock(&vm->lock);
				unpin(vm, &pages[i], PAGES_2M - i);
				kvfree(pages);
				return -ENOMEM;
			}
			*e = leaf(view->flags, pages[i], true);
		}
	}
	memcpy(&slot->pages[idx], pages, PAGES_2M * sizeof(*pages));
	account_pins(vm, PAGES_2M);
	mutex_unlock(&vm->lock);
	kvfree(pages);
	return 1;
out:
	mutex_unlock(&vm->lock);
	unpin(vm, pages, PAGES_2M);
	kvfree(pages);
	return r;
}

int kvmx_ept_fault(struct kvmx_vm *vm, u64 gpa, bool write)
{
	u64 gfn = gpa >> PAGE_SHIFT, idx;
	struct kvmx_slot_view view;
	struct kvmx_memslot *slot;
	struct page *page = NULL;
	u64 *e;
	int r;

	mutex_lock(&vm->lock);
	slot = kvmx_find_slot(vm, gfn);
	if (!slot || (write && (slot->flags & KVMX_MEM_READONLY))) {
		mutex_unlock(&vm->lock);
		return 0;
	}
	idx = gfn - slot->base_gfn;
	if (slot->pages[idx])
		goto map;	/* pinned already (another vCPU, a zapped entry) */
	kvmx_slot_view_of(vm, slot, &view);
	mutex_unlock(&vm->lock);

	r = fault_2m(vm, &view, gfn);
	if (r)
		return r;
	r = pin(vm, view.hva + (idx << PAGE_SHIFT), 1, view.flags, &page);
	if (r) {
		/* The slot went (and its memory with it) while we pinned: retry. */
		mutex_lock(&vm->lock);
		if (vm->slots_gen != view.gen)
			r = 1;
		mutex_unlock(&vm->lock);
		return r;
	}

	mutex_lock(&vm->lock);
	slot = slot_still(vm, &view, gfn);
	if (!slot)
		goto drop;
	if (!slot->pages[idx]) {
		slot->pages[idx] = page;
		account_pins(vm, 1);
		page = NULL;
	}
map:
	e = walk(vm, gpa, 1, true);
	r = e ? 1 : -ENOMEM;
	/* A 2 MiB leaf may have come meanwhile: it maps this page already. */
	if (e && !(*e & EPT_LARGE)) {
		*e = leaf(slot->flags, slot->pages[idx], write);
		if (write)
			kvmx_slot_mark_dirty(slot, gfn);
	}
drop:
	mutex_unlock(&vm->lock);
	if (page)
		unpin(vm, &page, 1);
	return slot ? r : 1;
}

/*
 * Under vm->lock: make @gfn's 4 KiB leaf read-only again, so that the next
 * write faults and is logged.  The caller flushes (kvmx_ept_flush_all).
 */
void kvmx_ept_write_protect(struct kvmx_vm *vm, u64 gfn)
{
	u64 *e = walk(vm, gfn << PAGE_SHIFT, 1, false);

	if (e && !(*e & EPT_LARGE))
		*e &= ~EPT_WRITE;
}

/*
 * Every CPU may cache translations of this EPT (SDM 29.4.3.1); the IPI
 * also kicks vCPUs out of the guest so none keeps using them.
 */
void kvmx_ept_flush_all(struct kvmx_vm *vm)
{
	on_each_cpu(invept_ipi, &vm->eptp, 1);
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
	kvmx_ept_flush_all(vm);
}
