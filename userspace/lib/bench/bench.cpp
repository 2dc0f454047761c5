#include "bench.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "fd.hpp"
#include "machine.hpp"
#include "system.hpp"
#include "vcpu.hpp"
#include "vm.hpp"

namespace kvmx {

namespace {

// The bench guest's parameter block and tests (guest-images/bench.asm).
constexpr uint64_t kParams = 0x800;
enum BenchTest : uint32_t {
	T_CPUID, T_PIO, T_MMIO, T_HLT, T_VMCALL, T_TOUCH, T_SELF_IPI, T_TIMER, T_X2APIC_IPI
};

struct GuestRun {
	BenchTest test;
	unsigned iterations;
	uint64_t mem_size = 2 << 20;
	Backing backing = Backing::Huge;
	uint64_t addr = 0, stride = 0;
	bool irqchip = false;	// the APIC tests run on the in-kernel irqchip
};

// One timed loop in a fresh VM; returns ticks per iteration.
double run_guest(const std::string &device, std::span<const uint8_t> guest, const GuestRun &g)
{
	Fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
	MachineConfig cfg;
	cfg.device = device;
	cfg.mode = CpuMode::Long;
	cfg.mem_size = g.mem_size;
	cfg.backing = g.backing;
	cfg.resume_after_hlt = g.test == T_HLT;
	cfg.irqchip = g.irqchip;
	cfg.timeout_sec = 300;
	cfg.console_fd = devnull.get();
	Machine m(cfg);
	m.load_image({ guest.begin(), guest.end() });
	const GuestMemory &mem = m.memory();
	mem.put<uint32_t>(kParams + 0x00, g.test);
	mem.put<uint32_t>(kParams + 0x04, g.iterations);
	mem.put<uint64_t>(kParams + 0x08, g.addr);
	mem.put<uint64_t>(kParams + 0x10, g.stride);
	RunResult r = m.run();
	if (r.kind != RunResult::ExitPort || r.status != 0)
		throw Error(fmt::format("bench guest (test {}) on {} ended badly: status {} {}",
					static_cast<unsigned>(g.test), device, r.status, r.message));
	uint64_t ticks;
	std::memcpy(&ticks, mem.at(kParams + 0x18, 8), 8);
	return static_cast<double>(ticks) / g.iterations;
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
	std::vector<Figure> out;
	auto timed = [&](const char *name, const char *what, GuestRun g) {
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
	// First touch: 4 MiB of 4 KiB pages, 32 MiB of 2 MiB pages, above 16 MiB.
	timed("touch_4k", "first touch of a 4 KiB page (EPT fault-in)",
	      { T_TOUCH, 1024, 64 << 20, Backing::Small, 16 << 20, 4096 });
	timed("touch_2m", "first touch of a 2 MiB page (EPT fault-in)",
	      { T_TOUCH, 16, 64 << 20, Backing::Huge, 16 << 20, 2 << 20 });

	System sys(device);
	Figure fl{ "run_floor", "KVM_RUN with immediate_exit, from userspace (no entry)", "ticks",
		   false, it, {} };
	fmt::print(stderr, "  run_floor on {} ...\n", device);
	for (unsigned r = 0; r < o.repeats; r++)
		fl.samples.push_back(run_ioctl_floor(sys, it));
	out.push_back(std::move(fl));
	Figure lc{ "lifecycle", "VM create + vCPU + 1 MiB slot + run to HLT + destroy", "VMs/s",
		   true, o.lifecycle, {} };
	fmt::print(stderr, "  lifecycle on {} ...\n", device);
	lifecycle(sys, 2);	// warm-up
	for (unsigned r = 0; r < o.repeats; r++)
		lc.samples.push_back(lifecycle(sys, o.lifecycle));
	out.push_back(std::move(lc));

	fmt::print(stderr, "  memory on {} ...\n", device);
	double acct_vm = -1;
	auto [per_vm, per_vcpu] = memory_per_vm_and_vcpu(sys, acct_vm);
	out.push_back({ "mem_vm", "kernel memory per VM (1 vCPU, 1 MiB slot, ran once), MemFree",
			"KiB", false, 64, { per_vm } });
	if (device.find("kvmx") != std::string::npos && acct_vm >= 0)
		out.push_back({ "mem_vm_acct", "kvmx's own accounting per VM (as above, w/o FPU state)",
				"KiB", false, 64, { acct_vm } });
	out.push_back({ "mem_vcpu", "kernel memory per further vCPU", "KiB", false, 16,
			{ per_vcpu } });

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
	std::string s = fmt::format("{:<14} {:>12} {:>7} {:>12} {:>7} {:>7}  {}\n", "figure", "kvmx",
				    "spread", "KVM", "spread", "ratio", "unit / what");
	for (const Figure &f : a) {
		auto k = std::find_if(b.begin(), b.end(), [&](const Figure &g) { return g.name == f.name; });
		if (k == b.end()) {
			s += fmt::format("{:<14} {:>12} {:>6.1f}% {:>12} {:>7} {:>7}  {} {}\n", f.name,
					 num(f.median()), f.spread_pct(), "-", "", "", f.unit, f.what);
			continue;
		}
		double ratio = k->median() ? f.median() / k->median() : 0;
		s += fmt::format("{:<14} {:>12} {:>6.1f}% {:>12} {:>6.1f}% {:>6.2f}x  {} ({}) {}\n", f.name,
				 num(f.median()), f.spread_pct(), num(k->median()), k->spread_pct(), ratio,
				 f.unit, f.higher_is_better ? "higher is better" : "lower is better",
				 f.what);
	}
	return s;
}

std::string format_bench_table(const std::vector<Figure> &figs, const std::string &device)
{
	std::string s = fmt::format("{:<14} {:>12} {:>7} {:>12} {:>12}  {}\n", "figure", device,
				    "spread", "min", "max", "unit / what");
	for (const Figure &f : figs)
		s += fmt::format("{:<14} {:>12} {:>6.1f}% {:>12} {:>12}  {} {}\n", f.name,
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
