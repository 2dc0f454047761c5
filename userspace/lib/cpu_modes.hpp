// Putting a fresh vCPU into the mode a guest image expects, as small KVM
// clients do: segment state, a GDT, and identity-mapped page tables.
#pragma once

#include <cstdint>
#include <string>

#include "guest_memory.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

enum class CpuMode { Real, Protected, Paged32, Long };

CpuMode parse_cpu_mode(const std::string &name);
const char *cpu_mode_name(CpuMode m);

// Where the tool keeps its own structures: the top 64 KiB of guest RAM.
inline constexpr uint64_t kSetupAreaSize = 0x10000;

struct ModeSetup {
	kvmx_sregs sregs;	// what to apply over the reset state
	uint64_t stack_top;	// initial RSP
};

// Writes the GDT and page tables into @mem and returns the register state.
ModeSetup setup_cpu_mode(CpuMode mode, const GuestMemory &mem, const kvmx_sregs &reset);

} // namespace kvmx
