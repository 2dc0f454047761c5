// PS/2 "system control port A" at 0x92: bit 1 is the fast A20 gate (kept;
// A20 is always on in this machine), writing bit 0 as 1 resets the CPU.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "devices.hpp"

namespace kvmx {

class SysctlPort92 : public Device {
public:
	explicit SysctlPort92(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}
	void attach(IoBus &bus) override { bus.add_pio(0x92, 1, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override
	{
		if (port != 0x92)
			return false;
		if (in) {
			std::memset(data, 0, size);
			data[0] = value_;
			return true;
		}
		value_ = data[0] & 0x02;
		if ((data[0] & 0x01) && on_reset_)
			on_reset_();
		return true;
	}

private:
	std::function<void()> on_reset_;
	uint8_t value_ = 0x02;		// A20 on
};

} // namespace kvmx
