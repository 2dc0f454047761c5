// A VM fd (KVM_CREATE_VM): memory slots and vCPUs.
#pragma once

#include <cstdint>

#include "fd.hpp"
#include "vcpu.hpp"

namespace kvmx {

class System;

class Vm {
public:
	Vm(Fd fd, int run_size) : fd_(std::move(fd)), run_size_(run_size) {}
	int fd() const { return fd_.get(); }
	int check_extension(int cap) const;
	// KVM_SET_USER_MEMORY_REGION; throws Error with the errno on failure.
	void set_memory(uint32_t slot, uint64_t gpa, uint64_t size, void *host,
			uint32_t flags = 0) const;
	Vcpu create_vcpu(int id) const;
	// KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR: where KVM may keep its
	// real-mode helpers (3 pages, 1 page); kvmx accepts and ignores them.
	void set_tss_addr(uint64_t gpa) const;
	void set_identity_map_addr(uint64_t gpa) const;
	// kvmx only: the VM's id in the "kvmx" netlink family; -1 on KVM.
	int kvmx_id() const;

private:
	Fd fd_;
	int run_size_;
};

} // namespace kvmx
