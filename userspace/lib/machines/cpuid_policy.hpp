// The CPUID a Linux guest sees on the PC machine, always with the
// hypervisor bit set so the guest knows.
//
// With the interrupt controller in userspace (--irqchip=user, as QEMU's
// kernel_irqchip=off): no x2APIC and no TSC-deadline timer (there is no
// in-kernel APIC to back them), optionally no local APIC at all when the
// PIC is the only interrupt controller.
//
// With the in-kernel irqchip (--irqchip=kernel): the APIC and x2APIC bits
// as the device's KVM_GET_SUPPORTED_CPUID reports them, the TSC-deadline
// timer when the device reports it there or offers
// KVM_CAP_TSC_DEADLINE_TIMER (as QEMU decides), and a topology of one
// package with one thread per core: each vCPU's initial APIC id is its
// index (CPUID.1:EBX[31:24], the x2APIC id in leaves 0xB and 0x1F), which
// is what the MP table says.
#pragma once

#include <vector>

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

namespace cpuid1 {
inline constexpr unsigned ECX_X2APIC = 1u << 21, ECX_TSC_DEADLINE = 1u << 24,
			  ECX_HYPERVISOR = 1u << 31;
inline constexpr unsigned EDX_APIC = 1u << 9, EDX_HTT = 1u << 28;
} // namespace cpuid1

void apply_pc_cpuid_policy(std::vector<kvmx_cpuid_entry2> &entries, bool hide_apic);

// For vCPU @apic_id of @cpus, from the device's supported CPUID.
void apply_pc_smp_cpuid_policy(std::vector<kvmx_cpuid_entry2> &entries, unsigned apic_id,
			       unsigned cpus, bool tsc_deadline_cap);

} // namespace kvmx
