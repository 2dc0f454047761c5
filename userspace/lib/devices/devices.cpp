#include "devices.hpp"

#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "error.hpp"

namespace kvmx {

void IoBus::add(std::vector<Range> &ranges, uint64_t first, uint64_t last, Device &owner,
		const char *what)
{
	for (const Range &r : ranges)
		if (first <= r.last && r.first <= last)
			throw Error(fmt::format("{} {:#x}-{:#x} is taken already ({:#x}-{:#x})", what,
						first, last, r.first, r.last));
	ranges.push_back({ first, last, &owner });
}

void IoBus::add_pio(uint16_t first, uint32_t count, Device &owner)
{
	add(pio_, first, first + count - 1, owner, "port range");
}

void IoBus::add_mmio(uint64_t first, uint64_t size, Device &owner)
{
	add(mmio_, first, first + size - 1, owner, "MMIO range");
}

Device *IoBus::find(const std::vector<Range> &ranges, uint64_t addr)
{
	for (const Range &r : ranges)
		if (addr >= r.first && addr <= r.last)
			return r.owner;
	return nullptr;
}

Device *IoBus::pio_owner(uint16_t port) const
{
	return find(pio_, port);
}

Device *IoBus::mmio_owner(uint64_t gpa) const
{
	return find(mmio_, gpa);
}

bool IoBus::pio(uint16_t port, bool in, uint8_t *data, unsigned size) const
{
	Device *d = pio_owner(port);
	if (d && d->io(port, in, data, size))
		return true;
	if (in)
		std::memset(data, 0xff, size);
	return false;
}

bool IoBus::mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len) const
{
	Device *d = mmio_owner(gpa);
	if (d && d->mmio(gpa, write, data, len))
		return true;
	if (!write)
		std::memset(data, 0xff, len);
	return false;
}

bool DebugExit::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port != port_)
		return false;
	if (in)
		std::memset(data, 0, size);
	else if (!status_)
		status_ = data[0];
	return true;
}

bool MmioScratch::mmio(uint64_t gpa, bool write, uint8_t *data, unsigned len)
{
	if (gpa < base_ || gpa + len > base_ + sizeof(regs_))
		return false;
	accesses_++;
	if (write)
		std::memcpy(regs_ + (gpa - base_), data, len);
	else
		std::memcpy(data, regs_ + (gpa - base_), len);
	return true;
}

} // namespace kvmx
