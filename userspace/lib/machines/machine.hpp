// A whole small machine: VM, RAM, one vCPU, devices, and the run loop that
// dispatches KVM_RUN's exits to them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu_modes.hpp"
#include "devices.hpp"
#include "uart_16550.hpp"
#include "vcpu_loop.hpp"
#include "guest_memory.hpp"
#include "system.hpp"
#include "thread_timer.hpp"

namespace kvmx {

struct MachineConfig {
	std::string device = kDefaultDevice;
	uint64_t mem_size = 2 << 20;
	Backing backing = Backing::Huge;
	CpuMode mode = CpuMode::Real;
	uint64_t load_addr = 0x1000;
	std::optional<uint64_t> entry;
	bool resume_after_hlt = false;
	unsigned timeout_sec = 0;	// 0: none
	int console_fd = 1;
	// The device's in-kernel irqchip (KVM_CREATE_IRQCHIP) before the vCPU,
	// and the TSC-deadline timer in its CPUID where the device offers it.
	bool irqchip = false;
};

class Machine : public VcpuLoop {
public:
	explicit Machine(const MachineConfig &cfg);
	void load_image(const std::vector<uint8_t> &image);
	RunResult run();

	const Vcpu &vcpu() const { return *vcpu_; }
	const Vm &vm() const { return *vm_; }
	const GuestMemory &memory() const { return *mem_; }
	uint64_t hlt_count() const { return hlts_; }

private:
	Outcome interrupted() override;
	Outcome io_exit() override;
	void mmio_exit() override;
	Outcome halted() override;
	RunResult shutdown() override;

	MachineConfig cfg_;
	System sys_;
	std::unique_ptr<Vm> vm_;
	std::unique_ptr<GuestMemory> mem_;
	std::unique_ptr<Vcpu> vcpu_;
	Uart16550 console_;		// 0x3f8, no interrupt line
	DebugExit debug_exit_;		// 0xf4
	MmioScratch scratch_;		// kMmioScratchBase
	IoBus bus_;
	std::optional<ThreadTimer> deadline_;	// this run's, if it has one
	uint64_t hlts_ = 0;
};

// Reads a guest image file; throws Error with a sentence if it can't.
std::vector<uint8_t> read_image(const std::string &path);

// The CPUID table this VMM gives its vCPUs, made from the supported one.
std::vector<kvmx_cpuid_entry2> guest_cpuid(std::vector<kvmx_cpuid_entry2> entries);

// The sentence for an exit that ends a run badly: failed entry (with the
// hardware reason), internal error (with its data), or an unexpected exit.
std::string describe_error_exit(const kvmx_run &run);

// "KVM_EXIT_HLT" etc.
const char *exit_reason_name(uint32_t reason);
// For a KVM_EXIT_FAIL_ENTRY on kvmx: the decoded VMCS of @vcpu ("" on KVM).
std::string failed_entry_vmcs(const Vm &vm, uint32_t vcpu);
// The name of a VM-entry failure reason (SDM Appendix C) for people.
std::string entry_failure_name(uint64_t reason);
// Registers and special registers, one "name=value" per line.
std::string format_regs(const kvmx_regs &r, const kvmx_sregs &s);

} // namespace kvmx
