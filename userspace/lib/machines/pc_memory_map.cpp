#include "pc_memory_map.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "error.hpp"

namespace kvmx {

PcMemoryMap pc_memory_map(uint64_t ram_size)
{
	if (ram_size < (2 << 20) || (ram_size & 0xfff))
		throw Error(fmt::format("guest memory must be a multiple of 4 KiB and at least "
					"2 MiB (got {} bytes)", ram_size));
	PcMemoryMap m;
	m.below_4g = std::min(ram_size, kPciHoleStart);
	m.above_4g = ram_size - m.below_4g;
	m.e820.push_back({ 0, kLowRamEnd, boot::E820_RAM });
	m.e820.push_back({ kLowRamEnd, 0x100000 - kLowRamEnd, boot::E820_RESERVED });
	m.e820.push_back({ 0x100000, m.below_4g - 0x100000, boot::E820_RAM });
	if (m.above_4g)
		m.e820.push_back({ kHighRamStart, m.above_4g, boot::E820_RAM });
	return m;
}

} // namespace kvmx
