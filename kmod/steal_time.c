// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's PV steal time (KVM_FEATURE_STEAL_TIME, Documentation/virt/kvm/x86/
 * msr.rst): MSR_KVM_STEAL_TIME names a 64-byte area of guest memory where
 * kvmx adds up the time the vCPU's thread was runnable but waiting for a
 * host CPU (the scheduler's run_delay).  The guest then doesn't bill that
 * time to whatever it was running.
 *
 * The area is brought up to date before the first entry after the thread
 * was scheduled in (kvmx_vcpu_load), with the version protocol: odd while
 * the fields change.
 *
 * "preempted" is set when the thread is scheduled out while still
 * runnable, and cleared at that update.  The guest uses it to stop
 * spinning on a lock owner that isn't running (vcpu_is_preempted), to
 * yield to a preempted vCPU it sent an IPI (KVM_HC_SCHED_YIELD, spin.c),
 * and for PV TLB flush (KVM_FEATURE_PV_TLB_FLUSH): instead of an IPI that
 * would wait for a preempted vCPU, another vCPU sets KVM_VCPU_FLUSH_TLB
 * beside "preempted", and the update flushes that vCPU's TLB before its
 * next entry.  Clearing the byte and reading the request must be one
 * atomic exchange, or a request set in between is lost.
 */
#include <linux/kvm_para.h>
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include <linux/uaccess.h>

#include "kvmx.h"

int kvmx_steal_time_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data)
{
	if (index != MSR_KVM_STEAL_TIME)
		return -ENOENT;
	if (!kvmx_guest_pv_has(v, KVM_FEATURE_STEAL_TIME))
		return 1;
	*data = v->steal_time_msr;
	return 0;
}

int kvmx_steal_time_set_msr(struct kvmx_vcpu *v, u32 index, u64 data)
{
	if (index != MSR_KVM_STEAL_TIME)
		return -ENOENT;
	if (!kvmx_guest_pv_has(v, KVM_FEATURE_STEAL_TIME) || !sched_info_on() ||
	    (data & KVM_STEAL_RESERVED_MASK))
		return 1;
	/* The old area is the guest's again: no "preempted" goes there. */
	v->steal_time_hva = NULL;
	v->steal_time_msr = data;
	if (data & KVM_MSR_ENABLED)
		v->steal_time_update = true;
	return 0;
}

/* xchg of the guest's "preempted" byte with 0: what it held, 0 on a fault. */
static u8 take_preempted(struct kvm_steal_time __user *st)
{
	u8 old = 0;
	int err = -EFAULT;

	if (!user_access_begin(st, sizeof(*st)))
		return 0;
	asm volatile("1: xchgb %0, %2\n"
		     "xor %1, %1\n"
		     "2:\n"
		     _ASM_EXTABLE_UA(1b, 2b)
		     : "+q"(old), "+&r"(err), "+m"(st->preempted));
	user_access_end();
	return err ? 0 : old;
}

/*
 * The thread is scheduled out while runnable (spin.c's sched-out hook):
 * tell the guest.  In atomic context, so through the address the last
 * update found, if the slots haven't changed since, and without faulting.
 * The page is marked dirty by the update that clears the byte again, which
 * comes before the vCPU's next entry.
 */
void kvmx_steal_time_set_preempted(struct kvmx_vcpu *v)
{
	static const u8 preempted = KVM_VCPU_PREEMPTED;
	int idx;

	if (!(v->steal_time_msr & KVM_MSR_ENABLED) || !v->steal_time_hva ||
	    v->steal_time_preempted)
		return;
	/* A thread on its way out of the process has no mm of ours. */
	if (unlikely(current->mm != v->vm->mm))
		return;
	/* The address is the slot generation's: a slot going waits for us (memslot.c). */
	idx = srcu_read_lock(&v->vm->slots_srcu);
	if (READ_ONCE(v->vm->slots_gen) == v->steal_time_gen &&
	    !copy_to_user_nofault(&v->steal_time_hva->preempted, &preempted, sizeof(preempted)))
		v->steal_time_preempted = true;
	srcu_read_unlock(&v->vm->slots_srcu, idx);
}

/*
 * Before an entry, in the vCPU's thread (it reads its own run_delay).  The
 * area is 64-byte aligned, so it lies in one page of one slot: looked up
 * once, then read and written through the VMM's mapping.
 */
void kvmx_steal_time_record(struct kvmx_vcpu *v)
{
	u64 gpa = v->steal_time_msr & KVM_STEAL_VALID_BITS;
	struct kvm_steal_time __user *st;
	struct kvmx_slot_view view;
	u64 delay, steal;
	u32 version;

	v->steal_time_update = false;
	if (!(v->steal_time_msr & KVM_MSR_ENABLED))
		return;
	if (!kvmx_slot_view(v->vm, gpa >> PAGE_SHIFT, &view) || (view.flags & KVMX_MEM_READONLY))
		return;
	st = (struct kvm_steal_time __user *)kvmx_view_hva(&view, gpa);
	/* For kvmx_steal_time_set_preempted(), which can't look slots up. */
	v->steal_time_hva = st;
	v->steal_time_gen = view.gen;
	if (get_user(version, &st->version))
		return;
	version += (version & 1) + 1;	/* odd: the fields are changing */
	if (put_user(version, &st->version))
		return;
	smp_wmb();	/* the odd version before the fields: readers retry */
#ifdef CONFIG_SCHED_INFO
	delay = current->sched_info.run_delay;
#else
	delay = 0;	/* never reached: the MSR is refused without it */
#endif
	if (!get_user(steal, &st->steal))
		put_user(steal + delay - v->steal_time_last, &st->steal);
	v->steal_time_last = delay;
	if (take_preempted(st) & KVM_VCPU_FLUSH_TLB) {
		v->flush_guest_tlb = true;	/* before this entry (run.c) */
		v->stat.pv_tlb_flushes++;
	}
	v->steal_time_preempted = false;
	smp_wmb();	/* the fields before the even version */
	put_user(version + 1, &st->version);
	/* Written for the guest, not through EPT: the dirty log must see it. */
	kvmx_mark_page_dirty(v->vm, gpa >> PAGE_SHIFT);
}
