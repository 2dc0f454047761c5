// A vCPU fd (KVM_CREATE_VCPU) with its mmap'd run page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fd.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

class Vcpu {
public:
	Vcpu(Fd fd, int run_size);
	Vcpu(Vcpu &&o) noexcept;
	Vcpu &operator=(Vcpu &&) = delete;
	Vcpu(const Vcpu &) = delete;
	~Vcpu();

	int fd() const { return fd_.get(); }
	kvmx_run *run() const { return run_; }
	// Data of the current KVM_EXIT_IO (in the run mapping, at data_offset).
	uint8_t *io_data() const;

	kvmx_regs regs() const;
	void set_regs(const kvmx_regs &r) const;
	kvmx_sregs sregs() const;
	void set_sregs(const kvmx_sregs &s) const;
	void set_cpuid(const std::vector<kvmx_cpuid_entry2> &entries) const;
	// KVM_INTERRUPT: @vector waits for injection (userspace interrupt controller).
	void interrupt(uint32_t vector) const;
	// KVM_GET_MP_STATE: KVMX_MP_STATE_* (with an in-kernel irqchip,
	// HALTED while the guest sits in HLT, UNINITIALIZED before its SIPI).
	uint32_t mp_state() const;
	// KVM_RUN: returns 0, or -errno when the ioctl fails (EINTR included).
	int run_once() const;

private:
	Fd fd_;
	kvmx_run *run_ = nullptr;
	size_t run_size_ = 0;
};

} // namespace kvmx
