#include "vcpu.hpp"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "error.hpp"

namespace kvmx {

Vcpu::Vcpu(Fd fd, int run_size) : fd_(std::move(fd)), run_size_(run_size)
{
	void *p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (p == MAP_FAILED)
		throw Error("cannot map the vCPU's run page", errno);
	run_ = static_cast<kvmx_run *>(p);
}

Vcpu::Vcpu(Vcpu &&o) noexcept
	: fd_(std::move(o.fd_)), run_(std::exchange(o.run_, nullptr)),
	  run_size_(std::exchange(o.run_size_, 0))
{
}

Vcpu::~Vcpu()
{
	if (run_)
		::munmap(run_, run_size_);
}

uint8_t *Vcpu::io_data() const
{
	return reinterpret_cast<uint8_t *>(run_) + run_->io.data_offset;
}

kvmx_regs Vcpu::regs() const
{
	kvmx_regs r{};
	if (::ioctl(fd_.get(), KVMX_GET_REGS, &r) < 0)
		throw Error("KVM_GET_REGS", errno);
	return r;
}

void Vcpu::set_regs(const kvmx_regs &r) const
{
	if (::ioctl(fd_.get(), KVMX_SET_REGS, &r) < 0)
		throw Error("KVM_SET_REGS", errno);
}

kvmx_sregs Vcpu::sregs() const
{
	kvmx_sregs s{};
	if (::ioctl(fd_.get(), KVMX_GET_SREGS, &s) < 0)
		throw Error("KVM_GET_SREGS", errno);
	return s;
}

void Vcpu::set_sregs(const kvmx_sregs &s) const
{
	if (::ioctl(fd_.get(), KVMX_SET_SREGS, &s) < 0)
		throw Error("KVM_SET_SREGS (the special registers were refused)", errno);
}

void Vcpu::set_cpuid(const std::vector<kvmx_cpuid_entry2> &entries) const
{
	std::vector<uint8_t> buf(sizeof(kvmx_cpuid2) + entries.size() * sizeof(kvmx_cpuid_entry2));
	auto *c = reinterpret_cast<kvmx_cpuid2 *>(buf.data());
	c->nent = entries.size();
	std::copy(entries.begin(), entries.end(), c->entries);
	if (::ioctl(fd_.get(), KVMX_SET_CPUID2, c) < 0)
		throw Error("KVM_SET_CPUID2", errno);
}

void Vcpu::interrupt(uint32_t vector) const
{
	kvmx_interrupt irq{ vector };
	if (::ioctl(fd_.get(), KVMX_INTERRUPT, &irq) < 0)
		throw Error(fmt::format("KVM_INTERRUPT (vector {:#x})", vector), errno);
}

uint32_t Vcpu::mp_state() const
{
	kvmx_mp_state mp{};
	if (::ioctl(fd_.get(), KVMX_GET_MP_STATE, &mp) < 0)
		throw Error("KVM_GET_MP_STATE", errno);
	return mp.mp_state;
}

int Vcpu::run_once() const
{
	return ::ioctl(fd_.get(), KVMX_RUN, 0) < 0 ? -errno : 0;
}

} // namespace kvmx
