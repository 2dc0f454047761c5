// SPDX-License-Identifier: GPL-2.0
/*
 * A vCPU that spins: PAUSE-loop exiting and directed yield, as kvm_intel.
 *
 * A guest's spin loops (a lock whose holder isn't running, a CPU waiting
 * for another's answer to its IPI) run PAUSE.  When vCPUs outnumber the
 * host CPUs free for them, the vCPU the spinner waits for may sit on a run
 * queue while the spinner burns its whole time slice.  PAUSE-loop exiting
 * (SDM 25.1.3) makes the CPU exit when PAUSEs closer together than PLE_GAP
 * go on for longer than PLE_WINDOW (both in TSC ticks); the exit hands
 * this CPU to another vCPU of the same VM that was preempted (yield_to()),
 * hoping it is the one that holds what the spinner waits for.
 *
 * The window doubles at each such exit (a vCPU that keeps spinning
 * without anyone to yield to exits ever less often) and goes back to
 * ple_window when the vCPU's thread is scheduled in again: KVM's defaults.
 */

#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include <linux/pid.h>
#include "kvmx.h"
#include "vmx_ops.h"

static unsigned int ple_gap = 128;
module_param(ple_gap, uint, 0444);
MODULE_PARM_DESC(ple_gap, "PAUSE-loop exiting: the longest gap between two PAUSEs of one loop, in TSC ticks (0: off)");

static unsigned int ple_window = 4096;
module_param(ple_window, uint, 0444);
MODULE_PARM_DESC(ple_window, "PAUSE-loop exiting: how long a loop spins before it exits, in TSC ticks");

#define PLE_WINDOW_GROW	2

static bool ple_on(void)
{
	return ple_gap && (kvmx_ctls.proc2 & PROC2_PAUSE_LOOP_EXITING);
}

/* The VMCS is current: the secondary controls are set, PLE's gap and window go in. */
void kvmx_spin_vcpu_init(struct kvmx_vcpu *v)
{
	if (!ple_on()) {
		vmcs_write(VMCS_PROC_BASED_CTLS2,
			   vmcs_read32(VMCS_PROC_BASED_CTLS2) & ~PROC2_PAUSE_LOOP_EXITING);
		return;
	}
	vmcs_write(VMCS_PLE_GAP, ple_gap);
	v->ple_window = ple_window;
	v->ple_window_dirty = true;
}

/* Before an entry (VMCS current, interrupts off). */
void kvmx_spin_load_window(struct kvmx_vcpu *v)
{
	if (unlikely(v->ple_window_dirty)) {
		v->ple_window_dirty = false;
		vmcs_write(VMCS_PLE_WINDOW, v->ple_window);
	}
}

/*
 * KVM_RUN from this thread: remember it as the one to yield to.  Under
 * v->mutex; a thread change is rare (KVM's rule: the last caller's).
 */
void kvmx_spin_set_pid(struct kvmx_vcpu *v)
{
	struct pid *old = rcu_dereference_protected(v->pid, lockdep_is_held(&v->mutex));

	if (likely(old == task_pid(current)))
		return;
	rcu_assign_pointer(v->pid, get_task_pid(current, PIDTYPE_PID));
	if (old) {
		synchronize_rcu();	/* kvmx_vcpu_on_spin() may hold it */
		put_pid(old);
	}
}

void kvmx_spin_vcpu_free(struct kvmx_vcpu *v)
{
	put_pid(rcu_dereference_protected(v->pid, 1));
}

/* Preempt notifiers: the thread goes on a CPU, or off one. */
void kvmx_spin_sched_in(struct kvmx_vcpu *v)
{
	WRITE_ONCE(v->preempted, false);
	WRITE_ONCE(v->ready, false);
	if (v->ple_window != ple_window && ple_on()) {
		v->ple_window = ple_window;
		v->ple_window_dirty = true;
	}
}

void kvmx_spin_sched_out(struct kvmx_vcpu *v)
{
	unsigned long ss_ar;

	/* Still on the run queue: preempted, not gone to sleep. */
	if (!current->on_rq)
		return;
	/*
	 * A spinner in the guest's kernel skips vCPUs preempted in user mode:
	 * they hold no kernel lock (KVM's preempted_in_kernel).  The VMCS is
	 * current: kvmx_vcpu_load() made it so before this notifier went on.
	 */
	if (!vmcs_read_safe(VMCS_GUEST_SS_AR, &ss_ar))	/* no printk under the rq lock */
		WRITE_ONCE(v->preempted_in_kernel, VMX_AR_DPL(ss_ar) == 0);
	WRITE_ONCE(v->preempted, true);
	WRITE_ONCE(v->ready, true);
	/*
	 * Only between instructions: in the middle of one kvmx emulates, the
	 * guest must not take the vCPU for preempted, or it may skip the TLB
	 * flush IPI and free a page the emulation then writes through a stale
	 * translation (CVE-2022-39189; KVM's at_instruction_boundary).
	 */
	if (v->at_insn_boundary)
		kvmx_steal_time_set_preempted(v);
}

/* Under RCU: @c's thread, with a reference (yield_to() may switch to it). */
static struct task_struct *task_of(struct kvmx_vcpu *c)
{
	struct pid *pid = rcu_dereference(c->pid);

	return pid ? get_pid_task(pid, PIDTYPE_PID) : NULL;
}

/*
 * vCPU @i's thread, if it is worth yielding to: not @me, runnable but off
 * its CPU, and not preempted in guest user mode while @me spins in the
 * guest's kernel.  No RCU read section may span yield_to(), and the vCPU
 * may go meanwhile: the caller holds the task only.
 */
static struct task_struct *candidate(struct kvmx_vcpu *me, int i)
{
	struct task_struct *task = NULL;
	struct kvmx_vcpu *c;

	/* kvmx_vcpu_release() waits for this section before it frees a vCPU. */
	rcu_read_lock();
	c = READ_ONCE(me->vm->vcpus[i]);
	if (c && c != me && READ_ONCE(c->ready) &&
	    (!READ_ONCE(c->preempted) || READ_ONCE(c->preempted_in_kernel)))
		task = task_of(c);
	rcu_read_unlock();
	return task;
}

/*
 * @me spins in the guest's kernel: give this CPU to another vCPU of the VM
 * that is runnable but not running, round robin from the one after the
 * last boosted (kvm_vcpu_on_spin()).  yield_to() is the judge: it refuses
 * a thread that is running or asleep (< 0); three refusals end the search.
 */
static void kvmx_vcpu_on_spin(struct kvmx_vcpu *me)
{
	struct kvmx_vm *vm = me->vm;
	int last = READ_ONCE(vm->last_boosted_vcpu), tries = 3, n;

	for (n = 1; n <= KVMX_MAX_VCPUS; n++) {
		int i = (last + n) % KVMX_MAX_VCPUS, r;
		struct task_struct *task = candidate(me, i);

		if (!task)
			continue;
		r = yield_to(task, true);
		put_task_struct(task);
		if (r > 0) {
			me->stat.directed_yields++;
			WRITE_ONCE(vm->last_boosted_vcpu, i);
			return;
		}
		if (r < 0 && !--tries)
			return;
	}
}

/* EXIT_REASON_PAUSE: only PAUSE-loop exiting makes it (PAUSE exiting is off). */
int kvmx_handle_pause(struct kvmx_vcpu *v)
{
	u64 grown = (u64)v->ple_window * PLE_WINDOW_GROW;

	if (ple_on() && v->ple_window != U32_MAX) {
		v->ple_window = min_t(u64, grown, U32_MAX);
		v->ple_window_dirty = true;
	}
	/* SDM 25.1.3: PAUSE-loop exiting acts at CPL 0 only: the guest's kernel spins. */
	kvmx_vcpu_on_spin(v);
	kvmx_skip_instruction(v);
	return 1;
}

/*
 * KVM_HC_KICK_CPU (KVM_FEATURE_PV_UNHALT): a PV spinlock's unlock wakes the
 * vCPU that waits for it, halted, often with interrupts off, where nothing
 * else would wake it (KVM's kvm_pv_kick_cpu_op(), then kvm_sched_yield()
 * to it, which the caller does).  The flag stays until that vCPU halts: a
 * kick that comes before the waiter's HLT ends the HLT at once.  The ID is
 * the low 32 bits of RCX, as KVM's int apicid (the yield takes all of it).
 */
void kvmx_pv_kick(struct kvmx_vcpu *v, u32 dest_apic_id)
{
	struct kvmx_vcpu *t;

	rcu_read_lock();
	t = kvmx_apic_find_id(v->vm, dest_apic_id);
	if (t) {
		WRITE_ONCE(t->pv_unhalted, true);
		kvmx_vcpu_kick(t);	/* its barrier orders the flag before the wake-up */
	}
	rcu_read_unlock();
}

/*
 * KVM_HC_SCHED_YIELD (KVM_FEATURE_PV_SCHED_YIELD): the guest sent an IPI
 * to a vCPU its steal-time area says is preempted, and would wait for the
 * answer: run that vCPU now (KVM's kvm_sched_yield()).  Interrupts on.
 */
void kvmx_sched_yield(struct kvmx_vcpu *v, unsigned long dest_apic_id)
{
	struct task_struct *task = NULL;
	struct kvmx_vcpu *t;

	if (single_task_running() || dest_apic_id > U32_MAX)
		return;
	rcu_read_lock();
	t = kvmx_apic_find_id(v->vm, dest_apic_id);
	if (t && t != v && READ_ONCE(t->ready))
		task = task_of(t);
	rcu_read_unlock();
	if (!task)
		return;
	if (yield_to(task, true) > 0)
		v->stat.directed_yields++;
	put_task_struct(task);
}
