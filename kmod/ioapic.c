// SPDX-License-Identifier: GPL-2.0
/*
 * The I/O APIC, in software: 24 interrupt pins, each with a redirection
 * entry that turns its line into an interrupt message for the local APICs.
 *
 * References: the Intel 82093AA I/O APIC datasheet (order 290566-001),
 * section 3 (registers: 3.1 the memory-mapped IOREGSEL/IOWIN pair, 3.2 the
 * indirect ID, version, arbitration and redirection-table registers,
 * 3.2.4 the redirection entry's fields); the Intel I/O Controller Hub
 * (ICH) datasheets for the EOI register at offset 0x40 of version 0x20
 * I/O APICs; SDM Vol. 3A 10.8.5 for how a local APIC's EOI of a level
 * triggered interrupt is broadcast back to the I/O APIC.
 *
 * Guests program it through a 256-byte window at KVMX_IOAPIC_BASE:
 * IOREGSEL (+0x00) selects a register, IOWIN (+0x10) reads or writes it
 * 32 bits at a time; register 0x10 + 2n is the low and 0x11 + 2n the high
 * half of pin n's redirection entry.
 *
 * Trigger modes, per pin (82093AA 3.2.4):
 *  - edge: a rising edge sends the message once.  A masked pin ignores
 *    edges: they are not held for later;
 *  - level: while the line is high a message is sent and Remote IRR set;
 *    it stays set until a local APIC EOIs the vector, and then, if the
 *    line is still high, the message is sent again.  A masked pin sends
 *    nothing, but when unmasked with its line still high, it does.
 * irr holds each pin's line as the I/O APIC last saw it (high); for an edge
 * pin it is also the edge detector.
 *
 * The version register says 0x11, as the 82093AA and KVM do, so guests EOI
 * level-triggered pins through their local APIC (and Linux clears a stuck
 * Remote IRR by switching the pin to edge and back).  The ICH's EOI
 * register at +0x40 works anyway for a guest that writes it.
 *
 * The lines are driven from VMM ioctls, vCPU threads and the PIT's hrtimer,
 * and the guest programs it from any vCPU: one spinlock, taken with
 * interrupts off, covers it all.  kvmx_apic_deliver() only sets bits in
 * local APICs and kicks vCPUs, so messages are sent with the lock held.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/bitops.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "kvmx.h"

#define IOAPIC_NUM_PINS		KVMX_IOAPIC_NUM_PINS
#define IOAPIC_MMIO_LEN		0x100

/* The memory-mapped registers (82093AA 3.1; EOI: ICH). */
#define IOAPIC_IOREGSEL		0x00
#define IOAPIC_IOWIN		0x10
#define IOAPIC_EOI		0x40

/* The indirect registers IOREGSEL selects (82093AA 3.2). */
#define IOAPIC_REG_ID		0x00
#define IOAPIC_REG_VERSION	0x01
#define IOAPIC_REG_ARB		0x02
#define IOAPIC_REG_REDTBL	0x10	/* + 2 * pin (+ 1: the high half) */

#define IOAPIC_VERSION		0x11
/* The version register: the highest redirection entry in bits 23:16. */
#define IOAPIC_VERSION_REG	(IOAPIC_VERSION | ((IOAPIC_NUM_PINS - 1) << 16))
#define IOAPIC_ID_SHIFT		24	/* ID and arbitration ID: bits 27:24 */
#define IOAPIC_ID_MASK		0xf

/* A redirection entry (82093AA 3.2.4). */
#define RTE_VECTOR		GENMASK_ULL(7, 0)
#define RTE_DELIVERY_MODE	GENMASK_ULL(10, 8)
#define RTE_DEST_LOGICAL	BIT_ULL(11)
#define RTE_DELIVERY_STATUS	BIT_ULL(12)	/* read-only */
#define RTE_POLARITY_LOW	BIT_ULL(13)
#define RTE_REMOTE_IRR		BIT_ULL(14)	/* read-only */
#define RTE_LEVEL		BIT_ULL(15)
#define RTE_MASKED		BIT_ULL(16)
#define RTE_DEST		GENMASK_ULL(63, 56)
#define RTE_READ_ONLY		(RTE_DELIVERY_STATUS | RTE_REMOTE_IRR)

/*
 * A guest whose handler EOIs a level-triggered interrupt without quieting
 * its device gets the interrupt back at once, for ever.  Real hardware
 * lets some time pass between the EOI broadcast and the new message; after
 * this many EOIs in a row that find the line still high, the next message
 * waits this long, so that the guest makes some progress (KVM does the
 * same with the same numbers).
 */
#define EOI_STORM_COUNT		10000
#define EOI_STORM_DELAY		(HZ / 100)

struct kvmx_ioapic {
	spinlock_t lock;			/* all of it, interrupts off */
	struct kvmx_vm *vm;
	struct kvmx_io_device dev;
	u32 ioregsel;
	u32 id;					/* bits 27:24 of the ID register */
	u32 irr;				/* pins whose line is high */
	/* Edge pins in irr whose edge was sent: not pending for KVM_GET_IRQCHIP. */
	u32 irr_delivered;
	u64 redirtbl[IOAPIC_NUM_PINS];
	u32 lines[KVMX_NR_IRQ_SOURCES];		/* each source's levels, pin n at bit n */
	u32 eoi_streak[IOAPIC_NUM_PINS];	/* EOIs in a row finding the line high */
	struct delayed_work eoi_work;		/* the delayed message of a storm */
	bool dying;				/* eoi_work must not be queued again */
	u64 resample_edge[4];			/* resample_edge_update(); read without the lock */
};

/*
 * The vectors whose EOIs the I/O APIC wants besides the level-triggered
 * ones (which the local APIC knows by their TMR bit): those of edge pins a
 * resampling irqfd holds up, since only the EOI lets go of the line (KVM's
 * ack notifiers ask for the same).  Written before the pin's message goes
 * out, so the entry that injects it already has the vector's EOI exit.
 */
static void resample_edge_update(struct kvmx_ioapic *ioapic)
{
	unsigned long up = ioapic->lines[KVMX_IRQ_SOURCE_RESAMPLE];
	u64 vecs[4] = {};
	unsigned int pin, i;

	for_each_set_bit(pin, &up, IOAPIC_NUM_PINS) {
		u64 e = ioapic->redirtbl[pin];
		u8 vec = FIELD_GET(RTE_VECTOR, e);

		if (!(e & RTE_LEVEL))
			vecs[vec >> 6] |= BIT_ULL(vec & 63);
	}
	for (i = 0; i < 4; i++)
		WRITE_ONCE(ioapic->resample_edge[i], vecs[i]);
}

u64 kvmx_ioapic_edge_eoi_wanted(struct kvmx_ioapic *ioapic, unsigned int word)
{
	return READ_ONCE(ioapic->resample_edge[word & 3]);
}

/*
 * Pin @pin's message, if its entry lets it go now: the number of local
 * APICs that took it (0 if none did), or -1 if the pin is masked or a level
 * triggered pin waits for its EOI.  Remote IRR is set only when an APIC
 * took the message: only an APIC that has the vector in service will EOI
 * it, and a Remote IRR nobody clears would keep the pin silent for good.
 */
static int pin_send(struct kvmx_ioapic *ioapic, unsigned int pin)
{
	u64 e = ioapic->redirtbl[pin];
	bool level = e & RTE_LEVEL;
	struct kvmx_irq_msg m = {
		.dest_id = FIELD_GET(RTE_DEST, e),
		.vector = FIELD_GET(RTE_VECTOR, e),
		.delivery_mode = FIELD_GET(RTE_DELIVERY_MODE, e),
		.shorthand = APIC_SH_NONE,
		.logical = e & RTE_DEST_LOGICAL,
		.level_trig = level,
		.assert = true,
	};
	int r;

	/*
	 * The polarity bit says how the board wires the pin; the lines here
	 * are already logical levels (high = asserted), as in KVM.
	 */
	if ((e & RTE_MASKED) || (level && (e & RTE_REMOTE_IRR)))
		return -1;
	if (!level)
		ioapic->irr_delivered |= BIT(pin);
	r = kvmx_apic_deliver(ioapic->vm, NULL, &m);
	if (r <= 0)
		return 0;
	if (level)
		ioapic->redirtbl[pin] |= RTE_REMOTE_IRR;
	return r;
}

/*
 * Pin @pin's line is now @high.  Returns what KVM_IRQ_LINE_STATUS reports,
 * as KVM's I/O APIC does: 1 for a lowered line; 0 for a raised edge pin
 * that was already high (no edge: coalesced); else what pin_send() says.
 */
static int pin_set_line(struct kvmx_ioapic *ioapic, unsigned int pin, bool high)
{
	u32 m = BIT(pin);
	u32 was = ioapic->irr;

	if (!high) {
		ioapic->irr &= ~m;
		ioapic->eoi_streak[pin] = 0;	/* the device did quiet down */
		return 1;
	}
	ioapic->irr |= m;
	if (!(ioapic->redirtbl[pin] & RTE_LEVEL)) {
		ioapic->irr_delivered &= ~m;
		if (was & m)
			return 0;
	}
	return pin_send(ioapic, pin);
}

/* A line is the OR of what its sources drive, as a shared wire. */
static bool pin_driven(const struct kvmx_ioapic *ioapic, unsigned int pin)
{
	unsigned int s;

	for (s = 0; s < KVMX_NR_IRQ_SOURCES; s++)
		if (ioapic->lines[s] & BIT(pin))
			return true;
	return false;
}

int kvmx_ioapic_set_irq(struct kvmx_ioapic *ioapic, enum kvmx_irq_source src, unsigned int pin,
			bool level)
{
	unsigned long flags;
	int ret;

	if (pin >= IOAPIC_NUM_PINS || (unsigned int)src >= KVMX_NR_IRQ_SOURCES)
		return -EINVAL;
	pin = array_index_nospec(pin, IOAPIC_NUM_PINS);
	src = array_index_nospec((unsigned int)src, KVMX_NR_IRQ_SOURCES);

	spin_lock_irqsave(&ioapic->lock, flags);
	if (level)
		ioapic->lines[src] |= BIT(pin);
	else
		ioapic->lines[src] &= ~BIT(pin);
	if (src == KVMX_IRQ_SOURCE_RESAMPLE)
		resample_edge_update(ioapic);
	ret = pin_set_line(ioapic, pin, pin_driven(ioapic, pin));
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return ret;
}

/* ---- EOI ---- */

/*
 * An EOI of @vector reached the I/O APIC (SDM Vol. 3A 10.8.5: the local
 * APIC broadcasts the EOI of a level-triggered vector; or the EOI
 * register).  Every level-triggered pin with that vector has Remote IRR
 * cleared, and sends again if its line is still high and it is unmasked:
 * the device still wants service.  A pin that does so EOI_STORM_COUNT
 * times in a row is a storm: its next message waits EOI_STORM_DELAY.
 *
 * A resampling irqfd's hold on the line ends here, before the line is
 * looked at, so that only another source keeps it high (KVM's ack
 * notifiers run at the same point).  Returns those pins: their
 * resamplefds are signalled once the lock is dropped (resample_acked()).
 * The EOI of an edge-triggered vector (@level false) only does that.
 */
static u32 ioapic_eoi_locked(struct kvmx_ioapic *ioapic, u8 vector, bool level)
{
	u32 acked = 0;
	unsigned int pin;

	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		u64 *e = &ioapic->redirtbl[pin];

		if (FIELD_GET(RTE_VECTOR, *e) != vector)
			continue;
		if (ioapic->lines[KVMX_IRQ_SOURCE_RESAMPLE] & BIT(pin)) {
			ioapic->lines[KVMX_IRQ_SOURCE_RESAMPLE] &= ~BIT(pin);
			acked |= BIT(pin);
			if (!pin_driven(ioapic, pin))
				pin_set_line(ioapic, pin, false);
		}
		if (!level || !(*e & RTE_LEVEL))
			continue;
		*e &= ~RTE_REMOTE_IRR;
		if ((*e & RTE_MASKED) || !(ioapic->irr & BIT(pin))) {
			ioapic->eoi_streak[pin] = 0;
			continue;
		}
		if (++ioapic->eoi_streak[pin] < EOI_STORM_COUNT) {
			pin_send(ioapic, pin);
			continue;
		}
		ioapic->eoi_streak[pin] = 0;
		if (!ioapic->dying)
			schedule_delayed_work(&ioapic->eoi_work, EOI_STORM_DELAY);
	}
	if (acked)
		resample_edge_update(ioapic);
	return acked;
}

/* Outside the lock: the resamplers lower the GSI's other routes too. */
static void resample_acked(struct kvmx_ioapic *ioapic, unsigned long acked)
{
	unsigned int pin;

	for_each_set_bit(pin, &acked, IOAPIC_NUM_PINS)
		kvmx_irqfd_resample_ack(ioapic->vm, KVMX_IRQCHIP_IOAPIC, pin);
}

void kvmx_ioapic_eoi(struct kvmx_ioapic *ioapic, u8 vector, bool level)
{
	unsigned long flags;
	u32 acked;

	spin_lock_irqsave(&ioapic->lock, flags);
	acked = ioapic_eoi_locked(ioapic, vector, level);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	resample_acked(ioapic, acked);
}

/* The storm's pause is over: send what is still asserted and waiting. */
static void ioapic_eoi_work(struct work_struct *work)
{
	struct kvmx_ioapic *ioapic = container_of(to_delayed_work(work), struct kvmx_ioapic,
						  eoi_work);
	unsigned long flags;
	unsigned int pin;

	spin_lock_irqsave(&ioapic->lock, flags);
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		u64 e = ioapic->redirtbl[pin];

		if ((e & RTE_LEVEL) && !(e & RTE_REMOTE_IRR) && (ioapic->irr & BIT(pin)))
			pin_send(ioapic, pin);
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);
}

/* ---- the registers ---- */

/*
 * IOWIN read of the register IOREGSEL selects (82093AA 3.2).  The ID and
 * the arbitration ID read the same: the arbitration ID is loaded from the
 * ID.  Registers that don't exist (0x03-0x0f, past the last entry) read as
 * all ones, as KVM's do.
 */
static u32 ioapic_read_reg(struct kvmx_ioapic *ioapic)
{
	u32 sel = ioapic->ioregsel, pin;
	u64 e;

	switch (sel) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return ioapic->id << IOAPIC_ID_SHIFT;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION_REG;
	}
	pin = (sel - IOAPIC_REG_REDTBL) / 2;
	if (sel < IOAPIC_REG_REDTBL || pin >= IOAPIC_NUM_PINS)
		return ~0u;
	e = ioapic->redirtbl[array_index_nospec(pin, IOAPIC_NUM_PINS)];
	return (sel & 1) ? upper_32_bits(e) : lower_32_bits(e);
}

/*
 * IOWIN write.  The version and arbitration ID are read-only; so are
 * Delivery Status and Remote IRR in an entry.  Making an entry edge
 * triggered clears its Remote IRR: 82093AA-era OSes, which have no EOI
 * register, rely on it to unstick a pin (Linux's io_apic.c does so).
 * A level-triggered entry whose line is high sends at once if it may now
 * (unmasked, Remote IRR clear); an edge-triggered one waits for an edge.
 */
static void ioapic_write_reg(struct kvmx_ioapic *ioapic, u32 val)
{
	u32 sel = ioapic->ioregsel, pin;
	u64 *e, old;

	switch (sel) {
	case IOAPIC_REG_ID:
		ioapic->id = (val >> IOAPIC_ID_SHIFT) & IOAPIC_ID_MASK;
		return;
	case IOAPIC_REG_VERSION:
	case IOAPIC_REG_ARB:
		return;
	}
	pin = (sel - IOAPIC_REG_REDTBL) / 2;
	if (sel < IOAPIC_REG_REDTBL || pin >= IOAPIC_NUM_PINS)
		return;
	pin = array_index_nospec(pin, IOAPIC_NUM_PINS);
	e = &ioapic->redirtbl[pin];
	old = *e;
	if (sel & 1)
		*e = ((u64)val << 32) | lower_32_bits(old);
	else
		*e = (old & GENMASK_ULL(63, 32)) | val;
	*e = (*e & ~RTE_READ_ONLY) | (old & RTE_READ_ONLY);
	if (!(*e & RTE_LEVEL))
		*e &= ~RTE_REMOTE_IRR;
	resample_edge_update(ioapic);
	if ((*e & RTE_LEVEL) && (ioapic->irr & BIT(pin)))
		pin_send(ioapic, pin);
}

/*
 * The window is 32-bit registers at 16-byte steps; an access elsewhere
 * in it (another offset, a misaligned one) reads 0 and writes nothing.
 * Narrower accesses see the low bytes, an 8-byte one the register
 * zero-extended, as in KVM.
 */
static int ioapic_mmio_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			    unsigned int len, void *val)
{
	struct kvmx_ioapic *ioapic = container_of(d, struct kvmx_ioapic, dev);
	unsigned long flags;
	u64 result = 0;

	spin_lock_irqsave(&ioapic->lock, flags);
	switch (addr - d->base) {
	case IOAPIC_IOREGSEL:
		result = ioapic->ioregsel;
		break;
	case IOAPIC_IOWIN:
		result = ioapic_read_reg(ioapic);
		break;
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);

	memset(val, 0, len);
	memcpy(val, &result, min_t(unsigned int, len, sizeof(result)));
	return 0;
}

static int ioapic_mmio_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			     unsigned int len, const void *val)
{
	struct kvmx_ioapic *ioapic = container_of(d, struct kvmx_ioapic, dev);
	unsigned long flags;
	u32 data, acked = 0;

	switch (len) {
	case 1:
		data = *(const u8 *)val;
		break;
	case 2:
		data = *(const u16 *)val;
		break;
	case 4:
	case 8:
		data = *(const u32 *)val;	/* the register's 32 bits */
		break;
	default:
		return 0;
	}

	spin_lock_irqsave(&ioapic->lock, flags);
	switch (addr - d->base) {
	case IOAPIC_IOREGSEL:
		ioapic->ioregsel = data & 0xff;	/* an 8-bit register */
		break;
	case IOAPIC_IOWIN:
		ioapic_write_reg(ioapic, data);
		break;
	case IOAPIC_EOI:
		acked = ioapic_eoi_locked(ioapic, data & 0xff, true);
		break;
	}
	spin_unlock_irqrestore(&ioapic->lock, flags);
	resample_acked(ioapic, acked);
	return 0;
}

static const struct kvmx_io_ops ioapic_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
};

/* ---- KVM_GET/SET_IRQCHIP ---- */

int kvmx_ioapic_get_state(struct kvmx_ioapic *ioapic, struct kvmx_ioapic_state *s)
{
	unsigned long flags;
	unsigned int pin;
	u32 sent = 0;

	memset(s, 0, sizeof(*s));
	s->base_address = KVMX_IOAPIC_BASE;
	spin_lock_irqsave(&ioapic->lock, flags);
	s->ioregsel = ioapic->ioregsel;
	s->id = ioapic->id;
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		s->redirtbl[pin].bits = ioapic->redirtbl[pin];
		if (!(ioapic->redirtbl[pin] & RTE_LEVEL))
			sent |= ioapic->irr_delivered & BIT(pin);
	}
	/*
	 * An edge already sent is not pending: a restore must not send it
	 * again.  (A pin made level since keeps its line in irr.)
	 */
	s->irr = ioapic->irr & ~sent;
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return 0;
}

/*
 * Restore a state.  The I/O APIC does not move: base_address is ignored
 * (KVM takes it but leaves its MMIO range where it was registered, which
 * only makes its I/O APIC unreachable).  Fields are clipped to the bits
 * the hardware has: IOREGSEL to 8 bits, the ID to 4, irr to the 24 pins;
 * Delivery Status reads 0 here (a message is sent at once) and an edge
 * entry has no Remote IRR.  The lines' sources are the devices' and stay;
 * the pending pins in irr are raised again as KVM does, so a level pin
 * (or an edge that was not sent) sends now if its entry lets it.
 */
int kvmx_ioapic_set_state(struct kvmx_ioapic *ioapic, const struct kvmx_ioapic_state *s)
{
	unsigned long flags, pending = s->irr & GENMASK(IOAPIC_NUM_PINS - 1, 0);
	unsigned int pin;

	spin_lock_irqsave(&ioapic->lock, flags);
	ioapic->ioregsel = s->ioregsel & 0xff;
	ioapic->id = s->id & IOAPIC_ID_MASK;
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		u64 e = s->redirtbl[pin].bits & ~RTE_DELIVERY_STATUS;

		if (!(e & RTE_LEVEL))
			e &= ~RTE_REMOTE_IRR;
		ioapic->redirtbl[pin] = e;
		ioapic->eoi_streak[pin] = 0;
	}
	ioapic->irr = 0;
	ioapic->irr_delivered = 0;
	resample_edge_update(ioapic);
	for_each_set_bit(pin, &pending, IOAPIC_NUM_PINS)
		pin_set_line(ioapic, pin, true);
	spin_unlock_irqrestore(&ioapic->lock, flags);
	return 0;
}

/* ---- life ---- */

/*
 * Reset state (82093AA 3.2.4): every entry masked, everything else 0.
 * Called with vm->lock held; returns the I/O APIC or an ERR_PTR.
 */
struct kvmx_ioapic *kvmx_ioapic_create(struct kvmx_vm *vm)
{
	struct kvmx_ioapic *ioapic;
	unsigned int pin;
	int r;

	ioapic = kzalloc(sizeof(*ioapic), GFP_KERNEL_ACCOUNT);
	if (!ioapic)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&ioapic->lock);
	INIT_DELAYED_WORK(&ioapic->eoi_work, ioapic_eoi_work);
	ioapic->vm = vm;
	for (pin = 0; pin < IOAPIC_NUM_PINS; pin++)
		ioapic->redirtbl[pin] = RTE_MASKED;
	ioapic->dev = (struct kvmx_io_device){ .ops = &ioapic_ops, .base = KVMX_IOAPIC_BASE,
					       .len = IOAPIC_MMIO_LEN };
	r = kvmx_io_bus_register(vm, KVMX_MMIO_BUS, &ioapic->dev);
	if (r) {
		kfree(ioapic);
		return ERR_PTR(r);
	}
	return ioapic;
}

/*
 * With vm->lock held.  The storm's work goes first (and cannot be queued
 * again), then the MMIO range; a vCPU may still be inside an access it
 * found before (io_bus.c's readers run under RCU): wait for them.  Whoever
 * drives the lines or EOIs (the PIT, irqchip.c, lapic.c) must be done.
 */
void kvmx_ioapic_destroy(struct kvmx_vm *vm, struct kvmx_ioapic *ioapic)
{
	unsigned long flags;

	if (IS_ERR_OR_NULL(ioapic))
		return;
	spin_lock_irqsave(&ioapic->lock, flags);
	ioapic->dying = true;
	spin_unlock_irqrestore(&ioapic->lock, flags);
	cancel_delayed_work_sync(&ioapic->eoi_work);
	kvmx_io_bus_unregister(vm, KVMX_MMIO_BUS, &ioapic->dev);
	synchronize_rcu();
	kfree(ioapic);
}
