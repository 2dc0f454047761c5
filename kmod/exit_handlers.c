// SPDX-License-Identifier: GPL-2.0
/*
 * VM-exit handlers, one per basic exit reason (SDM Vol. 3D, Appendix C),
 * found through kvmx_exit_handlers[].  Each returns 1 to re-enter the guest,
 * 0 to return to userspace with kvm_run filled in, or a negative errno.
 * An exit without a handler ends the run with KVM_EXIT_INTERNAL_ERROR.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/sched.h>
#include <asm/cpu.h>
#include <asm/fpu/xcr.h>
#include <linux/kvm_para.h>

#include "kvmx.h"
#include "vmx_ops.h"
#include "guest_walk.h"
#include "trace.h"

static int handle_ud_exception(struct kvmx_vcpu *v);

/*
 * KVM_EXIT_INTERNAL_ERROR, laid out as KVM lays it out so KVM clients read it
 * unchanged: each value once, ndata counting them.
 */
void kvmx_unexpected_exit(struct kvmx_vcpu *v)
{
	struct kvmx_run *run = v->run;

	run->exit_reason = KVMX_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVMX_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON;
	run->internal.ndata = 0;
	run->internal.data[run->internal.ndata++] = v->exit_reason;
	run->internal.data[run->internal.ndata++] = v->last_cpu;
}

/*
 * The flags, the instruction bytes, then the exit (reason, qualification,
 * IDT-vectoring information, interruption information and its error code),
 * then the CPU of the last entry.
 */
void kvmx_emulation_failed(struct kvmx_vcpu *v, const u8 *insn, unsigned int len)
{
	struct kvmx_run *run = v->run;
	u32 intr = 0, error = 0;
	unsigned int n;

	run->exit_reason = KVMX_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVMX_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.flags = 0;
	n = 1;
	if (insn && len) {
		len = min_t(unsigned int, len, sizeof(run->emulation_failure.insn_bytes));
		run->emulation_failure.flags = KVMX_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		run->emulation_failure.insn_size = len;
		memset(run->emulation_failure.insn_bytes, 0x90,
		       sizeof(run->emulation_failure.insn_bytes));
		memcpy(run->emulation_failure.insn_bytes, insn, len);
		n = 3;
	}
	if (EXIT_REASON_BASIC(v->exit_reason) == EXIT_REASON_EXCEPTION_NMI) {
		intr = v->exit_intr_info;
		if (intr & INTR_INFO_DELIVER_CODE)
			error = vmcs_read32(VMCS_EXIT_INTR_ERROR_CODE);
	}
	run->internal.data[n++] = v->exit_reason;
	run->internal.data[n++] = v->exit_qual;
	run->internal.data[n++] = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	run->internal.data[n++] = intr;
	run->internal.data[n++] = error;
	run->internal.data[n++] = v->last_cpu;
	run->internal.ndata = n;
}

/*
 * Exceptions kvmx intercepts (exception bitmap, vmcs.c) and NMIs.  #DB and
 * #AC are reflected into the guest: intercepting them means a guest whose
 * delivery of one raises it again (CVE-2015-8104, CVE-2015-5307) exits
 * instead of looping inside the CPU for ever.
 */
static int handle_exception_nmi(struct kvmx_vcpu *v)
{
	u32 info = v->exit_intr_info, vect;
	unsigned int vector = INTR_INFO_VECTOR(info);

	if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI || vector == X86_VEC_MC)
		return 1;	/* the host's handler ran right after the exit */
	/*
	 * The exception came while the CPU delivered another event: #AC
	 * pushing an #AC frame, #DB hitting the #DB frame.  Reflecting it
	 * would only go round again; like kvm_intel, stop and tell the VMM.
	 */
	vect = vmcs_read32(VMCS_IDT_VECTORING_INFO);
	if (vect & INTR_INFO_VALID) {
		struct kvmx_run *run = v->run;

		run->exit_reason = KVMX_EXIT_INTERNAL_ERROR;
		run->internal.suberror = KVMX_INTERNAL_ERROR_SIMUL_EX;
		run->internal.ndata = 0;
		run->internal.data[run->internal.ndata++] = vect;
		run->internal.data[run->internal.ndata++] = info;
		run->internal.data[run->internal.ndata++] =
			(info & INTR_INFO_DELIVER_CODE) ? vmcs_read32(VMCS_EXIT_INTR_ERROR_CODE) : 0;
		run->internal.data[run->internal.ndata++] = v->last_cpu;
		/* Nothing is re-injected: the VMM decides what happens next. */
		v->reinject_info = 0;
		return 0;
	}
	switch (vector) {
	case X86_VEC_UD:
		return handle_ud_exception(v);
	case X86_VEC_DB:
		/*
		 * ICEBP (INT1) exits before it executes: skip it, then raise
		 * its #DB.  Other #DBs are traps or faults already taken.
		 * The exit doesn't set DR6.BS for a single step under STI/MOV
		 * SS blocking; entry then insists on it (SDM 27.3.1.5).
		 */
		if (INTR_INFO_TYPE(info) == INTR_TYPE_PRIV_SOFT_EXCEPTION)
			kvmx_skip_instruction_notrap(v);
		else if ((vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_TF) &&
			 (vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) &
			  (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
			vmcs_write(VMCS_GUEST_PENDING_DBG_EXCEPTIONS,
				   vmcs_read(VMCS_GUEST_PENDING_DBG_EXCEPTIONS) | X86_DR6_BS);
		kvmx_inject_debug(v, v->exit_qual);
		return 1;
	case X86_VEC_AC:
		/*
		 * An #AC the guest asked for (CPL 3, CR0.AM, EFLAGS.AC) is its
		 * own.  With split-lock detection on, any other is a split lock
		 * the host's policy decides on (warn, slow down), as kvm_intel.
		 */
		if (boot_cpu_has(X86_FEATURE_SPLIT_LOCK_DETECT)) {
			kvmx_sync_crs(v);
			if (!(VMX_AR_DPL(vmcs_read32(VMCS_GUEST_SS_AR)) == 3 &&
			      (v->cr0 & X86_CR0_AM) &&
			      (vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_AC))) {
				if (handle_guest_split_lock(kvmx_linear_rip(v)))
					return 1;
				v->run->exit_reason = KVMX_EXIT_EXCEPTION;
				v->run->ex.exception = X86_VEC_AC;
				v->run->ex.error_code = 0;
				return 0;
			}
		}
		kvmx_inject_exception(v, X86_VEC_AC, true, 0);
		return 1;
	}
	kvmx_unexpected_exit(v);
	return 0;
}

static int handle_external_interrupt(struct kvmx_vcpu *v)
{
	return 1;	/* the host took it when interrupts came back on */
}

static int handle_preemption_timer(struct kvmx_vcpu *v)
{
	return 1;	/* the host had its look (interrupts, scheduler): go on */
}

static int handle_triple_fault(struct kvmx_vcpu *v)
{
	v->run->exit_reason = KVMX_EXIT_SHUTDOWN;
	kvmx_genl_event(v->vm, KVMX_EVENT_SHUTDOWN, v->exit_reason, 0);
	return 0;
}

static int handle_interrupt_window(struct kvmx_vcpu *v)
{
	/*
	 * The VMM asked for it and may inject now (KVM's test).  Otherwise
	 * the window was for an interrupt of ours, injected on the way in.
	 */
	if (v->run->request_interrupt_window && kvmx_user_irq_ready(v)) {
		v->run->exit_reason = KVMX_EXIT_IRQ_WINDOW_OPEN;
		return 0;
	}
	return 1;
}

/* The guest can take an NMI now: inject_events() puts it in on the way back. */
static int handle_nmi_window(struct kvmx_vcpu *v)
{
	return 1;
}

static int handle_cpuid(struct kvmx_vcpu *v)
{
	kvmx_emulate_cpuid(v);
	kvmx_skip_instruction(v);
	return 1;
}

static int handle_hlt(struct kvmx_vcpu *v)
{
	kvmx_skip_instruction(v);
	/* In-kernel irqchip: the run loop sleeps until an interrupt can wake the vCPU. */
	if (v->apic) {
		v->mp_state = KVMX_MP_STATE_HALTED;
		return 1;
	}
	/* Without one, userspace decides when the vCPU wakes. */
	v->run->exit_reason = KVMX_EXIT_HLT;
	return 0;
}

/* No vPMU is offered: RDPMC faults, as on kvm_intel without one. */
static int handle_rdpmc(struct kvmx_vcpu *v)
{
	kvmx_inject_gp(v);
	return 1;
}

/*
 * MONITOR/MWAIT exit so a guest can't idle a host CPU in MWAIT; they are
 * NOPs, as kvm_intel makes them.  KVM's default (the quirk
 * KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS) keeps them NOPs even where the
 * guest's CPUID says it has none; without the quirk that is a #UD.
 */
static int handle_monitor_mwait(struct kvmx_vcpu *v)
{
	if (!kvmx_quirk(v->vm, KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS) &&
	    !kvmx_guest_has_mwait(v)) {
		kvmx_inject_ud(v);
		return 1;
	}
	kvmx_skip_instruction(v);
	return 1;
}

static int handle_skip(struct kvmx_vcpu *v)
{
	kvmx_skip_instruction(v);	/* INVD, WBINVD: nothing to do */
	return 1;
}

static int handle_ud(struct kvmx_vcpu *v)
{
	kvmx_inject_ud(v);	/* VMX instructions, GETSEC, ...: not offered */
	return 1;
}

/*
 * KVM's hypercalls (Documentation/virt/kvm/x86/hypercalls.rst), from ring 0
 * only.  SCHED_YIELD ("the vCPU I wait for isn't running"), KICK_CPU ("the
 * lock you wait for is yours": a PV spinlock's unlock) and SEND_IPI (an IPI
 * to many) are returned (0: none) for the caller to act on with interrupts
 * on; SEND_IPI's answer is the caller's too.  Any other number is unknown,
 * as in KVM.  Also called with interrupts off (run.c) for the others: keep
 * it lock-free.
 */
unsigned int kvmx_emulate_vmcall(struct kvmx_vcpu *v)
{
	bool op64 = kvmx_code_mode(v) == 64;
	unsigned long nr = v->regs[REG_RAX], ret = -KVM_ENOSYS;

	if (!op64)
		nr = (u32)nr;
	if (VMX_AR_DPL(vmcs_read32(VMCS_GUEST_SS_AR)) != 0)
		ret = -KVM_EPERM;
	else if (nr == KVM_HC_VAPIC_POLL_IRQ)
		ret = 0;	/* an old guests' "look for interrupts": the next entry does */
	else if (nr == KVM_HC_SCHED_YIELD && kvmx_guest_pv_has(v, KVM_FEATURE_PV_SCHED_YIELD))
		ret = 0;
	else if (nr == KVM_HC_KICK_CPU && kvmx_guest_pv_has(v, KVM_FEATURE_PV_UNHALT))
		ret = 0;
	else if (nr == KVM_HC_SEND_IPI && kvmx_guest_pv_has(v, KVM_FEATURE_PV_SEND_IPI))
		ret = v->apic ? 0 : -KVM_EOPNOTSUPP;	/* no APIC map in KVM either */
	v->regs[REG_RAX] = op64 ? ret : (u32)ret;
	return kvmx_hypercall_acts(nr) && !ret ? nr : 0;
}

static int handle_vmcall(struct kvmx_vcpu *v)
{
	unsigned int nr = kvmx_emulate_vmcall(v);

	if (nr == KVM_HC_SEND_IPI) {
		bool op64 = kvmx_code_mode(v) == 64;
		unsigned long mask = op64 ? ~0ul : U32_MAX;
		unsigned long bitmap[2] = { v->regs[REG_RBX] & mask, v->regs[REG_RCX] & mask };
		long n = kvmx_pv_send_ipi(v, bitmap, v->regs[REG_RDX], v->regs[REG_RSI] & mask,
					  op64 ? 64 : 32);

		v->regs[REG_RAX] = op64 ? n : (u32)n;
	} else if (nr) {
		/* The APIC ID of the vCPU to run: SCHED_YIELD's RBX, KICK_CPU's RCX (RBX: flags). */
		unsigned long dest = v->regs[nr == KVM_HC_KICK_CPU ? REG_RCX : REG_RBX];

		if (kvmx_code_mode(v) != 64)
			dest = (u32)dest;
		if (nr == KVM_HC_KICK_CPU)
			kvmx_pv_kick(v, dest);
		kvmx_sched_yield(v, dest);
	}
	kvmx_skip_instruction(v);
	return 1;
}

/*
 * #UD exits (the exception bitmap) for one case: a guest made for AMD
 * makes its hypercalls with VMMCALL, which is a #UD on Intel.  As KVM
 * does by default (KVM_X86_QUIRK_FIX_HYPERCALL_INSN), the instruction is
 * rewritten to VMCALL and the guest runs it again.  Every other #UD, or
 * one where the rewrite can't be made, goes back to the guest.
 */
static int handle_ud_exception(struct kvmx_vcpu *v)
{
	static const u8 vmmcall[3] = { 0x0f, 0x01, 0xd9 };
	u8 insn[3] = { 0x0f, 0x01, 0xc1 };	/* VMCALL */
	u8 cur[sizeof(insn)];
	u64 rip = kvmx_linear_rip(v);

	/* As KVM's emulator: in protected mode only (not real mode or VM86). */
	kvmx_sync_crs(v);
	if (kvmx_quirk(v->vm, KVMX_X86_QUIRK_FIX_HYPERCALL_INSN) &&
	    (v->cr0 & X86_CR0_PE) && !(vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_VM) &&
	    !kvmx_access_gla(v, rip, cur, sizeof(cur), WALK_FETCH) &&
	    !memcmp(cur, vmmcall, sizeof(cur)) &&
	    !kvmx_access_gla(v, rip, insn, sizeof(insn), WALK_WRITE))
		return 1;
	/*
	 * Where the rewrite can't be written (read-only text under CR0.WP)
	 * KVM's emulator raises a #PF; the guest's own #UD is the truer answer.
	 */
	kvmx_inject_ud(v);
	return 1;
}

/* RDMSR/WRMSR back from userspace: run->msr.error is a #GP, else done. */
static int complete_user_msr(struct kvmx_vcpu *v, bool read)
{
	struct kvmx_run *run = v->run;
	u8 error = READ_ONCE(run->msr.error);

	if (error) {
		kvmx_inject_gp(v);
		return 1;
	}
	if (read) {
		u64 data = READ_ONCE(run->msr.data);

		v->regs[REG_RAX] = (u32)data;
		v->regs[REG_RDX] = data >> 32;
	}
	kvmx_skip_instruction(v);
	return 1;
}

static int complete_user_rdmsr(struct kvmx_vcpu *v)
{
	return complete_user_msr(v, true);
}

static int complete_user_wrmsr(struct kvmx_vcpu *v)
{
	return complete_user_msr(v, false);
}

/*
 * An RDMSR/WRMSR the filter denied or the module could not do (@r):
 * KVMX_EXIT_X86_RDMSR/WRMSR if the VMM asked for that kind
 * (KVM_CAP_X86_USER_SPACE_MSR), completed by the next KVM_RUN; else false.
 */
static bool msr_to_user(struct kvmx_vcpu *v, u32 exit_reason, u32 index, u64 data, int r)
{
	struct kvmx_run *run = v->run;
	u32 reason = r == KVMX_MSR_FILTERED ? KVMX_MSR_EXIT_REASON_FILTER :
		     r == KVMX_MSR_UNKNOWN ? KVMX_MSR_EXIT_REASON_UNKNOWN :
		     KVMX_MSR_EXIT_REASON_INVAL;

	if (!(READ_ONCE(v->vm->user_space_msr_mask) & reason))
		return false;
	run->exit_reason = exit_reason;
	run->msr.error = 0;
	memset(run->msr.pad, 0, sizeof(run->msr.pad));
	run->msr.reason = reason;
	run->msr.index = index;
	run->msr.data = data;
	kvmx_complete_after_userspace(v, exit_reason == KVMX_EXIT_X86_RDMSR ?
				      complete_user_rdmsr : complete_user_wrmsr);
	return true;
}

static int handle_rdmsr(struct kvmx_vcpu *v)
{
	u32 index = v->regs[REG_RCX];
	u64 data = 0;
	int r = KVMX_MSR_FILTERED;

	if (kvmx_msr_allowed(v->vm, index, KVMX_MSR_FILTER_READ))
		r = kvmx_get_msr(v, index, &data, false);
	if (r) {
		if (msr_to_user(v, KVMX_EXIT_X86_RDMSR, index, 0, r))
			return 0;
		kvmx_inject_gp(v);
		return 1;
	}
	v->regs[REG_RAX] = (u32)data;
	v->regs[REG_RDX] = data >> 32;
	kvmx_skip_instruction(v);
	return 1;
}

static int handle_wrmsr(struct kvmx_vcpu *v)
{
	u32 index = v->regs[REG_RCX];
	u64 data = (u32)v->regs[REG_RAX] | ((u64)(u32)v->regs[REG_RDX] << 32);
	int r = KVMX_MSR_FILTERED;

	if (kvmx_msr_allowed(v->vm, index, KVMX_MSR_FILTER_WRITE))
		r = kvmx_set_msr(v, index, data, false);
	if (r) {
		if (msr_to_user(v, KVMX_EXIT_X86_WRMSR, index, data, r))
			return 0;
		kvmx_inject_gp(v);
		return 1;
	}
	kvmx_skip_instruction(v);
	return 1;
}

/* MOV to CR0 (or LMSW) that touches PE, PG or NE: 1 = #GP.  Rules: x86_rules.c. */
static int set_cr0(struct kvmx_vcpu *v, u64 val)
{
	struct cr_write w;

	kvmx_sync_crs(v);
	if (cr0_write(v->cr0, val, v->cr4, v->efer, vmcs_read32(VMCS_GUEST_CS_AR) & VMX_AR_L, &w))
		return 1;
	v->efer = w.efer;
	vmcs_write(VMCS_GUEST_IA32_EFER, v->efer);
	kvmx_update_entry_ctls(v);
	kvmx_set_cr0_hw(v, w.value);
	if (w.flush_tlb)
		v->flush_guest_tlb = true;
	return kvmx_load_pdptrs(v) ? 1 : 0;
}

/*
 * MOV to CR4 that touches a bit kvmx owns: every check the CPU would make
 * happens here, so a bad value is #GP in the guest, never a failed entry.
 */
static int set_cr4(struct kvmx_vcpu *v, u64 val)
{
	struct cr_write w;

	kvmx_sync_crs(v);
	if (cr4_write(v->cr4, val, kvmx_cr4_allowed(), v->efer, vmcs_read(VMCS_GUEST_CR3), &w))
		return 1;
	kvmx_set_cr4_hw(v, w.value);
	if (w.flush_tlb)
		v->flush_guest_tlb = true;
	return kvmx_load_pdptrs(v) ? 1 : 0;
}

static int handle_cr(struct kvmx_vcpu *v)
{
	unsigned long q = v->exit_qual;
	unsigned int cr = CR_QUAL_NUM(q), reg = CR_QUAL_REG(q);
	u64 val, old_cr8 = v->cr8;
	int fault = 0;

	switch (CR_QUAL_TYPE(q)) {
	case CR_TYPE_MOV_TO_CR:
		val = kvmx_reg_read(v, reg);
		if (cr == 0)
			fault = set_cr0(v, val);
		else if (cr == 4)
			fault = set_cr4(v, val);
		else if (cr == 8 && !(val & ~0xfULL))
			kvmx_lapic_set_cr8(v, val);
		else
			fault = 1;
		break;
	case CR_TYPE_MOV_FROM_CR:
		if (cr != 8)
			goto unexpected;
		kvmx_reg_write(v, reg, v->cr8);
		break;
	case CR_TYPE_LMSW:
		/* LMSW writes CR0[3:0] but can't clear PE. */
		kvmx_sync_crs(v);
		val = (v->cr0 & ~0xeULL) | (CR_QUAL_LMSW_DATA(q) & 0xf);
		fault = set_cr0(v, val);
		break;
	default:
		goto unexpected;
	}
	if (fault) {
		kvmx_inject_gp(v);
		return 1;
	}
	kvmx_skip_instruction(v);
	/*
	 * A lower TPR may unmask an interrupt the VMM's APIC holds back: tell
	 * it, as KVM does without an in-kernel APIC.
	 */
	if (v->cr8 < old_cr8 && !v->apic) {
		v->run->exit_reason = KVMX_EXIT_SET_TPR;
		return 0;
	}
	return 1;
unexpected:
	kvmx_unexpected_exit(v);
	return 0;
}

/*
 * MOV DR: the registers live in software; DR7 also goes to the VMCS (the
 * entry loads it) and DR0-3 into the hardware before an entry whose DR7
 * arms them (run.c).  DR6 is kept here: intercepted #DBs update it.
 */
static int handle_dr(struct kvmx_vcpu *v)
{
	unsigned long q = v->exit_qual;
	unsigned int dr = DR_QUAL_NUM(q), reg = DR_QUAL_REG(q);
	bool from = q & DR_QUAL_FROM_DR;
	u64 val;

	kvmx_sync_crs(v);
	/* General detect: any access to a DR faults first (SDM 18.2.4). */
	if (v->dr7 & X86_DR7_GD) {
		kvmx_inject_debug(v, X86_DR6_BD);
		return 1;
	}
	if (dr == 4 || dr == 5) {
		if (v->cr4 & X86_CR4_DE) {
			kvmx_inject_ud(v);
			return 1;
		}
		dr += 2;
	}
	if (from) {
		val = dr < 4 ? v->dr[dr] : dr == 6 ? v->dr6 : v->dr7;
		kvmx_reg_write(v, reg, val);
	} else {
		val = kvmx_reg_read(v, reg);
		if (dr >= 6 && (val >> 32)) {
			kvmx_inject_gp(v);
			return 1;
		}
		if (dr < 4)
			v->dr[dr] = val;
		else if (dr == 6)
			v->dr6 = dr6_write(val);
		else {
			v->dr7 = dr7_write(val);
			vmcs_write(VMCS_GUEST_DR7, v->dr7);
		}
	}
	kvmx_skip_instruction(v);
	return 1;
}

static int handle_ept_violation(struct kvmx_vcpu *v)
{
	u64 gpa = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS);
	unsigned long q = v->exit_qual;
	int r;

	/*
	 * No L1D flush for a fault that maps a page (the VMM's own memory), as
	 * kvm_intel's "cond" mode (6.1: only emulation, userspace, a context
	 * switch or an interrupt set l1tf_flush_l1d): a host interrupt or a
	 * reschedule while the page is faulted in asks for one by itself.
	 */
	r = kvmx_ept_fault(v, gpa, q & EPT_QUAL_WRITE);
	/*
	 * No RAM there, and the APIC page is: the CPU's to virtualize from
	 * now on (a write through a read-only APIC-access page is emulated).
	 */
	if (!r && kvmx_lapic_virtualizes_access(v, gpa) &&
	    (kvmx_lapic_xapic_writes() || !(q & EPT_QUAL_WRITE)))
		r = kvmx_ept_map_apic_access(v, gpa, kvmx_lapic_xapic_writes());
	if (r) {
		v->stat.ept_faults++;
		trace_kvmx_ept_fault(v, gpa, q, false);
		/* Memory userspace can't back (unmapped, no permission): -EFAULT. */
		return r;
	}
	/* No RAM here (or a write to ROM): a device register. */
	v->stat.mmio_exits++;
	/* Decoding reads guest memory through host mappings: flush before entry. */
	v->l1d_flush_pending = true;
	trace_kvmx_ept_fault(v, gpa, q, true);
	return kvmx_handle_mmio(v, gpa, q & EPT_QUAL_WRITE);
}

static int handle_ept_misconfig(struct kvmx_vcpu *v)
{
	pr_err_ratelimited("EPT misconfiguration at GPA %#llx\n",
			   (u64)vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS));
	kvmx_unexpected_exit(v);
	return 0;
}

/* XSETBV (SDM Vol. 2C): only XCR0, with the components kvmx offers. */
static int handle_xsetbv(struct kvmx_vcpu *v)
{
	u64 val = (u32)v->regs[REG_RAX] | ((u64)(u32)v->regs[REG_RDX] << 32);
	u64 supported = kvmx_supported_xcr0();

	if (!(v->cr4 & X86_CR4_OSXSAVE)) {
		kvmx_inject_ud(v);
		return 1;
	}
	if ((u32)v->regs[REG_RCX] != 0 || !xcr0_valid(val, supported)) {
		kvmx_inject_gp(v);
		return 1;
	}
	v->xcr0 = val;
	kvmx_skip_instruction(v);
	return 1;
}

/* A level-triggered vector's EOI with virtual-interrupt delivery (trap-like). */
static int handle_eoi_induced(struct kvmx_vcpu *v)
{
	kvmx_lapic_eoi_induced(v, v->exit_qual & 0xff);
	return 1;
}

/*
 * An access to the APIC-access page that the CPU does not virtualize
 * (SDM 29.4.2, 29.4.3: a TMCCT read, a write to a read-only register, an
 * access not 32 bits wide...): fault-like, emulated as MMIO at the APIC
 * base.  The page reached by an instruction fetch, during event delivery
 * or by a guest page walk (types 2, 3, 10, 15) is not emulated (KVM's
 * emulator tries), and ends KVM_RUN as an emulation failure.
 */
static int handle_apic_access(struct kvmx_vcpu *v)
{
	unsigned int type = (v->exit_qual & APIC_ACCESS_TYPE) >> 12;

	if (type != APIC_ACCESS_LINEAR_READ && type != APIC_ACCESS_LINEAR_WRITE) {
		kvmx_emulation_failed(v, NULL, 0);
		return 0;
	}
	v->stat.mmio_exits++;
	/* Decoding reads guest memory through host mappings: flush before entry. */
	v->l1d_flush_pending = true;
	return kvmx_handle_mmio(v, (v->apic_base & MSR_IA32_APICBASE_BASE) +
			       (v->exit_qual & APIC_ACCESS_OFFSET),
			       type == APIC_ACCESS_LINEAR_WRITE);
}

/* A write the CPU made to the virtual-APIC page (trap-like, SDM 29.4.3.3). */
static int handle_apic_write(struct kvmx_vcpu *v)
{
	kvmx_lapic_apic_write(v, v->exit_qual & APIC_ACCESS_OFFSET);
	return 1;
}

typedef int (*exit_handler_t)(struct kvmx_vcpu *v);

static const exit_handler_t kvmx_exit_handlers[EXIT_REASON_MAX] = {
	[EXIT_REASON_EXCEPTION_NMI]		= handle_exception_nmi,
	[EXIT_REASON_EXTERNAL_INTERRUPT]	= handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT]		= handle_triple_fault,
	[EXIT_REASON_INTERRUPT_WINDOW]		= handle_interrupt_window,
	[EXIT_REASON_NMI_WINDOW]		= handle_nmi_window,
	[EXIT_REASON_CPUID]			= handle_cpuid,
	[EXIT_REASON_GETSEC]			= handle_ud,
	[EXIT_REASON_HLT]			= handle_hlt,
	[EXIT_REASON_INVD]			= handle_skip,
	[EXIT_REASON_RDPMC]			= handle_rdpmc,
	[EXIT_REASON_VMCALL]			= handle_vmcall,
	[EXIT_REASON_VMCLEAR]			= handle_ud,
	[EXIT_REASON_VMLAUNCH]			= handle_ud,
	[EXIT_REASON_VMPTRLD]			= handle_ud,
	[EXIT_REASON_VMPTRST]			= handle_ud,
	[EXIT_REASON_VMREAD]			= handle_ud,
	[EXIT_REASON_VMRESUME]			= handle_ud,
	[EXIT_REASON_VMWRITE]			= handle_ud,
	[EXIT_REASON_VMXOFF]			= handle_ud,
	[EXIT_REASON_VMXON]			= handle_ud,
	[EXIT_REASON_CR_ACCESS]			= handle_cr,
	[EXIT_REASON_DR_ACCESS]			= handle_dr,
	[EXIT_REASON_IO_INSTRUCTION]		= kvmx_handle_io,
	[EXIT_REASON_MSR_READ]			= handle_rdmsr,
	[EXIT_REASON_MSR_WRITE]			= handle_wrmsr,
	[EXIT_REASON_MWAIT]			= handle_monitor_mwait,
	[EXIT_REASON_MONITOR]			= handle_monitor_mwait,
	[EXIT_REASON_PAUSE]			= kvmx_handle_pause,
	[EXIT_REASON_EPT_VIOLATION]		= handle_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG]		= handle_ept_misconfig,
	[EXIT_REASON_INVEPT]			= handle_ud,
	[EXIT_REASON_INVVPID]			= handle_ud,
	[EXIT_REASON_WBINVD]			= handle_skip,
	[EXIT_REASON_XSETBV]			= handle_xsetbv,
	[EXIT_REASON_PREEMPTION_TIMER]		= handle_preemption_timer,
	[EXIT_REASON_APIC_ACCESS]		= handle_apic_access,
	[EXIT_REASON_EOI_INDUCED]		= handle_eoi_induced,
	[EXIT_REASON_APIC_WRITE]		= handle_apic_write,
	[EXIT_REASON_VMFUNC]			= handle_ud,
};

int kvmx_handle_exit(struct kvmx_vcpu *v)
{
	u32 reason = v->exit_reason, basic = EXIT_REASON_BASIC(reason);

	/* Read once here for every handler; the fast path (run.c) needs none. */
	v->exit_qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	v->uexit.kind = 0;
	if (reason & EXIT_REASON_FAILED_ENTRY) {
		/*
		 * The guest state failed the entry checks (SDM 27.3, 27.8).
		 * Like KVM, report the full exit reason, bit 31 included.
		 */
		v->run->exit_reason = KVMX_EXIT_FAIL_ENTRY;
		v->run->fail_entry.hardware_entry_failure_reason = reason;
		v->run->fail_entry.cpu = v->last_cpu;
		kvmx_entry_failed(v, 0);
		return 0;
	}
	if (basic < EXIT_REASON_MAX && kvmx_exit_handlers[basic])
		return kvmx_exit_handlers[basic](v);
	pr_err_ratelimited("unexpected VM exit %u\n", basic);
	kvmx_unexpected_exit(v);
	return 0;
}

void kvmx_complete_after_userspace(struct kvmx_vcpu *v, int (*complete)(struct kvmx_vcpu *v))
{
	v->complete_userspace = complete;
	v->complete_rip = kvmx_linear_rip(v);
}

/* Finish what the last exit to userspace left open; 1 to go on. */
int kvmx_complete_userspace(struct kvmx_vcpu *v)
{
	int (*complete)(struct kvmx_vcpu *v) = v->complete_userspace;

	if (!complete)
		return 1;
	v->complete_userspace = NULL;
	/*
	 * Userspace moved RIP (KVM_SET_REGS/SREGS) off the instruction: it
	 * took over, the instruction is not finished (KVM's rule).
	 */
	if (kvmx_linear_rip(v) != v->complete_rip)
		return 1;
	return complete(v);
}
