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
#include "mptable.hpp"

namespace kvmx {

namespace {

// Where the kick handler writes: the run page of the vCPU this thread runs.
thread_local kvmx_run *t_kick_run = nullptr;

void on_kick(int)
{
	if (kvmx_run *r = t_kick_run)
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

// Kernel irqchip: how often the I/O thread asks every vCPU whether it is
// halted with interrupts off.
constexpr uint64_t kHaltProbeNs = 250000000ULL;

constexpr uint64_t kRflagsIf = 1u << 9;

} // namespace

// One vCPU, its thread and its KVM_RUN loop, whose hooks are the machine's.
class PcMachine::Cpu : public VcpuLoop {
public:
	Cpu(PcMachine &m, unsigned index, Vcpu vcpu)
		: m_(m), index_(index), vcpu_(std::move(vcpu)) {}
	RunResult loop() { return run_loop(*m_.vm_, vcpu_); }

	PcMachine &m_;
	const unsigned index_;
	Vcpu vcpu_;
	std::thread thread;	// APs; vCPU 0 runs on the caller's thread
	// Under m_.mu_:
	bool running = false;	// in its loop: kicks go to tid
	pthread_t tid{};
	unsigned probed = 0;	// the last halt probe it answered
	unsigned off_round = 0;	// the last probe that found it halted, IF=0

protected:
	Outcome before_entry() override { return m_.before_entry(*this); }
	Outcome interrupted() override { return m_.interrupted(*this); }
	Outcome io_exit() override { return m_.io_exit(*this); }
	void mmio_exit() override { m_.mmio_exit(*this); }
	Outcome halted() override { return m_.halted(*this); }
	RunResult shutdown() override
	{
		return { RunResult::Reboot, kPcStatusReboot,
			 fmt::format("guest reset the machine (triple fault on vCPU {})", index_) };
	}
};

std::string default_linux_cmdline(IrqchipMode mode, uint64_t tsc_khz)
{
	std::string s = mode == IrqchipMode::User
		? "console=ttyS0 earlyprintk=serial noapic noacpi nolapic pci=conf1 "
		: "console=ttyS0 earlyprintk=serial acpi=off pci=conf1 ";
	s += "reboot=k panic=-1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1";
	if (tsc_khz)
		s += fmt::format(" tsc_early_khz={}", tsc_khz);
	return s;
}

IrqSink *PcMachine::irq_sink()
{
	if (kernel_irqchip())
		return &kernel_irqs_;
	return &pic_;
}

PcMachine::PcMachine(const PcConfig &cfg)
	: cfg_(cfg), map_(pc_memory_map(cfg.mem_size)), sys_(cfg.device),
	  caps_(irqchip_caps(sys_)),
	  // Lines are driven from device code, which holds mu_.
	  kernel_irqs_([this](const std::string &why) {
		  stop_locked({ RunResult::InternalError, 4, why });
	  }),
	  pit_(mono_, IrqLine(irq_sink(), 0)), rtc_(wall_, map_.below_4g, map_.above_4g),
	  com1_(cfg.console_out, IrqLine(irq_sink(), 4)),
	  // Reset callbacks run inside dispatch_io(), which holds mu_.
	  i8042_([this] { stop_locked({ RunResult::Reboot, kPcStatusReboot,
					"guest reset the machine (keyboard controller)" }); }),
	  port92_([this] { stop_locked({ RunResult::Reboot, kPcStatusReboot,
					 "guest reset the machine (port 0x92)" }); })
{
	if (cfg_.cpus < 1 || cfg_.cpus > kPcMaxCpus)
		throw Error(fmt::format("the PC runs 1 to {} vCPUs, not {}", kPcMaxCpus, cfg_.cpus));
	if (!kernel_irqchip() && cfg_.cpus > 1)
		throw Error(fmt::format("--irqchip=user runs one vCPU (its PIC has no APICs to "
					"start or interrupt others): use -c 1, or --irqchip=kernel "
					"for {} vCPUs", cfg_.cpus));
	if (kernel_irqchip() && !caps_.irqchip)
		throw Error(fmt::format("{} has no in-kernel irqchip (KVM_CHECK_EXTENSION "
					"KVM_CAP_IRQCHIP says 0): run with --irqchip=user (one vCPU, "
					"userspace PIC), or load a module that has it",
					cfg_.device));
	if (cfg_.cpus > caps_.max_vcpus)
		throw Error(fmt::format("{} runs at most {} vCPUs per VM (KVM_CAP_MAX_VCPUS); "
					"asked for {}", cfg_.device, caps_.max_vcpus, cfg_.cpus));

	vm_ = std::make_unique<Vm>(sys_.create_vm());
	// Harmless here (the guest never runs in real mode), but KVM clients
	// are expected to set them before the first vCPU, so we do too.
	vm_->set_tss_addr(kTssAddr);
	vm_->set_identity_map_addr(kIdentityMapAddr);

	mem_ = std::make_unique<GuestMemory>(cfg_.mem_size);
	vm_->set_memory(0, 0, map_.below_4g, mem_->host());
	if (map_.above_4g)
		vm_->set_memory(1, kHighRamStart, map_.above_4g, mem_->host() + map_.below_4g);

	// The irqchip before the vCPUs, so each gets its local APIC.
	if (kernel_irqchip())
		setup_kernel_irqchip();

	const auto supported = sys_.supported_cpuid();
	for (unsigned i = 0; i < cfg_.cpus; i++) {
		auto cpuid = supported;
		if (kernel_irqchip())
			apply_pc_smp_cpuid_policy(cpuid, i, cfg_.cpus, caps_.tsc_deadline);
		else
			apply_pc_cpuid_policy(cpuid, cfg_.hide_apic);
		auto c = std::make_unique<Cpu>(*this, i, vm_->create_vcpu(int(i)));
		c->vcpu_.set_cpuid(cpuid);
		cpus_.push_back(std::move(c));
	}
	if (kernel_irqchip())
		write_mptable(supported);

	for (Device *d : std::initializer_list<Device *>{ &rtc_, &com1_, &i8042_, &port92_,
							   &port80_, &pci_, &debug_exit_ })
		d->attach(bus_);
	if (!kernel_irqchip())
		pic_.attach(bus_);
	if (!pit_in_kernel_) {
		pit_.attach(bus_);
		pit_attached_ = true;
	}

	int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		throw Error("eventfd", errno);
	wake_fd_.reset(efd);
}

void PcMachine::setup_kernel_irqchip()
{
	create_irqchip(*vm_);
	kernel_irqs_.connect(vm_.get());
	// KVM's default GSI routing is what the MP table describes (ISA IRQ n
	// on IOAPIC pin n), so no KVM_SET_GSI_ROUTING.  The timer: the
	// kernel's 8254 where there is one, else ours raising GSI 0.
	if (caps_.pit2 && cfg_.kernel_pit) {
		create_pit2(*vm_);
		pit_in_kernel_ = true;
	} else if (cfg_.verbose) {
		fmt::print(stderr, "kvmx: {}: the 8254 stays in userspace and raises GSI 0 "
			   "with KVM_IRQ_LINE\n", caps_.pit2 ? "--pit=user" :
			   fmt::format("{} has no KVM_CAP_PIT2", cfg_.device));
	}
}

void PcMachine::write_mptable(const std::vector<kvmx_cpuid_entry2> &cpuid)
{
	MpTableConfig mp;
	mp.cpus = cfg_.cpus;
	for (const auto &e : cpuid) {
		if (e.function == 1) {
			mp.cpu_signature = e.eax;
			mp.cpu_features = e.edx;
		}
	}
	mem_->write(kMpTableBase, build_mptable(kMpTableBase, mp));
}

PcMachine::~PcMachine()
{
	stop_threads();
}

const Vcpu &PcMachine::vcpu(unsigned i) const
{
	return cpus_.at(i)->vcpu_;
}

std::map<uint32_t, uint64_t> PcMachine::exit_counts() const
{
	std::map<uint32_t, uint64_t> sum;
	for (const auto &c : cpus_)
		for (auto &[reason, n] : c->exit_counts())
			sum[reason] += n;
	return sum;
}

void PcMachine::load_linux(std::span<const uint8_t> bzimage, std::span<const uint8_t> initrd,
			   const std::string &cmdline)
{
	// The BSP enters the kernel; the APs wait for Linux's INIT/SIPI
	// (with the in-kernel irqchip they start uninitialized).
	Vcpu &bsp = cpus_[0]->vcpu_;
	BzImage k = parse_bzimage(bzimage);
	LinuxBoot b = kvmx::load_linux(*mem_, map_, k, initrd, cmdline, bsp.sregs());
	bsp.set_sregs(b.sregs);
	bsp.set_regs(b.regs);
	if (cfg_.verbose)
		fmt::print(stderr, "kvmx: Linux boot protocol {}, kernel at 0x100000-{:#x}, "
			   "initrd {:#x}+{:#x}; {} vCPU(s), {} irqchip{}\n", k.version_string(),
			   b.kernel_end, b.initrd_addr, b.initrd_size, cfg_.cpus,
			   kernel_irqchip() ? "in-kernel" : "userspace",
			   kernel_irqchip() ? (pit_in_kernel_ ? ", in-kernel PIT"
							      : ", userspace PIT")
					    : "");
}

void PcMachine::stop_locked(RunResult r, unsigned by)
{
	if (!stop_) {
		stop_ = std::move(r);
		stopped_by_ = by;
	}
	cv_.notify_all();
	for (auto &c : cpus_)
		if (c->running && !pthread_equal(c->tid, pthread_self()))
			pthread_kill(c->tid, SIGUSR1);
}

void PcMachine::kick_locked(Cpu &c)
{
	cv_.notify_all();
	if (!vcpu_waiting_ && c.running)
		pthread_kill(c.tid, SIGUSR1);
}

void PcMachine::wake_io_thread()
{
	uint64_t one = 1;
	if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) {
		/* the counter is saturated: the thread is awake already */
	}
}

// User irqchip, before each KVM_RUN: hand the PIC's vector to KVM if the
// guest can take it now (KVM's ready_for_interrupt_injection and IF from
// the last exit), else ask for an exit as soon as it can.  The vector is
// acknowledged in the PIC when it is handed over, as on a real INTA cycle.
void PcMachine::inject_locked(Cpu &c)
{
	kvmx_run *run = c.vcpu_.run();

	pit_.update();
	if (!pic_.has_pending()) {
		run->request_interrupt_window = 0;
		return;
	}
	if (run->ready_for_interrupt_injection && run->if_flag) {
		c.vcpu_.interrupt(pic_.acknowledge());
		run->request_interrupt_window = pic_.has_pending();
		return;
	}
	run->request_interrupt_window = 1;
}

std::optional<RunResult> PcMachine::before_entry(Cpu &c)
{
	// A kick from here on is seen: either we are about to look at the
	// machine under the lock, or KVM_RUN returns at once.
	c.vcpu_.run()->immediate_exit = 0;
	std::lock_guard lk(mu_);
	if (stop_)
		return *stop_;
	if (!kernel_irqchip())
		inject_locked(c);
	return {};
}

std::optional<RunResult> PcMachine::io_exit(Cpu &c)
{
	kvmx_run *run = c.vcpu_.run();
	bool in = run->io.direction == KVMX_EXIT_IO_IN;
	uint8_t *data = c.vcpu_.io_data();
	uint16_t port = run->io.port;
	bool timer = pit_attached_ && !in && ((port >= 0x40 && port <= 0x43) || port == 0x61);

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
				      fmt::format("guest wrote {:#x} to port 0xf4", *st) },
				    c.index_);
	}
	if (timer)
		wake_io_thread();	/* the next PIT deadline may have moved */
	return {};	/* a stop (debug exit, reset) is seen before the next entry */
}

void PcMachine::mmio_exit(Cpu &c)
{
	kvmx_run *run = c.vcpu_.run();

	// No MMIO devices: reads see all ones, writes go nowhere.
	if (!run->mmio.is_write)
		std::memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
	std::lock_guard lk(mu_);
	mmio_exits_++;
	if (cfg_.verbose && mmio_exits_ <= 16)
		fmt::print(stderr, "kvmx: unhandled MMIO {} at {:#x} ({} bytes, vCPU {})\n",
			   run->mmio.is_write ? "write" : "read", run->mmio.phys_addr, run->mmio.len,
			   c.index_);
}

// User irqchip, HLT with interrupts on: sleep until the PIC has something
// (a PIT deadline passes, or the I/O thread delivered input) or the run
// ends.
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

std::optional<RunResult> PcMachine::halted(Cpu &c)
{
	if (!c.vcpu_.run()->if_flag)
		return RunResult{ RunResult::Halted, kPcStatusPowerOff,
				  "guest halted with interrupts off (halt or power off)" };
	// The in-kernel irqchip keeps HLT in the kernel; if a device hands it
	// to us anyway, entering again is all we can do.
	if (!kernel_irqchip())
		wait_for_interrupt();
	return {};
}

std::optional<RunResult> PcMachine::interrupted(Cpu &c)
{
	if (kernel_irqchip())
		probe_halt(c);
	return {};
}

// Kernel irqchip: answer the I/O thread's halt probe, once per round, from
// this vCPU's own thread (its state can only be read between KVM_RUNs).
void PcMachine::probe_halt(Cpu &c)
{
	unsigned round;
	{
		std::lock_guard lk(mu_);
		round = probe_round_;
		if (round == 0 || c.probed == round)
			return;
		c.probed = round;
	}
	uint32_t mp;
	bool off;
	try {
		mp = c.vcpu_.mp_state();
		off = mp == KVMX_MP_STATE_HALTED && !(c.vcpu_.regs().rflags & kRflagsIf);
	} catch (const Error &e) {
		// The probe is how a halt is seen, not what runs the guest: a
		// device that can't answer it runs on (--timeout still ends it).
		std::lock_guard lk(mu_);
		if (!probe_failed_) {
			probe_failed_ = true;
			fmt::print(stderr, "kvmx: vCPU {}: {}: a guest halt will not end the run\n",
				   c.index_, e.what());
		}
		return;
	}
	// An AP that never got (or lost) its SIPI waits for a CPU that is off.
	if (c.index_ != 0 && (mp == KVMX_MP_STATE_UNINITIALIZED ||
			      mp == KVMX_MP_STATE_INIT_RECEIVED))
		off = true;

	std::lock_guard lk(mu_);
	if (!off || round != probe_round_)
		return;
	c.off_round = round;
	for (const auto &o : cpus_)
		if (o->off_round != round)
			return;
	stop_locked({ RunResult::Halted, kPcStatusPowerOff,
		      cpus_.size() > 1 ? "every vCPU halted with interrupts off (halt or power off)"
				       : "guest halted with interrupts off (halt or power off)" },
		    c.index_);
}

void PcMachine::io_thread()
{
	// The kick is for the vCPU threads only.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);

	ConsoleEscape escape;
	bool input = cfg_.console_in >= 0;
	std::vector<uint8_t> to_guest;
	uint8_t buf[256];
	std::optional<uint64_t> next_probe;
	if (kernel_irqchip())
		next_probe = mono_.now_ns() + kHaltProbeNs;

	for (;;) {
		std::optional<uint64_t> deadline;
		{
			std::lock_guard lk(mu_);
			if (io_stop_)
				return;
			if (pit_attached_)
				deadline = pit_.next_deadline_ns();
			for (auto t : { timeout_at_, next_probe })
				if (t && (!deadline || *t < *deadline))
					deadline = t;
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
		uint64_t now = mono_.now_ns();
		if (!to_guest.empty())
			com1_.receive(to_guest);
		if (quit)
			stop_locked({ RunResult::Quit, kPcStatusQuit, "quit (Ctrl-A x)" });
		if (timeout_at_ && now >= *timeout_at_)
			stop_locked({ RunResult::Timeout, kPcStatusTimeout,
				      fmt::format("guest still running after {} s: stopped",
						  cfg_.timeout_sec) });
		if (pit_attached_)
			pit_.update();	/* kernel irqchip: KVM_IRQ_LINE, no kick needed */
		if (!kernel_irqchip() && pic_.has_pending())
			kick_locked(*cpus_[0]);
		if (next_probe && now >= *next_probe) {
			probe_round_++;
			for (auto &c : cpus_)
				if (c->running)
					pthread_kill(c->tid, SIGUSR1);
			next_probe = now + kHaltProbeNs;
		}
	}
}

void PcMachine::cpu_thread(Cpu &c)
{
	t_kick_run = c.vcpu_.run();
	{
		std::lock_guard lk(mu_);
		c.tid = pthread_self();
		c.running = true;
	}
	std::optional<RunResult> r;
	try {
		r = c.loop();
	} catch (const std::exception &e) {
		std::lock_guard lk(mu_);
		if (!error_)
			error_ = std::current_exception();
		stop_locked({ RunResult::Unknown, 1, fmt::format("vCPU {}: {}", c.index_, e.what()) },
			    c.index_);
	}
	{
		std::lock_guard lk(mu_);
		c.running = false;
		if (r)
			stop_locked(std::move(*r), c.index_);
	}
	t_kick_run = nullptr;
}

void PcMachine::stop_threads()
{
	{
		std::lock_guard lk(mu_);
		if (!stop_)
			stop_locked({ RunResult::Unknown, 1, "the machine was stopped" });
	}
	for (auto &c : cpus_)
		if (c->thread.joinable())
			c->thread.join();
	{
		std::lock_guard lk(mu_);
		io_stop_ = true;
	}
	if (io_.joinable()) {
		wake_io_thread();
		io_.join();
	}
}

RunResult PcMachine::run()
{
	install_kick_handler();
	if (cfg_.timeout_sec)
		timeout_at_ = mono_.now_ns() + uint64_t(cfg_.timeout_sec) * 1000000000ULL;
	RawTerminal raw(cfg_.console_in >= 0 ? cfg_.console_in : -1);
	io_ = std::thread([this] { io_thread(); });

	// Stops and joins every thread on every way out, before the terminal
	// is restored.
	struct Join {
		PcMachine *m;
		~Join() { m->stop_threads(); }
	} join{ this };

	for (size_t i = 1; i < cpus_.size(); i++) {
		Cpu &c = *cpus_[i];
		c.thread = std::thread([this, &c] { cpu_thread(c); });
	}
	cpu_thread(*cpus_[0]);
	stop_threads();
	if (error_)
		std::rethrow_exception(error_);
	std::lock_guard lk(mu_);
	return *stop_;
}

} // namespace kvmx
