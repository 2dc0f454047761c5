// Interrupt lines into the in-kernel irqchip: a device's input n is GSI n,
// driven with KVM_IRQ_LINE (a pulse is 1 then 0, as kvmtool raises ISA
// edges).  Errors go to a callback, since devices raise lines from inside
// port I/O where nobody could catch them.
#pragma once

#include <functional>
#include <string>

#include "error.hpp"
#include "irq.hpp"
#include "irqchip.hpp"

namespace kvmx {

class KernelIrqLines : public IrqSink {
public:
	using OnError = std::function<void(const std::string &)>;
	explicit KernelIrqLines(OnError on_error) : on_error_(std::move(on_error)) {}
	// The VM whose irqchip the lines go to; until then they go nowhere.
	void connect(const Vm *vm) { vm_ = vm; }

	void set_irq(unsigned irq, bool level) override
	{
		if (!vm_)
			return;
		try {
			irq_line(*vm_, irq, level);
		} catch (const Error &e) {
			on_error_(e.what());
		}
	}

private:
	const Vm *vm_ = nullptr;
	OnError on_error_;
};

} // namespace kvmx
