// SPDX-License-Identifier: GPL-2.0
/*
 * The local APIC of each vCPU, in software (SDM Vol. 3A chapter 10): the
 * xAPIC register page at IA32_APIC_BASE and the x2APIC MSRs over the same
 * registers, interrupt acceptance (IRR, ISR, TMR, TPR/PPR, EOI), IPIs through
 * the ICR, the LVT entries and the timer (one-shot, periodic, TSC-deadline)
 * on an hrtimer.
 *
 * Who touches what:
 *  - other threads (other vCPUs' IPIs, the IOAPIC, the timer's hrtimer, the
 *    VMM's ioctls via irqchip.c) only set bits: IRR (with APIC
 *    virtualization the pending bitmap pir instead, the page being the
 *    CPU's while the guest runs) and TMR with atomic bit operations, and the
 *    events word (INIT, SIPI), the NMI and timer counters; then they kick
 *    the vCPU (kvmx_vcpu_kick());
 *  - everything else, the vCPU's own thread: it takes the events in before
 *    each entry (kvmx_lapic_accept_events()), moves pir into IRR
 *    (pir_to_irr()) and a vector from IRR to ISR when it injects it.
 * A kick is an IPI to the CPU the guest runs on (the guest exits and the
 * loop looks again) or a wake-up of a vCPU halted in the kernel.  The vCPU
 * publishes guest_cpu before it reads IRR and pir, and a sender reads
 * guest_cpu after setting them, each behind a full barrier: one of them sees
 * the other.
 *
 * The register page keeps the xAPIC layout in both modes, as the hardware's
 * virtual-APIC page does; x2APIC MSR 0x800 + n is the register at n << 4.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/moduleparam.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/apicdef.h>
#include <asm/mce.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "kvmx.h"
#include "vmx_ops.h"

/*
 * Version 0x14 (integrated APIC), six LVT entries, seven with the CMCI
 * entry once the vCPU's machine-check capabilities have CMCI (MCG_CMCI_P).
 */
#define LAPIC_VERSION		0x14

static u32 lapic_version(struct kvmx_vcpu *v)
{
	unsigned int nr_lvt = (v->mcg_cap & MCG_CMCI_P) ? 7 : 6;

	return LAPIC_VERSION | ((nr_lvt - 1) << 16);
}
/* The timer's input clock: one tick per nanosecond, as kvm_intel's. */
#define APIC_BUS_CYCLE_NS	1
/*
 * A periodic timer faster than this would keep a host CPU busy with
 * hrtimer interrupts: the guest gets this period instead (kvm_intel's
 * min_timer_period_us default).
 */
#define MIN_TIMER_PERIOD_NS	(200 * NSEC_PER_USEC)

#define X2APIC_BROADCAST	0xffffffffu
#define XAPIC_BROADCAST		0xffu

/* Events other threads leave for the vCPU's thread. */
enum { APIC_EV_INIT, APIC_EV_SIPI };

struct kvmx_lapic {
	struct kvmx_vcpu *vcpu;
	u8 *regs;			/* the register page, xAPIC layout */
	struct hrtimer timer;
	atomic_t timer_pending;		/* expirations not yet in IRR */
	u64 period_ns;			/* periodic mode: the period */
	ktime_t armed_at;		/* one-shot/periodic: when TMICT was written */
	u64 tsc_deadline;		/* IA32_TSC_DEADLINE, 0: disarmed */
	unsigned long events;		/* APIC_EV_* */
	u8 sipi_vector;
	u64 vapic_addr;			/* KVM_SET_VAPIC_ADDR, 0: none */
	/*
	 * LVTT's timer mode as kvmx last took it in: with APIC-register
	 * virtualization the CPU writes LVTT in the page before kvmx hears
	 * of it, and a mode change disarms the timer.
	 */
	u32 lvtt_mode;
	int pv_eoi_irr;			/* irr_signature() when the PV EOI flag was set */
	/*
	 * APIC virtualization (v->vid once set up): x2APIC MSRs or the xAPIC
	 * page virtualized (kvmx_vmcs_apic_virt_mode()), EOI-exit bitmap
	 */
	bool vx2, vaa;
	u64 eoi_exit[4];
	/*
	 * Vectors other threads accepted for a vCPU with APIC virtualization,
	 * not yet in IRR: the page is the CPU's while the vCPU runs, so only
	 * the vCPU's thread moves them there (pir_to_irr), as a posted-
	 * interrupt descriptor would without the hardware.
	 */
	unsigned long pir[BITS_TO_LONGS(256)];
	u64 tmr_at_entry[4];		/* TMR as the last entry's EOI-exit bitmap had it */
};

/*
 * With APIC virtualization (SDM 29) the register page is also the CPU's
 * virtual-APIC page: the guest reads registers, writes TPR and EOI and
 * takes interrupts without exits, and the CPU updates IRR, ISR, TPR and
 * PPR in the page itself.  All four features or none (KVM needs posted
 * interrupts too; kvmx does without: another thread's interrupt is set in
 * the APIC's pir, the vCPU is kicked out, and the next entry hands it over).
 *
 * On by default; apicv=0 sends every APIC access and interrupt through
 * kvmx, for comparison (and for the lab guide's Step 7).
 */
static bool apicv = true;
module_param(apicv, bool, 0444);
MODULE_PARM_DESC(apicv, "use the CPU's APIC virtualization where it has it (TPR shadow, APIC-register virtualization, virtual-interrupt delivery, x2APIC and APIC-access virtualization); default on");

/*
 * With apicv, the xAPIC page's writes too: TPR, EOI and self-IPIs without
 * an exit, the others (ICR, LVT, SVR...) exiting after the fact.  Off, the
 * APIC-access page is mapped read-only: only reads are the CPU's, and
 * writes are emulated.  See kvmx_lapic_vid_sync() for why Bochs wants it
 * off.
 */
static bool apicv_xapic_writes;
module_param(apicv_xapic_writes, bool, 0444);
MODULE_PARM_DESC(apicv_xapic_writes, "with apicv, let the CPU virtualize writes to the xAPIC page too, not only reads; default off (Bochs delivers a self-IPI made with interrupts off)");

static u32 reg_read(struct kvmx_lapic *a, unsigned int off)
{
	return READ_ONCE(*(u32 *)(a->regs + off));
}

static void reg_write(struct kvmx_lapic *a, unsigned int off, u32 val)
{
	WRITE_ONCE(*(u32 *)(a->regs + off), val);
}

/*
 * Bit @vec of a 256-bit register (ISR, TMR, IRR): eight 32-bit words, 16
 * bytes apart.  Each word sits at an 8-byte-aligned address, so it is the
 * low half of an unsigned long and the atomic bitops work on it.
 */
static unsigned long *vec_word(struct kvmx_lapic *a, unsigned int reg, unsigned int vec)
{
	return (unsigned long *)(a->regs + reg + (vec >> 5) * 0x10);
}

#define VEC_BIT(vec)	((vec) & 31)

/* The highest vector set in a 256-bit register, or -1. */
static int highest_vector(struct kvmx_lapic *a, unsigned int reg)
{
	int i;

	for (i = 7; i >= 0; i--) {
		u32 w = reg_read(a, reg + i * 0x10);

		if (w)
			return i * 32 + __fls(w);
	}
	return -1;
}

static bool x2apic_mode(struct kvmx_vcpu *v)
{
	return v->apic_base & X2APIC_ENABLE;
}

static bool hw_enabled(struct kvmx_vcpu *v)
{
	return v->apic_base & MSR_IA32_APICBASE_ENABLE;
}

static bool sw_enabled(struct kvmx_lapic *a)
{
	return reg_read(a, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
}

/* Enabled in both senses: only then does it accept interrupts (SDM 10.4.7.2). */
static bool apic_enabled(struct kvmx_vcpu *v)
{
	return v->apic && hw_enabled(v) && sw_enabled(v->apic);
}

static u32 apic_id(struct kvmx_vcpu *v)
{
	u32 id = reg_read(v->apic, APIC_ID);

	return x2apic_mode(v) ? id : id >> 24;
}

/*
 * Under RCU: the vCPU whose local APIC has the physical ID @id, or NULL.
 * Hardware-disabled APICs have no ID on the bus, as KVM's map leaves them
 * out (KICK_CPU and SCHED_YIELD find their target through it).
 */
struct kvmx_vcpu *kvmx_apic_find_id(struct kvmx_vm *vm, u32 id)
{
	int i;

	for (i = 0; i < KVMX_MAX_VCPUS; i++) {
		struct kvmx_vcpu *v = READ_ONCE(vm->vcpus[i]);

		if (v && v->apic && hw_enabled(v) && apic_id(v) == id)
			return v;
	}
	return NULL;
}

/*
 * PPR (SDM 10.8.3.1): the higher of TPR's and the in-service vector's class,
 * @isr being the highest in-service vector (-1: none).
 */
static u32 ppr_with(struct kvmx_lapic *a, int isr)
{
	u32 tpr = reg_read(a, APIC_TASKPRI) & 0xff;
	u32 isrc = isr < 0 ? 0 : isr & 0xf0;

	return (tpr & 0xf0) >= isrc ? tpr : isrc;
}

static u32 ppr(struct kvmx_lapic *a)
{
	return ppr_with(a, highest_vector(a, APIC_ISR));
}

/* ---- kicking a vCPU ---- */

void kvmx_vcpu_kick(struct kvmx_vcpu *v)
{
	int cpu, me;

	/* Ordered after the caller's IRR/event update; pairs with run.c's smp_mb(). */
	smp_mb();
	/* Woken, not yet on a CPU: another vCPU's directed yield may pick it (spin.c). */
	if (waitqueue_active(&v->wq))
		WRITE_ONCE(v->ready, true);
	wake_up_interruptible(&v->wq);
	cpu = READ_ONCE(v->guest_cpu);
	/* Not preempted between the check and the IPI: the CPU can't go offline. */
	me = get_cpu();
	if (cpu >= 0 && cpu != me && cpu_online(cpu))
		smp_send_reschedule(cpu);
	put_cpu();
}

/* ---- accepting interrupts (SDM 10.6.2.2, 10.8.3) ---- */


static void accept_fixed(struct kvmx_vcpu *v, u8 vector, bool level)
{
	struct kvmx_lapic *a = v->apic;

	if (level)
		set_bit(VEC_BIT(vector), vec_word(a, APIC_TMR, vector));
	else
		clear_bit(VEC_BIT(vector), vec_word(a, APIC_TMR, vector));
	/* Fixed for the VM's life, unlike v->vid, which the first entry sets. */
	if (kvmx_lapic_apicv(v))
		set_bit(vector, a->pir);
	else
		set_bit(VEC_BIT(vector), vec_word(a, APIC_IRR, vector));
	kvmx_vcpu_kick(v);
}

/* In the vCPU's thread, outside the guest: accepted vectors into IRR. */
static void pir_to_irr(struct kvmx_lapic *a)
{
	unsigned long bits;
	int i, b;

	for (i = 0; i < ARRAY_SIZE(a->pir); i++) {
		if (!READ_ONCE(a->pir[i]))
			continue;
		bits = xchg(&a->pir[i], 0);
		for_each_set_bit(b, &bits, BITS_PER_LONG) {
			unsigned int vec = i * BITS_PER_LONG + b;

			set_bit(VEC_BIT(vec), vec_word(a, APIC_IRR, vec));
		}
	}
}

/* @m arrives at @v's APIC.  True if it took it. */
static bool accept_irq(struct kvmx_vcpu *v, const struct kvmx_irq_msg *m)
{
	struct kvmx_lapic *a = v->apic;

	switch (m->delivery_mode) {
	case KVMX_DM_FIXED:
	case KVMX_DM_LOWEST:
		if (!apic_enabled(v))
			return false;
		accept_fixed(v, m->vector, m->level_trig);
		return true;
	case KVMX_DM_NMI:
		atomic_inc(&v->nmi_queued);
		kvmx_vcpu_kick(v);
		return true;
	case KVMX_DM_INIT:
		/* The "INIT level de-assert" of old MP start-up code does nothing. */
		if (m->level_trig && !m->assert)
			return false;
		set_bit(APIC_EV_INIT, &a->events);
		kvmx_vcpu_kick(v);
		return true;
	case KVMX_DM_SIPI:
		WRITE_ONCE(a->sipi_vector, m->vector);
		smp_mb__before_atomic();	/* the vector before the event */
		set_bit(APIC_EV_SIPI, &a->events);
		kvmx_vcpu_kick(v);
		return true;
	default:	/* SMI, ExtINT by message, reserved: not delivered */
		return false;
	}
}

/* Does @dest in mode @logical name @v's APIC (SDM 10.6.2)? */
static bool match_dest(struct kvmx_vcpu *v, u32 dest, bool logical, bool from_device)
{
	u32 ldr;

	if (!v->apic || !hw_enabled(v))
		return false;
	if (x2apic_mode(v)) {
		/* A device's 8-bit broadcast is a broadcast in x2APIC mode too. */
		if (dest == X2APIC_BROADCAST || (from_device && dest == XAPIC_BROADCAST))
			return true;
		if (!logical)
			return dest == apic_id(v);
		ldr = reg_read(v->apic, APIC_LDR);
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	}
	dest &= 0xff;
	if (dest == XAPIC_BROADCAST)
		return true;
	if (!logical)
		return dest == apic_id(v);
	ldr = reg_read(v->apic, APIC_LDR) >> 24;
	if ((reg_read(v->apic, APIC_DFR) >> 28) == 0xf)	/* flat model */
		return dest & ldr;
	/* cluster model: cluster in bits 7:4, one bit per APIC in 3:0 */
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
}

static bool in_msg_dest(struct kvmx_vcpu *v, struct kvmx_vcpu *src, const struct kvmx_irq_msg *m)
{
	/* A hardware-disabled APIC hears nothing, shorthands included. */
	if (!hw_enabled(v))
		return false;
	switch (m->shorthand) {
	case APIC_SH_SELF:
		return v == src;
	case APIC_SH_ALL:
		return true;
	case APIC_SH_OTHERS:
		return v != src;
	default:
		return match_dest(v, m->dest_id, m->logical, !src);
	}
}

bool kvmx_apic_match_dest(struct kvmx_vcpu *v, const struct kvmx_irq_msg *m)
{
	return v->apic && in_msg_dest(v, NULL, m);
}

int kvmx_apic_deliver(struct kvmx_vm *vm, struct kvmx_vcpu *src, const struct kvmx_irq_msg *m)
{
	struct kvmx_vcpu *lowest = NULL;
	int i, n = -1;

	rcu_read_lock();
	for (i = 0; i < KVMX_MAX_VCPUS; i++) {
		struct kvmx_vcpu *v = READ_ONCE(vm->vcpus[i]);

		if (!v || !v->apic || !in_msg_dest(v, src, m))
			continue;
		/*
		 * Lowest priority (SDM 10.6.2.4): the APIC with the lowest
		 * task priority among those addressed; ties to the lowest id.
		 */
		if (m->delivery_mode == KVMX_DM_LOWEST && m->shorthand == APIC_SH_NONE) {
			if (apic_enabled(v) &&
			    (!lowest || (reg_read(v->apic, APIC_TASKPRI) & 0xff) <
					(reg_read(lowest->apic, APIC_TASKPRI) & 0xff)))
				lowest = v;
			continue;
		}
		if (accept_irq(v, m))
			n = n < 0 ? 1 : n + 1;
	}
	if (lowest && accept_irq(lowest, m))
		n = 1;
	rcu_read_unlock();
	return n;
}

/*
 * KVM_HC_SEND_IPI (KVM_FEATURE_PV_SEND_IPI): one hypercall for an IPI to
 * many vCPUs, where x2APIC physical mode takes an ICR write per target.
 * Bit i of @bitmap[0] names APIC ID @min + i, of @bitmap[1] @min + @bits +
 * i (@bits: 64, or 32 for a 32-bit guest, as KVM's clusters).  @icr gives
 * vector and delivery mode; a destination mode or shorthand is refused.
 * The number of APICs that took it, as KVM's kvm_pv_send_ipi().
 */
long kvmx_pv_send_ipi(struct kvmx_vcpu *v, const unsigned long bitmap[2], u32 min,
		      unsigned long icr, unsigned int bits)
{
	struct kvmx_irq_msg m = {
		.vector = icr & APIC_VECTOR_MASK,
		.delivery_mode = (icr & APIC_MODE_MASK) >> 8,
		.level_trig = icr & APIC_INT_LEVELTRIG,
		.assert = icr & APIC_INT_ASSERT,
	};
	long n = 0;
	int i, j;

	if (icr & (APIC_DEST_LOGICAL | APIC_DEST_ALLBUT))	/* the mode bit, both shorthand bits */
		return -KVM_EINVAL;
	/*
	 * Each present APIC once, as KVM's map holds them (hardware-enabled
	 * ones), against the two windows of IDs; the second one's first ID
	 * wraps at 32 bits, as KVM's.
	 */
	rcu_read_lock();
	for (j = 0; j < KVMX_MAX_VCPUS; j++) {
		struct kvmx_vcpu *t = READ_ONCE(v->vm->vcpus[j]);
		u32 id;

		if (!t || !t->apic || !hw_enabled(t))
			continue;
		id = apic_id(t);
		for (i = 0; i < 2; i++) {
			u32 first = min + i * bits;

			if (id >= first && id - first < bits && test_bit(id - first, &bitmap[i]) &&
			    accept_irq(t, &m))
				n++;
		}
	}
	rcu_read_unlock();
	v->stat.ipis += n;
	return n;
}

void kvmx_msi_to_msg(u64 address, u32 data, struct kvmx_irq_msg *m)
{
	/* SDM Vol. 3A 10.11.1, 10.11.2: address 0xfeeXXXXX, data with the vector. */
	*m = (struct kvmx_irq_msg) {
		.dest_id = (address >> 12) & 0xff,
		.logical = address & BIT(2),
		.vector = data & 0xff,
		.delivery_mode = (data >> 8) & 7,
		.level_trig = data & BIT(15),
		.assert = true,
	};
}

/* ---- the LVT and the timer ---- */

/*
 * The entries the version register announces, all of which a reset or a
 * software disable masks (CMCI's too, whether offered or not).
 */
static const unsigned int lvt_regs[] = {
	APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_LVTCMCI,
};

static bool has_cmci(struct kvmx_vcpu *v)
{
	return v->mcg_cap & MCG_CMCI_P;
}

/* An LVT entry fires (timer, LINT0/1, error): deliver it to this APIC. */
static void lvt_fire(struct kvmx_vcpu *v, unsigned int lvt)
{
	u32 e = reg_read(v->apic, lvt);

	if (!hw_enabled(v) || (e & APIC_LVT_MASKED))
		return;
	switch ((e & APIC_MODE_MASK) >> 8) {
	case APIC_MODE_FIXED:
		if (sw_enabled(v->apic))
			accept_fixed(v, e & 0xff, lvt != APIC_LVTT && (e & APIC_LVT_LEVEL_TRIGGER));
		break;
	case APIC_MODE_NMI:
		atomic_inc(&v->nmi_queued);
		break;
	}
}

/*
 * The LVTT mode bits the guest's CPUID allows, as in KVM: periodic once a
 * CPUID table is set, TSC-deadline if it has that bit (leaf 1, ECX 24).
 */
static u32 timer_modes(struct kvmx_vcpu *v)
{
	const struct kvmx_cpuid_entry2 *e = kvmx_cpuid_entry(v, 1, 0);

	if (!v->cpuid_nent)
		return 0;
	return (e && (e->ecx & BIT(24))) ? 3 << 17 : 1 << 17;
}

static u32 timer_mode(struct kvmx_lapic *a)
{
	return a->lvtt_mode;
}

static u32 timer_divide(struct kvmx_lapic *a)
{
	u32 tdcr = reg_read(a, APIC_TDCR);
	u32 shift = (((tdcr & 3) | ((tdcr & 8) >> 1)) + 1) & 7;

	return 1u << shift;	/* 0b1011 (shift 0) divides by 1 */
}

static enum hrtimer_restart timer_expired(struct hrtimer *t)
{
	struct kvmx_lapic *a = container_of(t, struct kvmx_lapic, timer);

	atomic_inc(&a->timer_pending);
	kvmx_vcpu_kick(a->vcpu);
	if (a->period_ns) {
		hrtimer_add_expires_ns(t, a->period_ns);
		return HRTIMER_RESTART;
	}
	return HRTIMER_NORESTART;
}

static void timer_stop(struct kvmx_lapic *a)
{
	hrtimer_cancel(&a->timer);
	a->period_ns = 0;
}

/* TMICT was written: (re)start a one-shot or periodic count. */
static void timer_start_count(struct kvmx_lapic *a)
{
	u64 ns = (u64)reg_read(a, APIC_TMICT) * APIC_BUS_CYCLE_NS * timer_divide(a);

	timer_stop(a);
	atomic_set(&a->timer_pending, 0);
	if (!ns || timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		return;
	if (timer_mode(a) == APIC_LVT_TIMER_PERIODIC) {
		ns = max_t(u64, ns, MIN_TIMER_PERIOD_NS);
		a->period_ns = ns;
	}
	a->armed_at = ktime_get();
	hrtimer_start(&a->timer, ktime_add_ns(a->armed_at, ns), HRTIMER_MODE_ABS);
}

/* A corrected-error interrupt (mce.c): the CMCI entry fires. */
void kvmx_lapic_deliver_cmci(struct kvmx_vcpu *v)
{
	if (v->apic && has_cmci(v))
		lvt_fire(v, APIC_LVTCMCI);
}

/* KVM_X86_SETUP_MCE changed MCG_CMCI_P: the version register counts the LVT. */
void kvmx_lapic_mcg_cap_changed(struct kvmx_vcpu *v)
{
	if (!v->apic || reg_read(v->apic, APIC_LVR) == lapic_version(v))
		return;
	reg_write(v->apic, APIC_LVR, lapic_version(v));
	/* A new entry starts masked (KVM's rule); a removed one reads masked. */
	reg_write(v->apic, APIC_LVTCMCI, APIC_LVT_MASKED);
}

/* IA32_TSC_DEADLINE written: fire when the guest's TSC reaches it. */
static void timer_start_deadline(struct kvmx_lapic *a)
{
	u64 now, delta, ns = 0;

	timer_stop(a);
	/* An expiry of the old deadline not yet taken in is void now. */
	atomic_set(&a->timer_pending, 0);
	if (!a->tsc_deadline || timer_mode(a) != APIC_LVT_TIMER_TSCDEADLINE)
		return;
	now = kvmx_guest_tsc(a->vcpu);
	if (a->tsc_deadline <= now) {
		/* Already passed: it fires before the next entry, no timer needed. */
		atomic_inc(&a->timer_pending);
		return;
	}
	delta = a->tsc_deadline - now;
	/*
	 * The guest's TSC runs at the host's rate (no scaling here).  A delta
	 * whose nanoseconds overflow (mul_u64_u32_div would #DE on x86-64)
	 * or pass KTIME_MAX is "never": the hrtimer waits at KTIME_MAX.
	 */
	if (delta > U64_MAX / NSEC_PER_MSEC)
		ns = KTIME_MAX;
	else
		ns = div_u64(delta * NSEC_PER_MSEC, tsc_khz);
	hrtimer_start(&a->timer, ktime_add_safe(ktime_get(), ns_to_ktime(min_t(u64, ns, KTIME_MAX))),
		      HRTIMER_MODE_ABS);
}

/* TMCCT: what is left of the count (SDM 10.5.4). */
static u32 timer_current_count(struct kvmx_lapic *a)
{
	u64 total = (u64)reg_read(a, APIC_TMICT) * APIC_BUS_CYCLE_NS * timer_divide(a);
	s64 left;

	if (!total || timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE || !hrtimer_active(&a->timer))
		return 0;
	/* The callback moves a periodic expiry on: this is within the current period. */
	left = ktime_to_ns(ktime_sub(hrtimer_get_expires(&a->timer), ktime_get()));
	if (left < 0)
		left = 0;
	return div64_u64(left, APIC_BUS_CYCLE_NS * timer_divide(a));
}

/* ---- register writes ---- */

static void set_ldr_x2apic(struct kvmx_lapic *a, u32 id)
{
	/* Derived from the ID and read-only in x2APIC mode (SDM 10.12.10.2). */
	reg_write(a, APIC_LDR, ((id >> 4) << 16) | BIT(id & 0xf));
}

/* Our IOAPIC waits for the EOI of edge-triggered @vec too (a resampling irqfd). */
static bool ioapic_wants_edge_eoi(struct kvmx_vcpu *v, u8 vec)
{
	return kvmx_ioapic_edge_eoi_wanted(v->vm->irqchip->ioapic, vec >> 6) & BIT_ULL(vec & 63);
}

/*
 * The end of a level-triggered interrupt goes on to the IOAPIC, where its
 * pin's remote IRR waits for it: ours, or with a split irqchip the VMM's
 * (an exit before the next entry, as KVM).
 */
static void ioapic_eoi(struct kvmx_vcpu *v, u8 vec, bool level)
{
	struct kvmx_vm_irqchip *chip = v->vm->irqchip;

	/* The VMM's IOAPIC: its level routes decide (KVM's test too). */
	if (chip->split) {
		if (kvmx_irqchip_user_ioapic_eoi(v, vec))
			v->user_ioapic_eoi = vec;
		return;
	}
	if (level || ioapic_wants_edge_eoi(v, vec))
		kvmx_ioapic_eoi(chip->ioapic, vec, level);
}

/* The highest in-service vector is done (SDM 10.8.5). */
static void apic_eoi(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	int vec = highest_vector(a, APIC_ISR);

	if (vec < 0)
		return;
	clear_bit(VEC_BIT(vec), vec_word(a, APIC_ISR, vec));
	ioapic_eoi(v, vec, test_bit(VEC_BIT(vec), vec_word(a, APIC_TMR, vec)));
}

static void send_ipi(struct kvmx_vcpu *v, u32 icr_low, u32 dest)
{
	struct kvmx_irq_msg m = {
		.dest_id = dest,
		.vector = icr_low & APIC_VECTOR_MASK,
		.delivery_mode = (icr_low & APIC_DM_FIXED_MASK) >> 8,
		.shorthand = (icr_low >> 18) & 3,
		.logical = icr_low & APIC_DEST_LOGICAL,
		.level_trig = icr_low & APIC_INT_LEVELTRIG,
		.assert = icr_low & APIC_INT_ASSERT,
	};

	v->stat.ipis++;
	kvmx_apic_deliver(v->vm, v, &m);
}

static void write_svr(struct kvmx_lapic *a, u32 val)
{
	unsigned int i;

	reg_write(a, APIC_SPIV, val & 0x11ff);	/* vector, enable, no EOI broadcast */
	/* Software-disabled: every LVT entry masked (SDM 10.4.7.2). */
	if (!(val & APIC_SPIV_APIC_ENABLED)) {
		for (i = 0; i < ARRAY_SIZE(lvt_regs); i++)
			reg_write(a, lvt_regs[i], reg_read(a, lvt_regs[i]) | APIC_LVT_MASKED);
		timer_stop(a);
	}
}

/*
 * A write of @val to register @off by the guest (MMIO or x2APIC MSR):
 * 0, or 1 if it must fault (an x2APIC write to a read-only register).
 */
static int reg_store(struct kvmx_vcpu *v, unsigned int off, u32 val)
{
	struct kvmx_lapic *a = v->apic;
	bool x2 = x2apic_mode(v);
	u32 mask = APIC_LVT_MASKED | APIC_INPUT_POLARITY | APIC_LVT_LEVEL_TRIGGER |
		   APIC_MODE_MASK | 0xff;

	switch (off) {
	case APIC_ID:
		if (x2)
			return 1;
		reg_write(a, APIC_ID, val & 0xff000000);
		break;
	case APIC_TASKPRI:
		reg_write(a, APIC_TASKPRI, val & 0xff);
		v->cr8 = (val & 0xff) >> 4;
		break;
	case APIC_EOI:
		apic_eoi(v);
		break;
	case APIC_LDR:
		if (x2)
			return 1;
		reg_write(a, APIC_LDR, val & APIC_LDR_MASK);
		break;
	case APIC_DFR:
		if (x2)
			return 1;
		reg_write(a, APIC_DFR, val | 0x0fffffff);
		break;
	case APIC_SPIV:
		write_svr(a, val);
		break;
	case APIC_ESR:
		/* A write arms the register for the next read; no errors are recorded. */
		reg_write(a, APIC_ESR, 0);
		break;
	case APIC_ICR:
		reg_write(a, APIC_ICR, val & ~APIC_ICR_BUSY);
		send_ipi(v, val, x2 ? reg_read(a, APIC_ICR2) : reg_read(a, APIC_ICR2) >> 24);
		break;
	case APIC_ICR2:
		if (x2)
			return 1;
		reg_write(a, APIC_ICR2, val & 0xff000000);
		break;
	case APIC_LVTT:
		mask = APIC_LVT_MASKED | timer_modes(v) | 0xff;
		if (!sw_enabled(a))
			val |= APIC_LVT_MASKED;
		if ((val & mask & (3 << 17)) != a->lvtt_mode) {
			/* A mode change disarms the timer (SDM 10.5.4.1). */
			timer_stop(a);
			reg_write(a, APIC_TMICT, 0);
			a->tsc_deadline = 0;
			a->lvtt_mode = val & mask & (3 << 17);
		}
		reg_write(a, APIC_LVTT, val & mask);
		break;
	case APIC_LVTCMCI:
		if (!has_cmci(v))
			return x2 ? 1 : 0;
		fallthrough;
	case APIC_LVTTHMR:
	case APIC_LVTPC:
	case APIC_LVT0:
	case APIC_LVT1:
	case APIC_LVTERR:
		if (off == APIC_LVTTHMR || off == APIC_LVTPC || off == APIC_LVTERR ||
		    off == APIC_LVTCMCI)
			mask = APIC_LVT_MASKED | APIC_MODE_MASK | 0xff;
		if (off == APIC_LVTERR)
			mask = APIC_LVT_MASKED | 0xff;
		if (!sw_enabled(a))
			val |= APIC_LVT_MASKED;
		reg_write(a, off, val & mask);
		/* LINT0 may now take the PIC's ExtINT: look again. */
		if (off == APIC_LVT0)
			kvmx_vcpu_kick(v);
		break;
	case APIC_TMICT:
		/* Ignored, and still 0 after an APIC-write exit. */
		if (timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE) {
			reg_write(a, APIC_TMICT, 0);
			break;
		}
		reg_write(a, APIC_TMICT, val);
		timer_start_count(a);
		break;
	case APIC_TDCR:
		reg_write(a, APIC_TDCR, val & 0xb);
		break;
	case APIC_SELF_IPI:
		if (!x2)
			return 1;
		send_ipi(v, (val & 0xff) | APIC_DEST_SELF, 0);
		break;
	default:
		/* Read-only or reserved: ignored in xAPIC mode, #GP for x2APIC MSRs. */
		return x2 ? 1 : 0;
	}
	return 0;
}

/* Registers a read reaches; anything else reads 0 (xAPIC) or faults (x2APIC). */
static bool readable(struct kvmx_vcpu *v, unsigned int off, bool x2)
{
	switch (off) {
	case APIC_LVTCMCI:
		return has_cmci(v);
	case APIC_ID: case APIC_LVR: case APIC_TASKPRI: case APIC_PROCPRI:
	case APIC_LDR: case APIC_SPIV: case APIC_ESR: case APIC_ICR:
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0:
	case APIC_LVT1: case APIC_LVTERR: case APIC_TMICT: case APIC_TMCCT:
	case APIC_TDCR:
		return true;
	case APIC_ARBPRI: case APIC_DFR: case APIC_ICR2:
		return !x2;
	default:
		return (off >= APIC_ISR && off < APIC_ISR + 0x180);	/* ISR, TMR, IRR */
	}
}

static u32 reg_load(struct kvmx_vcpu *v, unsigned int off)
{
	struct kvmx_lapic *a = v->apic;

	switch (off) {
	case APIC_PROCPRI:
		return ppr(a);
	case APIC_TMCCT:
		return timer_current_count(a);
	case APIC_ARBPRI:
		return 0;
	default:
		return reg_read(a, off);
	}
}

/* ---- the xAPIC page (MMIO) ---- */

bool kvmx_lapic_mmio(struct kvmx_vcpu *v, u64 gpa, unsigned int len, bool write, void *data)
{
	u64 base = v->apic_base & MSR_IA32_APICBASE_BASE;
	unsigned int off = gpa - base;
	u32 val = 0;

	if (!v->apic || !hw_enabled(v) || x2apic_mode(v) || gpa < base || gpa >= base + PAGE_SIZE)
		return false;
	/*
	 * Registers are 32 bits, 16-byte aligned (SDM 10.4.1); other widths
	 * and offsets read 0 and write nothing, as KVM does.
	 */
	if (len != 4 || (off & 0xf)) {
		if (!write)
			memset(data, 0, len);
		return true;
	}
	off = array_index_nospec(off, PAGE_SIZE);
	/* Reported once the instruction is done, at the RIP it has now (KVM). */
	if (off == APIC_TASKPRI && v->tpr_access_reporting) {
		v->tpr_access.pending = true;
		v->tpr_access.write = write;
		v->tpr_access.rip = vmcs_read(VMCS_GUEST_RIP);
	}
	if (write) {
		memcpy(&val, data, 4);
		reg_store(v, off, val);
	} else {
		if (off < KVMX_APIC_REG_SIZE && readable(v, off, false))
			val = reg_load(v, off);
		memcpy(data, &val, 4);
	}
	return true;
}

/* ---- MSRs ---- */

static bool is_x2apic_msr(u32 index)
{
	return index >= APIC_BASE_MSR && index < APIC_BASE_MSR + 0x100;
}

int kvmx_lapic_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data)
{
	unsigned int off;

	if (!v->apic)
		return -ENOENT;
	if (index == MSR_IA32_TSC_DEADLINE) {
		/* Reads 0 outside TSC-deadline mode (SDM 10.5.4.1). */
		*data = timer_mode(v->apic) == APIC_LVT_TIMER_TSCDEADLINE ?
			v->apic->tsc_deadline : 0;
		return 0;
	}
	if (!is_x2apic_msr(index))
		return -ENOENT;
	off = (index - APIC_BASE_MSR) << 4;
	if (!x2apic_mode(v) || !readable(v, off, true))
		return 1;
	*data = reg_load(v, off);
	if (off == APIC_ICR)
		*data |= (u64)reg_read(v->apic, APIC_ICR2) << 32;
	return 0;
}

/*
 * IA32_APIC_BASE values anyone may write (SDM 10.4.4, 10.12.5), as KVM
 * checks them: no reserved bits (x2APIC is one unless the vCPU's CPUID has
 * it), and no x2APIC without the global enable.
 */
bool kvmx_apic_base_valid(struct kvmx_vcpu *v, u64 data)
{
	const struct kvmx_cpuid_entry2 *e = kvmx_cpuid_entry(v, 1, 0);
	u64 ok = MSR_IA32_APICBASE_BASE | MSR_IA32_APICBASE_ENABLE | MSR_IA32_APICBASE_BSP;

	if (e && (e->ecx & BIT(21)))
		ok |= X2APIC_ENABLE;
	if (data & ~ok)
		return false;
	return !((data & X2APIC_ENABLE) && !(data & MSR_IA32_APICBASE_ENABLE));
}

/* IA32_APIC_BASE (SDM 10.4.4, 10.12.5): the legal transitions only. */
static int set_apic_base(struct kvmx_vcpu *v, u64 data, bool host)
{
	u64 old = v->apic_base;
	u64 en = MSR_IA32_APICBASE_ENABLE, x2 = X2APIC_ENABLE;
	struct kvmx_lapic *a = v->apic;
	u32 id = v->id;

	if (!kvmx_apic_base_valid(v, data))
		return 1;
	/* x2APIC -> xAPIC and disabled -> x2APIC must pass through another state first. */
	if (!host && (((old & x2) && (data & en) && !(data & x2)) ||
		      (!(old & en) && (data & x2))))
		return 1;
	v->apic_base = data;
	if ((data & x2) && !(old & x2)) {
		reg_write(a, APIC_ID, id);
		set_ldr_x2apic(a, id);
	} else if (!(data & x2) && (old & x2)) {
		reg_write(a, APIC_ID, id << 24);
	}
	return 0;
}

int kvmx_lapic_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host)
{
	unsigned int off;

	if (!v->apic)
		return -ENOENT;
	if (index == MSR_IA32_APICBASE)
		return set_apic_base(v, data, host);
	if (index == MSR_IA32_TSC_DEADLINE) {
		/* Ignored outside TSC-deadline mode (SDM 10.5.4.1). */
		if (timer_mode(v->apic) != APIC_LVT_TIMER_TSCDEADLINE)
			return 0;
		v->apic->tsc_deadline = data;
		timer_start_deadline(v->apic);
		return 0;
	}
	if (!is_x2apic_msr(index))
		return -ENOENT;
	off = (index - APIC_BASE_MSR) << 4;
	if (!x2apic_mode(v))
		return 1;
	/* Reserved bits of the 32-bit registers are 0 (SDM 10.12.1.2). */
	if (off == APIC_ICR) {
		reg_write(v->apic, APIC_ICR2, data >> 32);
		return reg_store(v, off, (u32)data);
	}
	if (data >> 32)
		return 1;
	/* Writes of anything but 0 to EOI and ESR fault in x2APIC mode. */
	if ((off == APIC_EOI || off == APIC_ESR) && data)
		return 1;
	return reg_store(v, off, data);
}

void kvmx_lapic_set_cr8(struct kvmx_vcpu *v, u64 cr8)
{
	v->cr8 = cr8 & 0xf;
	if (v->apic)
		reg_write(v->apic, APIC_TASKPRI, (cr8 & 0xf) << 4);
}

/* The highest requested vector, and in bits 8+ how many more: -1 if none. */
static int irr_signature(struct kvmx_lapic *a)
{
	int irr = highest_vector(a, APIC_IRR), i, more = -1;

	if (irr < 0)
		return -1;
	for (i = 0; i < 8; i++)
		more += hweight32(reg_read(a, APIC_IRR + 0x10 * i));
	return irr | more << 8;
}

/*
 * KVM's PV EOI (KVM_FEATURE_PV_EOI, Documentation/virt/kvm/x86/msr.rst):
 * the guest names a byte of its memory with MSR_KVM_PV_EOI_EN; when bit 0
 * is set there, its interrupt handler clears it instead of writing EOI,
 * and the EOI is done at the next exit.  Only without APIC virtualization
 * (with it the CPU retires EOIs itself, and KVM does not set the flag
 * either).  As KVM's apic_sync_pv_eoi_to_guest(): set before an entry
 * while an interrupt is in service, none is requested, and the vector is
 * not level-triggered (the IOAPIC must see its EOI).
 */
int kvmx_pv_eoi_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data)
{
	if (index != MSR_KVM_PV_EOI_EN)
		return -ENOENT;
	if (!kvmx_guest_pv_has(v, KVM_FEATURE_PV_EOI))
		return 1;
	*data = v->pv_eoi_msr;
	return 0;
}

int kvmx_pv_eoi_set_msr(struct kvmx_vcpu *v, u32 index, u64 data)
{
	u64 gpa = data & ~KVM_MSR_ENABLED;
	struct kvmx_slot_view view;

	if (index != MSR_KVM_PV_EOI_EN)
		return -ENOENT;
	if (!kvmx_guest_pv_has(v, KVM_FEATURE_PV_EOI) || !IS_ALIGNED(gpa, 4))
		return 1;
	/* As KVM's cache init: the byte must be guest memory, writable. */
	if ((data & KVM_MSR_ENABLED) &&
	    (!kvmx_slot_view(v->vm, gpa >> PAGE_SHIFT, &view) || (view.flags & KVMX_MEM_READONLY)))
		return 1;
	v->pv_eoi_pending = false;	/* the old byte is the guest's again */
	v->pv_eoi_msr = data;
	return 0;
}

/*
 * Before an entry, interrupts on.  KVM sets the flag right after it
 * injects; kvmx injects later, with interrupts off, where guest memory
 * can't be written: so the flag is also set for the one vector this
 * entry may inject (none in service, one requested).  If it doesn't go
 * in, nothing is lost: the guest consults the flag only at an EOI, and
 * every EOI ends the highest vector in service, which the next exit's
 * apic_eoi() does in its place.
 */
static void pv_eoi_to_guest(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	u8 set = KVM_PV_EOI_ENABLED;
	int isr, irr, vec;
	bool flush = v->l1d_flush_pending;

	if (!(v->pv_eoi_msr & KVM_MSR_ENABLED) || kvmx_lapic_apicv(v) || v->pv_eoi_pending)
		return;
	isr = highest_vector(a, APIC_ISR);
	irr = irr_signature(a);
	if (isr >= 0 && irr < 0)
		vec = isr;		/* KVM's case: in service, nothing requested */
	else if (isr < 0 && irr >= 0 && !(irr & 0xff00))
		vec = irr;		/* one requested, about to go in */
	else
		return;
	/* An IOAPIC waits for this vector's EOI (ioapic_eoi()): not delayed. */
	if (v->vm->irqchip->split ? kvmx_irqchip_user_ioapic_eoi(v, vec) :
				    test_bit(VEC_BIT(vec), vec_word(a, APIC_TMR, vec)) ||
				    ioapic_wants_edge_eoi(v, vec))
		return;
	if (!kvmx_write_gpa(v, v->pv_eoi_msr & ~KVM_MSR_ENABLED, &set, 1)) {
		v->pv_eoi_pending = true;
		a->pv_eoi_irr = irr;
	}
	/* One byte the guest chose: no flush for it, as KVM's cached access. */
	v->l1d_flush_pending = flush;
}

/*
 * Interrupts off, the kick armed (enter_guest()): a vector accepted since
 * the flag was set would wait, if the guest's PV EOI unmasks it, for an
 * unrelated exit: the entry is retried, and the flag taken back first.
 */
bool kvmx_lapic_pv_eoi_stale(struct kvmx_vcpu *v)
{
	return unlikely(v->pv_eoi_pending) && irr_signature(v->apic) != v->apic->pv_eoi_irr;
}

/*
 * After every return from enter_guest(), the guest run or not: did its
 * handler take the flag (its EOI), or is it still set?  As KVM's
 * pv_eoi_test_and_clr_pending(), a byte that can't be read or cleared
 * counts as taken.
 */
void kvmx_lapic_pv_eoi_sync(struct kvmx_vcpu *v)
{
	u64 gpa = v->pv_eoi_msr & ~KVM_MSR_ENABLED;
	bool flush = v->l1d_flush_pending;
	u8 flag = 0;

	if (likely(!v->pv_eoi_pending))
		return;
	v->pv_eoi_pending = false;
	if (kvmx_read_gpa(v, gpa, &flag, 1) || !(flag & KVM_PV_EOI_ENABLED)) {
		apic_eoi(v);
	} else {
		flag = 0;	/* not used: the guest writes EOI itself, as usual */
		if (kvmx_write_gpa(v, gpa, &flag, 1))
			apic_eoi(v);
	}
	v->l1d_flush_pending = flush;
}

/*
 * ---- the TPR mirror of KVM_SET_VAPIC_ADDR ----
 * QEMU's kvmvapic option ROM patches 32-bit Windows' TPR accesses into
 * accesses to this u32 in guest memory, which the module keeps in step with
 * the APIC: it reads the TPR there after each exit and writes TPR, the
 * highest in-service class and the highest requested vector before each
 * entry.
 */
void kvmx_lapic_sync_to_vapic(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	int irr, isr;
	u32 data;

	if (!a)
		return;
	pv_eoi_to_guest(v);
	if (!a->vapic_addr || !apic_enabled(v))
		return;
	pir_to_irr(a);
	irr = max(highest_vector(a, APIC_IRR), 0);
	isr = max(highest_vector(a, APIC_ISR), 0);
	data = (reg_read(a, APIC_TASKPRI) & 0xff) | ((isr & 0xf0) << 8) | ((u32)irr << 24);
	kvmx_write_gpa(v, a->vapic_addr, &data, sizeof(data));
}

void kvmx_lapic_sync_from_vapic(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	u32 data;

	if (!a || !a->vapic_addr || kvmx_read_gpa(v, a->vapic_addr, &data, sizeof(data)))
		return;
	reg_write(a, APIC_TASKPRI, data & 0xff);
	v->cr8 = (data & 0xff) >> 4;
}

static int set_vapic_addr(struct kvmx_vcpu *v, struct kvmx_vapic_addr __user *u)
{
	struct kvmx_vapic_addr va;
	u32 probe;

	if (copy_from_user(&va, u, sizeof(va)))
		return -EFAULT;
	/* As KVM: the u32 must lie in guest memory (in one slot). */
	if (va.vapic_addr && kvmx_read_gpa(v, va.vapic_addr, &probe, sizeof(probe)))
		return -EINVAL;
	v->apic->vapic_addr = va.vapic_addr;
	return 0;
}

static int tpr_access_reporting(struct kvmx_vcpu *v, struct kvmx_tpr_access_ctl __user *u)
{
	struct kvmx_tpr_access_ctl ctl;

	if (copy_from_user(&ctl, u, sizeof(ctl)))
		return -EFAULT;
	if (ctl.flags)
		return -EINVAL;
	v->tpr_access_reporting = !!ctl.enabled;
	/* KVM writes the structure back unchanged; so do we. */
	return copy_to_user(u, &ctl, sizeof(ctl)) ? -EFAULT : 0;
}

/* ---- APIC virtualization (SDM 29) ---- */

bool kvmx_lapic_apicv(struct kvmx_vcpu *v)
{
	return v->apic && apicv && kvmx_ctls.apicv;
}

/* First entry: the VMCS learns the page; CR8 is VTPR from now on (TPR shadow). */
static void apicv_setup(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;

	v->proc_ctls = (v->proc_ctls | PROC_TPR_SHADOW) &
		       ~(PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING);
	vmcs_write(VMCS_PROC_BASED_CTLS, v->proc_ctls);
	vmcs_write(VMCS_PROC_BASED_CTLS2, vmcs_read32(VMCS_PROC_BASED_CTLS2) |
		   PROC2_APIC_REG_VIRT | PROC2_VIRT_INTR_DELIVERY);
	vmcs_write(VMCS_VIRTUAL_APIC_PAGE_ADDR, __pa(a->regs));
	vmcs_write(VMCS_APIC_ACCESS_ADDR, PFN_PHYS(page_to_pfn(v->vm->apic_access_page)));
	vmcs_write(VMCS_TPR_THRESHOLD, 0);	/* unused with virtual-interrupt delivery */
	memset(a->eoi_exit, 0xff, sizeof(a->eoi_exit));	/* written below, once */
	a->vx2 = false;
	a->vaa = false;
	v->vid = true;
}

/*
 * Before each entry, interrupts off: RVI (the highest requested vector)
 * and SVI (the highest in service) from the page, which we write too
 * (SDM 29.1.1); the CPU delivers from RVI when the guest can take it.
 * EOIs of level-triggered vectors exit: the IOAPIC waits for them.
 *
 * @blocked says the guest can't take an interrupt at this entry (IF=0, an
 * STI or MOV SS shadow, an event going in).  True means: ask for an
 * interrupt-window exit, the interrupt goes in at the entry after it.
 *
 * Why not let the CPU hold it pending until IF=1, as the SDM allows
 * (29.2.1)?  Bochs, the rig's CPU, delivers a pending virtual interrupt
 * whatever the guest's IF when a host interrupt arrives meanwhile (2.7's
 * event.cc: InterruptAcknowledge() tests is_pending(), not the mask that
 * IF=0 set).  A Linux guest then took its timer interrupt inside another
 * interrupt handler holding the runqueue lock and spun on it for ever
 * (SMP boots with apicv=1 stalled 1 in 2).  So no virtual interrupt may
 * become pending while the guest can't take it:
 *  - at entry: interrupt-window exiting, with which none is recognised;
 *  - during the run, an EOI in a handler (IF=0) can unblock a requested
 *    vector: while any requested vector stays behind at entry, the EOIs of
 *    the requested and in-service vectors exit, and the next entry decides;
 *  - self-IPIs and x2APIC TPR writes exit (the x2APIC MSR bitmap), and so
 *    do CR8 writes while TPR alone holds a requested vector back;
 *  - in xAPIC mode a write of a self-IPI to ICR, or of TPR, would go in
 *    without an exit (SDM 29.4.3): the APIC-access page is mapped
 *    read-only unless apicv_xapic_writes=1, so every write exits.
 * On a real CPU this costs only these exits.
 */
bool kvmx_lapic_vid_sync(struct kvmx_vcpu *v, bool blocked)
{
	struct kvmx_lapic *a = v->apic;
	int irr = -1, isr = -1, i, requested = 0;
	struct kvmx_ioapic *ioapic = v->vm->irqchip->ioapic;	/* NULL: split irqchip */
	bool deliverable, window, guard, cr8_exit, vaa;
	u32 irrw[8], isrw[8], ctls;

	if (unlikely(!v->vid))
		apicv_setup(v);
	/*
	 * The xAPIC page is virtualized where the VM's APIC-access page is
	 * mapped: at the default base.  A CPU may cache the translations it
	 * used before the change (SDM 29.4.5): the guest's are flushed.
	 */
	vaa = hw_enabled(v) && !x2apic_mode(v) &&
	      (v->apic_base & MSR_IA32_APICBASE_BASE) == APIC_DEFAULT_PHYS_BASE;
	if (unlikely(x2apic_mode(v) != a->vx2 || vaa != a->vaa)) {
		a->vx2 = x2apic_mode(v);
		a->vaa = vaa;
		kvmx_vmcs_apic_virt_mode(v, a->vx2, a->vaa);
		/* Guest-physical and combined translations (KVM: "flush current"). */
		kvmx_ept_flush_local(v->vm);
		v->flush_guest_tlb = true;
	}
	pir_to_irr(a);
	/* One read of IRR and ISR: RVI, SVI and how many vectors are requested. */
	for (i = 7; i >= 0; i--) {
		irrw[i] = reg_read(a, APIC_IRR + 0x10 * i);
		isrw[i] = reg_read(a, APIC_ISR + 0x10 * i);
		if (irr < 0 && irrw[i])
			irr = i * 32 + __fls(irrw[i]);
		if (isr < 0 && isrw[i])
			isr = i * 32 + __fls(isrw[i]);
		requested += hweight32(irrw[i]);
	}
	deliverable = irr >= 0 && (u32)(irr & 0xf0) > (ppr_with(a, isr) & 0xf0);
	/*
	 * With the window on, nothing can become pending during the run;
	 * without it, a requested vector that doesn't go in at entry can.
	 */
	window = blocked && deliverable;
	guard = !window && irr >= 0 && (!deliverable || requested > 1);
	/*
	 * Held back by TPR alone: a MOV to CR8 that lowers it (Windows' IRQL)
	 * exits meanwhile, so that the next entry decides.
	 */
	cr8_exit = irr >= 0 && !deliverable && (u32)(irr & 0xf0) > (u32)(max(isr, 0) & 0xf0);
	ctls = cr8_exit ? v->proc_ctls | PROC_CR8_LOAD_EXITING :
			  v->proc_ctls & ~PROC_CR8_LOAD_EXITING;
	if (ctls != v->proc_ctls) {
		v->proc_ctls = ctls;
		vmcs_write(VMCS_PROC_BASED_CTLS, ctls);
	}
	for (i = 0; i < 4; i++) {
		u64 e = reg_read(a, APIC_TMR + 0x20 * i) |
			(u64)reg_read(a, APIC_TMR + 0x20 * i + 0x10) << 32;

		a->tmr_at_entry[i] = e;
		if (ioapic)
			e |= kvmx_ioapic_edge_eoi_wanted(ioapic, i);
		if (guard)
			e |= irrw[2 * i] | isrw[2 * i] |
			     (u64)(irrw[2 * i + 1] | isrw[2 * i + 1]) << 32;
		if (e != a->eoi_exit[i]) {
			a->eoi_exit[i] = e;
			vmcs_write(VMCS_EOI_EXIT_BITMAP0 + 2 * i, e);
		}
	}
	vmcs_write(VMCS_GUEST_INTR_STATUS, max(irr, 0) | max(isr, 0) << 8);
	return window;
}

/*
 * EOI-induced exit (SDM 29.1.2): the CPU did the APIC's part, the IOAPIC's
 * is ours when the vector was level-triggered (kvmx_lapic_vid_sync() makes
 * edge-triggered ones exit too: its guard, and the vectors of edge pins a
 * resampling irqfd holds up).  TMR as the entry saw it: another thread's
 * edge-triggered acceptance of the same vector may have cleared the bit
 * since, and the IOAPIC would wait for this EOI for ever.  (A split
 * irqchip's routes decide there, as in apic_eoi().)
 */
void kvmx_lapic_eoi_induced(struct kvmx_vcpu *v, u8 vec)
{
	ioapic_eoi(v, vec, v->apic->tmr_at_entry[vec >> 6] & BIT_ULL(vec & 63));
}

/*
 * The CPU wrote a register of the page (ID, LDR, DFR, SVR, ESR, ICR unless
 * a self-IPI, which goes in without an exit, an LVT entry, TMICT, TDCR:
 * SDM 29.4.3.2) and exited once the instruction was
 * done: the write takes effect now, as if it had been emulated.  What
 * reg_store() keeps of the old state is not in the page (lvtt_mode), and
 * it writes back the value the register must hold (reserved bits clear,
 * LVT entries masked while the APIC is software-disabled).
 */
void kvmx_lapic_apic_write(struct kvmx_vcpu *v, unsigned int off)
{
	off &= 0xff0;
	if (v->apic)
		reg_store(v, off, reg_read(v->apic, off));
}

bool kvmx_lapic_virtualizes_access(struct kvmx_vcpu *v, u64 gpa)
{
	return v->apic && v->vid && v->apic->vaa &&
	       (gpa & PAGE_MASK) == APIC_DEFAULT_PHYS_BASE;
}

bool kvmx_lapic_xapic_writes(void)
{
	return apicv_xapic_writes;
}

void kvmx_lapic_vm_free(struct kvmx_vm *vm)
{
	if (vm->apic_access_page)
		__free_page(vm->apic_access_page);
	vm->apic_access_page = NULL;
}

/* After each exit: the guest may have changed TPR without one (CR8, vapic). */
void kvmx_lapic_after_exit(struct kvmx_vcpu *v)
{
	if (v->vid)
		v->cr8 = (reg_read(v->apic, APIC_TASKPRI) >> 4) & 0xf;
	kvmx_lapic_pv_eoi_sync(v);
	kvmx_lapic_sync_from_vapic(v);
}

/* ---- what the run loop asks ---- */

/* LINT0 takes the PIC's ExtINT (or the APIC is off and the PIC is wired straight in). */
static bool accepts_extint(struct kvmx_vcpu *v)
{
	u32 lvt0;

	if (!hw_enabled(v))
		return true;
	lvt0 = reg_read(v->apic, APIC_LVT0);
	return !(lvt0 & APIC_LVT_MASKED) && ((lvt0 & APIC_MODE_MASK) >> 8) == APIC_MODE_EXTINT;
}

/* An 8259's INT waits at LINT0: ours, or the VMM's (KVM_INTERRUPT) with a split irqchip. */
static bool has_extint(struct kvmx_vcpu *v)
{
	struct kvmx_vm_irqchip *chip = v->vm->irqchip;

	if (!chip || !accepts_extint(v))
		return false;
	if (chip->split)
		return v->pending_extint >= 0;
	return kvmx_pic_output(chip->pic);
}

/*
 * KVM's test for KVM_INTERRUPT and the VMM's interrupt window: without an
 * in-kernel 8259 the VMM's can go in when LINT0 takes it and no other
 * waits.  (The interrupt flag and pending events are the run loop's part.)
 */
bool kvmx_vcpu_takes_user_irq(struct kvmx_vcpu *v)
{
	if (!v->apic)
		return v->pending_irq < 0;
	return v->vm->irqchip->split && !has_extint(v) && accepts_extint(v);
}

void kvmx_irqchip_kick_extint(struct kvmx_vm *vm)
{
	int i;

	rcu_read_lock();
	for (i = 0; i < KVMX_MAX_VCPUS; i++) {
		struct kvmx_vcpu *v = READ_ONCE(vm->vcpus[i]);

		if (v && v->apic && accepts_extint(v))
			kvmx_vcpu_kick(v);
	}
	rcu_read_unlock();
}

/* The vector the APIC would hand the CPU next, -1 if none beats PPR. */
static int apic_pending(struct kvmx_vcpu *v)
{
	int vec;

	if (!apic_enabled(v))
		return -1;
	pir_to_irr(v->apic);
	vec = highest_vector(v->apic, APIC_IRR);
	if (vec < 0 || (u32)(vec & 0xf0) <= (ppr(v->apic) & 0xf0))
		return -1;
	return vec;
}

bool kvmx_lapic_extint_pending(struct kvmx_vcpu *v)
{
	return has_extint(v);
}

bool kvmx_cpu_has_interrupt(struct kvmx_vcpu *v)
{
	return v->apic && (has_extint(v) || apic_pending(v) >= 0);
}

int kvmx_cpu_get_interrupt(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	int vec;

	if (has_extint(v)) {
		if (!v->vm->irqchip->split)
			return kvmx_pic_ack(v->vm->irqchip->pic);
		/* The VMM's 8259 was acknowledged before KVM_INTERRUPT. */
		vec = v->pending_extint;
		v->pending_extint = -1;
		return vec;
	}
	vec = apic_pending(v);
	if (vec < 0)
		return -1;
	/* The INTA cycle: IRR to ISR (SDM 10.8.4). */
	clear_bit(VEC_BIT(vec), vec_word(a, APIC_IRR, vec));
	set_bit(VEC_BIT(vec), vec_word(a, APIC_ISR, vec));
	return vec;
}

bool kvmx_lapic_events_pending(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;

	return READ_ONCE(a->events) || atomic_read(&a->timer_pending) ||
	       atomic_read(&v->nmi_queued);
}

bool kvmx_vcpu_has_wake_event(struct kvmx_vcpu *v)
{
	if (kvmx_lapic_events_pending(v))
		return true;
	/* A PV kick ends a halt only: an AP waiting for INIT or SIPI stays asleep. */
	return v->mp_state == KVMX_MP_STATE_HALTED &&
	       (READ_ONCE(v->pv_unhalted) || (v->halt_if && kvmx_cpu_has_interrupt(v)));
}

/* INIT (SDM 9.1, Table 9-1): the processor's reset state, MSRs kept. */
static void init_vcpu(struct kvmx_vcpu *v)
{
	u64 apic_base = v->apic_base, misc = v->misc_enable, pat = vmcs_read(VMCS_GUEST_IA32_PAT);
	u64 star = v->star, lstar = v->lstar, cstar = v->cstar, fmask = v->fmask;
	u64 kgs = v->kernel_gs_base, tsc_aux = v->tsc_aux;

	kvmx_vcpu_reset(v);
	v->apic_base = apic_base;
	v->misc_enable = misc;
	vmcs_write(VMCS_GUEST_IA32_PAT, pat);
	v->star = star;
	v->lstar = lstar;
	v->cstar = cstar;
	v->fmask = fmask;
	v->kernel_gs_base = kgs;
	v->tsc_aux = tsc_aux;
	kvmx_lapic_reset(v, true);
}

/* SIPI (SDM 10.4.4.1): real mode at vector << 12, CS = vector << 8. */
static void start_vcpu(struct kvmx_vcpu *v, u8 vector)
{
	vmcs_write(VMCS_GUEST_CS_SELECTOR, vector << 8);
	vmcs_write(VMCS_GUEST_CS_BASE, (u64)vector << 12);
	vmcs_write(VMCS_GUEST_RIP, 0);
	v->mp_state = KVMX_MP_STATE_RUNNABLE;
}

void kvmx_lapic_accept_events(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;
	unsigned long ev;
	int n;

	if (!a)
		return;
	n = atomic_xchg(&a->timer_pending, 0);
	if (n) {
		v->stat.apic_timer_irqs += n;
		if (timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
			a->tsc_deadline = 0;
		lvt_fire(v, APIC_LVTT);
	}
	n = atomic_xchg(&v->nmi_queued, 0);
	v->nmi_pending = min(v->nmi_pending + n, 2);
	if (!READ_ONCE(a->events))
		return;
	ev = xchg(&a->events, 0);
	if (ev & BIT(APIC_EV_INIT)) {
		init_vcpu(v);
		v->mp_state = v->id == v->vm->bsp_id ? KVMX_MP_STATE_RUNNABLE :
						       KVMX_MP_STATE_INIT_RECEIVED;
	}
	/* A SIPI only starts a processor waiting for one; others ignore it. */
	if ((ev & BIT(APIC_EV_SIPI)) && v->mp_state == KVMX_MP_STATE_INIT_RECEIVED) {
		/* Pairs with accept_irq(): the vector was written before the event. */
		smp_rmb();
		start_vcpu(v, READ_ONCE(a->sipi_vector));
	}
}

/* ---- life cycle ---- */

void kvmx_lapic_reset(struct kvmx_vcpu *v, bool init)
{
	struct kvmx_lapic *a = v->apic;
	unsigned int i;

	if (!a)
		return;
	if (!init)
		v->apic_base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
			       (v->id == v->vm->bsp_id ? MSR_IA32_APICBASE_BSP : 0);
	timer_stop(a);
	atomic_set(&a->timer_pending, 0);
	a->tsc_deadline = 0;
	a->lvtt_mode = 0;
	memset(a->regs, 0, PAGE_SIZE);
	bitmap_zero(a->pir, 256);
	reg_write(a, APIC_ID, x2apic_mode(v) ? v->id : v->id << 24);
	if (x2apic_mode(v))
		set_ldr_x2apic(a, v->id);
	reg_write(a, APIC_LVR, lapic_version(v));
	reg_write(a, APIC_DFR, 0xffffffff);
	reg_write(a, APIC_SPIV, 0xff);
	for (i = 0; i < ARRAY_SIZE(lvt_regs); i++)
		reg_write(a, lvt_regs[i], APIC_LVT_MASKED);
	/*
	 * The boot processor comes up with LINT0 in ExtINT mode, as KVM's,
	 * so a guest that never touches its APIC gets the PIC's interrupts.
	 */
	if (v->id == v->vm->bsp_id)
		reg_write(a, APIC_LVT0, APIC_MODE_EXTINT << 8);
	v->cr8 = 0;
}

int kvmx_lapic_create(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = kzalloc(sizeof(*a), GFP_KERNEL_ACCOUNT);

	if (!a)
		return -ENOMEM;
	a->regs = (u8 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!a->regs) {
		kfree(a);
		return -ENOMEM;
	}
	/*
	 * One APIC-access page for the VM, as KVM's (kvmx_ept_map_apic_access()
	 * maps it), zeroed: a vCPU that does not virtualize its accesses
	 * sees it as memory.  vm->lock serializes vCPU creation.
	 */
	if (apicv && kvmx_ctls.apicv && !v->vm->apic_access_page) {
		v->vm->apic_access_page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!v->vm->apic_access_page) {
			free_page((unsigned long)a->regs);
			kfree(a);
			return -ENOMEM;
		}
	}
	a->vcpu = v;
	/*
	 * Not _HARD: on PREEMPT_RT the callback then runs in softirq context,
	 * where the wake-up's lock may sleep; elsewhere it is hard irq anyway.
	 */
	hrtimer_init(&a->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	a->timer.function = timer_expired;
	v->apic = a;
	kvmx_lapic_reset(v, false);
	return 0;
}

void kvmx_lapic_free(struct kvmx_vcpu *v)
{
	struct kvmx_lapic *a = v->apic;

	if (!a)
		return;
	hrtimer_cancel(&a->timer);
	free_page((unsigned long)a->regs);
	kfree(a);
	v->apic = NULL;
}

/* ---- KVM_GET/SET_LAPIC ---- */

static int get_lapic(struct kvmx_vcpu *v, struct kvmx_lapic_state __user *u)
{
	struct kvmx_lapic *a = v->apic;
	struct kvmx_lapic_state *s;
	int r = 0;

	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	pir_to_irr(a);
	memcpy(s->regs, a->regs, sizeof(s->regs));
	*(u32 *)(s->regs + APIC_TMCCT) = timer_current_count(a);
	*(u32 *)(s->regs + APIC_PROCPRI) = ppr(a);
	/* Without KVM_CAP_X2APIC_API, KVM reports the x2APIC ID in bits 31:24 too. */
	if (x2apic_mode(v))
		*(u32 *)(s->regs + APIC_ID) = v->id << 24;
	if (copy_to_user(u, s, sizeof(*s)))
		r = -EFAULT;
	kfree(s);
	return r;
}

static int set_lapic(struct kvmx_vcpu *v, struct kvmx_lapic_state __user *u)
{
	struct kvmx_lapic *a = v->apic;
	struct kvmx_lapic_state *s;
	u32 id;

	s = memdup_user(u, sizeof(*s));
	if (IS_ERR(s))
		return PTR_ERR(s);
	id = *(u32 *)(s->regs + APIC_ID);
	/* In x2APIC mode the ID is the vCPU's, and KVM rejects any other. */
	if (x2apic_mode(v) && (id >> 24) != v->id) {
		kfree(s);
		return -EINVAL;
	}
	timer_stop(a);
	atomic_set(&a->timer_pending, 0);
	bitmap_zero(a->pir, 256);	/* the state replaces what was accepted */
	memcpy(a->regs, s->regs, sizeof(s->regs));
	kfree(s);
	/* Registers with derived or fixed bits are rebuilt, not trusted. */
	if (x2apic_mode(v)) {
		reg_write(a, APIC_ID, v->id);
		set_ldr_x2apic(a, v->id);
	} else {
		reg_write(a, APIC_ID, id & 0xff000000);
	}
	reg_write(a, APIC_LVR, lapic_version(v));
	reg_write(a, APIC_PROCPRI, 0);
	reg_write(a, APIC_TMCCT, 0);
	reg_write(a, APIC_SPIV, reg_read(a, APIC_SPIV) & 0x11ff);
	reg_write(a, APIC_TASKPRI, reg_read(a, APIC_TASKPRI) & 0xff);
	reg_write(a, APIC_TDCR, reg_read(a, APIC_TDCR) & 0xb);
	a->lvtt_mode = reg_read(a, APIC_LVTT) & (3 << 17);
	v->cr8 = reg_read(a, APIC_TASKPRI) >> 4;
	if (timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		timer_start_deadline(a);	/* the IA32_TSC_DEADLINE it had */
	else
		timer_start_count(a);
	kvmx_vcpu_kick(v);
	return 0;
}

long kvmx_lapic_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp)
{
	/* KVM takes this one with or without an in-kernel APIC. */
	if (ioctl == KVMX_TPR_ACCESS_REPORTING)
		return tpr_access_reporting(v, argp);
	if (!v->apic)
		return -EINVAL;	/* KVM's answer without an in-kernel APIC */
	switch (ioctl) {
	case KVMX_GET_LAPIC:
		return get_lapic(v, argp);
	case KVMX_SET_LAPIC:
		return set_lapic(v, argp);
	case KVMX_SET_VAPIC_ADDR:
		return set_vapic_addr(v, argp);
	default:
		return -ENOTTY;
	}
}
