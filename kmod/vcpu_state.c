// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU state beyond the registers, as a VMM saves, restores and resets it:
 * KVM_GET/SET_MP_STATE, KVM_GET/SET_VCPU_EVENTS, KVM_GET/SET_DEBUGREGS,
 * KVM_GET/SET_XSAVE, KVM_GET/SET_XCRS, KVM_GET/SET_TSC_KHZ, KVM_NMI and
 * KVM_SET_SIGNAL_MASK.  Each follows kvm_intel's x86.c: the same checks,
 * the same errnos, the same fields reported.
 *
 * Without an in-kernel local APIC a vCPU is always RUNNABLE (HLT goes to
 * the VMM), and an SMI can't be pending: kvmx has no SMM.
 */
#include <linux/uaccess.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/tsc.h>

#include "kvmx.h"
#include "vmx_ops.h"

/* ---- KVM_GET/SET_MP_STATE ---- */

static int get_mp_state(struct kvmx_vcpu *v, struct kvmx_mp_state __user *u)
{
	struct kvmx_mp_state s = { .mp_state = KVMX_MP_STATE_RUNNABLE };

	if (v->apic) {
		/* An INIT or SIPI already sent counts, as in KVM. */
		kvmx_lapic_accept_events(v);
		s.mp_state = v->mp_state;
		/* Kicked, not yet back in the guest: as KVM, it is not halted. */
		if (s.mp_state == KVMX_MP_STATE_HALTED && READ_ONCE(v->pv_unhalted))
			s.mp_state = KVMX_MP_STATE_RUNNABLE;
	}
	return copy_to_user(u, &s, sizeof(s)) ? -EFAULT : 0;
}

static int set_mp_state(struct kvmx_vcpu *v, struct kvmx_mp_state __user *u)
{
	struct kvmx_mp_state s;

	if (copy_from_user(&s, u, sizeof(s)))
		return -EFAULT;
	switch (s.mp_state) {
	case KVMX_MP_STATE_RUNNABLE:
		break;
	case KVMX_MP_STATE_UNINITIALIZED:
	case KVMX_MP_STATE_INIT_RECEIVED:
	case KVMX_MP_STATE_HALTED:
	case KVMX_MP_STATE_SIPI_RECEIVED:
		/* These belong to an in-kernel APIC (KVM: the same). */
		if (!v->apic)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (s.mp_state == KVMX_MP_STATE_SIPI_RECEIVED) {
		/* Waiting for INIT's SIPI, and the SIPI (KVM_SET_VCPU_EVENTS' vector) is here. */
		struct kvmx_irq_msg m = {
			.vector = v->sipi_vector, .delivery_mode = KVMX_DM_SIPI,
			.shorthand = APIC_SH_SELF,
		};

		v->mp_state = KVMX_MP_STATE_INIT_RECEIVED;
		kvmx_apic_deliver(v->vm, v, &m);
		return 0;
	}
	v->mp_state = s.mp_state;
	return 0;
}

/* ---- KVM_GET/SET_VCPU_EVENTS ---- */

static u8 shadow_of(u32 intr_state)
{
	return (intr_state & GUEST_INTR_STATE_MOV_SS ? KVMX_X86_SHADOW_INT_MOV_SS : 0) |
	       (intr_state & GUEST_INTR_STATE_STI ? KVMX_X86_SHADOW_INT_STI : 0);
}

/*
 * An event in flight is in one of three places: the exception queue, the
 * event an exit interrupted (reinject_info), or the interrupt/NMI an
 * exception pre-empted (kept_info).  KVM reports exceptions as "injected"
 * unless KVM_CAP_EXCEPTION_PAYLOAD is on, which kvmx does not offer.
 */
static void report_event(struct kvmx_vcpu_events *e, u32 info, u32 error)
{
	if (!(info & INTR_INFO_VALID))
		return;
	switch (INTR_INFO_TYPE(info)) {
	case INTR_TYPE_EXT_INTR:
		e->interrupt.injected = 1;
		e->interrupt.nr = INTR_INFO_VECTOR(info);
		break;
	case INTR_TYPE_NMI:
		e->nmi.injected = 1;
		break;
	case INTR_TYPE_HARD_EXCEPTION:
		e->exception.injected = 1;
		e->exception.nr = INTR_INFO_VECTOR(info);
		e->exception.has_error_code = !!(info & INTR_INFO_DELIVER_CODE);
		e->exception.error_code = error;
		break;
	default:
		/*
		 * INT n, INT3, INTO, ICEBP: RIP is still on the instruction,
		 * which raises the event again when it runs (as the exception
		 * queue drops them, vcpu.c).
		 */
		break;
	}
}

void kvmx_get_vcpu_events(struct kvmx_vcpu *v, struct kvmx_vcpu_events *out)
{
	struct kvmx_vcpu_events e = {};
	u32 intr_state = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);

	report_event(&e, v->kept_info, 0);
	report_event(&e, v->reinject_info, v->reinject_error);
	if (v->exc.pending) {
		e.exception.injected = 1;
		e.exception.nr = v->exc.vector;
		e.exception.has_error_code = v->exc.has_error;
		e.exception.error_code = v->exc.error;
	}
	if (v->pending_irq >= 0) {
		e.interrupt.injected = 1;
		e.interrupt.nr = v->pending_irq;
	}
	e.interrupt.shadow = shadow_of(intr_state);
	e.nmi.pending = !!v->nmi_pending;
	e.nmi.masked = !!(intr_state & GUEST_INTR_STATE_NMI);
	e.sipi_vector = v->sipi_vector;
	e.flags = KVMX_VCPUEVENT_VALID_NMI_PENDING | KVMX_VCPUEVENT_VALID_SHADOW |
		  KVMX_VCPUEVENT_VALID_SMM;
	*out = e;
}

static int get_vcpu_events(struct kvmx_vcpu *v, struct kvmx_vcpu_events __user *u)
{
	struct kvmx_vcpu_events e;

	kvmx_get_vcpu_events(v, &e);
	return copy_to_user(u, &e, sizeof(e)) ? -EFAULT : 0;
}

/* @in is a kernel copy: read once, whatever userspace does meanwhile. */
int kvmx_set_vcpu_events(struct kvmx_vcpu *v, const struct kvmx_vcpu_events *in)
{
	struct kvmx_vcpu_events e = *in;
	u32 intr_state;

	/* PAYLOAD and TRIPLE_FAULT need capabilities kvmx does not enable. */
	if (e.flags & ~(KVMX_VCPUEVENT_VALID_NMI_PENDING | KVMX_VCPUEVENT_VALID_SIPI_VECTOR |
			KVMX_VCPUEVENT_VALID_SHADOW | KVMX_VCPUEVENT_VALID_SMM))
		return -EINVAL;
	/* Without KVM_CAP_EXCEPTION_PAYLOAD only "injected" counts, as in KVM. */
	e.exception.pending = 0;
	if (e.exception.injected && (e.exception.nr > 31 || e.exception.nr == X86_VEC_NMI))
		return -EINVAL;
	/* No SMM: nothing may say the vCPU is in it or has an SMI waiting. */
	if ((e.flags & KVMX_VCPUEVENT_VALID_SMM) &&
	    (e.smi.smm || e.smi.pending || e.smi.smm_inside_nmi || e.smi.latched_init))
		return -EINVAL;
	/*
	 * A software interrupt would need the length of its INT instruction,
	 * which the VMM never has; KVM's own VMMs always pass soft = 0.
	 */
	if (e.interrupt.injected && e.interrupt.soft)
		return -EINVAL;
	if ((e.flags & KVMX_VCPUEVENT_VALID_NMI_PENDING) && e.nmi.pending && !kvmx_nmi_window_ok)
		return -EINVAL;

	/* What was in flight is replaced by what userspace says. */
	v->kept_info = 0;
	v->reinject_info = 0;
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	v->exc.pending = e.exception.injected;
	v->exc.vector = e.exception.nr;
	/* inject_events() decides about the error code; bits 31:16 can't be set. */
	v->exc.has_error = e.exception.has_error_code;
	v->exc.error = (u16)e.exception.error_code;
	v->pending_irq = e.interrupt.injected ? e.interrupt.nr : -1;
	/* An NMI in delivery goes in once NMI blocking allows it (SDM 27.3.1.5). */
	if (e.nmi.injected)
		v->kept_info = X86_VEC_NMI | (INTR_TYPE_NMI << 8) | INTR_INFO_VALID;

	intr_state = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);
	intr_state &= ~GUEST_INTR_STATE_NMI;
	if (e.nmi.masked)
		intr_state |= GUEST_INTR_STATE_NMI;
	if (e.flags & KVMX_VCPUEVENT_VALID_SHADOW) {
		intr_state &= ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
		if (e.interrupt.shadow & KVMX_X86_SHADOW_INT_MOV_SS)
			intr_state |= GUEST_INTR_STATE_MOV_SS;
		else if (e.interrupt.shadow & KVMX_X86_SHADOW_INT_STI)
			intr_state |= GUEST_INTR_STATE_STI;
	}
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, intr_state);
	/* As process_nmi(): one more behind an NMI being handled, else two. */
	if (e.flags & KVMX_VCPUEVENT_VALID_NMI_PENDING)
		v->nmi_pending = min_t(u8, e.nmi.pending,
				       e.nmi.masked || e.nmi.injected ? 1 : 2);
	if (e.flags & KVMX_VCPUEVENT_VALID_SIPI_VECTOR)
		v->sipi_vector = e.sipi_vector;
	return 0;
}

static int set_vcpu_events(struct kvmx_vcpu *v, struct kvmx_vcpu_events __user *u)
{
	struct kvmx_vcpu_events e;

	if (copy_from_user(&e, u, sizeof(e)))
		return -EFAULT;
	return kvmx_set_vcpu_events(v, &e);
}

/* ---- KVM_GET/SET_DEBUGREGS ---- */

static int get_debugregs(struct kvmx_vcpu *v, struct kvmx_debugregs __user *u)
{
	struct kvmx_debugregs d = {};

	memcpy(d.db, v->dr, sizeof(d.db));
	d.dr6 = v->dr6;
	d.dr7 = v->dr7;
	return copy_to_user(u, &d, sizeof(d)) ? -EFAULT : 0;
}

static int set_debugregs(struct kvmx_vcpu *v, struct kvmx_debugregs __user *u)
{
	struct kvmx_debugregs d;

	if (copy_from_user(&d, u, sizeof(d)))
		return -EFAULT;
	/* As MOV DR: the upper halves of DR6 and DR7 are reserved (#GP). */
	if (d.flags || (d.dr6 >> 32) || (d.dr7 >> 32))
		return -EINVAL;
	memcpy(v->dr, d.db, sizeof(v->dr));
	v->dr6 = dr6_write(d.dr6);
	v->dr7 = dr7_write(d.dr7);
	vmcs_write(VMCS_GUEST_DR7, v->dr7);
	return 0;
}

/* ---- KVM_GET/SET_XSAVE and KVM_GET/SET_XCRS ---- */

/*
 * The components an XSAVE image carries: XCR0's, plus PKRU where the guest
 * may turn on CR4.PKE (kvmx switches PKRU by hand, it is not in XCR0).
 */
static u64 xsave_features(void)
{
	return kvmx_supported_xcr0() |
	       (boot_cpu_has(X86_FEATURE_OSPKE) ? XFEATURE_MASK_PKRU : 0);
}

static int get_xsave(struct kvmx_vcpu *v, struct kvmx_xsave __user *u)
{
	struct kvmx_xsave *x = kzalloc(sizeof(*x), GFP_KERNEL_ACCOUNT);
	int r = 0;

	if (!x)
		return -ENOMEM;
	fpu_copy_guest_fpstate_to_uabi(&v->fpu, x->region, sizeof(x->region),
				       xsave_features() | XFEATURE_MASK_FPSSE, v->pkru);
	if (copy_to_user(u, x, sizeof(*x)))
		r = -EFAULT;
	kfree(x);
	return r;
}

static int set_xsave(struct kvmx_vcpu *v, struct kvmx_xsave __user *u)
{
	struct kvmx_xsave *x = memdup_user(u, sizeof(*x));
	int r;

	if (IS_ERR(x))
		return PTR_ERR(x);
	/* The kernel's checks: header, reserved bits, features beyond XCR0. */
	r = fpu_copy_uabi_to_guest_fpstate(&v->fpu, x->region, xsave_features(), &v->pkru);
	kfree(x);
	return r;
}

static int get_xcrs(struct kvmx_vcpu *v, struct kvmx_xcrs __user *u)
{
	struct kvmx_xcrs *x = kzalloc(sizeof(*x), GFP_KERNEL_ACCOUNT);
	int r = 0;

	if (!x)
		return -ENOMEM;
	if (boot_cpu_has(X86_FEATURE_XSAVE)) {
		x->nr_xcrs = 1;
		x->xcrs[0].xcr = XCR_XFEATURE_ENABLED_MASK;
		x->xcrs[0].value = v->xcr0;
	}
	if (copy_to_user(u, x, sizeof(*x)))
		r = -EFAULT;
	kfree(x);
	return r;
}

static int set_xcrs(struct kvmx_vcpu *v, struct kvmx_xcrs __user *u)
{
	struct kvmx_xcrs *x = memdup_user(u, sizeof(*x));
	int r = 0;
	u32 i;

	if (IS_ERR(x))
		return PTR_ERR(x);
	if (!boot_cpu_has(X86_FEATURE_XSAVE) || x->nr_xcrs > KVMX_MAX_XCRS || x->flags) {
		r = -EINVAL;
		goto out;
	}
	/* Only XCR0 exists; KVM takes the first entry for it and ignores others. */
	for (i = 0; i < x->nr_xcrs; i++) {
		if (x->xcrs[i].xcr != XCR_XFEATURE_ENABLED_MASK)
			continue;
		if (!xcr0_valid(x->xcrs[i].value, kvmx_supported_xcr0()))
			r = -EINVAL;
		else
			v->xcr0 = x->xcrs[i].value;
		break;
	}
out:
	kfree(x);
	return r;
}

/* ---- KVM_GET/SET_TSC_KHZ ---- */

/*
 * The guest's TSC runs at the host's rate: kvmx does not scale it.  A rate
 * within KVM's tolerance of 250 ppm is the host's; any other is refused.
 */
static int set_tsc_khz(u32 khz)
{
	u64 tol = (u64)tsc_khz * 250 / 1000000;

	if (!khz)
		return 0;
	return khz + tol >= tsc_khz && khz <= tsc_khz + tol ? 0 : -EINVAL;
}

/* ---- KVM_SET_SIGNAL_MASK ---- */

static int set_signal_mask(struct kvmx_vcpu *v, struct kvmx_signal_mask __user *u)
{
	struct kvmx_signal_mask m;
	sigset_t set;

	if (!u) {
		v->sigset_active = false;
		return 0;
	}
	if (copy_from_user(&m, u, sizeof(m)))
		return -EFAULT;
	if (m.len != sizeof(sigset_t))
		return -EINVAL;
	if (copy_from_user(&set, u->sigset, sizeof(set)))
		return -EFAULT;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	v->sigset = set;
	v->sigset_active = true;
	return 0;
}

/* KVM_RUN runs with the mask the VMM set; the thread's own comes back after. */
void kvmx_sigset_activate(struct kvmx_vcpu *v)
{
	if (v->sigset_active)
		sigprocmask(SIG_SETMASK, &v->sigset, &current->real_blocked);
}

void kvmx_sigset_deactivate(struct kvmx_vcpu *v)
{
	if (v->sigset_active) {
		sigprocmask(SIG_SETMASK, &current->real_blocked, NULL);
		sigemptyset(&current->real_blocked);
	}
}

/* ---- KVM_NMI ---- */

static bool nmi_in_flight(struct kvmx_vcpu *v)
{
	u32 entry = vmcs_read32(VMCS_ENTRY_INTR_INFO);

	return ((v->reinject_info & INTR_INFO_VALID) &&
		INTR_INFO_TYPE(v->reinject_info) == INTR_TYPE_NMI) ||
	       ((v->kept_info & INTR_INFO_VALID) &&
		INTR_INFO_TYPE(v->kept_info) == INTR_TYPE_NMI) ||
	       ((entry & INTR_INFO_VALID) && INTR_INFO_TYPE(entry) == INTR_TYPE_NMI);
}

/*
 * As KVM's process_nmi(): NMIs that arrive while none is being handled
 * keep two, one to deliver and one latched behind it; while one is being
 * handled (blocked or in flight), only the latched one.  More are merged,
 * as the CPU merges them.
 */
static void queue_nmi(struct kvmx_vcpu *v)
{
	bool busy = (vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & GUEST_INTR_STATE_NMI) ||
		    nmi_in_flight(v);

	v->nmi_pending = min_t(u8, v->nmi_pending + 1, busy ? 1 : 2);
}

/* The ioctls above; -ENOTTY for any other. */
long kvmx_vcpu_state_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp)
{
	switch (ioctl) {
	case KVMX_GET_MP_STATE:
		return get_mp_state(v, argp);
	case KVMX_SET_MP_STATE:
		return set_mp_state(v, argp);
	case KVMX_GET_VCPU_EVENTS:
		return get_vcpu_events(v, argp);
	case KVMX_SET_VCPU_EVENTS:
		return set_vcpu_events(v, argp);
	case KVMX_GET_DEBUGREGS:
		return get_debugregs(v, argp);
	case KVMX_SET_DEBUGREGS:
		return set_debugregs(v, argp);
	case KVMX_GET_XSAVE:
		return get_xsave(v, argp);
	case KVMX_SET_XSAVE:
		return set_xsave(v, argp);
	case KVMX_GET_XCRS:
		return get_xcrs(v, argp);
	case KVMX_SET_XCRS:
		return set_xcrs(v, argp);
	case KVMX_GET_TSC_KHZ:
		return tsc_khz;
	case KVMX_SET_TSC_KHZ:
		return set_tsc_khz((u32)(unsigned long)argp);
	case KVMX_SET_SIGNAL_MASK:
		return set_signal_mask(v, argp);
	case KVMX_NMI:
		if (!kvmx_nmi_window_ok)
			return -ENOTTY;
		queue_nmi(v);
		return 0;
	}
	return -ENOTTY;
}
