// PCI configuration mechanism #1 (0xcf8 address, 0xcfc-0xcff data) on a
// bus with nothing on it: the address register keeps what the guest writes
// (Linux's type-1 probe reads it back), every configuration read answers
// all ones ("no device"), configuration writes go nowhere.
#pragma once

#include <cstdint>

#include "devices.hpp"

namespace kvmx {

class PciConf1None : public Device {
public:
	// CONFIG_ADDRESS 0xcf8-0xcfb, CONFIG_DATA 0xcfc-0xcff.
	void attach(IoBus &bus) override { bus.add_pio(0xcf8, 8, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;
	uint32_t address() const { return address_; }

private:
	uint32_t address_ = 0;
};

} // namespace kvmx
