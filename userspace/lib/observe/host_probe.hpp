// What the host offers when /dev/kvmx is not there, and why it isn't.
#pragma once

#include <optional>
#include <string>

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

struct HostCpu {
	std::string vendor;	// "GenuineIntel", "AuthenticAMD", ...
	bool vmx = false;	// CPUID.1:ECX.VMX
	bool svm = false;	// CPUID.80000001:ECX.SVM
	bool under_hypervisor = false;
};

HostCpu probe_cpu();

// The VMX capability MSRs read through /dev/cpu/0/msr (root, msr module);
// nullopt when they can't be read.
std::optional<kvmx_vmx_info> read_vmx_msrs();

// A sentence that says why opening @path failed with @err and what to do.
std::string explain_open_failure(const std::string &path, int err);

} // namespace kvmx
