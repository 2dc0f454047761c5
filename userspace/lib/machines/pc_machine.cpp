#include "pc_machine.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fmt/format.h>

#include "bzimage_loader.hpp"
#include "console.hpp"
#include "cpuid_policy.hpp"
#include "error.hpp"
#include "machine.hpp"

namespace kvmx {

namespace {

// Where the kick handler writes: the running vCPU's run page.  One
// PcMachine runs at a time in a process.
std::atomic<kvmx_run *> g_kick_run{ nullptr };

void on_kick(int)
{
	if (kvmx_run *r = g_kick_run.load(std::memory_order_relaxed))
		r->immediate_exit = 1;
}

// Without SA_RESTART, so KVM_RUN comes back with EINTR.
void install_kick_handler()
{
	struct sigaction sa {};
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, nullptr) < 0)
		throw Error("cannot install the SIGUSR1 handler", errno);
}

// KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR: where KVM would put the
// real-mode TSS and EPT identity map; QEMU's addresses just below the BIOS.
constexpr uint64_t kTssAddr = 0xfeffd000, kIdentityMapAddr = 0xfeffc000;

// A PIT deadline closer than this is rounded up: the I/O thread never
// spins, and ticks it misses coalesce as they would on the wire anyway.
constexpr uint64_t kMinWaitNs = 50000;

} // namespace

std::string default_linux_cmdline(uint64_t tsc_khz)
{
	std::string s = "console=ttyS0 earlyprintk=serial noapic noacpi nolapic pci=conf1 "
			"reboot=k panic=-1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 "
			"i8042.noaux=1";
	if (tsc_khz)
		s += fmt::format(" tsc_early_khz={}", tsc_khz);
	return s;
}

PcMachine::PcMachine(const PcConfig &cfg)
	: cfg_(cfg), map_(pc_memory_map(cfg.mem_size)), sys_(cfg.device),
	  pit_(mono_, IrqLine(&pic_, 0)), rtc_(wall_, map_.below_4g, map_.above_4g),
	  com1_(cfg.console_out, IrqLine(&pic_, 4)),
	  // Reset callbacks run inside dispatch_io(), which holds mu_.
	  i8042_([this] { stop_locked({ RunResult::Reboot, kPcStatusReboot,
					"guest reset the machine (keyboard controller)" }); }),
	  port92_([this] { stop_locked({ RunResult::Reboot, kPcStatusReboot,
					 "guest reset the machine (port 0x92)" }); })
{
	vm_ = std::make_unique<Vm>(sys_.create_vm());
	// Harmless here (the guest never runs in real mode), but KVM clients
	// are expected to set them before the first vCPU, so we do too.
	vm_->set_tss_addr(kTssAddr);
	vm_->set_identity_map_addr(kIdentityMapAddr);

	mem_ = std::make_unique<GuestMemory>(cfg_.mem_size);
	vm_->set_memory(0, 0, map_.below_4g, mem_->host());
	if (map_.above_4g)
		vm_->set_memory(1, kHighRamStart, map_.above_4g, mem_->host() + map_.below_4g);

	vcpu_ = std::make_unique<Vcpu>(vm_->create_vcpu(0));
	auto cpuid = sys_.supported_cpuid();
	apply_pc_cpuid_policy(cpuid, cfg_.hide_apic);
	vcpu_->set_cpuid(cpuid);

	for (Device *d : std::initializer_list<Device *>{ &pic_, &pit_, &rtc_, &com1_, &i8042_,
							   &port92_, &port80_, &pci_, &debug_exit_ })
		d->attach(bus_);

	int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		throw Error("eventfd", errno);
	wake_fd_.reset(efd);
}

PcMachine::~PcMachine()
{
	if (io_.joinable()) {
		{
			std::lock_guard lk(mu_);
			io_stop_ = true;
		}
		wake_io_thread();
		io_.join();
	}
	g_kick_run.store(nullptr);
}

void PcMachine::load_linux(std::span<const uint8_t> bzimage, std::span<const uint8_t> initrd,
			   const std::string &cmdline)
{
	BzImage k = parse_bzimage(bzimage);
	LinuxBoot b = kvmx::load_linux(*mem_, map_, k, initrd, cmdline, vcpu_->sregs());
	vcpu_->set_sregs(b.sregs);
	vcpu_->set_regs(b.regs);
	if (cfg_.verbose)
		fmt::print(stderr, "kvmx: Linux boot protocol {}, kernel at 0x100000-{:#x}, "
			   "initrd {:#x}+{:#x}\n", k.version_string(), b.kernel_end,
			   b.initrd_addr, b.initrd_size);
}

void PcMachine::stop_locked(RunResult r)
{
	if (!stop_)
		stop_ = std::move(r);
	cv_.notify_all();
}

void PcMachine::kick_locked()
{
	cv_.notify_all();
	if (!vcpu_waiting_)
		pthread_kill(vcpu_thread_, SIGUSR1);
}

void PcMachine::wake_io_thread()
{
	uint64_t one = 1;
	if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) {
		/* the counter is saturated: the thread is awake already */
	}
}

// Before each KVM_RUN: hand the PIC's vector to KVM if the guest can take
// it now (KVM's ready_for_interrupt_injection and IF from the last exit),
// else ask for an exit as soon as it can.  The vector is acknowledged in
// the PIC when it is handed over, as on a real INTA cycle.
void PcMachine::inject_locked()
{
	kvmx_run *run = vcpu_->run();

	pit_.update();
	if (!pic_.has_pending()) {
		run->request_interrupt_window = 0;
		return;
	}
	if (run->ready_for_interrupt_injection && run->if_flag) {
		vcpu_->interrupt(pic_.acknowledge());
		run->request_interrupt_window = pic_.has_pending();
		return;
	}
	run->request_interrupt_window = 1;
}

VcpuLoop::Outcome PcMachine::io_exit()
{
	kvmx_run *run = vcpu_->run();
	bool in = run->io.direction == KVMX_EXIT_IO_IN;
	uint8_t *data = vcpu_->io_data();
	uint16_t port = run->io.port;
	bool timer = !in && ((port >= 0x40 && port <= 0x43) || port == 0x61);

	{
		std::lock_guard lk(mu_);
		for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
			if (bus_.pio(port, in, data, run->io.size))
				continue;
			// Nothing decodes this port: the bus floated high.
			if (cfg_.verbose && !unhandled_ports_.count(port))
				fmt::print(stderr, "kvmx: unhandled port {:#x} ({} {} byte{})\n", port,
					   in ? "in" : "out", run->io.size,
					   run->io.size > 1 ? "s" : "");
			unhandled_ports_[port]++;
		}
		if (auto st = debug_exit_.status())
			stop_locked({ RunResult::ExitPort, *st,
				      fmt::format("guest wrote {:#x} to port 0xf4", *st) });
	}
	if (timer)
		wake_io_thread();	/* the next PIT deadline may have moved */
	return {};	/* a stop (debug exit) is seen before the next entry */
}

void PcMachine::mmio_exit()
{
	kvmx_run *run = vcpu_->run();

	// No MMIO devices: reads see all ones, writes go nowhere.
	mmio_exits_++;
	if (cfg_.verbose && mmio_exits_ <= 16)
		fmt::print(stderr, "kvmx: unhandled MMIO {} at {:#x} ({} bytes)\n",
			   run->mmio.is_write ? "write" : "read", run->mmio.phys_addr, run->mmio.len);
	if (!run->mmio.is_write)
		std::memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
}

// HLT with interrupts on: sleep until the PIC has something (a PIT
// deadline passes, or the I/O thread delivered input) or the run ends.
void PcMachine::wait_for_interrupt()
{
	std::unique_lock lk(mu_);
	vcpu_waiting_ = true;
	for (;;) {
		pit_.update();
		if (stop_ || pic_.has_pending())
			break;
		auto deadline = pit_.next_deadline_ns();
		if (!deadline) {
			cv_.wait(lk);
			continue;
		}
		uint64_t now = mono_.now_ns();
		if (*deadline > now)
			cv_.wait_for(lk, std::chrono::nanoseconds(*deadline - now));
	}
	vcpu_waiting_ = false;
}

void PcMachine::io_thread()
{
	// The kick is for the vCPU thread only.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);

	ConsoleEscape escape;
	bool input = cfg_.console_in >= 0;
	std::vector<uint8_t> to_guest;
	uint8_t buf[256];

	for (;;) {
		std::optional<uint64_t> deadline;
		{
			std::lock_guard lk(mu_);
			if (io_stop_)
				return;
			deadline = pit_.next_deadline_ns();
			if (timeout_at_ && (!deadline || *timeout_at_ < *deadline))
				deadline = timeout_at_;
		}
		timespec ts{}, *tsp = nullptr;
		if (deadline) {
			uint64_t now = mono_.now_ns();
			uint64_t wait = *deadline > now ? *deadline - now : 0;
			wait = std::max(wait, kMinWaitNs);
			ts.tv_sec = time_t(wait / 1000000000ULL);
			ts.tv_nsec = long(wait % 1000000000ULL);
			tsp = &ts;
		}
		pollfd fds[2] = { { wake_fd_.get(), POLLIN, 0 }, { cfg_.console_in, POLLIN, 0 } };
		int n = ::ppoll(fds, input ? 2 : 1, tsp, nullptr);
		if (n < 0 && errno != EINTR)
			return;

		uint64_t drain;
		if (n > 0 && (fds[0].revents & POLLIN))
			(void)!::read(wake_fd_.get(), &drain, sizeof(drain));
		bool quit = false;
		to_guest.clear();
		if (n > 0 && input && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got = ::read(cfg_.console_in, buf, sizeof(buf));
			if (got > 0)
				quit = escape.feed(buf, size_t(got), to_guest);
			else if (got == 0 || (errno != EINTR && errno != EAGAIN))
				input = false;	/* EOF: the guest gets no more input */
		}

		std::lock_guard lk(mu_);
		if (!to_guest.empty())
			com1_.receive(to_guest);
		if (quit)
			stop_locked({ RunResult::Quit, kPcStatusQuit, "quit (Ctrl-A x)" });
		if (timeout_at_ && mono_.now_ns() >= *timeout_at_)
			stop_locked({ RunResult::Timeout, kPcStatusTimeout,
				      fmt::format("guest still running after {} s: stopped",
						  cfg_.timeout_sec) });
		pit_.update();
		if (stop_ || pic_.has_pending())
			kick_locked();
	}
}

RunResult PcMachine::run()
{
	kvmx_run *run = vcpu_->run();

	vcpu_thread_ = pthread_self();
	g_kick_run.store(run);
	install_kick_handler();
	if (cfg_.timeout_sec)
		timeout_at_ = mono_.now_ns() + uint64_t(cfg_.timeout_sec) * 1000000000ULL;
	RawTerminal raw(cfg_.console_in >= 0 ? cfg_.console_in : -1);
	io_ = std::thread([this] { io_thread(); });

	// Stops the I/O thread on every way out, before the terminal is restored.
	struct Join {
		PcMachine *m;
		~Join()
		{
			{
				std::lock_guard lk(m->mu_);
				m->io_stop_ = true;
			}
			m->wake_io_thread();
			m->io_.join();
			g_kick_run.store(nullptr);
		}
	} join{ this };

	return run_loop(*vm_, *vcpu_);
}

VcpuLoop::Outcome PcMachine::before_entry()
{
	// A kick from here on is seen: either we are about to look at the PIC
	// under the lock, or KVM_RUN returns at once.
	vcpu_->run()->immediate_exit = 0;
	std::lock_guard lk(mu_);
	if (stop_)
		return *stop_;
	inject_locked();
	return {};
}

VcpuLoop::Outcome PcMachine::halted()
{
	if (!vcpu_->run()->if_flag)
		return RunResult{ RunResult::Halted, kPcStatusPowerOff,
				  "guest halted with interrupts off (halt or power off)" };
	wait_for_interrupt();
	return {};
}

RunResult PcMachine::shutdown()
{
	return { RunResult::Reboot, kPcStatusReboot, "guest reset the machine (triple fault)" };
}

} // namespace kvmx
