#include "vm.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <string>

#include "error.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

int Vm::check_extension(int cap) const
{
	int r = ::ioctl(fd_.get(), KVMX_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

void Vm::set_memory(uint32_t slot, uint64_t gpa, uint64_t size, void *host, uint32_t flags) const
{
	kvmx_userspace_memory_region r{};
	r.slot = slot;
	r.flags = flags;
	r.guest_phys_addr = gpa;
	r.memory_size = size;
	r.userspace_addr = reinterpret_cast<uint64_t>(host);
	if (::ioctl(fd_.get(), KVMX_SET_USER_MEMORY_REGION, &r) < 0)
		throw Error("KVM_SET_USER_MEMORY_REGION (slot " + std::to_string(slot) + ")", errno);
}

Vcpu Vm::create_vcpu(int id) const
{
	int fd = ::ioctl(fd_.get(), KVMX_CREATE_VCPU, id);
	if (fd < 0)
		throw Error("KVM_CREATE_VCPU " + std::to_string(id), errno);
	return Vcpu(Fd(fd), run_size_);
}

void Vm::set_tss_addr(uint64_t gpa) const
{
	if (::ioctl(fd_.get(), KVMX_SET_TSS_ADDR, gpa) < 0)
		throw Error("KVM_SET_TSS_ADDR", errno);
}

void Vm::set_identity_map_addr(uint64_t gpa) const
{
	if (::ioctl(fd_.get(), KVMX_SET_IDENTITY_MAP_ADDR, &gpa) < 0)
		throw Error("KVM_SET_IDENTITY_MAP_ADDR", errno);
}

int Vm::kvmx_id() const
{
	int id = ::ioctl(fd_.get(), KVMX_GET_VM_ID);
	return id > 0 ? id : -1;
}

} // namespace kvmx
