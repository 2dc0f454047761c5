// KVM_CAP_X86_USER_SPACE_MSR and KVM_X86_SET_MSR_FILTER on /dev/kvmx and on
// /dev/kvm side by side: the same checks of bad input (errnos), the same
// exits to userspace, and the same guest-visible completion of RDMSR/WRMSR
// (data in EDX:EAX, an error as #GP, the instruction skipped otherwise).
#include <gtest/gtest.h>

#include <sys/ioctl.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>
#include <vector>

#include "rig_env.hpp"

using rig::Env;

namespace {

class MsrExit : public testing::TestWithParam<std::string> {};

constexpr uint32_t kSysenterCs = 0x174, kSysenterEsp = 0x175;
constexpr uint32_t kNoSuchMsr = 0x474f4f00;

void put(Env &e, uint64_t gpa, std::vector<uint8_t> bytes)
{
	e.mem->write(gpa, bytes);
}

int enable_user_msr(Env &e, uint64_t mask)
{
	kvmx_enable_cap cap{};
	cap.cap = KVMX_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = mask;
	return rig::ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap);
}

// A filter that denies reads and writes of @msr, allows everything else.
struct DenyOne {
	uint64_t bits = 0;
	kvmx_msr_filter f{};
	explicit DenyOne(uint32_t msr)
	{
		f.flags = KVMX_MSR_FILTER_DEFAULT_ALLOW;
		f.ranges[0].flags = KVMX_MSR_FILTER_READ | KVMX_MSR_FILTER_WRITE;
		f.ranges[0].nmsrs = 1;
		f.ranges[0].base = msr;
		f.ranges[0].bitmap = reinterpret_cast<uint8_t *>(&bits);
	}
};

TEST_P(MsrExit, CapabilitiesAreOffered)
{
	Env e(GetParam());
	EXPECT_GT(::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_X86_USER_SPACE_MSR), 0);
	EXPECT_GT(::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_X86_MSR_FILTER), 0);
	int sync = ::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_SYNC_REGS);
	EXPECT_EQ(sync & KVMX_SYNC_X86_VALID_FIELDS, (int)KVMX_SYNC_X86_VALID_FIELDS);
}

// KVM 6.1's checks, in its order: the same errno from both devices.
TEST_P(MsrExit, BadFiltersAndMasksAreRefused)
{
	Env e(GetParam());
	EXPECT_EQ(enable_user_msr(e, 1u << 3), EINVAL) << "an unknown reason";
	EXPECT_EQ(enable_user_msr(e, KVMX_MSR_EXIT_REASON_INVAL | KVMX_MSR_EXIT_REASON_UNKNOWN |
					     KVMX_MSR_EXIT_REASON_FILTER), 0);
	EXPECT_EQ(enable_user_msr(e, 0), 0) << "off again";

	auto set = [&](const kvmx_msr_filter &f) {
		return rig::ioctl_errno(e.vm.get(), KVMX_X86_SET_MSR_FILTER, &f);
	};
	std::vector<uint8_t> big(KVMX_MSR_FILTER_MAX_BITMAP_SIZE + 64, 0xff);
	DenyOne ok(kSysenterCs);
	EXPECT_EQ(set(ok.f), 0);

	kvmx_msr_filter f = ok.f;
	f.flags = 2;
	EXPECT_EQ(set(f), EINVAL) << "unknown filter flags";
	f = kvmx_msr_filter{};
	f.flags = KVMX_MSR_FILTER_DEFAULT_DENY;
	EXPECT_EQ(set(f), EINVAL) << "deny everything, nothing allowed";
	f.flags = KVMX_MSR_FILTER_DEFAULT_ALLOW;
	EXPECT_EQ(set(f), 0) << "no ranges, allow everything";
	f = ok.f;
	f.ranges[0].flags = 0;
	EXPECT_EQ(set(f), EINVAL) << "a range without flags";
	f.ranges[0].flags = 4;
	EXPECT_EQ(set(f), EINVAL) << "a range with unknown flags";
	f = ok.f;
	f.ranges[0].nmsrs = KVMX_MSR_FILTER_MAX_BITMAP_SIZE * 8;
	f.ranges[0].bitmap = big.data();
	EXPECT_EQ(set(f), 0) << "the largest bitmap";
	f.ranges[0].nmsrs = KVMX_MSR_FILTER_MAX_BITMAP_SIZE * 8 + 64;
	EXPECT_EQ(set(f), EINVAL) << "a bitmap too large";
	f.ranges[0].nmsrs = 0xffffffff;
	EXPECT_EQ(set(f), EINVAL) << "a bitmap far too large";
	f = ok.f;
	f.ranges[0].bitmap = reinterpret_cast<uint8_t *>(8);
	EXPECT_EQ(set(f), EFAULT) << "a bitmap that isn't there";
	f = ok.f;
	f.ranges[1].nmsrs = 0;
	f.ranges[1].flags = 0xff;
	f.ranges[1].bitmap = reinterpret_cast<uint8_t *>(8);
	EXPECT_EQ(set(f), 0) << "an empty range is skipped, whatever else it says";
	f = ok.f;
	f.ranges[0].bitmap = reinterpret_cast<uint8_t *>(8);
	f.ranges[1] = ok.f.ranges[0];
	f.ranges[1].flags = 0;
	EXPECT_EQ(set(f), EFAULT) << "the first range's fault comes before the second's flags";
	for (int i = 0; i < KVMX_MSR_FILTER_MAX_RANGES; i++)
		f.ranges[i] = ok.f.ranges[0];
	EXPECT_EQ(set(f), 0) << "every range used";
}

// Real mode: a filtered RDMSR and WRMSR, an unknown MSR, an allowed one.
TEST_P(MsrExit, FilteredAndUnknownMsrsExitToUserspace)
{
	Env e(GetParam());
	e.real_mode({
		0x66, 0xb9, 0x74, 0x01, 0x00, 0x00,	// 1000: mov ecx, 0x174
		0x0f, 0x32,				// 1006: rdmsr   (filtered: exit)
		0xe6, 0x10,				// 1008: out 0x10, al
		0x0f, 0x30,				// 100a: wrmsr   (filtered: exit, #GP)
		0xf4,					// 100c: hlt     (never)
	});
	put(e, 0x1100, {
		0x66, 0xb9, 0x00, 0x4f, 0x4f, 0x47,	// 1100: mov ecx, 0x474f4f00
		0x0f, 0x32,				// 1106: rdmsr   (unknown: exit)
		0xe6, 0x14,				// 1108: out 0x14, al
		0x66, 0xb9, 0x75, 0x01, 0x00, 0x00,	// 110a: mov ecx, 0x175
		0x0f, 0x30,				// 1110: wrmsr   (allowed: no exit)
		0x0f, 0x32,				// 1112: rdmsr   (allowed: no exit)
		0xe6, 0x15,				// 1114: out 0x15, al
		0xf4,					// 1116: hlt
	});
	put(e, 13 * 4, { 0x00, 0x11, 0x00, 0x00 });	// #GP: 0000:1100
	ASSERT_EQ(enable_user_msr(e, KVMX_MSR_EXIT_REASON_FILTER | KVMX_MSR_EXIT_REASON_UNKNOWN), 0);
	DenyOne deny(kSysenterCs);
	ASSERT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_X86_SET_MSR_FILTER, &deny.f), 0);

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_X86_RDMSR);
	EXPECT_EQ(e.run->msr.reason, (unsigned)KVMX_MSR_EXIT_REASON_FILTER);
	EXPECT_EQ(e.run->msr.index, kSysenterCs);
	EXPECT_EQ(e.regs().rip, 0x1006u) << "not finished before userspace answers";
	e.run->msr.data = 0x1122334455667788ULL;

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.run->io.port, 0x10);
	auto r = e.regs();
	EXPECT_EQ(r.rax, 0x55667788u);
	EXPECT_EQ(r.rdx, 0x11223344u);

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_X86_WRMSR);
	EXPECT_EQ(e.run->msr.reason, (unsigned)KVMX_MSR_EXIT_REASON_FILTER);
	EXPECT_EQ(e.run->msr.index, kSysenterCs);
	EXPECT_EQ(e.run->msr.data, 0x1122334455667788ULL);
	e.run->msr.error = 1;	// refused: #GP, to 0000:1100

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_X86_RDMSR);
	EXPECT_EQ(e.run->msr.reason, (unsigned)KVMX_MSR_EXIT_REASON_UNKNOWN);
	EXPECT_EQ(e.run->msr.index, kNoSuchMsr);
	EXPECT_EQ(e.regs().rip, 0x1106u) << "the #GP went through the IVT";
	e.run->msr.data = 42;

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.run->io.port, 0x14);
	r = e.regs();
	EXPECT_EQ(r.rax, 42u);
	EXPECT_EQ(r.rdx, 0u);

	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO) << "an allowed MSR stays in the kernel";
	EXPECT_EQ(e.run->io.port, 0x15);
	EXPECT_EQ(e.regs().rax, 42u);
}

// Without the exit enabled for a reason, the MSR is a #GP as before.
TEST_P(MsrExit, DeniedMsrWithoutUserExitIsGp)
{
	Env e(GetParam());
	e.real_mode({
		0x66, 0xb9, 0x74, 0x01, 0x00, 0x00,	// mov ecx, 0x174
		0x0f, 0x32,				// rdmsr (filtered, no exit: #GP)
		0xf4,
	});
	put(e, 0x1100, { 0xe6, 0x13, 0xf4 });		// out 0x13, al ; hlt
	put(e, 13 * 4, { 0x00, 0x11, 0x00, 0x00 });
	ASSERT_EQ(enable_user_msr(e, KVMX_MSR_EXIT_REASON_UNKNOWN), 0);
	DenyOne deny(kSysenterCs);
	ASSERT_EQ(rig::ioctl_errno(e.vm.get(), KVMX_X86_SET_MSR_FILTER, &deny.f), 0);
	ASSERT_EQ(e.run_once(), 0);
	ASSERT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	EXPECT_EQ(e.run->io.port, 0x13);
}

// Filters replaced while the guest loops on RDMSR: each RDMSR either exits
// (filtered) or doesn't, nothing else happens, and the filter's memory goes.
TEST_P(MsrExit, FilterReplacedUnderARunningGuest)
{
	Env e(GetParam());
	e.real_mode({
		0x66, 0xb9, 0x74, 0x01, 0x00, 0x00,	// 1000: mov ecx, 0x174
		0x0f, 0x32,				// 1006: rdmsr
		0xe6, 0x10,				// 1008: out 0x10, al
		0xeb, 0xf4,				// 100a: jmp 1000
	});
	ASSERT_EQ(enable_user_msr(e, KVMX_MSR_EXIT_REASON_FILTER), 0);
	std::atomic<bool> stop{ false };
	std::atomic<int> bad{ 0 };
	std::thread flipper([&] {
		DenyOne deny(kSysenterCs);
		kvmx_msr_filter allow{};
		for (unsigned i = 0; !stop; i++)
			if (rig::ioctl_errno(e.vm.get(), KVMX_X86_SET_MSR_FILTER,
					     (i & 1) ? &allow : &deny.f))
				bad++;
	});
	int msr_exits = 0, io_exits = 0;
	for (int i = 0; i < 300; i++) {
		if (e.run_once())
			break;
		if (e.run->exit_reason == KVMX_EXIT_X86_RDMSR && e.run->msr.index == kSysenterCs) {
			msr_exits++;
			e.run->msr.data = 7;
		} else if (e.run->exit_reason == KVMX_EXIT_IO && e.run->io.port == 0x10) {
			io_exits++;
		} else {
			ADD_FAILURE() << "exit " << e.run->exit_reason;
			break;
		}
	}
	stop = true;
	flipper.join();
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(msr_exits + io_exits, 300);
	EXPECT_GT(io_exits, 0);
}

INSTANTIATE_TEST_SUITE_P(Devices, MsrExit, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

} // namespace
