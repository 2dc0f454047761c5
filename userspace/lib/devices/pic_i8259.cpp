#include "pic_i8259.hpp"

#include <cstring>

namespace kvmx {

namespace {

constexpr unsigned kMaster = 0, kSlave = 1;
constexpr unsigned kCascadePin = 2;

bool level_triggered(uint8_t elcr, bool ltim, unsigned pin)
{
	return ltim || (elcr & (1u << pin));
}

} // namespace

Pic8259::Pic8259()
{
	// IRQ 0, 1, 2, 8 and 13 are always edge-triggered on a PC.
	chip_[kMaster].elcr_mask = 0xf8;
	chip_[kSlave].elcr_mask = 0xde;
}

// Fully nested mode: walk inputs from highest to lowest priority; an
// in-service input at or above a request blocks it.
int Pic8259::best_request(const Chip &c)
{
	uint8_t want = c.irr & ~c.imr;

	for (unsigned i = 1; i <= 8; i++) {
		unsigned pin = (c.lowest + i) & 7;
		uint8_t bit = 1u << pin;
		if ((c.isr & bit) && !c.special_mask)
			return -1;
		if (want & bit && !(c.isr & bit))
			return pin;
	}
	return -1;
}

int Pic8259::highest_in_service(const Chip &c)
{
	for (unsigned i = 1; i <= 8; i++) {
		unsigned pin = (c.lowest + i) & 7;
		if (c.isr & (1u << pin))
			return pin;
	}
	return -1;
}

void Pic8259::set_input(Chip &c, unsigned pin, bool level)
{
	uint8_t bit = 1u << pin;

	if (level_triggered(c.elcr, c.ltim, pin)) {
		c.irr = level ? c.irr | bit : c.irr & ~bit;
	} else if (level && !(c.lines & bit)) {
		c.irr |= bit;	/* rising edge; a falling one doesn't withdraw it */
	}
	c.lines = level ? c.lines | bit : c.lines & ~bit;
}

void Pic8259::cascade()
{
	// The slave's INTR is a level on the master's input 2.
	Chip &m = chip_[kMaster];
	uint8_t bit = 1u << kCascadePin;
	bool out = best_request(chip_[kSlave]) >= 0;

	m.irr = out ? m.irr | bit : m.irr & ~bit;
	m.lines = out ? m.lines | bit : m.lines & ~bit;
}

void Pic8259::set_irq(unsigned irq, bool level)
{
	if (irq >= 16 || irq == kCascadePin)
		return;		/* IRQ 2 is the cascade; ISA's IRQ 2 is wired to 9 */
	if (irq < 8)
		set_input(chip_[kMaster], irq, level);
	else
		set_input(chip_[kSlave], irq - 8, level);
	cascade();
}

void Pic8259::ack_pin(Chip &c, unsigned pin)
{
	uint8_t bit = 1u << pin;

	if (c.auto_eoi) {
		if (c.rotate_on_aeoi)
			c.lowest = pin;
	} else {
		c.isr |= bit;
	}
	if (!level_triggered(c.elcr, c.ltim, pin))
		c.irr &= ~bit;
}

bool Pic8259::has_pending() const
{
	return best_request(chip_[kMaster]) >= 0;
}

uint8_t Pic8259::acknowledge()
{
	Chip &m = chip_[kMaster], &s = chip_[kSlave];
	int pin = best_request(m);

	if (pin < 0)
		return m.vector_base | 7;	/* spurious: ISR untouched */
	ack_pin(m, pin);
	if (pin != (int)kCascadePin || m.single) {
		cascade();
		return m.vector_base | pin;
	}
	// The master answered for the slave (its ISR 2 is set either way).
	int spin = best_request(s);
	if (spin < 0) {
		cascade();
		return s.vector_base | 7;	/* spurious IRQ 15 */
	}
	ack_pin(s, spin);
	cascade();
	return s.vector_base | spin;
}

void Pic8259::write_command(Chip &c, uint8_t v)
{
	if (v & 0x10) {
		// ICW1: start initialization.  IMR, ISR and priorities are reset
		// and the edge detector must see a fresh rising edge.
		c.init_step = 2;
		c.need_icw4 = v & 0x01;
		c.single = v & 0x02;
		c.ltim = v & 0x08;
		c.irr = c.isr = c.imr = 0;
		c.lowest = 7;
		c.special_mask = c.read_isr = c.poll = false;
		c.rotate_on_aeoi = false;
		if (!c.need_icw4)
			c.auto_eoi = false;
		return;
	}
	if (v & 0x08) {
		// OCW3: poll, register to read, special mask mode.
		if (v & 0x04)
			c.poll = true;
		if (v & 0x02)
			c.read_isr = v & 0x01;
		if (v & 0x40)
			c.special_mask = v & 0x20;
		return;
	}
	// OCW2: R, SL, EOI in bits 7-5, the input in bits 2-0.
	unsigned level = v & 7;
	int pin;
	switch (v >> 5) {
	case 0: c.rotate_on_aeoi = false; break;
	case 4: c.rotate_on_aeoi = true; break;
	case 1:					/* non-specific EOI */
	case 5:					/* ... and rotate */
		pin = highest_in_service(c);
		if (pin >= 0) {
			c.isr &= ~(1u << pin);
			if (v >> 5 == 5)
				c.lowest = pin;
		}
		break;
	case 3:					/* specific EOI */
		c.isr &= ~(1u << level);
		break;
	case 7:					/* specific EOI and rotate */
		c.isr &= ~(1u << level);
		c.lowest = level;
		break;
	case 6:					/* set priority */
		c.lowest = level;
		break;
	default:				/* 2: no operation */
		break;
	}
}

void Pic8259::write_data(Chip &c, uint8_t v)
{
	switch (c.init_step) {
	case 2:					/* ICW2: vector base */
		c.vector_base = v & 0xf8;
		c.init_step = !c.single ? 3 : c.need_icw4 ? 4 : 0;
		break;
	case 3:					/* ICW3: wiring, fixed on a PC */
		c.init_step = c.need_icw4 ? 4 : 0;
		break;
	case 4:					/* ICW4: auto-EOI (8086 mode assumed) */
		c.auto_eoi = v & 0x02;
		c.init_step = 0;
		break;
	default:				/* OCW1: the mask */
		c.imr = v;
		break;
	}
}

uint8_t Pic8259::poll_byte(Chip &c)
{
	// A poll is an acknowledge through a port read: 0x80 | input, or 0.
	c.poll = false;
	int pin = best_request(c);
	if (pin < 0)
		return 0;
	ack_pin(c, pin);
	return 0x80 | pin;
}

uint8_t Pic8259::read_command(Chip &c)
{
	if (c.poll)
		return poll_byte(c);
	return c.read_isr ? c.isr : c.irr;
}

bool Pic8259::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	Chip *c;
	switch (port) {
	case 0x20: case 0x21: c = &chip_[kMaster]; break;
	case 0xa0: case 0xa1: c = &chip_[kSlave]; break;
	case 0x4d0: case 0x4d1: c = &chip_[port - 0x4d0]; break;
	default: return false;
	}
	if (in)
		std::memset(data, 0, size);
	if (port >= 0x4d0) {
		if (in)
			data[0] = c->elcr;
		else
			c->elcr = data[0] & c->elcr_mask;
	} else if (in) {
		data[0] = (port & 1) && !c->poll ? c->imr : read_command(*c);
	} else if (port & 1) {
		write_data(*c, data[0]);
	} else {
		write_command(*c, data[0]);
	}
	cascade();
	return true;
}

} // namespace kvmx
