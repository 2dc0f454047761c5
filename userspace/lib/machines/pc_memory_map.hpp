// Where guest RAM goes in the PC's physical address space, and the E820
// table that tells the kernel.  Conventional memory ends at 0x9fc00 (the
// last KiB is where a BIOS keeps its EBDA), 0x9fc00-0x100000 is reserved
// (EBDA, VGA window, option and BIOS ROMs), RAM resumes at 1 MiB.  RAM
// beyond 3 GiB moves above 4 GiB so that 3-4 GiB stays free for PCI and
// the (absent) APICs, as on real chipsets.
#pragma once

#include <cstdint>
#include <vector>

#include "boot_params.hpp"

namespace kvmx {

inline constexpr uint64_t kLowRamEnd = 0x9fc00;
inline constexpr uint64_t kPciHoleStart = 0xc0000000;
inline constexpr uint64_t kHighRamStart = 1ULL << 32;

struct PcMemoryMap {
	uint64_t below_4g = 0;		// RAM at [0, below_4g)
	uint64_t above_4g = 0;		// RAM at [4 GiB, 4 GiB + above_4g)
	std::vector<BootE820Entry> e820;
};

// Throws Error if @ram_size is not a whole number of pages or under 2 MiB.
PcMemoryMap pc_memory_map(uint64_t ram_size);

} // namespace kvmx
