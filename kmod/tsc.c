// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's TSC: the host's plus a per-vCPU offset (the VMCS's TSC
 * offset), at the host's rate (no scaling).
 *
 * A new vCPU's TSC starts at 0.  The VMM sets every vCPU's TSC one after
 * the other, so writes that mean "the same TSC" must give one offset, or an
 * SMP guest sees its CPUs' TSCs apart and gives up on the TSC as a clock.
 * As in KVM (kvm_synchronize_tsc), a VMM write of 0, or of the value the
 * VM's previous write would have reached by now give or take a second, is
 * taken as such: the vCPU gets the offset of that write.
 *
 * IA32_TSC_ADJUST (SDM Vol. 3B, 18.17.3) follows the guest's own writes:
 * a guest write to IA32_TSC moves TSC_ADJUST by as much, a guest write to
 * TSC_ADJUST moves the TSC.  A VMM write to IA32_TSC sets the TSC alone
 * (migration restores both, in any order).
 */
#include <linux/sched/clock.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "kvmx.h"
#include "vmx_ops.h"

static u64 ns_to_tsc_cycles(u64 ns)
{
	return mul_u64_u32_div(ns, tsc_khz, NSEC_PER_MSEC);
}

/* The vCPU's VMCS is loaded.  (No CPU with VMX lacks TSC offsetting.) */
static void set_offset(struct kvmx_vcpu *v, s64 offset)
{
	if (!(kvmx_ctls.proc & PROC_TSC_OFFSETTING))
		return;
	v->tsc_offset = offset;
	vmcs_write(VMCS_TSC_OFFSET, offset);
	v->kvmclock_stale = true;	/* its TSC timestamp is wrong now */
}

u64 kvmx_guest_tsc(struct kvmx_vcpu *v)
{
	return rdtsc() + v->tsc_offset;
}

/* The VM's last TSC write, which later writes are matched against; tsc_lock held. */
static void record_write(struct kvmx_vm *vm, s64 offset, u64 data, u64 ns)
{
	vm->tsc_offset = offset;
	vm->tsc_write = data;
	vm->tsc_write_ns = ns;
	vm->tsc_written = true;
}

/* The VMM (or vCPU creation, with 0) sets the vCPU's TSC to @data. */
static void synchronize(struct kvmx_vcpu *v, u64 data)
{
	struct kvmx_vm *vm = v->vm;
	unsigned long flags;
	bool same = false;
	s64 offset;
	u64 ns;

	raw_spin_lock_irqsave(&vm->tsc_lock, flags);
	offset = data - rdtsc();
	ns = ktime_get_boottime_ns();
	if (vm->tsc_written) {
		u64 elapsed = ns_to_tsc_cycles(ns - vm->tsc_write_ns);
		u64 expected = vm->tsc_write + elapsed, hz = (u64)tsc_khz * 1000;

		same = !data || (data < expected + hz && data + hz > expected);
		if (same && !check_tsc_unstable()) {
			offset = vm->tsc_offset;
		} else if (same) {
			/* Offsets can't be shared with an unstable host TSC. */
			data += elapsed;
			offset = data - rdtsc();
		}
	}
	record_write(vm, same ? vm->tsc_offset : offset, data, ns);
	raw_spin_unlock_irqrestore(&vm->tsc_lock, flags);
	set_offset(v, offset);
}

void kvmx_tsc_vcpu_init(struct kvmx_vcpu *v)
{
	synchronize(v, 0);
}

static bool guest_has_tsc_adjust(struct kvmx_vcpu *v)
{
	const struct kvmx_cpuid_entry2 *e = kvmx_cpuid_entry(v, 7, 0);

	return e && (e->ebx & CPUID7_EBX_TSC_ADJUST);
}

/* IA32_TSC and IA32_TSC_ADJUST; -ENOENT for any other MSR. */
int kvmx_tsc_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data)
{
	switch (index) {
	case MSR_IA32_TSC:
		*data = kvmx_guest_tsc(v);
		return 0;
	case MSR_IA32_TSC_ADJUST:
		*data = v->tsc_adjust;
		return 0;
	}
	return -ENOENT;
}

int kvmx_tsc_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host)
{
	s64 adj;

	switch (index) {
	case MSR_IA32_TSC:
		if (host) {
			synchronize(v, data);
			return 0;
		}
		adj = (s64)(data - rdtsc()) - v->tsc_offset;
		set_offset(v, v->tsc_offset + adj);
		v->tsc_adjust += adj;
		return 0;
	case MSR_IA32_TSC_ADJUST:
		/* Without the CPUID bit the write is dropped, as KVM drops it. */
		if (!guest_has_tsc_adjust(v))
			return 0;
		if (!host)
			set_offset(v, v->tsc_offset + ((s64)data - v->tsc_adjust));
		v->tsc_adjust = data;
		return 0;
	}
	return -ENOENT;
}

/*
 * KVM_{HAS,GET,SET}_DEVICE_ATTR on the vCPU: group KVM_VCPU_TSC_CTRL,
 * attribute KVM_VCPU_TSC_OFFSET, the offset itself (how a VMM moves a
 * guest's TSC across hosts without KVM's "same write" guessing).
 */
int kvmx_tsc_attr_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, struct kvmx_device_attr __user *u)
{
	struct kvmx_device_attr attr;
	u64 __user *uaddr;
	unsigned long flags;
	u64 offset;

	if (copy_from_user(&attr, u, sizeof(attr)))
		return -EFAULT;
	if (attr.group != KVMX_VCPU_TSC_CTRL || attr.attr != KVMX_VCPU_TSC_OFFSET)
		return -ENXIO;
	if (ioctl == KVMX_HAS_DEVICE_ATTR)
		return 0;
	uaddr = u64_to_user_ptr(attr.addr);
	if ((u64)(unsigned long)uaddr != attr.addr)
		return -EFAULT;
	if (ioctl == KVMX_GET_DEVICE_ATTR)
		return put_user((u64)v->tsc_offset, uaddr);
	if (get_user(offset, uaddr))
		return -EFAULT;
	/* The VM's last write, as if the VMM had written this TSC now. */
	raw_spin_lock_irqsave(&v->vm->tsc_lock, flags);
	record_write(v->vm, offset, rdtsc() + offset, ktime_get_boottime_ns());
	raw_spin_unlock_irqrestore(&v->vm->tsc_lock, flags);
	set_offset(v, offset);
	return 0;
}
