// Loading a Linux bzImage for the 64-bit boot protocol (Documentation/
// arch/x86/boot.rst, "64-bit Boot Protocol"): the protected-mode kernel at
// 1 MiB, a zero page (struct boot_params) with the setup header, command
// line, initrd and E820 map, and the vCPU already in long mode with
// identity-mapped page tables and a GDT holding __BOOT_CS (0x10) and
// __BOOT_DS (0x18), entering at the load address + 0x200 with RSI pointing
// at the zero page and interrupts off.  No real-mode code runs, so there is
// no BIOS to answer it, and the E820 map comes from us.
//
// Guest-physical layout below 1 MiB:
//   0x0500 GDT, 0x0600 TSS, stack below 0x7000, 0x7000 boot_params,
//   0x9000-0xefff page tables, 0x20000 command line.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "boot_params.hpp"
#include "guest_memory.hpp"
#include "pc_memory_map.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

// What a bzImage's setup header says, checked for what we need.
struct BzImage {
	std::span<const uint8_t> image;
	uint16_t version = 0;		// boot protocol, 0x20f = 2.15
	unsigned setup_sects = 0;	// 512-byte sectors after the boot sector
	uint8_t loadflags = 0;
	uint16_t xloadflags = 0;
	bool relocatable = false;
	uint32_t kernel_alignment = 0;
	uint64_t pref_address = 0;
	uint32_t init_size = 0;
	uint32_t initrd_addr_max = 0;
	uint32_t cmdline_size = 0;
	size_t header_end = 0;		// the setup header ends before this offset

	size_t setup_size() const { return (setup_sects + 1) * 512; }
	// The protected-mode kernel: what goes to the load address.
	std::span<const uint8_t> kernel() const { return image.subspan(setup_size()); }
	std::string version_string() const;
};

// Throws Error with a sentence when @image is not a bzImage we can boot
// through the 64-bit entry.  @image must outlive the result.
BzImage parse_bzimage(std::span<const uint8_t> image);

struct LinuxLayout {
	uint64_t gdt = 0x500;
	uint64_t tss = 0x600;
	uint64_t stack_top = 0x7000;
	uint64_t boot_params = 0x7000;
	uint64_t page_tables = 0x9000;
	uint64_t cmdline = 0x20000;
	uint64_t kernel = 0x100000;
};

struct LinuxBoot {
	kvmx_regs regs{};
	kvmx_sregs sregs{};
	uint64_t kernel_end = 0;	// end of what the kernel needs while starting
	uint64_t initrd_addr = 0, initrd_size = 0;
};

// Writes everything into @mem (RAM as described by @map) and returns the
// entry state, built over @reset (the vCPU's KVM_GET_SREGS).
LinuxBoot load_linux(const GuestMemory &mem, const PcMemoryMap &map, const BzImage &kernel,
		     std::span<const uint8_t> initrd, const std::string &cmdline,
		     const kvmx_sregs &reset, const LinuxLayout &layout = {});

inline constexpr uint16_t kBootCs = 0x10, kBootDs = 0x18, kBootTss = 0x20;

} // namespace kvmx
