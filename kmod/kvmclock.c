// SPDX-License-Identifier: GPL-2.0
/*
 * kvmclock: the paravirtual clock KVM offers (Linux's
 * Documentation/virt/kvm/x86/msr.rst), so that a guest needs neither a PIT
 * nor an HPET to know its TSC's rate and the time.
 *
 * The VM's clock counts nanoseconds: the host's boot-time clock plus an
 * offset (0 when the VM is made, moved by KVM_SET_CLOCK).  A vCPU whose
 * guest wrote MSR_KVM_SYSTEM_TIME(_NEW) gets a pvclock_vcpu_time_info at
 * that address: the clock and the guest's TSC read at one instant, and the
 * TSC's scale; the guest extrapolates from there with RDTSC.  It is
 * rewritten before the next entry whenever the pair changes meaning: the
 * MSR, the guest's TSC or the VM's clock was set.  The wall clock
 * (MSR_KVM_WALL_CLOCK(_NEW)) is the real time at which that clock was 0.
 *
 * No PVCLOCK_TSC_STABLE_BIT: each vCPU's pair is taken separately, and the
 * guest keeps its clock monotonic across vCPUs itself.
 */
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <asm/kvm_para.h>
#include <asm/pvclock-abi.h>
#include <asm/tsc.h>

#include "kvmx.h"

static u64 kvmclock_ns(struct kvmx_vm *vm)
{
	return ktime_get_boottime_ns() + READ_ONCE(vm->kvmclock_offset);
}

void kvmx_kvmclock_init(struct kvmx_vm *vm)
{
	vm->kvmclock_offset = -(s64)ktime_get_boottime_ns();
}

/* Does the vCPU's time info need writing before its next entry? */
bool kvmx_kvmclock_stale(struct kvmx_vcpu *v)
{
	return v->kvmclock_stale || v->kvmclock_gen != READ_ONCE(v->vm->kvmclock_gen);
}

/*
 * Write the time info with the version protocol: odd while the fields
 * change, even (and different) once they are whole.
 */
void kvmx_kvmclock_update(struct kvmx_vcpu *v)
{
	struct pvclock_vcpu_time_info t = {};
	u64 gpa = v->kvmclock_msr & ~1ULL;
	unsigned long flags;

	v->kvmclock_stale = false;
	v->kvmclock_gen = READ_ONCE(v->vm->kvmclock_gen);
	if (!(v->kvmclock_msr & 1))
		return;
	local_irq_save(flags);
	t.tsc_timestamp = kvmx_guest_tsc(v);
	t.system_time = kvmclock_ns(v->vm);
	local_irq_restore(flags);
	pvclock_scale((u64)tsc_khz * 1000, &t.tsc_to_system_mul, &t.tsc_shift);

	t.version = ++v->kvmclock_version;	/* odd */
	if (kvmx_write_gpa(v, gpa, &t.version, sizeof(t.version)))
		return;		/* not RAM: the guest gets nothing, as with KVM */
	smp_wmb();	/* the odd version before the fields: readers retry */
	kvmx_write_gpa(v, gpa, &t, sizeof(t));
	smp_wmb();	/* the fields before the even version */
	t.version = ++v->kvmclock_version;	/* even */
	kvmx_write_gpa(v, gpa, &t.version, sizeof(t.version));
}

/* MSR_KVM_WALL_CLOCK(_NEW): where the guest wants the wall clock written. */
static void write_wall_clock(struct kvmx_vcpu *v, u64 gpa)
{
	struct pvclock_wall_clock wc = {};
	u64 boot_ns;
	u32 version;

	if (!gpa || kvmx_read_gpa(v, gpa, &version, sizeof(version)))
		return;
	/* Odd while we write (whatever was there before), even after. */
	if (version & 1)
		version++;
	version++;
	wc.version = version;
	if (kvmx_write_gpa(v, gpa, &wc.version, sizeof(wc.version)))
		return;
	boot_ns = ktime_get_real_ns() - kvmclock_ns(v->vm);
	wc.sec = (u32)div_u64_rem(boot_ns, NSEC_PER_SEC, &wc.nsec);
	smp_wmb();	/* the odd version before the fields: readers retry */
	kvmx_write_gpa(v, gpa, &wc, sizeof(wc));
	smp_wmb();	/* the fields before the even version */
	wc.version = version + 1;
	kvmx_write_gpa(v, gpa, &wc.version, sizeof(wc.version));
}

/*
 * Each MSR pair is there only if the guest's CPUID offers it, once the VMM
 * asked for that (KVM_CAP_ENFORCE_PV_FEATURE_CPUID); 1 if it isn't.
 */
static int offered(struct kvmx_vcpu *v, u32 index)
{
	bool is_new = index == MSR_KVM_WALL_CLOCK_NEW || index == MSR_KVM_SYSTEM_TIME_NEW;

	return kvmx_guest_pv_has(v, is_new ? KVM_FEATURE_CLOCKSOURCE2 :
					     KVM_FEATURE_CLOCKSOURCE) ? 0 : 1;
}

/* 0: handled, 1: not offered to this guest, -ENOENT: not a kvmclock MSR. */
int kvmx_kvmclock_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data)
{
	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		if (offered(v, index))
			return 1;
		*data = v->vm->wall_clock_msr;
		return 0;
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		if (offered(v, index))
			return 1;
		*data = v->kvmclock_msr;
		return 0;
	}
	return -ENOENT;
}

int kvmx_kvmclock_set_msr(struct kvmx_vcpu *v, u32 index, u64 data)
{
	if ((index == MSR_KVM_WALL_CLOCK || index == MSR_KVM_WALL_CLOCK_NEW ||
	     index == MSR_KVM_SYSTEM_TIME || index == MSR_KVM_SYSTEM_TIME_NEW) && offered(v, index))
		return 1;
	switch (index) {
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		v->vm->wall_clock_msr = data;
		write_wall_clock(v, data);
		return 0;
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		v->kvmclock_msr = data;
		v->kvmclock_stale = true;
		return 0;
	}
	return -ENOENT;
}

/* KVM_GET_CLOCK: the VM's clock, and the real time at the same instant. */
int kvmx_get_clock(struct kvmx_vm *vm, struct kvmx_clock_data __user *u)
{
	struct kvmx_clock_data d = {};
	unsigned long flags;

	local_irq_save(flags);
	d.clock = kvmclock_ns(vm);
	d.realtime = ktime_get_real_ns();
	d.host_tsc = rdtsc();
	local_irq_restore(flags);
	/* The three readings of one instant, as KVM gives them. */
	d.flags = KVMX_CLOCK_REALTIME | KVMX_CLOCK_HOST_TSC;
	return copy_to_user(u, &d, sizeof(d)) ? -EFAULT : 0;
}

/*
 * KVM_SET_CLOCK: the VM's clock reads @clock now, or, with REALTIME, what
 * it read at @realtime plus the real time passed since (as KVM does).
 */
int kvmx_set_clock(struct kvmx_vm *vm, struct kvmx_clock_data __user *u)
{
	struct kvmx_clock_data d;
	u64 now_boot, now_real;
	unsigned long flags;

	if (copy_from_user(&d, u, sizeof(d)))
		return -EFAULT;
	if (d.flags & ~(KVMX_CLOCK_TSC_STABLE | KVMX_CLOCK_REALTIME | KVMX_CLOCK_HOST_TSC))
		return -EINVAL;
	local_irq_save(flags);
	now_boot = ktime_get_boottime_ns();
	now_real = ktime_get_real_ns();
	local_irq_restore(flags);
	if ((d.flags & KVMX_CLOCK_REALTIME) && now_real >= d.realtime)
		d.clock += now_real - d.realtime;
	WRITE_ONCE(vm->kvmclock_offset, (s64)(d.clock - now_boot));
	/* Every vCPU rewrites its time info before its next entry. */
	WRITE_ONCE(vm->kvmclock_gen, vm->kvmclock_gen + 1);
	return 0;
}
