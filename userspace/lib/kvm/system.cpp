#include "system.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "error.hpp"
#include "host_probe.hpp"

namespace kvmx {

System::System(const std::string &path) : path_(path)
{
	fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
	if (!fd_)
		throw Error(explain_open_failure(path, errno));
	int v = api_version();
	if (v != KVMX_API_VERSION)
		throw Error(path + " speaks API version " + std::to_string(v) +
			    ", not " + std::to_string(KVMX_API_VERSION));
}

int System::api_version() const
{
	int v = ::ioctl(fd_.get(), KVMX_GET_API_VERSION, 0);
	if (v < 0)
		throw Error("KVM_GET_API_VERSION on " + path_, errno);
	return v;
}

int System::check_extension(int cap) const
{
	int r = ::ioctl(fd_.get(), KVMX_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

std::optional<kvmx_vmx_info> System::vmx_info() const
{
	kvmx_vmx_info info{};
	if (::ioctl(fd_.get(), KVMX_GET_VMX_INFO, &info) < 0)
		return std::nullopt;
	return info;
}

Vm System::create_vm() const
{
	int fd = ::ioctl(fd_.get(), KVMX_CREATE_VM, 0);
	if (fd < 0) {
		int err = errno;
		if (err == EBUSY)
			throw Error("cannot create a VM on " + path_ +
				    ": VMX is held by another hypervisor (kvm_intel?)", err);
		throw Error("cannot create a VM on " + path_, err);
	}
	return Vm(Fd(fd), vcpu_mmap_size());
}

int System::vcpu_mmap_size() const
{
	int r = ::ioctl(fd_.get(), KVMX_GET_VCPU_MMAP_SIZE, 0);
	if (r <= 0)
		throw Error("KVM_GET_VCPU_MMAP_SIZE on " + path_, errno);
	return r;
}

std::vector<kvmx_cpuid_entry2> System::supported_cpuid() const
{
	for (size_t n = 64;; n *= 2) {
		std::vector<uint8_t> buf(sizeof(kvmx_cpuid2) + n * sizeof(kvmx_cpuid_entry2));
		auto *c = reinterpret_cast<kvmx_cpuid2 *>(buf.data());
		c->nent = n;
		if (::ioctl(fd_.get(), KVMX_GET_SUPPORTED_CPUID, c) == 0)
			return { c->entries, c->entries + c->nent };
		if (errno != E2BIG || n > 4096)
			throw Error("KVM_GET_SUPPORTED_CPUID on " + path_, errno);
	}
}

} // namespace kvmx
