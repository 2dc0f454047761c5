// The one KVM_RUN loop of the tool's machines (the test machine, which the
// benchmarks use too, and the PC for Linux): it enters the guest, counts the
// exits, and hands each to the machine's hooks until one returns how the run
// ended.  The exits that end every machine's run the same way (failed
// entry, internal error, an exit nobody expects) are decided here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "vcpu.hpp"
#include "vm.hpp"

namespace kvmx {

// How a machine's run ended: why, the tool's exit status, a sentence.
struct RunResult {
	enum Kind {
		ExitPort,	// the guest wrote its status to the exit port
		Halted,		// HLT (test machine), or with interrupts off (PC: power off)
		Reboot,		// the guest reset the machine
		Shutdown,	// triple fault on the test machine
		Quit,		// the user quit (Ctrl-A x)
		Timeout,
		FailEntry,
		InternalError,
		Unknown,
	} kind = Unknown;
	int status = 0;
	std::string message;
};

class VcpuLoop {
public:
	virtual ~VcpuLoop() = default;
	const std::map<uint32_t, uint64_t> &exit_counts() const { return exits_; }

protected:
	using Outcome = std::optional<RunResult>;

	// Runs @vcpu of @vm until a hook has a result.
	RunResult run_loop(const Vm &vm, const Vcpu &vcpu);

	// Before each entry (pending work, interrupts to inject).
	virtual Outcome before_entry() { return {}; }
	// KVM_RUN came back early (a signal: a kick or a deadline).
	virtual Outcome interrupted() { return {}; }
	virtual Outcome io_exit() = 0;		// KVM_EXIT_IO: the machine's bus
	virtual void mmio_exit() = 0;		// KVM_EXIT_MMIO: the machine's bus
	virtual Outcome halted() = 0;		// KVM_EXIT_HLT
	virtual RunResult shutdown() = 0;	// KVM_EXIT_SHUTDOWN (triple fault)

	std::map<uint32_t, uint64_t> exits_;
};

} // namespace kvmx
