#include "cpuid_policy.hpp"

namespace kvmx {

void apply_pc_cpuid_policy(std::vector<kvmx_cpuid_entry2> &entries, bool hide_apic)
{
	for (auto &e : entries) {
		if (e.function != 1)
			continue;
		e.ecx &= ~(cpuid1::ECX_X2APIC | cpuid1::ECX_TSC_DEADLINE);
		e.ecx |= cpuid1::ECX_HYPERVISOR;
		if (hide_apic)
			e.edx &= ~cpuid1::EDX_APIC;
	}
}

} // namespace kvmx
