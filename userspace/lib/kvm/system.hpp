// The system fd: /dev/kvmx (or /dev/kvm), the entry to KVM's API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fd.hpp"
#include "vm.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

inline constexpr const char *kDefaultDevice = "/dev/kvmx";

class System {
public:
	// Opens @path; throws Error with a sentence that says why it can't.
	explicit System(const std::string &path = kDefaultDevice);

	const std::string &path() const { return path_; }
	int fd() const { return fd_.get(); }
	int api_version() const;
	int check_extension(int cap) const;
	// kvmx only: the host's VMX capabilities; nullopt on KVM.
	std::optional<kvmx_vmx_info> vmx_info() const;
	Vm create_vm() const;
	int vcpu_mmap_size() const;
	// KVM_GET_SUPPORTED_CPUID
	std::vector<kvmx_cpuid_entry2> supported_cpuid() const;

private:
	std::string path_;
	Fd fd_;
};

} // namespace kvmx
