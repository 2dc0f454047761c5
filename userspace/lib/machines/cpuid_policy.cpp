#include "cpuid_policy.hpp"

#include <bit>

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

namespace {

// Leaf 0xB/0x1F subleaf @index: SMT level (one thread), core level
// (@cpus cores, APIC id bits @shift), then the invalid level that ends it.
void topology_leaf(kvmx_cpuid_entry2 &e, unsigned apic_id, unsigned cpus, unsigned shift)
{
	unsigned index = e.index;
	e.flags |= KVMX_CPUID_FLAG_SIGNIFCANT_INDEX;
	e.edx = apic_id;
	if (index == 0) {
		e.eax = 0;
		e.ebx = 1;
		e.ecx = (1u << 8) | index;
	} else if (index == 1) {
		e.eax = shift;
		e.ebx = cpus;
		e.ecx = (2u << 8) | index;
	} else {
		e.eax = 0;
		e.ebx = 0;
		e.ecx = index & 0xff;
	}
}

} // namespace

void apply_pc_smp_cpuid_policy(std::vector<kvmx_cpuid_entry2> &entries, unsigned apic_id,
			       unsigned cpus, bool tsc_deadline_cap)
{
	const unsigned per_package = std::bit_ceil(cpus);	/* APIC ids are bit fields */
	const unsigned shift = unsigned(std::countr_zero(per_package));
	unsigned max_basic = 0;
	bool have_0b = false;

	for (auto &e : entries) {
		switch (e.function) {
		case 0:
			max_basic = e.eax;
			break;
		case 1:
			e.ecx |= cpuid1::ECX_HYPERVISOR;
			if (tsc_deadline_cap)
				e.ecx |= cpuid1::ECX_TSC_DEADLINE;
			e.ebx = (e.ebx & 0xffff) | (apic_id << 24) |
				(std::min(per_package, 255u) << 16);
			if (cpus > 1)
				e.edx |= cpuid1::EDX_HTT;	/* EBX[23:16] is valid */
			break;
		case 4:
			/* cores per package - 1; one thread per cache (no SMT) */
			e.eax = (e.eax & 0x3fff) | ((std::min(per_package, 64u) - 1) << 26);
			break;
		case 0xb:
			have_0b = true;
			[[fallthrough]];
		case 0x1f:
			topology_leaf(e, apic_id, cpus, shift);
			break;
		default:
			break;
		}
	}
	if (!have_0b && max_basic >= 0xb) {
		for (unsigned i = 0; i < 3; i++) {
			kvmx_cpuid_entry2 e{};
			e.function = 0xb;
			e.index = i;
			topology_leaf(e, apic_id, cpus, shift);
			entries.push_back(e);
		}
	}
}

} // namespace kvmx
