// A minimal PC for a Linux guest: RAM with an E820 map, one vCPU entered
// through the 64-bit boot protocol, and the legacy devices Linux looks for
// when told "noapic nolapic noacpi": the 8259 PIC pair, the 8254 PIT and
// port 0x61, the CMOS RTC, a 16550A on COM1 wired to the terminal, an 8042
// that can reset the machine, port 0x92, port 0x80 and an empty PCI bus.
// The interrupt controller is ours (userspace irqchip): interrupts reach
// the guest through KVM_INTERRUPT.
//
// Threads: the caller's thread runs the vCPU; an I/O thread waits for the
// next PIT deadline and for terminal input, and when that makes an
// interrupt pending it kicks the vCPU out of KVM_RUN with SIGUSR1 (whose
// handler sets run->immediate_exit, so a kick that lands just before
// KVM_RUN is not lost).  All device state is under one mutex.
//
// How a run ends (the status is the process exit code):
//   0    the guest halted with interrupts off: nothing can ever wake it
//        again (no NMIs here), which is where Linux's halt and poweroff
//        end without ACPI ("poweroff -f" without ACPI goes on to panic,
//        and with panic=-1 that is a reboot)
//   10   the guest reset the machine: 8042 command 0xfe or output port
//        bit 0 (reboot=k), port 0x92 bit 0, or a triple fault
//   N    the guest wrote byte N to port 0xf4 (isa-debug-exit style)
//   130  the user typed Ctrl-A x
//   124  --timeout expired
//   3, 4, 5  VM-entry failure, internal error, unexpected exit
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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

struct PcConfig {
	std::string device = kDefaultDevice;
	uint64_t mem_size = 256 << 20;
	int console_in = 0;		// -1: no input
	int console_out = 1;
	bool hide_apic = true;		// CPUID without a local APIC
	bool verbose = false;		// report unhandled ports and MMIO on stderr
	unsigned timeout_sec = 0;	// 0: none
};

inline constexpr int kPcStatusPowerOff = 0, kPcStatusReboot = 10, kPcStatusQuit = 130,
		     kPcStatusTimeout = 124;

// "console=ttyS0 ..." for this machine; tsc_early_khz= only if @tsc_khz.
std::string default_linux_cmdline(uint64_t tsc_khz);

class PcMachine : public VcpuLoop {
public:
	explicit PcMachine(const PcConfig &cfg);
	PcMachine(const PcMachine &) = delete;
	PcMachine &operator=(const PcMachine &) = delete;
	~PcMachine();

	// Throws Error with a sentence when the kernel can't be booted.
	void load_linux(std::span<const uint8_t> bzimage, std::span<const uint8_t> initrd,
			const std::string &cmdline);
	RunResult run();

	const Vcpu &vcpu() const { return *vcpu_; }
	const std::map<uint16_t, uint64_t> &unhandled_ports() const { return unhandled_ports_; }
	uint64_t mmio_exits() const { return mmio_exits_; }

private:
	Outcome before_entry() override;
	Outcome io_exit() override;
	void mmio_exit() override;
	Outcome halted() override;
	RunResult shutdown() override;
	void inject_locked();
	// Ends the run (first reason wins); callers hold mu_.
	void stop_locked(RunResult r);
	void kick_locked();
	void wait_for_interrupt();
	void io_thread();
	void wake_io_thread();

	PcConfig cfg_;
	PcMemoryMap map_;
	System sys_;
	std::unique_ptr<Vm> vm_;
	std::unique_ptr<GuestMemory> mem_;
	std::unique_ptr<Vcpu> vcpu_;

	HostClock mono_{ CLOCK_MONOTONIC };
	HostClock wall_{ CLOCK_REALTIME };
	std::mutex mu_;
	std::condition_variable cv_;
	Pic8259 pic_;
	Pit8254 pit_;
	CmosRtc rtc_;
	Uart16550 com1_;
	I8042 i8042_;
	SysctlPort92 port92_;
	Port80 port80_;
	PciConf1None pci_;
	DebugExit debug_exit_;
	IoBus bus_;

	std::optional<RunResult> stop_;
	bool vcpu_waiting_ = false;	// in wait_for_interrupt(), not in KVM_RUN
	bool io_stop_ = false;
	std::optional<uint64_t> timeout_at_;
	pthread_t vcpu_thread_{};
	Fd wake_fd_;
	std::thread io_;

	std::map<uint16_t, uint64_t> unhandled_ports_;
	uint64_t mmio_exits_ = 0;
};

} // namespace kvmx
