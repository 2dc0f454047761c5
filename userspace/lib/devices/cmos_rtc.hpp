// The MC146818-style CMOS RTC at 0x70 (index; bit 7 is the NMI mask,
// ignored) and 0x71 (data).  The time registers show the host's clock
// (UTC), in BCD or binary and 24- or 12-hour form as register B asks; the
// update-in-progress bit is set during the last 244 us of each second, as
// on the real part.  Register D says the battery is good.  Not modelled:
// alarms and periodic/update interrupts (IRQ 8), and setting the clock
// (time writes are accepted and forgotten).  The other bytes are plain
// NVRAM, with the memory-size bytes a BIOS would leave there.
#pragma once

#include <cstdint>

#include "clock.hpp"
#include "devices.hpp"

namespace kvmx {

class CmosRtc : public Device {
public:
	// @wall: nanoseconds since the Unix epoch (CLOCK_REALTIME).
	CmosRtc(const Clock &wall, uint64_t ram_below_4g, uint64_t ram_above_4g);

	// Index 0x70, data 0x71.
	void attach(IoBus &bus) override { bus.add_pio(0x70, 2, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;
	uint8_t read(uint8_t index) const;
	void write(uint8_t index, uint8_t v);

	static constexpr uint8_t kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d;

private:
	uint8_t encode(unsigned v) const;
	uint8_t hours(unsigned h) const;

	const Clock &wall_;
	uint8_t index_ = 0;
	uint8_t nvram_[128] = {};
};

} // namespace kvmx
