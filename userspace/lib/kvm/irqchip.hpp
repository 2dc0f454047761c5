// The in-kernel interrupt controller on a VM fd: KVM_CREATE_IRQCHIP (the
// 8259 pair and the IOAPIC in the kernel, a local APIC per vCPU created
// after it), KVM_CREATE_PIT2 (the 8254 and port 0x61 in the kernel, on
// GSI 0) and KVM_IRQ_LINE (a GSI's level, through the VM's routing; KVM's
// default routing sends GSI n < 16 to PIC pin n and IOAPIC pin n, and GSI
// 16-23 to the IOAPIC).
//
// The ioctl numbers and layouts are KVM's (<linux/kvm.h>); kvmx's uapi
// header names them as the module gains them (tests/unit/abi_check.c keeps
// the two equal), so nothing here depends on which one is installed.
#pragma once

#include <cstdint>
#include <string>

namespace kvmx {

class System;
class Vm;

// What the device offers for an in-kernel irqchip (KVM_CHECK_EXTENSION).
struct IrqchipCaps {
	bool irqchip = false;		// KVM_CAP_IRQCHIP
	bool pit2 = false;		// KVM_CAP_PIT2
	bool tsc_deadline = false;	// KVM_CAP_TSC_DEADLINE_TIMER
	unsigned max_vcpus = 1;		// KVM_CAP_MAX_VCPUS (else NR_VCPUS, else 4 as KVM says)
};
IrqchipCaps irqchip_caps(const System &sys);

// Each throws Error with a sentence on failure.
void create_irqchip(const Vm &vm);
void create_pit2(const Vm &vm);
void irq_line(const Vm &vm, uint32_t gsi, bool level);

} // namespace kvmx
