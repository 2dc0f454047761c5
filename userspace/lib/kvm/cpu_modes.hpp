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

// Building blocks, shared with the Linux loader.
namespace x86 {
inline constexpr uint64_t CR0_PE = 1, CR0_ET = 1 << 4, CR0_NE = 1 << 5, CR0_PG = 1ULL << 31;
inline constexpr uint64_t CR4_PSE = 1 << 4, CR4_PAE = 1 << 5;
inline constexpr uint64_t EFER_LME = 1 << 8, EFER_LMA = 1 << 10;
inline constexpr uint8_t SEG_CODE_XR = 0xb, SEG_DATA_RW = 0x3, SEG_TSS_BUSY = 0xb;
} // namespace x86

// A present, flat (base 0, limit 4 GiB) code or data segment register.
kvmx_segment flat_segment(uint16_t sel, uint8_t type, bool code64);
// The GDT descriptor (SDM 3.4.5) matching flat_segment().
uint64_t flat_gdt_entry(uint8_t type, bool code64);
// Writes a busy TSS descriptor (16 bytes, good in long mode too) for a
// 0x68-byte TSS at @tss into the GDT slot at @slot; returns the TR value.
kvmx_segment write_tss(const GuestMemory &mem, uint64_t slot, uint16_t sel, uint64_t tss);
// PML4, PDPT and four page directories of 2 MiB pages mapping the first
// 4 GiB 1:1, in kIdentityMapSize bytes at @tables; returns the CR3 value.
inline constexpr uint64_t kIdentityMapSize = 0x6000;
uint64_t write_identity_map_4g(const GuestMemory &mem, uint64_t tables);

} // namespace kvmx
