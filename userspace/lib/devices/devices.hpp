// Device models the run loop dispatches port I/O and MMIO exits to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvmx {

class Device;

// A machine's buses for device registers: each device says which port and
// MMIO ranges it decodes (Device::attach, like kvmtool's
// kvm__register_iotrap), and every access goes to its owner.  An access no
// device owns floats high on reads (all ones) and goes nowhere on writes,
// as on an empty ISA bus.
class IoBus {
public:
	// Throws Error if the range overlaps one already taken.
	void add_pio(uint16_t first, uint32_t count, Device &owner);
	void add_mmio(uint64_t first, uint64_t size, Device &owner);
	Device *pio_owner(uint16_t port) const;
	Device *mmio_owner(uint64_t gpa) const;

	// One access; false if nobody owns it (a read then sees all ones).
	bool pio(uint16_t port, bool in, uint8_t *data, unsigned size) const;
	bool mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len) const;

private:
	struct Range {
		uint64_t first, last;
		Device *owner;
	};
	static void add(std::vector<Range> &ranges, uint64_t first, uint64_t last, Device &owner,
			const char *what);
	static Device *find(const std::vector<Range> &ranges, uint64_t addr);
	std::vector<Range> pio_, mmio_;
};

class Device {
public:
	virtual ~Device() = default;
	// Registers the ports and MMIO ranges this device decodes on @bus.
	virtual void attach(IoBus &bus) = 0;
	// Port I/O of @size bytes at one of this device's ports; false if it
	// doesn't decode that access after all (the bus then floats).
	virtual bool io(uint16_t port, bool in, uint8_t *data, unsigned size)
	{
		(void)port, (void)in, (void)data, (void)size;
		return false;
	}
	// A device-register access at guest-physical @gpa in one of its ranges.
	virtual bool mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len)
	{
		(void)gpa, (void)write, (void)data, (void)len;
		return false;
	}
};

// isa-debug-exit style: a byte written to port 0xf4 ends the run with that
// value as the status.
class DebugExit : public Device {
public:
	explicit DebugExit(uint16_t port = 0xf4) : port_(port) {}
	void attach(IoBus &bus) override { bus.add_pio(port_, 1, *this); }
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
	void attach(IoBus &bus) override { bus.add_mmio(base_, sizeof(regs_), *this); }
	bool mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len) override;
	uint64_t accesses() const { return accesses_; }

private:
	uint64_t base_;
	uint8_t regs_[4096] = {};
	uint64_t accesses_ = 0;
};

inline constexpr uint64_t kMmioScratchBase = 0xd0000000;

} // namespace kvmx
