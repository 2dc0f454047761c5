// The PC's two cascaded Intel 8259A programmable interrupt controllers:
// the master at 0x20/0x21 (IRQ 0-7), the slave at 0xa0/0xa1 (IRQ 8-15) on
// the master's input 2, and the EISA edge/level control registers at
// 0x4d0/0x4d1.  Behaviour follows the 8259A data sheet: ICW1-4, OCW1-3,
// IRR/ISR/IMR, fully nested priority with rotation, auto-EOI, polling,
// spurious IRQ 7/15.  Not modelled: special mask mode's effect on
// priority, special fully nested mode, buffered mode, 8080/85 mode.
#pragma once

#include <cstdint>

#include "devices.hpp"
#include "irq.hpp"

namespace kvmx {

class Pic8259 : public Device, public IrqSink {
public:
	Pic8259();

	// IrqSink: input 0-15 at @level.  Edge-triggered inputs latch into
	// IRR on a rising edge; level-triggered ones (ELCR) follow the level.
	void set_irq(unsigned irq, bool level) override;

	// Master 0x20-0x21, slave 0xa0-0xa1, their edge/level registers 0x4d0-0x4d1.
	void attach(IoBus &bus) override
	{
		bus.add_pio(0x20, 2, *this);
		bus.add_pio(0xa0, 2, *this);
		bus.add_pio(0x4d0, 2, *this);
	}
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;

	// Is the INTR output up (an unmasked request above what's in service)?
	bool has_pending() const;
	// The CPU's interrupt acknowledge: the vector to deliver, with IRR/ISR
	// updated.  With nothing left to deliver it answers the spurious vector
	// (IRQ 7 of the master, or IRQ 15 when the slave lost its request).
	uint8_t acknowledge();

	// For tests and --verbose.
	uint8_t irr(unsigned chip) const { return chip_[chip].irr; }
	uint8_t isr(unsigned chip) const { return chip_[chip].isr; }
	uint8_t imr(unsigned chip) const { return chip_[chip].imr; }

private:
	struct Chip {
		uint8_t irr = 0, isr = 0, imr = 0;
		uint8_t lines = 0;		// input levels, for edge detection
		uint8_t elcr = 0;		// 1: level-triggered input
		uint8_t elcr_mask = 0;		// ELCR bits that exist
		uint8_t vector_base = 0;	// ICW2 & 0xf8
		uint8_t lowest = 7;		// lowest-priority input (rotation)
		unsigned init_step = 0;		// 0: operational, 2..4: expecting ICWn
		bool need_icw4 = false, single = false, ltim = false;
		bool auto_eoi = false, rotate_on_aeoi = false;
		bool read_isr = false, poll = false, special_mask = false;
	};

	// Highest-priority input that may interrupt now, or -1.
	static int best_request(const Chip &c);
	static int highest_in_service(const Chip &c);
	void set_input(Chip &c, unsigned pin, bool level);
	// Ack on one chip: sets ISR (unless auto-EOI), clears an edge request.
	void ack_pin(Chip &c, unsigned pin);
	// The slave's INTR drives the master's input 2.
	void cascade();
	void write_command(Chip &c, uint8_t v);
	void write_data(Chip &c, uint8_t v);
	uint8_t read_command(Chip &c);
	uint8_t poll_byte(Chip &c);

	Chip chip_[2];
};

} // namespace kvmx
