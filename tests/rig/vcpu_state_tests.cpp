// The vCPU state a VMM saves, restores and injects (issue 15: what QEMU
// needs), on /dev/kvmx and /dev/kvm side by side: MP state, vCPU events,
// NMIs, debug registers, XSAVE/XCRs, TSC rate, the signal mask, the MTRRs,
// the TPR exit.  Round trips must agree and injected events must reach the
// guest the same way on both.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "rig_env.hpp"
#include "system.hpp"

using rig::Env;
using rig::ioctl_errno;

namespace {

class VcpuState : public testing::TestWithParam<std::string> {};

// Real mode: vector @vec's IVT entry points at 0:@handler, which holds @code.
void set_handler(Env &e, unsigned vec, uint16_t handler, std::vector<uint8_t> code)
{
	uint16_t ivt[2] = { handler, 0 };
	e.mem->write(vec * 4, std::vector<uint8_t>(reinterpret_cast<uint8_t *>(ivt),
						   reinterpret_cast<uint8_t *>(ivt) + 4));
	e.mem->write(handler, code);
}

TEST_P(VcpuState, MpStateIsRunnableWithoutAnInKernelApic)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx_mp_state s{ 0xff };
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_MP_STATE, &s), 0);
	EXPECT_EQ(s.mp_state, (unsigned)KVMX_MP_STATE_RUNNABLE);
	s.mp_state = KVMX_MP_STATE_RUNNABLE;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_MP_STATE, &s), 0);
	for (uint32_t bad : { uint32_t(KVMX_MP_STATE_HALTED), uint32_t(KVMX_MP_STATE_UNINITIALIZED),
			      uint32_t(KVMX_MP_STATE_SIPI_RECEIVED), 1000u }) {
		s.mp_state = bad;
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_MP_STATE, &s), EINVAL) << bad;
	}
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_MP_STATE, nullptr), EFAULT);
}

// An exception and an interrupt set with KVM_SET_VCPU_EVENTS are delivered
// through the IVT at the next entry; NMI masking and the STI shadow read
// back as written.
TEST_P(VcpuState, EventsRoundTripAndReachTheGuest)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });				// hlt (never reached first)
	set_handler(e, 6, 0x1100, { 0xb8, 0x66, 0x00, 0xf4 });	// mov ax, 0x66 ; hlt
	kvmx_vcpu_events ev{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_VCPU_EVENTS, &ev), 0);
	EXPECT_EQ(ev.flags, unsigned(KVMX_VCPUEVENT_VALID_NMI_PENDING | KVMX_VCPUEVENT_VALID_SHADOW |
				     KVMX_VCPUEVENT_VALID_SMM));
	EXPECT_FALSE(ev.exception.injected);
	EXPECT_FALSE(ev.interrupt.injected);
	EXPECT_FALSE(ev.nmi.masked);

	ev.exception.injected = 1;
	ev.exception.nr = 6;
	ev.nmi.masked = 1;
	ev.flags = KVMX_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = 0;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), 0);
	kvmx_vcpu_events back{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_VCPU_EVENTS, &back), 0);
	EXPECT_TRUE(back.exception.injected);
	EXPECT_EQ(back.exception.nr, 6);
	EXPECT_TRUE(back.nmi.masked);

	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffff, 0x66u) << "the #UD handler did not run";
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_VCPU_EVENTS, &back), 0);
	EXPECT_FALSE(back.exception.injected) << "delivered, so no longer in flight";

	// An interrupt, with IF set: in through IVT entry 0x20.
	set_handler(e, 0x20, 0x1200, { 0xb8, 0x20, 0x20, 0xf4 });	// mov ax, 0x2020 ; hlt
	kvmx_regs r = e.regs();
	r.rflags = 0x202;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	ev = {};
	ev.interrupt.injected = 1;
	ev.interrupt.nr = 0x20;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_VCPU_EVENTS, &back), 0);
	EXPECT_TRUE(back.interrupt.injected);
	EXPECT_EQ(back.interrupt.nr, 0x20);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffff, 0x2020u) << "the interrupt handler did not run";
}

TEST_P(VcpuState, BadEventsAreRefused)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx_vcpu_events ev{};
	ev.exception.injected = 1;
	ev.exception.nr = 2;	// NMI is not an exception
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
	ev.exception.nr = 32;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
	ev = {};
	ev.flags = 0x40;	// no such flag
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
	ev.flags = KVMX_VCPUEVENT_VALID_PAYLOAD;	// KVM_CAP_EXCEPTION_PAYLOAD not enabled
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
	ev.flags = KVMX_VCPUEVENT_VALID_TRIPLE_FAULT;	// not enabled either
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, nullptr), EFAULT);
}

// KVM_NMI: delivered through IVT entry 2, blocked until the handler's IRET;
// two queued before the run both arrive (KVM keeps up to two pending).
TEST_P(VcpuState, NmisAreDeliveredAndBlockedUntilIret)
{
	Env e(GetParam());
	// 1: out 0x11, al ; jmp 1b
	e.real_mode({ 0xe6, 0x11, 0xeb, 0xfc });
	// inc bx ; out 0x10, al ; iret
	set_handler(e, 2, 0x1100, { 0x43, 0xe6, 0x10, 0xcf });
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_NMI, nullptr), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_NMI, nullptr), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_NMI, nullptr), 0);	// merged
	std::vector<unsigned> ports;
	for (int i = 0; i < 6; i++) {
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
		ports.push_back(e.run->io.port);
		if (e.run->io.port == 0x10) {
			kvmx_vcpu_events ev{};
			ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_VCPU_EVENTS, &ev), 0);
			EXPECT_TRUE(ev.nmi.masked) << "in the NMI handler, before IRET";
		}
	}
	EXPECT_EQ(ports, (std::vector<unsigned>{ 0x10, 0x10, 0x11, 0x11, 0x11, 0x11 }));
	EXPECT_EQ(e.regs().rbx & 0xffff, 2u);
}

TEST_P(VcpuState, DebugRegsRoundTripAndReachTheGuest)
{
	Env e(GetParam());
	// mov eax, dr0 ; mov ebx, dr7 ; mov ecx, dr6 ; hlt
	e.real_mode({ 0x0f, 0x21, 0xc0, 0x0f, 0x21, 0xfb, 0x0f, 0x21, 0xf1, 0xf4 });
	kvmx_debugregs d{};
	d.db[0] = 0x12345;
	d.db[3] = 0xabcdef;
	d.dr6 = 0xffff0ff1;
	d.dr7 = 0x400;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEBUGREGS, &d), 0);
	kvmx_debugregs g{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_DEBUGREGS, &g), 0);
	EXPECT_EQ(g.db[0], 0x12345u);
	EXPECT_EQ(g.db[3], 0xabcdefu);
	EXPECT_EQ(g.dr6, 0xffff0ff1u);
	EXPECT_EQ(g.dr7, 0x400u);
	EXPECT_EQ(g.flags, 0u);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	auto r = e.regs();
	EXPECT_EQ(r.rax & 0xffffffff, 0x12345u);
	EXPECT_EQ(r.rbx & 0xffffffff, 0x400u);
	EXPECT_EQ(r.rcx & 0xffffffff, 0xffff0ff1u);

	d.flags = 1;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEBUGREGS, &d), EINVAL);
	d.flags = 0;
	d.dr7 = 1ULL << 32;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEBUGREGS, &d), EINVAL);
	d.dr7 = 0x400;
	d.dr6 = 1ULL << 40;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_DEBUGREGS, &d), EINVAL);
}

// XCR0 set by the VMM is what XGETBV in the guest reads; bad values fail.
// Where the host kernel runs without XSAVE (the rig's: Debian's 6.1 turns it
// off on Bochs' Skylake-X layout) there are no XCRs at all, on both devices.
TEST_P(VcpuState, XcrsRoundTripAndReachTheGuest)
{
	Env e(GetParam());
	// xor ecx, ecx ; xgetbv ; hlt
	e.real_mode({ 0x66, 0x31, 0xc9, 0x0f, 0x01, 0xd0, 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.cr4 |= 1u << 18;	// OSXSAVE
	kvmx_xcrs x{};
	if (::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_XCRS) <= 0) {
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SREGS, &s), EINVAL) << "CR4.OSXSAVE";
		x.nr_xcrs = 5;
		ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_XCRS, &x), 0);
		EXPECT_EQ(x.nr_xcrs, 0u);
		x.nr_xcrs = 1;
		x.xcrs[0].value = 1;
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XCRS, &x), EINVAL);
		return;
	}
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_XCRS, &x), 0);
	ASSERT_EQ(x.nr_xcrs, 1u);
	EXPECT_EQ(x.xcrs[0].xcr, 0u);
	EXPECT_EQ(x.xcrs[0].value, 1u) << "x87 only after reset";
	x.xcrs[0].value = 3;	// x87 | SSE
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XCRS, &x), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffffffff, 3u);
	EXPECT_EQ(e.regs().rdx & 0xffffffff, 0u);

	for (uint64_t bad : { 0ULL, 2ULL, 1ULL << 62 }) {
		x.xcrs[0].value = bad;
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XCRS, &x), EINVAL) << bad;
	}
	x.xcrs[0].value = 3;
	x.flags = 1;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XCRS, &x), EINVAL);
	x.flags = 0;
	x.nr_xcrs = KVMX_MAX_XCRS + 1;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XCRS, &x), EINVAL);
}

// XMM0 written through KVM_SET_XSAVE is what the guest reads.
TEST_P(VcpuState, XsaveCarriesTheGuestsSseState)
{
	Env e(GetParam());
	// movd eax, xmm0 ; hlt
	e.real_mode({ 0x66, 0x0f, 0x7e, 0xc0, 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.cr4 |= 1u << 9;	// OSFXSR
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	auto x = std::make_unique<kvmx_xsave>();
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_XSAVE, x.get()), 0);
	EXPECT_EQ(x->region[6], 0x1f80u) << "MXCSR after reset";
	x->region[160 / 4] = 0xc0ffee11;	// XMM0, low dword (legacy area offset 160)
	x->region[512 / 4] |= 2;		// XSTATE_BV: SSE state is in the buffer
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XSAVE, x.get()), 0);
	auto back = std::make_unique<kvmx_xsave>();
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_XSAVE, back.get()), 0);
	EXPECT_EQ(back->region[160 / 4], 0xc0ffee11u);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffffffff, 0xc0ffee11u);

	// A reserved XSTATE_BV bit and a reserved MXCSR bit are refused.
	x->region[512 / 4 + 1] |= 1u << 31;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XSAVE, x.get()), EINVAL);
	x->region[512 / 4 + 1] &= ~(1u << 31);
	x->region[6] = 0xffffffff;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_XSAVE, x.get()), EINVAL);
}

TEST_P(VcpuState, TscKhzIsTheHostsAndTheHostsRateIsAccepted)
{
	Env e(GetParam());
	e.make_vcpu();
	int khz = ::ioctl(e.vcpu.get(), KVMX_GET_TSC_KHZ, 0);
	ASSERT_GT(khz, 0) << std::strerror(errno);
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_TSC_KHZ, (unsigned long)khz), 0);
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_TSC_KHZ, 0), khz);
}

// kvmx does not scale the TSC: another rate is refused (kvm_intel scales).
TEST(KvmxVcpuState, OtherTscRatesAreRefused)
{
	Env e("/dev/kvmx");
	e.make_vcpu();
	int khz = ::ioctl(e.vcpu.get(), KVMX_GET_TSC_KHZ, 0);
	ASSERT_GT(khz, 0);
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_TSC_KHZ, (unsigned long)khz / 2), -1);
	EXPECT_EQ(errno, EINVAL);
}

// kvmx has no SMM: a VMM can't put the vCPU in it (kvm_intel can).
TEST(KvmxVcpuState, SmmIsRefused)
{
	Env e("/dev/kvmx");
	e.make_vcpu();
	kvmx_vcpu_events ev{};
	ev.flags = KVMX_VCPUEVENT_VALID_SMM;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), 0) << "SMM off is fine";
	ev.smi.pending = 1;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_VCPU_EVENTS, &ev), EINVAL);
}

// KVM_SET_SIGNAL_MASK: the thread keeps SIGUSR1 blocked, KVM_RUN unblocks
// it, so a SIGUSR1 ends the run; afterwards the thread's mask is back.
TEST_P(VcpuState, SignalMaskAppliesOnlyInsideRun)
{
	Env e(GetParam());
	e.real_mode({ 0xfb, 0x40, 0xeb, 0xfd });	// sti ; 1: inc ax ; jmp 1b
	alignas(8) uint8_t buf[sizeof(kvmx_signal_mask) + 8] = {};
	auto *m = reinterpret_cast<kvmx_signal_mask *>(buf);
	m->len = 7;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SIGNAL_MASK, m), EINVAL);
	m->len = 8;	// every signal unblocked in KVM_RUN
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SIGNAL_MASK, m), 0);

	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
	EXPECT_EQ(rig::run_kicked(e), EINTR);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_INTR);
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, nullptr, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1)) << "the thread's own mask is back";
	// The kick is still pending for the thread: take it before unblocking.
	timespec zero{};
	while (sigtimedwait(&usr1, nullptr, &zero) == SIGUSR1)
		;
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SIGNAL_MASK, nullptr), 0) << "mask off";
}

// MTRRs round-trip as KVM keeps them; an invalid type stops SET_MSRS there.
TEST_P(VcpuState, MtrrsRoundTrip)
{
	Env e(GetParam());
	e.make_vcpu();
	rig::Msrs m(6);
	m->entries[0] = { 0x2ff, 0, 0xc06 };			// def type: E, FE, WB
	m->entries[1] = { 0x250, 0, 0x0606060606060606ULL };	// fixed 64K
	m->entries[2] = { 0x26f, 0, 0x0505050505050505ULL };	// fixed 4K_F8000
	m->entries[3] = { 0x200, 0, 0x80000000ULL };		// var base 0: UC
	m->entries[4] = { 0x201, 0, 0xf80000800ULL };		// var mask 0: 2 GiB, valid
	m->entries[5] = { 0x2ff, 0, 0xc02 };			// type 2 is reserved
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_MSRS, m.get()), 5);
	m->nmsrs = 6;
	m->entries[5] = { 0xfe, 0, 0 };				// MTRRCAP
	for (int i = 0; i < 5; i++)
		m->entries[i].data = 0;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_MSRS, m.get()), 6);
	EXPECT_EQ(m->entries[0].data, 0xc06u);
	EXPECT_EQ(m->entries[1].data, 0x0606060606060606ULL);
	EXPECT_EQ(m->entries[2].data, 0x0505050505050505ULL);
	EXPECT_EQ(m->entries[3].data, 0x80000000ULL);
	EXPECT_EQ(m->entries[4].data, 0xf80000800ULL);
	EXPECT_EQ(m->entries[5].data, 0x508u) << "8 variable ranges, fixed ranges, WC";
}

// The guest's machine-check architecture: KVM_X86_SETUP_MCE sets MCG_CAP
// and the banks' controls; an uncorrected error from KVM_X86_SET_MCE is
// logged in its bank and raises #MC, or shuts the guest down when CR4.MCE
// is clear.
TEST_P(VcpuState, MachineChecksTheVmmReports)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });
	set_handler(e, 18, 0x1100, { 0xb8, 0x12, 0x00, 0xf4 });	// mov ax, 0x12 ; hlt
	uint64_t supported = 0;
	ASSERT_EQ(ioctl_errno(e.sys.get(), KVMX_X86_GET_MCE_CAP_SUPPORTED, &supported), 0);
	EXPECT_EQ(supported & 0x1000100, 0x1000100u) << "MCG_CTL_P and MCG_SER_P";
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_MCE), 32);
	for (uint64_t bad : { 0x100ULL, 0x100ULL | 33, 0x10aULL | (1ULL << 11) })
		EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SETUP_MCE, &bad), EINVAL) << bad;
	uint64_t cap = 0x10a;	// MCG_CTL_P, 10 banks
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SETUP_MCE, &cap), 0);

	rig::Msrs m(4);
	m->entries[0] = { 0x179, 0, 0 };	// MCG_CAP
	m->entries[1] = { 0x17b, 0, 0 };	// MCG_CTL
	m->entries[2] = { 0x404, 0, 0 };	// MC1_CTL
	m->entries[3] = { 0x428, 0, 0 };	// MC10_CTL: beyond 10 banks
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_MSRS, m.get()), 3);
	EXPECT_EQ(m->entries[0].data, 0x10au);
	EXPECT_EQ(m->entries[1].data, ~0ULL);
	EXPECT_EQ(m->entries[2].data, ~0ULL);

	kvmx_x86_mce mce{};
	mce.status = (1ULL << 63) | (1ULL << 61) | 0x17;	// VAL, UC
	mce.addr = 0x123000;
	mce.mcg_status = 5;	// RIPV, MCIP
	mce.bank = 10;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SET_MCE, &mce), EINVAL) << "no bank 10";
	mce.bank = 1;
	mce.status &= ~(1ULL << 63);
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SET_MCE, &mce), EINVAL) << "not valid";
	mce.status |= 1ULL << 63;

	kvmx_sregs s{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.cr4 |= 1u << 6;	// MCE
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SET_MCE, &mce), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffff, 0x12u) << "the #MC handler did not run";
	m->nmsrs = 3;
	m->entries[0] = { 0x17a, 0, 0 };	// MCG_STATUS
	m->entries[1] = { 0x405, 0, 0 };	// MC1_STATUS
	m->entries[2] = { 0x406, 0, 0 };	// MC1_ADDR
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_MSRS, m.get()), 3);
	EXPECT_EQ(m->entries[0].data, 5u);
	EXPECT_EQ(m->entries[1].data, mce.status);
	EXPECT_EQ(m->entries[2].data, 0x123000u);

	// A second one while MCIP is set: shutdown.
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_X86_SET_MCE, &mce), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_SHUTDOWN);
}

// Without an in-kernel APIC a guest lowering CR8 exits (KVM_EXIT_SET_TPR),
// and kvm_run.cr8 carries the TPR both ways.
TEST_P(VcpuState, LoweringCr8ExitsToTheVmm)
{
	Env e(GetParam());
	// mov rbx, cr8 ; mov eax, 5 ; mov cr8, rax ; xor eax, eax ; mov cr8, rax ; hlt
	e.long_mode({ 0x44, 0x0f, 0x20, 0xc3, 0xb8, 0x05, 0x00, 0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0,
		      0x31, 0xc0, 0x44, 0x0f, 0x22, 0xc0, 0xf4 });
	e.run->cr8 = 7;
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_SET_TPR);
	EXPECT_EQ(e.run->cr8, 5u);
	EXPECT_EQ(e.regs().rbx, 7u) << "the guest reads the TPR the VMM put in kvm_run";
	EXPECT_EQ(e.regs().rip, 0x100du);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_SET_TPR);
	EXPECT_EQ(e.run->cr8, 0u);
	EXPECT_EQ(e.regs().rip, 0x1013u);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
}

// The bits KVM_GET_DIRTY_LOG returns for slot 0: the set ones, as page numbers.
std::vector<unsigned> dirty_pages(Env &e, int *err = nullptr)
{
	uint64_t bits[(1 << 20) / 4096 / 64] = {};
	kvmx_dirty_log log{};
	log.slot = 0;
	log.dirty_bitmap = bits;
	int r = ioctl_errno(e.vm.get(), KVMX_GET_DIRTY_LOG, &log);
	if (err)
		*err = r;
	else
		EXPECT_EQ(r, 0) << std::strerror(r);
	std::vector<unsigned> pages;
	for (unsigned i = 0; i < 256; i++)
		if (bits[i / 64] & (1ULL << (i % 64)))
			pages.push_back(i);
	return pages;
}

// Dirty logging, as QEMU uses it for VGA memory and migration: turned on
// for a slot in place, the pages the guest writes (directly, or through an
// instruction the hypervisor emulates) are reported once per write phase,
// and again after they are written again.
TEST_P(VcpuState, DirtyLogReportsWrittenPages)
{
	Env e(GetParam());
	// mov byte [0x3000], 1 ; mov byte [0x5000], 2 ; mov di, 0x6000 ; mov dx, 0x10 ;
	// insb ; hlt
	e.real_mode({ 0xc6, 0x06, 0x00, 0x30, 0x01, 0xc6, 0x06, 0x00, 0x50, 0x02, 0xbf, 0x00, 0x60,
		      0xba, 0x10, 0x00, 0x6c, 0xf4 });
	int err = 0;
	dirty_pages(e, &err);
	EXPECT_EQ(err, ENOENT) << "not logging yet";
	ASSERT_EQ(e.set_region(0, 0, 1 << 20, e.mem->host(), KVMX_MEM_LOG_DIRTY_PAGES), 0);
	EXPECT_EQ(e.set_region(0, 0, 1 << 20, e.mem->host(), KVMX_MEM_LOG_DIRTY_PAGES |
			       KVMX_MEM_READONLY), EINVAL) << "READONLY can't change in place";
	EXPECT_TRUE(dirty_pages(e).empty());

	for (int round = 0; round < 2; round++) {
		kvmx_regs r = e.regs();
		r.rip = 0x1000;
		ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);	// the INSB
		*(reinterpret_cast<uint8_t *>(e.run) + e.run->io.data_offset) = 0x77;
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		EXPECT_EQ(e.mem->host()[0x6000], 0x77);
		// Pages 3 and 5 written directly, 6 by the emulated INSB.  More may be
		// reported (kvm_intel reports the code page too), never fewer, and
		// never a page nobody touched.
		auto d = dirty_pages(e);
		for (unsigned p : { 3u, 5u, 6u })
			EXPECT_NE(std::find(d.begin(), d.end(), p), d.end()) << p << ", round " << round;
		for (unsigned p : d)
			EXPECT_TRUE(p <= 1 || p == 3 || p == 5 || p == 6) << p << ", round " << round;
		EXPECT_TRUE(dirty_pages(e).empty()) << "cleared by the read, round " << round;
	}

	ASSERT_EQ(e.set_region(0, 0, 1 << 20, e.mem->host()), 0);	// logging off
	dirty_pages(e, &err);
	EXPECT_EQ(err, ENOENT);
	kvmx_dirty_log log{};
	log.slot = 40000;	// beyond KVM's slot ids
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_DIRTY_LOG, &log), EINVAL);
	log.slot = 2u << 16;	// no third address space
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_DIRTY_LOG, &log), EINVAL);
	for (uint32_t slot : { 5u, 1000u, 1u << 16 }) {
		log.slot = slot;
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_DIRTY_LOG, &log), ENOENT) << slot;
	}
	// The guest still runs with logging off, and writes still land.
	kvmx_regs r = e.regs();
	r.rip = 0x1000;
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	e.mem->host()[0x3000] = 0;
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.mem->host()[0x3000], 1);
}

// kvmclock: the KVM leaves advertise it; a guest that writes
// MSR_KVM_SYSTEM_TIME_NEW gets a time info from which the VM's clock
// (KVM_GET_CLOCK) follows with its TSC; KVM_SET_CLOCK moves that clock; the
// wall clock plus the clock is the real time.
TEST_P(VcpuState, KvmclockFollowsTheVmsClock)
{
	Env e(GetParam());
	// mov ecx, 0x4b564d01 ; mov eax, 0x3001 ; xor edx, edx ; wrmsr ;
	// mov ecx, 0x4b564d00 ; mov eax, 0x4000 ; wrmsr ; hlt
	e.real_mode({ 0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b, 0x66, 0xb8, 0x01, 0x30, 0x00, 0x00,
		      0x66, 0x31, 0xd2, 0x0f, 0x30, 0x66, 0xb9, 0x00, 0x4d, 0x56, 0x4b, 0x66, 0xb8,
		      0x00, 0x40, 0x00, 0x00, 0x0f, 0x30, 0xf4 });
	auto supported = kvmx::System(GetParam()).supported_cpuid();
	bool sig = false, clock = false;
	for (const auto &c : supported) {
		if (c.function == 0x40000000)
			sig = !std::memcmp(&c.ebx, "KVMK", 4) && !std::memcmp(&c.ecx, "VMKV", 4);
		if (c.function == 0x40000001)
			clock = (c.eax & 0xb) == 0xb;	// CLOCKSOURCE, NOP_IO_DELAY, CLOCKSOURCE2
	}
	EXPECT_TRUE(sig && clock) << "KVM's CPUID leaves";
	EXPECT_GT(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_ADJUST_CLOCK), 0);
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_NOP_IO_DELAY), 1);

	kvmx_clock_data c{};
	c.clock = 1000000000000ULL;	// 1000 s
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_CLOCK, &c), 0);
	c.flags = 1u << 8;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_CLOCK, &c), EINVAL);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	kvmx_clock_data now{};
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_CLOCK, &now), 0);
	EXPECT_GE(now.clock, 1000000000000ULL);
	EXPECT_LT(now.clock, 1000000000000ULL + 60000000000ULL) << "the clock moved from 1000 s";

	struct {
		uint32_t version, pad0;
		uint64_t tsc_timestamp, system_time;
		uint32_t mul;
		int8_t shift;
		uint8_t flags, pad[2];
	} __attribute__((packed)) t;
	static_assert(sizeof(t) == 32);
	std::memcpy(&t, e.mem->host() + 0x3000, sizeof(t));
	EXPECT_EQ(t.version % 2, 0u);
	EXPECT_GT(t.version, 0u);
	EXPECT_NE(t.mul, 0u);
	EXPECT_LE(t.system_time, now.clock);
	EXPECT_GE(t.system_time, 1000000000000ULL);
	// The guest's reading now, from its TSC: within 100 ms of the VM's clock.
	rig::Msrs m(1);
	m->entries[0] = { 0x10, 0, 0 };	// IA32_TSC
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_MSRS, m.get()), 1);
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_CLOCK, &now), 0);
	uint64_t delta = m->entries[0].data - t.tsc_timestamp;
	delta = t.shift < 0 ? delta >> -t.shift : delta << t.shift;
	uint64_t guest_ns = t.system_time + uint64_t((unsigned __int128)delta * t.mul >> 32);
	EXPECT_NEAR(double(guest_ns), double(now.clock), 1e8);

	struct {
		uint32_t version, sec, nsec;
	} wc;
	std::memcpy(&wc, e.mem->host() + 0x4000, sizeof(wc));
	EXPECT_EQ(wc.version % 2, 0u);
	EXPECT_GT(wc.version, 0u);
	timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	double wall = wc.sec + wc.nsec * 1e-9 + now.clock * 1e-9;
	EXPECT_NEAR(wall, real.tv_sec + real.tv_nsec * 1e-9, 2.0) << "boot time + clock = now";
}

// What QEMU requires at start-up, and GSI routing refused without an irqchip.
TEST_P(VcpuState, QemusRequiredCapabilities)
{
	Env e(GetParam());
	for (int cap : { KVMX_CAP_MP_STATE, KVMX_CAP_IRQ_ROUTING, KVMX_CAP_VCPU_EVENTS,
			 KVMX_CAP_DEBUGREGS, KVMX_CAP_GET_TSC_KHZ,
			 KVMX_CAP_USER_NMI, KVMX_CAP_SET_TSS_ADDR, KVMX_CAP_EXT_CPUID, KVMX_CAP_MCE })
		EXPECT_GT(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, cap), 0) << cap;
	kvmx_irq_routing r{};
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, &r), EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Devices, VcpuState, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

} // namespace
