// The VM/vCPU API on /dev/kvmx and on /dev/kvm, side by side: bad input
// gets a clean errno, guest-visible behaviour matches.  Each test runs once
// per device (parameter); a few check kvmx-only promises.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fd.hpp"
#include "guest_memory.hpp"
#include "machine.hpp"
#include "rig_env.hpp"
#include "system.hpp"

using kvmx::Fd;
using rig::Env;

namespace {

class Api : public testing::TestWithParam<std::string> {};

// One of kvmx's accounting counters (sysfs): what the module holds now.
long acct(const char *name)
{
	std::ifstream f(std::string("/sys/class/misc/kvmx/accounting/") + name);
	long v = -1;
	f >> v;
	return v;
}

bool is_kvmx(const std::string &dev) { return dev == "/dev/kvmx"; }

TEST_P(Api, OverlappingSlotsAreRefused)
{
	Env e(GetParam());
	auto *other = e.mem->host();
	EXPECT_EQ(e.set_region(1, 0x80000, 0x100000, other), EEXIST);
	EXPECT_EQ(e.set_region(1, 0x100000, 0x10000, other), 0);	// adjacent is fine
}

// KVM_ENABLE_CAP(KVM_CAP_MAX_VCPU_ID): a lower limit on vCPU IDs, set once
// (the same value again is fine) and only up to what CHECK_EXTENSION says.
TEST_P(Api, MaxVcpuIdCapLimitsVcpuIds)
{
	Env e(GetParam());
	int max = ::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_MAX_VCPU_ID);
	ASSERT_GT(max, 2);
	kvmx_enable_cap cap{};
	cap.cap = KVMX_CAP_MAX_VCPU_ID;
	cap.args[0] = uint64_t(max) + 1;
	EXPECT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "beyond the cap";
	cap.args[0] = 2;
	ASSERT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), 0);
	EXPECT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), 0) << "the same again";
	cap.args[0] = 3;
	EXPECT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "a second value";
	Fd two(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 2));
	EXPECT_FALSE(two) << "ID 2 with a limit of 2";
	EXPECT_EQ(errno, EINVAL);
	Fd one(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 1));
	EXPECT_TRUE(one);

	// The first vCPU fixes the limit at the maximum.
	Env f(GetParam());
	f.make_vcpu();
	cap.args[0] = 2;
	EXPECT_EQ(rig::ioctl_errno(f.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "after a vCPU";
}

TEST_P(Api, UnalignedSlotsAreRefused)
{
	Env e(GetParam());
	auto *h = e.mem->host();
	EXPECT_EQ(e.set_region(1, 0x200800, 0x1000, h), EINVAL);
	EXPECT_EQ(e.set_region(1, 0x200000, 0x800, h), EINVAL);
	EXPECT_EQ(e.set_region(1, 0x200000, 0x1000, h + 8), EINVAL);
}

TEST_P(Api, OversizedAndOverflowingSlotsAreRefused)
{
	Env e(GetParam());
	EXPECT_EQ(e.set_region(1, 0xfffffffffffff000ULL, 0x2000, e.mem->host()), EINVAL);
	EXPECT_NE(e.set_region(1, 0x100000000ULL, 1ULL << 62, e.mem->host()), 0);
	// Kernel addresses are not userspace memory.
	EXPECT_EQ(e.set_region(2, 0x300000, 0x1000, reinterpret_cast<void *>(0xffff888000000000ULL)),
		  EINVAL);
}

TEST_P(Api, BadSlotIdAndFlagsAreRefused)
{
	Env e(GetParam());
	EXPECT_EQ(e.set_region(100000, 0x200000, 0x1000, e.mem->host()), EINVAL);
	EXPECT_EQ(e.set_region(1, 0x200000, 0x1000, e.mem->host(), 0x80), EINVAL);
}

TEST_P(Api, ZeroSizedSlotDeletesAndResizeIsRefused)
{
	Env e(GetParam());
	EXPECT_EQ(e.set_region(5, 0x400000, 0, nullptr), EINVAL);	// nothing to delete
	EXPECT_EQ(e.set_region(0, 0, 0x2000, e.mem->host()), EINVAL);	// resize
	EXPECT_EQ(e.set_region(0, 0, 0, nullptr), 0);			// delete
	EXPECT_EQ(e.set_region(0, 0, 0x2000, e.mem->host()), 0);	// and again
}

TEST_P(Api, VcpuIdsAreChecked)
{
	Env e(GetParam());
	Fd a(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 0));
	ASSERT_TRUE(a);
	errno = 0;
	Fd b(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 0));
	EXPECT_FALSE(b);
	EXPECT_EQ(errno, EEXIST);
	int max_id = ::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_MAX_VCPU_ID);
	ASSERT_GT(max_id, 0);
	Fd c(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, max_id));
	EXPECT_FALSE(c);
	EXPECT_EQ(errno, EINVAL);
}

TEST_P(Api, InvalidSregsAreRefused)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	kvmx_sregs bad = s;
	bad.cr0 |= 1ULL << 31;	// PG without PE
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &bad), -1);
	EXPECT_EQ(errno, EINVAL);
	bad = s;
	bad.cs.l = 1;		// 64-bit code outside long mode
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &bad), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_P(Api, ResetStateIsArchitectural)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	kvmx_regs r = e.regs();
	EXPECT_EQ(r.rip, 0xfff0u);
	EXPECT_EQ(r.rflags, 2u);
	EXPECT_EQ(s.cs.selector, 0xf000);
	EXPECT_EQ(s.cs.base, 0xffff0000u);
	EXPECT_EQ(s.cr0, 0x60000010u);
	EXPECT_EQ(s.efer, 0u);
}

TEST_P(Api, RegsRoundTrip)
{
	Env e(GetParam());
	e.make_vcpu();
	kvmx_regs r{};
	r.rax = 1, r.rbx = 2, r.rcx = 3, r.rdx = 4, r.rsi = 5, r.rdi = 6, r.rsp = 7, r.rbp = 8;
	r.r8 = 9, r.r15 = 0xfedcba9876543210ULL, r.rip = 0x1234, r.rflags = 0x202;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	kvmx_regs g = e.regs();
	EXPECT_EQ(std::memcmp(&r, &g, sizeof(r)), 0);
}

TEST_P(Api, MsrsRoundTripAndStopAtUnknown)
{
	Env e(GetParam());
	e.make_vcpu();
	rig::Msrs m(3);
	m->entries[0] = { 0xc0000082, 0, 0xffffffff81000000ULL };	// LSTAR
	m->entries[1] = { 0xc0000102, 0, 0x1234000 };			// KERNEL_GS_BASE
	m->entries[2] = { 0x12345678, 0, 0 };				// no such MSR
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_MSRS, m.get()), 2);
	m->entries[0].data = m->entries[1].data = 0;
	m->nmsrs = 2;
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_MSRS, m.get()), 2);
	EXPECT_EQ(m->entries[0].data, 0xffffffff81000000ULL);
	EXPECT_EQ(m->entries[1].data, 0x1234000u);
}

TEST_P(Api, ImmediateExit)
{
	Env e(GetParam());
	e.real_mode({ 0xe6, 0x10, 0xf4 });	// out 0x10, al ; hlt
	e.run->immediate_exit = 1;
	EXPECT_EQ(e.run_once(), EINTR);
	EXPECT_EQ(e.regs().rip, 0x1000u) << "the guest ran";
	e.run->immediate_exit = 0;
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
}

// KVM_RUN of a guest that never exits by itself ends by the signal: EINTR
// and KVM_EXIT_INTR.
void expect_run_ends_by_signal(Env &e, const std::function<void()> &meanwhile = nullptr)
{
	EXPECT_EQ(rig::run_kicked(e, meanwhile), EINTR);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_INTR);
}

TEST_P(Api, SignalInterruptsARunningGuest)
{
	Env e(GetParam());
	// sti ; 1: inc ax ; jmp 1b -- never exits by itself.
	// The sti is for Bochs: with the guest's IF clear it never takes the
	// host's timer interrupt out of VMX non-root mode, and the rig hangs.
	e.real_mode({ 0xfb, 0x40, 0xeb, 0xfd });
	expect_run_ends_by_signal(e);
}

// Found by make stress: a guest looping on CPUID with IF=0 kept kvmx's
// interrupts-off fast path going, and on Bochs (which takes no host
// interrupt out of a guest with IF=0) the host never saw its timer again.
// The loop now gives interrupts a chance every few exits: the signal lands.
TEST_P(Api, CpuidLoopWithInterruptsOffStillTakesSignals)
{
	Env e(GetParam());
	e.real_mode({ 0xfa, 0x0f, 0xa2, 0xeb, 0xfc });	// cli ; 1: cpuid ; jmp 1b
	expect_run_ends_by_signal(e);
}

TEST_P(Api, ReadOnlySlotWritesBecomeMmio)
{
	Env e(GetParam());
	kvmx::GuestMemory rom(0x1000);
	rom.put<uint32_t>(0, 0x11223344);
	ASSERT_EQ(e.set_region(1, 0x200000, 0x1000, rom.host(), KVMX_MEM_READONLY), 0);
	// mov eax,[0x200000] (67 66 a1 imm32) ; mov [0x200000],eax (67 66 a3 imm32) ; hlt
	e.real_mode({ 0x67, 0x66, 0xa1, 0x00, 0x00, 0x20, 0x00, 0x67, 0x66, 0xa3, 0x00, 0x00, 0x20,
		      0x00, 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.ds.limit = 0xffffffff;	// "unreal" DS so 32-bit offsets are allowed
	s.ds.g = 1;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_MMIO);
	EXPECT_TRUE(e.run->mmio.is_write);
	EXPECT_EQ(e.run->mmio.phys_addr, 0x200000u);
	EXPECT_EQ(e.run->mmio.len, 4u);
	uint32_t v;
	std::memcpy(&v, e.run->mmio.data, 4);
	EXPECT_EQ(v, 0x11223344u) << "the read came from the read-only slot";
	EXPECT_EQ(rom.at(0)[0], 0x44) << "the write reached read-only memory";
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
}

TEST_P(Api, DeletingASlotUnderARunningGuest)
{
	Env e(GetParam());
	kvmx::GuestMemory extra(0x1000);
	extra.put<uint32_t>(0, 0xabcd);
	ASSERT_EQ(e.set_region(1, 0x200000, 0x1000, extra.host()), 0);
	// sti ; 1: mov eax,[0x200000] ; cmp eax,0xabcd ; je 1b ; hlt  (unreal DS)
	// (sti: see SignalInterruptsARunningGuest; the deleter needs the CPU.)
	e.real_mode({ 0xfb, 0x67, 0x66, 0xa1, 0x00, 0x00, 0x20, 0x00, 0x66, 0x3d, 0xcd, 0xab, 0x00, 0x00,
		      0x74, 0xf1, 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.ds.limit = 0xffffffff;
	s.ds.g = 1;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	std::thread deleter([&] {
		usleep(300000);
		e.set_region(1, 0x200000, 0, nullptr);
	});
	int r = e.run_once();
	deleter.join();
	ASSERT_EQ(r, 0);
	// The loop read RAM until the slot went; the next read is a device read.
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_MMIO);
	EXPECT_EQ(e.run->mmio.phys_addr, 0x200000u);
	EXPECT_FALSE(e.run->mmio.is_write);
}

// Isolation: whatever a guest reads outside its slots comes from the VMM as
// an MMIO read (never host memory), and what the VMM answers is what the
// guest sees.
TEST_P(Api, ReadsOutsideTheSlotsAreMmio)
{
	Env e(GetParam());	// 1 MiB of RAM at 0
	// mov eax,[0x100000] ; mov ebx,[0x7ff000] ; mov ecx,[0xfffff000] ; hlt  (unreal DS)
	e.real_mode({ 0x67, 0x66, 0xa1, 0x00, 0x00, 0x10, 0x00,
		      0x67, 0x66, 0x8b, 0x1d, 0x00, 0xf0, 0x7f, 0x00,
		      0x67, 0x66, 0x8b, 0x0d, 0x00, 0xf0, 0xff, 0xff, 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.ds.limit = 0xffffffff;
	s.ds.g = 1;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	const uint64_t where[] = { 0x100000, 0x7ff000, 0xfffff000 };
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_EQ(e.run_once(), 0);
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_MMIO) << "read " << i;
		EXPECT_EQ(e.run->mmio.phys_addr, where[i]);
		EXPECT_FALSE(e.run->mmio.is_write);
		EXPECT_EQ(e.run->mmio.len, 4u);
		uint32_t v = 0x5a000000u + i;
		std::memcpy(e.run->mmio.data, &v, 4);
	}
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	kvmx_regs r = e.regs();
	EXPECT_EQ(r.rax & 0xffffffff, 0x5a000000u);
	EXPECT_EQ(r.rbx & 0xffffffff, 0x5a000001u);
	EXPECT_EQ(r.rcx & 0xffffffff, 0x5a000002u);
}

// Isolation: two VMs at once, same guest-physical address, each sees only
// its own memory, and a write by one doesn't reach the other.
TEST_P(Api, TwoVmsSeeOnlyTheirOwnMemory)
{
	Env a(GetParam()), b(GetParam());
	a.mem->put<uint32_t>(0x2000, 0xaaaa5555);
	b.mem->put<uint32_t>(0x2000, 0xbbbb6666);
	// mov eax,[0x2000] ; mov dword [0x2004],eax ; hlt
	std::vector<uint8_t> code = { 0x66, 0xa1, 0x00, 0x20, 0x66, 0xa3, 0x04, 0x20, 0xf4 };
	a.real_mode(code);
	b.real_mode(code);
	ASSERT_EQ(a.run_once(), 0);
	ASSERT_EQ(b.run_once(), 0);
	EXPECT_EQ(a.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(b.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(a.regs().rax & 0xffffffff, 0xaaaa5555u);
	EXPECT_EQ(b.regs().rax & 0xffffffff, 0xbbbb6666u);
	uint32_t va, vb;
	std::memcpy(&va, a.mem->at(0x2004, 4), 4);
	std::memcpy(&vb, b.mem->at(0x2004, 4), 4);
	EXPECT_EQ(va, 0xaaaa5555u);
	EXPECT_EQ(vb, 0xbbbb6666u);
}

TEST_P(Api, CpuidComesFromSetCpuid2)
{
	Env e(GetParam());
	// mov eax,0x40000100 ; cpuid ; hlt
	e.real_mode({ 0x66, 0xb8, 0x00, 0x01, 0x00, 0x40, 0x0f, 0xa2, 0xf4 });
	alignas(8) uint8_t buf[sizeof(kvmx_cpuid2) + sizeof(kvmx_cpuid_entry2)] = {};
	auto *c = reinterpret_cast<kvmx_cpuid2 *>(buf);
	c->nent = 1;
	c->entries[0].function = 0x40000100;
	c->entries[0].eax = 0x1111;
	c->entries[0].ebx = 0x2222;
	c->entries[0].ecx = 0x3333;
	c->entries[0].edx = 0x4444;
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_CPUID2, c), 0);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	kvmx_regs r = e.regs();
	EXPECT_EQ(r.rax, 0x1111u);
	EXPECT_EQ(r.rbx, 0x2222u);
	EXPECT_EQ(r.rcx, 0x3333u);
	EXPECT_EQ(r.rdx, 0x4444u);
	// Once the vCPU ran, the same table may be set again, another one not.
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_CPUID2, c), 0);
	c->entries[0].eax = 0x1112;
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_CPUID2, c), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_P(Api, InvalidGuestStateFailsEntry)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.tr.type = 1;	// an available 16-bit TSS: TR must be busy (SDM 27.3.1.2)
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), 0);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_FAIL_ENTRY);
	// Both report the full exit reason: bit 31 (entry failed) | 33 (guest state).
	EXPECT_EQ(e.run->fail_entry.hardware_entry_failure_reason, 0x80000021u);
}

TEST_P(Api, VcpuKeepsRunningAfterTheVmFdIsClosed)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });
	e.vm.reset();
	e.sys.reset();
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
}

TEST_P(Api, VcpuIsUnusableFromAnotherProcess)
{
	Env e(GetParam());
	e.real_mode({ 0xf4 });
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(::ioctl(e.vcpu.get(), KVMX_RUN, 0) == -1 && errno == EIO ? 0 : 1);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// Every fd of a VM closed by another thread while a thread sits in its
// KVM_RUN: the run holds its own reference, so it goes on and ends by the
// signal as usual; the VM goes when the last reference (the run page's
// mapping) does, and the device is fine afterwards.
TEST_P(Api, ClosingEveryFdWhileAThreadIsInRun)
{
	auto e = std::make_unique<Env>(GetParam());
	e->real_mode({ 0xfb, 0x40, 0xeb, 0xfd });	// sti ; 1: inc ax ; jmp 1b
	const int fds[] = { e->vcpu.get(), e->vm.get(), e->sys.get() };
	expect_run_ends_by_signal(*e, [&fds] {
		for (int fd : fds)
			::close(fd);
	});
	// Closed by the other thread already: the Fd objects must not close
	// those numbers again.
	e->vcpu.release();
	e->vm.release();
	e->sys.release();
	EXPECT_EQ(::ioctl(fds[0], KVMX_GET_REGS, nullptr), -1);
	EXPECT_EQ(errno, EBADF);
	e.reset();
	if (is_kvmx(GetParam())) {
		EXPECT_EQ(acct("vms"), 0) << "the VM outlived its last reference";
	}
	Env again(GetParam());
	again.real_mode({ 0xf4 });
	ASSERT_EQ(again.run_once(), 0);
	EXPECT_EQ(again.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
}

// send_fds/recv_fds: fds over a unix socket (SCM_RIGHTS), as a VMM would
// hand a VM to a helper process.
bool send_fds(int sock, const std::vector<int> &fds)
{
	char byte = 'f';
	iovec iov{ &byte, 1 };
	std::vector<char> ctl(CMSG_SPACE(sizeof(int) * fds.size()));
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.data();
	msg.msg_controllen = ctl.size();
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
	std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
	return ::sendmsg(sock, &msg, 0) == 1;
}

std::vector<int> recv_fds(int sock, size_t n)
{
	char byte;
	iovec iov{ &byte, 1 };
	std::vector<char> ctl(CMSG_SPACE(sizeof(int) * n));
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.data();
	msg.msg_controllen = ctl.size();
	if (::recvmsg(sock, &msg, 0) != 1)
		return {};
	cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n))
		return {};
	std::vector<int> fds(n);
	std::memcpy(fds.data(), CMSG_DATA(c), sizeof(int) * n);
	return fds;
}

// Isolation: a VM's fds passed to another process (which has a VM of its
// own) reach nothing there: every VM and vCPU ioctl on them is EIO, and
// neither VM is disturbed by the attempt.
TEST_P(Api, FdsPassedToAnotherProcessReachNothing)
{
	int sp[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		::close(sp[0]);
		int why = 0;
		try {
			Env mine(GetParam());
			mine.mem->put<uint32_t>(0x2000, 0xc0ffee);
			mine.real_mode({ 0x66, 0xa1, 0x00, 0x20, 0xf4 });	// mov eax,[0x2000] ; hlt
			std::vector<int> theirs = recv_fds(sp[1], 2);	// VM, vCPU
			if (theirs.size() != 2)
				_exit(10);
			kvmx_userspace_memory_region r{ 1, 0, 0x100000, 0x1000,
							reinterpret_cast<uint64_t>(mine.mem->host()) };
			kvmx_regs regs{};
			auto eio = [](int ret) { return ret == -1 && errno == EIO; };
			if (!eio(::ioctl(theirs[0], KVMX_SET_USER_MEMORY_REGION, &r)))
				why |= 1;
			if (!eio(::ioctl(theirs[0], KVMX_CREATE_VCPU, 1)))
				why |= 2;
			if (!eio(::ioctl(theirs[1], KVMX_RUN, 0)))
				why |= 4;
			if (!eio(::ioctl(theirs[1], KVMX_GET_REGS, &regs)))
				why |= 8;
			if (mine.run_once() != 0 || mine.run->exit_reason != KVMX_EXIT_HLT ||
			    (mine.regs().rax & 0xffffffff) != 0xc0ffee)
				why |= 16;
		} catch (...) {
			why |= 32;
		}
		_exit(why);
	}
	::close(sp[1]);
	Env e(GetParam());
	e.mem->put<uint32_t>(0x2000, 0x5eed);
	e.real_mode({ 0x66, 0xa1, 0x00, 0x20, 0xf4 });
	ASSERT_TRUE(send_fds(sp[0], { e.vm.get(), e.vcpu.get() }));
	::close(sp[0]);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0)
		<< "1: slot set, 2: vCPU made, 4: run, 8: regs read through the passed fds; "
		   "16: the other process's own VM misbehaved; 32: it could not make one";
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffffffff, 0x5eedu);
}

TEST_P(Api, PortIoInCompletesOnTheNextRun)
{
	Env e(GetParam());
	// mov dx,0x1234 ; in ax,dx ; hlt
	e.real_mode({ 0xba, 0x34, 0x12, 0xed, 0xf4 });
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.run->io.direction, KVMX_EXIT_IO_IN);
	EXPECT_EQ(e.run->io.port, 0x1234);
	EXPECT_EQ(e.run->io.size, 2);
	uint16_t v = 0xbeef;
	std::memcpy(reinterpret_cast<uint8_t *>(e.run) + e.run->io.data_offset, &v, 2);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(e.regs().rax & 0xffff, 0xbeefu);
	EXPECT_EQ(e.regs().rip, 0x1005u);
}

// String stores and moves that touch device memory (firmware fills and
// copies frame buffers this way): one KVM_EXIT_MMIO per element, REP counts
// down, the registers end where the CPU leaves them, RAM gets what the
// device returned.
TEST_P(Api, StringStoresAndMovesToMmio)
{
	Env e(GetParam());
	e.long_mode({
		0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00,	// mov rdi, 0x200000
		0xb8, 0x44, 0x33, 0x22, 0x11,			// mov eax, 0x11223344
		0xb9, 0x03, 0x00, 0x00, 0x00,			// mov ecx, 3
		0xf3, 0xab,					// rep stosd
		0x48, 0xc7, 0xc6, 0x10, 0x00, 0x20, 0x00,	// mov rsi, 0x200010
		0xbf, 0x00, 0x30, 0x00, 0x00,			// mov edi, 0x3000
		0xb9, 0x02, 0x00, 0x00, 0x00,			// mov ecx, 2
		0xf3, 0x66, 0xa5,				// rep movsw
		0xbe, 0x00, 0x30, 0x00, 0x00,			// mov esi, 0x3000
		0x48, 0xc7, 0xc7, 0x20, 0x00, 0x20, 0x00,	// mov rdi, 0x200020
		0xa5,						// movsd
		0xf4,						// hlt
	});
	struct Access {
		uint64_t addr;
		unsigned len;
		bool write;
		uint64_t data;
		bool operator==(const Access &) const = default;
	};
	std::vector<Access> seen;
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(e.run_once(), 0) << std::strerror(errno);
		if (e.run->exit_reason == KVMX_EXIT_HLT)
			break;
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_MMIO) << e.run->exit_reason;
		Access a{ e.run->mmio.phys_addr, e.run->mmio.len, bool(e.run->mmio.is_write), 0 };
		if (a.write) {
			std::memcpy(&a.data, e.run->mmio.data, a.len);
		} else {
			a.data = 0xa000 | (a.addr & 0xff);	// what the "device" returns
			std::memcpy(e.run->mmio.data, &a.data, a.len);
		}
		seen.push_back(a);
	}
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	std::vector<Access> want = {
		{ 0x200000, 4, true, 0x11223344 }, { 0x200004, 4, true, 0x11223344 },
		{ 0x200008, 4, true, 0x11223344 }, { 0x200010, 2, false, 0xa010 },
		{ 0x200012, 2, false, 0xa012 },    { 0x200020, 4, true, 0xa012a010 },
	};
	EXPECT_EQ(seen.size(), want.size());
	for (size_t i = 0; i < std::min(seen.size(), want.size()); i++)
		EXPECT_TRUE(seen[i] == want[i])
			<< "access " << i << ": " << std::hex << seen[i].addr << " len " << seen[i].len
			<< " write " << seen[i].write << " data " << seen[i].data;
	auto r = e.regs();
	EXPECT_EQ(r.rcx, 0u);
	EXPECT_EQ(r.rdi, 0x200024u);
	EXPECT_EQ(r.rsi, 0x3004u);
	EXPECT_EQ(r.rip, 0x1000u + 53) << "past the HLT";
	uint32_t ram;
	std::memcpy(&ram, e.mem->host() + 0x3000, 4);
	EXPECT_EQ(ram, 0xa012a010u);
}

// Read-modify-write instructions on device registers (OR, SUB into a
// register, XCHG, TEST): a read exit, then a write exit where the
// instruction writes memory; registers and flags as the CPU leaves them.
TEST_P(Api, ReadModifyWriteOnMmio)
{
	Env e(GetParam());
	e.long_mode({
		0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00,	// mov rdi, 0x200000
		0xb8, 0x0f, 0x00, 0x00, 0x00,			// mov eax, 0xf
		0x09, 0x07,					// or [rdi], eax
		0xb9, 0x10, 0x00, 0x00, 0x00,			// mov ecx, 0x10
		0x2b, 0x4f, 0x08,				// sub ecx, [rdi+8]
		0x0f, 0x92, 0xc2,				// setc dl
		0x0f, 0x98, 0xc6,				// sets dh
		0xbb, 0x55, 0x00, 0x00, 0x00,			// mov ebx, 0x55
		0x87, 0x5f, 0x10,				// xchg [rdi+0x10], ebx
		0xf7, 0x47, 0x18, 0x00, 0x00, 0x01, 0x00,	// test dword [rdi+0x18], 0x10000
		0xf4,						// hlt
	});
	const std::map<uint64_t, uint32_t> device = {
		{ 0x200000, 0xa000 }, { 0x200008, 0x20 }, { 0x200010, 0x77 }, { 0x200018, 0x10000 },
	};
	std::vector<std::string> seen;
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(e.run_once(), 0) << std::strerror(errno);
		if (e.run->exit_reason == KVMX_EXIT_HLT)
			break;
		ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_MMIO) << e.run->exit_reason;
		uint32_t d = 0;
		if (e.run->mmio.is_write) {
			std::memcpy(&d, e.run->mmio.data, 4);
		} else {
			auto it = device.find(e.run->mmio.phys_addr);
			d = it == device.end() ? 0 : it->second;
			std::memcpy(e.run->mmio.data, &d, 4);
		}
		char line[64];
		std::snprintf(line, sizeof(line), "%c %#llx %u %#x", e.run->mmio.is_write ? 'W' : 'R',
			      (unsigned long long)e.run->mmio.phys_addr, e.run->mmio.len,
			      e.run->mmio.is_write ? d : 0);
		seen.push_back(line);
	}
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
	EXPECT_EQ(seen, (std::vector<std::string>{ "R 0x200000 4 0", "W 0x200000 4 0xa00f",
						   "R 0x200008 4 0", "R 0x200010 4 0",
						   "W 0x200010 4 0x55", "R 0x200018 4 0" }));
	auto r = e.regs();
	EXPECT_EQ(r.rcx, 0xfffffff0u) << "SUB's 32-bit result, zero-extended";
	EXPECT_EQ(r.rdx & 0xffff, 0x0101u) << "SUB set CF and SF";
	EXPECT_EQ(r.rbx, 0x77u) << "XCHG's register gets the device's value";
	EXPECT_EQ(r.rflags & 0x8d5, 0x4u) << "TEST: not zero, PF of the low byte";
}

TEST_P(Api, UnknownIoctlsGetAnError)
{
	Env e(GetParam());
	e.make_vcpu();
	EXPECT_EQ(::ioctl(e.vm.get(), _IO(KVMXIO, 0xee), 0), -1);
	EXPECT_EQ(::ioctl(e.vcpu.get(), _IO(KVMXIO, 0xee), 0), -1);
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_REGS, 16), -1);
	EXPECT_EQ(errno, EFAULT);
}

INSTANTIATE_TEST_SUITE_P(Devices, Api, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

// kvmx only: the errno for unknown ioctls is ENOTTY on every fd.
TEST(KvmxApi, UnknownIoctlsAreENOTTY)
{
	Env e("/dev/kvmx");
	e.make_vcpu();
	errno = 0;
	EXPECT_EQ(::ioctl(e.vm.get(), _IO(KVMXIO, 0xee), 0), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(::ioctl(e.vcpu.get(), _IO(KVMXIO, 0xee), 0), -1);
	EXPECT_EQ(errno, ENOTTY);
}

// kvmx only: the run mapping is exactly what GET_VCPU_MMAP_SIZE says (KVM
// lets a larger mapping succeed and faults on access).
// Found by make stress (2 CPUs): a fuzzed guest spinning with IF=0 and no
// exits kept a Bochs CPU for good, since Bochs takes no host interrupt out
// of such a guest.  kvmx now arms the VMX-preemption timer: the guest exits
// within about a millisecond whatever it does.  kvmx only: kvm_intel does
// not, and this guest would take the rig's CPU from it.
TEST(KvmxApi, GuestSpinningWithInterruptsOffStillTakesSignals)
{
	Env e("/dev/kvmx");
	e.real_mode({ 0xfa, 0xeb, 0xfe });	// cli ; jmp $
	expect_run_ends_by_signal(e);
}

TEST(KvmxApi, RunPageMmapIsBounded)
{
	Env e("/dev/kvmx");
	e.make_vcpu();
	void *p = ::mmap(nullptr, 64 << 12, PROT_READ, MAP_SHARED, e.vcpu.get(), 0);
	EXPECT_EQ(p, MAP_FAILED);
	if (p != MAP_FAILED)
		::munmap(p, 64 << 12);
}

// kvmx only: reserved EFER bits are refused at KVM_SET_SREGS (KVM 6.1
// accepts them and fails the VM entry later).
TEST(KvmxApi, ReservedEferBitsAreRefused)
{
	Env e("/dev/kvmx");
	e.make_vcpu();
	kvmx_sregs s{};
	ASSERT_EQ(::ioctl(e.vcpu.get(), KVMX_GET_SREGS, &s), 0);
	s.efer = 1ULL << 20;
	EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s), -1);
	EXPECT_EQ(errno, EINVAL);
}

// kvmx only: the module's accounting (sysfs) follows what a VM holds and is
// all zeros again once the VM's fds are closed.
TEST(KvmxApi, AccountingFollowsAVmAndReturnsToZero)
{
	for (const char *n : { "vms", "vcpus", "vmcs_pages", "run_pages", "ept_pages", "mapped_pages",
			       "kmalloc_bytes" })
		ASSERT_EQ(acct(n), 0) << n << " before the test";
	{
		Env e("/dev/kvmx", 4 << 20);
		e.real_mode({ 0xf4 });
		EXPECT_EQ(acct("vms"), 1);
		EXPECT_EQ(acct("vcpus"), 1);
		EXPECT_EQ(acct("vmcs_pages"), 1);
		EXPECT_EQ(acct("run_pages"), 2);
		EXPECT_GE(acct("ept_pages"), 1);
		EXPECT_GE(acct("kmalloc_bytes"), (long)sizeof(void *)) << "the VM itself";
		ASSERT_EQ(e.run_once(), 0);
		EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_HLT);
		EXPECT_GE(acct("mapped_pages"), 1) << "the code page is mapped";
		EXPECT_GE(acct("ept_pages"), 4) << "a 4-level walk to it";
	}
	for (const char *n : { "vms", "vcpus", "vmcs_pages", "run_pages", "ept_pages", "mapped_pages",
			       "kmalloc_bytes" })
		EXPECT_EQ(acct(n), 0) << n << " after the VM is gone";
}

// kvmx only: what CHECK_EXTENSION promises is exactly what works.
TEST(KvmxApi, CapabilitiesAreWhatWorks)
{
	Fd sys(::open("/dev/kvmx", O_RDWR));
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_USER_MEMORY), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_READONLY_MEM), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IMMEDIATE_EXIT), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_NR_MEMSLOTS), 32);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_INTERNAL_ERROR_DATA), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IRQCHIP), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_TSC_DEADLINE_TIMER), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_PIT2), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_PIT_STATE2), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_REINJECT_CONTROL), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IRQFD), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IRQFD_RESAMPLE), 1);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CHECK_EXTENSION, 16 /* SYNC_MMU */), 0);
	EXPECT_EQ(::ioctl(sys.get(), KVMX_GET_VCPU_MMAP_SIZE, 0), 2 * 4096);
}

// 2 CPUs: the vCPU thread is moved between host CPUs while it runs a guest
// that takes ring-0 exits (CPUID) and userspace exits (OUT) in turn.  Every
// move means VMCLEAR on the old CPU and VMPTRLD plus fresh per-CPU host state
// on the new one; a mistake shows as a lost count, a failed entry or a crash.
class Migrate : public testing::TestWithParam<std::string> {};

TEST_P(Migrate, VcpuMovesBetweenCpusMidRun)
{
	ASSERT_GE(sysconf(_SC_NPROCESSORS_ONLN), 2) << "needs 2 CPUs";
	Env e(GetParam());
	// sti ; 1: inc si ; xor ax,ax ; cpuid ; mov [0x2000],si ; out 0x10,al ; jmp 1b
	e.real_mode({ 0xfb, 0x46, 0x31, 0xc0, 0x0f, 0xa2, 0x89, 0x36, 0x00, 0x20, 0xe6, 0x10,
		      0xeb, 0xf3 });
	pthread_t self = pthread_self();
	std::atomic<bool> done{ false };
	std::atomic<int> moves{ 0 };
	std::thread mover([self, &done, &moves] {
		for (int cpu = 0; !done; cpu ^= 1) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (pthread_setaffinity_np(self, sizeof(set), &set) == 0)
				moves++;
			usleep(2000);
		}
	});
	// Run until the thread was moved often enough (bounded, in case it isn't).
	unsigned rounds = 0;
	bool ok = true;
	while ((moves < 40 || rounds < 3000) && rounds < 2000000) {
		if (e.run_once() != 0 || e.run->exit_reason != KVMX_EXIT_IO ||
		    e.run->io.port != 0x10) {
			ok = false;
			break;
		}
		rounds++;
	}
	done = true;
	mover.join();
	ASSERT_TRUE(ok) << "exit " << e.run->exit_reason << " in round " << rounds;
	EXPECT_GE(moves.load(), 40);
	EXPECT_EQ(e.regs().rsi & 0xffff, rounds & 0xffff);
	uint16_t seen;
	std::memcpy(&seen, e.mem->at(0x2000, 2), 2);
	EXPECT_EQ(seen, rounds & 0xffff);
	std::printf("%u rounds, %d moves\n", rounds, moves.load());
}

INSTANTIATE_TEST_SUITE_P(Smp, Migrate, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) { return info.param.substr(5); });

} // namespace
