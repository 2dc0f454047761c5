// kvmx: run guests on /dev/kvmx (or /dev/kvm) and look inside the hypervisor.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench.hpp"
#include "bzimage_loader.hpp"
#include "error.hpp"
#include "host_probe.hpp"
#include "host_tsc.hpp"
#include "kvm_node.hpp"
#include "kvmx_netlink.hpp"
#include "machine.hpp"
#include "observe.hpp"
#include "pc_machine.hpp"
#include "system.hpp"
#include "vmx_report.hpp"

namespace {

int cmd_info(const std::string &device, bool raw)
{
	using namespace kvmx;
	try {
		System sys(device);
		fmt::print("{}: present, KVM API version {}\n", device, sys.api_version());
		auto info = sys.vmx_info();
		if (!info) {
			fmt::print("{} is not kvmx (no KVMX_GET_VMX_INFO); host capabilities:\n", device);
			if (auto msrs = read_vmx_msrs())
				fmt::print("{}", describe_vmx(*msrs));
			else
				fmt::print("  (cannot read the VMX MSRs: need root and the msr module)\n");
			return 0;
		}
		fmt::print("kvmx module version {}; {} VM(s) alive; VMX {}\n", info->module_version,
			   info->nr_vms,
			   info->nr_cpus_vmx_on
				   ? fmt::format("on on {} CPU(s)", info->nr_cpus_vmx_on)
				   : std::string("off (kvmx turns it on only while a VM exists)"));
		fmt::print("{}", raw ? raw_vmx_msrs(*info) :
				   describe_vmx(*info) + describe_mitigations(info->mitigations));
		return 0;
	} catch (const Error &e) {
		fmt::print(stderr, "{}\n", e.what());
		if (auto msrs = read_vmx_msrs(); msrs && (msrs->cpuid1_ecx & (1u << 5))) {
			fmt::print("host VMX capabilities (read from /dev/cpu/0/msr):\n{}",
				   describe_vmx(*msrs));
		}
		return 1;
	}
}

// ---- kvmx stat / top / events / vmcs / ept: the "kvmx" netlink family ----

struct ObserveArgs {
	uint32_t vm = 0;
	uint32_t vcpu = 0;
	bool json = false;
	bool raw = false;
	double interval = 1.0;
	unsigned iterations = 0;
	unsigned count = 0;
	std::string gpa;
	int timeout_ms = 2000;
};

template <typename F> int observe(F &&f)
{
	try {
		kvmx::Netlink nl;
		return f(nl);
	} catch (const kvmx::Error &e) {
		fmt::print(stderr, "kvmx: {}\n", e.what());
		return 1;
	}
}

std::vector<kvmx::VmStats> all_stats(kvmx::Netlink &nl, uint32_t only)
{
	std::vector<kvmx::VmStats> all;
	for (const auto &vm : nl.list_vms()) {
		if (only && vm.id != only)
			continue;
		try {
			all.push_back(nl.stats(vm.id));
		} catch (const kvmx::Error &e) {
			if (e.err() != ENOENT)	// gone since the list: fine
				throw;
		}
	}
	return all;
}

int cmd_stat(const ObserveArgs &a)
{
	return observe([&](kvmx::Netlink &nl) {
		auto all = a.vm ? std::vector<kvmx::VmStats>{ nl.stats(a.vm) } : all_stats(nl, 0);
		if (a.json) {
			fmt::print("{}", kvmx::stats_json(all));
			return 0;
		}
		if (all.empty())
			fmt::print("no VMs (that you may see) are running\n");
		for (const auto &s : all)
			fmt::print("{}", kvmx::format_stats(s));
		return 0;
	});
}

int cmd_top(const ObserveArgs &a)
{
	return observe([&](kvmx::Netlink &nl) {
		bool tty = isatty(STDOUT_FILENO);
		auto before = all_stats(nl, a.vm);
		auto t0 = std::chrono::steady_clock::now();
		for (unsigned i = 0; !a.iterations || i < a.iterations; i++) {
			std::this_thread::sleep_for(std::chrono::duration<double>(a.interval));
			auto now = all_stats(nl, a.vm);
			auto t1 = std::chrono::steady_clock::now();
			double secs = std::chrono::duration<double>(t1 - t0).count();
			fmt::print("{}kvmx top: {} VM(s), every {:.1f} s (Ctrl-C quits)\n{}",
				   tty ? "\033[H\033[2J" : "", now.size(), a.interval,
				   kvmx::format_top(before, now, secs));
			std::fflush(stdout);
			before = std::move(now);
			t0 = t1;
		}
		return 0;
	});
}

int cmd_events(const ObserveArgs &a)
{
	return observe([&](kvmx::Netlink &nl) {
		nl.subscribe_events();
		fmt::print("listening for kvmx events\n");
		std::fflush(stdout);
		for (unsigned i = 0; !a.count || i < a.count; i++) {
			fmt::print("{}\n", kvmx::format_event(*nl.next_event()));
			std::fflush(stdout);
		}
		return 0;
	});
}

int cmd_vmcs(const ObserveArgs &a)
{
	return observe([&](kvmx::Netlink &nl) {
		uint32_t vm = kvmx::pick_vm(nl, a.vm);
		auto fields = kvmx::read_vmcs(nl, vm, a.vcpu, a.timeout_ms);
		fmt::print("VMCS of VM {} vCPU {} ({} fields)\n", vm, a.vcpu, fields.size());
		if (a.raw) {
			for (const auto &f : fields)
				fmt::print("{:#010x} = {:#018x}\n", f.encoding, f.value);
			return 0;
		}
		fmt::print("{}", kvmx::format_vmcs_fields(fields));
		return 0;
	});
}

int cmd_ept(const ObserveArgs &a)
{
	return observe([&](kvmx::Netlink &nl) {
		uint32_t vm = kvmx::pick_vm(nl, a.vm);
		if (!a.gpa.empty()) {
			uint64_t gpa = std::stoull(a.gpa, nullptr, 0);
			fmt::print("{}", kvmx::format_ept_walk(gpa, nl.walk_ept(vm, gpa)));
			return 0;
		}
		fmt::print("EPT of VM {}\n{}", vm, kvmx::format_ept_ranges(nl.ept(vm)));
		return 0;
	});
}

uint64_t parse_size(const std::string &s)
{
	size_t pos = 0;
	uint64_t v = std::stoull(s, &pos, 0);
	std::string suffix = s.substr(pos);
	if (suffix == "K" || suffix == "k")
		v <<= 10;
	else if (suffix == "M" || suffix == "m")
		v <<= 20;
	else if (suffix == "G" || suffix == "g")
		v <<= 30;
	else if (!suffix.empty())
		throw kvmx::Error("bad size '" + s + "' (use a number with K, M or G)");
	return v;
}

struct RunOptions {
	std::string image;
	std::string mode = "real";
	std::string mem = "2M";
	std::string load_addr = "0x1000";
	std::string entry;
	std::string device = kvmx::kDefaultDevice;
	bool dump_regs = false;
	bool resume_after_hlt = false;
	bool stats = false;
	unsigned timeout = 0;
	unsigned hold = 0;
	// The Linux path (-k).
	std::string kernel;
	std::string initrd;
	std::optional<std::string> cmdline;
	unsigned cpus = 1;
	std::string irqchip;		// "kernel", "user"; empty: kernel if the device has one
	std::string append;
	std::string pit;		// "kernel" (if the device has one), "user"
	bool verbose = false;
	bool mem_given = false;
};

// --hold: the VM stays, its vCPUs between runs: a time to look inside.
void hold_vm(const kvmx::Vm &vm, unsigned seconds)
{
	if (!seconds)
		return;
	int id = vm.kvmx_id();
	if (id > 0)
		fmt::print(stderr, "kvmx: VM {} kept for {} s: kvmx stat, kvmx vmcs, kvmx ept --vm {}\n",
			   id, seconds, id);
	else	/* /dev/kvm: its counters are in debugfs (/sys/kernel/debug/kvm) */
		fmt::print(stderr, "kvmx: VM kept for {} s\n", seconds);
	std::this_thread::sleep_for(std::chrono::seconds(seconds));
}

int cmd_run_linux(const RunOptions &o)
{
	using namespace kvmx;
	try {
		if (o.irqchip == "user" && o.cpus > 1)
			throw Error(fmt::format("--irqchip=user runs one vCPU: use -c 1, or the "
						"in-kernel irqchip (--irqchip=kernel) for -c {}",
						o.cpus));
		PcConfig cfg;
		cfg.device = o.device;
		cfg.cpus = o.cpus;
		cfg.kernel_pit = o.pit != "user";
		if (o.irqchip == "user") {
			cfg.irqchip = IrqchipMode::User;
		} else if (o.irqchip.empty() && o.cpus == 1 &&
			   !irqchip_caps(System(o.device)).irqchip) {
			// The default is the kernel's irqchip; a device without one
			// still boots one vCPU with ours, and says so.
			cfg.irqchip = IrqchipMode::User;
			fmt::print(stderr, "kvmx: {} has no in-kernel irqchip: using the userspace "
				   "PIC (--irqchip=user)\n", o.device);
		}
		if (o.mem_given)
			cfg.mem_size = parse_size(o.mem);
		cfg.verbose = o.verbose;
		cfg.timeout_sec = o.timeout;
		auto kernel = read_image(o.kernel);
		parse_bzimage(kernel);		/* header errors before any device errors */
		std::vector<uint8_t> initrd;
		if (!o.initrd.empty())
			initrd = read_image(o.initrd);
		std::string cmdline = o.cmdline ? *o.cmdline
					       : default_linux_cmdline(cfg.irqchip, measure_tsc_khz());
		if (!o.append.empty())
			cmdline += " " + o.append;
		if (o.verbose)
			fmt::print(stderr, "kvmx: command line: {}\n", cmdline);

		PcMachine m(cfg);
		m.load_linux(kernel, initrd, cmdline);
		RunResult r = m.run();
		std::fflush(stdout);
		if (!r.message.empty())
			fmt::print(stderr, "\r\nkvmx: {}\n", r.message);
		if (r.kind == RunResult::FailEntry || r.kind == RunResult::InternalError ||
		    r.kind == RunResult::Unknown || (r.kind == RunResult::Reboot && o.dump_regs))
			fmt::print(stderr, "guest state:\n{}",
				   format_regs(m.vcpu(m.stopped_by()).regs(),
					       m.vcpu(m.stopped_by()).sregs()));
		if (o.stats) {
			fmt::print(stderr, "exits:");
			for (auto &[reason, n] : m.exit_counts())
				fmt::print(stderr, " {}={}", exit_reason_name(reason), n);
			fmt::print(stderr, "\nunhandled ports:");
			for (auto &[port, n] : m.unhandled_ports())
				fmt::print(stderr, " {:#x}={}", port, n);
			fmt::print(stderr, "\nMMIO exits: {}\n", m.mmio_exits());
		}
		hold_vm(m.vm(), o.hold);
		return r.status;
	} catch (const std::exception &e) {
		fmt::print(stderr, "kvmx: {}\n", e.what());
		return 1;
	}
}

int cmd_run(const RunOptions &o)
{
	using namespace kvmx;
	if (!o.kernel.empty())
		return cmd_run_linux(o);
	if (o.image.empty()) {
		fmt::print(stderr, "kvmx: run needs a guest image, or -k KERNEL for Linux\n");
		return 1;
	}
	try {
		MachineConfig cfg;
		cfg.device = o.device;
		cfg.mem_size = parse_size(o.mem);
		cfg.mode = parse_cpu_mode(o.mode);
		cfg.load_addr = parse_size(o.load_addr);
		if (!o.entry.empty())
			cfg.entry = parse_size(o.entry);
		cfg.resume_after_hlt = o.resume_after_hlt;
		cfg.timeout_sec = o.timeout;
		Machine m(cfg);
		m.load_image(read_image(o.image));
		RunResult r = m.run();
		std::fflush(stdout);
		if (!r.message.empty())
			fmt::print(stderr, "kvmx: {}\n", r.message);
		if (r.kind == RunResult::FailEntry || r.kind == RunResult::InternalError ||
		    r.kind == RunResult::Shutdown)
			fmt::print(stderr, "guest state:\n{}",
				   format_regs(m.vcpu().regs(), m.vcpu().sregs()));
		if (o.stats) {
			fmt::print("exits:");
			for (auto &[reason, n] : m.exit_counts())
				fmt::print(" {}={}", exit_reason_name(reason), n);
			fmt::print("\n");
		}
		if (o.dump_regs)
			fmt::print("{}", format_regs(m.vcpu().regs(), m.vcpu().sregs()));
		hold_vm(m.vm(), o.hold);
		return r.status;
	} catch (const std::exception &e) {
		fmt::print(stderr, "kvmx: {}\n", e.what());
		return 1;
	}
}

} // namespace

// The bench guest, assembled into the binary (bench_guest.S).
extern "C" const uint8_t kvmx_bench_guest[], kvmx_bench_guest_end[];

namespace {

struct BenchArgs {
	std::vector<std::string> devices;
	std::string json;
	kvmx::BenchOptions opt;
};

int cmd_bench(const BenchArgs &a)
{
	std::span<const uint8_t> guest(kvmx_bench_guest, kvmx_bench_guest_end);
	std::vector<std::string> devs = a.devices;
	if (devs.empty())
		devs.push_back(kvmx::kDefaultDevice);
	if (devs.size() > 2) {
		fmt::print(stderr, "kvmx: bench compares at most two devices\n");
		return 1;
	}
	try {
		std::vector<std::pair<std::string, std::vector<kvmx::Figure>>> sets;
		for (const auto &d : devs) {
			fmt::print(stderr, "kvmx bench: measuring {} ...\n", d);
			sets.emplace_back(d, kvmx::run_bench(d, guest, a.opt));
		}
		fmt::print("{} iterations per loop, {} repeats (fresh VM each); ticks = guest TSC ticks, "
			   "median over repeats; spread = (max - min) / median\n",
			   a.opt.iterations, a.opt.repeats);
		if (sets.size() == 2)
			fmt::print("{}", kvmx::format_bench_table(sets[0].second, sets[1].second));
		else
			fmt::print("{}", kvmx::format_bench_table(sets[0].second, sets[0].first));
		if (!a.json.empty()) {
			std::ofstream f(a.json);
			f << kvmx::bench_json(sets);
			if (!f)
				throw kvmx::Error("cannot write " + a.json, errno);
		}
		return 0;
	} catch (const std::exception &e) {
		fmt::print(stderr, "kvmx: {}\n", e.what());
		return 1;
	}
}

// kvmx exec: run an unchanged KVM client (QEMU, KVM's selftests) on kvmx.
int cmd_exec(const std::string &device, std::vector<std::string> &cmd)
{
	try {
		kvmx::bind_over_dev_kvm(device);
	} catch (const std::exception &e) {
		fmt::print(stderr, "kvmx exec: {}\n", e.what());
		return 125;
	}
	std::vector<char *> argv;
	for (auto &a : cmd)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	::execvp(argv[0], argv.data());
	fmt::print(stderr, "kvmx exec: cannot run {}: {}\n", cmd[0], std::strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"kvmx: a VT-x hypervisor with KVM's API, and its VMM"};
	app.require_subcommand(1);
	app.set_version_flag("--version", "kvmx 0.1");

	std::string device = kvmx::kDefaultDevice;
	auto *info = app.add_subcommand("info", "Show the host's VMX capabilities and kvmx's state");
	info->add_option("--device", device, "device to ask (/dev/kvmx or /dev/kvm)")
		->capture_default_str();
	bool raw = false;
	info->add_flag("--raw", raw, "print the raw capability MSR values");

	RunOptions ro;
	auto *run = app.add_subcommand("run", "Run a guest image (a flat binary), or a Linux kernel");
	run->footer("Exit status: the byte the guest wrote to port 0xf4; 0 if it halted;\n"
		    "2 triple fault, 3 VM-entry failure, 4 internal error, 124 timeout, 1 error.\n"
		    "Linux (-k): 0 halted/powered off (HLT with interrupts off), 10 reboot\n"
		    "(keyboard controller, port 0x92 or triple fault), 130 Ctrl-A x.\n"
		    "The serial console is the terminal; Ctrl-A x quits.");
	auto *image_opt = run->add_option("image", ro.image, "the guest image");
	auto *kernel_opt = run->add_option("-k,--kernel", ro.kernel,
					   "boot this Linux bzImage on a minimal PC");
	image_opt->excludes(kernel_opt);
	run->add_option("-i,--initrd", ro.initrd, "initrd/initramfs for -k")->needs(kernel_opt);
	run->add_option("-p,--params", ro.cmdline,
			"kernel command line for -k (default: serial console, acpi=off (the MP "
			"table describes the CPUs and APICs; noapic nolapic with --irqchip=user), "
			"reboot=k, panic=-1, tsc_early_khz= if the host TSC measures steady)")
		->needs(kernel_opt);
	run->add_option("-a,--append", ro.append,
			"more kernel parameters for -k, after the default (or -p) command line")
		->needs(kernel_opt);
	run->add_option("-c,--cpus", ro.cpus,
			"vCPUs for -k (1-64; more than 1 needs the in-kernel irqchip)")
		->check(CLI::Range(1u, kvmx::kPcMaxCpus))
		->needs(kernel_opt);
	run->add_option("--irqchip", ro.irqchip,
			"-k: interrupt controllers in the kernel (APICs, IOAPIC, PIC, PIT: "
			"the default when the device has them) or in userspace (PIC and PIT, "
			"one vCPU, noapic nolapic)")
		->check(CLI::IsMember({ "kernel", "user" }))
		->needs(kernel_opt);
	run->add_option("--pit", ro.pit,
			"-k with the in-kernel irqchip: the 8254 in the kernel (KVM_CREATE_PIT2, "
			"the default when the device has it) or ours, raising GSI 0 with "
			"KVM_IRQ_LINE")
		->check(CLI::IsMember({ "kernel", "user" }))
		->needs(kernel_opt);
	run->add_flag("-v,--verbose", ro.verbose,
		      "-k: report unhandled ports and MMIO, the command line and load addresses");
	run->add_option("--mode", ro.mode, "CPU mode at entry")
		->check(CLI::IsMember({ "real", "protected", "paged32", "long" }))
		->capture_default_str();
	auto *mem_opt = run->add_option("-m,--mem", ro.mem,
					"guest RAM (e.g. 2M, 64M, 1G; default 2M, 256M with -k)");
	run->add_option("--load-addr", ro.load_addr, "guest-physical load address")
		->capture_default_str();
	run->add_option("--entry", ro.entry, "entry point (default: the load address)");
	run->add_option("--device", ro.device, "/dev/kvmx or /dev/kvm")->capture_default_str();
	run->add_flag("--dump-regs", ro.dump_regs, "print the registers when the guest stops");
	run->add_flag("--resume-after-hlt", ro.resume_after_hlt,
		      "treat HLT as a pause and run on (default: HLT stops the guest)");
	run->add_flag("--stats", ro.stats, "print how many exits of each kind reached the tool");
	run->add_option("--timeout", ro.timeout, "stop the guest after this many seconds");
	run->add_option("--hold", ro.hold,
			"keep the VM this many seconds after the guest stops (for kvmx stat/vmcs/ept)");

	BenchArgs ba;
	auto *bench = app.add_subcommand("bench", "Measure exit costs and VM lifecycle; compare two devices");
	bench->footer("With two --device options the table shows both and the ratio first/second,\n"
		      "e.g. kvmx bench --device /dev/kvmx --device /dev/kvm.");
	bench->add_option("--device", ba.devices, "device to measure (repeat to compare two)");
	bench->add_option("--json", ba.json, "also write the results as JSON to this file");
	bench->add_option("--iterations", ba.opt.iterations, "iterations per timed loop")
		->capture_default_str()->check(CLI::Range(1u, 10000000u));
	bench->add_option("--repeats", ba.opt.repeats, "timed loops per figure")
		->capture_default_str()->check(CLI::Range(1u, 1000u));
	bench->add_option("--lifecycle", ba.opt.lifecycle, "VMs per lifecycle repeat")
		->capture_default_str()->check(CLI::Range(1u, 100000u));
	bench->add_flag("--scale", ba.opt.scale, "also run 1, 4 and 16 VMs at once (threads, processes)");
	bench->add_option("--only", ba.opt.only,
			  "just these figures, by the names in the table (e.g. --only touch_4k "
			  "--only dontneed_1m); --scale adds its own")
		->delimiter(',');

	ObserveArgs oa;
	auto *stat = app.add_subcommand("stat", "Exit counters of the running VMs (yours, or all as root)");
	stat->add_option("--vm", oa.vm, "only this VM (id from kvmx stat)");
	stat->add_flag("--json", oa.json, "print JSON");
	auto *top = app.add_subcommand("top", "Live exit rates per VM and vCPU, fastest first");
	top->add_option("--vm", oa.vm, "only this VM");
	top->add_option("-d,--interval", oa.interval, "seconds between refreshes")
		->capture_default_str()->check(CLI::Range(0.05, 3600.0));
	top->add_option("-n,--iterations", oa.iterations, "stop after this many refreshes");
	auto *events = app.add_subcommand("events", "Print VM events as they happen (root)");
	events->add_option("-n,--count", oa.count, "stop after this many events");
	auto *vmcs = app.add_subcommand("vmcs", "Print a vCPU's VMCS, decoded (between its runs)");
	vmcs->add_option("--vm", oa.vm, "VM id (default: the only one)");
	vmcs->add_option("--vcpu", oa.vcpu, "vCPU id")->capture_default_str();
	vmcs->add_flag("--raw", oa.raw, "encoding = value, undecoded");
	vmcs->add_option("--timeout", oa.timeout_ms, "ms to wait for the vCPU to leave KVM_RUN")
		->capture_default_str();
	auto *ept = app.add_subcommand("ept", "Print a VM's EPT as GPA ranges, or walk one GPA");
	ept->add_option("--vm", oa.vm, "VM id (default: the only one)");
	ept->add_option("--gpa", oa.gpa, "walk this guest-physical address level by level");

	std::string exec_device = kvmx::kDefaultDevice;
	std::vector<std::string> exec_cmd;
	auto *exec = app.add_subcommand("exec", "Run COMMAND with DEVICE bound over /dev/kvm "
					"(a private mount namespace; root)");
	exec->add_option("--device", exec_device, "what COMMAND gets as /dev/kvm")
		->capture_default_str();
	exec->add_option("command", exec_cmd, "the KVM client and its arguments, after --")
		->required();

	CLI11_PARSE(app, argc, argv);
	ro.mem_given = mem_opt->count() > 0;

	if (*info)
		return cmd_info(device, raw);
	if (*run)
		return cmd_run(ro);
	if (*bench)
		return cmd_bench(ba);
	if (*stat)
		return cmd_stat(oa);
	if (*top)
		return cmd_top(oa);
	if (*events)
		return cmd_events(oa);
	if (*vmcs)
		return cmd_vmcs(oa);
	if (*ept)
		return cmd_ept(oa);
	if (*exec)
		return cmd_exec(exec_device, exec_cmd);
	return 0;
}
