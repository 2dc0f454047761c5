// What KVM's own selftests check of the guest's CPU, on /dev/kvmx and
// /dev/kvm side by side: the TSC a vCPU starts with, IA32_TSC_ADJUST, the
// TSC-offset attribute, MSR_PLATFORM_INFO, the feature MSRs, the PV-feature
// CPUID enforcement and the quirks a VMM may turn off (VMMCALL patching,
// MONITOR/MWAIT).  Guests run in real mode at 0x1000; #UD (vector 6) and #GP
// (vector 13) land in small IVT handlers that leave a mark in BX.
#include <gtest/gtest.h>

#include <sys/ioctl.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "rig_env.hpp"

using rig::Env;
using rig::ioctl_errno;

namespace {

class CpuFeatures : public testing::TestWithParam<std::string> {};

constexpr uint32_t kMsrTsc = 0x10, kMsrTscAdjust = 0x3b, kMsrPlatformInfo = 0xce;
constexpr uint32_t kMsrMiscEnable = 0x1a0, kMsrUcodeRev = 0x8b;
constexpr uint32_t kMsrKvmSystemTimeNew = 0x4b564d01;
constexpr uint64_t kMiscEnableMwait = 1ull << 18;
constexpr uint16_t kUdMark = 0x0bad, kGpMark = 0x0d0d;

// IVT entries for #UD and #GP: mov bx, MARK ; hlt.
void install_fault_marks(Env &e)
{
	uint16_t ivt6[2] = { 0x2000, 0 }, ivt13[2] = { 0x2010, 0 };
	e.mem->write(6 * 4, std::vector<uint8_t>(reinterpret_cast<uint8_t *>(ivt6),
						 reinterpret_cast<uint8_t *>(ivt6) + 4));
	e.mem->write(13 * 4, std::vector<uint8_t>(reinterpret_cast<uint8_t *>(ivt13),
						  reinterpret_cast<uint8_t *>(ivt13) + 4));
	e.mem->write(0x2000, std::vector<uint8_t>{ 0xbb, kUdMark & 0xff, kUdMark >> 8, 0xf4 });
	e.mem->write(0x2010, std::vector<uint8_t>{ 0xbb, kGpMark & 0xff, kGpMark >> 8, 0xf4 });
}

// The device's supported CPUID as the vCPU's, @edit applied first.
void set_cpuid(Env &e, const std::function<void(kvmx_cpuid_entry2 &)> &edit = nullptr)
{
	std::vector<uint64_t> buf((sizeof(kvmx_cpuid2) + 80 * sizeof(kvmx_cpuid_entry2)) / 8 + 1);
	auto *c = reinterpret_cast<kvmx_cpuid2 *>(buf.data());
	c->nent = 80;
	ASSERT_EQ(ioctl_errno(e.sys.get(), KVMX_GET_SUPPORTED_CPUID, c), 0);
	if (edit)
		for (uint32_t i = 0; i < c->nent; i++)
			edit(c->entries[i]);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_CPUID2, c), 0);
}

uint64_t get_msr(int vcpu, uint32_t index)
{
	rig::Msrs m(1);
	m->entries[0] = { index, 0, 0 };
	EXPECT_EQ(::ioctl(vcpu, KVMX_GET_MSRS, m.get()), 1) << std::hex << index;
	return m->entries[0].data;
}

void set_msr(int vcpu, uint32_t index, uint64_t data)
{
	rig::Msrs m(1);
	m->entries[0] = { index, 0, data };
	EXPECT_EQ(::ioctl(vcpu, KVMX_SET_MSRS, m.get()), 1) << std::hex << index;
}

int enable_vm_cap(Env &e, uint32_t cap, uint64_t arg)
{
	kvmx_enable_cap c{};
	c.cap = cap;
	c.args[0] = arg;
	return ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &c);
}

uint64_t tsc_hz(Env &e)
{
	return uint64_t(::ioctl(e.vcpu.get(), KVMX_GET_TSC_KHZ, 0)) * 1000;
}

// A new vCPU's TSC starts at 0.  The guest's own writes to IA32_TSC move
// IA32_TSC_ADJUST by as much and its writes to TSC_ADJUST move the TSC; the
// VMM's write to IA32_TSC moves the TSC alone (SDM 18.17.3, KVM's rules).
TEST_P(CpuFeatures, TscStartsAtZeroAndTscAdjustFollowsTheGuest)
{
	Env e(GetParam());
	// mov ecx,0x10 ; xor eax,eax ; mov edx,0x1000 ; wrmsr  (TSC = 2^44)
	// mov ecx,0x3b ; rdmsr ; mov [0x3000],eax ; mov [0x3004],edx  (its TSC_ADJUST)
	// xor eax,eax ; xor edx,edx ; wrmsr  (TSC_ADJUST = 0: back where it was)
	// mov ecx,0x10 ; rdmsr ; mov [0x3008],eax ; mov [0x300c],edx ; hlt
	e.real_mode({ 0x66, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x66, 0x31, 0xc0, 0x66, 0xba, 0x00,
		      0x10, 0x00, 0x00, 0x0f, 0x30, 0x66, 0xb9, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x32,
		      0x66, 0xa3, 0x00, 0x30, 0x66, 0x89, 0x16, 0x04, 0x30, 0x66, 0x31, 0xc0, 0x66,
		      0x31, 0xd2, 0x0f, 0x30, 0x66, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x66,
		      0xa3, 0x08, 0x30, 0x66, 0x89, 0x16, 0x0c, 0x30, 0xf4 });
	set_cpuid(e);
	const uint64_t hz = tsc_hz(e), start = get_msr(e.vcpu.get(), kMsrTsc);
	EXPECT_LT(start, 10 * hz) << "a new vCPU's TSC starts at 0";
	EXPECT_EQ(get_msr(e.vcpu.get(), kMsrTscAdjust), 0u);

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	uint64_t adjust, after;
	std::memcpy(&adjust, e.mem->at(0x3000, 8), 8);
	std::memcpy(&after, e.mem->at(0x3008, 8), 8);
	// TSC_ADJUST took the guest's jump to 2^44: 2^44 minus the TSC then.
	EXPECT_GT(adjust, (1ull << 44) - 20 * hz);
	EXPECT_LE(adjust, 1ull << 44);
	EXPECT_LT(after, 20 * hz) << "TSC_ADJUST = 0 took the jump back";
	EXPECT_EQ(get_msr(e.vcpu.get(), kMsrTscAdjust), 0u);

	// The VMM's write: the TSC moves, TSC_ADJUST doesn't; its own write
	// to TSC_ADJUST doesn't move the TSC.
	set_msr(e.vcpu.get(), kMsrTsc, 1ull << 40);
	uint64_t tsc = get_msr(e.vcpu.get(), kMsrTsc);
	EXPECT_GE(tsc, 1ull << 40);
	EXPECT_LT(tsc, (1ull << 40) + 10 * hz);
	EXPECT_EQ(get_msr(e.vcpu.get(), kMsrTscAdjust), 0u);
	set_msr(e.vcpu.get(), kMsrTscAdjust, 12345);
	EXPECT_EQ(get_msr(e.vcpu.get(), kMsrTscAdjust), 12345u);
	tsc = get_msr(e.vcpu.get(), kMsrTsc);
	EXPECT_GE(tsc, 1ull << 40);
	EXPECT_LT(tsc, (1ull << 40) + 10 * hz);
}

// The VMM writes each vCPU's TSC in turn: writes of the same TSC (0, or
// what the last write has reached by now) give every vCPU one offset, so
// an SMP guest's TSCs agree.  KVM_VCPU_TSC_OFFSET reads and sets it.
TEST_P(CpuFeatures, TscWritesOfOneValueShareAnOffset)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx::Fd second(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 1));
	ASSERT_TRUE(second) << std::strerror(errno);
	const uint64_t hz = tsc_hz(e);
	int64_t off0 = 0, off1 = 1;
	kvmx_device_attr a{ 0, KVMX_VCPU_TSC_CTRL, KVMX_VCPU_TSC_OFFSET,
			    reinterpret_cast<uint64_t>(&off0) };
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_HAS_DEVICE_ATTR, &a), 0);
	auto offsets_agree = [&] {
		a.addr = reinterpret_cast<uint64_t>(&off0);
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_DEVICE_ATTR, &a), 0);
		a.addr = reinterpret_cast<uint64_t>(&off1);
		EXPECT_EQ(ioctl_errno(second.get(), KVMX_GET_DEVICE_ATTR, &a), 0);
		return off0 == off1;
	};
	EXPECT_TRUE(offsets_agree()) << "two new vCPUs";
	set_msr(e.vcpu.get(), kMsrTsc, 1ull << 40);
	set_msr(second.get(), kMsrTsc, (1ull << 40) + hz / 100);	// 10 ms later
	EXPECT_TRUE(offsets_agree()) << "the same TSC, written 10 ms apart";
	set_msr(second.get(), kMsrTsc, 1ull << 50);
	EXPECT_FALSE(offsets_agree()) << "another TSC";

	// The offset attribute: what is set reads back and is the guest's TSC.
	int64_t want = -int64_t(__rdtsc()) + (int64_t(1) << 45);
	a.addr = reinterpret_cast<uint64_t>(&want);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEVICE_ATTR, &a), 0);
	int64_t got = 0;
	a.addr = reinterpret_cast<uint64_t>(&got);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_DEVICE_ATTR, &a), 0);
	EXPECT_EQ(got, want);
	uint64_t tsc = get_msr(e.vcpu.get(), kMsrTsc);
	EXPECT_GE(tsc, 1ull << 45);
	EXPECT_LT(tsc, (1ull << 45) + 10 * hz);

	// Bad input: another group or attribute, a bad address.
	kvmx_device_attr bad = a;
	bad.group = 1;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_HAS_DEVICE_ATTR, &bad), ENXIO);
	bad = a;
	bad.attr = 7;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_DEVICE_ATTR, &bad), ENXIO);
	bad = a;
	bad.addr = 8;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEVICE_ATTR, &bad), EFAULT);
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_DEVICE_ATTR, &bad), EFAULT);
}

// MSR_PLATFORM_INFO: the VMM's value, readable by the guest until the VMM
// says otherwise (KVM_CAP_MSR_PLATFORM_INFO); never writable by the guest.
TEST_P(CpuFeatures, PlatformInfoIsTheVmmsToShow)
{
	Env e(GetParam());
	ASSERT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_MSR_PLATFORM_INFO), 1);
	// mov ecx,0xce ; rdmsr ; mov [0x3000],eax ; wrmsr ; hlt
	e.real_mode({ 0x66, 0xb9, 0xce, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x66, 0xa3, 0x00, 0x30,
		      0x0f, 0x30, 0xf4 });
	install_fault_marks(e);
	uint64_t old = get_msr(e.vcpu.get(), kMsrPlatformInfo);
	set_msr(e.vcpu.get(), kMsrPlatformInfo, (old & ~0xff00ull) | 0xff00);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	uint32_t seen;
	std::memcpy(&seen, e.mem->at(0x3000, 4), 4);
	EXPECT_EQ(seen & 0xff00, 0xff00u);
	EXPECT_EQ(e.regs().rbx, kGpMark) << "the guest's WRMSR is a #GP";

	ASSERT_EQ(enable_vm_cap(e, KVMX_CAP_MSR_PLATFORM_INFO, 0), 0);
	kvmx_regs r = e.regs();
	r.rip = 0x1000;
	r.rbx = 0;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rip, 0x2014u) << "the RDMSR is a #GP now";
	EXPECT_EQ(e.regs().rbx, kGpMark);
	EXPECT_EQ(get_msr(e.vcpu.get(), kMsrPlatformInfo) & 0xff00, 0xff00u) << "the VMM still reads it";
}

// The feature MSRs on the system fd: the list (E2BIG when short) and
// KVM_GET_MSRS there, which stops at an MSR that is not in it.
TEST_P(CpuFeatures, FeatureMsrsAreReadOnTheSystemFd)
{
	Env e(GetParam());
	ASSERT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_GET_MSR_FEATURES), 1);
	kvmx_msr_list probe{ 0 };
	EXPECT_EQ(ioctl_errno(e.sys.get(), KVMX_GET_MSR_FEATURE_INDEX_LIST, &probe), E2BIG);
	ASSERT_GT(probe.nmsrs, 0u);
	std::vector<uint32_t> buf(probe.nmsrs + 1);
	auto *list = reinterpret_cast<kvmx_msr_list *>(buf.data());
	list->nmsrs = probe.nmsrs;
	ASSERT_EQ(ioctl_errno(e.sys.get(), KVMX_GET_MSR_FEATURE_INDEX_LIST, list), 0);
	std::vector<uint32_t> idx(list->indices, list->indices + list->nmsrs);
	EXPECT_NE(std::find(idx.begin(), idx.end(), kMsrUcodeRev), idx.end());
	rig::Msrs m(idx.size());
	for (size_t i = 0; i < idx.size(); i++)
		m->entries[i] = { idx[i], 0, 0 };
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_GET_MSRS, m.get()), int(idx.size()));
	rig::Msrs unknown(2);
	unknown->entries[0] = { kMsrUcodeRev, 0, 0 };
	unknown->entries[1] = { 0x12345, 0, 0 };
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_GET_MSRS, unknown.get()), 1);
	EXPECT_EQ(ioctl_errno(e.sys.get(), KVMX_GET_MSR_FEATURE_INDEX_LIST, nullptr), EFAULT);
}

// A VMMCALL (AMD's hypercall, a #UD on Intel) in protected mode is
// rewritten to VMCALL and made, by default; with
// KVM_X86_QUIRK_FIX_HYPERCALL_INSN off it is the guest's #UD (here, with no
// IDT, a shutdown).  KVM_HC_SCHED_YIELD answers 0.  In real mode KVM's
// emulator leaves it a #UD either way.
TEST_P(CpuFeatures, VmmcallIsPatchedUnlessTheQuirkIsOff)
{
	for (bool off : { false, true }) {
		Env e(GetParam());
		int quirks = ::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_DISABLE_QUIRKS2);
		ASSERT_TRUE(quirks & KVMX_X86_QUIRK_FIX_HYPERCALL_INSN);
		if (off) {
			ASSERT_EQ(enable_vm_cap(e, KVMX_CAP_DISABLE_QUIRKS2,
						KVMX_X86_QUIRK_FIX_HYPERCALL_INSN), 0);
		}
		// mov eax,11 ; vmmcall ; hlt
		e.long_mode({ 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xd9, 0xf4 });
		ASSERT_EQ(e.run_once(), 0);
		const uint8_t *insn = e.mem->at(0x1005, 3);
		if (off) {
			EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_SHUTDOWN) << "the guest's #UD";
			EXPECT_EQ(insn[2], 0xd9) << "left as it was";
		} else {
			ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
			kvmx_regs r = e.regs();
			EXPECT_EQ(r.rax, 0u) << "SCHED_YIELD's answer";
			EXPECT_EQ(r.rip, 0x1009u);
			EXPECT_EQ(insn[2], 0xc1) << "now a VMCALL";
		}
	}
	Env real(GetParam());
	// mov eax,11 ; vmmcall ; hlt
	real.real_mode({ 0x66, 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xd9, 0xf4 });
	install_fault_marks(real);
	ASSERT_EQ(real.run_once(), 0);
	ASSERT_EQ(real.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(real.regs().rbx, kUdMark) << "real mode: a #UD";
	EXPECT_EQ(real.mem->at(0x1006, 3)[2], 0xd9);
	Env e(GetParam());
	EXPECT_EQ(enable_vm_cap(e, KVMX_CAP_DISABLE_QUIRKS2, 1ull << 40), EINVAL);
}

// MONITOR/MWAIT are NOPs by default, even where CPUID lacks them.  With
// KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS off they are a #UD unless CPUID has
// them; with KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT off, CPUID follows
// IA32_MISC_ENABLE's MWAIT bit.
TEST_P(CpuFeatures, MonitorMwaitFollowTheQuirksAndCpuid)
{
	// xor eax,eax ; xor ecx,ecx ; xor edx,edx ; monitor ; mwait ;
	// mov eax,1 ; cpuid ; hlt
	const std::vector<uint8_t> code = { 0x66, 0x31, 0xc0, 0x66, 0x31, 0xc9, 0x66, 0x31, 0xd2,
					    0x0f, 0x01, 0xc8, 0x0f, 0x01, 0xc9, 0x66, 0xb8, 0x01,
					    0x00, 0x00, 0x00, 0x0f, 0xa2, 0xf4 };
	struct Case {
		uint64_t disabled;
		bool misc_mwait, ud;
	} cases[] = {
		{ 0, false, false },
		{ KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS, false, true },
		{ KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS | KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT, true,
		  false },
		{ KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS | KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT, false,
		  true },
	};
	for (const Case &c : cases) {
		Env e(GetParam());
		ASSERT_EQ(enable_vm_cap(e, KVMX_CAP_DISABLE_QUIRKS2, c.disabled), 0);
		e.real_mode(code);
		install_fault_marks(e);
		set_cpuid(e, [](kvmx_cpuid_entry2 &x) {
			if (x.function == 1)
				x.ecx &= ~(1u << 3);	// no MONITOR/MWAIT
		});
		set_msr(e.vcpu.get(), kMsrMiscEnable, c.misc_mwait ? kMiscEnableMwait : 0);
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		kvmx_regs r = e.regs();
		if (c.ud) {
			EXPECT_EQ(r.rbx, kUdMark) << std::hex << c.disabled;
			EXPECT_EQ(r.rip, 0x2004u);
		} else {
			EXPECT_EQ(r.rip, 0x1018u) << std::hex << c.disabled;
			EXPECT_EQ(!!(r.rcx & (1u << 3)), c.misc_mwait) << "CPUID.1:ECX.MONITOR";
		}
	}
}

// With KVM_CAP_ENFORCE_PV_FEATURE_CPUID on and no KVM leaf in CPUID, the
// kvmclock MSRs are a #GP and SCHED_YIELD is unknown (-KVM_ENOSYS).
TEST_P(CpuFeatures, PvFeaturesFollowCpuidWhenEnforced)
{
	// mov eax,11 ; vmcall ; mov [0x3000],eax ; mov ecx,0x4b564d01 ; rdmsr ; hlt
	const std::vector<uint8_t> code = { 0x66, 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1,
					    0x66, 0xa3, 0x00, 0x30, 0x66, 0xb9, 0x01, 0x4d, 0x56,
					    0x4b, 0x0f, 0x32, 0xf4 };
	for (bool enforce : { false, true }) {
		Env e(GetParam());
		ASSERT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_ENFORCE_PV_FEATURE_CPUID), 1);
		e.real_mode(code);
		install_fault_marks(e);
		set_cpuid(e, [](kvmx_cpuid_entry2 &x) {
			if (x.function == 0x40000001)
				x.eax = 0;	// no PV features
		});
		kvmx_enable_cap cap{};
		cap.cap = KVMX_CAP_ENFORCE_PV_FEATURE_CPUID;
		cap.args[0] = enforce;
		ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_ENABLE_CAP, &cap), 0);
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		uint32_t ret;
		std::memcpy(&ret, e.mem->at(0x3000, 4), 4);
		kvmx_regs r = e.regs();
		if (enforce) {
			EXPECT_EQ(ret, uint32_t(-1000)) << "-KVM_ENOSYS";
			EXPECT_EQ(r.rbx, kGpMark) << "kvmclock's MSR is not there";
		} else {
			EXPECT_EQ(ret, 0u);
			EXPECT_EQ(r.rip, 0x1016u) << "kvmclock's MSR read";
		}
	}
}

// PV steal time: the guest names its area (MSR_KVM_STEAL_TIME) and the
// host keeps it before entries, with an even version that moves.
TEST_P(CpuFeatures, StealTimeAreaIsKeptByTheHost)
{
	// mov ecx,0x4b564d03 ; mov eax,0x3001 ; xor edx,edx ; wrmsr ; hlt ; hlt
	Env e(GetParam());
	e.real_mode({ 0x66, 0xb9, 0x03, 0x4d, 0x56, 0x4b, 0x66, 0xb8, 0x01, 0x30, 0x00, 0x00,
		      0x66, 0x31, 0xd2, 0x0f, 0x30, 0xf4, 0xf4 });
	bool offered = false;
	set_cpuid(e, [&](kvmx_cpuid_entry2 &x) {
		if (x.function == 0x40000001)
			offered = x.eax & (1u << 5);	// KVM_FEATURE_STEAL_TIME
	});
	ASSERT_TRUE(offered);
	struct Area {
		uint64_t steal;
		uint32_t version, flags;
		uint8_t preempted;
	};
	auto area = [&] {
		Area a;
		std::memcpy(&a, e.mem->at(0x3000, sizeof(a)), sizeof(a));
		return a;
	};
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(get_msr(e.vcpu.get(), 0x4b564d03), 0x3001u);
	Area first = area();
	EXPECT_GE(first.version, 2u);
	EXPECT_EQ(first.version % 2, 0u);
	EXPECT_EQ(first.preempted, 0);
	ASSERT_EQ(e.run_once(), 0);
	Area second = area();
	EXPECT_GT(second.version, first.version) << "updated at the next run";
	EXPECT_EQ(second.version % 2, 0u);
	EXPECT_GE(second.steal, first.steal);
	// Reserved bits are refused.
	rig::Msrs m(1);
	m->entries[0] = { 0x4b564d03, 0, 0x3000 | (1u << 2) };
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_MSRS, m.get()), 0);
}

// KVM_GET_STATS_FD on the VM and the vCPU: KVM's binary format (header,
// id, descriptors, data), read whole and by pread; "exits" counts the run.
TEST_P(CpuFeatures, BinaryStatsFdsDescribeTheCounters)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });
	ASSERT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_BINARY_STATS_FD), 1);
	ASSERT_EQ(e.run_once(), 0);
	for (int owner : { e.vm.get(), e.vcpu.get() }) {
		kvmx::Fd fd(::ioctl(owner, KVMX_GET_STATS_FD, 0));
		ASSERT_TRUE(fd) << std::strerror(errno);
		kvmx_stats_header h{};
		ASSERT_EQ(::read(fd.get(), &h, sizeof(h)), ssize_t(sizeof(h)));
		EXPECT_EQ(h.flags, 0u);
		ASSERT_EQ(h.name_size, unsigned(KVMX_STATS_NAME_SIZE));
		ASSERT_GT(h.num_desc, 0u);
		std::vector<char> id(h.name_size);
		ASSERT_EQ(::pread(fd.get(), id.data(), id.size(), h.id_offset), ssize_t(id.size()));
		EXPECT_EQ(std::string(id.data(), 3), "kvm");
		const size_t dsize = sizeof(kvmx_stats_desc) + h.name_size;
		std::vector<char> descs(dsize * h.num_desc);
		ASSERT_EQ(::pread(fd.get(), descs.data(), descs.size(), h.desc_offset),
			  ssize_t(descs.size()));
		size_t data_size = 0;
		uint64_t exits = 0;
		bool saw_exits = false;
		for (uint32_t i = 0; i < h.num_desc; i++) {
			const auto *d = reinterpret_cast<const kvmx_stats_desc *>(descs.data() + i * dsize);
			ASSERT_GT(d->size, 0u) << d->name;
			data_size += d->size * 8;
			if (owner == e.vcpu.get() && std::string(d->name) == "exits") {
				std::vector<uint64_t> v(d->size);
				ASSERT_EQ(::pread(fd.get(), v.data(), v.size() * 8, h.data_offset + d->offset),
					  ssize_t(v.size() * 8));
				for (uint64_t x : v)
					exits += x;
				saw_exits = true;
			}
		}
		std::vector<uint64_t> data(data_size / 8);
		EXPECT_EQ(::pread(fd.get(), data.data(), data_size, h.data_offset), ssize_t(data_size));
		if (owner == e.vcpu.get()) {
			EXPECT_TRUE(saw_exits);
			EXPECT_GE(exits, 1u) << "the HLT";
		}
		EXPECT_EQ(::write(fd.get(), &h, 1), -1) << "read-only";
	}
	// The vCPU's stats fd outlives the vCPU's fd and the VM's.
	kvmx::Fd stats(::ioctl(e.vcpu.get(), KVMX_GET_STATS_FD, 0));
	ASSERT_TRUE(stats);
	e.vcpu.reset();
	e.vm.reset();
	kvmx_stats_header h{};
	EXPECT_EQ(::pread(stats.get(), &h, sizeof(h), 0), ssize_t(sizeof(h)));
}

INSTANTIATE_TEST_SUITE_P(Devices, CpuFeatures, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

} // namespace
