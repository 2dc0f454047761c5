// SPDX-License-Identifier: GPL-2.0
/*
 * The VM's MMU notifier on the VMM's address space: whenever the VMM's
 * mapping of guest memory changes (munmap, MADV_DONTNEED, mremap, CoW after
 * fork, reclaim, migration, THP split or collapse, KSM), the EPT entries of
 * that memory go before the old page does, and faults that looked the page
 * up meanwhile start over (vm->mmu_invalidate_seq/_in_progress, as in KVM).
 *
 * Everything here runs under vm->mmu_lock alone, a spinlock (the INVEPT
 * after a zap too, before the lock is dropped: kvmx_ept_flush_all()): never vm->lock,
 * which is held while allocating (reclaim calls these hooks), and nothing
 * sleeps, so a non-blockable invalidation (the OOM reaper) is served like
 * any other; a blockable one may give the CPU away in a long zap.  The
 * slots' addresses (used, base_gfn, npages, hva) change only under both
 * vm->lock and vm->mmu_lock, so reading them here needs the latter only.
 *
 * Lifetime: registered when the VM is created, from the creator's mm
 * (mmu_notifier_register holds the mm_struct, not its pages); unregistered
 * first thing when the VM is freed, before its slots and EPT tables go.
 * mmu_notifier_unregister() calls ->release if the mm has not exited yet
 * and waits for every hook still running (SRCU), so none can touch a freed
 * VM.  If the mm exits first (the VMM died with the VM fd passed on),
 * ->release zaps everything; no thread of that mm is left to fault again.
 */
#include <linux/mmu_notifier.h>

#include "kvmx.h"

static struct kvmx_vm *to_vm(struct mmu_notifier *mn)
{
	return container_of(mn, struct kvmx_vm, mmu_notifier);
}

/* What hva_range() does to the leaves it finds. */
enum hva_op {
	HVA_ZAP,		/* remove them */
	HVA_FIND,		/* any there? */
	HVA_AGE,		/* any accessed? clear the flags (EPT A/D on) */
	HVA_TEST_AGE,		/* any accessed? (EPT A/D on) */
};

/*
 * Under vm->mmu_lock: do @op to the leaves of every slot's part of
 * [start, end); true if there were any (HVA_ZAP, HVA_FIND) or any was
 * accessed (HVA_AGE, HVA_TEST_AGE).  *@hit: some slot overlaps.
 */
static bool hva_range(struct kvmx_vm *vm, unsigned long start, unsigned long end, bool resched,
		      enum hva_op op, bool *hit)
{
	bool found = false;
	int i;

	for (i = 0; i < KVMX_MAX_MEMSLOTS; i++) {
		struct kvmx_memslot *s = &vm->slots[i];
		unsigned long s_end, lo, hi;

		if (!s->used)
			continue;
		s_end = s->hva + (s->npages << PAGE_SHIFT);
		lo = max(start, s->hva);
		hi = min(end, s_end);
		if (lo >= hi)
			continue;
		if (hit)
			*hit = true;
		lo = (lo - s->hva) >> PAGE_SHIFT;
		hi = (hi - s->hva + PAGE_SIZE - 1) >> PAGE_SHIFT;
		if (op == HVA_AGE || op == HVA_TEST_AGE)
			found |= kvmx_ept_age_locked(vm, s->base_gfn + lo, hi - lo, op == HVA_AGE);
		else
			found |= kvmx_ept_zap_locked(vm, s->base_gfn + lo, hi - lo, resched,
						     op == HVA_FIND);
		if (found && (op == HVA_FIND || op == HVA_TEST_AGE))
			break;
	}
	return found;
}

static bool zap_hva(struct kvmx_vm *vm, unsigned long start, unsigned long end, bool resched,
		    bool *hit)
{
	return hva_range(vm, start, end, resched, HVA_ZAP, hit);
}

static int invalidate_range_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct kvmx_vm *vm = to_vm(mn);
	bool zapped, hit = false;

	spin_lock(&vm->mmu_lock);
	/* Faults that looked up a page in the range wait for the end. */
	if (!vm->mmu_invalidate_in_progress++) {
		vm->mmu_invalidate_range_start = range->start;
		vm->mmu_invalidate_range_end = range->end;
	} else {
		vm->mmu_invalidate_range_start = min(vm->mmu_invalidate_range_start, range->start);
		vm->mmu_invalidate_range_end = max(vm->mmu_invalidate_range_end, range->end);
	}
	zapped = zap_hva(vm, range->start, range->end, mmu_notifier_range_blockable(range), &hit);
	if (zapped)
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
	if (hit)
		atomic_long_inc(&vm->mmu_invalidations);
	return 0;
}

static void invalidate_range_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct kvmx_vm *vm = to_vm(mn);

	spin_lock(&vm->mmu_lock);
	vm->mmu_invalidate_seq++;
	/* A fault that saw the old sequence number retries: bump it before the count drops. */
	smp_wmb();
	if (!WARN_ON_ONCE(vm->mmu_invalidate_in_progress <= 0))
		vm->mmu_invalidate_in_progress--;
	spin_unlock(&vm->mmu_lock);
}

/*
 * Aging (reclaim's folio_referenced(), khugepaged): was the page used by
 * the guest since last asked?  As KVM does (kvm_age_gfn(), kvm_test_age_gfn()):
 *
 * With EPT accessed flags (kvmx_ctls.ept_ad), the answer is the flags of
 * the page's leaves; asking clears them and the mappings stay, so a page
 * the guest keeps using stays young without a fault.  clear_flush_young
 * then flushes the CPUs' cached translations, which would otherwise let
 * the guest use the page without setting the flag again (reclaim is about
 * to decide on it); clear_young (proactive aging) does without, as KVM's.
 *
 * Without them, a young page is one the guest has mapped; asking clears it
 * by zapping the entry, so a page the guest does not touch again looks old
 * next time, and a touch maps it again (and marks the host page accessed).
 * The flush comes with every zap: reclaim may free the page right after.
 *
 * Under vm->mmu_lock, as the zaps of invalidate_range_start: a fault in
 * flight either maps before (and its fresh leaf, accessed, is seen) or
 * after (and is a use).
 */
static bool age(struct mmu_notifier *mn, unsigned long start, unsigned long end, bool flush)
{
	struct kvmx_vm *vm = to_vm(mn);
	bool young;

	spin_lock(&vm->mmu_lock);
	young = hva_range(vm, start, end, false, kvmx_ctls.ept_ad ? HVA_AGE : HVA_ZAP, NULL);
	if (young && (flush || !kvmx_ctls.ept_ad))
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
	return young;
}

static int clear_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	return age(mn, start, end, false);
}

static int clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
			     unsigned long start, unsigned long end)
{
	return age(mn, start, end, true);
}

static int test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address)
{
	struct kvmx_vm *vm = to_vm(mn);
	bool young;

	spin_lock(&vm->mmu_lock);
	young = hva_range(vm, address, address + 1, false,
			  kvmx_ctls.ept_ad ? HVA_TEST_AGE : HVA_FIND, NULL);
	spin_unlock(&vm->mmu_lock);
	return young;
}

/*
 * The PTE of @address now maps another page (KSM, CoW): called between
 * invalidate_range_start and _end, which zapped it already; zap again in
 * case, and let the next fault map the new page.  Under the page table
 * lock: nothing here sleeps.
 */
static void change_pte(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long address,
		       pte_t pte)
{
	struct kvmx_vm *vm = to_vm(mn);
	bool zapped;

	spin_lock(&vm->mmu_lock);
	zapped = zap_hva(vm, address, address + PAGE_SIZE, false, NULL);
	if (zapped)
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
}

/* The mm is going (exit_mmap) or the notifier is (VM freed): map nothing more of it. */
static void release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct kvmx_vm *vm = to_vm(mn);
	bool zapped;

	spin_lock(&vm->mmu_lock);
	zapped = zap_hva(vm, 0, ULONG_MAX, true, NULL);
	if (zapped)
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
}

static const struct mmu_notifier_ops kvmx_mmu_notifier_ops = {
	.invalidate_range_start	= invalidate_range_start,
	.invalidate_range_end	= invalidate_range_end,
	.clear_flush_young	= clear_flush_young,
	.clear_young		= clear_young,
	.test_young		= test_young,
	.change_pte		= change_pte,
	.release		= release,
};

int kvmx_mmu_notifier_register(struct kvmx_vm *vm)
{
	vm->mmu_notifier.ops = &kvmx_mmu_notifier_ops;
	return mmu_notifier_register(&vm->mmu_notifier, vm->mm);
}

void kvmx_mmu_notifier_unregister(struct kvmx_vm *vm)
{
	mmu_notifier_unregister(&vm->mmu_notifier, vm->mm);
}
