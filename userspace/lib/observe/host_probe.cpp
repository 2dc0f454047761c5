#include "host_probe.hpp"

#include <cpuid.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fd.hpp"

extern "C" {
#include "vmx_arch.h"
}

namespace kvmx {

HostCpu probe_cpu()
{
	HostCpu cpu;
	unsigned a, b, c, d;
	char vendor[13] = {};

	__cpuid(0, a, b, c, d);
	std::memcpy(vendor, &b, 4);
	std::memcpy(vendor + 4, &d, 4);
	std::memcpy(vendor + 8, &c, 4);
	cpu.vendor = vendor;
	__cpuid(1, a, b, c, d);
	cpu.vmx = c & CPUID1_ECX_VMX;
	cpu.under_hypervisor = c & (1u << 31);
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		cpu.svm = c & (1u << 2);
	return cpu;
}

std::optional<kvmx_vmx_info> read_vmx_msrs()
{
	Fd fd(::open("/dev/cpu/0/msr", O_RDONLY | O_CLOEXEC));
	if (!fd)
		return std::nullopt;
	auto rd = [&](uint32_t msr, __u64 &v) {
		return ::pread(fd.get(), &v, sizeof(v), msr) == sizeof(v);
	};
	kvmx_vmx_info info{};
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	info.cpuid1_ecx = c;
	if (!(c & CPUID1_ECX_VMX))
		return info;
	if (!rd(MSR_IA32_FEAT_CTL, info.feature_control) || !rd(MSR_IA32_VMX_BASIC, info.basic))
		return std::nullopt;
	rd(MSR_IA32_VMX_PINBASED_CTLS, info.pinbased);
	rd(MSR_IA32_VMX_PROCBASED_CTLS, info.procbased);
	rd(MSR_IA32_VMX_EXIT_CTLS, info.exit);
	rd(MSR_IA32_VMX_ENTRY_CTLS, info.entry);
	rd(MSR_IA32_VMX_MISC, info.misc);
	rd(MSR_IA32_VMX_CR0_FIXED0, info.cr0_fixed0);
	rd(MSR_IA32_VMX_CR0_FIXED1, info.cr0_fixed1);
	rd(MSR_IA32_VMX_CR4_FIXED0, info.cr4_fixed0);
	rd(MSR_IA32_VMX_CR4_FIXED1, info.cr4_fixed1);
	rd(MSR_IA32_VMX_VMCS_ENUM, info.vmcs_enum);
	rd(MSR_IA32_VMX_PROCBASED_CTLS2, info.procbased2);
	rd(MSR_IA32_VMX_EPT_VPID_CAP, info.ept_vpid_cap);
	rd(MSR_IA32_VMX_VMFUNC, info.vmfunc);
	if (info.basic & VMXCAP_BASIC_TRUE_CTLS) {
		rd(MSR_IA32_VMX_TRUE_PINBASED_CTLS, info.true_pinbased);
		rd(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, info.true_procbased);
		rd(MSR_IA32_VMX_TRUE_EXIT_CTLS, info.true_exit);
		rd(MSR_IA32_VMX_TRUE_ENTRY_CTLS, info.true_entry);
	}
	return info;
}

std::string explain_open_failure(const std::string &path, int err)
{
	namespace fs = std::filesystem;
	std::string head = "cannot open " + path + ": ";
	bool is_kvm = path.find("/kvm") != std::string::npos &&
		      path.find("/kvmx") == std::string::npos;

	if (err == EACCES || err == EPERM)
		return head + "permission denied (run as root, or join the group that owns it: "
			      "kvmx's udev rule gives it to group kvm)";
	if (err != ENOENT && err != ENXIO && err != ENODEV)
		return head + std::strerror(err);

	HostCpu cpu = probe_cpu();
	if (!cpu.vmx) {
		std::string why = "VT-x not available: this " + cpu.vendor + " CPU does not report VMX";
		if (cpu.svm)
			why += " (it has AMD-V, which kvmx does not drive)";
		else if (cpu.under_hypervisor)
			why += " (this is a VM and its hypervisor does not expose nested VT-x)";
		return why + ". Use the rig instead: `make demo` runs kvmx in Bochs' emulated VT-x";
	}
	if (is_kvm)
		return head + "no such device (load kvm_intel: modprobe kvm_intel)";
	if (!fs::exists("/sys/module/kvmx"))
		return head + "the kvmx module is not loaded (insmod kmod/kvmx.ko, or make demo)";
	return head + "no such device, although kvmx is loaded (is devtmpfs/udev running?)";
}

} // namespace kvmx
