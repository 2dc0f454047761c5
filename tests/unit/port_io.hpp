// Helpers for device-model tests: byte-wide port I/O and an interrupt
// controller stand-in that records what the device did with its lines.
#pragma once

#include <cstdint>
#include <vector>

#include "devices.hpp"
#include "irq.hpp"

namespace kvmx::test {

inline void out8(Device &d, uint16_t port, uint8_t v)
{
	d.io(port, false, &v, 1);
}

inline uint8_t in8(Device &d, uint16_t port)
{
	uint8_t v = 0;
	d.io(port, true, &v, 1);
	return v;
}

struct IrqRecorder : IrqSink {
	bool level[16] = {};
	unsigned rises[16] = {};
	void set_irq(unsigned irq, bool l) override
	{
		if (l && !level[irq])
			rises[irq]++;
		level[irq] = l;
	}
};

} // namespace kvmx::test
