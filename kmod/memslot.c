// SPDX-License-Identifier: GPL-2.0
/*
 * Memory slots (KVM_SET_USER_MEMORY_REGION): which guest-physical ranges are
 * backed by which userspace memory.  A slot is created, moved, deleted or
 * has its dirty logging turned on or off; resizing or re-pointing one is
 * refused, as in KVM.  Nothing is pinned: the EPT fault path maps the
 * VMM's pages as they are, and the MMU notifier (mmu_notifier.c) zaps them
 * when the VMM's mapping changes; it reads the slots' addresses under
 * vm->mmu_lock, so they change here under both locks.
 */
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvmx.h"

/* 4-level EPT maps 48 bits of guest-physical space. */
#define KVMX_MAX_GPA		(1ULL << 48)
/* KVM's x86 slot-id limit (KVM_USER_MEM_SLOTS in 6.1). */
#define KVMX_KVM_USER_MEM_SLOTS	32764
/* One slot at most 64 GiB (its dirty bitmap is 2 MiB). */
#define KVMX_MAX_SLOT_PAGES	(1ULL << 24)

struct kvmx_memslot *kvmx_find_slot(struct kvmx_vm *vm, u64 gfn)
{
	int i;

	for (i = 0; i < KVMX_MAX_MEMSLOTS; i++) {
		struct kvmx_memslot *s = &vm->slots[i];

		if (s->used && gfn >= s->base_gfn && gfn < s->base_gfn + s->npages)
			return s;
	}
	return NULL;
}

void kvmx_slot_view_of(struct kvmx_vm *vm, const struct kvmx_memslot *s,
		       struct kvmx_slot_view *view)
{
	view->base_gfn = s->base_gfn;
	view->npages = s->npages;
	view->hva = s->hva;
	view->flags = s->flags;
	view->gen = vm->slots_gen;
}

bool kvmx_slot_view(struct kvmx_vm *vm, u64 gfn, struct kvmx_slot_view *view)
{
	struct kvmx_memslot *s;

	mutex_lock(&vm->lock);
	s = kvmx_find_slot(vm, gfn);
	if (s)
		kvmx_slot_view_of(vm, s, view);
	mutex_unlock(&vm->lock);
	return s;
}

static bool overlaps(struct kvmx_vm *vm, int except, u64 gfn, u64 npages)
{
	int i;

	for (i = 0; i < KVMX_MAX_MEMSLOTS; i++) {
		struct kvmx_memslot *s = &vm->slots[i];

		if (i != except && s->used && gfn < s->base_gfn + s->npages &&
		    s->base_gfn < gfn + npages)
			return true;
	}
	return false;
}

/*
 * Under vm->lock: the slot moves or goes.  Faults in flight for it start
 * over (vm->slots_gen), its EPT mappings go everywhere; with @delete its
 * addresses are cleared for the MMU notifier in the same step.
 */
static void unmap_slot(struct kvmx_vm *vm, struct kvmx_memslot *s, bool delete)
{
	bool zapped;

	WRITE_ONCE(vm->slots_gen, vm->slots_gen + 1);
	spin_lock(&vm->mmu_lock);
	zapped = kvmx_ept_zap_locked(vm, s->base_gfn, s->npages, true, false);
	if (delete)
		s->used = false;
	if (zapped)
		kvmx_ept_flush_all(vm);
	spin_unlock(&vm->mmu_lock);
}

/* ---- dirty logging (KVMX_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG) ---- */

static size_t bitmap_bytes(u64 npages)
{
	return BITS_TO_LONGS(npages) * sizeof(long);
}

/* Under vm->lock; vm->logged_slots counts the slots that have a bitmap. */
static int alloc_dirty_bitmap(struct kvmx_vm *vm, struct kvmx_memslot *s)
{
	s->dirty_bitmap = kvzalloc(bitmap_bytes(s->npages), GFP_KERNEL_ACCOUNT);
	if (!s->dirty_bitmap)
		return -ENOMEM;
	kvmx_acct_add(kmalloc_bytes, bitmap_bytes(s->npages));
	WRITE_ONCE(vm->logged_slots, vm->logged_slots + 1);
	return 0;
}

static void free_dirty_bitmap(struct kvmx_vm *vm, struct kvmx_memslot *s)
{
	if (!s->dirty_bitmap)
		return;
	kvfree(s->dirty_bitmap);
	s->dirty_bitmap = NULL;
	kvmx_acct_add(kmalloc_bytes, -(long)bitmap_bytes(s->npages));
	WRITE_ONCE(vm->logged_slots, vm->logged_slots - 1);
}

void kvmx_slot_mark_dirty(struct kvmx_memslot *s, u64 gfn)
{
	if (s->dirty_bitmap)
		set_bit(gfn - s->base_gfn, s->dirty_bitmap);
}

void kvmx_mark_page_dirty(struct kvmx_vm *vm, u64 gfn)
{
	struct kvmx_memslot *s;

	/*
	 * The write is ordered before this check: logging turned on after
	 * the check came after the write, and the VMM's first pass over the
	 * slot sees it.  No logged slot: no lock to take.
	 */
	smp_mb();
	if (!READ_ONCE(vm->logged_slots))
		return;

	mutex_lock(&vm->lock);
	s = kvmx_find_slot(vm, gfn);
	if (s)
		kvmx_slot_mark_dirty(s, gfn);
	mutex_unlock(&vm->lock);
}

/*
 * Turn logging on (its bitmap already allocated) or off for a slot (KVM's
 * FLAGS_ONLY change, or with a move).  On: every mapping goes, so that each
 * page's first write faults (and is logged), and faults in flight start
 * over.  Off: read-only leaves become writable on their next write fault.
 */
static void set_dirty_logging(struct kvmx_vm *vm, struct kvmx_memslot *s, bool on)
{
	if (!on) {
		free_dirty_bitmap(vm, s);
		s->flags &= ~KVMX_MEM_LOG_DIRTY_PAGES;
		return;
	}
	s->flags |= KVMX_MEM_LOG_DIRTY_PAGES;
	unmap_slot(vm, s, false);
}

/*
 * KVM_GET_DIRTY_LOG: the pages written since the last call, one bit each;
 * they are write-protected again before the bits are cleared, so no write
 * after this call goes unlogged.
 */
int kvmx_get_dirty_log(struct kvmx_vm *vm, const struct kvmx_dirty_log *log)
{
	struct kvmx_memslot *s;
	unsigned long *snap, any = 0;
	size_t n;
	u64 i;
	int r;

	/*
	 * KVM's limits: address spaces 0 and 1 (SMM), slot ids below 32764.
	 * Any other slot that exists nowhere has no log: ENOENT, as in KVM.
	 */
	if ((log->slot >> 16) >= 2 || (u16)log->slot >= KVMX_KVM_USER_MEM_SLOTS)
		return -EINVAL;
	if (log->slot >= KVMX_MAX_MEMSLOTS)
		return -ENOENT;
	mutex_lock(&vm->lock);
	s = &vm->slots[log->slot];
	if (!s->used || !s->dirty_bitmap) {
		mutex_unlock(&vm->lock);
		return -ENOENT;
	}
	n = bitmap_bytes(s->npages);
	snap = kvzalloc(n, GFP_KERNEL_ACCOUNT);
	if (!snap) {
		mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	for (i = 0; i < n / sizeof(long); i++) {
		unsigned long bits = xchg(&s->dirty_bitmap[i], 0);
		unsigned long b;

		snap[i] = bits;
		any |= bits;
		if (!bits)
			continue;
		spin_lock(&vm->mmu_lock);
		for_each_set_bit(b, &bits, BITS_PER_LONG)
			kvmx_ept_write_protect(vm, s->base_gfn + i * BITS_PER_LONG + b);
		spin_unlock(&vm->mmu_lock);
		if (!(i % 512))
			cond_resched();	/* a large slot: up to 2^24 pages */
	}
	/* Nothing was writable since the last call: no CPU to interrupt. */
	if (any)
		kvmx_ept_flush_all(vm);
	mutex_unlock(&vm->lock);
	/* A 32-bit VMM's pointer fills only the low half of the union. */
	r = copy_to_user(in_compat_syscall() ? compat_ptr((u32)log->padding2) :
			 u64_to_user_ptr(log->padding2), snap, n) ? -EFAULT : 0;
	kvfree(snap);
	return r;
}

static void delete_slot(struct kvmx_vm *vm, struct kvmx_memslot *s)
{
	unmap_slot(vm, s, true);
	free_dirty_bitmap(vm, s);
	memset(s, 0, sizeof(*s));
}

int kvmx_set_memory_region(struct kvmx_vm *vm,
			   const struct kvmx_userspace_memory_region *r)
{
	struct kvmx_memslot *s;
	u64 npages = r->memory_size >> PAGE_SHIFT;
	u64 gfn = r->guest_phys_addr >> PAGE_SHIFT;
	bool retired = false;
	int err = 0;

	/* Slot ids with an address-space id in bits 16+ are SMM's: not here. */
	if (r->slot >= KVMX_MAX_MEMSLOTS)
		return -EINVAL;
	if (r->flags & ~(KVMX_MEM_READONLY | KVMX_MEM_LOG_DIRTY_PAGES))
		return -EINVAL;
	if ((r->memory_size | r->guest_phys_addr | r->userspace_addr) & ~PAGE_MASK)
		return -EINVAL;
	if (r->memory_size) {
		if (npages > KVMX_MAX_SLOT_PAGES ||
		    r->guest_phys_addr + r->memory_size > KVMX_MAX_GPA ||
		    r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
		    !access_ok((void __user *)(unsigned long)r->userspace_addr, r->memory_size))
			return -EINVAL;
	}

	mutex_lock(&vm->lock);
	s = &vm->slots[r->slot];
	if (!r->memory_size) {
		retired = s->used;
		if (s->used)
			delete_slot(vm, s);
		else
			err = -EINVAL;	/* nothing to delete: KVM says EINVAL too */
		goto out;
	}
	if (s->used) {
		/*
		 * Moving it (same size, memory and flags) or turning dirty
		 * logging on or off where it is; nothing else, as in KVM.
		 */
		u32 changed = s->flags ^ r->flags;

		bool log_on = r->flags & KVMX_MEM_LOG_DIRTY_PAGES;

		if (s->npages != npages || s->hva != r->userspace_addr ||
		    (changed & ~KVMX_MEM_LOG_DIRTY_PAGES)) {
			err = -EINVAL;
			goto out;
		}
		if (s->base_gfn != gfn && overlaps(vm, r->slot, gfn, npages)) {
			err = -EEXIST;
			goto out;
		}
		/* What can fail comes first: a refused call changes nothing. */
		if (changed && log_on) {
			err = alloc_dirty_bitmap(vm, s);
			if (err)
				goto out;
		}
		if (s->base_gfn != gfn) {
			retired = true;
			unmap_slot(vm, s, false);
			spin_lock(&vm->mmu_lock);
			s->base_gfn = gfn;
			spin_unlock(&vm->mmu_lock);
			kvmx_ept_slot_added(vm, gfn, npages);
		}
		if (changed)
			set_dirty_logging(vm, s, log_on);
		goto out;
	}
	if (overlaps(vm, r->slot, gfn, npages)) {
		err = -EEXIST;
		goto out;
	}
	s->base_gfn = gfn;
	s->npages = npages;
	s->hva = r->userspace_addr;
	s->flags = r->flags;
	if ((r->flags & KVMX_MEM_LOG_DIRTY_PAGES) && alloc_dirty_bitmap(vm, s)) {
		memset(s, 0, sizeof(*s));
		err = -ENOMEM;
		goto out;
	}
	spin_lock(&vm->mmu_lock);
	s->used = true;
	spin_unlock(&vm->mmu_lock);
	kvmx_ept_slot_added(vm, gfn, npages);
out:
	mutex_unlock(&vm->lock);
	/*
	 * A sched-out writing a vCPU's "preempted" flag (steal_time.c) looks
	 * no slot up: it trusts an address of the old generation.  It is done
	 * once this returns, so the VMM may unmap the memory then (KVM waits
	 * for its SRCU readers the same way; a VM's own SRCU: no IPIs to
	 * every CPU, as expedited RCU would send).
	 */
	if (retired)
		synchronize_srcu_expedited(&vm->slots_srcu);
	return err;
}

void kvmx_free_memslots(struct kvmx_vm *vm)
{
	int i;

	for (i = 0; i < KVMX_MAX_MEMSLOTS; i++)
		if (vm->slots[i].used)
			delete_slot(vm, &vm->slots[i]);
}
