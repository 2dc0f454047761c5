// kvmx's observability (issue 5) on running guests: the netlink counters,
// `kvmx stat/top/vmcs/ept/events`, tracepoints, and who may read what.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "error.hpp"
#include "kvmx_netlink.hpp"
#include "observe.hpp"
#include "rig_env.hpp"

using rig::Env;

namespace {

constexpr const char *kDev = "/dev/kvmx";
constexpr uint32_t kExitCpuid = 10, kExitHlt = 12, kExitIo = 30;

// Real mode: 1000 x CPUID, then 10 x OUT to port 0x80, then HLT.
const std::vector<uint8_t> kCpuidGuest = {
	0xbe, 0xe8, 0x03,		// mov si, 1000
	0x66, 0x31, 0xc0,		// 1: xor eax, eax
	0x0f, 0xa2,			// cpuid
	0x4e,				// dec si
	0x75, 0xf8,			// jnz 1b
	0xbf, 0x0a, 0x00,		// mov di, 10
	0xe6, 0x80,			// 2: out 0x80, al
	0x4f,				// dec di
	0x75, 0xfb,			// jnz 2b
	0xf4,				// hlt
};

// Runs until HLT; returns how many port-I/O exits reached us.
int run_to_hlt(Env &e)
{
	int io = 0;
	for (int i = 0; i < 100; i++) {
		EXPECT_EQ(e.run_once(), 0);
		if (e.run->exit_reason == KVMX_EXIT_IO) {
			io++;
			continue;
		}
		EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		return io;
	}
	ADD_FAILURE() << "no HLT after 100 exits";
	return io;
}

uint32_t vm_id(Env &e)
{
	int id = ::ioctl(e.vm.get(), KVMX_GET_VM_ID);
	EXPECT_GT(id, 0);
	return id;
}

std::string sh(const std::string &cmd)
{
	std::string out;
	FILE *p = ::popen((cmd + " 2>&1").c_str(), "r");
	if (!p)
		return out;
	char buf[4096];
	size_t n;
	while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0)
		out.append(buf, n);
	::pclose(p);
	return out;
}

uint64_t field(const std::vector<kvmx_vmcs_field> &f, uint32_t enc)
{
	for (const auto &x : f)
		if (x.encoding == enc)
			return x.value;
	ADD_FAILURE() << "no VMCS field " << std::hex << enc;
	return ~0ull;
}

TEST(Observe, StatCountsWhatTheGuestDid)
{
	Env e(kDev);
	e.real_mode(kCpuidGuest);
	EXPECT_EQ(run_to_hlt(e), 10);
	uint32_t id = vm_id(e);

	kvmx::Netlink nl;
	auto s = nl.stats(id);
	EXPECT_EQ(s.vm.id, id);
	EXPECT_EQ(s.vm.owner_pid, (uint32_t)getpid());
	EXPECT_EQ(s.vm.nr_vcpus, 1u);
	EXPECT_EQ(s.vm.mem_bytes, 1u << 20);
	EXPECT_GT(s.vm.mapped_pages, 0u);
	ASSERT_EQ(s.vcpus.size(), 1u);
	const auto &st = s.vcpus[0].stats;
	EXPECT_EQ(st.exits[kExitCpuid], 1000u);
	EXPECT_EQ(st.exits[kExitIo], 10u);
	EXPECT_EQ(st.exits[kExitHlt], 1u);
	EXPECT_EQ(st.user_exits[KVMX_EXIT_IO], 10u);
	EXPECT_EQ(st.user_exits[KVMX_EXIT_HLT], 1u);
	EXPECT_EQ(st.runs, 11u);
	// CPUID is handled without leaving the interrupts-off loop, mostly.
	EXPECT_GE(st.fast_reentries, 900u);
	EXPECT_GT(st.ept_faults, 0u);
	EXPECT_GT(st.guest_tsc, 0u);
	EXPECT_GT(st.run_tsc, st.guest_tsc);

	bool listed = false;
	for (const auto &vm : nl.list_vms())
		listed |= vm.id == id;
	EXPECT_TRUE(listed);

	std::string out = sh("kvmx stat --vm " + std::to_string(id));
	EXPECT_NE(out.find("CPUID"), std::string::npos) << out;
	EXPECT_NE(out.find("1000"), std::string::npos) << out;
	EXPECT_NE(out.find("KVM_EXIT_IO 10"), std::string::npos) << out;
	out = sh("kvmx stat --json --vm " + std::to_string(id));
	auto j = nlohmann::json::parse(out, nullptr, false);
	ASSERT_FALSE(j.is_discarded()) << "not JSON: " << out;
	ASSERT_EQ(j["vms"].size(), 1u) << out;
	EXPECT_EQ(j["vms"][0]["id"], id);
	EXPECT_EQ(j["vms"][0]["vcpus"][0]["exits"]["CPUID"], 1000) << out;
	EXPECT_EQ(j["vms"][0]["vcpus"][0]["user_exits"]["KVM_EXIT_IO"], 10) << out;
	out = sh("kvmx top -n 1 -d 0.1 --vm " + std::to_string(id));
	EXPECT_NE(out.find("exit CPUID"), std::string::npos) << out;
}

TEST(Observe, VmcsOfAHaltedVcpu)
{
	Env e(kDev);
	e.real_mode(kCpuidGuest);
	run_to_hlt(e);
	uint32_t id = vm_id(e);
	kvmx::Netlink nl;
	auto f = kvmx::read_vmcs(nl, id, 0);
	EXPECT_GT(f.size(), 100u);
	EXPECT_EQ(field(f, 0x681e), e.regs().rip);	// GUEST_RIP
	EXPECT_EQ(field(f, 0x4402), kExitHlt);		// VM_EXIT_REASON
	EXPECT_EQ(field(f, 0x201a) & 7, 6u);		// EPTP memory type WB
	std::string text = kvmx::format_vmcs_fields(f);
	EXPECT_NE(text.find("GUEST_RIP"), std::string::npos);
	EXPECT_NE(text.find("HLT"), std::string::npos);

	std::string out = sh("kvmx vmcs --vm " + std::to_string(id));
	EXPECT_NE(out.find("GUEST_RIP"), std::string::npos) << out;
	EXPECT_NE(out.find("HLT"), std::string::npos) << out;
	EXPECT_NE(sh("kvmx vmcs --vcpu 5 --vm " + std::to_string(id)).find("No such file"),
		  std::string::npos);
}

// The EPT walk of a GPA the tool wrote lands on the host page holding it.
TEST(Observe, EptWalkLandsOnTheToolsPage)
{
	Env e(kDev);
	e.mem->put<uint32_t>(0x3010, 0xfeedf00d);
	e.real_mode({ 0x66, 0xa1, 0x10, 0x30, 0xf4 });	// mov eax,[0x3010] ; hlt
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffffffff, 0xfeedf00du);
	uint32_t id = vm_id(e);

	kvmx::Netlink nl;
	auto walk = nl.walk_ept(id, 0x3010);
	ASSERT_FALSE(walk.empty());
	EXPECT_EQ(walk.front().level, 4u);
	const auto &leaf = walk.back();
	ASSERT_EQ(leaf.entry & 7, 7u) << "RWX";
	uint64_t size = leaf.level == 1 ? 4096 : 2u << 20;
	uint64_t hpa = (leaf.entry & 0x000ffffffffff000ull & ~(size - 1)) + (0x3010 & (size - 1));

	// Where the host's page tables put the tool's copy (root sees PFNs).
	auto va = reinterpret_cast<uintptr_t>(e.mem->at(0x3010, 4));
	int pm = ::open("/proc/self/pagemap", O_RDONLY);
	ASSERT_GE(pm, 0);
	uint64_t ent = 0;
	ASSERT_EQ(::pread(pm, &ent, 8, (va / 4096) * 8), 8);
	::close(pm);
	ASSERT_TRUE(ent >> 63) << "page not present";
	EXPECT_EQ(hpa >> 12, ent & ((1ull << 55) - 1));
	EXPECT_EQ(hpa & 0xfff, 0x010u);

	auto ranges = nl.ept(id);
	bool covered = false;
	for (const auto &r : ranges)
		if (r.gpa <= 0x3010 && 0x3010 < r.gpa + r.size)
			covered = (r.flags & 7) == 7 && ((r.flags >> 3) & 7) == 6;
	EXPECT_TRUE(covered);
	auto out = sh("kvmx ept --vm " + std::to_string(id) + " --gpa 0x3010");
	EXPECT_NE(out.find("HPA"), std::string::npos) << out;
	// Outside the slot: never mapped.
	auto outside = nl.walk_ept(id, 0x200000);
	ASSERT_FALSE(outside.empty());
	EXPECT_EQ(outside.back().entry & 7, 0u);
}

// Another user sees none of root's VMs; an unprivileged owner sees its own,
// without host-physical addresses.
TEST(Observe, OnlyOwnersAndRootMayLook)
{
	Env e(kDev);
	e.real_mode(kCpuidGuest);
	run_to_hlt(e);
	uint32_t id = vm_id(e);
	struct stat st{};
	ASSERT_EQ(::stat(kDev, &st), 0);
	ASSERT_EQ(::chmod(kDev, 0666), 0);

	pid_t pid = ::fork();
	if (pid == 0) {
		int bad = 0;
		auto check = [&](bool ok, const char *what) {
			if (!ok) {
				std::fprintf(stderr, "as uid 65534: %s\n", what);
				bad++;
			}
		};
		if (::setgid(65534) || ::setuid(65534))
			::_exit(100);
		try {
			kvmx::Netlink nl;
			for (const auto &vm : nl.list_vms())
				check(vm.id != id, "root's VM is listed");
			auto denied = [&](auto &&f, const char *what) {
				try {
					f();
					check(false, what);
				} catch (const kvmx::Error &x) {
					check(x.err() == EPERM, what);
				}
			};
			denied([&] { nl.stats(id); }, "stats of root's VM not EPERM");
			denied([&] { nl.vmcs(id, 0); }, "VMCS of root's VM not EPERM");
			denied([&] { nl.ept(id); }, "EPT of root's VM not EPERM");
			denied([&] { nl.walk_ept(id, 0); }, "EPT walk of root's VM not EPERM");
			kvmx::Netlink ev;
			denied([&] { ev.subscribe_events(); }, "joining the events group not EPERM");
			// Its own VM: visible, counted, host addresses hidden.
			Env mine(kDev);
			mine.real_mode({ 0xf4 });
			check(mine.run_once() == 0 && mine.run->exit_reason == KVMX_EXIT_HLT,
			      "own guest did not halt");
			uint32_t my = ::ioctl(mine.vm.get(), KVMX_GET_VM_ID);
			auto vms = nl.list_vms();
			check(vms.size() == 1 && vms[0].id == my && vms[0].owner_uid == 65534,
			      "own VM not listed alone");
			check(nl.stats(my).vcpus.at(0).stats.exits[kExitHlt] == 1, "own HLT not counted");
			for (const auto &r : nl.ept(my))
				check(r.hpa == 0, "host-physical address shown");
			auto f = kvmx::read_vmcs(nl, my, 0);
			check(field(f, 0x6c16) == 0, "HOST_RIP shown");	// host state: root only
			check(field(f, 0x681e) != 0, "own GUEST_RIP missing");
		} catch (const std::exception &x) {
			std::fprintf(stderr, "as uid 65534: %s\n", x.what());
			bad++;
		}
		::_exit(bad ? 1 : 0);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	::chmod(kDev, st.st_mode & 07777);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "see the lines above from the child";
}

TEST(Observe, EventsFollowAVmAndAFailedEntry)
{
	kvmx::Netlink nl, events;	// a subscribed socket is for events only
	events.subscribe_events();
	uint32_t id;
	{
		Env e(kDev);
		id = vm_id(e);
		e.real_mode({ 0xf4 });
		kvmx_sregs s{};
		ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
		s.tr.type = 1;	// not busy: the entry checks fail (SDM 27.3.1.2)
		ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_FAIL_ENTRY);
		// The VMCS behind the failure, as `kvmx run` attaches it.
		auto f = kvmx::read_vmcs(nl, id, 0);
		EXPECT_EQ(field(f, 0x4402), 0x80000021u) << f.size() << " fields:\n"
							 << kvmx::format_vmcs_fields(f);
		EXPECT_NE(kvmx::format_vmcs_fields(f).find("invalid guest state"), std::string::npos);
	}
	std::vector<kvmx::VmEvent> seen;
	while (auto ev = events.next_event(3000))
		if (ev->vm_id == id && (seen.push_back(*ev), ev->event == KVMX_EVENT_VM_DESTROYED))
			break;
	for (const auto &ev : seen)
		std::printf("event: %s\n", kvmx::format_event(ev).c_str());
	ASSERT_EQ(seen.size(), 3u);
	EXPECT_EQ(seen[0].event, (uint32_t)KVMX_EVENT_VM_CREATED);
	EXPECT_EQ(seen[0].owner_pid, (uint32_t)getpid());
	EXPECT_EQ(seen[1].event, (uint32_t)KVMX_EVENT_ENTRY_FAILED);
	EXPECT_EQ(seen[1].exit_reason, 0x80000021u);
	EXPECT_EQ(seen[2].event, (uint32_t)KVMX_EVENT_VM_DESTROYED);
}

void write_file(const std::string &path, const std::string &s)
{
	std::ofstream f(path);
	f << s;
}

TEST(Observe, TracepointsSeeEveryExit)
{
	const std::string t = "/sys/kernel/tracing";
	if (::access((t + "/events").c_str(), F_OK))
		::mount("tracefs", t.c_str(), "tracefs", 0, nullptr);
	ASSERT_EQ(::access((t + "/events/kvmx/kvmx_exit/enable").c_str(), W_OK), 0);
	write_file(t + "/trace", "");
	write_file(t + "/events/kvmx/kvmx_exit/enable", "1");
	write_file(t + "/events/kvmx/kvmx_userspace_exit/enable", "1");
	{
		Env e(kDev);
		e.real_mode(kCpuidGuest);
		run_to_hlt(e);
	}
	write_file(t + "/events/kvmx/kvmx_exit/enable", "0");
	write_file(t + "/events/kvmx/kvmx_userspace_exit/enable", "0");
	std::ifstream f(t + "/trace");
	std::string line;
	int cpuid = 0, io = 0, user = 0;
	while (std::getline(f, line)) {
		cpuid += line.find("kvmx_exit:") != std::string::npos &&
			 line.find("reason 10 ") != std::string::npos;
		io += line.find("kvmx_exit:") != std::string::npos &&
		      line.find("reason 30 ") != std::string::npos;
		user += line.find("kvmx_userspace_exit:") != std::string::npos;
	}
	EXPECT_EQ(cpuid, 1000);
	EXPECT_EQ(io, 10);
	EXPECT_EQ(user, 11);
}

} // namespace
