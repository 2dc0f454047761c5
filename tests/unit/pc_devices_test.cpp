// The small PC devices: the 8042's reset, port 0x92, the empty PCI bus,
// port 0x80; the console escape and the CPUID policy.
#include <gtest/gtest.h>

#include "console.hpp"
#include "cpuid_policy.hpp"
#include "i8042.hpp"
#include "pc_machine.hpp"
#include "pci_conf1_none.hpp"
#include "port80.hpp"
#include "port_io.hpp"
#include "sysctl_port92.hpp"

namespace kvmx {
namespace {

using test::in8;
using test::out8;

TEST(I8042, SelfTestAndCommandByte)
{
	int resets = 0;
	I8042 kbc([&] { resets++; });
	EXPECT_EQ(in8(kbc, 0x64) & 0x01, 0);		/* output buffer empty */
	EXPECT_EQ(in8(kbc, 0x64) & 0x02, 0);		/* input buffer empty */
	out8(kbc, 0x64, 0xaa);
	EXPECT_EQ(in8(kbc, 0x64) & 0x01, 1);
	EXPECT_EQ(in8(kbc, 0x60), 0x55);
	EXPECT_EQ(in8(kbc, 0x64) & 0x01, 0);
	out8(kbc, 0x64, 0x60);
	out8(kbc, 0x60, 0x65);
	out8(kbc, 0x64, 0x20);
	EXPECT_EQ(in8(kbc, 0x60), 0x65);
	// Bytes for the (absent) keyboard get no answer.
	out8(kbc, 0x60, 0xf2);
	EXPECT_EQ(in8(kbc, 0x64) & 0x01, 0);
	EXPECT_EQ(resets, 0);
}

TEST(I8042, PulseResetReboots)
{
	int resets = 0;
	I8042 kbc([&] { resets++; });
	out8(kbc, 0x64, 0xff);				/* pulse nothing */
	EXPECT_EQ(resets, 0);
	out8(kbc, 0x64, 0xfe);				/* reboot=k */
	EXPECT_EQ(resets, 1);
	out8(kbc, 0x64, 0xd1);				/* output port, reset bit low */
	out8(kbc, 0x60, 0xfe);
	EXPECT_EQ(resets, 2);
}

TEST(SysctlPort92, ResetBitAndA20)
{
	int resets = 0;
	SysctlPort92 p([&] { resets++; });
	EXPECT_EQ(in8(p, 0x92), 0x02);
	out8(p, 0x92, 0x02);
	EXPECT_EQ(resets, 0);
	out8(p, 0x92, 0x03);
	EXPECT_EQ(resets, 1);
}

TEST(PciConf1None, AddressLatchAndNoDevices)
{
	PciConf1None pci;
	uint32_t v = 0x80000000;
	pci.io(0xcf8, false, reinterpret_cast<uint8_t *>(&v), 4);
	v = 0;
	pci.io(0xcf8, true, reinterpret_cast<uint8_t *>(&v), 4);
	EXPECT_EQ(v, 0x80000000u);
	out8(pci, 0xcfb, 0x01);				/* Linux's type-1 probe */
	EXPECT_EQ(pci.address(), 0x01000000u);
	pci.io(0xcfc, true, reinterpret_cast<uint8_t *>(&v), 4);
	EXPECT_EQ(v, 0xffffffffu);
	EXPECT_EQ(in8(pci, 0xcfe), 0xff);
	EXPECT_FALSE(pci.io(0xd00, true, reinterpret_cast<uint8_t *>(&v), 1));
}

TEST(Port80, AcceptsAnything)
{
	Port80 p;
	out8(p, 0x80, 0x42);
	EXPECT_EQ(p.last(), 0x42);
	EXPECT_FALSE(p.io(0x81, true, nullptr, 0));
}

TEST(ConsoleEscape, CtrlAXQuits)
{
	ConsoleEscape e;
	std::vector<uint8_t> out;
	const uint8_t a[] = { 'l', 's', 0x01 };
	EXPECT_FALSE(e.feed(a, sizeof(a), out));
	EXPECT_EQ(out, (std::vector<uint8_t>{ 'l', 's' }));
	const uint8_t b[] = { 'x', 'y' };
	EXPECT_TRUE(e.feed(b, sizeof(b), out));		/* split across reads */
	EXPECT_EQ(out.size(), 2u);
}

TEST(ConsoleEscape, CtrlACtrlAAndOthersPassThrough)
{
	ConsoleEscape e;
	std::vector<uint8_t> out;
	const uint8_t a[] = { 0x01, 0x01, 0x01, 'c' };
	EXPECT_FALSE(e.feed(a, sizeof(a), out));
	EXPECT_EQ(out, (std::vector<uint8_t>{ 0x01, 0x01, 'c' }));
}

TEST(CpuidPolicy, HidesX2apicAndDeadlineKeepsHypervisorBit)
{
	std::vector<kvmx_cpuid_entry2> e(2);
	e[0].function = 0;
	e[0].ecx = 0xffffffff;
	e[1].function = 1;
	e[1].ecx = cpuid1::ECX_X2APIC | cpuid1::ECX_TSC_DEADLINE | 1;
	e[1].edx = cpuid1::EDX_APIC | 1;
	auto keep = e;
	apply_pc_cpuid_policy(keep, false);
	EXPECT_EQ(keep[1].ecx, cpuid1::ECX_HYPERVISOR | 1);
	EXPECT_EQ(keep[1].edx, cpuid1::EDX_APIC | 1);
	EXPECT_EQ(keep[0].ecx, 0xffffffffu);		/* other leaves untouched */
	apply_pc_cpuid_policy(e, true);
	EXPECT_EQ(e[1].edx, 1u);
}

TEST(CpuidPolicy, SmpGivesEachVcpuItsApicIdAndOneTopology)
{
	std::vector<kvmx_cpuid_entry2> base(5);
	base[0].function = 0;
	base[0].eax = 0xd;
	base[1].function = 1;
	base[1].ebx = 0xff00abcd;		/* the host's APIC id, CLFLUSH etc. */
	base[1].ecx = cpuid1::ECX_X2APIC | 1;
	base[1].edx = cpuid1::EDX_APIC;
	base[2].function = 0xb;
	base[2].index = 0;
	base[2].edx = 0x77;
	base[3].function = 0xb;
	base[3].index = 1;
	base[4].function = 4;
	base[4].eax = 0xfc004121;
	for (unsigned id : { 0u, 2u }) {
		auto e = base;
		apply_pc_smp_cpuid_policy(e, id, 3, true);
		EXPECT_EQ(e[1].ebx, (id << 24) | (4u << 16) | 0xabcd);
		EXPECT_EQ(e[1].ecx, cpuid1::ECX_X2APIC | cpuid1::ECX_TSC_DEADLINE |
					    cpuid1::ECX_HYPERVISOR | 1);
		EXPECT_EQ(e[1].edx, cpuid1::EDX_APIC | cpuid1::EDX_HTT);
		EXPECT_EQ(e[2].edx, id);		/* x2APIC id */
		EXPECT_EQ(e[2].ebx, 1u);		/* one thread per core */
		EXPECT_EQ(e[2].ecx, 0x100u);
		EXPECT_EQ(e[3].edx, id);
		EXPECT_EQ(e[3].eax, 2u);		/* 3 cores: 2 bits of APIC id */
		EXPECT_EQ(e[3].ebx, 3u);
		EXPECT_EQ(e[3].ecx, 0x201u);
		EXPECT_EQ(e[4].eax >> 26, 3u);		/* 4 core ids per package */
		EXPECT_EQ(e[4].eax & 0x3fff, 0x0121u);
	}
	// Without the capability, the deadline bit stays as the device said.
	auto e = base;
	apply_pc_smp_cpuid_policy(e, 0, 1, false);
	EXPECT_EQ(e[1].ecx & cpuid1::ECX_TSC_DEADLINE, 0u);
	EXPECT_EQ(e[1].edx & cpuid1::EDX_HTT, 0u);
}

TEST(CpuidPolicy, SmpAddsLeafBWhenTheDeviceHasNone)
{
	std::vector<kvmx_cpuid_entry2> e(2);
	e[0].function = 0;
	e[0].eax = 0xb;
	e[1].function = 1;
	apply_pc_smp_cpuid_policy(e, 5, 8, false);
	ASSERT_EQ(e.size(), 5u);
	EXPECT_EQ(e[3].function, 0xbu);
	EXPECT_EQ(e[3].index, 1u);
	EXPECT_EQ(e[3].eax, 3u);
	EXPECT_EQ(e[3].edx, 5u);
	EXPECT_EQ(e[4].ecx, 2u);		/* level type 0 ends the list */
}

TEST(PcCmdline, KernelIrqchipUsesTheApicsUserIrqchipTurnsThemOff)
{
	std::string k = default_linux_cmdline(IrqchipMode::Kernel, 0);
	EXPECT_NE(k.find("acpi=off"), std::string::npos) << "the MP table, not ACPI";
	EXPECT_EQ(k.find("noapic"), std::string::npos);
	EXPECT_EQ(k.find("nolapic"), std::string::npos);
	EXPECT_EQ(k.find("tsc_early_khz"), std::string::npos);
	std::string u = default_linux_cmdline(IrqchipMode::User, 3500000);
	EXPECT_NE(u.find("noapic"), std::string::npos);
	EXPECT_NE(u.find("nolapic"), std::string::npos);
	EXPECT_NE(u.find(" tsc_early_khz=3500000"), std::string::npos);
	for (const auto &s : { k, u })
		EXPECT_EQ(s.rfind("console=ttyS0 ", 0), 0u);
}

} // namespace
} // namespace kvmx
