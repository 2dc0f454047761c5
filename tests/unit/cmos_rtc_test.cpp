// The CMOS RTC's time registers against a fixed wall clock.
#include <gtest/gtest.h>

#include <time.h>

#include "cmos_rtc.hpp"
#include "port_io.hpp"

namespace kvmx {
namespace {

using test::in8;
using test::out8;

constexpr uint64_t kSec = 1000000000ULL;

// 2024-02-29 13:45:56 UTC, a Thursday.
uint64_t leap_day_ns()
{
	tm t{};
	t.tm_year = 124;
	t.tm_mon = 1;
	t.tm_mday = 29;
	t.tm_hour = 13;
	t.tm_min = 45;
	t.tm_sec = 56;
	return uint64_t(timegm(&t)) * kSec;
}

uint8_t cmos(CmosRtc &r, uint8_t index)
{
	out8(r, 0x70, index);
	return in8(r, 0x71);
}

TEST(CmosRtc, BcdTimeFromHostClock)
{
	ManualClock wall(leap_day_ns() + kSec / 2);
	CmosRtc rtc(wall, 256 << 20, 0);
	EXPECT_EQ(cmos(rtc, 0x00), 0x56);
	EXPECT_EQ(cmos(rtc, 0x02), 0x45);
	EXPECT_EQ(cmos(rtc, 0x04), 0x13);
	EXPECT_EQ(cmos(rtc, 0x06), 0x05);	/* Thursday, 1 = Sunday */
	EXPECT_EQ(cmos(rtc, 0x07), 0x29);
	EXPECT_EQ(cmos(rtc, 0x08), 0x02);
	EXPECT_EQ(cmos(rtc, 0x09), 0x24);
	EXPECT_EQ(cmos(rtc, 0x32), 0x20);
	// The NMI-disable bit in the index doesn't change the register.
	EXPECT_EQ(cmos(rtc, 0x80 | 0x02), 0x45);
}

TEST(CmosRtc, StatusRegisters)
{
	ManualClock wall(leap_day_ns() + kSec / 2);
	CmosRtc rtc(wall, 256 << 20, 0);
	EXPECT_EQ(cmos(rtc, 0x0a), 0x26);	/* UIP clear mid-second */
	EXPECT_EQ(cmos(rtc, 0x0b), 0x02);	/* 24-hour, BCD */
	EXPECT_EQ(cmos(rtc, 0x0c), 0x00);
	EXPECT_EQ(cmos(rtc, 0x0d), 0x80);	/* valid RAM and time */
	wall.set(leap_day_ns() + kSec - 100000);
	EXPECT_EQ(cmos(rtc, 0x0a), 0xa6);	/* update in progress */
	wall.set(leap_day_ns() + kSec);
	EXPECT_EQ(cmos(rtc, 0x0a), 0x26);
	EXPECT_EQ(cmos(rtc, 0x00), 0x57);
	out8(rtc, 0x70, 0x0d);
	out8(rtc, 0x71, 0x00);			/* read-only */
	EXPECT_EQ(cmos(rtc, 0x0d), 0x80);
}

TEST(CmosRtc, BinaryAnd12HourModes)
{
	ManualClock wall(leap_day_ns());
	CmosRtc rtc(wall, 256 << 20, 0);
	out8(rtc, 0x70, 0x0b);
	out8(rtc, 0x71, 0x06);			/* binary, 24-hour */
	EXPECT_EQ(cmos(rtc, 0x04), 13);
	EXPECT_EQ(cmos(rtc, 0x00), 56);
	out8(rtc, 0x70, 0x0b);
	out8(rtc, 0x71, 0x00);			/* BCD, 12-hour */
	EXPECT_EQ(cmos(rtc, 0x04), 0x81);	/* 1 PM */
}

TEST(CmosRtc, NvramAndMemorySize)
{
	ManualClock wall(leap_day_ns());
	CmosRtc rtc(wall, 128 << 20, 0);
	EXPECT_EQ(cmos(rtc, 0x15) | cmos(rtc, 0x16) << 8, 640);
	EXPECT_EQ(cmos(rtc, 0x17) | cmos(rtc, 0x18) << 8, 0xfc00);	/* capped: 63 MiB */
	EXPECT_EQ(cmos(rtc, 0x34) | cmos(rtc, 0x35) << 8, (112 << 20) >> 16);
	out8(rtc, 0x70, 0x40);
	out8(rtc, 0x71, 0x5a);
	EXPECT_EQ(cmos(rtc, 0x40), 0x5a);
}

} // namespace
} // namespace kvmx
