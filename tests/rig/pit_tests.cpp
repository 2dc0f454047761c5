// The in-kernel 8254 PIT (KVM_CREATE_PIT2) on /dev/kvmx and /dev/kvm side by
// side: its creation rules and errnos, IRQ0 from counter 0 in rate-generator
// mode through the in-kernel 8259, the counter latch and read-back commands,
// KVM_GET/SET_PIT(2), port 0x61 (counter 2's gate and OUT) with and without
// KVM_PIT_SPEAKER_DUMMY, and a VM destroyed with the PIT's timer armed.
// Real-mode guests report on ports: 0xe0 an interrupt handler (its IRQ's
// vector), 0xe1 "set up", 0xe2 a 16-bit count, 0xe3 a status byte.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "rig_env.hpp"

using rig::Env;
using rig::ioctl_errno;
using rig::run_with_deadline;

namespace {

class Pit : public testing::TestWithParam<std::string> {};

constexpr uint16_t kReportPort = 0xe0, kReadyPort = 0xe1, kCountPort = 0xe2, kStatusPort = 0xe3;
constexpr uint8_t kModeNone = 0xff;	// a counter's mode before its first control word
constexpr uint32_t kMaxCount = 0x10000;

bool is_kvmx(const std::string &dev) { return dev == "/dev/kvmx"; }

// The rig is ~100x slower than native: generous deadlines.
constexpr int kDeadlineMs = 20000;

// An OUT exit: its port and data (1 or 2 bytes); port 0 for anything else.
struct Out {
	uint16_t port = 0;
	uint16_t data = 0;
	bool operator==(const Out &o) const { return port == o.port && data == o.data; }
};

std::ostream &operator<<(std::ostream &os, const Out &o)
{
	return os << "OUT 0x" << std::hex << o.port << ", 0x" << o.data << std::dec;
}

Out out_of(const kvmx_run *run)
{
	if (run->exit_reason != KVMX_EXIT_IO || run->io.direction != KVMX_EXIT_IO_OUT)
		return {};
	const uint8_t *d = reinterpret_cast<const uint8_t *>(run) + run->io.data_offset;
	return { run->io.port, uint16_t(run->io.size == 2 ? d[0] | d[1] << 8 : d[0]) };
}

// Guest code, assembled with nasm (bits 16; the source is in each comment).
//   PIC: ICW1 0x11 to 0x20; ICW2 0x08, ICW3 0x04, ICW4 0x01, OCW1 0xfe to 0x21
//   PIT: 0x34 to 0x43 (counter 0, LSB then MSB, mode 2); 0x9c, 0x2e to 0x40
//   (11932: 10 ms); mov al, 1; out 0xe1, al; sti; l: hlt; jmp l
const std::vector<uint8_t> kRateGenerator16 = {
	0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01,
	0xe6, 0x21, 0xb0, 0xfe, 0xe6, 0x21, 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0x9c, 0xe6, 0x40,
	0xb0, 0x2e, 0xe6, 0x40, 0xb0, 0x01, 0xe6, 0xe1, 0xfb, 0xf4, 0xeb, 0xfd,
};
constexpr uint32_t kRateCount = 11932;

//   IRQ0's handler: push ax; mov al, 0x20; out 0x20, al (EOI); mov al, 8
//   out 0xe0, al; pop ax; iret
const std::vector<uint8_t> kIrq0Handler16 = {
	0x50, 0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0xe0, 0x58, 0xcf,
};

//   cli; 0x30 to 0x43 (counter 0, LSB then MSB, mode 0); 0xff, 0xff to 0x40
//   l: 0x00 to 0x43 (counter latch); in al, 0x40 (LSB) to bl, in al, 0x40
//   (MSB) to bh; mov ax, bx; out 0xe2, ax
//   0xc2 to 0x43 (read-back: count and status of counter 0); in al, 0x40
//   out 0xe3, al (status); LSB, MSB as above; out 0xe2, ax; jmp l
const std::vector<uint8_t> kLatch16 = {
	0xfa, 0xb0, 0x30, 0xe6, 0x43, 0xb0, 0xff, 0xe6, 0x40, 0xe6, 0x40, 0xb0, 0x00,
	0xe6, 0x43, 0xe4, 0x40, 0x88, 0xc3, 0xe4, 0x40, 0x88, 0xc7, 0x89, 0xd8, 0xe7,
	0xe2, 0xb0, 0xc2, 0xe6, 0x43, 0xe4, 0x40, 0xe6, 0xe3, 0xe4, 0x40, 0x88, 0xc3,
	0xe4, 0x40, 0x88, 0xc7, 0x89, 0xd8, 0xe7, 0xe2, 0xeb, 0xda,
};

//   cli; mov al, 3; out 0x61, al (GATE2, speaker data); in al, 0x61; out 0xe3, al
//   0xb0 to 0x43 (counter 2, LSB then MSB, mode 0); 0x00, 0x40 to 0x42 (0x4000)
//   in al, 0x61; out 0xe3, al; p: in al, 0x61; test al, 0x20; jz p; out 0xe3, al
//   xor al, al; out 0x61, al; in al, 0x61; out 0xe3, al; hlt
const std::vector<uint8_t> kSpeaker16 = {
	0xfa, 0xb0, 0x03, 0xe6, 0x61, 0xe4, 0x61, 0xe6, 0xe3, 0xb0, 0xb0, 0xe6, 0x43, 0xb0,
	0x00, 0xe6, 0x42, 0xb0, 0x40, 0xe6, 0x42, 0xe4, 0x61, 0xe6, 0xe3, 0xe4, 0x61, 0xa8,
	0x20, 0x74, 0xfa, 0xe6, 0xe3, 0x30, 0xc0, 0xe6, 0x61, 0xe4, 0x61, 0xe6, 0xe3, 0xf4,
};

//   mov al, 0x30; out 0x43, al; in al, 0x61; hlt
const std::vector<uint8_t> kPort61In16 = { 0xb0, 0x30, 0xe6, 0x43, 0xe4, 0x61, 0xf4 };

// A VM with the in-kernel irqchip and a PIT made with @flags.
struct PitVm {
	Env e;
	explicit PitVm(const std::string &dev, uint32_t flags = 0) : e(dev)
	{
		if (::ioctl(e.vm.get(), KVMX_CREATE_IRQCHIP, 0))
			throw std::runtime_error(std::string("KVM_CREATE_IRQCHIP: ") + strerror(errno));
		kvmx_pit_config c{};
		c.flags = flags;
		if (::ioctl(e.vm.get(), KVMX_CREATE_PIT2, &c))
			throw std::runtime_error(std::string("KVM_CREATE_PIT2: ") + strerror(errno));
	}
	// Real mode at 0x1000 with @code, IRQ0 (vector 8) to kIrq0Handler16.
	void guest(const std::vector<uint8_t> &code)
	{
		e.real_mode(code);
		uint16_t ivt[2] = { 0x1100, 0 };
		e.mem->write(8 * 4, std::vector<uint8_t>(reinterpret_cast<uint8_t *>(ivt),
							 reinterpret_cast<uint8_t *>(ivt) + 4));
		e.mem->write(0x1100, kIrq0Handler16);
	}
	Out next_out(int ms = kDeadlineMs)
	{
		int r = run_with_deadline(e.vcpu.get(), ms);
		if (r)
			return { 0, uint16_t(r) };
		return out_of(e.run);
	}
	kvmx_pit_state2 state()
	{
		kvmx_pit_state2 s{};
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_PIT2, &s), 0);
		return s;
	}
};

int64_t monotonic_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long acct(const char *name)
{
	std::ifstream f(std::string("/sys/class/misc/kvmx/accounting/") + name);
	long v = -1;
	f >> v;
	return v;
}

TEST_P(Pit, CreateRulesAndErrnos)
{
	Env e(GetParam());
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_PIT2), 1);
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_PIT_STATE2), 1);
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_REINJECT_CONTROL), 1);
	kvmx_pit_state2 s2{};
	kvmx_pit_state s{};
	kvmx_reinject_control rc{};
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_PIT2, &s2), ENXIO) << "no PIT yet";
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_PIT2, &s2), ENXIO);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_PIT, &s), ENXIO);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_PIT, &s), ENXIO);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_REINJECT_CONTROL, &rc), ENXIO);
	// Without the in-kernel irqchip: ENOENT since Linux 6.7; 6.1 (the rig's
	// kvm_intel) still makes a PIT that can never interrupt.  kvmx refuses.
	kvmx_pit_config c{};
	int r = ioctl_errno(e.vm.get(), KVMX_CREATE_PIT2, &c);
	if (is_kvmx(GetParam()))
		EXPECT_EQ(r, ENOENT);
	else
		EXPECT_TRUE(r == 0 || r == ENOENT) << r;

	Env e2(GetParam());
	ASSERT_EQ(ioctl_errno(e2.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_CREATE_PIT2, nullptr), EFAULT);
	c.flags = KVMX_PIT_SPEAKER_DUMMY;
	ASSERT_EQ(ioctl_errno(e2.vm.get(), KVMX_CREATE_PIT2, &c), 0);
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_CREATE_PIT2, &c), EEXIST);
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_CREATE_PIT, nullptr), EEXIST);
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_GET_PIT2, nullptr), EFAULT);
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_SET_PIT2, nullptr), EFAULT);
	rc.pit_reinject = 0;
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_REINJECT_CONTROL, &rc), 0);
	rc.pit_reinject = 1;
	EXPECT_EQ(ioctl_errno(e2.vm.get(), KVMX_REINJECT_CONTROL, &rc), 0);

	// KVM ignores flags it doesn't know; so does kvmx.
	Env e3(GetParam());
	ASSERT_EQ(ioctl_errno(e3.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	c.flags = 0x80;
	EXPECT_EQ(ioctl_errno(e3.vm.get(), KVMX_CREATE_PIT2, &c), 0);
	// The legacy KVM_CREATE_PIT: the PIT with port 0x61.
	Env e4(GetParam());
	ASSERT_EQ(ioctl_errno(e4.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	EXPECT_EQ(ioctl_errno(e4.vm.get(), KVMX_CREATE_PIT, nullptr), 0);
}

// Counter 0 in mode 2 (rate generator) at 100 Hz: a stream of IRQ0s through
// the 8259 the guest programmed, each EOIed by its handler.
TEST_P(Pit, RateGeneratorRaisesIrq0Repeatedly)
{
	PitVm g(GetParam());
	g.guest(kRateGenerator16);
	ASSERT_EQ(g.next_out(), (Out{ kReadyPort, 1 }));
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(g.next_out(), (Out{ kReportPort, 8 })) << "tick " << i;
	kvmx_pit_state2 s = g.state();
	EXPECT_EQ(s.channels[0].mode, 2);
	EXPECT_EQ(s.channels[0].count, kRateCount);
	EXPECT_EQ(s.channels[0].rw_mode, 3) << "LSB then MSB";
	EXPECT_EQ(s.channels[0].gate, 1);
	kvmx_irqchip c{};
	c.chip_id = KVMX_IRQCHIP_PIC_MASTER;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_GET_IRQCHIP, &c), 0);
	EXPECT_EQ(c.chip.pic.imr, 0xfe);
}

// The counter latch command and the read-back command (count and status)
// on counter 0 in mode 0: each count read is below the one before.
TEST_P(Pit, LatchedCountsDecrease)
{
	PitVm g(GetParam());
	g.guest(kLatch16);
	std::vector<uint16_t> counts;
	for (int i = 0; i < 4; i++) {
		Out o = g.next_out();
		ASSERT_EQ(o.port, kCountPort) << o;
		counts.push_back(o.data);
		o = g.next_out();
		ASSERT_EQ(o.port, kStatusPort) << o;
		EXPECT_EQ(o.data & 0x3f, 0x30) << "status: LSB then MSB, mode 0, binary";
		o = g.next_out();
		ASSERT_EQ(o.port, kCountPort) << o;
		counts.push_back(o.data);
	}
	for (size_t i = 1; i < counts.size(); i++) {
		uint16_t down = uint16_t(counts[i - 1] - counts[i]);
		EXPECT_GT(down, 0) << "read " << i << ": " << counts[i - 1] << " then " << counts[i];
		EXPECT_LT(down, 0x8000) << "read " << i << ": " << counts[i - 1] << " then "
					<< counts[i];
	}
	kvmx_pit_state2 s = g.state();
	EXPECT_EQ(s.channels[0].mode, 0);
	EXPECT_EQ(s.channels[0].count, 0xffffu);
	EXPECT_EQ(s.channels[0].count_latched, 0) << "every latched byte was read";
	EXPECT_EQ(s.channels[0].status_latched, 0);
}

TEST_P(Pit, StateRoundTrip)
{
	PitVm g(GetParam());
	kvmx_pit_state2 s = g.state();
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(s.channels[i].count, kMaxCount) << "counter " << i;
		EXPECT_EQ(s.channels[i].mode, kModeNone) << "counter " << i;
		EXPECT_EQ(s.channels[i].gate, i != 2) << "counter " << i;
		EXPECT_EQ(s.channels[i].rw_mode, 0) << "counter " << i;
	}
	EXPECT_EQ(s.flags, 0u);

	kvmx_pit_channel_state &c0 = s.channels[0], &c2 = s.channels[2];
	c0.mode = 2;
	c0.count = 50000;
	c0.rw_mode = c0.read_state = c0.write_state = 3;
	c2.mode = 3;
	c2.count = 0x1234;
	c2.rw_mode = 3;
	c2.read_state = 4;	// the MSB of a 16-bit read comes next
	c2.write_state = 4;
	c2.write_latch = 0x77;
	c2.latched_count = 0x4321;
	c2.count_latched = 3;
	c2.status_latched = 1;
	c2.status = 0x36;
	c2.gate = 1;
	c2.bcd = 1;
	s.flags = KVMX_PIT_FLAGS_SPEAKER_DATA_ON;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_SET_PIT2, &s), 0);
	int64_t now = monotonic_ns();
	kvmx_pit_state2 back = g.state();
	for (int i = 0; i < 3; i++) {
		const kvmx_pit_channel_state &a = s.channels[i], &b = back.channels[i];
		SCOPED_TRACE(testing::Message() << "counter " << i);
		EXPECT_EQ(b.count, a.count);
		EXPECT_EQ(b.latched_count, a.latched_count);
		EXPECT_EQ(b.count_latched, a.count_latched);
		EXPECT_EQ(b.status_latched, a.status_latched);
		EXPECT_EQ(b.status, a.status);
		EXPECT_EQ(b.read_state, a.read_state);
		EXPECT_EQ(b.write_state, a.write_state);
		EXPECT_EQ(b.write_latch, a.write_latch);
		EXPECT_EQ(b.rw_mode, a.rw_mode);
		EXPECT_EQ(b.mode, a.mode);
		EXPECT_EQ(b.bcd, a.bcd);
		EXPECT_EQ(b.gate, a.gate);
	}
	// Loading the count restarts counters 1 and 2: their time is now's.
	EXPECT_LT(std::llabs(back.channels[2].count_load_time - now), 10000000000LL);
	EXPECT_EQ(back.flags, unsigned(KVMX_PIT_FLAGS_SPEAKER_DATA_ON));
	for (uint32_t r : back.reserved)
		EXPECT_EQ(r, 0u);

	// KVM_SET_PIT: the counters only; the flags stay.
	kvmx_pit_state l{};
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_GET_PIT, &l), 0);
	EXPECT_EQ(l.channels[2].count, 0x1234u);
	l.channels[2].count = 0x100;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_SET_PIT, &l), 0);
	back = g.state();
	EXPECT_EQ(back.channels[2].count, 0x100u);
	EXPECT_EQ(back.channels[2].mode, 3);
	EXPECT_EQ(back.flags, unsigned(KVMX_PIT_FLAGS_SPEAKER_DATA_ON));
	l.channels[1].count = 0;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_SET_PIT, &l), 0);
	EXPECT_EQ(g.state().channels[1].count, kMaxCount) << "a count of 0 is 2^16";
}

// KVM_PIT_SPEAKER_DUMMY: port 0x61 is the PIT's.  GATE2 and the speaker
// data bit read back as written; counter 2 in mode 0 has OUT2 low after its
// count is loaded and high at terminal count.
TEST_P(Pit, Port61GateAndOut2)
{
	PitVm g(GetParam(), KVMX_PIT_SPEAKER_DUMMY);
	g.guest(kSpeaker16);
	Out o = g.next_out();
	ASSERT_EQ(o.port, kStatusPort) << o;
	EXPECT_EQ(o.data & 0x03, 0x03) << "GATE2 and speaker data, as written";
	o = g.next_out();
	ASSERT_EQ(o.port, kStatusPort) << o;
	EXPECT_EQ(o.data & 0x23, 0x03) << "OUT2 low: counting";
	o = g.next_out();
	ASSERT_EQ(o.port, kStatusPort) << o;
	EXPECT_EQ(o.data & 0x23, 0x23) << "OUT2 high: terminal count";
	o = g.next_out();
	ASSERT_EQ(o.port, kStatusPort) << o;
	EXPECT_EQ(o.data & 0x03, 0x00) << "GATE2 and speaker data cleared";
	kvmx_pit_state2 s = g.state();
	EXPECT_EQ(s.channels[2].gate, 0);
	EXPECT_EQ(s.channels[2].mode, 0);
	EXPECT_EQ(s.channels[2].count, 0x4000u);
	EXPECT_EQ(s.flags & KVMX_PIT_FLAGS_SPEAKER_DATA_ON, 0u);
}

// Without the flag, port 0x61 is the VMM's: the guest's IN exits to
// userspace, while the PIT's own ports stay in the kernel.
TEST_P(Pit, Port61IsTheVmmsWithoutSpeakerDummy)
{
	PitVm g(GetParam());
	g.guest(kPort61In16);
	ASSERT_EQ(run_with_deadline(g.e.vcpu.get(), kDeadlineMs), 0);
	ASSERT_EQ(g.e.run->exit_reason, unsigned(KVMX_EXIT_IO));
	EXPECT_EQ(g.e.run->io.port, 0x61);
	EXPECT_EQ(g.e.run->io.direction, KVMX_EXIT_IO_IN);
	EXPECT_EQ(g.state().channels[0].mode, 0) << "the control word went to the PIT";
}

// kvmx only: a VM whose PIT timer is armed (one VM with the guest taking
// ticks, one with a period below the 200 us minimum set by KVM_SET_PIT2)
// goes away cleanly, and the module's accounting is back to zero.
TEST(KvmxPit, DestroyWithTimerArmedReturnsAccountingToZero)
{
	const char *fields[] = { "vms", "vcpus", "vmcs_pages", "run_pages", "ept_pages",
				 "mapped_pages", "kmalloc_bytes" };
	for (const char *n : fields)
		ASSERT_EQ(acct(n), 0) << n << " before the test";
	{
		PitVm g("/dev/kvmx");
		PitVm fast("/dev/kvmx");
		EXPECT_EQ(acct("vms"), 2);
		kvmx_pit_state2 s = fast.state();
		s.channels[0].mode = 2;
		s.channels[0].count = 2;	// 1.7 us: 200 us at the most
		ASSERT_EQ(ioctl_errno(fast.e.vm.get(), KVMX_SET_PIT2, &s), 0);
		g.guest(kRateGenerator16);
		ASSERT_EQ(g.next_out(), (Out{ kReadyPort, 1 }));
		ASSERT_EQ(g.next_out(), (Out{ kReportPort, 8 }));
		ASSERT_EQ(g.next_out(), (Out{ kReportPort, 8 }));
		usleep(100000);
	}
	for (const char *n : fields)
		EXPECT_EQ(acct(n), 0) << n << " after the VMs are gone";
}

INSTANTIATE_TEST_SUITE_P(Devices, Pit, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

} // namespace
