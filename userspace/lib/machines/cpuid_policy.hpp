// The CPUID a Linux guest sees on the PC machine, whose interrupt
// controller lives in userspace (as QEMU does with kernel_irqchip=off):
// no x2APIC and no TSC-deadline timer (there is no in-kernel APIC to back
// them), optionally no local APIC at all when the PIC is the only
// interrupt controller, and the hypervisor bit set so the guest knows.
#pragma once

#include <vector>

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

namespace cpuid1 {
inline constexpr unsigned ECX_X2APIC = 1u << 21, ECX_TSC_DEADLINE = 1u << 24,
			  ECX_HYPERVISOR = 1u << 31;
inline constexpr unsigned EDX_APIC = 1u << 9;
} // namespace cpuid1

void apply_pc_cpuid_policy(std::vector<kvmx_cpuid_entry2> &entries, bool hide_apic);

} // namespace kvmx
