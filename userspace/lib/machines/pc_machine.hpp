// A minimal PC for a Linux guest: RAM with an E820 map, vCPUs entered
// through the 64-bit boot protocol, a 16550A on COM1 wired to the terminal,
// the CMOS RTC, an 8042 that can reset the machine, port 0x92, port 0x80
// and an empty PCI bus, with one of two interrupt controllers:
//
// --irqchip=kernel (the default): the device's in-kernel irqchip
//   (KVM_CREATE_IRQCHIP: 8259 pair, IOAPIC, a local APIC per vCPU) and its
//   8254 (KVM_CREATE_PIT2; without KVM_CAP_PIT2 our PIT raises GSI 0 with
//   KVM_IRQ_LINE instead).  1 to 64 vCPUs, described to the guest by an MP
//   table (mptable.hpp); devices raise their lines with KVM_IRQ_LINE; HLT,
//   INIT/SIPI and IPIs stay in the kernel (the APs wait for their SIPI
//   inside KVM_RUN).
// --irqchip=user: one vCPU and the interrupt controller of our own (8259
//   pair and 8254 in userspace, as QEMU's kernel_irqchip=off), for Linux
//   told "noapic nolapic": interrupts reach the guest through
//   KVM_INTERRUPT.
//
// Threads: one per vCPU (vCPU 0 on the caller's thread), each running its
// own KVM_RUN loop (vcpu_loop.hpp); an I/O thread waits for terminal input,
// the next deadline of a userspace PIT, the --timeout, and (kernel irqchip)
// the next halt probe.  A vCPU is kicked out of KVM_RUN with SIGUSR1, whose
// handler sets its run->immediate_exit, so a kick that lands just before
// KVM_RUN is not lost: with the userspace PIC when an interrupt becomes
// pending, with the kernel's when the run ends or to probe for a halted
// machine.  All device state is under one mutex.
//
// How a run ends (the status is the process exit code), whichever vCPU
// ends it; the others are then kicked out of KVM_RUN and joined:
//   0    the guest halted with interrupts off: nothing can ever wake it
//        again (no NMIs here), which is where Linux's halt and poweroff
//        end without ACPI ("poweroff -f" without ACPI goes on to panic,
//        and with panic=-1 that is a reboot).  With the kernel irqchip HLT
//        never leaves the kernel: 4 times a second the I/O thread kicks every
//        vCPU, which reads back its MP state and RFLAGS; when every vCPU
//        is halted with interrupts off (or, an AP, still waits for its
//        SIPI) in the same probe, the machine is off.
//   10   the guest reset the machine: 8042 command 0xfe or output port
//        bit 0 (reboot=k), port 0x92 bit 0, or a triple fault
//   N    the guest wrote byte N to port 0xf4 (isa-debug-exit style)
//   130  the user typed Ctrl-A x
//   124  --timeout expired
//   3, 4, 5  VM-entry failure, internal error, unexpected exit
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "clock.hpp"
#include "cmos_rtc.hpp"
#include "devices.hpp"
#include "fd.hpp"
#include "guest_memory.hpp"
#include "i8042.hpp"
#include "irqchip.hpp"
#include "kernel_irq_lines.hpp"
#include "pc_memory_map.hpp"
#include "pci_conf1_none.hpp"
#include "pic_i8259.hpp"
#include "pit_i8254.hpp"
#include "port80.hpp"
#include "sysctl_port92.hpp"
#include "system.hpp"
#include "uart_16550.hpp"
#include "vcpu_loop.hpp"

namespace kvmx {

enum class IrqchipMode { Kernel, User };

inline constexpr unsigned kPcMaxCpus = 64;

struct PcConfig {
	std::string device = kDefaultDevice;
	uint64_t mem_size = 256 << 20;
	unsigned cpus = 1;			// 1..kPcMaxCpus; more than 1 needs Kernel
	IrqchipMode irqchip = IrqchipMode::Kernel;
	bool kernel_pit = true;		// kernel irqchip: KVM_CREATE_PIT2 if the device has it
	int console_in = 0;		// -1: no input
	int console_out = 1;
	bool hide_apic = true;		// user irqchip: CPUID without a local APIC
	bool verbose = false;		// report unhandled ports and MMIO on stderr
	unsigned timeout_sec = 0;	// 0: none
};

inline constexpr int kPcStatusPowerOff = 0, kPcStatusReboot = 10, kPcStatusQuit = 130,
		     kPcStatusTimeout = 124;

// "console=ttyS0 ..." for this machine: "noapic nolapic" with the userspace
// irqchip, the APICs (from the MP table, acpi=off) with the kernel's;
// tsc_early_khz= only if @tsc_khz.
std::string default_linux_cmdline(IrqchipMode mode, uint64_t tsc_khz);

class PcMachine {
public:
	// Throws Error with a sentence when the device can't run this PC
	// (e.g. no in-kernel irqchip, too many vCPUs).
	explicit PcMachine(const PcConfig &cfg);
	PcMachine(const PcMachine &) = delete;
	PcMachine &operator=(const PcMachine &) = delete;
	~PcMachine();

	// Throws Error with a sentence when the kernel can't be booted.
	void load_linux(std::span<const uint8_t> bzimage, std::span<const uint8_t> initrd,
			const std::string &cmdline);
	// Runs every vCPU until the machine stops; rethrows the first error
	// a vCPU thread hit.
	RunResult run();

	unsigned cpus() const { return unsigned(cpus_.size()); }
	const Vm &vm() const { return *vm_; }
	const Vcpu &vcpu(unsigned i = 0) const;
	// The vCPU whose exit ended the run (0 if none did).
	unsigned stopped_by() const { return stopped_by_; }
	bool pit_in_kernel() const { return pit_in_kernel_; }
	// Summed over the vCPUs.
	std::map<uint32_t, uint64_t> exit_counts() const;
	const std::map<uint16_t, uint64_t> &unhandled_ports() const { return unhandled_ports_; }
	uint64_t mmio_exits() const { return mmio_exits_; }

private:
	class Cpu;
	friend class Cpu;

	bool kernel_irqchip() const { return cfg_.irqchip == IrqchipMode::Kernel; }
	// Where the devices' interrupt lines go: the kernel's GSIs or our PIC.
	IrqSink *irq_sink();
	void setup_kernel_irqchip();
	void write_mptable(const std::vector<kvmx_cpuid_entry2> &cpuid);

	// The hooks of each vCPU's loop.
	std::optional<RunResult> before_entry(Cpu &c);
	std::optional<RunResult> interrupted(Cpu &c);
	std::optional<RunResult> io_exit(Cpu &c);
	void mmio_exit(Cpu &c);
	std::optional<RunResult> halted(Cpu &c);
	void cpu_thread(Cpu &c);
	void probe_halt(Cpu &c);

	void inject_locked(Cpu &c);
	// Ends the run (first reason wins) and kicks every vCPU; callers hold mu_.
	void stop_locked(RunResult r, unsigned by = 0);
	void kick_locked(Cpu &c);
	void wait_for_interrupt();
	void io_thread();
	void wake_io_thread();
	void stop_threads();

	PcConfig cfg_;
	PcMemoryMap map_;
	System sys_;
	IrqchipCaps caps_;
	std::unique_ptr<Vm> vm_;
	std::unique_ptr<GuestMemory> mem_;
	std::vector<std::unique_ptr<Cpu>> cpus_;
	bool pit_in_kernel_ = false;

	HostClock mono_{ CLOCK_MONOTONIC };
	HostClock wall_{ CLOCK_REALTIME };
	std::mutex mu_;
	std::condition_variable cv_;
	Pic8259 pic_;
	KernelIrqLines kernel_irqs_;
	Pit8254 pit_;
	bool pit_attached_ = false;	// our PIT decodes 0x40-0x43 and 0x61
	CmosRtc rtc_;
	Uart16550 com1_;
	I8042 i8042_;
	SysctlPort92 port92_;
	Port80 port80_;
	PciConf1None pci_;
	DebugExit debug_exit_;
	IoBus bus_;

	std::optional<RunResult> stop_;
	unsigned stopped_by_ = 0;
	std::exception_ptr error_;
	bool vcpu_waiting_ = false;	// user irqchip: in wait_for_interrupt(), not in KVM_RUN
	bool io_stop_ = false;
	std::optional<uint64_t> timeout_at_;
	unsigned probe_round_ = 0;	// kernel irqchip: halt probes sent
	bool probe_failed_ = false;	// a vCPU could not answer one (said once)
	Fd wake_fd_;
	std::thread io_;

	std::map<uint16_t, uint64_t> unhandled_ports_;
	uint64_t mmio_exits_ = 0;
};

} // namespace kvmx
