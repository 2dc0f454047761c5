// The 8042 keyboard controller at 0x60/0x64, without a keyboard or mouse
// behind it: enough for Linux's i8042 driver to find a controller (self
// test, command byte) and for "reboot=k" (command 0xfe pulses the CPU reset
// line, as does clearing bit 0 of the output port through command 0xd1).
// No interrupts: nothing ever sends data on its own.  Bytes written to
// the keyboard (port 0x60 without a pending command) get no answer, as if
// no keyboard were plugged in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "devices.hpp"

namespace kvmx {

class I8042 : public Device {
public:
	explicit I8042(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}
	// Data 0x60, status/command 0x64.
	void attach(IoBus &bus) override
	{
		bus.add_pio(0x60, 1, *this);
		bus.add_pio(0x64, 1, *this);
	}
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;

	uint8_t status() const;
	bool a20() const { return out_port_ & 0x02; }

private:
	void command(uint8_t cmd);
	void data_write(uint8_t v);
	void reset();

	std::function<void()> on_reset_;
	std::optional<uint8_t> out_;	// the output buffer
	uint8_t pending_ = 0;		// command waiting for its data byte
	uint8_t ctr_ = 0x44;		// command byte as a BIOS leaves it: SYS, XLATE
	uint8_t out_port_ = 0x03;	// bit 0: reset line (1 = run), bit 1: A20
	bool last_was_cmd_ = false;
};

} // namespace kvmx
