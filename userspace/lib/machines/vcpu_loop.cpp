#include "vcpu_loop.hpp"

#include <cerrno>

#include "error.hpp"
#include "machine.hpp"

namespace kvmx {

RunResult VcpuLoop::run_loop(const Vm &vm, const Vcpu &vcpu)
{
	kvmx_run *run = vcpu.run();

	for (;;) {
		if (Outcome o = before_entry())
			return *o;
		int r = vcpu.run_once();
		if (r == -EINTR || r == -EAGAIN) {
			if (Outcome o = interrupted())
				return *o;
			continue;
		}
		if (r < 0)
			throw Error("KVM_RUN", -r);
		exits_[run->exit_reason]++;
		Outcome o;
		switch (run->exit_reason) {
		case KVMX_EXIT_IO:
			o = io_exit();
			break;
		case KVMX_EXIT_MMIO:
			mmio_exit();
			break;
		case KVMX_EXIT_HLT:
			o = halted();
			break;
		case KVMX_EXIT_INTR:			/* a kick: look again */
		case KVMX_EXIT_IRQ_WINDOW_OPEN:		/* injected before the next entry */
			break;
		case KVMX_EXIT_SHUTDOWN:
			return shutdown();
		case KVMX_EXIT_FAIL_ENTRY:
			return { RunResult::FailEntry, 3,
				 describe_error_exit(*run) + failed_entry_vmcs(vm, 0) };
		case KVMX_EXIT_INTERNAL_ERROR:
			return { RunResult::InternalError, 4, describe_error_exit(*run) };
		default:
			return { RunResult::Unknown, 5, describe_error_exit(*run) };
		}
		if (o)
			return *o;
	}
}

} // namespace kvmx
