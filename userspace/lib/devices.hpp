// Device models the run loop dispatches port I/O and MMIO exits to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kvmx {

class Device {
public:
	virtual ~Device() = default;
	// Port I/O of @size bytes at @port; false if the port isn't ours.
	virtual bool io(uint16_t port, bool in, uint8_t *data, unsigned size)
	{
		(void)port, (void)in, (void)data, (void)size;
		return false;
	}
	// A device-register access at guest-physical @gpa; false if not ours.
	virtual bool mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len)
	{
		(void)gpa, (void)write, (void)data, (void)len;
		return false;
	}
};

// The subset of a 16550 UART at 0x3f8 a guest needs to print: THR, LSR,
// and the registers it programs (kept, not acted on).  Output goes to a fd.
class Serial8250 : public Device {
public:
	explicit Serial8250(int out_fd, uint16_t base = 0x3f8) : out_(out_fd), base_(base) {}
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;

private:
	int out_;
	uint16_t base_;
	uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0;
};

// isa-debug-exit style: a byte written to port 0xf4 ends the run with that
// value as the status.
class DebugExit : public Device {
public:
	explicit DebugExit(uint16_t port = 0xf4) : port_(port) {}
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override;
	std::optional<int> status() const { return status_; }

private:
	uint16_t port_;
	std::optional<int> status_;
};

// A 4 KiB page of device registers that behave like memory: what a guest
// writes it reads back, at any width.  The MMIO test guests use it.
class MmioScratch : public Device {
public:
	explicit MmioScratch(uint64_t base) : base_(base) {}
	bool mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len) override;
	uint64_t accesses() const { return accesses_; }

private:
	uint64_t base_;
	uint8_t regs_[4096] = {};
	uint64_t accesses_ = 0;
};

inline constexpr uint64_t kMmioScratchBase = 0xd0000000;

} // namespace kvmx
