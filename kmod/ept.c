// SPDX-License-Identifier: GPL-2.0
/*
 * EPT: guest-physical → host-physical translation (SDM Vol. 3C, 29.3).
 *
 * Tables are 4-level and built on demand: an EPT violation on a GPA inside
 * a memory slot looks up the userspace page behind it (an ordinary page
 * reference, no pin) and maps it; where the VMM's own page table maps that
 * address with a 2 MiB page (THP, hugetlbfs) and the slot allows, one large
 * entry maps all of it.  The reference is dropped once the entry is in: from
 * then on the VM's MMU notifier (mmu_notifier.c) keeps the entry honest, by
 * zapping it whenever the VMM's mapping changes (munmap, MADV_DONTNEED,
 * mremap, CoW after fork, reclaim, migration, KSM...).
 *
 * As in KVM, a fault takes a snapshot of vm->mmu_invalidate_seq before the
 * lookup, which may sleep (userfaultfd, FUSE, swap-in) and runs without any
 * lock; the entry is then written under vm->mmu_lock only if no invalidation
 * ran or is running meanwhile over that address, else the guest just faults
 * again.  vm->mmu_lock is a spinlock, innermost (after vm->lock): EPT tables
 * a fault needs are allocated before it is taken.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/hugetlb.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/apicdef.h>
#include <asm/io.h>

#include "kvmx.h"
#include "ept.h"
#include "vmx_ops.h"

/* EPTP: write-back paging structures, 4-level walk (SDM 25.6.11). */
#define EPTP_WB_4LEVEL		(6ULL | (3ULL << 3))
/* EPTP bit 6: the CPU sets accessed and dirty flags in EPT entries. */
#define EPTP_AD_ENABLE		BIT_ULL(6)
#define PAGES_2M		512

int kvmx_ept_init(struct kvmx_vm *vm)
{
	vm->ept_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vm->ept_root)
		return -ENOMEM;
	atomic_long_inc(&vm->ept_pages);
	kvmx_acct_add(ept_pages, 1);
	vm->eptp = __pa(vm->ept_root) | EPTP_WB_4LEVEL;
	/*
	 * Accessed flags are what page aging reads (mmu_notifier.c).  With
	 * them on, the CPU's accesses to the guest's own paging structures
	 * count as writes for EPT (SDM 29.3.3.2): a guest page table in a
	 * read-only leaf (a page shared until written, a slot whose writes
	 * are logged) takes a write fault, which maps it writable (logging
	 * it), as KVM's does with A/D on.
	 */
	if (kvmx_ctls.ept_ad)
		vm->eptp |= EPTP_AD_ENABLE;
	return 0;
}

static void free_ept_page(struct kvmx_vm *vm, u64 *page)
{
	free_page((unsigned long)page);
	atomic_long_dec(&vm->ept_pages);
	kvmx_acct_add(ept_pages, -1);
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
	free_ept_page(vm, table);
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
	/* The MMU notifier zapped everything at release; whatever is left goes too. */
	kvmx_acct_add(mapped_pages, -atomic_long_xchg(&vm->mapped_pages, 0));
}

/*
 * Table pages a fault may need (struct kvmx_ept_cache, one per vCPU, as
 * KVM's MMU caches): topped up before vm->mmu_lock is taken, so that a
 * fault never looks its page up twice; what a fault leaves stays for the
 * next one.
 */
static int cache_topup(struct kvmx_vm *vm, struct kvmx_ept_cache *c)
{
	while (c->n < KVMX_EPT_CACHE_PAGES) {
		u64 *p = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);

		if (!p)
			return -ENOMEM;
		atomic_long_inc(&vm->ept_pages);
		kvmx_acct_add(ept_pages, 1);
		c->page[c->n++] = p;
	}
	return 0;
}

static void cache_free(struct kvmx_vm *vm, struct kvmx_ept_cache *c)
{
	while (c->n)
		free_ept_page(vm, c->page[--c->n]);
}

static void account_mapped(struct kvmx_vm *vm, long n)
{
	atomic_long_add(n, &vm->mapped_pages);
	kvmx_acct_add(mapped_pages, n);
}

/*
 * Under vm->mmu_lock: leaf (or empty entry) @e becomes @new; the old value
 * is returned.  With A/D flags on, a leaf mapped writable for a read fault
 * had no dirty flag, so the host page was not dirtied then: if the guest
 * wrote through it since, the CPU set the flag, and the host page must be
 * dirty before the VMM's mapping changes (reclaim decides between swap-out
 * and drop right after the MMU notifier's zap).  The exchange is atomic: the CPU may be setting the
 * flag right now.  The page is alive: a leaf exists only while the VMM's
 * page table maps its page (every unmapping zaps first, under this lock).
 * SetPageDirty() as KVM's kvm_set_pfn_dirty(): nothing here may sleep.
 */
static u64 take_leaf(u64 *e, u64 new)
{
	u64 old = xchg(e, new);
	unsigned long pfn = (old & EPT_ADDR_MASK) >> PAGE_SHIFT;

	if (kvmx_ctls.ept_ad && (old & (EPT_READ | EPT_DIRTY)) == (EPT_READ | EPT_DIRTY) &&
	    pfn_valid(pfn) && !PageReserved(pfn_to_page(pfn)))
		SetPageDirty(pfn_to_page(pfn));
	return old;
}

/*
 * Under vm->mmu_lock: the entry for @gpa at @level (1: 4 KiB, 2: 2 MiB),
 * linking tables from @c where they are missing (NULL if @c is NULL or
 * empty).  A 2 MiB leaf on the way to a 4 KiB entry is returned as is
 * unless @c is given: then it is replaced by an empty table and *@flush
 * says that a translation went.
 */
static u64 *walk(struct kvmx_vm *vm, u64 gpa, int level, struct kvmx_ept_cache *c, bool *flush)
{
	u64 *table = vm->ept_root;
	int l;

	for (l = 4; l > level; l--) {
		u64 *e = &table[EPT_INDEX(gpa, l)];

		if (*e & EPT_LARGE) {
			if (!c)
				return e;	/* a 2 MiB leaf covers it */
			if (!c->n)
				return NULL;
			account_mapped(vm, -PAGES_2M);
			*flush = true;
			take_leaf(e, 0);
		}
		if (!(*e & EPT_TABLE)) {
			u64 *next;

			if (!c || !c->n)
				return NULL;
			next = c->page[--c->n];
			*e = __pa(next) | EPT_TABLE;
		}
		table = __va(*e & EPT_ADDR_MASK);
	}
	return &table[EPT_INDEX(gpa, level)];
}

/*
 * A leaf for @pfn.  Writable only if the host page was looked up for
 * writing (or is already writable for the VMM) and the slot allows it; a
 * slot whose writes are logged is writable only after a write fault (which
 * logged it).  With A/D flags on: accessed (the guest is about to use it:
 * aging counts the fault as a use), and dirty only for a write fault (the
 * guest is writing; the host page is dirtied now).  A writable leaf made
 * for a read fault starts clean, and the CPU sets the flag on the guest's
 * first write: take_leaf() dirties the host page from it.  So a page the
 * guest only reads stays clean for the host where the VMM's page table
 * maps it writable but clean: shared memory (memfd, shmem) the VMM read,
 * anonymous memory after MADV_FREE, which reclaim may then drop instead of
 * writing out or keeping.  KVM 6.1's make_spte() presets the flag on every
 * writable leaf.  (A file with writeback is write-notified: its clean
 * pages are read-only for the VMM, so a read fault maps them read-only.)
 */
static u64 leaf(unsigned long pfn, bool writable, bool dirty)
{
	u64 e = ((u64)pfn << PAGE_SHIFT) | EPT_READ | EPT_EXEC | (writable ? EPT_WRITE : 0) |
		EPT_MT_WB | EPT_IGNORE_PAT;

	if (kvmx_ctls.ept_ad)
		e |= EPT_ACCESSED | (writable && dirty ? EPT_DIRTY : 0);
	return e;
}

/*
 * Under vm->mmu_lock, interrupts off: does the VMM's page table map @hva
 * with a page of 2 MiB or more (THP, hugetlbfs), and is it @pfn's?  The
 * walk is lockless, like GUP-fast: with interrupts off no page table can be
 * freed underneath, and a change after the fault's lookup started is an
 * invalidation the caller's retry check catches.
 */
static bool host_maps_2m(struct mm_struct *mm, unsigned long hva, unsigned long pfn)
{
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	pgd = READ_ONCE(*pgd_offset(mm, hva));
	if (pgd_none(pgd) || !pgd_present(pgd))
		return false;
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d) || p4d_large(p4d))
		return false;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (pud_none(pud) || !pud_present(pud))
		return false;
	if (pud_large(pud))
		return (pud_pfn(pud) + ((hva & ~PUD_MASK) >> PAGE_SHIFT)) >> 9 == pfn >> 9;
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	if (pmd_none(pmd) || !pmd_present(pmd) || !pmd_large(pmd))
		return false;
	return pmd_pfn(pmd) >> 9 == pfn >> 9;
}

/* What a fault found: the host page, whether it may be mapped writable. */
struct ept_lookup {
	struct page *page;
	bool writable;
};

/*
 * The host page behind @hva, with a reference: a write fault looks it up for
 * writing (breaking CoW, as the VMM's own write would); a read fault on a
 * writable, unlogged slot takes the page writable if the VMM's page table
 * already maps it so, else read-only (the zero page, a page shared after
 * fork or by KSM stay shared until the guest writes).
 */
static int lookup(unsigned long hva, u32 slot_flags, bool write, struct ept_lookup *out)
{
	long r;

	out->writable = write;
	if (!write && !(slot_flags & (KVMX_MEM_READONLY | KVMX_MEM_LOG_DIRTY_PAGES)) &&
	    get_user_pages_fast_only(hva, 1, FOLL_WRITE, &out->page) == 1) {
		out->writable = true;
		return 0;
	}
	r = get_user_pages_unlocked(hva, 1, &out->page, write ? FOLL_WRITE : 0);
	if (r == 1)
		return 0;
	return r < 0 ? r : -EFAULT;
}

/* Under vm->lock and vm->mmu_lock: @gfn is @hva; no invalidation since @seq? */
static bool mmu_retry(struct kvmx_vm *vm, unsigned long seq, unsigned long hva)
{
	lockdep_assert_held(&vm->mmu_lock);
	if (vm->mmu_invalidate_in_progress && hva >= vm->mmu_invalidate_range_start &&
	    hva < vm->mmu_invalidate_range_end)
		return true;
	return vm->mmu_invalidate_seq != seq;
}

/*
 * Under vm->lock and vm->mmu_lock: map @gfn (at @hva of @slot) to @pfn, with
 * a 2 MiB leaf where the slot, the alignment of both addresses and the host
 * mapping allow.  1 if done, -EAGAIN if @c ran out of table pages; *@freed is
 * a table a 2 MiB leaf replaced, to free after the flush *@flush asks for.
 */
static int map(struct kvmx_vm *vm, struct kvmx_memslot *slot, u64 gfn, unsigned long hva,
	       unsigned long pfn, bool writable, bool write, struct kvmx_ept_cache *c, bool *flush,
	       u64 **freed)
{
	u64 first = gfn & ~(u64)(PAGES_2M - 1);
	unsigned long irq;
	bool huge = false;
	u64 *e;
	int i;

	if (kvmx_ctls.ept_2m && !(slot->flags & KVMX_MEM_LOG_DIRTY_PAGES) &&
	    first >= slot->base_gfn && first + PAGES_2M <= slot->base_gfn + slot->npages &&
	    !((gfn ^ (hva >> PAGE_SHIFT)) & (PAGES_2M - 1))) {
		local_irq_save(irq);
		huge = host_maps_2m(vm->mm, hva, pfn);
		local_irq_restore(irq);
	}
	if (huge) {
		e = walk(vm, first << PAGE_SHIFT, 2, c, flush);
		if (!e)
			return -EAGAIN;
		if ((*e & EPT_TABLE) && !(*e & EPT_LARGE)) {
			u64 *pt = __va(*e & EPT_ADDR_MASK);

			/* 4 KiB leaves there (a THP collapsed under them?): stay small. */
			for (i = 0; i < EPT_ENTRIES; i++)
				if (pt[i])
					goto small;
			*freed = pt;
			*flush = true;	/* paging-structure caches may hold the table */
		}
		if (!(*e & EPT_LARGE)) {
			account_mapped(vm, PAGES_2M);
			*e = 0;		/* the empty table, freed by the caller */
		}
		take_leaf(e, leaf(pfn & ~(unsigned long)(PAGES_2M - 1), writable, write) | EPT_LARGE);
		return 1;
	}
small:
	e = walk(vm, gfn << PAGE_SHIFT, 1, c, flush);
	if (!e)
		return -EAGAIN;
	if (!(*e & EPT_TABLE))
		account_mapped(vm, 1);
	take_leaf(e, leaf(pfn, writable, write));
	return 1;
}

/* Under vm->lock: the slot @view was copied from, if it is still there. */
static struct kvmx_memslot *slot_still(struct kvmx_vm *vm, const struct kvmx_slot_view *view,
				       u64 gfn)
{
	if (vm->slots_gen != view->gen)
		return NULL;
	return kvmx_find_slot(vm, gfn);
}

void kvmx_ept_vcpu_free(struct kvmx_vcpu *v)
{
	cache_free(v->vm, &v->ept_cache);
}

int kvmx_ept_fault(struct kvmx_vcpu *v, u64 gpa, bool write)
{
	struct kvmx_vm *vm = v->vm;
	struct kvmx_ept_cache *cache = &v->ept_cache;
	u64 gfn = gpa >> PAGE_SHIFT;
	struct kvmx_slot_view view;
	struct kvmx_memslot *slot;
	struct ept_lookup found;
	unsigned long hva, seq;
	u64 *freed = NULL;
	bool flush = false, mapped = false;
	int r;

	if (!kvmx_slot_view(vm, gfn, &view) || (write && (view.flags & KVMX_MEM_READONLY)))
		return 0;
	hva = kvmx_view_hva(&view, gfn << PAGE_SHIFT);
	r = cache_topup(vm, cache);
	if (r)
		return r;
again:
	seq = READ_ONCE(vm->mmu_invalidate_seq);
	/* The sequence number before the page: pairs with invalidate_range_end()'s smp_wmb(). */
	smp_rmb();
	r = lookup(hva, view.flags, write, &found);
	if (r) {
		/* The slot went (and its memory with it) while we looked: retry. */
		mutex_lock(&vm->lock);
		if (vm->slots_gen != view.gen)
			r = 1;
		mutex_unlock(&vm->lock);
		return r;
	}

	mutex_lock(&vm->lock);
	slot = slot_still(vm, &view, gfn);
	spin_lock(&vm->mmu_lock);
	if (!slot || mmu_retry(vm, seq, hva)) {
		r = 1;		/* moved, gone or invalidated: the guest faults again */
	} else {
		r = map(vm, slot, gfn, hva, page_to_pfn(found.page), found.writable, write,
			cache, &flush, &freed);
		mapped = r > 0;
		if (mapped && write)
			kvmx_slot_mark_dirty(slot, gfn);
	}
	/* A translation went (a 2 MiB leaf split, a table replaced): see kvmx_ept_flush_all(). */
	if (flush)
		kvmx_ept_flush_all(vm);
	flush = false;
	spin_unlock(&vm->mmu_lock);
	mutex_unlock(&vm->lock);

	if (mapped) {
		/*
		 * The host's view of the page: used, and written if the guest
		 * writes (without A/D flags, whenever it may: nothing would
		 * tell a later write).
		 */
		if (found.writable && (write || !kvmx_ctls.ept_ad))
			set_page_dirty_lock(found.page);
		if (!PageReserved(found.page))
			mark_page_accessed(found.page);
	}
	put_page(found.page);
	if (freed)
		free_ept_page(vm, freed);
	freed = NULL;
	if (r == -EAGAIN) {	/* not with a full cache: kept for safety */
		r = cache_topup(vm, cache);
		if (!r)
			goto again;
	}
	return r;
}

/*
 * The APIC-access page (SDM 29.4): with "virtualize APIC accesses" the CPU
 * takes over every guest access whose translation ends at that page,
 * whatever the page holds, so the VM's page is mapped where the vCPUs'
 * APIC is, on first use, as KVM's private memslot is.  Where a slot is,
 * its memory wins, as it did before (kvmx_ept_slot_added()).  A vCPU that
 * does not virtualize its accesses (x2APIC mode, APIC off) sees the page
 * as memory there, as in KVM: it holds nothing of the host's.  Mapped
 * read-only (!@writable), every write is an EPT violation first, emulated
 * as before, and only reads are virtualized (SDM 29.4.6.1: EPT
 * violations come before APIC-access virtualization).  1 (the guest
 * retries), 0 if a slot is there after all, or -errno.
 */
int kvmx_ept_map_apic_access(struct kvmx_vcpu *v, u64 gpa, bool writable)
{
	struct kvmx_vm *vm = v->vm;
	bool flush = false;
	u64 *e;
	int r;

	r = cache_topup(vm, &v->ept_cache);
	if (r)
		return r;
	mutex_lock(&vm->lock);
	/* A slot is there (a write to a read-only one faulted): MMIO, as before. */
	if (kvmx_find_slot(vm, gpa >> PAGE_SHIFT)) {
		mutex_unlock(&vm->lock);
		return 0;
	}
	spin_lock(&vm->mmu_lock);
	e = walk(vm, gpa & PAGE_MASK, 1, &v->ept_cache, &flush);
	if (e && !(*e & EPT_TABLE)) {
		account_mapped(vm, 1);
		/* Dirty from the start: the host never needs to hear of writes. */
		take_leaf(e, leaf(page_to_pfn(vm->apic_access_page), writable, true));
	}
	if (flush)
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
	mutex_unlock(&vm->lock);
	return 1;
}

void kvmx_ept_slot_added(struct kvmx_vm *vm, u64 gfn, u64 npages)
{
	u64 apic = APIC_DEFAULT_PHYS_BASE >> PAGE_SHIFT;

	lockdep_assert_held(&vm->lock);
	if (!vm->apic_access_page || apic < gfn || apic - gfn >= npages)
		return;
	spin_lock(&vm->mmu_lock);
	if (kvmx_ept_zap_locked(vm, apic, 1, false, false))
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
}

/*
 * Under vm->mmu_lock: make @gfn's 4 KiB leaf read-only again, so that the
 * next write faults and is logged.  The caller flushes (kvmx_ept_flush_all).
 */
void kvmx_ept_write_protect(struct kvmx_vm *vm, u64 gfn)
{
	u64 *e = walk(vm, gfn << PAGE_SHIFT, 1, NULL, NULL);

	lockdep_assert_held(&vm->mmu_lock);
	/* Atomic: with A/D on, the CPU may be setting a flag in it right now. */
	if (e && !(*e & EPT_LARGE))
		clear_bit(ilog2(EPT_WRITE), (unsigned long *)e);
}

/*
 * Every CPU may cache translations of this EPT (SDM 29.4.3.1); the IPI
 * also kicks vCPUs out of the guest so none keeps using them.  Called with
 * vm->mmu_lock held by whoever removed a translation, before the lock is
 * dropped, as KVM flushes before KVM_MMU_UNLOCK: once the lock is free,
 * another invalidation may find the leaves gone, skip its own flush and let
 * the host free a page a CPU can still reach through a stale translation.
 * Safe under the spinlock: nobody takes it with interrupts off, so a CPU
 * spinning on it still answers the IPI.
 */
void kvmx_ept_flush_all(struct kvmx_vm *vm)
{
	on_each_cpu(invept_ipi, &vm->eptp, 1);
}

/* A walk over the leaves of a gfn range, under vm->mmu_lock. */
struct leaf_iter {
	u64 gfn, end;
	bool resched;		/* the caller may sleep: yield the lock now and then */
	bool flush;		/* leaves went since the last flush: flush before yielding */
	unsigned int steps;
};

/*
 * The next present leaf (4 KiB or 2 MiB) at or after it->gfn, or NULL at
 * the end; where no table is below, the walk skips to the next 2 MiB.  A
 * 2 MiB leaf that overlaps the range comes whole.  The lock is yielded only
 * before a walk: a table may go while it is dropped.
 */
static u64 *next_leaf(struct kvmx_vm *vm, struct leaf_iter *it)
{
	lockdep_assert_held(&vm->mmu_lock);
	while (it->gfn < it->end) {
		u64 *e;

		if (it->resched && !(++it->steps % 512) &&
		    (need_resched() || spin_needbreak(&vm->mmu_lock))) {
			if (it->flush)
				kvmx_ept_flush_all(vm);
			it->flush = false;
			cond_resched_lock(&vm->mmu_lock);
		}
		e = walk(vm, it->gfn << PAGE_SHIFT, 1, NULL, NULL);
		if (!e || (*e & EPT_LARGE))
			it->gfn = (it->gfn | (PAGES_2M - 1)) + 1;
		else
			it->gfn++;
		if (e && (*e & EPT_TABLE))
			return e;
	}
	return NULL;
}

/*
 * Under vm->mmu_lock: remove the leaves of [gfn, gfn + npages) (a 2 MiB leaf
 * that overlaps goes whole), or with @test_only just look.  True if there
 * was any: then the caller flushes, before dropping the lock.  @resched: the
 * caller may sleep, and an invalidation in progress keeps faults off the
 * range while the lock is dropped now and then.
 */
bool kvmx_ept_zap_locked(struct kvmx_vm *vm, u64 gfn, u64 npages, bool resched, bool test_only)
{
	struct leaf_iter it = { .gfn = gfn, .end = gfn + npages, .resched = resched };
	bool found = false;
	u64 *e;

	while ((e = next_leaf(vm, &it))) {
		found = true;
		if (test_only)
			return true;
		account_mapped(vm, *e & EPT_LARGE ? -PAGES_2M : -1);
		take_leaf(e, 0);
		it.flush = true;
	}
	return found;
}

/*
 * Under vm->mmu_lock, A/D flags on: were any of the leaves (4 KiB or
 * 2 MiB) of [gfn, gfn + npages) accessed since last asked?  With @clear
 * their accessed flags are cleared (atomically: the CPU sets flags in
 * entries concurrently), and the entries stay: the guest keeps its
 * mappings and the next access sets the flag again.  A CPU may still
 * hold a translation cached from before, and set no flag on using it
 * until it is flushed: the caller flushes if it needs that (KVM's
 * clear_flush_young does, its clear_young does not).
 */
bool kvmx_ept_age_locked(struct kvmx_vm *vm, u64 gfn, u64 npages, bool clear)
{
	struct leaf_iter it = { .gfn = gfn, .end = gfn + npages };
	bool young = false;
	u64 *e;

	while ((e = next_leaf(vm, &it))) {
		if (!(*e & EPT_ACCESSED))
			continue;
		young = true;
		if (!clear)
			return true;
		clear_bit(EPT_ACCESSED_BIT, (unsigned long *)e);
	}
	return young;
}
