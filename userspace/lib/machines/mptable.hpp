// An Intel MultiProcessor Specification 1.4 table for the PC with the
// in-kernel irqchip, the way a BIOS leaves it for the OS: the floating
// pointer structure ("_MP_", 16 bytes) followed by the configuration table
// ("PCMP"): one processor entry per vCPU (local APIC id = vCPU index, the
// BSP flag on 0), one ISA bus, the IOAPIC (id = number of vCPUs, at
// 0xfec00000), an I/O interrupt entry per ISA IRQ and the two local
// interrupt entries (LINT0 ExtINT, LINT1 NMI on every local APIC).
//
// ISA IRQ n goes to IOAPIC pin n (IRQ 2, the cascade, has no entry): that
// is KVM's default GSI routing, so the in-kernel PIT's GSI 0 and every
// KVM_IRQ_LINE reach the pin the guest expects without KVM_SET_GSI_ROUTING
// (Firecracker describes its ISA IRQs the same way; QEMU instead routes
// GSI 0 to pin 2 and says so).
//
// Linux (CONFIG_X86_MPPARSE, acpi=off) looks for the floating pointer in
// the first KiB, the last KiB of base memory and 0xf0000-0xfffff; the
// table goes at 0xf0000, which the E820 map reserves, with room for 64
// vCPUs and more.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kvmx {

inline constexpr uint32_t kMpTableBase = 0xf0000;
inline constexpr uint32_t kIoApicBase = 0xfec00000;
inline constexpr uint32_t kLocalApicBase = 0xfee00000;

namespace mp {
// Entry types and sizes (MP spec 4.3).
inline constexpr uint8_t kProcessor = 0, kBus = 1, kIoApic = 2, kIoInterrupt = 3,
			 kLocalInterrupt = 4;
inline constexpr uint8_t kIntInt = 0, kIntNmi = 1, kIntExtInt = 3;
inline constexpr uint8_t kCpuEnabled = 1, kCpuBsp = 2;
inline constexpr size_t kFloatingSize = 16, kHeaderSize = 44, kProcessorSize = 20,
			kEntrySize = 8;
inline constexpr uint8_t kLocalApicVersion = 0x14;	// integrated xAPIC, as KVM's
inline constexpr uint8_t kIoApicVersion = 0x11;		// as KVM's IOAPIC reports
inline constexpr unsigned kMaxCpus = 255;		// 0xff is "all local APICs"
} // namespace mp

struct MpTableConfig {
	unsigned cpus = 1;
	uint32_t cpu_signature = 0;	// CPUID.1:EAX
	uint32_t cpu_features = 0;	// CPUID.1:EDX
};

// The bytes to copy to guest-physical @base (16-byte aligned): the
// floating pointer, then the configuration table at base + 16.  Throws
// Error for 0 or more than 254 CPUs (the IOAPIC's id follows them).
std::vector<uint8_t> build_mptable(uint32_t base, const MpTableConfig &cfg);

// The byte that makes @bytes sum to zero (mod 256) when stored in it.
uint8_t mp_checksum(std::span<const uint8_t> bytes);

} // namespace kvmx
