// SPDX-License-Identifier: GPL-2.0
/*
 * The 8254 programmable interval timer of a PC, in software, as
 * KVM_CREATE_PIT2 makes it.
 *
 * Reference: the Intel 8254 datasheet (order 231164-005), whose sections
 * are named: "Control Word Format", "Write Operations", "Read Operations",
 * "Counter Latch Command", "Read-Back Command", "Status Byte" and "Mode 0"
 * to "Mode 5".
 *
 * The wiring is the PC's: three counters on a 1.193182 MHz clock at ports
 * 0x40-0x42 with the control word at 0x43.  Counter 0's OUT drives IRQ0
 * (GSI 0); counter 1 refreshed DRAM and drives nothing; counter 2's GATE
 * and OUT are bits 0 and 5 of port 0x61, which the PIT serves only when
 * KVM_CREATE_PIT2 asks for KVMX_PIT_SPEAKER_DUMMY, as in KVM: without it
 * port 0x61 is the VMM's, which reads counter 2 with KVM_GET_PIT2.
 *
 * The model is KVM's, so that a VMM's saved state means the same on both:
 *  - a counter does not tick.  Its count and OUT are computed from the time
 *    its count was loaded (or its gate rose, in the modes a gate edge
 *    triggers: 1, 2, 3 and 5).  Modes 0 and 4 ignore the gate;
 *  - the BCD bit is kept and reported in the status byte, but counting is
 *    binary (KVM's too);
 *  - only counter 0 interrupts, from an hrtimer that fires when its OUT
 *    would rise: once in modes 0, 1 and 4 (at terminal count), every
 *    period in modes 2 and 3.  Mode 5 needs a hardware trigger counter 0
 *    doesn't have: no timer.  Each expiry raises and lowers GSI 0, an
 *    edge, for the 8259 and the IOAPIC.  With KVMX_PIT_FLAGS_HPET_LEGACY
 *    the HPET owns IRQ0 and counter 0 only counts;
 *  - a periodic timer is never faster than KVM's min_timer_period_us
 *    (200 us): a guest cannot make the host take an interrupt every few
 *    hundred ns.  The count read back still follows the programmed rate.
 *
 * Lost ticks: an expiry whose previous IRQ0 the guest has not taken yet
 * merges with it (the 8259's IRR is already set) and is lost, and after a
 * host stall the timer resumes from now rather than firing every missed
 * period.  That is KVM with KVM_REINJECT_CONTROL's pit_reinject = 0.
 * KVM's default, reinjection, counts the lost ticks and delivers one per
 * acknowledged IRQ0 through the irqchip's ack notifiers, which kvmx's
 * irqchip doesn't have: KVM_REINJECT_CONTROL is accepted either way and
 * ticks are always coalesced.  Guests that count ticks to keep time drift
 * when the host is too busy to run them; guests with other clocks don't.
 *
 * Locking: one spinlock per PIT covers the counters; ports are accessed
 * from vCPU threads inside io_bus.c's RCU read section, where nothing may
 * sleep.  The hrtimer callback (hard interrupt context; softirq on
 * PREEMPT_RT, where the IOAPIC's spinlock sleeps, as the APIC timer's)
 * does not take it: it reads the period (written with the timer stopped)
 * and raises GSI 0, whose path (irqchip.c, i8259.c, ioapic.c) takes its
 * own interrupt-safe locks.  So reprogramming can hrtimer_cancel() with
 * the PIT's lock held.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "kvmx.h"

#define PIT_FREQ_HZ		1193182		/* 105/88 MHz; KVM truncates to 1193181 */
#define PIT_BASE_PORT		0x40		/* counters 0-2, then the control word */
#define PIT_CONTROL		3		/* port 0x43, as an offset */
#define PIT_NR_CHANNELS		3
#define SPEAKER_PORT		0x61		/* NMI status and control (PIIX4 "NMISC") */
#define PIT_MIN_PERIOD_NS	(200 * NSEC_PER_USEC)

/* The largest count: 0 means 2^16 in binary counting ("Write Operations"). */
#define PIT_MAX_COUNT		0x10000
/* struct kvmx_pit_channel_state.mode before the first control word: KVM's. */
#define PIT_MODE_NONE		0xff

/* Control word bits ("Control Word Format"). */
#define CW_SC_SHIFT		6		/* SC1-SC0: counter, 3 = read-back */
#define CW_RW_SHIFT		4		/* RW1-RW0: 0 = counter latch command */
#define CW_MODE_SHIFT		1		/* M2-M0 */
#define CW_BCD			0x01
#define CW_READ_BACK		3
/* Read-back command: active-low COUNT and STATUS, then CNT2-CNT0 in bits 3:1. */
#define RB_NO_COUNT		0x20
#define RB_NO_STATUS		0x10
#define STATUS_OUT		0x80

/*
 * Which byte of a count the next access is: RW1-RW0 of the control word
 * (LSB only, MSB only, LSB then MSB), and the MSB half of the last.  These
 * are KVM's numbers in struct kvmx_pit_channel_state; 0 is a counter that
 * was never programmed and acts as RW_LSB.
 */
enum { RW_NONE, RW_LSB, RW_MSB, RW_WORD0, RW_WORD1 };

/* Port 0x61 */
#define SPEAKER_GATE2		0x01
#define SPEAKER_DATA		0x02
#define SPEAKER_REFRESH		0x10		/* toggles about every 15 us */
#define SPEAKER_OUT2		0x20

/* One counter: the fields of struct kvmx_pit_channel_state. */
struct pit_channel {
	u32 count;		/* the initial count, 1-0x10000 */
	u16 latched_count;	/* the counter latch's value */
	u8 count_latched;	/* RW_* of the latched bytes still to read, 0: none */
	bool status_latched;
	u8 status;		/* the status byte the read-back latched */
	u8 read_state;		/* RW_*: the byte the next count read returns */
	u8 write_state;		/* RW_*: the byte the next count write is */
	u8 write_latch;		/* the LSB of a 16-bit count being written */
	u8 rw_mode;		/* RW1-RW0 of the last control word */
	u8 mode;		/* 0-5, or PIT_MODE_NONE */
	bool bcd;
	bool gate;
	ktime_t load_time;	/* when counting started */
};

struct kvmx_pit {
	spinlock_t lock;		/* the channels and flags */
	struct kvmx_vm *vm;
	struct pit_channel ch[PIT_NR_CHANNELS];
	u32 flags;			/* KVMX_PIT_FLAGS_* */
	bool reinject;			/* KVM_REINJECT_CONTROL, recorded only */
	bool speaker;			/* port 0x61 is ours */
	struct hrtimer timer;		/* counter 0's OUT edges */
	u64 period_ns;			/* 0: one-shot; written with the timer stopped */
	struct kvmx_io_device dev, speaker_dev;
};

/* ---- counting ---- */

/* Input clock ticks since the counter started. */
static u64 elapsed_ticks(const struct pit_channel *c)
{
	s64 ns = ktime_to_ns(ktime_sub(ktime_get(), c->load_time));

	return ns > 0 ? mul_u64_u32_div(ns, PIT_FREQ_HZ, NSEC_PER_SEC) : 0;
}

/*
 * The counting element now ("Mode 0" to "Mode 5"): modes 0, 1, 4 and 5
 * count down once and wrap around; mode 2 reloads at 1, mode 3 counts by
 * two (KVM's approximation, exact for even counts).  A counter never
 * programmed counts as mode 2.
 */
static u32 pit_count(const struct pit_channel *c)
{
	u64 d = elapsed_ticks(c);

	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		return (c->count - d) & 0xffff;
	case 3:
		return c->count - (2 * d) % c->count;
	default:
		return c->count - d % c->count;
	}
}

/* The OUT pin now, as KVM computes it; never programmed counts as mode 0. */
static bool pit_out(const struct pit_channel *c)
{
	u64 d = elapsed_ticks(c);

	switch (c->mode) {
	case 1:
		return d < c->count;
	case 2:
		return d && d % c->count == 0;
	case 3:
		return d % c->count < (c->count + 1) / 2;
	case 4:
	case 5:
		return d == c->count;
	default:
		return d >= c->count;
	}
}

/* "Counter Latch Command": a second latch before the first is read is ignored. */
static void latch_count(struct pit_channel *c)
{
	if (c->count_latched)
		return;
	c->latched_count = pit_count(c);
	c->count_latched = c->rw_mode;	/* never programmed: nothing latched, as KVM */
}

/* "Status Byte": OUT, RW1-RW0, M2-M0, BCD.  NULL COUNT (bit 6) reads 0, as KVM. */
static void latch_status(struct pit_channel *c)
{
	if (c->status_latched)
		return;
	c->status = (pit_out(c) ? STATUS_OUT : 0) | c->rw_mode << CW_RW_SHIFT |
		    c->mode << CW_MODE_SHIFT | c->bcd;
	c->status_latched = true;
}

/* ---- counter 0's interrupt ---- */

/* Interrupt context; no PIT lock (see the top of the file). */
static enum hrtimer_restart pit_timer_fn(struct hrtimer *t)
{
	struct kvmx_pit *pit = container_of(t, struct kvmx_pit, timer);
	u64 period = READ_ONCE(pit->period_ns);

	kvmx_set_gsi(pit->vm, KVMX_IRQ_SOURCE_PIT, 0, true);
	kvmx_set_gsi(pit->vm, KVMX_IRQ_SOURCE_PIT, 0, false);
	if (!period)
		return HRTIMER_NORESTART;
	/* Missed periods are skipped: their ticks would coalesce anyway. */
	hrtimer_forward_now(t, ns_to_ktime(period));
	return HRTIMER_RESTART;
}

/* Counter 0 was loaded: its next OUT edge, and the period after it.  Under pit->lock. */
static void pit_arm_timer(struct kvmx_pit *pit)
{
	struct pit_channel *c = &pit->ch[0];
	u64 ns = mul_u64_u32_div(c->count, NSEC_PER_SEC, PIT_FREQ_HZ);
	u64 period;

	hrtimer_cancel(&pit->timer);
	if (pit->flags & KVMX_PIT_FLAGS_HPET_LEGACY)
		return;
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
		period = 0;
		break;
	case 2:
	case 3:
		period = max_t(u64, ns, PIT_MIN_PERIOD_NS);
		break;
	default:
		return;
	}
	WRITE_ONCE(pit->period_ns, period);
	hrtimer_start(&pit->timer, ktime_add_ns(c->load_time, ns), HRTIMER_MODE_ABS);
}

/* A new count for counter @i; 0 is the largest.  Under pit->lock. */
static void pit_load_count(struct kvmx_pit *pit, unsigned int i, u32 val)
{
	struct pit_channel *c = &pit->ch[i];

	c->count = val ? val : PIT_MAX_COUNT;
	c->load_time = ktime_get();
	if (i == 0)
		pit_arm_timer(pit);
}

/* Counter 2's GATE (port 0x61 bit 0): a rising edge restarts modes 1, 2, 3 and 5. */
static void pit_set_gate2(struct kvmx_pit *pit, bool gate)
{
	struct pit_channel *c = &pit->ch[2];

	if (gate && !c->gate && c->mode != 0 && c->mode != 4 && c->mode <= 5)
		c->load_time = ktime_get();
	c->gate = gate;
}

/* ---- the ports ---- */

static void pit_control_write(struct kvmx_pit *pit, u8 val)
{
	unsigned int sc = val >> CW_SC_SHIFT, rw = (val >> CW_RW_SHIFT) & 3, i;
	struct pit_channel *c;

	if (sc == CW_READ_BACK) {
		for (i = 0; i < PIT_NR_CHANNELS; i++) {
			if (!(val & (2 << i)))
				continue;
			if (!(val & RB_NO_COUNT))
				latch_count(&pit->ch[i]);
			if (!(val & RB_NO_STATUS))
				latch_status(&pit->ch[i]);
		}
		return;
	}
	c = &pit->ch[array_index_nospec(sc, PIT_NR_CHANNELS)];
	if (!rw) {
		latch_count(c);
		return;
	}
	/*
	 * As KVM, a control word doesn't stop the counter or drop latches
	 * until the new count is written.  Modes 6 and 7 are 2 and 3.
	 */
	c->rw_mode = rw;
	c->read_state = rw;
	c->write_state = rw;
	c->mode = (val >> CW_MODE_SHIFT) & 7;
	if (c->mode > 5)
		c->mode -= 4;
	c->bcd = val & CW_BCD;
}

static void pit_count_write(struct kvmx_pit *pit, unsigned int i, u8 val)
{
	struct pit_channel *c = &pit->ch[i];

	switch (c->write_state) {
	case RW_MSB:
		pit_load_count(pit, i, val << 8);
		break;
	case RW_WORD0:
		c->write_latch = val;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		pit_load_count(pit, i, c->write_latch | val << 8);
		c->write_state = RW_WORD0;
		break;
	default:
		pit_load_count(pit, i, val);
		break;
	}
}

/* "Read Operations": a latched status, then a latched count, then the live count. */
static u8 pit_count_read(struct pit_channel *c)
{
	u32 count;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	switch (c->count_latched) {
	case RW_NONE:
		break;
	case RW_MSB:
		c->count_latched = RW_NONE;
		return c->latched_count >> 8;
	case RW_WORD0:
		c->count_latched = RW_MSB;
		return c->latched_count & 0xff;
	default:
		c->count_latched = RW_NONE;
		return c->latched_count & 0xff;
	}
	count = pit_count(c);
	switch (c->read_state) {
	case RW_MSB:
		return count >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return count >> 8;
	default:
		return count & 0xff;
	}
}

/*
 * Ports 0x40-0x43.  The 8254 is byte-wide: as KVM, a wider write uses its
 * low byte and a wider read returns the byte zero-extended.  The control
 * word can't be read: KVM leaves the data as it was, and so does kvmx.
 */
static int pit_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		    unsigned int len, void *val)
{
	struct kvmx_pit *pit = container_of(d, struct kvmx_pit, dev);
	unsigned int port = addr - d->base;
	u8 byte;

	if (port == PIT_CONTROL)
		return 0;
	spin_lock(&pit->lock);
	byte = pit_count_read(&pit->ch[array_index_nospec(port, PIT_NR_CHANNELS)]);
	spin_unlock(&pit->lock);
	memset(val, 0, len);
	*(u8 *)val = byte;
	return 0;
}

static int pit_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		     unsigned int len, const void *val)
{
	struct kvmx_pit *pit = container_of(d, struct kvmx_pit, dev);
	unsigned int port = addr - d->base;
	u8 byte = *(const u8 *)val;

	spin_lock(&pit->lock);
	if (port == PIT_CONTROL)
		pit_control_write(pit, byte);
	else
		pit_count_write(pit, array_index_nospec(port, PIT_NR_CHANNELS), byte);
	spin_unlock(&pit->lock);
	return 0;
}

/*
 * Port 0x61, registered as KVM does with 4 ports of which only 0x61 is
 * served; 0x62-0x64 go on to userspace.  Reads: GATE2, the speaker data
 * bit as written, the refresh toggle (about 15 us; 2^14 ns here, as KVM)
 * and OUT2.  Writes: GATE2 and the speaker data bit; the other bits (the
 * NMI enables, parity checks) are not modelled, as in KVM.
 */
static int speaker_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			unsigned int len, void *val)
{
	struct kvmx_pit *pit = container_of(d, struct kvmx_pit, speaker_dev);
	bool refresh = (ktime_get_ns() >> 14) & 1;
	u8 byte;

	if (addr != SPEAKER_PORT)
		return -EOPNOTSUPP;
	spin_lock(&pit->lock);
	byte = (pit->ch[2].gate ? SPEAKER_GATE2 : 0) |
	       (pit->flags & KVMX_PIT_FLAGS_SPEAKER_DATA_ON ? SPEAKER_DATA : 0) |
	       (refresh ? SPEAKER_REFRESH : 0) | (pit_out(&pit->ch[2]) ? SPEAKER_OUT2 : 0);
	spin_unlock(&pit->lock);
	memset(val, 0, len);
	*(u8 *)val = byte;
	return 0;
}

static int speaker_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			 unsigned int len, const void *val)
{
	struct kvmx_pit *pit = container_of(d, struct kvmx_pit, speaker_dev);
	u8 byte = *(const u8 *)val;

	if (addr != SPEAKER_PORT)
		return -EOPNOTSUPP;
	spin_lock(&pit->lock);
	if (byte & SPEAKER_DATA)
		pit->flags |= KVMX_PIT_FLAGS_SPEAKER_DATA_ON;
	else
		pit->flags &= ~KVMX_PIT_FLAGS_SPEAKER_DATA_ON;
	pit_set_gate2(pit, byte & SPEAKER_GATE2);
	spin_unlock(&pit->lock);
	return 0;
}

static const struct kvmx_io_ops pit_ops = { .read = pit_read, .write = pit_write };
static const struct kvmx_io_ops speaker_ops = { .read = speaker_read, .write = speaker_write };

/* ---- KVM_GET/SET_PIT(2) ---- */

static void channel_to_user(const struct pit_channel *c, struct kvmx_pit_channel_state *u)
{
	u->count = c->count;
	u->latched_count = c->latched_count;
	u->count_latched = c->count_latched;
	u->status_latched = c->status_latched;
	u->status = c->status;
	u->read_state = c->read_state;
	u->write_state = c->write_state;
	u->write_latch = c->write_latch;
	u->rw_mode = c->rw_mode;
	u->mode = c->mode;
	u->bcd = c->bcd;
	u->gate = c->gate;
	u->count_load_time = ktime_to_ns(c->load_time);
}

/*
 * KVM copies a state in as it is and returns 0.  kvmx returns 0 too, but
 * first makes every field something the ports could have produced, so no
 * value is ever out of the ranges the code above assumes: modes 6 and 7
 * are 2 and 3 (the control word's aliases), other unknown modes are "never
 * programmed", unknown byte states are RW_LSB, a count of 0 or above 2^16
 * is 2^16.  count_load_time is ignored: loading the count restarts it, as
 * in KVM.
 */
static void channel_from_user(struct pit_channel *c, const struct kvmx_pit_channel_state *u)
{
	c->count = u->count && u->count <= PIT_MAX_COUNT ? u->count : PIT_MAX_COUNT;
	c->latched_count = u->latched_count;
	c->count_latched = u->count_latched <= RW_WORD0 ? u->count_latched : RW_LSB;
	c->status_latched = u->status_latched;
	c->status = u->status;
	c->read_state = u->read_state <= RW_WORD1 ? u->read_state : RW_LSB;
	c->write_state = u->write_state <= RW_WORD1 ? u->write_state : RW_LSB;
	c->write_latch = u->write_latch;
	c->rw_mode = u->rw_mode <= RW_WORD0 ? u->rw_mode : RW_LSB;
	if (u->mode <= 5)
		c->mode = u->mode;
	else if (u->mode <= 7)
		c->mode = u->mode - 4;
	else
		c->mode = PIT_MODE_NONE;
	c->bcd = u->bcd & 1;
	c->gate = u->gate;
}

static void pit_get_state(struct kvmx_pit *pit, struct kvmx_pit_channel_state *u, u32 *flags)
{
	unsigned int i;

	spin_lock(&pit->lock);
	for (i = 0; i < PIT_NR_CHANNELS; i++)
		channel_to_user(&pit->ch[i], &u[i]);
	if (flags)
		*flags = pit->flags;
	spin_unlock(&pit->lock);
}

/* @flags NULL: KVM_SET_PIT, which leaves them. */
static void pit_set_state(struct kvmx_pit *pit, const struct kvmx_pit_channel_state *u,
			  const u32 *flags)
{
	unsigned int i;

	spin_lock(&pit->lock);
	for (i = 0; i < PIT_NR_CHANNELS; i++)
		channel_from_user(&pit->ch[i], &u[i]);
	if (flags)
		pit->flags = *flags & (KVMX_PIT_FLAGS_HPET_LEGACY | KVMX_PIT_FLAGS_SPEAKER_DATA_ON);
	for (i = 0; i < PIT_NR_CHANNELS; i++)
		pit_load_count(pit, i, pit->ch[i].count);
	spin_unlock(&pit->lock);
}

/* ---- life ---- */

/* KVM's reset: no mode, gates 0 and 1 high, counts of 2^16 loaded now. */
static void pit_reset(struct kvmx_pit *pit)
{
	unsigned int i;

	pit->flags = 0;
	for (i = 0; i < PIT_NR_CHANNELS; i++) {
		memset(&pit->ch[i], 0, sizeof(pit->ch[i]));
		pit->ch[i].mode = PIT_MODE_NONE;
		pit->ch[i].gate = i != 2;
		pit_load_count(pit, i, 0);
	}
}

/*
 * As KVM: a second PIT is EEXIST, and (since Linux 6.7; 6.1 still creates a
 * PIT that can never interrupt) one without the in-kernel irqchip is ENOENT.
 * Unknown flags are ignored, as KVM ignores them.
 */
static int pit_create(struct kvmx_vm *vm, u32 flags)
{
	struct kvmx_pit *pit;
	int r;

	mutex_lock(&vm->lock);
	r = -EEXIST;
	if (vm->pit)
		goto out;
	r = -ENOENT;
	if (!vm->irqchip)
		goto out;
	r = -ENOMEM;
	pit = kzalloc(sizeof(*pit), GFP_KERNEL_ACCOUNT);
	if (!pit)
		goto out;
	spin_lock_init(&pit->lock);
	pit->vm = vm;
	hrtimer_init(&pit->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	pit->timer.function = pit_timer_fn;
	spin_lock(&pit->lock);
	pit_reset(pit);
	spin_unlock(&pit->lock);
	pit->dev = (struct kvmx_io_device){ .ops = &pit_ops, .base = PIT_BASE_PORT, .len = 4 };
	pit->speaker_dev = (struct kvmx_io_device){ .ops = &speaker_ops, .base = SPEAKER_PORT,
						    .len = 4 };
	r = kvmx_io_bus_register(vm, KVMX_PIO_BUS, &pit->dev);
	if (r)
		goto free;
	if (flags & KVMX_PIT_SPEAKER_DUMMY) {
		r = kvmx_io_bus_register(vm, KVMX_PIO_BUS, &pit->speaker_dev);
		if (r) {
			kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pit->dev);
			synchronize_rcu();	/* a vCPU may have found the ports already */
			goto free;
		}
		pit->speaker = true;
	}
	kvmx_acct_add(kmalloc_bytes, sizeof(*pit));
	/* Complete before anyone sees it: ioctls read vm->pit without the lock. */
	smp_store_release(&vm->pit, pit);
	mutex_unlock(&vm->lock);
	return 0;
free:
	kfree(pit);
out:
	mutex_unlock(&vm->lock);
	return r;
}

/*
 * The VM is going: no VM-fd ioctl is left to re-arm the timer.  After the
 * ports are gone and the vCPUs that found them before are out (io_bus.c's
 * readers run under RCU), nobody can; then the timer stops for good.
 * Before kvmx_irqchip_destroy(): the timer raises the irqchip's GSI 0.
 */
void kvmx_pit_destroy(struct kvmx_vm *vm)
{
	struct kvmx_pit *pit = vm->pit;

	if (!pit)
		return;
	mutex_lock(&vm->lock);
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pit->dev);
	if (pit->speaker)
		kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pit->speaker_dev);
	vm->pit = NULL;
	mutex_unlock(&vm->lock);
	synchronize_rcu();
	hrtimer_cancel(&pit->timer);
	kfree(pit);
	kvmx_acct_add(kmalloc_bytes, -(long)sizeof(*pit));
}

/* ---- the VM fd's ioctls ---- */

long kvmx_pit_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp)
{
	struct kvmx_pit_state2 s2;
	struct kvmx_pit_state s;
	struct kvmx_reinject_control rc;
	struct kvmx_pit_config cfg;
	struct kvmx_pit *pit;

	switch (ioctl) {
	case KVMX_CREATE_PIT:
		return pit_create(vm, KVMX_PIT_SPEAKER_DUMMY);
	case KVMX_CREATE_PIT2:
		if (copy_from_user(&cfg, argp, sizeof(cfg)))
			return -EFAULT;
		return pit_create(vm, cfg.flags);
	}
	/* It never goes away while the VM fd is open.  KVM's order: EFAULT, then ENXIO. */
	pit = smp_load_acquire(&vm->pit);
	switch (ioctl) {
	case KVMX_GET_PIT:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		if (!pit)
			return -ENXIO;
		pit_get_state(pit, s.channels, NULL);
		return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
	case KVMX_SET_PIT:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		if (!pit)
			return -ENXIO;
		pit_set_state(pit, s.channels, NULL);
		return 0;
	case KVMX_GET_PIT2:
		if (!pit)
			return -ENXIO;
		memset(&s2, 0, sizeof(s2));
		pit_get_state(pit, s2.channels, &s2.flags);
		return copy_to_user(argp, &s2, sizeof(s2)) ? -EFAULT : 0;
	case KVMX_SET_PIT2:
		if (copy_from_user(&s2, argp, sizeof(s2)))
			return -EFAULT;
		if (!pit)
			return -ENXIO;
		pit_set_state(pit, s2.channels, &s2.flags);
		return 0;
	case KVMX_REINJECT_CONTROL:
		if (copy_from_user(&rc, argp, sizeof(rc)))
			return -EFAULT;
		if (!pit)
			return -ENXIO;
		spin_lock(&pit->lock);
		pit->reinject = rc.pit_reinject;
		spin_unlock(&pit->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}
