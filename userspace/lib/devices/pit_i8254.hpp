// The Intel 8254 programmable interval timer at 0x40-0x43, and port 0x61
// (PC "system control port B") whose bit 0 gates channel 2 and whose bit 5
// shows channel 2's output: Linux calibrates the TSC against it.
//
// Counters are not stepped: their value is computed from a Clock at
// 1.193182 MHz whenever the guest looks, and update() turns elapsed time
// into IRQ 0 edges.  Lost ticks coalesce into one edge, as an edge-triggered
// PIC input would see them.  Modes 0-5 with lobyte/hibyte access, the
// counter-latch and read-back commands.  Not modelled: BCD counting (the
// BCD bit is kept and reported in the status, counting stays binary), the
// one-clock delay between writing a count and counting it, and a new count
// in modes 2/3 waiting for the end of the current period (it takes effect
// at once).
#pragma once

#include <cstdint>
#include <optional>

#include "clock.hpp"
#include "devices.hpp"
#include "irq.hpp"

namespace kvmx {

inline constexpr uint64_t kPitHz = 1193182;

class Pit8254 : public Device {
public:
	Pit8254(const Clock &clock, IrqLine irq0) : clock_(clock), irq0_(irq0)
	{
		ch_[2].gate = false;	/* port 0x61 bit 0 starts clear */
	}

	// Channels and mode register 0x40-0x43, the speaker gate at 0x61.
	void attach(IoBus &bus) override
	{
		bus.add_pio(0x40, 4, *this);
		bus.add_pio(0x61, 1, *this);
	}
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;

	// Raise IRQ 0 if channel 0's output rose since the last call.
	void update();
	// When channel 0's output will next rise (Clock time), if ever.
	std::optional<uint64_t> next_deadline_ns() const;

	// For tests: a channel's count and output right now.
	uint16_t count(unsigned ch) const;
	bool out(unsigned ch) const;
	uint64_t irqs_raised() const { return irqs_raised_; }

private:
	struct Channel {
		uint8_t mode = 0;
		uint8_t access = 3;		// 1 lobyte, 2 hibyte, 3 lo then hi
		bool bcd = false;
		uint32_t reload = 0x10000;	// the count N; 0 written means 65536
		bool armed = false;		// counting (modes 1/5: triggered)
		bool loaded = false;		// a count was written since the mode
		bool gate = true;
		bool frozen = false;		// gate low stopped the count
		uint64_t frozen_ticks = 0;
		uint64_t start_ns = 0;		// when tick 0 was
		uint64_t edges = 0;		// output rises already turned into IRQs
		bool write_hi = false;		// lo/hi access: next write is the MSB
		uint8_t write_lo = 0;
		bool read_hi = false;		// lo/hi access: next read is the MSB
		std::optional<uint16_t> latch;	// counter-latch command
		bool latch_hi = false;
		std::optional<uint8_t> status;	// read-back status latch
	};

	uint64_t now() const { return clock_.now_ns(); }
	std::optional<uint64_t> elapsed(const Channel &c) const;
	uint16_t count_at(const Channel &c, uint64_t t) const;
	bool out_at(const Channel &c, std::optional<uint64_t> t) const;
	// Tick of the @k-th rise of the output (k >= 1), if it rises again.
	std::optional<uint64_t> edge_tick(const Channel &c, uint64_t k) const;
	uint64_t edges_by(const Channel &c, uint64_t t) const;
	void write_control(uint8_t v);
	void latch_count(Channel &c);
	void write_count(Channel &c, uint8_t v);
	void load(Channel &c, uint32_t n);
	uint8_t read_count(Channel &c);
	void set_gate(Channel &c, bool gate);

	const Clock &clock_;
	IrqLine irq0_;
	Channel ch_[3];
	uint8_t port61_ = 0;		// bits 0-3 as written
	uint64_t irqs_raised_ = 0;
};

} // namespace kvmx
