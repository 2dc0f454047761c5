// The in-kernel irqchip (issue 14) on /dev/kvmx and /dev/kvm side by side:
// KVM_CREATE_IRQCHIP's rules, the local APIC's reset state, interrupts from
// the IOAPIC (edge and level), MSIs, the 8259 through LINT0, the APIC timer
// (periodic and TSC-deadline), IPIs, INIT/SIPI, halted vCPUs woken from
// another thread, and the errnos of bad input.  Guests report each interrupt
// they take as an OUT of its vector to port 0xe0.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "mem_cgroup.hpp"
#include "rig_env.hpp"

using kvmx::Fd;
using rig::Env;
using rig::ioctl_errno;
using rig::run_with_deadline;

namespace {

class Irqchip : public testing::TestWithParam<std::string> {};

constexpr uint16_t kReportPort = 0xe0;	// an interrupt handler: OUT of its vector
constexpr uint16_t kReadyPort = 0xe1;	// guest code: "I am set up"
constexpr uint64_t kIdt = 0x3000, kHandlers = 0x4000, kApCode64 = 0x7000, kApCode16 = 0x8000;

// Guest code, assembled with nasm (the source is in each comment).
//   push rax; mov al, VEC; out 0xe0, al; mov eax, 0xfee000b0; mov dword [rax], 0
//   pop rax; iretq
std::vector<uint8_t> handler64(uint8_t vec)
{
	return { 0x50, 0xb0, vec, 0xe6, 0xe0, 0xb8, 0xb0, 0x00, 0xe0, 0xfe,
		 0xc7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x48, 0xcf };
}

//   mov eax, 0xfee00000; mov dword [rax+0xf0], 0x1ff (SVR: enabled)
//   mov al, 1; out 0xe1, al; sti; l: hlt; jmp l
const std::vector<uint8_t> kIdle64 = {
	0xb8, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x80, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01,
	0x00, 0x00, 0xb0, 0x01, 0xe6, 0xe1, 0xfb, 0xf4, 0xeb, 0xfd,
};

//   mov eax, 0xfee00000; SVR = 0x1ff; TDCR (0x3e0) = 0xb (divide by 1)
//   LVTT (0x320) = 0x20041 (periodic, vector 0x41); TMICT (0x380) = 1000000
//   sti; l: hlt; jmp l
const std::vector<uint8_t> kPeriodicTimer64 = {
	0xb8, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x80, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00,
	0x00, 0xc7, 0x80, 0xe0, 0x03, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0xc7, 0x80, 0x20,
	0x03, 0x00, 0x00, 0x41, 0x00, 0x02, 0x00, 0xc7, 0x80, 0x80, 0x03, 0x00, 0x00, 0x40,
	0x42, 0x0f, 0x00, 0xfb, 0xf4, 0xeb, 0xfd,
};

//   mov eax, 0xfee00000; SVR = 0x1ff; LVTT = 0x40042 (TSC deadline, vector 0x42)
//   rdtsc; add eax, 100000; adc edx, 0; mov ecx, 0x6e0; wrmsr; sti; l: hlt; jmp l
const std::vector<uint8_t> kTscDeadline64 = {
	0xb8, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x80, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00,
	0x00, 0xc7, 0x80, 0x20, 0x03, 0x00, 0x00, 0x42, 0x00, 0x04, 0x00, 0x0f, 0x31, 0x05,
	0xa0, 0x86, 0x01, 0x00, 0x83, 0xd2, 0x00, 0xb9, 0xe0, 0x06, 0x00, 0x00, 0x0f, 0x30,
	0xfb, 0xf4, 0xeb, 0xfd,
};

//   mov ebx, 0xfee00000; SVR = 0x1ff; ICR2 = 0x01000000 (APIC ID 1)
//   ICR = 0x4031 (fixed, vector 0x31); mov al, 0x99; out 0xe0, al
//   ICR2 = 0x02000000 (APIC ID 2); ICR = 0x4500 (INIT); ICR = 0x4608 (SIPI, page 8)
//   mov al, 0x98; out 0xe0, al; l: hlt; jmp l
const std::vector<uint8_t> kSendIpis64 = {
	0xbb, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x83, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00,
	0x00, 0xc7, 0x83, 0x10, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc7, 0x83, 0x00,
	0x03, 0x00, 0x00, 0x31, 0x40, 0x00, 0x00, 0xb0, 0x99, 0xe6, 0xe0, 0xc7, 0x83, 0x10,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc7, 0x83, 0x00, 0x03, 0x00, 0x00, 0x00,
	0x45, 0x00, 0x00, 0xc7, 0x83, 0x00, 0x03, 0x00, 0x00, 0x08, 0x46, 0x00, 0x00, 0xb0,
	0x98, 0xe6, 0xe0, 0xf4, 0xeb, 0xfd,
};

//   bits 16: mov al, 0x5a; out 0xe1, al; l: hlt; jmp l
const std::vector<uint8_t> kApStarted16 = { 0xb0, 0x5a, 0xe6, 0xe1, 0xf4, 0xeb, 0xfd };

//   bits 16: ICW1 0x11 to 0x20; ICW2 0x08, ICW3 0x04, ICW4 0x01 to 0x21;
//   OCW1 0xfd (only IRQ1); mov al, 1; out 0xe1, al; sti; l: hlt; jmp l
const std::vector<uint8_t> kPicSetup16 = {
	0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01,
	0xe6, 0x21, 0xb0, 0xfd, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0xe1, 0xfb, 0xf4, 0xeb, 0xfd,
};

//   bits 16: push ax; mov al, 0x20; out 0x20, al (EOI); mov al, 9; out 0xe0, al
//   pop ax; iret
const std::vector<uint8_t> kPicHandler16 = {
	0x50, 0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x09, 0xe6, 0xe0, 0x58, 0xcf,
};

//   mov dx, 0x600; mov al, 0x12; out dx, al; mov al, 0x34; out dx, al
//   mov eax, 0xd0000000; mov dword [rax], 0x55; mov al, 2; out 0xe1, al; hlt
const std::vector<uint8_t> kDoorbells64 = {
	0x66, 0xba, 0x00, 0x06, 0xb0, 0x12, 0xee, 0xb0, 0x34, 0xee, 0xb8, 0x00, 0x00,
	0x00, 0xd0, 0xc7, 0x00, 0x55, 0x00, 0x00, 0x00, 0xb0, 0x02, 0xe6, 0xe1, 0xf4,
};


//   mov ebx, 0xfee00000; mov esi, 0x9000 (the vapic u32); SVR = 0x1ff
//   out 0xe1, al; mov eax, [rsi]; out 0xe0, al; mov byte [rsi], 0x30; out 0xe1, al
//   +0x1f: mov dword [rbx+0x80], 0x40 (TPR)
//   +0x29: mov eax, [rbx+0x80]; out 0xe0, al; hlt
const std::vector<uint8_t> kVapic64 = {
	0xbb, 0x00, 0x00, 0xe0, 0xfe, 0xbe, 0x00, 0x90, 0x00, 0x00, 0xc7, 0x83,
	0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00, 0xe6, 0xe1, 0x8b, 0x06,
	0xe6, 0xe0, 0xc6, 0x06, 0x30, 0xe6, 0xe1, 0xc7, 0x83, 0x80, 0x00, 0x00,
	0x00, 0x40, 0x00, 0x00, 0x00, 0x8b, 0x83, 0x80, 0x00, 0x00, 0x00, 0xe6,
	0xe0, 0xf4,
};
constexpr uint64_t kVapicAddr = 0x9000, kTprWriteRip = 0x101f, kTprReadRip = 0x1029;

//   bits 16: cli; mov al, 1; out 0xe1, al; sti; nop; l: hlt; jmp l
const std::vector<uint8_t> kUserPicIdle16 = {
	0xfa, 0xb0, 0x01, 0xe6, 0xe1, 0xfb, 0x90, 0xf4, 0xeb, 0xfd,
};

// Real mode: IVT[9] -> kPicHandler16 at 0x1100 (EOIs the PIC, reports 9).
void install_pic_handler(Env &e)
{
	uint16_t ivt[2] = { 0x1100, 0 };
	e.mem->write(9 * 4, std::vector<uint8_t>(reinterpret_cast<uint8_t *>(ivt),
						 reinterpret_cast<uint8_t *>(ivt) + 4));
	e.mem->write(0x1100, kPicHandler16);
}

//   bits 16: cli; mov al, 1; out 0xe1, al; sti; l: hlt; jmp l
const std::vector<uint8_t> kUserPicStiHlt16 = {
	0xfa, 0xb0, 0x01, 0xe6, 0xe1, 0xfb, 0xf4, 0xeb, 0xfd,
};

// The port and first data byte of an OUT exit; for anything else port
// 0xffff and the exit reason, which a failure then shows.
std::pair<uint16_t, uint8_t> out_of(const kvmx_run *run)
{
	if (run->exit_reason != KVMX_EXIT_IO || run->io.direction != KVMX_EXIT_IO_OUT)
		return { 0xffff, uint8_t(run->exit_reason) };
	return { run->io.port, reinterpret_cast<const uint8_t *>(run)[run->io.data_offset] };
}

// The Rig's runs are ~100x slower than native: generous deadlines.
constexpr int kDeadlineMs = 20000;

// A VM with the in-kernel irqchip; vCPU 0 in long mode runs @code at
// 0x1000 with an IDT whose vectors 0x20-0xff report themselves (handler64).
struct ApicVm {
	Env e;
	// @split: KVM_CAP_SPLIT_IRQCHIP with 24 pins for the VMM's IOAPIC.
	explicit ApicVm(const std::string &dev, const std::vector<uint8_t> &code, bool cpuid = false,
			bool split = false)
		: e(dev)
	{
		if (split) {
			kvmx_enable_cap cap{};
			cap.cap = KVMX_CAP_SPLIT_IRQCHIP;
			cap.args[0] = 24;
			if (::ioctl(e.vm.get(), KVMX_ENABLE_CAP, &cap))
				throw std::runtime_error(std::string("KVM_ENABLE_CAP: ") + strerror(errno));
		} else if (::ioctl(e.vm.get(), KVMX_CREATE_IRQCHIP, 0)) {
			throw std::runtime_error(std::string("KVM_CREATE_IRQCHIP: ") + strerror(errno));
		}
		e.long_mode(code);
		for (unsigned vec = 0x20; vec < 0x100; vec++) {
			uint64_t h = kHandlers + vec * 0x20;
			e.mem->write(h, handler64(uint8_t(vec)));
			uint8_t gate[16] = {};
			gate[0] = uint8_t(h), gate[1] = uint8_t(h >> 8);
			gate[2] = uint8_t(cs()), gate[3] = uint8_t(cs() >> 8);
			gate[5] = 0x8e;	// present, DPL 0, 64-bit interrupt gate
			gate[6] = uint8_t(h >> 16), gate[7] = uint8_t(h >> 24);
			e.mem->write(kIdt + vec * 16, std::vector<uint8_t>(gate, gate + 16));
		}
		kvmx_sregs s = sregs(e.vcpu.get());
		s.idt.base = kIdt;
		s.idt.limit = 256 * 16 - 1;
		if (::ioctl(e.vcpu.get(), KVMX_SET_SREGS, &s))
			throw std::runtime_error("KVM_SET_SREGS failed");
		if (cpuid)
			set_supported_cpuid(e.vcpu.get());
	}
	static kvmx_sregs sregs(int fd)
	{
		kvmx_sregs s{};
		if (::ioctl(fd, KVMX_GET_SREGS, &s))
			throw std::runtime_error("KVM_GET_SREGS failed");
		return s;
	}
	uint16_t cs() { return cs_ ? cs_ : (cs_ = sregs(e.vcpu.get()).cs.selector); }
	// The device's supported CPUID as the vCPU's: the APIC timer's periodic
	// and TSC-deadline modes exist only with a CPUID table that has them.
	void set_supported_cpuid(int fd)
	{
		std::vector<uint64_t> buf((sizeof(kvmx_cpuid2) + 80 * sizeof(kvmx_cpuid_entry2)) / 8 + 1);
		auto *c = reinterpret_cast<kvmx_cpuid2 *>(buf.data());
		c->nent = 80;
		if (::ioctl(e.sys.get(), KVMX_GET_SUPPORTED_CPUID, c))
			throw std::runtime_error("KVM_GET_SUPPORTED_CPUID failed");
		// As QEMU: the TSC-deadline timer when KVM_CAP_TSC_DEADLINE_TIMER says so.
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 1 &&
			    ::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_TSC_DEADLINE_TIMER) > 0)
				c->entries[i].ecx |= 1u << 24;
		if (::ioctl(fd, KVMX_SET_CPUID2, c))
			throw std::runtime_error("KVM_SET_CPUID2 failed");
	}
	// vCPU @id, running the same long-mode setup at @rip (stack at @rsp).
	Fd add_vcpu(unsigned id, uint64_t rip, uint64_t rsp, kvmx_run **run)
	{
		Fd fd(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, id));
		if (!fd)
			throw std::runtime_error("KVM_CREATE_VCPU failed");
		void *p = ::mmap(nullptr, e.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
		if (p == MAP_FAILED)
			throw std::runtime_error("mmap failed");
		*run = static_cast<kvmx_run *>(p);
		kvmx_sregs s = sregs(e.vcpu.get());
		if (::ioctl(fd.get(), KVMX_SET_SREGS, &s))
			throw std::runtime_error("KVM_SET_SREGS failed");
		kvmx_regs r{};
		r.rip = rip;
		r.rsp = rsp;
		r.rflags = 2;
		if (::ioctl(fd.get(), KVMX_SET_REGS, &r))
			throw std::runtime_error("KVM_SET_REGS failed");
		return fd;
	}
	// Run vCPU 0 to its next OUT.
	std::pair<uint16_t, uint8_t> next_out(int ms = kDeadlineMs)
	{
		int r = run_with_deadline(e.vcpu.get(), ms);
		if (r)
			return { 0, uint8_t(r) };
		return out_of(e.run);
	}
	kvmx_ioapic_state ioapic()
	{
		kvmx_irqchip c{};
		c.chip_id = KVMX_IRQCHIP_IOAPIC;
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), 0);
		return c.chip.ioapic;
	}
	// IOAPIC pin @pin to @vector on APIC 0, unmasked.
	void route_pin(unsigned pin, uint8_t vector, bool level)
	{
		kvmx_irqchip c{};
		c.chip_id = KVMX_IRQCHIP_IOAPIC;
		ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), 0);
		c.chip.ioapic.redirtbl[pin].bits = vector | (level ? 1ull << 15 : 0);
		ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_IRQCHIP, &c), 0);
	}
	int irq_line(uint32_t gsi, uint32_t level)
	{
		kvmx_irq_level l{};
		l.irq = gsi;
		l.level = level;
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE_STATUS, &l), 0);
		return l.status;
	}

private:
	uint16_t cs_ = 0;
};

using Out = std::pair<uint16_t, uint8_t>;

// kvmx's module parameter apicv (APIC virtualization) is on.
bool apicv_on()
{
	return testutil::get_file("/sys/module/kvmx/parameters/apicv").starts_with("Y");
}

// ... and the CPU virtualizes writes to the xAPIC page too, not only reads.
bool xapic_writes_on()
{
	return apicv_on() &&
	       testutil::get_file("/sys/module/kvmx/parameters/apicv_xapic_writes").starts_with("Y");
}

// The vCPU's binary stat @name (KVM_GET_STATS_FD), summed over its values.
uint64_t vcpu_stat(int vcpu, const std::string &name)
{
	Fd fd(::ioctl(vcpu, KVMX_GET_STATS_FD, 0));
	kvmx_stats_header h{};
	if (!fd || ::pread(fd.get(), &h, sizeof(h), 0) != ssize_t(sizeof(h)))
		throw std::runtime_error("KVM_GET_STATS_FD failed");
	const size_t dsize = sizeof(kvmx_stats_desc) + h.name_size;
	std::vector<char> descs(dsize * h.num_desc);
	if (::pread(fd.get(), descs.data(), descs.size(), h.desc_offset) != ssize_t(descs.size()))
		throw std::runtime_error("stats descriptors unreadable");
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const auto *d = reinterpret_cast<const kvmx_stats_desc *>(descs.data() + i * dsize);
		if (name != d->name)
			continue;
		std::vector<uint64_t> v(d->size);
		if (::pread(fd.get(), v.data(), v.size() * 8, h.data_offset + d->offset) !=
		    ssize_t(v.size() * 8))
			throw std::runtime_error("stat " + name + " unreadable");
		uint64_t sum = 0;
		for (uint64_t x : v)
			sum += x;
		return sum;
	}
	throw std::runtime_error("no stat " + name);
}

TEST_P(Irqchip, CreateRules)
{
	Env e(GetParam());
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IRQCHIP), 1);
	kvmx_irq_level l{};
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE, &l), ENXIO) << "no irqchip yet";
	kvmx_irqchip c{};
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), ENXIO);
	kvmx_msi msi{};
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SIGNAL_MSI, &msi), EINVAL);
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), EEXIST);
	e.make_vcpu();
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_BOOT_CPU_ID, nullptr), EBUSY);
	kvmx_interrupt irq{ 0x30 };
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), ENXIO)
		<< "the in-kernel PIC decides, not KVM_INTERRUPT";

	Env late(GetParam());
	late.make_vcpu();
	EXPECT_EQ(ioctl_errno(late.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), EINVAL)
		<< "after a vCPU exists";
	kvmx_lapic_state s{};
	EXPECT_EQ(ioctl_errno(late.vcpu.get(), KVMX_GET_LAPIC, &s), EINVAL);
}

// The APIC as a vCPU is born with it: KVM's reset values, and application
// processors waiting for INIT/SIPI inside KVM_RUN.
TEST_P(Irqchip, ApicResetStateAndWaitingApplicationProcessor)
{
	Env e(GetParam());
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	e.make_vcpu();
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	auto reg = [&](unsigned off) { uint32_t v; memcpy(&v, s.regs + off, 4); return v; };
	EXPECT_EQ(reg(0x20), 0u) << "APIC ID 0";
	EXPECT_EQ(reg(0x30) & 0xff, 0x14u) << "version";
	EXPECT_EQ(reg(0xe0), 0xffffffffu) << "DFR: flat";
	EXPECT_EQ(reg(0xf0), 0xffu) << "SVR: software-disabled";
	EXPECT_EQ(reg(0x350), 0x700u) << "LINT0: ExtINT on the BSP";
	EXPECT_EQ(reg(0x320) & 0x10000, 0x10000u) << "LVTT masked";
	kvmx_mp_state mp{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_MP_STATE, &mp), 0);
	EXPECT_EQ(mp.mp_state, unsigned(KVMX_MP_STATE_RUNNABLE));

	Fd ap(::ioctl(e.vm.get(), KVMX_CREATE_VCPU, 1));
	ASSERT_TRUE(ap);
	ASSERT_EQ(ioctl_errno(ap.get(), KVMX_GET_MP_STATE, &mp), 0);
	EXPECT_EQ(mp.mp_state, unsigned(KVMX_MP_STATE_UNINITIALIZED));
	ASSERT_EQ(ioctl_errno(ap.get(), KVMX_GET_LAPIC, &s), 0);
	EXPECT_EQ(reg(0x20), 1u << 24) << "APIC ID 1";
	EXPECT_EQ(reg(0x350), 0x10000u) << "LINT0 masked on an AP";
	EXPECT_EQ(run_with_deadline(ap.get(), 300), EINTR) << "an AP waits for SIPI in KVM_RUN";
	// A round trip of a state KVM_SET_LAPIC accepts.
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	uint32_t tpr = 0x20, svr = 0x1ff;
	memcpy(s.regs + 0x80, &tpr, 4);
	memcpy(s.regs + 0xf0, &svr, 4);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_LAPIC, &s), 0);
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	EXPECT_EQ(reg(0x80), 0x20u);
	EXPECT_EQ(reg(0xf0), 0x1ffu);
	kvmx_sregs sr = ApicVm::sregs(e.vcpu.get());
	EXPECT_EQ(sr.cr8, 2u) << "CR8 is TPR[7:4]";
	EXPECT_EQ(sr.apic_base, 0xfee00900u) << "enabled, BSP";
}

// An edge on an IOAPIC pin reaches the guest; another, raised while the
// vCPU sleeps in HLT inside KVM_RUN, wakes it.
TEST_P(Irqchip, IoapicEdgeInterruptWakesHaltedGuest)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	// GSIs 16-23 reach only the IOAPIC (below 16 the PICs too).
	g.route_pin(20, 0x40, false);
	EXPECT_EQ(g.irq_line(20, 1), 1) << "delivered to one APIC";
	g.irq_line(20, 0);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x40));

	// Now from another thread while the guest is halted.
	std::thread raiser([&] {
		usleep(200000);
		g.irq_line(20, 1);
		g.irq_line(20, 0);
	});
	Out o = g.next_out();
	raiser.join();
	EXPECT_EQ(o, Out(kReportPort, 0x40)) << "the halted vCPU was not woken";
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "a second interrupt came";
}

// A level-triggered pin: remote IRR is set until the EOI, and a line still
// high at the EOI delivers again.
TEST_P(Irqchip, IoapicLevelInterruptRepeatsUntilLowered)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	g.route_pin(21, 0x50, true);
	EXPECT_EQ(g.irq_line(21, 1), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50));
	EXPECT_TRUE(g.ioapic().redirtbl[21].fields.remote_irr) << "before the EOI";
	EXPECT_EQ(g.irq_line(21, 1), -1) << "refused while remote IRR is set";
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50)) << "still high at the EOI: again";
	g.irq_line(21, 0);
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "lowered: no more";
	EXPECT_FALSE(g.ioapic().redirtbl[21].fields.remote_irr) << "after the EOI";
}

TEST_P(Irqchip, MsiRoutesAndSignalMsi)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	alignas(8) uint8_t buf[sizeof(kvmx_irq_routing) + sizeof(kvmx_irq_routing_entry)] = {};
	auto *r = reinterpret_cast<kvmx_irq_routing *>(buf);
	r->nr = 1;
	r->entries[0].gsi = 30;
	r->entries[0].type = KVMX_IRQ_ROUTING_MSI;
	r->entries[0].u.msi.address_lo = 0xfee00000;
	r->entries[0].u.msi.data = 0x42;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_SET_GSI_ROUTING, r), 0);
	EXPECT_EQ(g.irq_line(30, 1), 1);
	g.irq_line(30, 0);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x42));
	EXPECT_EQ(g.irq_line(20, 1), -1) << "GSI 20 has no route any more";

	kvmx_msi msi{};
	msi.address_lo = 0xfee00000;
	msi.data = 0x43;
	EXPECT_EQ(::ioctl(g.e.vm.get(), KVMX_SIGNAL_MSI, &msi), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x43));
	msi.address_lo = 0xfee05000;	// APIC ID 5: nobody
	EXPECT_LE(::ioctl(g.e.vm.get(), KVMX_SIGNAL_MSI, &msi), 0);
}

TEST_P(Irqchip, PeriodicApicTimer)
{
	ApicVm g(GetParam(), kPeriodicTimer64, true);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(g.next_out(), Out(kReportPort, 0x41)) << "tick " << i;
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	uint32_t lvtt, tmict;
	memcpy(&lvtt, s.regs + 0x320, 4);
	memcpy(&tmict, s.regs + 0x380, 4);
	EXPECT_EQ(lvtt, 0x20041u);
	EXPECT_EQ(tmict, 1000000u);
}

// Without a CPUID table the timer has only its one-shot mode (KVM's rule):
// the periodic bit doesn't stick and a single interrupt comes.
TEST_P(Irqchip, ApicTimerModesFollowCpuid)
{
	ApicVm g(GetParam(), kPeriodicTimer64);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x41));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "one-shot: once";
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	uint32_t lvtt;
	memcpy(&lvtt, s.regs + 0x320, 4);
	EXPECT_EQ(lvtt, 0x41u);
}

TEST_P(Irqchip, TscDeadlineTimerFiresOnce)
{
	ApicVm g(GetParam(), kTscDeadline64, true);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x42));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "one-shot: once";
	rig::Msrs m(1);
	m->entries[0].index = 0x6e0;
	ASSERT_EQ(::ioctl(g.e.vcpu.get(), KVMX_GET_MSRS, m.get()), 1);
	EXPECT_EQ(m->entries[0].data, 0u) << "the deadline disarms when it fires";
}

// vCPU 0 sends a fixed IPI to vCPU 1, which sleeps in HLT, then INIT and
// SIPI to vCPU 2, which waits for them in KVM_RUN (as Linux starts its APs)
// and starts in real mode at the SIPI's page.
TEST_P(Irqchip, IpiWakesAnotherVcpuAndInitSipiStartsOne)
{
	ApicVm g(GetParam(), kSendIpis64);
	g.e.mem->write(kApCode64, kIdle64);
	g.e.mem->write(kApCode16, kApStarted16);
	kvmx_run *run1 = nullptr, *run2 = nullptr;
	Fd ap1 = g.add_vcpu(1, kApCode64, 0x70000, &run1);
	kvmx_mp_state mp{ KVMX_MP_STATE_RUNNABLE };
	ASSERT_EQ(ioctl_errno(ap1.get(), KVMX_SET_MP_STATE, &mp), 0);
	Fd ap2(::ioctl(g.e.vm.get(), KVMX_CREATE_VCPU, 2));
	ASSERT_TRUE(ap2);
	void *p = ::mmap(nullptr, g.e.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, ap2.get(), 0);
	ASSERT_NE(p, MAP_FAILED);
	run2 = static_cast<kvmx_run *>(p);

	std::mutex m;
	std::condition_variable cv;
	std::vector<Out> outs1;
	Out out2{};
	int r2 = -1;
	auto record = [&](int r, kvmx_run *run) {
		if (!r && run->exit_reason != KVMX_EXIT_IO)
			ADD_FAILURE() << "exit " << run->exit_reason << " suberror "
				      << run->internal.suberror;
		return r ? Out(0, uint8_t(r)) : out_of(run);
	};
	std::thread t1([&] {
		for (int i = 0; i < 2; i++) {
			int r = run_with_deadline(ap1.get(), kDeadlineMs);
			std::lock_guard<std::mutex> l(m);
			outs1.push_back(record(r, run1));
			cv.notify_all();
			if (r)
				break;
		}
	});
	std::thread t2([&] {
		// As in KVM, a run that saw INIT returns EAGAIN: the VMM runs again.
		int r;
		for (int i = 0; (r = run_with_deadline(ap2.get(), kDeadlineMs)) == EAGAIN && i < 3; i++)
			;
		std::lock_guard<std::mutex> l(m);
		r2 = r;
		out2 = record(r, run2);
	});
	auto wait1 = [&](size_t n) {
		std::unique_lock<std::mutex> l(m);
		return cv.wait_for(l, std::chrono::milliseconds(kDeadlineMs),
				   [&] { return outs1.size() >= n; });
	};
	ASSERT_TRUE(wait1(1));
	EXPECT_EQ(outs1[0], Out(kReadyPort, 1));
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x99)) << "vCPU 0 sent the IPI";
	EXPECT_TRUE(wait1(2));
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x98)) << "vCPU 0 sent INIT and SIPI";
	t1.join();
	t2.join();
	ASSERT_EQ(outs1.size(), 2u);
	EXPECT_EQ(outs1[1], Out(kReportPort, 0x31)) << "the IPI's handler on vCPU 1";
	EXPECT_EQ(r2, 0);
	EXPECT_EQ(out2, Out(kReadyPort, 0x5a)) << "vCPU 2 started by SIPI";
	kvmx_sregs s = ApicVm::sregs(ap2.get());
	EXPECT_EQ(s.cs.selector, 0x800u);
	EXPECT_EQ(s.cs.base, 0x8000u);
	EXPECT_EQ(s.cr0 & 1, 0u) << "real mode";
	ASSERT_EQ(ioctl_errno(ap2.get(), KVMX_GET_MP_STATE, &mp), 0);
	EXPECT_EQ(mp.mp_state, unsigned(KVMX_MP_STATE_RUNNABLE));
	::munmap(run1, g.e.run_size);
	::munmap(run2, g.e.run_size);
}

// Two vCPUs on one host CPU hand a token back and forth 200 times, each
// waiting for it in a PAUSE loop; vCPU 0 times the whole with RDTSC.  A
// vCPU that waits keeps the CPU until the scheduler's tick takes it away
// (milliseconds), unless PAUSE-loop exiting makes it exit and yield to the
// vCPU it waits for (kvm_intel, and kvmx's spin.c): then a handoff costs
// about PLE_WINDOW and a yield.
//   vCPU 0: sti; rdtsc; shl rdx, 32; or rax, rdx; mov r8, rax; mov ecx, 200
//           l: mov dword [0x9000], 1; w: cmp dword [0x9000], 0; je g; pause; jmp w
//           g: dec ecx; jnz l; rdtsc; shl rdx, 32; or rax, rdx; sub rax, r8
//           mov [0x9008], rax; mov al, 1; out 0xe1, al; h: hlt; jmp h
//   vCPU 1: sti; mov ecx, 200; l: cmp dword [0x9000], 1; je g; pause; jmp l
//           g: mov dword [0x9000], 0; dec ecx; jnz l; mov al, 2; out 0xe1, al
//           h: hlt; jmp h
const std::vector<uint8_t> kPingTimed64 = {
	0xfb, 0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x49, 0x89,
	0xc0, 0xb9, 0xc8, 0x00, 0x00, 0x00, 0xc7, 0x04, 0x25, 0x00, 0x90, 0x00,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x83, 0x3c, 0x25, 0x00, 0x90, 0x00, 0x00,
	0x00, 0x74, 0x04, 0xf3, 0x90, 0xeb, 0xf2, 0xff, 0xc9, 0x75, 0xe3, 0x0f,
	0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x4c, 0x29, 0xc0, 0x48,
	0x89, 0x04, 0x25, 0x08, 0x90, 0x00, 0x00, 0xb0, 0x01, 0xe6, 0xe1, 0xf4,
	0xeb, 0xfd,
};
const std::vector<uint8_t> kPong64 = {
	0xfb, 0xb9, 0xc8, 0x00, 0x00, 0x00, 0x83, 0x3c, 0x25, 0x00, 0x90, 0x00,
	0x00, 0x01, 0x74, 0x04, 0xf3, 0x90, 0xeb, 0xf2, 0xc7, 0x04, 0x25, 0x00,
	0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xe3, 0xb0,
	0x02, 0xe6, 0xe1, 0xf4, 0xeb, 0xfd,
};

// Adds vCPU 1, runnable at kApCode64 with @ap_code, and runs it and vCPU 0
// of @g each in a thread of its own, both on this host CPU, until each
// makes its OUT (a zero port if it made none).
std::pair<Out, Out> run_two_on_one_cpu(ApicVm &g, const std::vector<uint8_t> &ap_code)
{
	g.e.mem->write(kApCode64, ap_code);
	kvmx_run *run1 = nullptr;
	Fd ap(g.add_vcpu(1, kApCode64, 0x70000, &run1));
	kvmx_mp_state mp{ KVMX_MP_STATE_RUNNABLE };
	EXPECT_EQ(ioctl_errno(ap.get(), KVMX_SET_MP_STATE, &mp), 0);
	const int cpu = sched_getcpu();
	EXPECT_GE(cpu, 0);
	auto run_on_cpu = [cpu](int fd, kvmx_run *run, Out *out) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		EXPECT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
		int r = run_with_deadline(fd, kDeadlineMs);
		*out = r ? Out(0, uint8_t(r)) : out_of(run);
	};
	Out out0{}, out1{};
	std::thread t0(run_on_cpu, g.e.vcpu.get(), g.e.run, &out0);
	std::thread t1(run_on_cpu, ap.get(), run1, &out1);
	t0.join();
	t1.join();
	::munmap(run1, g.e.run_size);	// else the vCPU, and the VM, outlive the test
	return { out0, out1 };
}

uint64_t guest_u64(ApicVm &g, uint64_t gpa)
{
	uint64_t v = 0;
	std::memcpy(&v, g.e.mem->at(gpa, sizeof(v)), sizeof(v));
	return v;
}

TEST_P(Irqchip, SpinningVcpusHandTheCpuToEachOther)
{
	ApicVm g(GetParam(), kPingTimed64);
	auto [out0, out1] = run_two_on_one_cpu(g, kPong64);
	ASSERT_EQ(out1, Out(kReadyPort, 2)) << "vCPU 1 gave the token back 200 times";
	ASSERT_EQ(out0, Out(kReadyPort, 1)) << "vCPU 0 got it back 200 times";
	// The rig's TSC runs at 3.5 GHz of rig time; its tick is 4 ms (HZ 250).
	const uint64_t per_round = guest_u64(g, 0x9008) / 200;
	std::printf("token round trip between two vCPUs on one CPU: %llu TSC ticks\n",
		    (unsigned long long)per_round);
	EXPECT_LT(per_round, 3500000u) << "over 1 ms: a waiting vCPU kept the CPU";
}

// KVM's PV steal time tells the guest which of its vCPUs is preempted (the
// "preempted" byte, offset 16 of the area): vCPU 1 turns steal time on at
// 0xa000, waits for vCPU 0 to be there, and works; vCPU 0, on the same
// host CPU, counts the rounds in which it finds vCPU 1's byte set.  While
// vCPU 1 works, vCPU 0 runs only when vCPU 1 is preempted.
//   vCPU 1: sti; mov ecx, 0x4b564d03; mov eax, 0xa001; xor edx, edx; wrmsr
//           mov byte [0x9020], 1; s: cmp byte [0x9030], 0; je s; mov ecx, 3000000
//           w: dec ecx; jnz w; mov byte [0x9000], 1; mov al, 2; out 0xe1, al
//           h: hlt; jmp h
//   vCPU 0: sti; mov byte [0x9030], 1; xor ebx, ebx; l: cmp byte [0x9000], 0; jne d
//           cmp byte [0x9020], 0; je p; test byte [0xa010], 1; jz p; inc rbx
//           p: pause; jmp l; d: mov [0x9008], rbx; mov al, 1; out 0xe1, al
//           h: hlt; jmp h
const std::vector<uint8_t> kStealTimeWorker64 = {
	0xfb, 0xb9, 0x03, 0x4d, 0x56, 0x4b, 0xb8, 0x01, 0xa0, 0x00, 0x00, 0x31,
	0xd2, 0x0f, 0x30, 0xc6, 0x04, 0x25, 0x20, 0x90, 0x00, 0x00, 0x01, 0x80,
	0x3c, 0x25, 0x30, 0x90, 0x00, 0x00, 0x00, 0x74, 0xf6, 0xb9, 0xc0, 0xc6,
	0x2d, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc6, 0x04, 0x25, 0x00, 0x90, 0x00,
	0x00, 0x01, 0xb0, 0x02, 0xe6, 0xe1, 0xf4, 0xeb, 0xfd,
};
const std::vector<uint8_t> kPreemptedWatcher64 = {
	0xfb, 0xc6, 0x04, 0x25, 0x30, 0x90, 0x00, 0x00, 0x01, 0x31, 0xdb, 0x80,
	0x3c, 0x25, 0x00, 0x90, 0x00, 0x00, 0x00, 0x75, 0x1b, 0x80, 0x3c, 0x25,
	0x20, 0x90, 0x00, 0x00, 0x00, 0x74, 0x0d, 0xf6, 0x04, 0x25, 0x10, 0xa0,
	0x00, 0x00, 0x01, 0x74, 0x03, 0x48, 0xff, 0xc3, 0xf3, 0x90, 0xeb, 0xdb,
	0x48, 0x89, 0x1c, 0x25, 0x08, 0x90, 0x00, 0x00, 0xb0, 0x01, 0xe6, 0xe1,
	0xf4, 0xeb, 0xfd,
};

TEST_P(Irqchip, StealTimeShowsAPreemptedVcpu)
{
	ApicVm g(GetParam(), kPreemptedWatcher64);
	auto [out0, out1] = run_two_on_one_cpu(g, kStealTimeWorker64);
	ASSERT_EQ(out1, Out(kReadyPort, 2)) << "the worker finished";
	ASSERT_EQ(out0, Out(kReadyPort, 1)) << "the watcher saw the worker's flag";
	uint64_t seen = guest_u64(g, 0x9008);
	EXPECT_GT(seen, 0u) << "vCPU 1 never showed as preempted";
	std::printf("watcher: vCPU 1 preempted in %llu rounds\n", (unsigned long long)seen);
}

// KVM's PV spinlock wake-up (KVM_FEATURE_PV_UNHALT): a waiter halts with
// interrupts off, where no interrupt can wake it, and the unlocker's
// KVM_HC_KICK_CPU (RAX 5, RCX the APIC ID) does.  vCPU 1 enables its APIC
// (as Linux has by then), says it is there and halts with IF=0; vCPU 0, on
// the same host CPU, waits a while, notes whether vCPU 1 got past its HLT
// (it must not have), kicks it and keeps the hypercall's result.
//   vCPU 1: cli; mov eax, 0xfee000f0; mov dword [rax], 0x1ff
//           mov byte [0x9020], 1; hlt; mov byte [0x9028], 1
//           mov al, 2; out 0xe1, al; h: hlt; jmp h
//   vCPU 0: sti; w: pause; cmp byte [0x9020], 0; je w; mov ecx, 200000
//           l: pause; dec ecx; jnz l; movzx eax, byte [0x9028]; mov [0x9010], rax
//           mov eax, 5; xor ebx, ebx; mov ecx, 1; vmcall; mov [0x9008], rax
//           mov al, 1; out 0xe1, al; h: hlt; jmp h
const std::vector<uint8_t> kHaltedWaiter64 = {
	0xfa, 0xb8, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x00, 0xff, 0x01, 0x00, 0x00,
	0xc6, 0x04, 0x25, 0x20, 0x90, 0x00, 0x00, 0x01, 0xf4, 0xc6, 0x04, 0x25,
	0x28, 0x90, 0x00, 0x00, 0x01, 0xb0, 0x02, 0xe6, 0xe1, 0xf4, 0xeb, 0xfd,
};
const std::vector<uint8_t> kKicker64 = {
	0xfb, 0xf3, 0x90, 0x80, 0x3c, 0x25, 0x20, 0x90, 0x00, 0x00, 0x00, 0x74,
	0xf4, 0xb9, 0x40, 0x0d, 0x03, 0x00, 0xf3, 0x90, 0xff, 0xc9, 0x75, 0xfa,
	0x0f, 0xb6, 0x04, 0x25, 0x28, 0x90, 0x00, 0x00, 0x48, 0x89, 0x04, 0x25,
	0x10, 0x90, 0x00, 0x00, 0xb8, 0x05, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xb9,
	0x01, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0x48, 0x89, 0x04, 0x25, 0x08,
	0x90, 0x00, 0x00, 0xb0, 0x01, 0xe6, 0xe1, 0xf4, 0xeb, 0xfd,
};

TEST_P(Irqchip, PvKickWakesAVcpuHaltedWithInterruptsOff)
{
	ApicVm g(GetParam(), kKicker64);
	auto [out0, out1] = run_two_on_one_cpu(g, kHaltedWaiter64);
	ASSERT_EQ(out0, Out(kReadyPort, 1)) << "vCPU 0 kicked";
	EXPECT_EQ(guest_u64(g, 0x9010), 0u) << "vCPU 1 ran past HLT with IF=0 before the kick";
	EXPECT_EQ(guest_u64(g, 0x9008), 0u) << "KVM_HC_KICK_CPU's result (0: done)";
	EXPECT_EQ(out1, Out(kReadyPort, 2)) << "the kick woke vCPU 1";
}

// KVM's PV IPIs (KVM_FEATURE_PV_SEND_IPI): KVM_HC_SEND_IPI (RAX 10) with
// two bitmaps of APIC IDs (RBX from RDX's ID, RCX from RDX + 64) and the
// ICR's vector and mode in RSI; RAX answers how many APICs took it.  vCPU 1
// enables its APIC and halts; vCPU 0 sends vector 0x31 to IDs 1 and 2 (only
// 1 exists), then with a shorthand (refused), then to ID 1 through the
// second bitmap, its base wrapping at 32 bits.
//   vCPU 1: mov eax, 0xfee000f0; mov dword [rax], 0x1ff; mov byte [0x9020], 1
//           sti; h: hlt; jmp h
//   vCPU 0: sti; w: pause; cmp byte [0x9020], 0; je w
//           mov eax, 10; mov ebx, 6; xor ecx, ecx; xor edx, edx; mov esi, 0x31
//           vmcall; mov [0x9008], rax
//           mov eax, 10; mov ebx, 2; xor ecx, ecx; xor edx, edx; mov esi, 0x40031
//           vmcall; mov [0x9010], rax
//           mov eax, 10; xor ebx, ebx; mov ecx, 1; mov edx, 0xffffffc1; mov esi, 0x31
//           vmcall; mov [0x9018], rax; mov al, 1; out 0xe1, al; h: hlt; jmp h
const std::vector<uint8_t> kIpiTarget64 = {
	0xb8, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x00, 0xff, 0x01, 0x00, 0x00, 0xc6,
	0x04, 0x25, 0x20, 0x90, 0x00, 0x00, 0x01, 0xfb, 0xf4, 0xeb, 0xfd,
};
const std::vector<uint8_t> kPvIpiSender64 = {
	0xfb, 0xf3, 0x90, 0x80, 0x3c, 0x25, 0x20, 0x90, 0x00, 0x00, 0x00, 0x74,
	0xf4, 0xb8, 0x0a, 0x00, 0x00, 0x00, 0xbb, 0x06, 0x00, 0x00, 0x00, 0x31,
	0xc9, 0x31, 0xd2, 0xbe, 0x31, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0x48,
	0x89, 0x04, 0x25, 0x08, 0x90, 0x00, 0x00, 0xb8, 0x0a, 0x00, 0x00, 0x00,
	0xbb, 0x02, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x31, 0xd2, 0xbe, 0x31, 0x00,
	0x04, 0x00, 0x0f, 0x01, 0xc1, 0x48, 0x89, 0x04, 0x25, 0x10, 0x90, 0x00,
	0x00, 0xb8, 0x0a, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xb9, 0x01, 0x00, 0x00,
	0x00, 0xba, 0xc1, 0xff, 0xff, 0xff, 0xbe, 0x31, 0x00, 0x00, 0x00, 0x0f,
	0x01, 0xc1, 0x48, 0x89, 0x04, 0x25, 0x18, 0x90, 0x00, 0x00, 0xb0, 0x01,
	0xe6, 0xe1, 0xf4, 0xeb, 0xfd,
};

TEST_P(Irqchip, PvSendIpiReachesTheVcpusOfItsBitmaps)
{
	ApicVm g(GetParam(), kPvIpiSender64);
	auto [out0, out1] = run_two_on_one_cpu(g, kIpiTarget64);
	ASSERT_EQ(out0, Out(kReadyPort, 1)) << "vCPU 0 sent";
	EXPECT_EQ(out1, Out(kReportPort, 0x31)) << "vCPU 1 took the IPI";
	EXPECT_EQ(guest_u64(g, 0x9008), 1u) << "APIC IDs 1 and 2: one APIC";
	EXPECT_EQ(guest_u64(g, 0x9010), uint64_t(-EINVAL)) << "a shorthand is refused";
	EXPECT_EQ(guest_u64(g, 0x9018), 1u) << "the second bitmap, from ID 0xffffffc1 + 64";
}

// KVM's PV EOI (KVM_FEATURE_PV_EOI): the guest names a byte with
// MSR_KVM_PV_EOI_EN; the hypervisor sets bit 0 there while an interrupt is
// in service, and the handler then clears it instead of writing EOI: the
// EOI happens at the next exit (here the ISR read, which exits on both:
// kvm_intel in Bochs runs without APICv, so it uses PV EOI).  With kvmx's
// apicv=1 the CPU retires EOIs itself and the flag stays clear, as KVM's
// with APICv.
//   main: SVR = 0x1ff; wrmsr 0x4b564d04 = 0x9101; sti; mov ebx, 0xfee00300
//         ICR = 0x40050 (self, vector 0x50); nop; nop; the same again
//         mov ebx, [0xfee00120] (ISR 0x40-0x5f); mov al, 1; out 0xe1, al
//   handler 0x50: push rax; mov al, [0x9100]; mov [0x9108], al; inc byte [0x9109]
//         btr dword [0x9100], 0; jc done; EOI = 0; done: pop rax; iretq
// The first interrupt also brings the IDT and handler pages into the EPT;
// the flag is the second one's.
const std::vector<uint8_t> kPvEoi64 = {
	0xb8, 0xf0, 0x00, 0xe0, 0xfe, 0xc7, 0x00, 0xff, 0x01, 0x00, 0x00, 0xb9,
	0x04, 0x4d, 0x56, 0x4b, 0xb8, 0x01, 0x91, 0x00, 0x00, 0x31, 0xd2, 0x0f,
	0x30, 0xfb, 0xbb, 0x00, 0x03, 0xe0, 0xfe, 0xc7, 0x03, 0x50, 0x00, 0x04,
	0x00, 0x90, 0x90, 0xc7, 0x03, 0x50, 0x00, 0x04, 0x00, 0x90, 0x90, 0xb8,
	0x20, 0x01, 0xe0, 0xfe, 0x8b, 0x18, 0xb0, 0x01, 0xe6, 0xe1,
};
const std::vector<uint8_t> kPvEoiHandler64 = {
	0x50, 0x8a, 0x04, 0x25, 0x00, 0x91, 0x00, 0x00, 0x88, 0x04, 0x25, 0x08,
	0x91, 0x00, 0x00, 0xfe, 0x04, 0x25, 0x09, 0x91, 0x00, 0x00, 0x0f, 0xba,
	0x34, 0x25, 0x00, 0x91, 0x00, 0x00, 0x00, 0x72, 0x0b, 0xb8, 0xb0, 0x00,
	0xe0, 0xfe, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x48, 0xcf,
};

TEST_P(Irqchip, PvEoiTakesTheHandlersEoi)
{
	ApicVm g(GetParam(), kPvEoi64);
	g.e.mem->write(kHandlers + 0x50 * 0x20, kPvEoiHandler64);	// over 0x51's too
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	const bool used = GetParam() == "/dev/kvmx"
				  ? !apicv_on()
				  : testutil::get_file("/sys/module/kvm_intel/parameters/enable_apicv")
					    .starts_with("N");
	EXPECT_EQ(g.e.mem->at(0x9109, 1)[0], 2) << "the handler ran twice";
	EXPECT_EQ(g.e.mem->at(0x9108, 1)[0], used ? 1 : 0) << "the flag the handler found";
	EXPECT_EQ(g.e.mem->at(0x9100, 1)[0], 0) << "cleared, by the guest or the hypervisor";
	EXPECT_EQ(g.e.regs().rbx & (1u << 16), 0u) << "vector 0x50 no longer in service";
	rig::Msrs m(1);
	m->entries[0].index = 0x4b564d04;
	ASSERT_EQ(::ioctl(g.e.vcpu.get(), KVMX_GET_MSRS, m.get()), 1);
	EXPECT_EQ(m->entries[0].data, 0x9101u) << "MSR_KVM_PV_EOI_EN reads back";
	m->entries[0].data = 0x9103;
	EXPECT_EQ(::ioctl(g.e.vcpu.get(), KVMX_SET_MSRS, m.get()), 0) << "not 4-byte aligned";
}

// The 8259 pair in the kernel: a real-mode guest programs it and takes
// IRQ1 through the BSP's LINT0 (ExtINT) without touching its APIC.
TEST_P(Irqchip, PicInterruptThroughLint0)
{
	Env e(GetParam());
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	e.real_mode(kPicSetup16);
	install_pic_handler(e);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	ASSERT_EQ(out_of(e.run), Out(kReadyPort, 1));
	kvmx_irq_level l{};
	l.irq = 1;
	l.level = 1;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE, &l), 0);
	l.level = 0;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE, &l), 0);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(kReportPort, 9));
	kvmx_irqchip c{};
	c.chip_id = KVMX_IRQCHIP_PIC_MASTER;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), 0);
	EXPECT_EQ(c.chip.pic.irq_base, 8);
	EXPECT_EQ(c.chip.pic.imr, 0xfd);
	EXPECT_EQ(c.chip.pic.isr, 0) << "the handler's EOI";
	// A masked line stays out.
	l.irq = 3;
	l.level = 1;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE, &l), 0);
	EXPECT_EQ(run_with_deadline(e.vcpu.get(), 300), EINTR);
}

TEST_P(Irqchip, BadInputIsRefused)
{
	Env e(GetParam());
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	e.make_vcpu();
	kvmx_irqchip c{};
	c.chip_id = 3;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), EINVAL);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_IRQCHIP, &c), EINVAL);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, nullptr), EFAULT);

	alignas(8) uint8_t buf[sizeof(kvmx_irq_routing) + sizeof(kvmx_irq_routing_entry) * 2] = {};
	auto *r = reinterpret_cast<kvmx_irq_routing *>(buf);
	auto one = [&](kvmx_irq_routing_entry ent) {
		r->nr = 1;
		r->flags = 0;
		r->entries[0] = ent;
		return ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r);
	};
	kvmx_irq_routing_entry ent{};
	ent.type = KVMX_IRQ_ROUTING_IRQCHIP;
	ent.u.irqchip.irqchip = KVMX_IRQCHIP_IOAPIC;
	ent.u.irqchip.pin = 24;
	EXPECT_EQ(one(ent), EINVAL) << "pin 24";
	ent.u.irqchip.irqchip = KVMX_IRQCHIP_PIC_SLAVE;
	ent.u.irqchip.pin = 8;
	EXPECT_EQ(one(ent), EINVAL) << "PIC pin 8";
	ent.u.irqchip.irqchip = 3;
	ent.u.irqchip.pin = 0;
	EXPECT_EQ(one(ent), EINVAL) << "chip 3";
	ent.u.irqchip.irqchip = KVMX_IRQCHIP_IOAPIC;
	ent.type = 99;
	EXPECT_EQ(one(ent), EINVAL) << "type 99";
	ent.type = KVMX_IRQ_ROUTING_IRQCHIP;
	ent.gsi = 5000;
	EXPECT_EQ(one(ent), EINVAL) << "GSI beyond the table";
	r->nr = 5000;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r), EINVAL) << "too many routes";
	r->nr = 0;
	r->flags = 1;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r), EINVAL) << "flags";
	// Two routes of one GSI to the same chip.
	r->nr = 2;
	r->flags = 0;
	ent.gsi = 3;
	r->entries[0] = ent;
	r->entries[1] = ent;
	r->entries[1].u.irqchip.pin = 4;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r), EINVAL) << "same chip twice";

	kvmx_irq_level l{};
	l.irq = 100000;
	l.level = 1;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQ_LINE_STATUS, &l), 0);
	EXPECT_EQ(l.status, -1) << "a GSI without a route";
	kvmx_mp_state mp{ 1000 };
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_MP_STATE, &mp), EINVAL);
	kvmx_msi msi{};
	msi.flags = 0x80;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SIGNAL_MSI, &msi), EINVAL) << "unknown flags";
	kvmx_lapic_state *null_state = nullptr;
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_LAPIC, null_state), EFAULT);
}

// A periodic timer longer than 2^32 ns (divide by 2, TMICT 2^31): its
// current count reads back (a 32-bit division once made that a host oops).
TEST_P(Irqchip, LongPeriodicTimerCountReadsBack)
{
	ApicVm g(GetParam(), kIdle64, true);
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	auto put = [&](unsigned off, uint32_t v) { memcpy(s.regs + off, &v, 4); };
	put(0xf0, 0x1ff);		// SVR: enabled
	put(0x3e0, 0);			// TDCR: divide by 2
	put(0x320, 0x20041);		// LVTT: periodic
	put(0x380, 0x80000000u);	// TMICT
	put(0x390, 0x80000000u);	// TMCCT (KVM restarts the count from it)
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_SET_LAPIC, &s), 0);
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	uint32_t tmcct;
	memcpy(&tmcct, s.regs + 0x390, 4);
	EXPECT_GT(tmcct, 0x40000000u) << "counting down from 2^31";
	EXPECT_LE(tmcct, 0x80000000u);
}

// The count an eventfd holds now (0 if none), without blocking.
uint64_t eventfd_count(int fd)
{
	uint64_t n = 0;
	if (::read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

// An eventfd write raises a GSI (KVM_IRQFD), also while the vCPU sleeps in
// HLT; after KVM_IRQFD_FLAG_DEASSIGN it no longer does.
TEST_P(Irqchip, IrqfdRaisesItsGsi)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	g.route_pin(20, 0x40, false);
	Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	ASSERT_TRUE(efd);
	kvmx_irqfd f{};
	f.fd = efd.get();
	f.gsi = 20;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), 0);
	EXPECT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), EBUSY) << "one GSI per eventfd";
	uint64_t one = 1;
	ASSERT_EQ(::write(efd.get(), &one, 8), 8);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x40));
	EXPECT_EQ(eventfd_count(efd.get()), 0u) << "the irqfd consumed the count";

	std::thread writer([&] {
		usleep(200000);
		uint64_t n = 1;
		EXPECT_EQ(::write(efd.get(), &n, 8), 8);
	});
	Out o = g.next_out();
	writer.join();
	EXPECT_EQ(o, Out(kReportPort, 0x40)) << "the halted vCPU was not woken";

	f.flags = KVMX_IRQFD_FLAG_DEASSIGN;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), 0);
	ASSERT_EQ(::write(efd.get(), &one, 8), 8);
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "deassigned, yet it fired";
	EXPECT_EQ(eventfd_count(efd.get()), 1u);

	// A closed eventfd takes its irqfd with it; the GSI can be wired again.
	Fd efd2(::eventfd(0, EFD_CLOEXEC));
	f = {};
	f.fd = efd2.get();
	f.gsi = 20;
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), 0);
	efd2.reset();
	// A count written before KVM_IRQFD fires when it is assigned.
	Fd efd3(::eventfd(0, EFD_CLOEXEC));
	ASSERT_EQ(::write(efd3.get(), &one, 8), 8);
	f.fd = efd3.get();
	EXPECT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), 0);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x40)) << "the count already there";
}

TEST_P(Irqchip, IrqfdBadInput)
{
	Env e(GetParam());
	Fd efd(::eventfd(0, EFD_CLOEXEC));
	kvmx_irqfd f{};
	f.fd = efd.get();
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "no irqchip yet";
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	f.fd = 12345;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EBADF);
	f.fd = e.vm.get();
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "not an eventfd";
	f.fd = efd.get();
	f.flags = 0x80;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "unknown flag";
	f.flags = KVMX_IRQFD_FLAG_DEASSIGN;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), 0) << "deassigning nothing is fine";
}

// KVM_IRQFD's argument: @fd on @gsi with @flags (@resamplefd: KVM_IRQFD_FLAG_RESAMPLE's).
kvmx_irqfd irqfd_args(int fd, uint32_t gsi, uint32_t flags, int resamplefd)
{
	kvmx_irqfd f{};
	f.fd = fd;
	f.gsi = gsi;
	f.flags = flags;
	f.resamplefd = resamplefd;
	return f;
}

// KVM_IRQFD_FLAG_RESAMPLE on a level-triggered IOAPIC pin: the write raises
// the line and it stays up until the guest's EOI, which drops it and
// signals the resamplefd (VFIO's INTx path).  The irqfds of one GSI share
// the line and all hear the EOI; the last one deassigned drops the line.
TEST_P(Irqchip, ResamplingIrqfdHoldsTheLineUntilTheEoi)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	EXPECT_EQ(::ioctl(g.e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_IRQFD_RESAMPLE), 1);
	g.route_pin(21, 0x50, true);
	Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), rfd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	Fd efd2(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), rfd2(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	ASSERT_TRUE(efd && rfd && efd2 && rfd2);
	auto assign = [&](int fd, int resamplefd, uint32_t flags) {
		kvmx_irqfd f = irqfd_args(fd, 21, flags, resamplefd);
		return ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f);
	};
	const uint64_t one = 1;
	const uint32_t pin = 1u << 21;
	ASSERT_EQ(assign(efd.get(), rfd.get(), KVMX_IRQFD_FLAG_RESAMPLE), 0);
	ASSERT_EQ(::write(efd.get(), &one, 8), 8);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50));
	// The handler reported before its EOI: the line is still up.
	kvmx_ioapic_state io = g.ioapic();
	EXPECT_TRUE(io.irr & pin) << "a level, not a pulse";
	EXPECT_TRUE(io.redirtbl[21].fields.remote_irr);
	EXPECT_EQ(eventfd_count(rfd.get()), 0u) << "signalled before the EOI";
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "the EOI did not drop the line";
	EXPECT_EQ(eventfd_count(rfd.get()), 1u) << "the EOI did not signal the resamplefd";
	io = g.ioapic();
	EXPECT_FALSE(io.irr & pin);
	EXPECT_FALSE(io.redirtbl[21].fields.remote_irr);

	// A second one on the GSI: one line, both resamplefds told.
	ASSERT_EQ(assign(efd2.get(), rfd2.get(), KVMX_IRQFD_FLAG_RESAMPLE), 0);
	ASSERT_EQ(::write(efd2.get(), &one, 8), 8);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR);
	EXPECT_EQ(eventfd_count(rfd.get()), 1u);
	EXPECT_EQ(eventfd_count(rfd2.get()), 1u);

	// Deassigned while the line is up: the last one out drops it.
	ASSERT_EQ(::write(efd.get(), &one, 8), 8);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50));
	EXPECT_TRUE(g.ioapic().irr & pin);
	ASSERT_EQ(assign(efd.get(), 0, KVMX_IRQFD_FLAG_DEASSIGN), 0);
	EXPECT_TRUE(g.ioapic().irr & pin) << "the second one still holds it";
	ASSERT_EQ(assign(efd2.get(), 0, KVMX_IRQFD_FLAG_DEASSIGN), 0);
	EXPECT_FALSE(g.ioapic().irr & pin) << "nobody holds it";
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR);
	EXPECT_EQ(eventfd_count(rfd.get()) + eventfd_count(rfd2.get()), 0u) << "deassigned, yet told";
	EXPECT_FALSE(g.ioapic().redirtbl[21].fields.remote_irr) << "the EOI still came";

	// An eventfd closed with the line up: the same, through its EPOLLHUP.
	Fd efd3(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	ASSERT_EQ(assign(efd3.get(), rfd.get(), KVMX_IRQFD_FLAG_RESAMPLE), 0);
	ASSERT_EQ(::write(efd3.get(), &one, 8), 8);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x50));
	efd3.reset();
	ASSERT_EQ(assign(efd.get(), 0, KVMX_IRQFD_FLAG_DEASSIGN), 0);	// waits for the cleanup
	EXPECT_FALSE(g.ioapic().irr & pin) << "a closed eventfd still holds the line";
}

// On an edge-triggered pin the line is held as well: the local APIC must
// then pass the vector's EOI on although its TMR bit is clear (KVM's ack
// notifiers ask for that), or the line stays up and the next write is lost.
TEST_P(Irqchip, ResamplingIrqfdOnAnEdgePin)
{
	ApicVm g(GetParam(), kIdle64);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	g.route_pin(22, 0x51, false);
	Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), rfd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	kvmx_irqfd f = irqfd_args(efd.get(), 22, KVMX_IRQFD_FLAG_RESAMPLE, rfd.get());
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_IRQFD, &f), 0);
	const uint64_t one = 1;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(::write(efd.get(), &one, 8), 8);
		EXPECT_EQ(g.next_out(), Out(kReportPort, 0x51)) << "write " << i;
		EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "write " << i;
		EXPECT_EQ(eventfd_count(rfd.get()), 1u) << "the EOI, write " << i;
		EXPECT_FALSE(g.ioapic().irr & (1u << 22)) << "write " << i;
	}
}

// GSI 1 with a resampling irqfd on a guest that takes IRQ1 and reports 9.
void resample_through_the_8259(Env &e)
{
	Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), rfd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	kvmx_irqfd f = irqfd_args(efd.get(), 1, KVMX_IRQFD_FLAG_RESAMPLE, rfd.get());
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), 0);
	const uint64_t one = 1;
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(::write(efd.get(), &one, 8), 8);
		ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0) << "write " << i;
		EXPECT_EQ(out_of(e.run), Out(kReportPort, 9)) << "write " << i;
		EXPECT_EQ(eventfd_count(rfd.get()), 1u) << "the handler's EOI, write " << i;
		kvmx_irqchip c{};
		c.chip_id = KVMX_IRQCHIP_IOAPIC;
		ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), 0);
		EXPECT_EQ(c.chip.ioapic.irr & 2u, 0u) << "GSI 1's IOAPIC route, write " << i;
	}
}

// The 8259's end of interrupt is the acknowledgement there (its ISR bit
// cleared): the line drops, so the next write is a new edge and delivers
// again.  GSI 1 also reaches IOAPIC pin 1 (masked): dropped there too.
// In automatic EOI mode the acknowledgement is the INTA cycle itself.
TEST_P(Irqchip, ResamplingIrqfdOnThe8259)
{
	for (bool aeoi : { false, true }) {
		SCOPED_TRACE(aeoi ? "automatic EOI" : "EOI command");
		Env e(GetParam());
		ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
		std::vector<uint8_t> setup = kPicSetup16;
		if (aeoi)
			setup[13] |= 2;		// ICW4: AEOI (the handler's EOI then finds nothing)
		e.real_mode(setup);
		install_pic_handler(e);
		ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
		ASSERT_EQ(out_of(e.run), Out(kReadyPort, 1));
		resample_through_the_8259(e);
	}
}

TEST_P(Irqchip, ResamplingIrqfdBadInput)
{
	Fd efd(::eventfd(0, EFD_CLOEXEC)), rfd(::eventfd(0, EFD_CLOEXEC));
	kvmx_irqfd f = irqfd_args(efd.get(), 5, KVMX_IRQFD_FLAG_RESAMPLE, rfd.get());
	{
		Env e(GetParam());
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "no irqchip yet";
		kvmx_enable_cap cap{};
		cap.cap = KVMX_CAP_SPLIT_IRQCHIP;
		cap.args[0] = 24;
		ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), 0);
		EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "a split irqchip's IOAPIC is the VMM's";
	}
	Env e(GetParam());
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	f.resamplefd = 12345;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EBADF);
	f.resamplefd = e.vm.get();
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EINVAL) << "not an eventfd";
	f.resamplefd = rfd.get();
	f.fd = 12345;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EBADF);
	f.fd = efd.get();
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), 0);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EBUSY) << "one GSI per eventfd";
	f.gsi = 6;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IRQFD, &f), EBUSY) << "nor another GSI";
	// The VM goes with the irqfd attached and its line up.
	const uint64_t one = 1;
	EXPECT_EQ(::write(efd.get(), &one, 8), 8);
}

// Guest writes that match an ioeventfd signal it instead of exiting; those
// that don't (another value) exit to userspace as before.
TEST_P(Irqchip, IoeventfdsTakeMatchingWrites)
{
	Env e(GetParam());
	e.long_mode(kDoorbells64);
	Fd pio(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), mmio(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	kvmx_ioeventfd a{};
	a.addr = 0x600;
	a.len = 1;
	a.fd = pio.get();
	a.datamatch = 0x12;
	a.flags = KVMX_IOEVENTFD_FLAG_PIO | KVMX_IOEVENTFD_FLAG_DATAMATCH;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &a), 0);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &a), EEXIST);
	kvmx_ioeventfd b{};
	b.addr = 0xd0000000;
	b.len = 4;
	b.fd = mmio.get();
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &b), 0);

	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(out_of(e.run), Out(0x600, 0x34)) << "0x12 went to the eventfd, 0x34 comes here";
	EXPECT_EQ(eventfd_count(pio.get()), 1u);
	ASSERT_EQ(e.run_once(), 0);
	EXPECT_EQ(out_of(e.run), Out(kReadyPort, 2)) << "the MMIO write went to its eventfd";
	EXPECT_EQ(eventfd_count(mmio.get()), 1u);

	a.flags |= KVMX_IOEVENTFD_FLAG_DEASSIGN;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &a), 0);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &a), ENOENT);
	kvmx_ioeventfd bad = b;
	bad.len = 3;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &bad), EINVAL) << "length 3";
	bad = b;
	bad.flags = 0x100;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &bad), EINVAL) << "unknown flag";
	bad = b;
	bad.len = 0;
	bad.flags = KVMX_IOEVENTFD_FLAG_DATAMATCH;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &bad), EINVAL) << "any length + datamatch";
	bad = b;
	bad.addr = ~0ull - 1;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &bad), EINVAL) << "wraps";
	bad = b;
	bad.fd = e.vm.get();
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_IOEVENTFD, &bad), EINVAL) << "not an eventfd";
}

// KVM_SET_VAPIC_ADDR and KVM_TPR_ACCESS_REPORTING, which QEMU's in-kernel
// APIC calls at every reset (its kvmvapic ROM speeds up 32-bit Windows): the
// u32 at the vapic address follows the TPR before each entry, and what the
// guest writes there is its TPR after the next exit.  A TPR access that
// goes through the APIC page is reported after it is done, with its RIP;
// where the CPU virtualizes the APIC page (kvm_intel's flexpriority/APICv)
// no access exits and none is reported.
TEST_P(Irqchip, VapicMirrorsTprAndTprAccessesAreReported)
{
	ApicVm g(GetParam(), kVapic64);
	int vcpu = g.e.vcpu.get();
	kvmx_tpr_access_ctl ctl{};
	ctl.flags = 1;
	EXPECT_EQ(ioctl_errno(vcpu, KVMX_TPR_ACCESS_REPORTING, &ctl), EINVAL) << "unknown flags";
	ctl.flags = 0;
	ctl.enabled = 1;
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_TPR_ACCESS_REPORTING, &ctl), 0);
	kvmx_vapic_addr va{ 0x7fff0000 };
	EXPECT_EQ(ioctl_errno(vcpu, KVMX_SET_VAPIC_ADDR, &va), EINVAL) << "outside guest memory";
	va.vapic_addr = 0;
	EXPECT_EQ(ioctl_errno(vcpu, KVMX_SET_VAPIC_ADDR, &va), 0) << "0: off (QEMU at reset)";
	va.vapic_addr = kVapicAddr;
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_SET_VAPIC_ADDR, &va), 0);

	// The next exit that is not a TPR report; the reports on the way.
	std::vector<std::pair<uint64_t, uint32_t>> reports;
	auto next = [&]() -> Out {
		for (;;) {
			int r = run_with_deadline(vcpu, kDeadlineMs);
			if (r)
				return { 0, uint8_t(r) };
			if (g.e.run->exit_reason != KVMX_EXIT_TPR_ACCESS)
				return out_of(g.e.run);
			reports.emplace_back(g.e.run->tpr_access.rip, g.e.run->tpr_access.is_write);
			uint64_t rip = g.e.run->tpr_access.rip;
			EXPECT_EQ(g.e.regs().rip, rip + (rip == kTprWriteRip ? 10 : 6))
				<< "reported once the instruction is done";
		}
	};
	// The TPR the VMM set (KVM refreshes the u32 when it looks at the APIC
	// for events, as after KVM_SET_LAPIC; kvmx before every entry).
	ASSERT_EQ(next(), Out(kReadyPort, 0));
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_GET_LAPIC, &s), 0);
	s.regs[0x80] = 0x20;
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_SET_LAPIC, &s), 0);
	EXPECT_EQ(next(), Out(kReportPort, 0x20)) << "the TPR, in the vapic u32";
	EXPECT_EQ(next(), Out(kReadyPort, 0x20));
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_GET_LAPIC, &s), 0);
	EXPECT_EQ(s.regs[0x80], 0x30) << "the TPR the guest wrote to the vapic u32";
	// Off again: while it is on, KVM takes the TPR from the u32 after every
	// exit, whatever went through the APIC page.
	va.vapic_addr = 0;
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_SET_VAPIC_ADDR, &va), 0);
	EXPECT_EQ(next(), Out(kReportPort, 0x40)) << "the TPR written and read through the APIC page";
	if (GetParam() == "/dev/kvmx") {
		// Without APIC virtualization both accesses exit and are reported;
		// with it the CPU virtualizes the read (the APIC-access page), and
		// the write too with apicv_xapic_writes=1, as kvm_intel's
		// flexpriority does both.
		using R = std::pair<uint64_t, uint32_t>;
		std::vector<R> want;
		if (!xapic_writes_on())
			want.emplace_back(kTprWriteRip, 1);
		if (!apicv_on())
			want.emplace_back(kTprReadRip, 0);
		EXPECT_EQ(reports, want);
	}
	for (auto &[rip, write] : reports)
		EXPECT_TRUE((rip == kTprWriteRip && write == 1) || (rip == kTprReadRip && write == 0))
			<< std::hex << rip << " " << write;

	ctl.enabled = 0;
	ASSERT_EQ(ioctl_errno(vcpu, KVMX_TPR_ACCESS_REPORTING, &ctl), 0);
	Env plain(GetParam());
	plain.long_mode(kVapic64);
	EXPECT_EQ(ioctl_errno(plain.vcpu.get(), KVMX_SET_VAPIC_ADDR, &va), EINVAL)
		<< "no in-kernel APIC";
	EXPECT_EQ(ioctl_errno(plain.vcpu.get(), KVMX_TPR_ACCESS_REPORTING, &ctl), 0)
		<< "taken without one (KVM)";
}

// The xAPIC page through the APIC-access page (SDM 29.4): reads the CPU
// serves from the virtual-APIC page, writes it virtualizes (TPR) or hands
// over after the fact (APIC-write exits: SVR, LVTT, TMICT), and a timer
// mode change that must still disarm the timer although the CPU wrote LVTT
// before kvmx heard of it.  Both devices give the same values; on kvmx with
// apicv=1 the loop's 2000 reads take no exit, nor its 1000 TPR writes with
// apicv_xapic_writes=1 (kvm_intel in Bochs has flexpriority only: its reads
// exit, its TPR writes do not).
//   mov ebx, 0xfee00000; SVR = 0x1ff; LVTT = 0x30041 (periodic, masked)
//   TMICT = 0x7fffffff; mov r13d, [TMICT]
//   LVTT = 0x50042 (TSC deadline, masked); mov r8d, [TMICT]
//   TMICT = 1000 (ignored); mov r9d, [TMICT]
//   mov ecx, 1000; l: mov r14d, [ID]; TPR = 0x20; mov r10d, [TPR]; dec ecx; jnz l
//   mov r11d, [version]; mov r12d, [PPR]; mov al, 1; out 0xe1, al
const std::vector<uint8_t> kXapicPage64 = {
	0xbb, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x83, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00,
	0x00, 0xc7, 0x83, 0x20, 0x03, 0x00, 0x00, 0x41, 0x00, 0x03, 0x00, 0xc7, 0x83, 0x80,
	0x03, 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x44, 0x8b, 0xab, 0x80, 0x03, 0x00, 0x00,
	0xc7, 0x83, 0x20, 0x03, 0x00, 0x00, 0x42, 0x00, 0x05, 0x00, 0x44, 0x8b, 0x83, 0x80,
	0x03, 0x00, 0x00, 0xc7, 0x83, 0x80, 0x03, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x44,
	0x8b, 0x8b, 0x80, 0x03, 0x00, 0x00, 0xb9, 0xe8, 0x03, 0x00, 0x00, 0x44, 0x8b, 0x73,
	0x20, 0xc7, 0x83, 0x80, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x44, 0x8b, 0x93,
	0x80, 0x00, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xe7, 0x44, 0x8b, 0x5b, 0x30, 0x44, 0x8b,
	0xa3, 0xa0, 0x00, 0x00, 0x00, 0xb0, 0x01, 0xe6, 0xe1,
};

TEST_P(Irqchip, XapicPageThroughTheApicAccessPage)
{
	ApicVm g(GetParam(), kXapicPage64, true);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	kvmx_regs r = g.e.regs();
	EXPECT_EQ(r.r13, 0x7fffffffu) << "TMICT reads back";
	EXPECT_EQ(r.r8, 0u) << "the switch to TSC-deadline mode disarmed the timer";
	EXPECT_EQ(r.r9, 0u) << "TMICT is ignored in TSC-deadline mode";
	EXPECT_EQ(r.r14, 0u) << "APIC ID 0";
	EXPECT_EQ(r.r10, 0x20u) << "TPR";
	EXPECT_EQ(r.r11 & 0xff, 0x14u) << "version";
	EXPECT_EQ(r.r12, 0x20u) << "PPR follows TPR";
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(g.e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	auto reg = [&](unsigned off) { return *reinterpret_cast<uint32_t *>(s.regs + off); };
	EXPECT_EQ(reg(0xf0), 0x1ffu) << "SVR";
	EXPECT_EQ(reg(0x320), 0x50042u) << "LVTT";
	EXPECT_EQ(reg(0x380), 0u) << "TMICT";
	const uint64_t exits = vcpu_stat(g.e.vcpu.get(), "exits");
	RecordProperty("exits", std::to_string(exits));
	if (GetParam() == "/dev/kvmx") {
		if (xapic_writes_on()) {
			EXPECT_LT(exits, 100u) << "the loop's accesses are the CPU's";
		} else if (apicv_on()) {
			EXPECT_GE(exits, 1000u) << "the TPR writes exit";
			EXPECT_LT(exits, 1100u) << "the reads are the CPU's";
		} else {
			EXPECT_GE(exits, 3000u) << "every access exits";
		}
	}
}

// KVM_CAP_SPLIT_IRQCHIP (QEMU's kernel-irqchip=split): its rules, and the
// VMM's own 8259 handing ExtINTs in with KVM_INTERRUPT through LINT0, behind
// its interrupt window, into a running or a halted vCPU.
TEST_P(Irqchip, SplitIrqchipRulesAndTheVmmsPic)
{
	Env e(GetParam());
	EXPECT_EQ(::ioctl(e.sys.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_SPLIT_IRQCHIP), 1);
	EXPECT_EQ(::ioctl(e.vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_ENABLE_CAP_VM), 1);
	kvmx_enable_cap cap{};
	cap.cap = KVMX_CAP_SPLIT_IRQCHIP;
	cap.args[0] = KVMX_MAX_IRQ_ROUTES + 1;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "too many pins";
	cap.args[0] = 24;
	cap.flags = 1;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "flags";
	cap.flags = 0;
	cap.cap = 0x7fffffff;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EINVAL) << "unknown capability";
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, nullptr), EFAULT);
	cap.cap = KVMX_CAP_SPLIT_IRQCHIP;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), 0);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), EEXIST);
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), EEXIST);
	kvmx_irqchip c{};
	c.chip_id = KVMX_IRQCHIP_PIC_MASTER;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_GET_IRQCHIP, &c), ENXIO) << "the PIC is the VMM's";
	alignas(8) uint8_t buf[sizeof(kvmx_irq_routing) + sizeof(kvmx_irq_routing_entry)] = {};
	auto *r = reinterpret_cast<kvmx_irq_routing *>(buf);
	r->nr = 1;
	r->entries[0].type = KVMX_IRQ_ROUTING_IRQCHIP;
	r->entries[0].u.irqchip.irqchip = KVMX_IRQCHIP_IOAPIC;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r), EINVAL) << "no chip to route to";
	r->entries[0].type = KVMX_IRQ_ROUTING_MSI;
	r->entries[0].u.msi.address_lo = 0xfee00000;
	r->entries[0].u.msi.data = 0x30;
	EXPECT_EQ(ioctl_errno(e.vm.get(), KVMX_SET_GSI_ROUTING, r), 0);

	Env late(GetParam());
	late.make_vcpu();
	EXPECT_EQ(ioctl_errno(late.vm.get(), KVMX_ENABLE_CAP, &cap), EEXIST) << "after a vCPU";
	Env full(GetParam());
	ASSERT_EQ(ioctl_errno(full.vm.get(), KVMX_CREATE_IRQCHIP, nullptr), 0);
	EXPECT_EQ(ioctl_errno(full.vm.get(), KVMX_ENABLE_CAP, &cap), EEXIST) << "after KVM_CREATE_IRQCHIP";

	// The guest: real mode, IVT[9] -> a handler that EOIs the VMM's PIC.
	e.real_mode(kUserPicIdle16);
	install_pic_handler(e);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	ASSERT_EQ(out_of(e.run), Out(kReadyPort, 1));
	EXPECT_EQ(e.run->if_flag, 0);
	EXPECT_EQ(e.run->ready_for_interrupt_injection, 0) << "IF=0";
	// With IF=0 the VMM asks for the window; STI opens it.
	e.run->request_interrupt_window = 1;
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(e.run->exit_reason, uint32_t(KVMX_EXIT_IRQ_WINDOW_OPEN));
	EXPECT_EQ(e.run->ready_for_interrupt_injection, 1);
	e.run->request_interrupt_window = 0;
	kvmx_interrupt irq{ 9 };
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), 0);
	EXPECT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), EEXIST) << "one at a time";
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(0x20, 0x20)) << "the handler's EOI goes to the VMM's PIC";
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(kReportPort, 9));
	// Halted: KVM_INTERRUPT wakes it.
	EXPECT_EQ(run_with_deadline(e.vcpu.get(), 300), EINTR);
	EXPECT_EQ(e.run->ready_for_interrupt_injection, 1);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), 0);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(0x20, 0x20));
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(kReportPort, 9));
	// LINT0 masked: the ExtINT waits, and nothing more is accepted.
	EXPECT_EQ(run_with_deadline(e.vcpu.get(), 300), EINTR);
	kvmx_lapic_state s{};
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_GET_LAPIC, &s), 0);
	uint32_t lvt0 = 0x10700;
	memcpy(s.regs + 0x350, &lvt0, 4);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_LAPIC, &s), 0);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), 0);
	EXPECT_EQ(run_with_deadline(e.vcpu.get(), 300), EINTR) << "LINT0 is masked";
	EXPECT_EQ(e.run->ready_for_interrupt_injection, 0) << "LINT0 is masked";
	lvt0 = 0x700;
	memcpy(s.regs + 0x350, &lvt0, 4);
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_SET_LAPIC, &s), 0);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(0x20, 0x20)) << "unmasked: the waiting ExtINT goes in";
}

// Split irqchip: the VMM asked for a window while IF=0 and the guest does
// STI; HLT (SeaBIOS's idle loop).  The HLT comes in STI's shadow, before any
// window exit; KVM_RUN must still end with the window open, not sleep.
TEST_P(Irqchip, SplitIrqchipWindowOpensAtStiHlt)
{
	Env e(GetParam());
	kvmx_enable_cap cap{};
	cap.cap = KVMX_CAP_SPLIT_IRQCHIP;
	cap.args[0] = 24;
	ASSERT_EQ(ioctl_errno(e.vm.get(), KVMX_ENABLE_CAP, &cap), 0);
	e.real_mode(kUserPicStiHlt16);
	install_pic_handler(e);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	ASSERT_EQ(out_of(e.run), Out(kReadyPort, 1));
	e.run->request_interrupt_window = 1;
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0) << "slept in HLT";
	EXPECT_EQ(e.run->exit_reason, uint32_t(KVMX_EXIT_IRQ_WINDOW_OPEN));
	EXPECT_EQ(e.run->ready_for_interrupt_injection, 1);
	e.run->request_interrupt_window = 0;
	kvmx_interrupt irq{ 9 };
	ASSERT_EQ(ioctl_errno(e.vcpu.get(), KVMX_INTERRUPT, &irq), 0);
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(0x20, 0x20));
	ASSERT_EQ(run_with_deadline(e.vcpu.get(), kDeadlineMs), 0);
	EXPECT_EQ(out_of(e.run), Out(kReportPort, 9));
}

// Split irqchip: the EOI of a level vector one of the VMM's IOAPIC pins
// (GSIs below 24 here) sends to this vCPU comes back as
// KVMX_EXIT_IOAPIC_EOI; edge vectors and routes above the pins don't.
TEST_P(Irqchip, SplitIrqchipLevelEoiExitsToTheVmm)
{
	ApicVm g(GetParam(), kIdle64, false, true);
	ASSERT_EQ(g.next_out(), Out(kReadyPort, 1));
	alignas(8) uint8_t buf[sizeof(kvmx_irq_routing) + 4 * sizeof(kvmx_irq_routing_entry)] = {};
	auto *r = reinterpret_cast<kvmx_irq_routing *>(buf);
	auto msi = [&](uint32_t gsi, uint32_t data, uint32_t dest) {
		kvmx_irq_routing_entry &ent = r->entries[r->nr++];
		ent.gsi = gsi;
		ent.type = KVMX_IRQ_ROUTING_MSI;
		ent.u.msi.address_lo = 0xfee00000 | dest << 12;
		ent.u.msi.data = data;
	};
	msi(5, 0x8060, 0);	// pin 5: level, vector 0x60, APIC 0
	msi(6, 0x0062, 0);	// pin 6: edge, vector 0x62
	msi(30, 0x8061, 0);	// GSI 30 is no IOAPIC pin of the VMM: level, vector 0x61
	msi(7, 0x8063, 3);	// pin 7: level, vector 0x63, APIC 3 (nobody)
	ASSERT_EQ(ioctl_errno(g.e.vm.get(), KVMX_SET_GSI_ROUTING, r), 0);

	EXPECT_EQ(g.irq_line(5, 1), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x60));
	EXPECT_EQ(g.next_out(), Out(0xffff, KVMX_EXIT_IOAPIC_EOI)) << "the handler's EOI";
	EXPECT_EQ(g.e.run->eoi.vector, 0x60);
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "one EOI exit, then HLT";

	EXPECT_EQ(g.irq_line(6, 1), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x62));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "an edge's EOI stays here";
	EXPECT_EQ(g.irq_line(30, 1), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x61));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "not a pin's vector";

	// The IOAPIC's vector from elsewhere (an MSI) still ends at the VMM's
	// IOAPIC: which EOIs exit follows the routes, as in KVM.
	kvmx_msi m{};
	m.address_lo = 0xfee00000;
	m.data = 0x8060;
	EXPECT_EQ(::ioctl(g.e.vm.get(), KVMX_SIGNAL_MSI, &m), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x60));
	EXPECT_EQ(g.next_out(), Out(0xffff, KVMX_EXIT_IOAPIC_EOI));
	EXPECT_EQ(g.e.run->eoi.vector, 0x60);
	// A pin whose message names another APIC: this one's EOI is not its.
	m.data = 0x8063;
	EXPECT_EQ(::ioctl(g.e.vm.get(), KVMX_SIGNAL_MSI, &m), 1);
	EXPECT_EQ(g.next_out(), Out(kReportPort, 0x63));
	EXPECT_EQ(run_with_deadline(g.e.vcpu.get(), 300), EINTR) << "pin 7 names APIC 3";
}

INSTANTIATE_TEST_SUITE_P(Devices, Irqchip, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) {
				 return std::string(info.param == "/dev/kvm" ? "kvm" : "kvmx");
			 });

} // namespace
