// The I/O bus: devices register the ranges they decode; every access goes
// to its owner, nothing else answers, and two owners of one port are refused.
#include <gtest/gtest.h>

#include <cstring>

#include "clock.hpp"
#include "cmos_rtc.hpp"
#include "devices.hpp"
#include "error.hpp"
#include "i8042.hpp"
#include "pci_conf1_none.hpp"
#include "pic_i8259.hpp"
#include "pit_i8254.hpp"
#include "port80.hpp"
#include "sysctl_port92.hpp"
#include "uart_16550.hpp"

namespace {

using namespace kvmx;

// Remembers what reached it.
class Probe : public Device {
public:
	explicit Probe(uint16_t port) : port_(port) {}
	void attach(IoBus &bus) override { bus.add_pio(port_, 4, *this); }
	bool io(uint16_t port, bool in, uint8_t *data, unsigned size) override
	{
		last = port;
		if (in)
			std::memset(data, 0x5a, size);
		return true;
	}
	int last = -1;

private:
	uint16_t port_;
};

TEST(IoBus, AccessesGoToTheirOwnerOnly)
{
	IoBus bus;
	Probe a(0x100), b(0x200);
	a.attach(bus);
	b.attach(bus);
	uint8_t v = 0;
	EXPECT_TRUE(bus.pio(0x103, true, &v, 1));
	EXPECT_EQ(a.last, 0x103);
	EXPECT_EQ(b.last, -1);
	EXPECT_EQ(v, 0x5a);
	EXPECT_EQ(bus.pio_owner(0x201), &b);
	EXPECT_EQ(bus.pio_owner(0x104), nullptr);
}

TEST(IoBus, NobodysPortsFloatHigh)
{
	IoBus bus;
	uint8_t v[4] = {};
	EXPECT_FALSE(bus.pio(0x3f8, true, v, 4));
	EXPECT_EQ(v[0], 0xff);
	EXPECT_EQ(v[3], 0xff);
	EXPECT_FALSE(bus.mmio(0xd0000000, false, v, 2));
}

TEST(IoBus, OverlappingRangesAreRefused)
{
	IoBus bus;
	Probe a(0x100), b(0x102);
	a.attach(bus);
	EXPECT_THROW(b.attach(bus), Error);
}

TEST(IoBus, MmioScratchOwnsItsPage)
{
	IoBus bus;
	MmioScratch s(kMmioScratchBase);
	s.attach(bus);
	uint8_t w[4] = { 1, 2, 3, 4 }, r[4] = {};
	EXPECT_TRUE(bus.mmio(kMmioScratchBase + 0xffc, true, w, 4));
	EXPECT_TRUE(bus.mmio(kMmioScratchBase + 0xffc, false, r, 4));
	EXPECT_EQ(std::memcmp(w, r, 4), 0);
	EXPECT_EQ(bus.mmio_owner(kMmioScratchBase + 0x1000), nullptr);
}

// The Linux PC's devices, each on the ports a PC has them at, none shared.
TEST(IoBus, PcDevicesClaimDistinctPorts)
{
	IoBus bus;
	Pic8259 pic;
	ManualClock clock{ 0 };
	Pit8254 pit(clock, IrqLine{});
	CmosRtc rtc(clock, 16 << 20, 0);
	Uart16550 com1(-1, IrqLine{});
	I8042 kbd([] {});
	SysctlPort92 p92([] {});
	Port80 p80;
	PciConf1None pci;
	DebugExit exit;
	for (Device *d : std::initializer_list<Device *>{ &pic, &pit, &rtc, &com1, &kbd, &p92, &p80,
							   &pci, &exit })
		EXPECT_NO_THROW(d->attach(bus));
	EXPECT_EQ(bus.pio_owner(0x21), &pic);
	EXPECT_EQ(bus.pio_owner(0xa1), &pic);
	EXPECT_EQ(bus.pio_owner(0x4d1), &pic);
	EXPECT_EQ(bus.pio_owner(0x43), &pit);
	EXPECT_EQ(bus.pio_owner(0x61), &pit);
	EXPECT_EQ(bus.pio_owner(0x71), &rtc);
	EXPECT_EQ(bus.pio_owner(0x3fd), &com1);
	EXPECT_EQ(bus.pio_owner(0x64), &kbd);
	EXPECT_EQ(bus.pio_owner(0x92), &p92);
	EXPECT_EQ(bus.pio_owner(0x80), &p80);
	EXPECT_EQ(bus.pio_owner(0xcfc), &pci);
	EXPECT_EQ(bus.pio_owner(0xf4), &exit);
	EXPECT_EQ(bus.pio_owner(0x2f8), nullptr);
}

} // namespace
