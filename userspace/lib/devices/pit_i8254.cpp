#include "pit_i8254.hpp"

#include <cstring>

namespace kvmx {

namespace {

uint64_t ns_to_ticks(uint64_t ns)
{
	return uint64_t((unsigned __int128)ns * kPitHz / 1000000000ULL);
}

// The first nanosecond at which @ticks whole ticks have passed.
uint64_t ticks_to_ns(uint64_t ticks)
{
	return uint64_t(((unsigned __int128)ticks * 1000000000ULL + kPitHz - 1) / kPitHz);
}

bool periodic(uint8_t mode)
{
	return mode == 2 || mode == 3;
}

} // namespace

std::optional<uint64_t> Pit8254::elapsed(const Channel &c) const
{
	if (!c.armed)
		return std::nullopt;
	if (c.frozen)
		return c.frozen_ticks;
	uint64_t t = now();
	return t > c.start_ns ? ns_to_ticks(t - c.start_ns) : 0;
}

uint16_t Pit8254::count_at(const Channel &c, uint64_t t) const
{
	uint64_t n = c.reload;

	switch (c.mode) {
	case 2:				/* N, N-1, ..., 1, reload */
		return uint16_t(n - t % n);
	case 3: {			/* N, N-2, ..., 2 twice per period */
		uint64_t half = n / 2 ? n / 2 : 1;
		return uint16_t(n - 2 * ((t % n) % half));
	}
	default:			/* counts down and wraps through 0xffff */
		return uint16_t(n - t);
	}
}

bool Pit8254::out_at(const Channel &c, std::optional<uint64_t> t) const
{
	if (!t)				/* no count yet: low in mode 0, else high */
		return c.mode != 0;
	uint64_t n = c.reload;
	switch (c.mode) {
	case 0: case 1: return *t >= n;
	case 2: return *t % n != n - 1;
	case 3: return *t % n < (n + 1) / 2;
	default: return *t != n;	/* 4, 5: one low tick at terminal count */
	}
}

std::optional<uint64_t> Pit8254::edge_tick(const Channel &c, uint64_t k) const
{
	if (periodic(c.mode))
		return k * c.reload;
	if (k != 1)
		return std::nullopt;
	return c.mode <= 1 ? c.reload : c.reload + 1;
}

uint64_t Pit8254::edges_by(const Channel &c, uint64_t t) const
{
	if (periodic(c.mode))
		return t / c.reload;
	auto first = edge_tick(c, 1);
	return t >= *first ? 1 : 0;
}

uint16_t Pit8254::count(unsigned ch) const
{
	auto t = elapsed(ch_[ch]);
	return t ? count_at(ch_[ch], *t) : uint16_t(ch_[ch].reload);
}

bool Pit8254::out(unsigned ch) const
{
	const Channel &c = ch_[ch];
	if (c.frozen && periodic(c.mode))
		return true;		/* gate low forces OUT high in modes 2, 3 */
	return out_at(c, elapsed(c));
}

void Pit8254::update()
{
	Channel &c = ch_[0];
	auto t = elapsed(c);
	if (!t)
		return;
	uint64_t n = edges_by(c, *t);
	if (n > c.edges) {
		c.edges = n;
		irqs_raised_++;
		irq0_.pulse();
	}
}

std::optional<uint64_t> Pit8254::next_deadline_ns() const
{
	const Channel &c = ch_[0];
	if (!c.armed || c.frozen)
		return std::nullopt;
	auto tick = edge_tick(c, c.edges + 1);
	if (!tick)
		return std::nullopt;
	return c.start_ns + ticks_to_ns(*tick);
}

void Pit8254::load(Channel &c, uint32_t n)
{
	c.reload = n ? n : 0x10000;
	c.loaded = true;
	c.edges = 0;
	c.frozen = false;
	c.start_ns = now();
	// Modes 1 and 5 wait for a rising gate; the others start now (with
	// the gate low, modes 0/2/3/4 hold the count until it rises).
	c.armed = !(c.mode == 1 || c.mode == 5);
	if (c.armed && !c.gate) {
		c.frozen = true;
		c.frozen_ticks = 0;
	}
}

void Pit8254::write_count(Channel &c, uint8_t v)
{
	switch (c.access) {
	case 1: load(c, v); break;
	case 2: load(c, uint32_t(v) << 8); break;
	default:
		if (!c.write_hi) {
			c.write_lo = v;
			c.write_hi = true;
		} else {
			c.write_hi = false;
			load(c, c.write_lo | uint32_t(v) << 8);
		}
	}
}

void Pit8254::latch_count(Channel &c)
{
	if (c.latch)
		return;			/* the first latch holds until it is read */
	auto t = elapsed(c);
	c.latch = t ? count_at(c, *t) : uint16_t(c.reload);
	c.latch_hi = false;
}

void Pit8254::write_control(uint8_t v)
{
	unsigned sc = v >> 6;

	if (sc == 3) {
		// Read-back: bit 5 clear latches counts, bit 4 clear latches
		// status, bits 1-3 select the channels.
		for (unsigned i = 0; i < 3; i++) {
			Channel &c = ch_[i];
			if (!(v & (2u << i)))
				continue;
			if (!(v & 0x10) && !c.status)
				c.status = uint8_t(out(i) << 7 | (!c.loaded) << 6 |
						   c.access << 4 | c.mode << 1 | c.bcd);
			if (!(v & 0x20))
				latch_count(c);
		}
		return;
	}
	Channel &c = ch_[sc];
	unsigned access = (v >> 4) & 3;
	if (!access) {
		latch_count(c);
		return;
	}
	// A new mode stops the counter until a count is written.
	c.access = access;
	c.mode = (v >> 1) & 7;
	if (c.mode > 5)
		c.mode -= 4;		/* 6, 7 are aliases of 2, 3 */
	c.bcd = v & 1;
	c.armed = c.loaded = c.frozen = false;
	c.write_hi = c.read_hi = false;
	c.latch.reset();
	c.status.reset();
	c.edges = 0;
}

uint8_t Pit8254::read_count(Channel &c)
{
	if (c.status) {
		uint8_t s = *c.status;
		c.status.reset();
		return s;
	}
	if (c.latch) {
		uint16_t l = *c.latch;
		bool hi = c.access == 2 || (c.access == 3 && c.latch_hi);
		if (c.access == 3 && !c.latch_hi)
			c.latch_hi = true;
		else
			c.latch.reset();
		return hi ? l >> 8 : l & 0xff;
	}
	auto t = elapsed(c);
	uint16_t v = t ? count_at(c, *t) : uint16_t(c.reload);
	bool hi = c.access == 2;
	if (c.access == 3) {
		hi = c.read_hi;
		c.read_hi = !c.read_hi;
	}
	return hi ? v >> 8 : v & 0xff;
}

void Pit8254::set_gate(Channel &c, bool gate)
{
	if (gate == c.gate)
		return;
	c.gate = gate;
	if (!c.loaded)
		return;
	if (gate) {
		switch (c.mode) {
		case 1: case 5: case 2: case 3:
			// A rising gate (re)triggers: the count starts over.
			c.armed = true;
			c.frozen = false;
			c.edges = 0;
			c.start_ns = now();
			break;
		default:		/* 0, 4: counting resumes */
			if (c.frozen) {
				c.frozen = false;
				c.start_ns = now() - ticks_to_ns(c.frozen_ticks);
			}
		}
	} else if (c.armed && c.mode != 1 && c.mode != 5) {
		c.frozen_ticks = *elapsed(c);
		c.frozen = true;
	}
}

bool Pit8254::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if ((port < 0x40 || port > 0x43) && port != 0x61)
		return false;
	if (in)
		std::memset(data, 0, size);
	if (port == 0x61) {
		Channel &c2 = ch_[2];
		if (in) {
			// Bit 4 is the DRAM refresh toggle (every 15 us on a
			// PC), bit 5 channel 2's output.
			bool refresh = (now() / 15085) & 1;
			data[0] = uint8_t((port61_ & 0x0f) | refresh << 4 | out(2) << 5);
		} else {
			port61_ = data[0] & 0x0f;
			set_gate(c2, data[0] & 1);
		}
		return true;
	}
	if (port == 0x43) {
		if (!in)
			write_control(data[0]);
		return true;		/* the control word is write-only */
	}
	Channel &c = ch_[port - 0x40];
	if (in)
		data[0] = read_count(c);
	else
		write_count(c, data[0]);
	return true;
}

} // namespace kvmx
