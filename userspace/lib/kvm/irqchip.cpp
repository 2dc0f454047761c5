#include "irqchip.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <fmt/format.h>

#include "error.hpp"
#include "system.hpp"
#include "vm.hpp"

// KVM's numbers and layouts (the same on /dev/kvmx: see irqchip.hpp).
#include <linux/kvm.h>

namespace kvmx {

IrqchipCaps irqchip_caps(const System &sys)
{
	IrqchipCaps c;
	c.irqchip = sys.check_extension(KVM_CAP_IRQCHIP) > 0;
	c.pit2 = sys.check_extension(KVM_CAP_PIT2) > 0;
	c.tsc_deadline = sys.check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	// api.rst: without KVM_CAP_NR_VCPUS, assume 4.
	int n = sys.check_extension(KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = sys.check_extension(KVM_CAP_NR_VCPUS);
	c.max_vcpus = n > 0 ? unsigned(n) : 4;
	return c;
}

void create_irqchip(const Vm &vm)
{
	if (::ioctl(vm.fd(), KVM_CREATE_IRQCHIP, 0) < 0)
		throw Error("KVM_CREATE_IRQCHIP (the in-kernel PIC, IOAPIC and local APICs)", errno);
}

void create_pit2(const Vm &vm)
{
	kvm_pit_config cfg{};
	cfg.flags = 0;		/* no KVM_PIT_SPEAKER_DUMMY: port 0x61 is the PIT's */
	if (::ioctl(vm.fd(), KVM_CREATE_PIT2, &cfg) < 0)
		throw Error("KVM_CREATE_PIT2 (the in-kernel 8254)", errno);
}

void irq_line(const Vm &vm, uint32_t gsi, bool level)
{
	kvm_irq_level l{};
	l.irq = gsi;
	l.level = level ? 1 : 0;
	if (::ioctl(vm.fd(), KVM_IRQ_LINE, &l) < 0)
		throw Error(fmt::format("KVM_IRQ_LINE (GSI {} to {})", gsi, l.level), errno);
}

} // namespace kvmx
