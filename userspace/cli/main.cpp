// kvmx: run guests on /dev/kvmx (or /dev/kvm) and look inside the hypervisor.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "error.hpp"
#include "host_probe.hpp"
#include "system.hpp"
#include "vmx_report.hpp"

namespace {

int cmd_info(const std::string &device, bool raw)
{
	using namespace kvmx;
	try {
		System sys(device);
		fmt::print("{}: present, KVM API version {}\n", device, sys.api_version());
		auto info = sys.vmx_info();
		if (!info) {
			fmt::print("{} is not kvmx (no KVMX_GET_VMX_INFO); host capabilities:\n", device);
			if (auto msrs = read_vmx_msrs())
				fmt::print("{}", describe_vmx(*msrs));
			else
				fmt::print("  (cannot read the VMX MSRs: need root and the msr module)\n");
			return 0;
		}
		fmt::print("kvmx module version {}; {} VM(s) alive; VMX {}\n", info->module_version,
			   info->nr_vms,
			   info->nr_cpus_vmx_on
				   ? fmt::format("on on {} CPU(s)", info->nr_cpus_vmx_on)
				   : std::string("off (kvmx turns it on only while a VM exists)"));
		fmt::print("{}", raw ? raw_vmx_msrs(*info) : describe_vmx(*info));
		return 0;
	} catch (const Error &e) {
		fmt::print(stderr, "{}\n", e.what());
		if (auto msrs = read_vmx_msrs(); msrs && (msrs->cpuid1_ecx & (1u << 5))) {
			fmt::print("host VMX capabilities (read from /dev/cpu/0/msr):\n{}",
				   describe_vmx(*msrs));
		}
		return 1;
	}
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"kvmx: a VT-x hypervisor with KVM's API, and its VMM"};
	app.require_subcommand(1);
	app.set_version_flag("--version", "kvmx 0.1");

	std::string device = kvmx::kDefaultDevice;
	auto *info = app.add_subcommand("info", "Show the host's VMX capabilities and kvmx's state");
	info->add_option("--device", device, "device to ask (/dev/kvmx or /dev/kvm)")
		->capture_default_str();
	bool raw = false;
	info->add_flag("--raw", raw, "print the raw capability MSR values");

	CLI11_PARSE(app, argc, argv);

	if (*info)
		return cmd_info(device, raw);
	return 0;
}
