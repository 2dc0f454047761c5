#include "observe.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <thread>
#include <tuple>

#include "error.hpp"
#include "machine.hpp"
#include "vmcs_decode.hpp"

namespace kvmx {

namespace {

std::string exit_name(uint32_t basic)
{
	auto n = vmx_exit_reason_name(basic);
	return n.empty() ? fmt::format("REASON_{}", basic) : std::string(n);
}

std::string bytes(uint64_t b)
{
	if (b >= (1ull << 30) && !(b % (1ull << 30)))
		return fmt::format("{} GiB", b >> 30);
	if (b >= (1ull << 20))
		return fmt::format("{:.1f} MiB", b / double(1 << 20));
	return fmt::format("{} KiB", b >> 10);
}

// Every counter of a vCPU by name, in a fixed order: what stat and top show.
std::vector<std::pair<std::string, uint64_t>> counters(const kvmx_vcpu_stats &s)
{
	std::vector<std::pair<std::string, uint64_t>> c;
	for (uint32_t i = 0; i < KVMX_STAT_EXIT_REASONS; i++)
		if (s.exits[i])
			c.emplace_back("exit " + exit_name(i), s.exits[i]);
	for (uint32_t i = 0; i < KVMX_STAT_USER_EXITS; i++)
		if (s.user_exits[i])
			c.emplace_back(fmt::format("userspace {}", exit_reason_name(i)), s.user_exits[i]);
	c.emplace_back("runs", s.runs);
	c.emplace_back("entries", s.entries);
	c.emplace_back("fast re-entries", s.fast_reentries);
	c.emplace_back("EPT faults", s.ept_faults);
	c.emplace_back("MMIO exits", s.mmio_exits);
	c.emplace_back("injected interrupts", s.irq_injections);
	c.emplace_back("injected exceptions", s.exc_injections);
	c.emplace_back("L1D flushes", s.l1d_flushes);
	c.emplace_back("EPT flushes", s.ept_flushes);
	c.emplace_back("guest TLB flushes", s.guest_tlb_flushes);
	c.emplace_back("in-kernel port/MMIO accesses", s.kernel_io);
	c.emplace_back("halts slept in the kernel", s.halts);
	c.emplace_back("IPIs sent", s.ipis);
	c.emplace_back("APIC timer interrupts", s.apic_timer_irqs);
	c.emplace_back("directed yields", s.directed_yields);
	c.emplace_back("PV TLB flushes", s.pv_tlb_flushes);
	return c;
}

uint64_t total_exits(const kvmx_vcpu_stats &s)
{
	uint64_t t = 0;
	for (auto n : s.exits)
		t += n;
	return t;
}

} // namespace

std::string format_stats(const VmStats &s)
{
	const auto &vm = s.vm;
	std::string o = fmt::format(
		"VM {}: pid {}, uid {}, {} vCPU(s), {} of guest memory, {} pages mapped, "
		"{} EPT table pages, {} MMU-notifier invalidations\n",
		vm.id, vm.owner_pid, vm.owner_uid, vm.nr_vcpus, bytes(vm.mem_bytes),
		vm.mapped_pages, vm.ept_pages, vm.mmu_invalidations);
	for (const auto &v : s.vcpus) {
		const auto &st = v.stats;
		double khz = vm.tsc_khz ? vm.tsc_khz : 1;
		o += fmt::format("  vCPU {}: {} exits, {} runs, {} entries ({} re-entered at once)\n",
				 v.id, total_exits(st), st.runs, st.entries, st.fast_reentries);
		o += fmt::format("    time: {:.3f} ms in the guest, {:.3f} ms in KVM_RUN ({:.1f}% guest)\n",
				 st.guest_tsc / khz, st.run_tsc / khz,
				 st.run_tsc ? 100.0 * st.guest_tsc / st.run_tsc : 0.0);
		o += "    exit reason                       count\n";
		std::vector<std::pair<uint64_t, uint32_t>> by;
		for (uint32_t i = 0; i < KVMX_STAT_EXIT_REASONS; i++)
			if (st.exits[i])
				by.emplace_back(st.exits[i], i);
		std::sort(by.rbegin(), by.rend());
		for (auto [n, r] : by)
			o += fmt::format("    {:<3} {:<28} {:>8}\n", r, exit_name(r), n);
		std::string user;
		for (uint32_t i = 0; i < KVMX_STAT_USER_EXITS; i++)
			if (st.user_exits[i])
				user += fmt::format("{}{} {}", user.empty() ? "" : ", ",
						    exit_reason_name(i), st.user_exits[i]);
		o += fmt::format("    to userspace: {}\n", user.empty() ? "none" : user);
		o += fmt::format("    EPT faults {}, MMIO exits {}, injected interrupts {}, "
				 "injected exceptions {}, L1D flushes {}\n",
				 st.ept_faults, st.mmio_exits, st.irq_injections, st.exc_injections,
				 st.l1d_flushes);
	}
	return o;
}

std::string stats_json(const std::vector<VmStats> &all)
{
	nlohmann::ordered_json vms = nlohmann::ordered_json::array();
	for (const auto &s : all) {
		const auto &vm = s.vm;
		nlohmann::ordered_json vcpus = nlohmann::ordered_json::array();
		for (const auto &v : s.vcpus) {
			const auto &st = v.stats;
			nlohmann::ordered_json exits = nlohmann::ordered_json::object(),
					       user = nlohmann::ordered_json::object();
			for (uint32_t i = 0; i < KVMX_STAT_EXIT_REASONS; i++)
				if (st.exits[i])
					exits[exit_name(i)] = st.exits[i];
			for (uint32_t i = 0; i < KVMX_STAT_USER_EXITS; i++)
				if (st.user_exits[i])
					user[exit_reason_name(i)] = st.user_exits[i];
			vcpus.push_back({ { "id", v.id },
					  { "exits", exits },
					  { "user_exits", user },
					  { "runs", st.runs },
					  { "entries", st.entries },
					  { "fast_reentries", st.fast_reentries },
					  { "ept_faults", st.ept_faults },
					  { "mmio_exits", st.mmio_exits },
					  { "irq_injections", st.irq_injections },
					  { "exc_injections", st.exc_injections },
					  { "l1d_flushes", st.l1d_flushes },
					  { "ept_flushes", st.ept_flushes },
					  { "guest_tlb_flushes", st.guest_tlb_flushes },
					  { "guest_tsc", st.guest_tsc },
					  { "run_tsc", st.run_tsc } });
		}
		vms.push_back({ { "id", vm.id },
				{ "owner_pid", vm.owner_pid },
				{ "owner_uid", vm.owner_uid },
				{ "nr_vcpus", vm.nr_vcpus },
				{ "mem_bytes", vm.mem_bytes },
				{ "mapped_pages", vm.mapped_pages },
				{ "ept_pages", vm.ept_pages },
				{ "mmu_invalidations", vm.mmu_invalidations },
				{ "tsc_khz", vm.tsc_khz },
				{ "vcpus", vcpus } });
	}
	return nlohmann::ordered_json{ { "vms", vms } }.dump(2) + "\n";
}

std::string format_top(const std::vector<VmStats> &before, const std::vector<VmStats> &now,
		       double seconds)
{
	using Key = std::tuple<uint32_t, uint32_t, std::string>;
	std::map<Key, uint64_t> old;
	for (const auto &s : before)
		for (const auto &v : s.vcpus)
			for (auto &[name, n] : counters(v.stats))
				old[{ s.vm.id, v.id, name }] = n;
	struct Row {
		uint32_t vm, vcpu;
		std::string name;
		uint64_t total;
		double rate;
	};
	std::vector<Row> rows;
	for (const auto &s : now)
		for (const auto &v : s.vcpus)
			for (auto &[name, n] : counters(v.stats)) {
				auto it = old.find({ s.vm.id, v.id, name });
				uint64_t prev = it == old.end() ? 0 : it->second;
				if (n == 0)
					continue;
				rows.push_back({ s.vm.id, v.id, name, n,
						 seconds > 0 ? (n - std::min(prev, n)) / seconds : 0.0 });
			}
	std::stable_sort(rows.begin(), rows.end(),
			 [](const Row &a, const Row &b) { return a.rate > b.rate; });
	std::string o = fmt::format("{:>4} {:>5}  {:<40} {:>12} {:>12}\n", "VM", "vCPU", "counter",
				    "total", "per second");
	for (const auto &r : rows)
		o += fmt::format("{:>4} {:>5}  {:<40} {:>12} {:>12.0f}\n", r.vm, r.vcpu, r.name,
				 r.total, r.rate);
	return o;
}

namespace {

std::string perms(uint32_t f)
{
	return fmt::format("{}{}{}", f & KVMX_EPT_R ? 'r' : '-', f & KVMX_EPT_W ? 'w' : '-',
			   f & KVMX_EPT_X ? 'x' : '-');
}

const char *memtype(uint32_t t)
{
	switch (t) {
	case 0: return "UC";
	case 1: return "WC";
	case 4: return "WT";
	case 5: return "WP";
	case 6: return "WB";
	default: return "??";
	}
}

} // namespace

std::string format_ept_ranges(const std::vector<kvmx_ept_range> &ranges)
{
	std::string o = fmt::format("{:<37} {:<37} {:>10} {:<4} {:<3} {}\n", "guest-physical",
				    "host-physical", "size", "perm", "MT", "pages");
	uint64_t total = 0;
	for (const auto &r : ranges) {
		std::string hpa = r.hpa ? fmt::format("{:#018x}-{:#018x}", r.hpa, r.hpa + r.size - 1)
					: std::string("(root only)");
		o += fmt::format("{:#018x}-{:#018x} {:<37} {:>10} {:<4} {:<3} {} x {}{}\n", r.gpa,
				 r.gpa + r.size - 1, hpa, bytes(r.size), perms(r.flags),
				 memtype((r.flags >> KVMX_EPT_MT_SHIFT) & 7), r.size / r.page_size,
				 r.page_size == 4096 ? "4K" : "2M",
				 r.flags & KVMX_EPT_IGNORE_PAT ? " ignore-PAT" : "");
		total += r.size;
	}
	o += fmt::format("{} range(s), {} mapped\n", ranges.size(), bytes(total));
	return o;
}

std::string format_ept_walk(uint64_t gpa, const std::vector<kvmx_ept_level> &levels)
{
	static const char *names[] = { "", "PT", "PD", "PDPT", "PML4" };
	std::string o = fmt::format("EPT walk of GPA {:#x}\n", gpa);
	for (const auto &l : levels) {
		uint64_t e = l.entry;
		bool present = e & 7;
		bool leaf = present && (l.level == 1 || (e & (1u << 7)));
		o += fmt::format("  {:<4} [{:3}] table {:#014x} entry {:#018x} {}", names[l.level & 7],
				 l.index, l.table_hpa, e, present ? perms(e & 7) : "not present");
		if (leaf) {
			uint64_t size = l.level == 1 ? 4096 : 2ull << 20;
			uint64_t base = e & 0x000ffffffffff000ull & ~(size - 1);
			o += fmt::format(" {} MT {}", l.level == 1 ? "4K page" : "2M page",
					 memtype((e >> 3) & 7));
			if (base)
				o += fmt::format(" -> HPA {:#x}", base + (gpa & (size - 1)));
			else
				o += " -> HPA (root only)";
		}
		o += "\n";
	}
	bool mapped = !levels.empty() && (levels.back().entry & 7);
	if (!mapped)
		o += "  not mapped: the guest has not touched it, or it is not RAM (MMIO)\n";
	return o;
}

std::string format_event(const VmEvent &e)
{
	std::string o = fmt::format("{} vm {} pid {} uid {}", event_name(e.event), e.vm_id,
				    e.owner_pid, e.owner_uid);
	if (e.event == KVMX_EVENT_ENTRY_FAILED)
		o += fmt::format(" reason {:#x} vm-instruction-error {}", e.exit_reason, e.vmcs_error);
	return o;
}

std::vector<kvmx_vmcs_field> read_vmcs(Netlink &nl, uint32_t vm, uint32_t vcpu, int timeout_ms)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	for (;;) {
		try {
			return nl.vmcs(vm, vcpu);
		} catch (const Error &e) {
			if (e.err() != EBUSY || std::chrono::steady_clock::now() > end)
				throw;
		}
		std::this_thread::sleep_for(std::chrono::microseconds(200));
	}
}

std::string format_vmcs_fields(const std::vector<kvmx_vmcs_field> &fields)
{
	std::vector<VmcsField> f;
	f.reserve(fields.size());
	for (const auto &x : fields)
		f.push_back({ x.encoding, x.value });
	return format_vmcs(f);
}

uint32_t pick_vm(Netlink &nl, uint32_t vm)
{
	if (vm)
		return vm;
	auto vms = nl.list_vms();
	if (vms.size() == 1)
		return vms[0].id;
	throw Error(vms.empty() ? "no VM of yours is running" :
		    fmt::format("{} VMs are running: choose one with --vm", vms.size()));
}

} // namespace kvmx
