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
 * the fields change.  kvmx never sets "preempted", so the guest takes every
 * vCPU as running (no PV TLB flush, no vcpu_is_preempted hints): safe, and
 * what a guest sees without the feature.
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
	v->steal_time_msr = data;
	if (data & KVM_MSR_ENABLED)
		v->steal_time_update = true;
	return 0;
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
	put_user(0, &st->preempted);
	smp_wmb();	/* the fields before the even version */
	put_user(version + 1, &st->version);
	/* Written for the guest, not through EPT: the dirty log must see it. */
	kvmx_mark_page_dirty(v->vm, gpa >> PAGE_SHIFT);
}
