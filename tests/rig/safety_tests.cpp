// Host safety (issue: "close the holes a KVM maintainer would find"): each
// test pins down one trap a guest or a VMM could spring on the host, on
// /dev/kvmx and /dev/kvm side by side where KVM behaves the same.  Where
// Bochs can't make the hardware event happen (a machine check, a stale TLB
// entry) the test checks the mechanism: the exit is taken, the state is kept.
#include <gtest/gtest.h>

#include <asm/ldt.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "fd.hpp"
#include "guest_memory.hpp"
#include "cpu_modes.hpp"
#include "kvmx_netlink.hpp"
#include "observe.hpp"
#include "rig_env.hpp"

using kvmx::Fd;
using rig::Env;

namespace {

class Safety : public testing::TestWithParam<std::string> {};

bool is_kvmx(const std::string &dev) { return dev == "/dev/kvmx"; }

// A guest image from guest-images/, as the rig ships it.
std::vector<uint8_t> image(const std::string &name)
{
	std::ifstream f("/kvmx/guests/" + name + ".bin", std::ios::binary);
	if (!f)
		throw std::runtime_error("no guest image " + name);
	return { std::istreambuf_iterator<char>(f), {} };
}

template <typename T> T peek(Env &e, uint64_t gpa)
{
	T v;
	std::memcpy(&v, e.mem->at(gpa, sizeof(T)), sizeof(T));
	return v;
}

// Runs until HLT, answering OUTs (none expected unless @outs collects them).
void run_to_hlt(Env &e, std::vector<uint8_t> *outs = nullptr)
{
	for (int i = 0; i < 64; i++) {
		ASSERT_EQ(e.run_once(), 0) << std::strerror(errno);
		if (e.run->exit_reason == KVMX_EXIT_HLT)
			return;
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO) << "exit " << e.run->exit_reason;
		if (outs && e.run->io.direction == KVMX_EXIT_IO_OUT) {
			auto *d = reinterpret_cast<uint8_t *>(e.run) + e.run->io.data_offset;
			outs->insert(outs->end(), d, d + e.run->io.size * e.run->io.count);
		}
	}
	FAIL() << "no HLT after 64 exits";
}

void unreal_ds(Env &e)
{
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.ds.limit = 0xffffffff;
	s.ds.g = 1;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
}

// CVE-2015-5307: the #AC delivery that raises #AC.  Without interception the
// CPU (and Bochs, which then overflows its stack) never comes back.  With
// it, the second #AC exits during the delivery of the first and, as on
// kvm_intel, the VMM gets KVM_INTERNAL_ERROR_SIMUL_EX: the vectoring event
// (#AC, with error code), the new one (#AC) and its error code (EXT).
TEST_P(Safety, AcStormEndsInSimultaneousExceptionError)
{
	Env e(GetParam());
	e.real_mode(image("safety_ac_storm"));
	ASSERT_EQ(e.run_once(), 0) << std::strerror(errno);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_INTERNAL_ERROR);
	EXPECT_EQ(e.run->internal.suberror, (unsigned)KVMX_INTERNAL_ERROR_SIMUL_EX);
	ASSERT_EQ(e.run->internal.ndata, 4u);
	EXPECT_EQ(e.run->internal.data[0] & 0x80000fff, 0x80000b11u) << "delivering #AC";
	EXPECT_EQ(e.run->internal.data[1] & 0x80000fff, 0x80000b11u) << "raised #AC";
	EXPECT_EQ(e.run->internal.data[2], 1u) << "error code: EXT, raised while delivering";
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	EXPECT_EQ(s.cs.selector & 3, 3) << "the guest got to ring 3";
}

// CVE-2015-8104: #DB on an IST stack whose push is watched by a data
// breakpoint raises the next #DB, for ever.  Intercepted, each one is an
// exit: the host keeps its CPU and the VMM's signal ends KVM_RUN (or, should
// the CPU report it during delivery, KVM_INTERNAL_ERROR_SIMUL_EX).
TEST_P(Safety, DbStormStaysInTheHostsHands)
{
	Env e(GetParam());
	e.long_mode(image("safety_db_storm"));
	int r = rig::run_kicked(e);
	bool by_signal = r == EINTR && e.run->exit_reason == KVMX_EXIT_INTR;
	bool simul = r == 0 && e.run->exit_reason == KVMX_EXIT_INTERNAL_ERROR &&
		     e.run->internal.suberror == KVMX_INTERNAL_ERROR_SIMUL_EX;
	EXPECT_TRUE(by_signal || simul) << "run: " << r << ", exit " << e.run->exit_reason;
	if (is_kvmx(GetParam())) {
		kvmx::Netlink nl;
		int id = ::ioctl(e.vm.get(), KVMX_GET_VM_ID);
		auto st = nl.stats(static_cast<uint32_t>(id));
		ASSERT_EQ(st.vcpus.size(), 1u);
		EXPECT_GT(st.vcpus[0].stats.exits[0], 10u) << "#DB exits: the storm did not happen";
		std::printf("#DB storm: %llu exception exits\n",
			    static_cast<unsigned long long>(st.vcpus[0].stats.exits[0]));
	}
}

// #DB is intercepted and reflected: EFLAGS.TF single-steps the guest, and an
// instruction the hypervisor carries out (CPUID in the kernel, OUT through
// userspace) is followed by its single-step #DB like any other.
TEST_P(Safety, SingleStepTrapsAfterEmulatedInstructions)
{
	Env e(GetParam());
	e.real_mode(image("safety_single_step"));
	run_to_hlt(e);
	EXPECT_EQ(peek<uint8_t>(e, 0x620), 4) << "#DBs taken";
	EXPECT_EQ(peek<uint16_t>(e, 0x604), peek<uint16_t>(e, 0x610)) << "#DB after CPUID";
	EXPECT_EQ(peek<uint16_t>(e, 0x606), peek<uint16_t>(e, 0x612)) << "#DB after OUT";
}

// An interrupt whose delivery exits (its stack page is not in EPT yet) is
// re-injected once the page is there: the guest's handler runs exactly once.
TEST_P(Safety, InterruptCutShortByAnEptFaultIsDeliveredAgain)
{
	Env e(GetParam());
	e.real_mode(image("safety_reinject"));
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	ASSERT_TRUE(e.run->if_flag);
	kvmx_interrupt irq{ 0x20 };
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_INTERRUPT, &irq), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(peek<uint8_t>(e, 0x600), 1) << "the interrupt was lost";
	EXPECT_EQ(e.regs().rsp & 0xffff, 0x9000u);
}

// RDPMC, MONITOR and MWAIT exit: no host counter reaches the guest (RDPMC is
// #GP without a vPMU) and MWAIT can't idle a host CPU (it is a NOP).
TEST_P(Safety, RdpmcFaultsAndMwaitIsANop)
{
	Env e(GetParam());
	e.real_mode(image("safety_rdpmc_mwait"));
	run_to_hlt(e);
	EXPECT_EQ(peek<uint8_t>(e, 0x600), 1) << "RDPMC did not #GP";
	EXPECT_EQ(peek<uint8_t>(e, 0x601), 0) << "MONITOR/MWAIT raised #UD";
	EXPECT_EQ(peek<uint8_t>(e, 0x602), 1);
}

// String I/O: the index wraps at the address size (16 bits here) and the
// segment limit holds (a word at 0xffff is #GP in real mode).
TEST_P(Safety, StringIoWrapsAndRespectsTheSegmentLimit)
{
	Env e(GetParam(), 0x20000);
	e.real_mode(image("safety_strio"));
	std::vector<uint8_t> outs;
	run_to_hlt(e, &outs);
	EXPECT_EQ(outs, (std::vector<uint8_t>{ 0xa1, 0xb2 }));
	EXPECT_EQ(peek<uint16_t>(e, 0x600), 1u) << "SI after the wrap";
	EXPECT_EQ(peek<uint16_t>(e, 0x602), 0u) << "CX";
	EXPECT_EQ(peek<uint8_t>(e, 0x604), 1) << "#GP for the word across the limit";
}

// CR4.MCE is the guest's to set and clear as it sees it; the real CR4 keeps
// the host's MCE (checked through the VMCS below, kvmx only).
TEST_P(Safety, GuestSeesTheCr4MceItWrote)
{
	Env e(GetParam());
	e.real_mode(image("safety_cr4_mce"));
	run_to_hlt(e);
	EXPECT_EQ(peek<uint32_t>(e, 0x600) & 0x40, 0x40u);
	EXPECT_EQ(peek<uint32_t>(e, 0x604) & 0x40, 0u);
}

// A CR4 value the CPU would refuse (PCIDE outside IA-32e mode), written by
// a MOV the hypervisor intercepts: #GP in the guest, not a failed entry.
TEST_P(Safety, InvalidCr4IsGpNotAFailedEntry)
{
	Env e(GetParam());
	e.real_mode(image("safety_cr4_invalid"));
	run_to_hlt(e);
	EXPECT_EQ(peek<uint8_t>(e, 0x600), 1) << "no #GP";
	EXPECT_EQ(peek<uint32_t>(e, 0x604) & (3u << 17), 0u) << "CR4 changed";
}

// KVM's rule for an I/O exit in flight: KVM_SET_REGS that leaves RIP on the
// instruction doesn't cancel it (the OUT is not run twice, the IN's data
// still lands in the new RAX); one that moves RIP does.
TEST_P(Safety, PendingIoSurvivesSetRegsAtTheSameRip)
{
	Env e(GetParam());
	// out 0x10,al ; out 0x11,al ; in al,0x12 ; out 0x13,al ; hlt
	e.real_mode({ 0xe6, 0x10, 0xe6, 0x11, 0xe4, 0x12, 0xe6, 0x13, 0xf4 });
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->io.port, 0x10);
	kvmx_regs r = e.regs();
	r.rbx = 0x1234;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->io.port, 0x11) << "the first OUT ran again";
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->io.port, 0x12);
	r = e.regs();
	r.rax = 0xabcd00;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	*(reinterpret_cast<uint8_t *>(e.run) + e.run->io.data_offset) = 0x42;
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->io.port, 0x13);
	EXPECT_EQ(e.regs().rax & 0xffffff, 0xabcd42u);
	// RIP moved by userspace: the OUT in flight is abandoned, not skipped.
	r = e.regs();
	r.rip = 0x1002;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->io.port, 0x11) << "the guest went on from where RIP was put";
}

// Guest-chosen values for MSRs kvmx writes through to hardware: a value the
// CPU refuses is #GP in the guest, as on kvm_intel, never an unchecked MSR
// access in the host (the job checks dmesg).  SFMASK's high half is reserved
// on Intel CPUs; whether the CPU (here Bochs) refuses it is the CPU's call,
// so kvmx must do exactly what kvm_intel does on the same CPU.
struct MsrOutcome {
	int gp;
	uint32_t lo, hi;
	bool operator==(const MsrOutcome &) const = default;
};

MsrOutcome sfmask_write(const std::string &dev)
{
	Env e(dev);
	// IVT[13] -> skip 2 bytes and count at [0x600]; wrmsr SFMASK = 1:0 ;
	// rdmsr SFMASK -> [0x604], [0x608] ; hlt
	std::vector<uint8_t> code = {
		0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x08,	// ds = ss = 0, sp = 0x800
		0xc7, 0x06, 0x34, 0x00, 0x40, 0x10,			// [13*4] = 0x1040
		0xc7, 0x06, 0x36, 0x00, 0x00, 0x00,			// [13*4+2] = 0
		0x66, 0xb9, 0x84, 0x00, 0x00, 0xc0,			// ecx = 0xc0000084
		0x66, 0x31, 0xc0, 0x66, 0xba, 0x01, 0x00, 0x00, 0x00,	// eax = 0, edx = 1
		0x0f, 0x30,						// wrmsr
		0x0f, 0x32,						// rdmsr
		0x66, 0xa3, 0x04, 0x06,					// [0x604] = eax
		0x89, 0x16, 0x08, 0x06,					// [0x608] = dx
		0xf4,							// hlt
	};
	code.resize(0x40, 0x90);
	// 0x1040: push bp ; mov bp,sp ; add word [bp+2],2 ; inc byte [0x600] ; pop bp ; iret
	const uint8_t gp[] = { 0x55, 0x89, 0xe5, 0x83, 0x46, 0x02, 0x02, 0xfe, 0x06, 0x00, 0x06,
			       0x5d, 0xcf };
	code.insert(code.end(), std::begin(gp), std::end(gp));
	e.real_mode(code);
	run_to_hlt(e);
	return { peek<uint8_t>(e, 0x600), peek<uint32_t>(e, 0x604), peek<uint16_t>(e, 0x608) };
}

TEST(SafetyBoth, SyscallMsrValueTheCpuRefusesActsAsOnKvm)
{
	MsrOutcome x = sfmask_write("/dev/kvmx"), k = sfmask_write("/dev/kvm");
	std::printf("SFMASK = 1:0 -> kvmx #GP %d read %#x:%#x, kvm #GP %d read %#x:%#x\n", x.gp,
		    x.hi, x.lo, k.gp, k.hi, k.lo);
	EXPECT_TRUE(x == k);
	EXPECT_TRUE(x.gp == 1 ? x.hi == 0 : x.hi == 1) << "a #GP write changed SFMASK";
}

// A root page reused by the next VM: its vCPUs see only their own memory
// (every EPTP is flushed on each CPU before its first use and at teardown).
TEST_P(Safety, ReusedEptRootsSeeOnlyTheirOwnVmsMemory)
{
	for (uint32_t i = 0; i < 12; i++) {
		Env e(GetParam());
		e.mem->put<uint32_t>(0x2000, 0x5a5a0000 + i);
		e.real_mode({ 0x66, 0xa1, 0x00, 0x20, 0xf4 });	// mov eax,[0x2000] ; hlt
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		EXPECT_EQ(e.regs().rax & 0xffffffff, 0x5a5a0000u + i) << "VM " << i;
	}
}

// The VMM's LDT and a GS selector with RPL bits survive KVM_RUN (VM exit
// makes LDTR unusable and loads GS from the VMCS): after running a guest the
// VMM loads an LDT selector without a fault and finds GS as it left it.
TEST_P(Safety, HostLdtAndGsSelectorSurviveRun)
{
	const std::string dev = GetParam();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (p == MAP_FAILED)
			_exit(10);
		*static_cast<uint32_t *>(p) = 0xfeedf00d;
		user_desc d{};
		d.entry_number = 0;
		d.base_addr = static_cast<unsigned>(reinterpret_cast<uintptr_t>(p));
		d.limit = 0xfffff;
		d.seg_32bit = 1;
		d.limit_in_pages = 1;
		d.useable = 1;
		if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)))
			_exit(11);
		const uint16_t sel = 0 << 3 | 4 | 3;	// LDT entry 0, RPL 3
		asm volatile("mov %0, %%gs" : : "r"(sel));
		{
			Env e(dev);
			e.real_mode({ 0xe6, 0x10, 0xf4 });	// out 0x10,al ; hlt
			for (int i = 0; i < 2; i++)
				if (e.run_once())
					_exit(12);
		}
		uint16_t gs;
		asm volatile("mov %%gs, %0" : "=r"(gs));
		if (gs != sel)
			_exit(13);
		uint32_t v;
		asm volatile("movl %%gs:0, %0" : "=r"(v));
		if (v != 0xfeedf00d)
			_exit(14);
		// Faults (SIGSEGV) if LDTR was left unusable.
		asm volatile("mov %0, %%es ; mov %1, %%es" : : "r"(sel), "r"(static_cast<uint16_t>(0)));
		_exit(0);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status)) << "the VMM died by signal " << WTERMSIG(status);
	EXPECT_EQ(WEXITSTATUS(status), 0) << "13: GS lost, 14: GS base wrong, 12: run failed";
}

// Neither kvmx nor KVM pins guest RAM (an MMU notifier keeps EPT in step
// with the VMM's mapping instead), so RLIMIT_MEMLOCK does not limit it: a
// VMM that may lock 1 MiB runs a guest that touches 7 MiB.
TEST_P(Safety, GuestMemoryIsNotChargedToMemlock)
{
	const std::string dev = GetParam();
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		Env e(dev, 8 << 20);
		// 1: mov [ebx],al ; add ebx,0x1000 ; cmp ebx,0x800000 ; jb 1b ; hlt
		e.real_mode({ 0x67, 0x88, 0x03, 0x66, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0x66, 0x81,
			      0xfb, 0x00, 0x00, 0x80, 0x00, 0x72, 0xed, 0xf4 });
		unreal_ds(e);
		kvmx_regs r = e.regs();
		r.rbx = 0x100000;
		::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r);
		rlimit lim{ 1 << 20, 1 << 20 };
		if (setrlimit(RLIMIT_MEMLOCK, &lim) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		int err = e.run_once();
		_exit(err == 0 && e.run->exit_reason == KVMX_EXIT_HLT ? 0 : 12);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
	EXPECT_EQ(WEXITSTATUS(status), 0) << "12: the guest did not run to HLT";
}

// The VMM's own hardware breakpoints (perf, ptrace) still fire after
// KVM_RUN: VM exit resets DR7, so the host's must be put back.
volatile uint32_t watched;

TEST_P(Safety, HostHardwareBreakpointsSurviveRun)
{
	perf_event_attr a{};
	a.type = PERF_TYPE_BREAKPOINT;
	a.size = sizeof(a);
	a.bp_type = HW_BREAKPOINT_W;
	a.bp_addr = reinterpret_cast<uint64_t>(&watched);
	a.bp_len = HW_BREAKPOINT_LEN_4;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	Fd bp(static_cast<int>(syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC)));
	if (!bp)
		GTEST_SKIP() << "no hardware breakpoints: " << std::strerror(errno);
	auto count = [&bp] {
		uint64_t n = 0;
		EXPECT_EQ(read(bp.get(), &n, sizeof(n)), static_cast<ssize_t>(sizeof(n)));
		return n;
	};
	watched = 1;
	if (count() != 1)
		GTEST_SKIP() << "this CPU (Bochs build) does not raise data breakpoints";
	Env e(GetParam());
	e.real_mode({ 0xe6, 0x10, 0xf4 });	// out 0x10,al ; hlt
	ASSERT_EQ(e.run_once(), 0);
	watched = 2;
	EXPECT_EQ(count(), 2u) << "the breakpoint did not fire after KVM_RUN";
	ASSERT_EQ(e.run_once(), 0);
	watched = 3;
	EXPECT_EQ(count(), 3u);
}

// The guest's own data breakpoint (DR0 + DR7, loaded for its entries) fires
// in the guest: #DB with DR6.B0.  [0x600]: #DBs, [0x604]: DR6 in the handler.
TEST_P(Safety, GuestDataBreakpointFires)
{
	Env e(GetParam());
	e.real_mode(image("safety_guest_bp"));
	run_to_hlt(e);
	if (peek<uint8_t>(e, 0x600) == 0 && !is_kvmx(GetParam()))
		GTEST_SKIP() << "no data breakpoints in this CPU (Bochs build), kvm_intel sees none";
	EXPECT_EQ(peek<uint8_t>(e, 0x600), 1) << "#DBs";
	EXPECT_EQ(peek<uint32_t>(e, 0x604) & 0xf, 1u) << "DR6.B0";
}

INSTANTIATE_TEST_SUITE_P(Devices, Safety, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) { return info.param.substr(5); });

// ---- kvmx only: the mechanism behind the guest-visible behaviour ----

uint32_t vm_id(Env &e)
{
	int id = ::ioctl(e.vm.get(), KVMX_GET_VM_ID);
	EXPECT_GT(id, 0);
	return static_cast<uint32_t>(id);
}

uint64_t vmcs_field(const std::vector<kvmx_vmcs_field> &f, uint32_t enc)
{
	for (auto &x : f)
		if (x.encoding == enc)
			return x.value;
	ADD_FAILURE() << "no VMCS field " << std::hex << enc;
	return 0;
}

// #DB, #AC and #MC always exit (exception bitmap); the real CR4 keeps the
// host's MCE however the guest sets its own.
TEST(KvmxSafety, ExceptionBitmapAndHostCr4Mce)
{
	Env e("/dev/kvmx");
	e.real_mode(image("safety_cr4_mce"));
	run_to_hlt(e);
	kvmx::Netlink nl;
	auto f = kvmx::read_vmcs(nl, vm_id(e), 0);
	uint64_t bitmap = vmcs_field(f, 0x4004);
	EXPECT_EQ(bitmap & ((1u << 1) | (1u << 17) | (1u << 18)), (1u << 1) | (1u << 17) | (1u << 18));
	EXPECT_EQ(vmcs_field(f, 0x6804) & 0x40, 0x40u) << "GUEST_CR4.MCE cleared by the guest";
	EXPECT_EQ(vmcs_field(f, 0x6002) & 0x40, 0x40u) << "MCE not in the CR4 guest/host mask";
	EXPECT_EQ(vmcs_field(f, 0x6006) & 0x40, 0u) << "CR4 read shadow";
}

// The guest's DR7 is what the VM entry loads ("load debug controls"), so
// its breakpoints are armed in its own context and nowhere else.
TEST(KvmxSafety, GuestDr7IsLoadedOnEntry)
{
	Env e("/dev/kvmx");
	// mov eax,0xfff0 ; mov dr0,eax ; mov eax,0x10401 ; mov dr7,eax ; hlt
	e.real_mode({ 0x66, 0xb8, 0xf0, 0xff, 0x00, 0x00, 0x0f, 0x23, 0xc0, 0x66, 0xb8, 0x01, 0x04,
		      0x01, 0x00, 0x0f, 0x23, 0xf8, 0xf4 });
	run_to_hlt(e);
	kvmx::Netlink nl;
	auto f = kvmx::read_vmcs(nl, vm_id(e), 0);
	EXPECT_EQ(vmcs_field(f, 0x681a), 0x10401u) << "GUEST_DR7";
	EXPECT_TRUE(vmcs_field(f, 0x4012) & (1u << 2)) << "entry control: load debug controls";
	EXPECT_TRUE(vmcs_field(f, 0x400c) & (1u << 2)) << "exit control: save debug controls";
	const uint64_t exiting = (1u << 10) | (1u << 11) | (1u << 29);
	EXPECT_EQ(vmcs_field(f, 0x4002) & exiting, exiting) << "MWAIT/RDPMC/MONITOR exiting";
}

// An emulated CR4 write that changes paging (PAE here, with the owned
// OSXSAVE so it exits) flushes the guest's VPID, as the CPU would flush.
TEST(KvmxSafety, EmulatedPagingChangeFlushesTheGuestTlb)
{
	auto flushes = [](std::vector<uint8_t> code) {
		Env e("/dev/kvmx");
		e.real_mode(code);
		run_to_hlt(e);
		kvmx::Netlink nl;
		auto st = nl.stats(vm_id(e));
		return st.vcpus.empty() ? 0 : st.vcpus[0].stats.guest_tlb_flushes;
	};
	uint64_t base = flushes({ 0xf4 });
	// mov eax,cr4 ; or eax,0x40020 ; mov cr4,eax ; hlt
	uint64_t pae = flushes({ 0x0f, 0x20, 0xe0, 0x66, 0x0d, 0x20, 0x00, 0x04, 0x00, 0x0f, 0x22, 0xe0,
				 0xf4 });
	EXPECT_EQ(pae, base + 1);
}

// KVM_EXIT_INTERNAL_ERROR laid out as KVM's: an MMIO access kvmx can't
// decode (NEG of memory) reports flags, the instruction bytes, the exit and
// the CPU, each in its own slot, ndata counting them.
TEST(KvmxSafety, InternalErrorDataLayout)
{
	Env e("/dev/kvmx");
	e.real_mode({ 0x67, 0xf6, 0x1d, 0x00, 0x00, 0x20, 0x00, 0xf4 });	// neg byte [0x200000]
	unreal_ds(e);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_INTERNAL_ERROR);
	EXPECT_EQ(e.run->emulation_failure.suberror, (unsigned)KVMX_INTERNAL_ERROR_EMULATION);
	EXPECT_EQ(e.run->emulation_failure.ndata, 9u);
	EXPECT_EQ(e.run->emulation_failure.flags, KVMX_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES);
	EXPECT_GE(e.run->emulation_failure.insn_size, 7);
	EXPECT_EQ(e.run->emulation_failure.insn_bytes[0], 0x67);
	EXPECT_EQ(e.run->emulation_failure.insn_bytes[1], 0xf6);
	EXPECT_EQ(e.run->internal.data[3], 48u) << "exit reason: EPT violation";
	EXPECT_EQ(e.run->internal.data[4] & 2, 2u) << "qualification: a write";
	EXPECT_EQ(e.run->internal.data[8], static_cast<uint64_t>(sched_getcpu())) << "CPU";
}

// Past the last VPID a vCPU runs without one (untagged, flushed at every
// entry) instead of failing its entries.
TEST(KvmxSafety, VcpusPastTheLastVpidStillRun)
{
	const char *param = "/sys/module/kvmx/parameters/max_vpid";
	std::string old;
	{
		std::ifstream f(param);
		ASSERT_TRUE(f >> old);
	}
	std::ofstream(param) << 1;
	std::vector<std::unique_ptr<Env>> vms;
	for (int i = 0; i < 3; i++) {
		vms.push_back(std::make_unique<Env>("/dev/kvmx"));
		// mov eax,0 ; cpuid ; out 0x10,al ; hlt
		vms.back()->real_mode({ 0x66, 0xb8, 0, 0, 0, 0, 0x0f, 0xa2, 0xe6, 0x10, 0xf4 });
	}
	for (int round = 0; round < 2; round++)
		for (auto &e : vms) {
			EXPECT_EQ(e->run_once(), 0);
			EXPECT_EQ(e->run->exit_reason,
				  round ? (unsigned)KVMX_EXIT_HLT : (unsigned)KVMX_EXIT_IO);
		}
	std::ofstream(param) << old;
}

// A vCPU whose copy of guest memory waits on userfaultfd (or FUSE) holds no
// lock that others need: slots change, netlink answers, then the fault is
// resolved and the guest's OUTSB sends what the VMM put there.  (An EPT
// fault on such memory fails with EFAULT instead: 6.1's long-term pins can't
// wait for userfaultfd.)
TEST(KvmxSafety, CopyWaitingOnUserfaultfdBlocksNobody)
{
	Env e("/dev/kvmx");
	const size_t size = 0x10000;
	void *mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	Fd uffd(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
	ASSERT_TRUE(uffd) << std::strerror(errno);
	uffdio_api api{ UFFD_API, 0, 0 };
	ASSERT_EQ(::ioctl(uffd.get(), UFFDIO_API, &api), 0);
	uffdio_register reg{ { reinterpret_cast<uint64_t>(mem), size }, UFFDIO_REGISTER_MODE_MISSING, 0 };
	ASSERT_EQ(::ioctl(uffd.get(), UFFDIO_REGISTER, &reg), 0) << std::strerror(errno);
	ASSERT_EQ(e.set_region(1, 0x200000, size, mem), 0);
	// mov esi,0x200000 ; mov ecx,4 ; mov dx,0x10 ; a32 rep outsb ; hlt  (unreal DS)
	e.real_mode({ 0x66, 0xbe, 0x00, 0x00, 0x20, 0x00, 0x66, 0xb9, 0x04, 0x00, 0x00, 0x00,
		      0xba, 0x10, 0x00, 0x67, 0xf3, 0x6e, 0xf4 });
	unreal_ds(e);
	Fd idle(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 1));
	ASSERT_TRUE(idle);

	auto run = std::async(std::launch::async, [&e] { return e.run_once(); });
	pollfd pfd{ uffd.get(), POLLIN, 0 };
	ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "the copy never reached userfaultfd";

	// While it waits: a slot change (vm->lock), netlink stats and a VMCS.
	kvmx::GuestMemory other(0x1000);
	uint32_t id = vm_id(e);
	auto others = std::async(std::launch::async, [&] {
		kvmx::Netlink nl;
		bool ok = e.set_region(2, 0x400000, 0x1000, other.host()) == 0;
		ok = ok && nl.stats(id).vcpus.size() == 2;
		ok = ok && !kvmx::read_vmcs(nl, id, 1).empty();
		return ok;
	});
	bool in_time = others.wait_for(std::chrono::seconds(20)) == std::future_status::ready;

	// Resolve the fault: the guest reads the page the VMM supplies.
	alignas(4096) static uint8_t page[4096];
	const uint8_t magic[4] = { 0x17, 0xfa, 0x0d, 0x60 };
	std::memcpy(page, magic, 4);
	uffd_msg msg{};
	ASSERT_EQ(read(uffd.get(), &msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
	uffdio_copy copy{ msg.arg.pagefault.address & ~4095ULL, reinterpret_cast<uint64_t>(page), 4096,
			  0, 0 };
	ASSERT_EQ(::ioctl(uffd.get(), UFFDIO_COPY, &copy), 0) << std::strerror(errno);
	EXPECT_TRUE(in_time) << "slot change / netlink waited for the faulting vCPU";
	EXPECT_TRUE(others.get());
	ASSERT_EQ(run.get(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.run->io.count, 4u);
	EXPECT_EQ(std::memcmp(reinterpret_cast<uint8_t *>(e.run) + e.run->io.data_offset, magic, 4), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	munmap(mem, size);
}

} // namespace
