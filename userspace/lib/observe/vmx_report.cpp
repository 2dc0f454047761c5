#include "vmx_report.hpp"

#include <fmt/format.h>

extern "C" {
#include "vmx_arch.h"
#include "vmx_features.h"
}

namespace kvmx {

std::vector<std::string> missing_vmx_features(const kvmx_vmx_info &info)
{
	std::vector<std::string> out;
	vmx_check_features(
		&info, nullptr,
		[](void *ctx, const char *what) {
			static_cast<std::vector<std::string> *>(ctx)->emplace_back(what);
		},
		&out);
	return out;
}

namespace {

const char *memtype_name(unsigned t)
{
	switch (t) {
	case VMXCAP_MEMTYPE_UC: return "uncacheable";
	case VMXCAP_MEMTYPE_WB: return "write-back";
	default: return "reserved";
	}
}

// One control group: each named bit as always on / yes / no, "kvmx" if used.
void describe_controls(std::string &s, const vmx_bit_group &g, uint64_t cap, uint32_t used)
{
	auto must = static_cast<uint32_t>(cap), may = static_cast<uint32_t>(cap >> 32);

	s += fmt::format("{} (capability {:#018x}):\n", g.title, cap);
	for (size_t i = 0; i < g.nr_bits; i++) {
		unsigned bit = g.bits[i].bit;
		const char *state = (must & (1u << bit)) ? "always" :
				    (may & (1u << bit))  ? "yes" : "no";
		if (used & (1u << bit))
			s += fmt::format("  {:>2} {:<42} {:<6} used by kvmx\n", bit, g.bits[i].name, state);
		else
			s += fmt::format("  {:>2} {:<42} {}\n", bit, g.bits[i].name, state);
	}
}

} // namespace

std::string describe_vmx(const kvmx_vmx_info &c)
{
	std::string s;
	vmx_controls ctls{};
	bool ok = vmx_check_features(&c, &ctls, nullptr, nullptr) == 0;

	if (!(c.cpuid1_ecx & CPUID1_ECX_VMX))
		return "CPUID.1:ECX.VMX is clear: no VT-x on this CPU.\n";

	s += fmt::format("VMX basic (IA32_VMX_BASIC {:#018x}):\n", c.basic);
	s += fmt::format("  VMCS revision id       {:#x}\n", VMXCAP_BASIC_REVISION(c.basic));
	s += fmt::format("  VMCS region size       {} bytes\n", VMXCAP_BASIC_VMCS_SIZE(c.basic));
	s += fmt::format("  VMCS memory type       {}\n", memtype_name(VMXCAP_BASIC_MEMTYPE(c.basic)));
	s += fmt::format("  TRUE control MSRs      {}\n", (c.basic & VMXCAP_BASIC_TRUE_CTLS) ? "yes" : "no");
	s += fmt::format("  INS/OUTS exit info     {}\n", (c.basic & VMXCAP_BASIC_INOUT_INFO) ? "yes" : "no");
	s += fmt::format("  physical address width {}\n",
			 (c.basic & VMXCAP_BASIC_32BIT_ADDR) ? "32 bits" : "full");
	s += fmt::format("IA32_FEATURE_CONTROL {:#x}: {}, VMX outside SMX {}\n", c.feature_control,
			 (c.feature_control & VMXCAP_FEAT_LOCKED) ? "locked" : "unlocked",
			 (c.feature_control & VMXCAP_FEAT_VMX_OUTSIDE_SMX) ? "enabled" : "disabled");
	s += fmt::format("CR0 fixed bits: must be 1 {:#x}, may be 1 {:#x}\n", c.cr0_fixed0, c.cr0_fixed1);
	s += fmt::format("CR4 fixed bits: must be 1 {:#x}, may be 1 {:#x}\n", c.cr4_fixed0, c.cr4_fixed1);
	s += fmt::format("misc (IA32_VMX_MISC {:#x}): preemption timer = TSC >> {}, {} CR3 targets, "
			 "{} MSRs per list, HLT activity state {}\n",
			 c.misc, VMXCAP_MISC_PREEMPT_SHIFT(c.misc), VMXCAP_MISC_CR3_TARGETS(c.misc),
			 VMXCAP_MISC_MAX_MSRS(c.misc),
			 (c.misc & VMXCAP_MISC_ACTIVITY_HLT) ? "yes" : "no");
	s += fmt::format("highest VMCS field index {}\n", (c.vmcs_enum >> 1) & 0x1ff);

	describe_controls(s, vmx_pin_group, vmx_pin_cap(&c), ctls.pin);
	describe_controls(s, vmx_proc_group, vmx_proc_cap(&c), ctls.proc);
	describe_controls(s, vmx_proc2_group, c.procbased2, ctls.proc2);
	describe_controls(s, vmx_exit_group, vmx_exit_cap(&c), ctls.exit);
	describe_controls(s, vmx_entry_group, vmx_entry_cap(&c), ctls.entry);

	s += fmt::format("{} (IA32_VMX_EPT_VPID_CAP {:#x}):\n", vmx_ept_vpid_group.title, c.ept_vpid_cap);
	for (size_t i = 0; i < vmx_ept_vpid_group.nr_bits; i++) {
		unsigned bit = vmx_ept_vpid_group.bits[i].bit;
		s += fmt::format("  {:>2} {:<42} {}\n", bit, vmx_ept_vpid_group.bits[i].name,
				 (c.ept_vpid_cap >> bit) & 1 ? "yes" : "no");
	}

	auto missing = missing_vmx_features(c);
	if (ok) {
		s += fmt::format("kvmx can run here: EPT {}, VPID {}.\n",
				 ctls.ept_2m ? "with 2 MiB pages" : "with 4 KiB pages only",
				 ctls.vpid ? "on" : "off");
	} else {
		s += fmt::format("kvmx cannot run here; missing:\n");
		for (auto &m : missing)
			s += "  - " + m + "\n";
	}
	return s;
}

std::string describe_mitigations(uint64_t m)
{
	const std::pair<uint64_t, const char *> rows[] = {
		{ KVMX_MITIGATION_L1D_FLUSH, "L1TF: L1D flush before VM entry" },
		{ KVMX_MITIGATION_L1D_FLUSH_COND, "  ... only after host activity (cond)" },
		{ KVMX_MITIGATION_VERW, "MDS/MMIO stale data: VERW before VM entry" },
		{ KVMX_MITIGATION_RSB_FILL, "Spectre v2: RSB refilled after VM exit" },
		{ KVMX_MITIGATION_SPEC_CTRL, "SPEC_CTRL: host value kept/restored after exit" },
		{ KVMX_MITIGATION_KERNEL_IBRS, "legacy IBRS: SPEC_CTRL rewritten after every exit" },
		{ KVMX_MITIGATION_BHI_CLEAR, "BHI: branch history cleared after VM exit" },
		{ KVMX_MITIGATION_IBPB_SWITCH, "IBPB when a CPU switches vCPU" },
		{ KVMX_MITIGATION_IBPB_EXIT_USER, "VMSCAPE: IBPB before returning to the VMM" },
	};
	std::string s = "Speculation mitigations kvmx applies (as the host kernel asks kvm_intel):\n";
	for (auto &[bit, name] : rows)
		s += fmt::format("  {:<52} {}\n", name, (m & bit) ? "on" : "off");
	return s;
}

std::string raw_vmx_msrs(const kvmx_vmx_info &c)
{
	const std::pair<const char *, uint64_t> rows[] = {
		{ "cpuid1_ecx", c.cpuid1_ecx },
		{ "feature_control", c.feature_control },
		{ "basic", c.basic },
		{ "pinbased", c.pinbased },
		{ "procbased", c.procbased },
		{ "exit", c.exit },
		{ "entry", c.entry },
		{ "misc", c.misc },
		{ "cr0_fixed0", c.cr0_fixed0 },
		{ "cr0_fixed1", c.cr0_fixed1 },
		{ "cr4_fixed0", c.cr4_fixed0 },
		{ "cr4_fixed1", c.cr4_fixed1 },
		{ "vmcs_enum", c.vmcs_enum },
		{ "procbased2", c.procbased2 },
		{ "ept_vpid_cap", c.ept_vpid_cap },
		{ "true_pinbased", c.true_pinbased },
		{ "true_procbased", c.true_procbased },
		{ "true_exit", c.true_exit },
		{ "true_entry", c.true_entry },
		{ "vmfunc", c.vmfunc },
		{ "mitigations", c.mitigations },
	};
	std::string s;
	for (auto &[name, value] : rows)
		s += fmt::format("{:<16} {:#018x}\n", name, value);
	return s;
}

} // namespace kvmx
