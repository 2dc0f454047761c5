// Port 0x80, the POST code port Linux writes for tiny I/O delays: the
// value is kept (for --verbose) and otherwise ignored.
#pragma once

#include <cstdint>
#include <cstring>

#include "devices.hpp"

namespace kvmx {

class Port80 : public Device {
public:
	void attach(IoBus &bus) override { bus.add_pio(0x80, 1, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override
	{
		if (port != 0x80)
			return false;
		if (in) {
			std::memset(data, 0, size);
			data[0] = last_;
		} else {
			last_ = data[0];
		}
		return true;
	}
	uint8_t last() const { return last_; }

private:
	uint8_t last_ = 0;
};

} // namespace kvmx
