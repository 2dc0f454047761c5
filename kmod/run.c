// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_RUN: the loop that enters the guest, takes its exits and either
 * handles them here or returns to the userspace VMM (the QEMU-KVM loop).
 *
 * One iteration: with preemption off, put the guest's lazily-switched
 * state in place and inject pending events; with interrupts off, enter.
 * After the exit, interrupts come back on and a pending host interrupt (the
 * usual reason for an external-interrupt exit) is taken right there.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/context_tracking.h>
#include <linux/kvm_host.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <asm/fpu/api.h>
#include <asm/debugreg.h>
#include <asm/fpu/xcr.h>
#include <asm/mce.h>
#include <asm/nospec-branch.h>
#include <asm/pkru.h>
#include <asm/special_insns.h>

#include "kvmx.h"
#include "vmx_ops.h"
#include "trace.h"

/* enter_guest(): an exit to handle, try again, entry failed, exit handled. */
enum { ENTER_EXITED, ENTER_RETRY, ENTER_FAILED, ENTER_HANDLED };

/* For measurements: off sends every exit through kvmx_handle_exit(). */
static bool fastpath = true;
module_param(fastpath, bool, 0644);
MODULE_PARM_DESC(fastpath, "handle CPUID/VMCALL exits with interrupts off and re-enter at once");

static bool interrupts_allowed(struct kvmx_vcpu *v)
{
	return (vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_IF) &&
	       !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
		 (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
}

/* Exit as soon as the guest can take an interrupt (@irq) or an NMI (@nmi). */
static void set_windows(struct kvmx_vcpu *v, bool irq, bool nmi)
{
	u32 ctls = v->proc_ctls & ~(PROC_INTR_WINDOW_EXITING | PROC_NMI_WINDOW_EXITING);

	if (irq)
		ctls |= PROC_INTR_WINDOW_EXITING;
	if (nmi)
		ctls |= PROC_NMI_WINDOW_EXITING;

	if (ctls != v->proc_ctls) {
		v->proc_ctls = ctls;
		vmcs_write(VMCS_PROC_BASED_CTLS, ctls);
	}
}

/*
 * KVM's kvm_vcpu_ready_for_interrupt_injection(): KVM_INTERRUPT's vector
 * has a place to go (kvmx_vcpu_takes_user_irq()), the guest takes
 * interrupts now and no event waits to go in before it.
 */
bool kvmx_user_irq_ready(struct kvmx_vcpu *v)
{
	return kvmx_vcpu_takes_user_irq(v) && interrupts_allowed(v) && !v->exc.pending &&
	       !(vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) &&
	       !(v->reinject_info & INTR_INFO_VALID) && !(v->kept_info & INTR_INFO_VALID);
}

/* NMI blocking as entry checks it (SDM 27.3.1.5), virtual-NMI blocking included. */
static bool nmi_allowed(struct kvmx_vcpu *v)
{
	return !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
		 (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_NMI));
}

static void inject_irq(struct kvmx_vcpu *v, unsigned int vector)
{
	u32 info = vector | (INTR_TYPE_EXT_INTR << 8) | INTR_INFO_VALID;

	vmcs_write(VMCS_ENTRY_INTR_INFO, info);
	trace_kvmx_inject(v, info);
	v->stat.irq_injections++;
}

/*
 * Events for the next entry (SDM 27.6), one at a time: an exception a
 * handler raised, else an event whose delivery the last exit interrupted,
 * else an NMI from KVM_NMI, else the interrupt userspace gave with
 * KVM_INTERRUPT, each when the guest can take it.  What doesn't fit waits
 * for a later entry (behind a window exit); nothing is dropped.
 */
static void inject_events(struct kvmx_vcpu *v)
{
	bool busy = vmcs_read32(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID;
	/*
	 * With the in-kernel PIC the VMM injects nothing: KVM ignores its
	 * request too; with a split irqchip, only while LINT0 takes ExtINT.
	 */
	bool want_window = v->run->request_interrupt_window &&
			   (!v->apic || kvmx_vcpu_takes_user_irq(v));
	bool want_nmi_window = false;

	if (v->exc.pending && !busy) {
		/*
		 * Whether an error code goes with it is decided here, from the
		 * vector and the mode the guest is in now: anything else fails
		 * the entry's control checks (SDM 27.2.1.3), whatever a handler
		 * or KVM_SET_VCPU_EVENTS asked for.
		 */
		u32 info = exception_intr_info(v->exc.vector,
					       exception_has_error_code(v->exc.vector),
					       v->cr0 & X86_CR0_PE);

		if (info & INTR_INFO_DELIVER_CODE)
			vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, v->exc.error);
		vmcs_write(VMCS_ENTRY_INTR_INFO, info);
		v->exc.pending = false;
		v->stat.exc_injections++;
		trace_kvmx_inject(v, info);
		busy = true;
	}
	if ((v->reinject_info & INTR_INFO_VALID) && !busy) {
		vmcs_write(VMCS_ENTRY_INTR_INFO, v->reinject_info);
		if (v->reinject_info & INTR_INFO_DELIVER_CODE)
			vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, v->reinject_error);
		vmcs_write(VMCS_ENTRY_INSTRUCTION_LEN, v->reinject_len);
		v->reinject_info = 0;
		busy = true;
	}
	/*
	 * An interrupt or NMI whose delivery an exception cut short goes in
	 * once the guest can take it (entry refuses it otherwise, SDM 27.3.1.5).
	 */
	if (v->kept_info & INTR_INFO_VALID) {
		bool ext = INTR_INFO_TYPE(v->kept_info) == INTR_TYPE_EXT_INTR;

		if (!busy && (ext ? interrupts_allowed(v) : nmi_allowed(v))) {
			vmcs_write(VMCS_ENTRY_INTR_INFO, v->kept_info);
			v->kept_info = 0;
			busy = true;
		} else if (ext) {
			want_window = true;
		} else {
			want_nmi_window = true;
		}
	}
	if (v->nmi_pending) {
		if (!busy && nmi_allowed(v)) {
			u32 info = X86_VEC_NMI | (INTR_TYPE_NMI << 8) | INTR_INFO_VALID;

			vmcs_write(VMCS_ENTRY_INTR_INFO, info);
			trace_kvmx_inject(v, info);
			v->nmi_pending--;
			busy = true;
		} else {
			want_nmi_window = true;
		}
	}
	if (v->pending_irq >= 0) {
		if (!busy && interrupts_allowed(v)) {
			inject_irq(v, v->pending_irq);
			v->pending_irq = -1;
			busy = true;
		} else {
			want_window = true;
		}
	}
	/*
	 * The in-kernel PIC or local APIC has one: acknowledged (IRR to ISR)
	 * only when it goes in now, else an interrupt window brings us back.
	 * With APIC virtualization the CPU delivers the APIC's itself: only
	 * the 8259's ExtINT still goes this way.
	 */
	if (v->apic) {
		bool apicv = kvmx_lapic_apicv(v);
		bool pending = apicv ? kvmx_lapic_extint_pending(v) : kvmx_cpu_has_interrupt(v);
		int vec = -1;

		if (pending && !busy && interrupts_allowed(v))
			vec = kvmx_cpu_get_interrupt(v);
		if (vec >= 0) {
			inject_irq(v, vec);
			busy = true;
		} else if (pending) {
			want_window = true;
		}
		/* After every injection: it decides whether the guest can take one. */
		if (apicv && kvmx_lapic_vid_sync(v, busy || !interrupts_allowed(v)))
			want_window = true;
	}
	set_windows(v, want_window, want_nmi_window && kvmx_nmi_window_ok);
}

/*
 * Flushes the guest's own translations (its VPID) on this CPU.  Without a
 * VPID every entry flushes them anyway.  A vCPU that moves flushes on the
 * new CPU in kvmx_vcpu_load().
 */
static void flush_guest_tlb(struct kvmx_vcpu *v)
{
	v->flush_guest_tlb = false;
	v->stat.guest_tlb_flushes++;
	if (v->vpid)
		vmx_invvpid((kvmx_host_caps.ept_vpid_cap & VPID_CAP_SINGLE) ?
			    INVVPID_SINGLE_CONTEXT : INVVPID_ALL_CONTEXT, v->vpid, 0);
}

/*
 * A machine check that hit the guest, or VM entry: the host's handler must
 * see it (the fake ring-3 frame says "not in the kernel", as kvm_intel's).
 */
static void kvmx_machine_check(void)
{
#ifdef CONFIG_X86_MCE
	struct pt_regs regs = {
		.cs = 3,
		.flags = X86_EFLAGS_IF,
	};

	do_machine_check(&regs);
#endif
}

/*
 * With virtual-interrupt delivery: did this exit cut short the delivery of
 * a virtual interrupt?  Real CPUs then report it as an external interrupt
 * (with a vector, but SVI's is the one).  Bochs' virtual-interrupt
 * delivery records no event, so it reports whatever event this CPU
 * delivered last, an exception as well, while the vector already moved
 * from IRR to ISR: re-injecting that stale event would leave the vector
 * in service for ever, blocking every interrupt at or below its priority.
 * That case's signature: SVI rose during the entry (the vector went in
 * service), the guest's IF is still 1 (delivery through an interrupt gate
 * clears it, so the handler never started), and it wasn't our injection.
 * A genuine event there would need an interrupt handler that runs with
 * interrupts on before its EOI, which Linux's don't (Windows' may: on a
 * real CPU, which reports the cut-short delivery itself as an external
 * interrupt, this branch could then misread an exception; apicv is off by
 * default and so far run on Bochs only).
 */
static bool virtual_delivery_cut_short(struct kvmx_vcpu *v, u32 type)
{
	bool injected = v->entry_intr_info & INTR_INFO_VALID;

	if (type == INTR_TYPE_EXT_INTR)
		return !(injected && INTR_INFO_TYPE(v->entry_intr_info) == INTR_TYPE_EXT_INTR);
	return !injected &&
	       ((u16)vmcs_read(VMCS_GUEST_INTR_STATUS) >> 8) > (v->entry_intr_status >> 8) &&
	       (vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_IF);
}

/* After an exit: remember an event the exit cut short (SDM 28.2.4). */
static void save_idt_vectoring(struct kvmx_vcpu *v)
{
	u32 info = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	u32 type;

	v->reinject_info = 0;
	if (!(info & INTR_INFO_VALID))
		return;
	type = INTR_INFO_TYPE(info);
	/* Vector, type and error-code bit; bits 30:12 must be 0 on entry. */
	v->reinject_info = info & (INTR_INFO_VALID | 0xfff);
	/* A virtual interrupt the CPU began to deliver: its vector is SVI by then (SDM 29.2.2). */
	if (v->vid && virtual_delivery_cut_short(v, type)) {
		v->reinject_info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR << 8 |
				   (vmcs_read(VMCS_GUEST_INTR_STATUS) >> 8 & 0xff);
		return;
	}
	if (info & INTR_INFO_DELIVER_CODE)
		v->reinject_error = vmcs_read32(VMCS_IDT_VECTORING_ERROR_CODE);
	/* Software interrupts and exceptions need their instruction length. */
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
	    type == INTR_TYPE_PRIV_SOFT_EXCEPTION)
		v->reinject_len = vmcs_read32(VMCS_EXIT_INSTRUCTION_LEN);
	else
		v->reinject_len = 0;
}

/*
 * Exits cheap and safe enough to handle with interrupts still off and
 * re-enter at once (KVM's "fastpath"): no locks, no sleeping, no event to
 * inject.  Everything else goes through kvmx_handle_exit() with interrupts
 * on.  True if the exit was handled.
 */
static bool handle_exit_irqoff(struct kvmx_vcpu *v)
{
	if (!READ_ONCE(fastpath))
		return false;
	switch (v->exit_reason) {
	case EXIT_REASON_CPUID:
		kvmx_emulate_cpuid(v);
		break;
	case EXIT_REASON_VMCALL:
		/* Those that wake, yield or send IPIs: not with interrupts off. */
		if (kvmx_hypercall_acts((u32)v->regs[REG_RAX]))
			return false;
		kvmx_emulate_vmcall(v);
		break;
	default:
		return false;
	}
	kvmx_skip_instruction(v);
	return true;
}

/*
 * guest_state_enter_irqoff() without RCU's quiescent-state note, for the
 * fast loop's later entries: the loop's first entry made the note, and the
 * loop ends at the next host interrupt.  Where context tracking is on
 * (nohz_full CPUs) RCU must really be told, every time.
 */
static __always_inline void guest_state_reenter_irqoff(void)
{
	if (context_tracking_enabled_this_cpu()) {
		guest_state_enter_irqoff();
		return;
	}
	instrumentation_begin();
	trace_hardirqs_on_prepare();
	lockdep_hardirqs_on_prepare();
	instrumentation_end();
	lockdep_hardirqs_on(CALLER_ADDR0);
}

/* The conditional L1D flush's test, inline: most entries need none. */
static __always_inline bool l1d_flush_wanted(struct kvmx_vcpu *v)
{
	return kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_ALWAYS ||
	       (kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_COND &&
		(v->l1d_flush_pending || kvm_get_cpu_l1tf_flush_l1d()));
}

/* Whether the guest may be using PKRU: only then is it switched (as kvm_intel). */
static __always_inline bool guest_pkru_live(struct kvmx_vcpu *v)
{
	return cpu_feature_enabled(X86_FEATURE_OSPKE) &&
	       ((v->xcr0 & XFEATURE_MASK_PKRU) || (v->cr4 & X86_CR4_PKE));
}

/*
 * Guest state the VM entry doesn't load, put in place right before it: the
 * guest's breakpoint addresses when its DR7 arms any (DR7 itself comes from
 * the VMCS), its PKRU when it may use protection keys.
 */
static __always_inline void load_guest_extra(struct kvmx_vcpu *v)
{
	if (unlikely(v->dr7 & X86_DR7_ENABLES)) {
		/* Disarm the host's breakpoints before they point at guest addresses. */
		if (hw_breakpoint_active())
			set_debugreg(KVMX_DR7_FIXED, 7);
		set_debugreg(v->dr[0], 0);
		set_debugreg(v->dr[1], 1);
		set_debugreg(v->dr[2], 2);
		set_debugreg(v->dr[3], 3);
	}
	if (guest_pkru_live(v) && v->pkru != v->host_pkru)
		write_pkru(v->pkru);
}

/* ... and the host's back after the exit (SDM 28.5.1: DR7 and DEBUGCTL were reset). */
static __always_inline void restore_host_extra(struct kvmx_vcpu *v)
{
	if (guest_pkru_live(v)) {
		v->pkru = rdpkru();
		if (v->pkru != v->host_pkru)
			write_pkru(v->host_pkru);
	}
	if (v->host_debugctl)
		update_debugctlmsr(v->host_debugctl);
}

/* One VM entry and exit; interrupts off.  0, or what __kvmx_vcpu_run failed with. */
static int enter_exit_irqoff(struct kvmx_vcpu *v, bool reentry)
{
	bool swap_xcr0;
	u32 basic;
	u64 t0;
	int fail;

	/* XCR0 matters only once the guest turned on CR4.OSXSAVE (owned bit). */
	swap_xcr0 = (v->cr4 & X86_CR4_OSXSAVE) && v->xcr0 != kvmx_host_xcr0;
	if (swap_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, v->xcr0);
	if (native_read_cr2() != v->cr2)
		native_write_cr2(v->cr2);
	load_guest_extra(v);
	if (l1d_flush_wanted(v))
		kvmx_l1d_flush(v);
	trace_kvmx_entry(v);

	if (reentry)
		guest_state_reenter_irqoff();
	else
		guest_state_enter_irqoff();
	if (v->vid) {
		v->entry_intr_info = vmcs_read32(VMCS_ENTRY_INTR_INFO);
		v->entry_intr_status = (u16)vmcs_read(VMCS_GUEST_INTR_STATUS);
	}
	t0 = rdtsc();
	fail = __kvmx_vcpu_run(v, v->regs, v->launched);
	v->stat.guest_tsc += rdtsc() - t0;
	guest_state_exit_irqoff();
	v->stat.entries++;

	restore_host_extra(v);
	/* The host's hardware breakpoints (ptrace, perf) are live again. */
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	v->cr2 = native_read_cr2();
	if (swap_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, kvmx_host_xcr0);
	if (fail)
		return fail;

	v->exit_reason = vmcs_read32(VMCS_EXIT_REASON);
	basic = EXIT_REASON_BASIC(v->exit_reason);
	/* Its handler emulates nothing: a preemption now is between instructions. */
	v->at_insn_boundary = basic == EXIT_REASON_EXTERNAL_INTERRUPT &&
			      !(v->exit_reason & EXIT_REASON_FAILED_ENTRY);
	if (unlikely(basic == EXIT_REASON_MCE_DURING_VMENTRY))
		kvmx_machine_check();
	if (v->exit_reason & EXIT_REASON_FAILED_ENTRY)
		return 0;
	v->launched = true;
	v->stat.exits[basic % KVMX_STAT_EXIT_REASONS]++;
	save_idt_vectoring(v);
	if (basic == EXIT_REASON_EXCEPTION_NMI) {
		u32 info = vmcs_read32(VMCS_EXIT_INTR_INFO);

		v->exit_intr_info = info;
		/* An NMI or machine check that hit the guest belongs to the host. */
		if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI)
			asm volatile("int $2");
		else if (INTR_INFO_VECTOR(info) == X86_VEC_MC)
			kvmx_machine_check();
	}
	trace_kvmx_exit(v);
	return 0;
}

/* Fast re-entries before interrupts come back on at least once. */
#define FASTPATH_BURST	64

static int enter_guest(struct kvmx_vcpu *v)
{
	int fail, cpu, ret = ENTER_EXITED, burst = 0;

	preempt_disable();
	kvmx_vcpu_prepare_host(v);

	local_irq_disable();
	cpu = smp_processor_id();
	/*
	 * From here a kick is an IPI to this CPU, which makes the guest exit
	 * at once.  The barrier pairs with kvmx_vcpu_kick()'s: it orders this
	 * store before the IRR and events read below, as the kicker orders
	 * its writes of those before its read of guest_cpu.
	 */
	if (v->apic)
		smp_store_mb(v->guest_cpu, cpu);	/* pairs with kvmx_vcpu_kick() */
	/* Checked with interrupts off: a kick (IPI) after this makes the guest exit. */
	if (need_resched() || signal_pending(current) ||
	    READ_ONCE(v->vm->snap_vcpu) == v->id ||
	    (v->apic && (kvmx_lapic_events_pending(v) || kvmx_lapic_pv_eoi_stale(v))) ||
	    /* Preempted since the update: "preempted" is set again (steal_time.c). */
	    v->steal_time_update) {
		WRITE_ONCE(v->guest_cpu, -1);
		local_irq_enable();
		preempt_enable();
		return ENTER_RETRY;
	}
	/* Only now: an event in the VMCS must not outlive a return to userspace. */
	inject_events(v);
	if (v->flush_guest_tlb)
		flush_guest_tlb(v);
	/* Someone used the FPU (or we were preempted): reload the guest's. */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	kvmx_vmcs_refresh_host_crs(v);
	kvmx_spin_load_window(v);

	guest_timing_enter_irqoff();
	for (;;) {
		fail = enter_exit_irqoff(v, ret == ENTER_HANDLED);
		if (fail || (v->exit_reason & EXIT_REASON_FAILED_ENTRY) ||
		    v->reinject_info || !handle_exit_irqoff(v)) {
			ret = ENTER_EXITED;	/* this exit still needs its handler */
			break;
		}
		ret = ENTER_HANDLED;
		/* The handler raised an exception (a single-step #DB): inject it. */
		if (v->exc.pending)
			break;
		/*
		 * Host work waits for nothing: leave if the scheduler, a signal
		 * or a reader calls, and every FASTPATH_BURST exits anyway.  A
		 * host interrupt makes the guest exit, so it would end the loop;
		 * but Bochs delivers none while the guest has IF=0, and a guest
		 * looping on CPUID with IF=0 must not keep this CPU's interrupts
		 * off for ever.
		 */
		if (need_resched() || signal_pending(current) ||
		    READ_ONCE(v->vm->snap_vcpu) == v->id || ++burst == FASTPATH_BURST)
			break;
		v->stat.fast_reentries++;
	}
#ifdef X86_FEATURE_IBPB_EXIT_TO_USER
	/*
	 * VMSCAPE: the guest may have trained the branch predictors against
	 * the VMM; the host kernel asks for an IBPB before this CPU returns to
	 * userspace.  Set on the CPU that ran the guest, before preemption.
	 */
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
#endif
	guest_timing_exit_irqoff();
	WRITE_ONCE(v->guest_cpu, -1);
	local_irq_enable();
	preempt_enable();
	v->last_cpu = cpu;

	if (fail) {
		/* VMLAUNCH/VMRESUME refused the VMCS itself (SDM 30.4). */
		v->run->exit_reason = KVMX_EXIT_FAIL_ENTRY;
		v->run->fail_entry.hardware_entry_failure_reason =
			fail == 1 ? vmcs_read32(VMCS_VM_INSTRUCTION_ERROR) : ~0U;
		v->run->fail_entry.cpu = cpu;
		v->exit_reason = 0;
		kvmx_entry_failed(v, v->run->fail_entry.hardware_entry_failure_reason);
		return ENTER_FAILED;
	}
	return ret;
}

/* Exceptions merged into a triple fault (SDM 6.15): the run ends in SHUTDOWN. */
static bool take_triple_fault(struct kvmx_vcpu *v)
{
	if (likely(!v->triple_fault))
		return false;
	v->triple_fault = false;
	v->run->exit_reason = KVMX_EXIT_SHUTDOWN;
	return true;
}

/*
 * With the in-kernel irqchip a vCPU may be halted (HLT) or waiting for
 * INIT/SIPI: it runs again once an NMI or an interrupt it can take is there
 * (halted), a PV kick came (halted, even with IF=0: a PV spinlock's
 * waiter), or a SIPI started it.
 */
static bool vcpu_runnable(struct kvmx_vcpu *v)
{
	if (v->mp_state == KVMX_MP_STATE_RUNNABLE)
		return true;
	if (v->mp_state != KVMX_MP_STATE_HALTED)
		return false;
	/* A kick before the halt counts too: the waiter checked the lock, then halted. */
	if (READ_ONCE(v->pv_unhalted)) {
		WRITE_ONCE(v->pv_unhalted, false);
		v->mp_state = KVMX_MP_STATE_RUNNABLE;
		return true;
	}
	v->halt_if = vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_IF;
	/* An NMI wakes only if it can be delivered now (KVM's rule too). */
	if ((v->nmi_pending && nmi_allowed(v)) || (v->halt_if && kvmx_cpu_has_interrupt(v))) {
		v->mp_state = KVMX_MP_STATE_RUNNABLE;
		return true;
	}
	return false;
}

/*
 * Halt polling, as KVM's: a halted vCPU first spins for a while (only while
 * nothing else wants this CPU), since an IPI or a timer often comes within
 * microseconds and a sleep and wake-up cost more.  Per vCPU the window
 * grows (from 10 us, doubling) after halts that ended just beyond it and
 * drops to 0 after long ones, within the module parameter halt_poll_ns.
 */
static unsigned int max_halt_poll_ns = 200000;
module_param_named(halt_poll_ns, max_halt_poll_ns, uint, 0644);
MODULE_PARM_DESC(halt_poll_ns, "longest a halted vCPU spins before it sleeps, in ns (0: never)");

#define HALT_POLL_START_NS	10000

static bool halt_poll(struct kvmx_vcpu *v, u64 start)
{
	u64 stop = start + v->halt_poll_ns;

	do {
		if (kvmx_vcpu_has_wake_event(v))
			return true;
		cpu_relax();
	} while (single_task_running() && !need_resched() && !signal_pending(current) &&
		 ktime_get_ns() < stop);
	return false;
}

static void halt_poll_adapt(struct kvmx_vcpu *v, u64 halted_ns)
{
	unsigned int max = READ_ONCE(max_halt_poll_ns);

	if (halted_ns <= v->halt_poll_ns)
		return;				/* the window caught it */
	if (halted_ns >= max)
		v->halt_poll_ns = 0;		/* a long halt: polling only burns */
	else
		v->halt_poll_ns = clamp(v->halt_poll_ns * 2, HALT_POLL_START_NS, max);
}

/* Sleep until a kick brings something to look at, or a signal comes. */
static void vcpu_block(struct kvmx_vcpu *v)
{
	u64 start;

	trace_kvmx_block(v, v->mp_state);
	if (v->mp_state != KVMX_MP_STATE_HALTED) {
		wait_event_interruptible(v->wq, kvmx_vcpu_has_wake_event(v));
		return;
	}
	v->stat.halts++;
	start = ktime_get_ns();
	if (v->halt_poll_ns && halt_poll(v, start))
		return;
	wait_event_interruptible(v->wq, kvmx_vcpu_has_wake_event(v));
	halt_poll_adapt(v, ktime_get_ns() - start);
}

/*
 * KVM_CAP_SYNC_REGS: the register sets kvm_dirty_regs names are taken from
 * kvm_run->s.regs before the run (each through a kernel copy, so userspace
 * rewriting the page meanwhile can't make the checks and the use see
 * different values); KVM clears each bit once its set is in.
 */
static int sync_regs_in(struct kvmx_vcpu *v, u64 dirty)
{
	struct kvmx_run *run = v->run;
	struct kvmx_sync_regs *s;
	int r = 0;

	s = kmalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	if (dirty & KVMX_SYNC_X86_REGS) {
		memcpy(&s->regs, &run->s.regs.regs, sizeof(s->regs));
		kvmx_set_regs(v, &s->regs);
		run->kvm_dirty_regs &= ~KVMX_SYNC_X86_REGS;
	}
	if (dirty & KVMX_SYNC_X86_SREGS) {
		memcpy(&s->sregs, &run->s.regs.sregs, sizeof(s->sregs));
		r = kvmx_set_sregs(v, &s->sregs) ? -EINVAL : 0;
		if (r)
			goto out;
		run->kvm_dirty_regs &= ~KVMX_SYNC_X86_SREGS;
	}
	if (dirty & KVMX_SYNC_X86_EVENTS) {
		memcpy(&s->events, &run->s.regs.events, sizeof(s->events));
		r = kvmx_set_vcpu_events(v, &s->events) ? -EINVAL : 0;
		if (r)
			goto out;
		run->kvm_dirty_regs &= ~KVMX_SYNC_X86_EVENTS;
	}
out:
	kfree(s);
	return r;
}

/* ... and the sets kvm_valid_regs names are put there when the run returns. */
static void sync_regs_out(struct kvmx_vcpu *v, u64 valid)
{
	struct kvmx_run *run = v->run;

	if (valid & KVMX_SYNC_X86_REGS)
		kvmx_get_regs(v, &run->s.regs.regs);
	if (valid & KVMX_SYNC_X86_SREGS)
		kvmx_get_sregs(v, &run->s.regs.sregs);
	if (valid & KVMX_SYNC_X86_EVENTS)
		kvmx_get_vcpu_events(v, &run->s.regs.events);
}

int kvmx_vcpu_run(struct kvmx_vcpu *v)
{
	struct kvmx_run *run = v->run;
	u64 t0 = rdtsc();
	u64 valid, dirty;
	int r, entered;

	v->stat.runs++;
	valid = READ_ONCE(run->kvm_valid_regs);
	kvmx_sigset_activate(v);
	/*
	 * An application processor never started: as KVM, wait for its INIT
	 * here, then let the VMM call again (EAGAIN) to wait for the SIPI.
	 */
	if (v->apic && v->mp_state == KVMX_MP_STATE_UNINITIALIZED) {
		vcpu_block(v);
		kvmx_lapic_accept_events(v);
		r = -EAGAIN;
		if (signal_pending(current)) {
			run->exit_reason = KVMX_EXIT_INTR;
			r = -EINTR;
		}
		goto out;
	}
	/* KVM's order: checked, then synced in, before the last exit's completion. */
	dirty = READ_ONCE(run->kvm_dirty_regs);
	if ((valid | dirty) & ~(u64)KVMX_SYNC_X86_VALID_FIELDS) {
		r = -EINVAL;
		goto out;
	}
	if (dirty) {
		r = sync_regs_in(v, dirty);
		if (r)
			goto out;
	}
	r = kvmx_complete_userspace(v);
	if (r > 0 && take_triple_fault(v))
		r = 0;
	if (r <= 0)
		goto out;
	if (READ_ONCE(run->immediate_exit)) {
		r = -EINTR;	/* exit_reason stays as it was, as in KVM */
		goto out;
	}
	/* With an in-kernel APIC its TPR is CR8, and run->cr8 only reports it (KVM). */
	if (!v->apic)
		v->cr8 = run->cr8 & 0xf;

	fpu_swap_kvm_fpstate(&v->fpu, true);
	for (;;) {
		/* `kvmx vmcs` asked for this vCPU's VMCS (and kicked us out). */
		if (unlikely(READ_ONCE(v->vm->snap_vcpu) == v->id))
			kvmx_vcpu_serve_snapshot(v);
		if (signal_pending(current)) {
			run->exit_reason = KVMX_EXIT_INTR;
			r = -EINTR;
			break;
		}
		cond_resched();
		if (v->apic) {
			kvmx_lapic_accept_events(v);
			if (!vcpu_runnable(v)) {
				vcpu_block(v);
				continue;
			}
		}
		/* Before any entry: the guest may have just enabled kvmclock. */
		if (unlikely(kvmx_kvmclock_stale(v)))
			kvmx_kvmclock_update(v);
		if (unlikely(v->steal_time_update))
			kvmx_steal_time_record(v);
		if (take_triple_fault(v)) {
			r = 0;
			break;
		}
		/* Split irqchip: the VMM's IOAPIC hears of the EOI before the guest goes on. */
		if (unlikely(v->user_ioapic_eoi >= 0)) {
			run->exit_reason = KVMX_EXIT_IOAPIC_EOI;
			run->eoi.vector = v->user_ioapic_eoi;
			v->user_ioapic_eoi = -1;
			r = 0;
			break;
		}
		/* KVM_TPR_ACCESS_REPORTING: the access is done, the VMM's turn. */
		if (unlikely(v->tpr_access.pending)) {
			v->tpr_access.pending = false;
			run->exit_reason = KVMX_EXIT_TPR_ACCESS;
			run->tpr_access.rip = v->tpr_access.rip;
			run->tpr_access.is_write = v->tpr_access.write;
			r = 0;
			break;
		}
		if (v->apic)
			kvmx_lapic_sync_to_vapic(v);
		entered = enter_guest(v);
		if (v->apic && entered != ENTER_RETRY && entered != ENTER_FAILED)
			kvmx_lapic_after_exit(v);
		else if (v->apic)
			kvmx_lapic_pv_eoi_sync(v);	/* not run: the flag goes back */
		if (v->apic && !v->vm->irqchip->split)
			kvmx_pic_aeoi_resample(v->vm->irqchip->pic);
		switch (entered) {
		case ENTER_RETRY:
		case ENTER_HANDLED:
			continue;
		case ENTER_FAILED:
			r = 0;
			break;
		default:
			r = kvmx_handle_exit(v);
			/* An access for a device in the module goes no further. */
			if (r == 0 && v->complete_userspace)
				r = kvmx_io_bus_serve(v);
			/*
			 * KVM's check after each exit handled here: the window
			 * the VMM asked for is open (e.g. the guest did STI; HLT).
			 */
			if (r > 0 && run->request_interrupt_window && kvmx_user_irq_ready(v)) {
				run->exit_reason = KVMX_EXIT_IRQ_WINDOW_OPEN;
				r = 0;
			}
			if (r > 0)
				continue;
		}
		break;
	}
	fpu_swap_kvm_fpstate(&v->fpu, false);
out:
	run->if_flag = !!(vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_IF);
	run->cr8 = v->cr8;
	run->apic_base = v->apic_base;
	/*
	 * As KVM: always with the in-kernel PIC (the VMM has nothing to give);
	 * else when nothing waits to go in (a second one would overwrite it).
	 */
	run->ready_for_interrupt_injection = (v->apic && !v->vm->irqchip->split) ||
					     kvmx_user_irq_ready(v);
	/* As KVM, the sets asked for are stored even when the run failed. */
	if (valid)
		sync_regs_out(v, valid);
	if (r == 0)
		v->stat.user_exits[run->exit_reason % KVMX_STAT_USER_EXITS]++;
	trace_kvmx_userspace_exit(v, r);
	v->stat.run_tsc += rdtsc() - t0;
	kvmx_sigset_deactivate(v);
	return r < 0 ? r : 0;
}
