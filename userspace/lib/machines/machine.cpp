#include "machine.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <iterator>

#include "error.hpp"
#include "irqchip.hpp"
#include "kvmx_netlink.hpp"
#include "observe.hpp"

namespace kvmx {

std::vector<uint8_t> read_image(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	if (!f)
		throw Error("cannot read guest image " + path, errno);
	return { std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>() };
}

// What this VMM shows its guests, as QEMU does: the hypervisor's supported
// table with the "hypervisor present" bit set and VMX hidden (no nesting).
std::vector<kvmx_cpuid_entry2> guest_cpuid(std::vector<kvmx_cpuid_entry2> entries)
{
	for (auto &e : entries) {
		if (e.function == 1) {
			e.ecx |= 1u << 31;
			e.ecx &= ~(1u << 5);
		}
	}
	return entries;
}

Machine::Machine(const MachineConfig &cfg)
	: cfg_(cfg), sys_(cfg.device), console_(cfg.console_fd, IrqLine()), scratch_(kMmioScratchBase)
{
	if (cfg_.mem_size < (128 << 10) || (cfg_.mem_size & 0xfff))
		throw Error("guest memory must be a multiple of 4 KiB and at least 128 KiB");
	if (cfg_.mem_size > kMmioScratchBase)
		throw Error(fmt::format("guest memory above {:#x} would cover the MMIO test device",
					kMmioScratchBase));
	vm_ = std::make_unique<Vm>(sys_.create_vm());
	mem_ = std::make_unique<GuestMemory>(cfg_.mem_size, cfg_.backing);
	vm_->set_memory(0, 0, cfg_.mem_size, mem_->host());
	std::vector<kvmx_cpuid_entry2> cpuid = guest_cpuid(sys_.supported_cpuid());
	if (cfg_.irqchip) {
		if (!irqchip_caps(sys_).irqchip)
			throw Error(fmt::format("{} has no in-kernel irqchip (KVM_CAP_IRQCHIP)",
						cfg_.device));
		create_irqchip(*vm_);
		// As QEMU: KVM reports the TSC-deadline timer as a capability, not in CPUID.
		if (irqchip_caps(sys_).tsc_deadline)
			for (auto &e : cpuid)
				if (e.function == 1)
					e.ecx |= 1u << 24;
	}
	vcpu_ = std::make_unique<Vcpu>(vm_->create_vcpu(0));
	vcpu_->set_cpuid(cpuid);
	for (Device *d : std::initializer_list<Device *>{ &console_, &debug_exit_, &scratch_ })
		d->attach(bus_);
}

void Machine::load_image(const std::vector<uint8_t> &image)
{
	uint64_t limit = cfg_.mem_size - (cfg_.mode == CpuMode::Real ? 0 : kSetupAreaSize);
	if (cfg_.mode == CpuMode::Real)
		limit = std::min<uint64_t>(limit, 0xa0000);
	if (cfg_.load_addr > limit || image.size() > limit - cfg_.load_addr)
		throw Error(fmt::format("image too large: {} bytes at {:#x} don't fit below {:#x}",
					image.size(), cfg_.load_addr, limit));
	mem_->write(cfg_.load_addr, image);

	ModeSetup m = setup_cpu_mode(cfg_.mode, *mem_, vcpu_->sregs());
	vcpu_->set_sregs(m.sregs);
	kvmx_regs r{};
	r.rip = cfg_.entry.value_or(cfg_.load_addr);
	r.rsp = m.stack_top;
	r.rflags = 0x2;
	vcpu_->set_regs(r);
}

VcpuLoop::Outcome Machine::io_exit()
{
	kvmx_run *run = vcpu_->run();
	bool in = run->io.direction == KVMX_EXIT_IO_IN;
	uint8_t *data = vcpu_->io_data();

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_.pio(run->io.port, in, data, run->io.size);
	if (auto st = debug_exit_.status())
		return RunResult{ RunResult::ExitPort, *st, "" };
	return {};
}

void Machine::mmio_exit()
{
	kvmx_run *run = vcpu_->run();

	if (!run->mmio.is_write)
		std::memset(run->mmio.data, 0, sizeof(run->mmio.data));
	bus_.mmio(run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, run->mmio.len);
}

VcpuLoop::Outcome Machine::interrupted()
{
	if (deadline_ && deadline_->expired())
		return RunResult{ RunResult::Timeout, 124,
				  fmt::format("guest still running after {} s: stopped",
					      cfg_.timeout_sec) };
	return {};
}

VcpuLoop::Outcome Machine::halted()
{
	hlts_++;
	if (!cfg_.resume_after_hlt)
		return RunResult{ RunResult::Halted, 0, "guest halted" };
	return {};
}

RunResult Machine::shutdown()
{
	return { RunResult::Shutdown, 2, "guest shut down (triple fault)" };
}

RunResult Machine::run()
{
	// This loop's own deadline: other threads' loops keep theirs.
	deadline_.reset();
	if (cfg_.timeout_sec) {
		deadline_.emplace();
		deadline_->arm(static_cast<long>(cfg_.timeout_sec) * 1000000);
	}
	RunResult r = run_loop(*vm_, *vcpu_);
	deadline_.reset();
	return r;
}

std::string failed_entry_vmcs(const Vm &vm, uint32_t vcpu)
{
	int id = vm.kvmx_id();
	if (id < 0)
		return "";	// KVM: no VMCS to show
	try {
		Netlink nl;
		return "\nThe VMCS after the failed entry:\n" +
		       format_vmcs_fields(read_vmcs(nl, id, vcpu, 500));
	} catch (const Error &e) {
		return fmt::format("\n(VMCS not available: {})", e.what());
	}
}

std::string describe_error_exit(const kvmx_run &run)
{
	switch (run.exit_reason) {
	case KVMX_EXIT_FAIL_ENTRY:
		return fmt::format("VM entry failed: hardware reason {:#x} ({}) on CPU {}",
				   run.fail_entry.hardware_entry_failure_reason,
				   entry_failure_name(run.fail_entry.hardware_entry_failure_reason),
				   run.fail_entry.cpu);
	case KVMX_EXIT_INTERNAL_ERROR: {
		std::string data;
		for (uint32_t i = 0; i < run.internal.ndata && i < 16; i++)
			data += fmt::format(" {:#x}", run.internal.data[i]);
		return fmt::format("internal error: suberror {}, data{}", run.internal.suberror, data);
	}
	default:
		return fmt::format("unexpected exit {} ({})", run.exit_reason,
				   exit_reason_name(run.exit_reason));
	}
}

const char *exit_reason_name(uint32_t reason)
{
	switch (reason) {
	case KVMX_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
	case KVMX_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
	case KVMX_EXIT_IO: return "KVM_EXIT_IO";
	case KVMX_EXIT_HYPERCALL: return "KVM_EXIT_HYPERCALL";
	case KVMX_EXIT_DEBUG: return "KVM_EXIT_DEBUG";
	case KVMX_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVMX_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVMX_EXIT_IRQ_WINDOW_OPEN: return "KVM_EXIT_IRQ_WINDOW_OPEN";
	case KVMX_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
	case KVMX_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVMX_EXIT_INTR: return "KVM_EXIT_INTR";
	case KVMX_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	default: return "other";
	}
}

std::string entry_failure_name(uint64_t reason)
{
	// Bit 31 set: a VM exit with the "entry failed" bit (SDM 27.8); else the
	// VM-instruction error number of a failed VMLAUNCH/VMRESUME (SDM 31.4).
	if (reason & 0x80000000u) {
		switch (reason & 0xffff) {
		case 33: return "invalid guest state";
		case 34: return "MSR loading";
		case 41: return "machine-check event";
		default: return "see the SDM, Appendix C";
		}
	}
	switch (reason) {
	case 7: return "VM-instruction error: invalid control fields";
	case 8: return "VM-instruction error: invalid host-state fields";
	default: return "see the SDM, section 31.4";
	}
}

std::string format_regs(const kvmx_regs &r, const kvmx_sregs &s)
{
	std::string o;
	auto reg = [&](const char *n, uint64_t v) { o += fmt::format("{}={:#018x}\n", n, v); };
	reg("rax", r.rax); reg("rbx", r.rbx); reg("rcx", r.rcx); reg("rdx", r.rdx);
	reg("rsi", r.rsi); reg("rdi", r.rdi); reg("rsp", r.rsp); reg("rbp", r.rbp);
	reg("r8", r.r8); reg("r9", r.r9); reg("r10", r.r10); reg("r11", r.r11);
	reg("r12", r.r12); reg("r13", r.r13); reg("r14", r.r14); reg("r15", r.r15);
	reg("rip", r.rip); reg("rflags", r.rflags);
	reg("cr0", s.cr0); reg("cr3", s.cr3); reg("cr4", s.cr4); reg("efer", s.efer);
	auto seg = [&](const char *n, const kvmx_segment &g) {
		o += fmt::format("{}={:#06x} base={:#x} limit={:#x} type={} l={} db={}\n", n,
				 g.selector, g.base, g.limit, g.type, g.l, g.db);
	};
	seg("cs", s.cs); seg("ss", s.ss); seg("ds", s.ds);
	return o;
}

} // namespace kvmx
