// SPDX-License-Identifier: GPL-2.0
/*
 * The two 8259A programmable interrupt controllers of a PC, in software.
 *
 * References: the Intel 8259A datasheet (order 231468-003), whose sections
 * are named, not numbered: "Interrupt Sequence", "Initialization Command
 * Words", "Operation Command Words", "Fully Nested Mode", "End of Interrupt",
 * "Automatic Rotation", "Specific Rotation", "Special Mask Mode", "Poll
 * Command", "Reading the 8259A Status", "Cascade Mode" and "Special Fully
 * Nest Mode"; and the Intel 82371AB (PIIX4) datasheet (order 290562-001)
 * for the ELCR1/ELCR2 registers, which replace the 8259A's own LTIM bit.
 *
 * The wiring is the PC's: the master answers ports 0x20/0x21 and takes IRQs
 * 0-7, the slave answers 0xa0/0xa1, takes IRQs 8-15 and drives the master's
 * IR2 with its INT pin (the cascade); the master's INT pin goes to LINT0 of
 * the local APICs (lapic.c: kvmx_pic_output(), kvmx_pic_ack()).  Whether
 * each IRQ is edge or level triggered is the chipset's ELCR at 0x4d0/0x4d1,
 * whose reserved bits pin IRQ 0, 1, 2, 8 and 13 to edge.
 *
 * One chip's model, in its datasheet's terms:
 *  - IRR latches requests: an edge-triggered IR sets it on a rising edge,
 *    a level-triggered one keeps it set while the line is high;
 *  - IMR masks requests (IRR still latches them);
 *  - ISR holds what the CPU took and has not EOIed yet;
 *  - the priority resolver lets the best unmasked request through when it
 *    beats the best in-service level.  Priorities rotate: priority_add is
 *    the line with priority 0, so (priority_add - 1) & 7 is the lowest.
 *
 * The lines are driven from VMM ioctls, vCPU threads and the PIT's hrtimer,
 * and the guest touches the ports from any vCPU: one spinlock, taken with
 * interrupts off, covers the whole pair.  When the INT output rises,
 * kvmx_irqchip_kick_extint() wakes whoever takes ExtINT; it is called after
 * the lock is dropped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "kvmx.h"

#define PIC_MASTER		0
#define PIC_SLAVE		1
#define PIC_NUM_IRQS		16

#define PIC_MASTER_PORT		0x20
#define PIC_SLAVE_PORT		0xa0
#define PIC_ELCR_PORT		0x4d0	/* ELCR1 (IRQ 0-7); ELCR2 at 0x4d1 */

/* The master's input the slave's INT is wired to. */
#define PIC_CASCADE_IRQ		2

/*
 * ELCR bits the guest may set (PIIX4 ELCR1/ELCR2): IRQ 0 (timer), 1
 * (keyboard), 2 (cascade), 8 (RTC) and 13 (FPU error) are edge only.
 */
#define PIC_MASTER_ELCR_MASK	0xf8
#define PIC_SLAVE_ELCR_MASK	0xde

/* Command-port writes: A0 = 0 (datasheet, "Initialization Command Words"). */
#define ICW1_SELECT		0x10	/* D4: ICW1, starts initialization */
#define ICW1_IC4		0x01	/* ICW4 will follow */
#define OCW3_SELECT		0x08	/* D4 = 0, D3 = 1: OCW3, else OCW2 */
/* ICW4 */
#define ICW4_AEOI		0x02	/* automatic EOI */
#define ICW4_SFNM		0x10	/* special fully nested mode */
/* OCW3 */
#define OCW3_RIS		0x01	/* read ISR, not IRR ... */
#define OCW3_RR			0x02	/* ... if this bit says so */
#define OCW3_POLL		0x04	/* the next read is a poll */
#define OCW3_SMM		0x20	/* special mask mode on/off ... */
#define OCW3_ESMM		0x40	/* ... if this bit says so */
/* OCW2: R, SL, EOI in bits 7:5; L2-L0, the level, in bits 2:0 */
#define OCW2_LEVEL		0x07

enum {
	OCW2_ROTATE_AEOI_CLEAR	= 0,
	OCW2_NONSPECIFIC_EOI	= 1,
	OCW2_NOP		= 2,
	OCW2_SPECIFIC_EOI	= 3,
	OCW2_ROTATE_AEOI_SET	= 4,
	OCW2_ROTATE_NONSPECIFIC	= 5,
	OCW2_SET_PRIORITY	= 6,
	OCW2_ROTATE_SPECIFIC	= 7,
};

/* The poll word: I (an interrupt is there) and W2-W0 (its level). */
#define POLL_INTERRUPT		0x80

/* Which initialization command word the data port expects next. */
enum { PIC_READY, PIC_WANT_ICW2, PIC_WANT_ICW3, PIC_WANT_ICW4 };

/* One 8259A: the fields of struct kvmx_pic_state. */
struct pic_chip {
	u8 irr;			/* requests latched */
	u8 imr;			/* OCW1 */
	u8 isr;			/* in service: taken by the CPU, not EOIed */
	u8 last_irr;		/* each line's level at its last change: the edge detector */
	u8 priority_add;	/* the line with the highest priority */
	u8 irq_base;		/* ICW2: the vector of IR0 (bits 7:3) */
	u8 init_state;		/* PIC_READY or the ICW expected next */
	u8 elcr;		/* level-triggered lines */
	u8 elcr_mask;		/* the lines that may be level-triggered */
	bool read_isr;		/* OCW3: the command port reads ISR */
	bool poll;		/* OCW3: the next read is a poll */
	bool special_mask;	/* OCW3: special mask mode */
	bool init4;		/* ICW1: ICW4 follows */
	bool auto_eoi;		/* ICW4 */
	bool sfnm;		/* ICW4: special fully nested mode */
	bool rotate_on_aeoi;	/* OCW2: rotate in automatic EOI mode */
	u8 acked;		/* ISR bits cleared under the lock held now (pic_resample()) */
};

struct kvmx_pic {
	raw_spinlock_t lock;		/* all of it, interrupts off; raw: taken with them off */
	struct kvmx_vm *vm;
	struct pic_chip chip[2];		/* PIC_MASTER, PIC_SLAVE */
	u16 lines[KVMX_NR_IRQ_SOURCES];		/* each source's levels, IRQ n at bit n */
	bool output;				/* the master's INT pin */
	atomic_long_t aeoi_acked;		/* kvmx_pic_ack()'s pic_resample(), for later */
	struct kvmx_io_device dev_master, dev_slave, dev_elcr;
};

/* ---- the priority resolver ---- */

/*
 * The priority (0 highest, 7 lowest) of the best line in @lines, or 8 if
 * it is empty.  Rotating the byte right by priority_add puts the line with
 * priority 0 at bit 0, so the lowest set bit is the best line.
 */
static unsigned int best_priority(const struct pic_chip *c, u8 lines)
{
	u8 by_priority = ror8(lines, c->priority_add & 7);

	return by_priority ? __ffs(by_priority) : 8;
}

static unsigned int priority_to_line(const struct pic_chip *c, unsigned int priority)
{
	return (priority + c->priority_add) & 7;
}

/*
 * The line chip @idx raises INT for, or -1.  A request gets through when
 * it is unmasked and has a higher priority than everything in service
 * ("Fully Nested Mode").  Two modes change what "in service" means:
 *  - special mask mode: a masked level no longer blocks lower priorities
 *    ("Special Mask Mode");
 *  - special fully nested mode on the master: the cascade line may
 *    interrupt again while it is itself in service, so that a higher
 *    priority IRQ on the slave nests inside a slave handler ("Special
 *    Fully Nest Mode").  The slave resolves priorities among its own lines.
 */
static int chip_request(struct kvmx_pic *pic, unsigned int idx)
{
	struct pic_chip *c = &pic->chip[idx];
	u8 in_service = c->isr;
	unsigned int req, cur, line;

	req = best_priority(c, c->irr & ~c->imr);
	if (req == 8)
		return -1;
	line = priority_to_line(c, req);
	if (c->special_mask)
		in_service &= ~c->imr;
	cur = best_priority(c, in_service);
	if (req < cur)
		return line;
	if (idx == PIC_MASTER && c->sfnm && line == PIC_CASCADE_IRQ && req == cur)
		return line;
	return -1;
}

/*
 * Re-evaluate both chips after anything that may change a request; true if
 * the master's INT went from low to high.  The slave's INT is re-presented
 * to the master as a fresh edge on IR2 whenever the slave has a request to
 * pass on: the master latches it in IRR2 like any edge, and its INTA then
 * asks the slave for the vector ("Cascade Mode").
 */
static bool pic_update(struct kvmx_pic *pic)
{
	bool was = pic->output, now;

	if (chip_request(pic, PIC_SLAVE) >= 0)
		pic->chip[PIC_MASTER].irr |= BIT(PIC_CASCADE_IRQ);
	now = chip_request(pic, PIC_MASTER) >= 0;
	WRITE_ONCE(pic->output, now);
	return !was && now;
}

/* After the lock is dropped: INT rose, wake whoever takes ExtINT. */
static void pic_kick(struct kvmx_pic *pic, bool rose)
{
	if (rose)
		kvmx_irqchip_kick_extint(pic->vm);
}

/* ---- the input lines ---- */

/*
 * Line @line of @c is now at @level: latch a request as its trigger mode
 * says.  Returns what KVM_IRQ_LINE_STATUS reports: 0 if the request was
 * already latched (coalesced), -1 if the line is masked, else 1.
 */
static int chip_set_line(struct pic_chip *c, unsigned int line, bool level)
{
	u8 m = BIT(line);
	int ret = 1;

	if (c->elcr & m) {
		/* Level-triggered: IRR follows the line ("Edge and Level Triggered Modes"). */
		if (level) {
			if (c->irr & m)
				ret = 0;
			c->irr |= m;
			c->last_irr |= m;
		} else {
			c->irr &= ~m;
			c->last_irr &= ~m;
		}
	} else {
		/*
		 * Edge-triggered: a low-to-high transition latches IRR, which
		 * stays set until INTA even if the line drops.
		 */
		if (level && !(c->last_irr & m)) {
			if (c->irr & m)
				ret = 0;
			c->irr |= m;
		}
		if (level)
			c->last_irr |= m;
		else
			c->last_irr &= ~m;
	}
	/* IRR latches masked requests too; they are just not passed on. */
	return (c->imr & m) ? -1 : ret;
}

/*
 * The level of IRQ @irq from @src.  A line is the OR of what its sources
 * drive, as a shared wire.  Returns 1 if the interrupt was latched, 0 if
 * it was already pending (coalesced), -1 if masked: KVM's convention for
 * KVM_IRQ_LINE_STATUS, where a lowered line reports 1.
 */
static bool pic_driven(const struct kvmx_pic *pic, unsigned int irq)
{
	unsigned int s;

	for (s = 0; s < KVMX_NR_IRQ_SOURCES; s++)
		if (pic->lines[s] & BIT(irq))
			return true;
	return false;
}

int kvmx_pic_set_irq(struct kvmx_pic *pic, enum kvmx_irq_source src, unsigned int irq,
		     bool level)
{
	unsigned long flags;
	bool kick;
	int ret;

	if (irq >= PIC_NUM_IRQS || (unsigned int)src >= KVMX_NR_IRQ_SOURCES)
		return -EINVAL;
	irq = array_index_nospec(irq, PIC_NUM_IRQS);
	src = array_index_nospec((unsigned int)src, KVMX_NR_IRQ_SOURCES);

	raw_spin_lock_irqsave(&pic->lock, flags);
	if (level)
		pic->lines[src] |= BIT(irq);
	else
		pic->lines[src] &= ~BIT(irq);
	ret = chip_set_line(&pic->chip[irq >> 3], irq & 7, pic_driven(pic, irq));
	kick = pic_update(pic);
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	pic_kick(pic, kick);
	return ret;
}

bool kvmx_pic_output(struct kvmx_pic *pic)
{
	return READ_ONCE(pic->output);
}

/* ---- interrupt acknowledge ---- */

/*
 * The INTA cycle on one chip for @line: into ISR, and out of IRR if edge
 * triggered (a level-triggered request stays while its line is high).  In
 * automatic EOI mode the ISR bit goes again at the end of the cycle, and
 * "rotate in automatic EOI mode" makes the line the lowest priority.
 */
static void chip_intack(struct pic_chip *c, unsigned int line)
{
	u8 m = BIT(line);

	c->isr |= m;
	if (!(c->elcr & m))
		c->irr &= ~m;
	if (c->auto_eoi) {
		if (c->rotate_on_aeoi)
			c->priority_add = (line + 1) & 7;
		c->isr &= ~m;
		c->acked |= m;
	}
}

/*
 * The ISR bits cleared since the lock was taken are acknowledgements (KVM
 * calls its ack notifiers there too): a resampling irqfd's hold on such a
 * line ends before pic_update() looks at it, so only another source keeps
 * it high.  Returns the IRQs (bit n: IRQ n) whose resamplefds are to be
 * signalled once the lock is dropped (pic_resample_acked()).
 */
static unsigned long pic_resample(struct kvmx_pic *pic)
{
	unsigned long acked = pic->chip[PIC_MASTER].acked | pic->chip[PIC_SLAVE].acked << 8;
	unsigned int irq;

	pic->chip[PIC_MASTER].acked = 0;
	pic->chip[PIC_SLAVE].acked = 0;
	acked &= pic->lines[KVMX_IRQ_SOURCE_RESAMPLE];
	for_each_set_bit(irq, &acked, PIC_NUM_IRQS) {
		pic->lines[KVMX_IRQ_SOURCE_RESAMPLE] &= ~BIT(irq);
		chip_set_line(&pic->chip[irq >> 3], irq & 7, pic_driven(pic, irq));
	}
	return acked;
}

/* Outside the lock: the resamplers lower the GSI's other routes too. */
static void pic_resample_acked(struct kvmx_pic *pic, unsigned long acked)
{
	unsigned int irq;

	for_each_set_bit(irq, &acked, PIC_NUM_IRQS)
		kvmx_irqfd_resample_ack(pic->vm, irq < 8 ? KVMX_IRQCHIP_PIC_MASTER :
						       KVMX_IRQCHIP_PIC_SLAVE, irq & 7);
}

void kvmx_pic_aeoi_resample(struct kvmx_pic *pic)
{
	if (unlikely(atomic_long_read(&pic->aeoi_acked)))
		pic_resample_acked(pic, atomic_long_xchg(&pic->aeoi_acked, 0));
}

/*
 * INTA from the CPU that took ExtINT: the vector to deliver ("Interrupt
 * Sequence").  The master resolves first; if its winner is the cascade, the
 * slave supplies the vector.  A request that went away between INT and
 * INTA (masked, or a level-triggered line dropped) leaves nobody to answer:
 * the chip then gives IR7's vector without setting ISR, the spurious IRQ 7
 * (master) or IRQ 15 (slave; the master's ISR2 is set, so the guest must
 * still EOI the master).
 */
int kvmx_pic_ack(struct kvmx_pic *pic)
{
	struct pic_chip *master = &pic->chip[PIC_MASTER], *slave = &pic->chip[PIC_SLAVE];
	unsigned long flags, acked;
	int line, line2, vector;
	bool kick;

	raw_spin_lock_irqsave(&pic->lock, flags);
	/* INTA takes INT down; whatever is still pending raises it anew. */
	WRITE_ONCE(pic->output, false);
	line = chip_request(pic, PIC_MASTER);
	if (line < 0) {
		vector = master->irq_base + 7;
	} else {
		chip_intack(master, line);
		if (line == PIC_CASCADE_IRQ) {
			line2 = chip_request(pic, PIC_SLAVE);
			if (line2 >= 0)
				chip_intack(slave, line2);
			else
				line2 = 7;
			vector = slave->irq_base + line2;
		} else {
			vector = master->irq_base + line;
		}
	}
	acked = pic_resample(pic);
	kick = pic_update(pic);
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	pic_kick(pic, kick);
	/*
	 * The vCPU is about to enter with interrupts off: the resamplefds
	 * (other subsystems' wake functions) are signalled after the entry.
	 */
	if (acked)
		atomic_long_or(acked, &pic->aeoi_acked);
	return vector;
}

/* ---- the ports ---- */

/*
 * ICW1 starts initialization ("Initialization Command Words"): the edge
 * detectors are reset (so an edge-triggered IR needs a new rising edge,
 * and edge-latched requests are dropped), IMR is cleared, IR7 becomes the
 * lowest priority, special mask mode is cleared, status reads return IRR,
 * and without IC4 the ICW4 functions (automatic EOI, special fully nested
 * mode) are off.  ISR is not touched.  SNGL, ADI and LTIM are ignored:
 * the pair is always cascaded, ADI is for 8080 CPUs and the PIIX's ELCR
 * replaces LTIM (PIIX4 datasheet, ICW1).  The ELCR is not the 8259's and
 * keeps its value.
 */
static void chip_icw1(struct pic_chip *c, u8 val)
{
	c->init4 = val & ICW1_IC4;
	/* Dropped edge requests are acknowledged too, or a resampler would hold them for ever (KVM). */
	c->acked |= c->irr & ~c->elcr;
	c->last_irr = 0;
	c->irr &= c->elcr;
	c->imr = 0;
	c->priority_add = 0;
	c->special_mask = false;
	c->read_isr = false;
	if (!c->init4) {
		c->auto_eoi = false;
		c->sfnm = false;
	}
	c->init_state = PIC_WANT_ICW2;
}

/*
 * End of interrupt of @line (a specific EOI), or of the highest priority
 * line in service (line < 0: a non-specific EOI; in special mask mode it
 * does not clear a masked level - datasheet, "End of Interrupt").  @rotate:
 * the line then becomes the lowest priority ("Automatic Rotation",
 * "Specific Rotation").
 */
static void chip_eoi(struct pic_chip *c, int line, bool rotate)
{
	if (line < 0) {
		u8 in_service = c->special_mask ? c->isr & ~c->imr : c->isr;
		unsigned int p = best_priority(c, in_service);

		if (p == 8)
			return;
		line = priority_to_line(c, p);
	}
	c->isr &= ~BIT(line);
	c->acked |= BIT(line);
	if (rotate)
		c->priority_add = (line + 1) & 7;
}

/* OCW2: EOIs and rotation ("Operation Command Words"). */
static void chip_ocw2(struct pic_chip *c, u8 val)
{
	unsigned int level = val & OCW2_LEVEL;

	switch (val >> 5) {
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate_on_aeoi = false;
		break;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate_on_aeoi = true;
		break;
	case OCW2_NONSPECIFIC_EOI:
		chip_eoi(c, -1, false);
		break;
	case OCW2_ROTATE_NONSPECIFIC:
		chip_eoi(c, -1, true);
		break;
	case OCW2_SPECIFIC_EOI:
		chip_eoi(c, level, false);
		break;
	case OCW2_ROTATE_SPECIFIC:
		chip_eoi(c, level, true);
		break;
	case OCW2_SET_PRIORITY:
		/* L2-L0 becomes the lowest priority. */
		c->priority_add = (level + 1) & 7;
		break;
	case OCW2_NOP:
	default:
		break;
	}
}

/* OCW3: what the command port reads, polling, special mask mode. */
static void chip_ocw3(struct pic_chip *c, u8 val)
{
	if (val & OCW3_POLL)
		c->poll = true;
	if (val & OCW3_RR)
		c->read_isr = val & OCW3_RIS;
	if (val & OCW3_ESMM)
		c->special_mask = val & OCW3_SMM;
}

/* The data port: OCW1 when ready, else the next ICW of the sequence. */
static void chip_data_write(struct pic_chip *c, u8 val)
{
	switch (c->init_state) {
	case PIC_READY:
		c->imr = val;
		break;
	case PIC_WANT_ICW2:
		/* T7-T3 in 8086 mode: the vectors are irq_base + 0..7. */
		c->irq_base = val & 0xf8;
		c->init_state = PIC_WANT_ICW3;
		break;
	case PIC_WANT_ICW3:
		/* Who is cascaded where: fixed by the PC's wiring. */
		c->init_state = c->init4 ? PIC_WANT_ICW4 : PIC_READY;
		break;
	case PIC_WANT_ICW4:
		/* uPM, BUF and M/S don't change what a guest sees. */
		c->auto_eoi = val & ICW4_AEOI;
		c->sfnm = val & ICW4_SFNM;
		c->init_state = PIC_READY;
		break;
	}
}

/*
 * A read after the poll command ("Poll Command"): the read is the
 * interrupt acknowledge, with INT ignored.  It returns I (bit 7) and the
 * level W2-W0 of the best request, and sets its ISR bit as INTA would; 0
 * if there is no request.  Polling the slave takes its request away from
 * the master's IR2, which never saw an INTA for it.
 */
static u8 chip_poll(struct kvmx_pic *pic, unsigned int idx)
{
	int line = chip_request(pic, idx);

	if (line < 0)
		return 0;
	chip_intack(&pic->chip[idx], line);
	if (idx == PIC_SLAVE)
		pic->chip[PIC_MASTER].irr &= ~BIT(PIC_CASCADE_IRQ);
	return POLL_INTERRUPT | line;
}

static void pic_port_write(struct kvmx_pic *pic, unsigned int idx, unsigned int a0, u8 val)
{
	struct pic_chip *c = &pic->chip[idx];
	unsigned long flags, acked;
	bool kick;

	raw_spin_lock_irqsave(&pic->lock, flags);
	if (a0)
		chip_data_write(c, val);
	else if (val & ICW1_SELECT)
		chip_icw1(c, val);
	else if (val & OCW3_SELECT)
		chip_ocw3(c, val);
	else
		chip_ocw2(c, val);
	acked = pic_resample(pic);
	kick = pic_update(pic);
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	pic_kick(pic, kick);
	pic_resample_acked(pic, acked);
}

/*
 * "Reading the 8259A Status": the command port reads IRR or ISR as OCW3
 * chose, the data port IMR; a pending poll command wins over both.
 */
static u8 pic_port_read(struct kvmx_pic *pic, unsigned int idx, unsigned int a0)
{
	struct pic_chip *c = &pic->chip[idx];
	unsigned long flags, acked = 0;
	bool kick = false;
	u8 val;

	raw_spin_lock_irqsave(&pic->lock, flags);
	if (c->poll) {
		c->poll = false;
		val = chip_poll(pic, idx);
		acked = pic_resample(pic);
		kick = pic_update(pic);
	} else if (a0) {
		val = c->imr;
	} else {
		val = c->read_isr ? c->isr : c->irr;
	}
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	pic_kick(pic, kick);
	pic_resample_acked(pic, acked);
	return val;
}

/*
 * The 8259s are byte-wide: as with KVM, a wider access reads 0 and a wider
 * write is dropped, but the access is the device's (not userspace's).
 */
static int pic_read(struct kvmx_pic *pic, unsigned int idx, const struct kvmx_io_device *d,
		    u64 addr, unsigned int len, void *val)
{
	if (len != 1) {
		memset(val, 0, len);
		return 0;
	}
	*(u8 *)val = pic_port_read(pic, idx, (addr - d->base) & 1);
	return 0;
}

static int pic_write(struct kvmx_pic *pic, unsigned int idx, const struct kvmx_io_device *d,
		     u64 addr, unsigned int len, const void *val)
{
	if (len == 1)
		pic_port_write(pic, idx, (addr - d->base) & 1, *(const u8 *)val);
	return 0;
}

static int master_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		       unsigned int len, void *val)
{
	return pic_read(container_of(d, struct kvmx_pic, dev_master), PIC_MASTER, d, addr,
			len, val);
}

static int master_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			unsigned int len, const void *val)
{
	return pic_write(container_of(d, struct kvmx_pic, dev_master), PIC_MASTER, d, addr,
			 len, val);
}

static int slave_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		      unsigned int len, void *val)
{
	return pic_read(container_of(d, struct kvmx_pic, dev_slave), PIC_SLAVE, d, addr,
			len, val);
}

static int slave_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		       unsigned int len, const void *val)
{
	return pic_write(container_of(d, struct kvmx_pic, dev_slave), PIC_SLAVE, d, addr,
			 len, val);
}

/*
 * ELCR1 (0x4d0, IRQ 0-7) and ELCR2 (0x4d1, IRQ 8-15): one bit per IRQ, 1 =
 * level triggered; reserved bits read 0 and ignore writes.  A 16-bit access
 * at 0x4d0 reaches both registers, as the PIIX splits it into two bytes.
 * A changed trigger mode takes effect at the line's next change: a request
 * already latched stays.
 */
static int elcr_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		     unsigned int len, void *val)
{
	struct kvmx_pic *pic = container_of(d, struct kvmx_pic, dev_elcr);
	unsigned int off = addr - d->base;
	unsigned long flags;

	memset(val, 0, len);
	raw_spin_lock_irqsave(&pic->lock, flags);
	if (len == 1) {
		*(u8 *)val = pic->chip[off & 1].elcr;
	} else if (len == 2 && off == 0) {
		((u8 *)val)[0] = pic->chip[PIC_MASTER].elcr;
		((u8 *)val)[1] = pic->chip[PIC_SLAVE].elcr;
	}
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	return 0;
}

static int elcr_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		      unsigned int len, const void *val)
{
	struct kvmx_pic *pic = container_of(d, struct kvmx_pic, dev_elcr);
	unsigned int off = addr - d->base, i;
	const u8 *bytes = val;
	unsigned long flags;

	if (len != 1 && !(len == 2 && off == 0))
		return 0;
	raw_spin_lock_irqsave(&pic->lock, flags);
	for (i = 0; i < len; i++) {
		struct pic_chip *c = &pic->chip[(off + i) & 1];

		c->elcr = bytes[i] & c->elcr_mask;
	}
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	return 0;
}

static const struct kvmx_io_ops master_ops = { .read = master_read, .write = master_write };
static const struct kvmx_io_ops slave_ops = { .read = slave_read, .write = slave_write };
static const struct kvmx_io_ops elcr_ops = { .read = elcr_read, .write = elcr_write };

/* ---- KVM_GET/SET_IRQCHIP ---- */

int kvmx_pic_get_state(struct kvmx_pic *pic, unsigned int chip, struct kvmx_pic_state *s)
{
	const struct pic_chip *c;
	unsigned long flags;

	if (chip > PIC_SLAVE)
		return -EINVAL;
	c = &pic->chip[array_index_nospec(chip, 2)];
	memset(s, 0, sizeof(*s));
	raw_spin_lock_irqsave(&pic->lock, flags);
	s->last_irr = c->last_irr;
	s->irr = c->irr;
	s->imr = c->imr;
	s->isr = c->isr;
	s->priority_add = c->priority_add;
	s->irq_base = c->irq_base;
	s->read_reg_select = c->read_isr;
	s->poll = c->poll;
	s->special_mask = c->special_mask;
	s->init_state = c->init_state;
	s->auto_eoi = c->auto_eoi;
	s->rotate_on_auto_eoi = c->rotate_on_aeoi;
	s->special_fully_nested_mode = c->sfnm;
	s->init4 = c->init4;
	s->elcr = c->elcr;
	s->elcr_mask = c->elcr_mask;
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	return 0;
}

/*
 * Refuse what no sequence of port writes could produce.  elcr_mask is the
 * board's wiring, not state: it is ignored, and an ELCR bit outside it is
 * refused.
 */
static bool pic_state_valid(const struct pic_chip *c, const struct kvmx_pic_state *s)
{
	return s->init_state <= PIC_WANT_ICW4 && s->priority_add <= 7 &&
	       !(s->irq_base & 7) && !(s->elcr & ~c->elcr_mask) &&
	       s->read_reg_select <= 1 && s->poll <= 1 && s->special_mask <= 1 &&
	       s->auto_eoi <= 1 && s->rotate_on_auto_eoi <= 1 &&
	       s->special_fully_nested_mode <= 1 && s->init4 <= 1;
}

/*
 * The lines' levels (which sources drive them) are the devices' and stay
 * as they are; the chip's edge detector is last_irr, which is restored.
 */
int kvmx_pic_set_state(struct kvmx_pic *pic, unsigned int chip, const struct kvmx_pic_state *s)
{
	struct pic_chip *c;
	unsigned long flags;
	bool kick;

	if (chip > PIC_SLAVE)
		return -EINVAL;
	c = &pic->chip[array_index_nospec(chip, 2)];
	if (!pic_state_valid(c, s))
		return -EINVAL;
	raw_spin_lock_irqsave(&pic->lock, flags);
	c->last_irr = s->last_irr;
	c->irr = s->irr;
	c->imr = s->imr;
	c->isr = s->isr;
	c->priority_add = s->priority_add;
	c->irq_base = s->irq_base;
	c->read_isr = s->read_reg_select;
	c->poll = s->poll;
	c->special_mask = s->special_mask;
	c->init_state = s->init_state;
	c->auto_eoi = s->auto_eoi;
	c->rotate_on_aeoi = s->rotate_on_auto_eoi;
	c->sfnm = s->special_fully_nested_mode;
	c->init4 = s->init4;
	c->elcr = s->elcr;
	kick = pic_update(pic);
	raw_spin_unlock_irqrestore(&pic->lock, flags);
	pic_kick(pic, kick);
	return 0;
}

/* ---- life ---- */

/*
 * Power-on state: everything zero, as KVM and QEMU have it (the datasheet
 * leaves the 8259A undefined until ICW1); all lines edge triggered.
 * Called with vm->lock held; returns the PIC or an ERR_PTR.
 */
struct kvmx_pic *kvmx_pic_create(struct kvmx_vm *vm)
{
	struct kvmx_pic *pic;
	int r;

	pic = kzalloc(sizeof(*pic), GFP_KERNEL_ACCOUNT);
	if (!pic)
		return ERR_PTR(-ENOMEM);
	raw_spin_lock_init(&pic->lock);
	pic->vm = vm;
	pic->chip[PIC_MASTER].elcr_mask = PIC_MASTER_ELCR_MASK;
	pic->chip[PIC_SLAVE].elcr_mask = PIC_SLAVE_ELCR_MASK;
	pic->dev_master = (struct kvmx_io_device){ .ops = &master_ops, .base = PIC_MASTER_PORT,
						   .len = 2 };
	pic->dev_slave = (struct kvmx_io_device){ .ops = &slave_ops, .base = PIC_SLAVE_PORT,
						  .len = 2 };
	pic->dev_elcr = (struct kvmx_io_device){ .ops = &elcr_ops, .base = PIC_ELCR_PORT,
						 .len = 2 };

	r = kvmx_io_bus_register(vm, KVMX_PIO_BUS, &pic->dev_master);
	if (r)
		goto free;
	r = kvmx_io_bus_register(vm, KVMX_PIO_BUS, &pic->dev_slave);
	if (r)
		goto unreg_master;
	r = kvmx_io_bus_register(vm, KVMX_PIO_BUS, &pic->dev_elcr);
	if (r)
		goto unreg_slave;
	return pic;

unreg_slave:
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pic->dev_slave);
unreg_master:
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pic->dev_master);
	synchronize_rcu();	/* a vCPU may have found a port already */
free:
	kfree(pic);
	return ERR_PTR(r);
}

/*
 * With vm->lock held.  After the ports are gone, a vCPU may still be inside
 * an access it found before (io_bus.c's readers run under RCU): wait for
 * them.  Whoever drives the lines (the PIT, irqchip.c) must be done first.
 */
void kvmx_pic_destroy(struct kvmx_vm *vm, struct kvmx_pic *pic)
{
	if (IS_ERR_OR_NULL(pic))
		return;
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pic->dev_master);
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pic->dev_slave);
	kvmx_io_bus_unregister(vm, KVMX_PIO_BUS, &pic->dev_elcr);
	synchronize_rcu();
	kfree(pic);
}
