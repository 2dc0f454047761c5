#include "bench.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "fd.hpp"
#include "machine.hpp"
#include "system.hpp"
#include "thread_timer.hpp"
#include "vcpu.hpp"
#include "vm.hpp"

namespace kvmx {

namespace {

// The bench guest's parameter block and tests (guest-images/bench.asm).
constexpr uint64_t kParams = 0x800;
enum BenchTest : uint32_t {
	T_CPUID, T_PIO, T_MMIO, T_HLT, T_VMCALL, T_TOUCH, T_SELF_IPI, T_TIMER, T_X2APIC_IPI,
	T_IPI_SPIN, T_IPI_HLT, T_EOI_XAPIC, T_EOI_X2APIC
};
// The counted tests' fields (P_TAKEN1, P_BASE, P_SEEN) and the warm-up
// iterations the guest adds to the timed ones.
constexpr uint64_t kTaken1 = kParams + 0x24, kBase = kParams + 0x30, kSeen = kParams + 0x38;
constexpr unsigned kWarmup = 16;
// vCPU 1's entry (the guest's second jump) and its stack, below vCPU 0's.
constexpr uint64_t kApEntry = 0x1005, kApStackBelow = 0x10000;
constexpr uint16_t kExitPort = 0xf4;

struct GuestRun {
	BenchTest test;
	unsigned iterations;
	uint64_t mem_size = 2 << 20;
	Backing backing = Backing::Huge;
	uint64_t addr = 0, stride = 0;
	bool irqchip = false;	// the APIC tests run on the in-kernel irqchip
	bool second_vcpu = false;	// T_IPI_*: vCPU 1 on a thread of its own
	// The guest counts its interrupts: vCPU 0's handler must have run once
	// per iteration (and vCPU 1's as often, with second_vcpu).
	bool counted = false;
	// T_EOI_*: the guest's empty timing windows are subtracted.
	bool minus_base = false;
};

// vCPU 1 of a bench VM, running on its own thread until the guest writes
// the exit port, its deadline passes, or stop() kicks it out of KVM_RUN.
class SecondVcpu {
public:
	SecondVcpu(const Machine &m, const std::string &device, unsigned timeout_sec)
		: vcpu_(m.vm().create_vcpu(1))
	{
		System sys(device);
		vcpu_.set_cpuid(guest_cpuid(sys.supported_cpuid()));	// x2APIC is in it
		kvmx_sregs s = m.vcpu().sregs();	// vCPU 0's long mode, IDT aside
		s.apic_base = vcpu_.sregs().apic_base;	// not the BSP
		vcpu_.set_sregs(s);
		kvmx_regs r{};
		r.rip = kApEntry;
		r.rsp = m.vcpu().regs().rsp - kApStackBelow;
		r.rflags = 2;
		vcpu_.set_regs(r);
		// As for an AP that INIT and SIPI started: runnable at once.
		kvmx_mp_state mp{ KVMX_MP_STATE_RUNNABLE };
		if (::ioctl(vcpu_.fd(), KVMX_SET_MP_STATE, &mp))
			throw Error("KVM_SET_MP_STATE (vCPU 1)", errno);
		ended_ = result_.get_future();
		std::promise<void> started;
		std::future<void> up = started.get_future();
		thread_ = std::thread([this, timeout_sec, started = std::move(started)]() mutable {
			// The timer (and its signal's handler) exists before stop() may use it.
			try {
				timer_.emplace();
			} catch (const Error &e) {
				started.set_value();
				result_.set_value(e.what());
				return;
			}
			timer_->arm(static_cast<long>(timeout_sec) * 1000000);
			started.set_value();
			result_.set_value(loop(timeout_sec));
		});
		up.wait();
	}
	~SecondVcpu()
	{
		if (thread_.joinable()) {
			stop();
			thread_.join();
		}
	}
	SecondVcpu(const SecondVcpu &) = delete;
	SecondVcpu &operator=(const SecondVcpu &) = delete;

	// Waits up to @sec seconds for the guest's exit, else stops vCPU 1;
	// returns how its run ended, "" for exit status 0.
	std::string finish(unsigned sec)
	{
		if (ended_.wait_for(std::chrono::seconds(sec)) != std::future_status::ready)
			stop();
		std::string s = ended_.get();
		thread_.join();
		return s;
	}

private:
	// Kicks vCPU 1 out of KVM_RUN: immediate_exit for a thread not yet in
	// it, its own timer's signal for one that is.
	void stop()
	{
		stop_ = true;
		vcpu_.run()->immediate_exit = 1;
		if (timer_)
			timer_->arm(1);
	}
	std::string loop(unsigned timeout_sec)
	{
		kvmx_run *run = vcpu_.run();
		for (;;) {
			int r = vcpu_.run_once();
			if (r == -EINTR || r == -EAGAIN || (!r && run->exit_reason == KVMX_EXIT_INTR)) {
				if (stop_)
					return "stopped: vCPU 0 ended first";
				if (timer_->expired())
					return fmt::format("still running after {} s", timeout_sec);
				continue;
			}
			if (r < 0)
				return Error("KVM_RUN", -r).what();
			if (run->exit_reason != KVMX_EXIT_IO)
				return describe_error_exit(*run);
			if (run->io.port != kExitPort || run->io.direction != KVMX_EXIT_IO_OUT)
				return fmt::format("unexpected port I/O to {:#x}", run->io.port);
			uint8_t status = *vcpu_.io_data();
			return status ? fmt::format("exit status {}", status) : "";
		}
	}

	Vcpu vcpu_;
	std::optional<ThreadTimer> timer_;
	std::atomic<bool> stop_{ false };
	std::promise<std::string> result_;
	std::future<std::string> ended_;
	std::thread thread_;
};

// One timed loop in a fresh VM; returns ticks per iteration.
// The bench VM for @g (its console to @console_fd): long mode, the bench
// guest loaded and told which test to run.
MachineConfig bench_config(const std::string &device, const GuestRun &g, int console_fd)
{
	MachineConfig cfg;
	cfg.device = device;
	cfg.mode = CpuMode::Long;
	cfg.mem_size = g.mem_size;
	cfg.backing = g.backing;
	cfg.resume_after_hlt = g.test == T_HLT;
	cfg.irqchip = g.irqchip;
	cfg.timeout_sec = 300;
	cfg.console_fd = console_fd;
	return cfg;
}

void load_bench_guest(Machine &m, std::span<const uint8_t> guest, const GuestRun &g)
{
	m.load_image({ guest.begin(), guest.end() });
	const GuestMemory &mem = m.memory();
	mem.put<uint32_t>(kParams + 0x00, g.test);
	mem.put<uint32_t>(kParams + 0x04, g.iterations);
	mem.put<uint64_t>(kParams + 0x08, g.addr);
	mem.put<uint64_t>(kParams + 0x10, g.stride);
}

double run_guest(const std::string &device, std::span<const uint8_t> guest, const GuestRun &g)
{
	Fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
	const MachineConfig cfg = bench_config(device, g, devnull.get());
	Machine m(cfg);
	load_bench_guest(m, guest, g);
	const GuestMemory &mem = m.memory();
	std::optional<SecondVcpu> ap;
	if (g.second_vcpu)
		ap.emplace(m, device, cfg.timeout_sec);
	RunResult r = m.run();
	bool ok = r.kind == RunResult::ExitPort && r.status == 0;
	// vCPU 1 leaves once vCPU 0 is done: give it a minute of the rig's slow time.
	std::string ap_end = ap ? ap->finish(ok ? 60 : 0) : "";
	if (!ok)
		throw Error(fmt::format("bench guest (test {}) on {} ended badly: status {} {}{}",
					static_cast<unsigned>(g.test), device, r.status, r.message,
					ap ? "; vCPU 1: " + ap_end : ""));
	if (!ap_end.empty())
		throw Error(fmt::format("bench guest (test {}) on {}: vCPU 1 {}",
					static_cast<unsigned>(g.test), device, ap_end));
	auto get = [&mem](uint64_t gpa, auto v) {
		std::memcpy(&v, mem.at(gpa, sizeof(v)), sizeof(v));
		return v;
	};
	if (g.counted) {
		uint32_t want = g.iterations + kWarmup, seen = get(kSeen, uint32_t{});
		if (seen != want)
			throw Error(fmt::format("bench guest (test {}) on {}: {} interrupts taken, "
						"not {}", static_cast<unsigned>(g.test), device, seen, want));
		uint32_t taken1 = get(kTaken1, uint32_t{});
		if (g.second_vcpu && taken1 < want)
			throw Error(fmt::format("bench guest (test {}) on {}: vCPU 1 took {} IPIs, "
						"not {}", static_cast<unsigned>(g.test), device, taken1, want));
	}
	double ticks = static_cast<double>(get(kParams + 0x18, uint64_t{}));
	if (g.minus_base)
		ticks -= static_cast<double>(get(kBase, uint64_t{}));
	return ticks / g.iterations;
}

// The host CPUs this process may run on.
unsigned usable_cpus()
{
	cpu_set_t set;
	if (::sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return static_cast<unsigned>(CPU_COUNT(&set));
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Create a VM, a vCPU and a 1 MiB slot, run to HLT, destroy: @n times.
// Returns VMs per second.
double lifecycle(const System &sys, unsigned n)
{
	auto t0 = std::chrono::steady_clock::now();
	for (unsigned i = 0; i < n; i++) {
		Vm vm = sys.create_vm();
		GuestMemory mem(1 << 20);
		mem.put<uint8_t>(0x1000, 0xf4);		// hlt
		vm.set_memory(0, 0, 1 << 20, mem.host());
		Vcpu v = vm.create_vcpu(0);
		kvmx_sregs s = v.sregs();
		s.cs.base = 0;
		s.cs.selector = 0;
		v.set_sregs(s);
		kvmx_regs r{};
		r.rip = 0x1000;
		r.rflags = 2;
		v.set_regs(r);
		int rc = v.run_once();
		if (rc || v.run()->exit_reason != KVMX_EXIT_HLT)
			throw Error(fmt::format("lifecycle guest on {}: KVM_RUN {} exit {}", sys.path(),
						rc, v.run()->exit_reason));
	}
	return n / seconds_since(t0);
}

long mem_free_kib()
{
	std::ifstream f("/proc/meminfo");
	std::string key;
	long value;
	std::string unit;
	while (f >> key >> value >> unit)
		if (key == "MemFree:")
			return value;
	return 0;
}

// Kernel memory a VM (one vCPU, 1 MiB slot, run once) and each further vCPU
// cost, from MemFree before and after: the same yardstick for both devices.
// kvmx only: what the module's accounting says it holds, in KiB (guest RAM
// its EPT maps not counted: that is the VMM's memory); -1 without kvmx.
double accounted_kib()
{
	auto read = [](const char *name) {
		std::ifstream f(std::string("/sys/class/misc/kvmx/accounting/") + name);
		long v = -1;
		f >> v;
		return v;
	};
	long pages = read("vmcs_pages") + read("run_pages") + read("ept_pages");
	long bytes = read("kmalloc_bytes");
	if (pages < 0 || bytes < 0)
		return -1;
	return pages * 4.0 + bytes / 1024.0;
}

std::pair<double, double> memory_per_vm_and_vcpu(const System &sys, double &acct_per_vm)
{
	constexpr unsigned kVms = 64, kVcpus = 16;
	struct Alive {
		Vm vm;
		std::unique_ptr<GuestMemory> mem;
		std::vector<Vcpu> vcpus;
	};
	auto make = [&sys](unsigned vcpus) {
		Alive a{ sys.create_vm(), std::make_unique<GuestMemory>(1 << 20), {} };
		a.mem->put<uint8_t>(0x1000, 0xf4);
		a.vm.set_memory(0, 0, 1 << 20, a.mem->host());
		for (unsigned i = 0; i < vcpus; i++) {
			a.vcpus.push_back(a.vm.create_vcpu(static_cast<int>(i)));
			kvmx_sregs s = a.vcpus.back().sregs();
			s.cs.base = 0;
			s.cs.selector = 0;
			a.vcpus.back().set_sregs(s);
			kvmx_regs r{};
			r.rip = 0x1000;
			r.rflags = 2;
			a.vcpus.back().set_regs(r);
			a.vcpus.back().run_once();
		}
		return a;
	};
	// Warm the allocators once so the first VM's one-time costs don't count.
	make(1);
	long before = mem_free_kib();
	{
		std::vector<Alive> vms;
		for (unsigned i = 0; i < kVms; i++)
			vms.push_back(make(1));
		long after = mem_free_kib();
		before = before - after;
		acct_per_vm = accounted_kib() / kVms;
	}
	double per_vm = static_cast<double>(before) / kVms;
	long b1 = mem_free_kib();
	double per_vcpu;
	{
		Alive one = make(1 + kVcpus);
		per_vcpu = static_cast<double>(b1 - mem_free_kib()) / kVcpus;
	}
	return { per_vm, per_vcpu };
}

// @n VMs at once, each timing @test: as threads of this process or as
// child processes.  Returns the median ticks per exit seen by the guests
// and the exits per second all of them achieved together.
std::pair<double, double> concurrent(const std::string &device, std::span<const uint8_t> guest,
				     BenchTest test, unsigned iters, unsigned n, bool processes)
{
	GuestRun g{ test, iters };
	std::vector<double> ticks(n);
	auto t0 = std::chrono::steady_clock::now();
	if (processes) {
		std::vector<std::pair<pid_t, int>> kids;
		for (unsigned i = 0; i < n; i++) {
			int p[2];
			if (::pipe(p))
				throw Error("pipe", errno);
			pid_t pid = ::fork();
			if (pid == 0) {
				::close(p[0]);
				double t = -1;
				try {
					t = run_guest(device, guest, g);
				} catch (...) {
				}
				(void)!::write(p[1], &t, sizeof(t));
				::_exit(0);
			}
			::close(p[1]);
			kids.emplace_back(pid, p[0]);
		}
		for (unsigned i = 0; i < n; i++) {
			Fd rd(kids[i].second);
			if (::read(rd.get(), &ticks[i], sizeof(double)) != sizeof(double))
				ticks[i] = -1;
			::waitpid(kids[i].first, nullptr, 0);
		}
	} else {
		std::vector<std::thread> threads;
		std::vector<std::exception_ptr> errs(n);
		for (unsigned i = 0; i < n; i++)
			threads.emplace_back([&, i] {
				try {
					ticks[i] = run_guest(device, guest, g);
				} catch (...) {
					errs[i] = std::current_exception();
				}
			});
		for (auto &t : threads)
			t.join();
		for (auto &e : errs)
			if (e)
				std::rethrow_exception(e);
	}
	double secs = seconds_since(t0);
	if (std::any_of(ticks.begin(), ticks.end(), [](double t) { return t < 0; }))
		throw Error(fmt::format("a concurrent bench guest failed on {}", device));
	std::sort(ticks.begin(), ticks.end());
	return { ticks[n / 2], (n * (iters + 16.0)) / secs };
}

// The floor under every exit to userspace, from userspace: KVM_RUN with
// immediate_exit set (the syscall, the ioctl dispatch, vCPU load and put,
// no guest), in TSC ticks like the guest's figures.
double run_ioctl_floor(const System &sys, unsigned iters)
{
	Vm vm = sys.create_vm();
	Vcpu vcpu = vm.create_vcpu(0);
	vcpu.run()->immediate_exit = 1;
	uint64_t t0 = __rdtsc();
	for (unsigned i = 0; i < iters; i++)
		if (vcpu.run_once() != -EINTR)
			throw Error("KVM_RUN with immediate_exit did not return EINTR");
	return static_cast<double>(__rdtsc() - t0) / iters;
}

// What an invalidation costs the VMM: MADV_DONTNEED of 1 MiB (4 KiB pages)
// the guest has mapped, so the MMU notifier zaps 256 EPT leaves and
// flushes, and the same on 1 MiB the VMM touched but the guest never did
// (the notifier finds nothing: the kernel's own cost and the walk).  One
// VM; the guest touches [16, 32) MiB, the VMM [32, 48) MiB; each sample is
// the median of the 16 calls of one VM, in TSC ticks per call.
std::pair<double, double> dontneed_1m(const std::string &device, std::span<const uint8_t> guest)
{
	constexpr uint64_t kMiB = 1 << 20, kGuestAt = 16 * kMiB, kVmmAt = 32 * kMiB;
	constexpr unsigned kChunks = 16;
	// T_TOUCH has no warm-up: the guest touches exactly these pages.
	const GuestRun g{ T_TOUCH, kChunks * kMiB / 4096, 48 * kMiB, Backing::Small, kGuestAt, 4096 };
	Fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
	Machine m(bench_config(device, g, devnull.get()));
	load_bench_guest(m, guest, g);
	const GuestMemory &mem = m.memory();
	RunResult r = m.run();
	if (r.kind != RunResult::ExitPort || r.status != 0)
		throw Error(fmt::format("bench guest (touch) on {} ended badly: status {} {}", device,
					r.status, r.message));
	for (uint64_t off = 0; off < kChunks * kMiB; off += 4096)
		*static_cast<volatile uint8_t *>(mem.at(kVmmAt + off, 1)) = 1;
	auto time_chunks = [&](uint64_t gpa) {
		std::vector<double> t;
		for (unsigned i = 0; i < kChunks; i++) {
			void *p = mem.at(gpa + i * kMiB, kMiB);
			uint64_t t0 = __rdtsc();
			if (::madvise(p, kMiB, MADV_DONTNEED))
				throw Error("madvise(MADV_DONTNEED)", errno);
			t.push_back(static_cast<double>(__rdtsc() - t0));
		}
		std::sort(t.begin(), t.end());
		return (t[kChunks / 2 - 1] + t[kChunks / 2]) / 2;
	};
	double mapped = time_chunks(kGuestAt);
	return { mapped, time_chunks(kVmmAt) };
}

} // namespace

double Figure::median() const
{
	if (samples.empty())
		return 0;
	std::vector<double> s = samples;
	std::sort(s.begin(), s.end());
	size_t n = s.size();
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double Figure::min() const
{
	return samples.empty() ? 0 : *std::min_element(samples.begin(), samples.end());
}

double Figure::max() const
{
	return samples.empty() ? 0 : *std::max_element(samples.begin(), samples.end());
}

double Figure::spread_pct() const
{
	double m = median();
	return m ? 100.0 * (max() - min()) / m : 0;
}

std::vector<Figure> run_bench(const std::string &device, std::span<const uint8_t> guest,
			      const BenchOptions &o)
{
	static const char *const kNames[] = {
		"cpuid", "pio", "mmio", "hlt", "vmcall", "self_ipi", "x2apic_ipi", "apic_timer",
		"ipi_roundtrip", "ipi_rt_hlt", "eoi_xapic", "eoi_x2apic", "touch_4k", "touch_2m",
		"dontneed_1m", "dontneed_1m_unmapped", "run_floor", "lifecycle", "mem_vm",
		"mem_vm_acct", "mem_vcpu",
	};
	for (const std::string &n : o.only)
		if (std::find(std::begin(kNames), std::end(kNames), n) == std::end(kNames))
			throw Error(fmt::format("kvmx bench --only {}: no such figure (the names: {})", n,
						fmt::join(kNames, ", ")));
	std::vector<Figure> out;
	auto want = [&o](const std::string &name) {
		return o.only.empty() || std::find(o.only.begin(), o.only.end(), name) != o.only.end();
	};
	auto timed = [&](const char *name, const char *what, GuestRun g) {
		if (!want(name))
			return;
		Figure f{ name, what, "ticks", false, g.iterations, {} };
		fmt::print(stderr, "  {} on {} ...\n", name, device);
		for (unsigned r = 0; r < o.repeats; r++)
			f.samples.push_back(run_guest(device, guest, g));
		out.push_back(std::move(f));
	};
	const unsigned it = o.iterations;
	timed("cpuid", "CPUID exit, handled in ring 0", { T_CPUID, it });
	timed("pio", "port-I/O exit to userspace and back", { T_PIO, it });
	timed("mmio", "MMIO exit to userspace and back", { T_MMIO, it });
	timed("hlt", "HLT exit to userspace and back", { T_HLT, it });
	timed("vmcall", "VMCALL (unknown hypercall), ring 0", { T_VMCALL, it });
	// The interrupt path through the in-kernel local APIC (issue 14).
	GuestRun ipi{ T_SELF_IPI, it };
	ipi.irqchip = true;
	timed("self_ipi", "self-IPI through the in-kernel APIC, taken and EOIed", ipi);
	// The same in x2APIC mode (SELF IPI and EOI are MSRs): what APIC
	// virtualization takes without an exit.
	GuestRun x2ipi{ T_X2APIC_IPI, it };
	x2ipi.irqchip = true;
	timed("x2apic_ipi", "self-IPI and EOI as x2APIC MSR writes, taken", x2ipi);
	GuestRun tmr{ T_TIMER, it };
	tmr.irqchip = true;
	timed("apic_timer", "APIC timer (TSC deadline already due), HLT, taken and EOIed", tmr);
	// Between two vCPUs (x2APIC ICR writes, physical destination): vCPU 0
	// IPIs vCPU 1, whose handler EOIs and IPIs back; ticks per round trip.
	// Both spinning (IF=1): delivery to a running vCPU; both in HLT: the
	// wakeup path on each side.  With one host CPU the two vCPU threads
	// take turns on it: a spinning vCPU keeps the other one off the CPU
	// until its time slice ends, so the spin row would time the scheduler
	// (and take an hour of the rig's time at full length): there it runs
	// a few iterations and says so.
	const bool one_cpu = usable_cpus() < 2;
	GuestRun rt{ T_IPI_SPIN, one_cpu ? std::min(it, 16u) : it };
	rt.irqchip = rt.second_vcpu = rt.counted = true;
	timed("ipi_roundtrip",
	      one_cpu ? "IPI round trip between 2 vCPUs (x2APIC ICR), both spinning, ONE host CPU: "
			"the vCPU threads take turns, this is the scheduler's time slice"
		      : "IPI round trip between 2 vCPUs (x2APIC ICR), both spinning",
	      rt);
	rt = { T_IPI_HLT, it };
	rt.irqchip = rt.second_vcpu = rt.counted = true;
	timed("ipi_rt_hlt",
	      one_cpu ? "IPI round trip between 2 vCPUs (x2APIC ICR), both waiting in HLT, "
			"ONE host CPU (the vCPU threads take turns)"
		      : "IPI round trip between 2 vCPUs (x2APIC ICR), both waiting in HLT",
	      rt);
	// An EOI alone: a self-IPI taken (its handler does not EOI), then RDTSC
	// around the EOI write; the same window's ticks without the write are
	// subtracted.
	GuestRun eoi{ T_EOI_XAPIC, it };
	eoi.irqchip = eoi.counted = eoi.minus_base = true;
	timed("eoi_xapic", "EOI alone, written to the xAPIC page (interrupt already taken)", eoi);
	eoi.test = T_EOI_X2APIC;
	timed("eoi_x2apic", "EOI alone, x2APIC MSR 0x80b (interrupt already taken)", eoi);
	// First touch: 4 MiB of 4 KiB pages, 32 MiB of 2 MiB pages, above 16 MiB.
	timed("touch_4k", "first touch of a 4 KiB page (EPT fault-in)",
	      { T_TOUCH, 1024, 64 << 20, Backing::Small, 16 << 20, 4096 });
	timed("touch_2m", "first touch of a 2 MiB page (EPT fault-in)",
	      { T_TOUCH, 16, 64 << 20, Backing::Huge, 16 << 20, 2 << 20 });

	if (want("dontneed_1m") || want("dontneed_1m_unmapped")) {
		Figure dm{ "dontneed_1m", "MADV_DONTNEED of 1 MiB the guest mapped (4 KiB pages), "
			   "from the VMM: the MMU notifier's zap and flush", "ticks", false, 16, {} };
		Figure du{ "dontneed_1m_unmapped", "the same on 1 MiB of the slot the guest never "
			   "touched (the VMM did)", "ticks", false, 16, {} };
		fmt::print(stderr, "  dontneed_1m on {} ...\n", device);
		for (unsigned r = 0; r < o.repeats; r++) {
			auto [mapped, unmapped] = dontneed_1m(device, guest);
			dm.samples.push_back(mapped);
			du.samples.push_back(unmapped);
		}
		out.push_back(std::move(dm));
		out.push_back(std::move(du));
	}

	System sys(device);
	if (want("run_floor")) {
		Figure fl{ "run_floor", "KVM_RUN with immediate_exit, from userspace (no entry)",
			   "ticks", false, it, {} };
		fmt::print(stderr, "  run_floor on {} ...\n", device);
		for (unsigned r = 0; r < o.repeats; r++)
			fl.samples.push_back(run_ioctl_floor(sys, it));
		out.push_back(std::move(fl));
	}
	if (want("lifecycle")) {
		Figure lc{ "lifecycle", "VM create + vCPU + 1 MiB slot + run to HLT + destroy",
			   "VMs/s", true, o.lifecycle, {} };
		fmt::print(stderr, "  lifecycle on {} ...\n", device);
		lifecycle(sys, 2);	// warm-up
		for (unsigned r = 0; r < o.repeats; r++)
			lc.samples.push_back(lifecycle(sys, o.lifecycle));
		out.push_back(std::move(lc));
	}

	if (want("mem_vm") || want("mem_vm_acct") || want("mem_vcpu")) {
		fmt::print(stderr, "  memory on {} ...\n", device);
		double acct_vm = -1;
		auto [per_vm, per_vcpu] = memory_per_vm_and_vcpu(sys, acct_vm);
		out.push_back({ "mem_vm", "kernel memory per VM (1 vCPU, 1 MiB slot, ran once), "
				"MemFree", "KiB", false, 64, { per_vm } });
		if (device.find("kvmx") != std::string::npos && acct_vm >= 0)
			out.push_back({ "mem_vm_acct", "kvmx's own accounting per VM (as above, w/o "
					"FPU state)", "KiB", false, 64, { acct_vm } });
		out.push_back({ "mem_vcpu", "kernel memory per further vCPU", "KiB", false, 16,
				{ per_vcpu } });
	}

	if (o.scale) {
		for (bool procs : { false, true }) {
			for (unsigned n : { 1u, 4u, 16u }) {
				for (BenchTest t : { T_CPUID, T_PIO }) {
					std::string base = fmt::format("{}_{}{}", t == T_CPUID ? "cpuid" : "pio",
								       n, procs ? "p" : "t");
					Figure tk{ base + "_ticks",
						   fmt::format("{} with {} VMs at once ({}): ticks/exit, median VM",
							       t == T_CPUID ? "CPUID" : "port I/O", n,
							       procs ? "processes" : "threads"),
						   "ticks", false, it, {} };
					Figure rate{ base + "_rate",
						     fmt::format("{} with {} VMs at once ({}): exits/s, all VMs",
								 t == T_CPUID ? "CPUID" : "port I/O", n,
								 procs ? "processes" : "threads"),
						     "exits/s", true, it, {} };
					for (unsigned r = 0; r < 3; r++) {
						auto [tpe, eps] = concurrent(device, guest, t, it, n, procs);
						tk.samples.push_back(tpe);
						rate.samples.push_back(eps);
					}
					out.push_back(std::move(tk));
					out.push_back(std::move(rate));
				}
			}
		}
	}
	return out;
}

namespace {

std::string num(double v)
{
	return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}

} // namespace

std::string format_bench_table(const std::vector<Figure> &a, const std::vector<Figure> &b)
{
	std::string s = fmt::format("{:<20} {:>12} {:>7} {:>12} {:>7} {:>7}  {}\n", "figure", "kvmx",
				    "spread", "KVM", "spread", "ratio", "unit / what");
	for (const Figure &f : a) {
		auto k = std::find_if(b.begin(), b.end(), [&](const Figure &g) { return g.name == f.name; });
		if (k == b.end()) {
			s += fmt::format("{:<20} {:>12} {:>6.1f}% {:>12} {:>7} {:>7}  {} {}\n", f.name,
					 num(f.median()), f.spread_pct(), "-", "", "", f.unit, f.what);
			continue;
		}
		double ratio = k->median() ? f.median() / k->median() : 0;
		s += fmt::format("{:<20} {:>12} {:>6.1f}% {:>12} {:>6.1f}% {:>6.2f}x  {} ({}) {}\n", f.name,
				 num(f.median()), f.spread_pct(), num(k->median()), k->spread_pct(), ratio,
				 f.unit, f.higher_is_better ? "higher is better" : "lower is better",
				 f.what);
	}
	return s;
}

std::string format_bench_table(const std::vector<Figure> &figs, const std::string &device)
{
	std::string s = fmt::format("{:<20} {:>12} {:>7} {:>12} {:>12}  {}\n", "figure", device,
				    "spread", "min", "max", "unit / what");
	for (const Figure &f : figs)
		s += fmt::format("{:<20} {:>12} {:>6.1f}% {:>12} {:>12}  {} {}\n", f.name,
				 num(f.median()), f.spread_pct(), num(f.min()), num(f.max()), f.unit,
				 f.what);
	return s;
}

std::string bench_json(const std::vector<std::pair<std::string, std::vector<Figure>>> &sets)
{
	nlohmann::ordered_json devices = nlohmann::ordered_json::object();
	for (const auto &[device, figures] : sets) {
		nlohmann::ordered_json list = nlohmann::ordered_json::array();
		for (const Figure &f : figures)
			list.push_back({ { "name", f.name },
					 { "unit", f.unit },
					 { "iterations", f.iterations },
					 { "median", f.median() },
					 { "min", f.min() },
					 { "max", f.max() },
					 { "samples", f.samples } });
		devices[device] = list;
	}
	return nlohmann::ordered_json{ { "devices", devices } }.dump(2) + "\n";
}

} // namespace kvmx
