// The 8254 against a hand-stepped clock.
#include <gtest/gtest.h>

#include "pit_i8254.hpp"
#include "port_io.hpp"

namespace kvmx {
namespace {

using test::in8;
using test::out8;

constexpr uint64_t kMs = 1000000;

// Time for @ticks whole PIT ticks (rounded up to the next ns).
uint64_t ticks_ns(uint64_t ticks)
{
	return (ticks * 1000000000ULL + kPitHz - 1) / kPitHz;
}

struct PitTest : ::testing::Test {
	ManualClock clock{ 5 * 1000000000ULL };
	test::IrqRecorder pic;
	Pit8254 pit{ clock, IrqLine(&pic, 0) };

	void program(unsigned ch, uint8_t mode, uint16_t n)
	{
		out8(pit, 0x43, uint8_t(ch << 6 | 0x30 | mode << 1));
		out8(pit, uint16_t(0x40 + ch), n & 0xff);
		out8(pit, uint16_t(0x40 + ch), n >> 8);
	}
	uint16_t read_lohi(unsigned ch)
	{
		uint8_t lo = in8(pit, uint16_t(0x40 + ch));
		return uint16_t(lo | in8(pit, uint16_t(0x40 + ch)) << 8);
	}
	void step(uint64_t ns)
	{
		clock.advance(ns);
		pit.update();
	}
};

TEST_F(PitTest, NothingBeforeProgramming)
{
	step(100 * kMs);
	EXPECT_EQ(pic.rises[0], 0u);
	EXPECT_FALSE(pit.next_deadline_ns());
}

TEST_F(PitTest, Mode2RateGeneratorPeriodAndIrq)
{
	uint64_t t0 = clock.now_ns();
	program(0, 2, 1193);			/* Linux's LATCH for HZ=1000 */
	ASSERT_TRUE(pit.next_deadline_ns());
	EXPECT_EQ(*pit.next_deadline_ns(), t0 + 999848);	/* 1193 / 1.193182 MHz */
	step(500000);
	EXPECT_EQ(pic.rises[0], 0u);
	uint16_t c = pit.count(0);
	EXPECT_NEAR(c, 1193 - 596, 2);
	step(499848);
	EXPECT_EQ(pic.rises[0], 1u);
	EXPECT_FALSE(pic.level[0]);		/* a pulse: edge, then low */
	EXPECT_EQ(*pit.next_deadline_ns(), t0 + 1999695);
	// 10 periods pass unseen: one edge, as on an edge-triggered input.
	step(10 * kMs);
	EXPECT_EQ(pic.rises[0], 2u);
	EXPECT_GT(*pit.next_deadline_ns(), clock.now_ns());
	EXPECT_LE(*pit.next_deadline_ns(), clock.now_ns() + kMs);
}

TEST_F(PitTest, CountsDownAndReloads)
{
	program(0, 2, 100);
	EXPECT_EQ(read_lohi(0), 100);
	clock.advance(ticks_ns(10));
	EXPECT_EQ(read_lohi(0), 90);
	clock.advance(ticks_ns(95));		/* 105 ticks: reloaded, 5 in */
	EXPECT_EQ(read_lohi(0), 95);
}

TEST_F(PitTest, LatchHoldsValueUntilRead)
{
	program(0, 2, 50000);
	clock.advance(ticks_ns(1000));
	out8(pit, 0x43, 0x00);			/* latch channel 0 */
	clock.advance(ticks_ns(1000));
	out8(pit, 0x43, 0x00);			/* ignored: already latched */
	EXPECT_EQ(read_lohi(0), 49000);
	EXPECT_EQ(read_lohi(0), 48000);		/* live again */
}

TEST_F(PitTest, ReadBackStatusAndCount)
{
	program(0, 2, 1000);
	clock.advance(ticks_ns(10));
	out8(pit, 0x43, 0xc2);			/* read-back: count + status, ch 0 */
	// OUT high, count loaded, lo/hi access, mode 2, binary.
	EXPECT_EQ(in8(pit, 0x40), 0xb4);
	EXPECT_EQ(read_lohi(0), 990);
	out8(pit, 0x43, 0xb0);			/* ch 2 mode 0, no count yet */
	out8(pit, 0x43, 0xe8);			/* read-back: status only, ch 2 */
	EXPECT_EQ(in8(pit, 0x42), 0x70);	/* OUT low, null count, lo/hi, mode 0 */
}

TEST_F(PitTest, LobyteAndHibyteOnlyAccess)
{
	out8(pit, 0x43, 0x14);			/* ch 0, lobyte only, mode 2 */
	out8(pit, 0x40, 200);
	EXPECT_EQ(in8(pit, 0x40), 200);
	EXPECT_EQ(in8(pit, 0x40), 200);
	out8(pit, 0x43, 0x24);			/* hibyte only */
	out8(pit, 0x40, 0x12);
	EXPECT_EQ(pit.count(0), 0x1200);
	EXPECT_EQ(in8(pit, 0x40), 0x12);
}

// What pit_calibrate_tsc() does: gate channel 2 on through port 0x61,
// mode 0 with a 50 ms count, then poll bit 5 (OUT2) until it rises.
TEST_F(PitTest, Port61ShowsOut2ForCalibration)
{
	out8(pit, 0x61, (in8(pit, 0x61) & ~0x02) | 0x01);
	out8(pit, 0x43, 0xb0);
	out8(pit, 0x42, 59659 & 0xff);
	out8(pit, 0x42, 59659 >> 8);
	EXPECT_EQ(in8(pit, 0x61) & 0x20, 0);
	clock.advance(49 * kMs);
	EXPECT_EQ(in8(pit, 0x61) & 0x20, 0);
	clock.advance(1 * kMs + 1000);
	EXPECT_EQ(in8(pit, 0x61) & 0x20, 0x20);
	EXPECT_EQ(in8(pit, 0x61) & 0x01, 0x01);	/* the gate bit reads back */
	EXPECT_EQ(pic.rises[0], 0u);		/* channel 2 has no IRQ */
}

TEST_F(PitTest, GateLowStopsMode0)
{
	out8(pit, 0x61, 0x01);
	program(2, 0, 1000);
	clock.advance(ticks_ns(400));
	out8(pit, 0x61, 0x00);			/* gate off: count holds */
	clock.advance(ticks_ns(5000));
	EXPECT_EQ(pit.count(2), 600);
	EXPECT_FALSE(pit.out(2));
	out8(pit, 0x61, 0x01);
	clock.advance(ticks_ns(601));
	EXPECT_TRUE(pit.out(2));
}

TEST_F(PitTest, Mode0InterruptsOnce)
{
	program(0, 0, 1000);
	EXPECT_FALSE(pit.out(0));
	step(ticks_ns(1000));
	EXPECT_TRUE(pit.out(0));
	EXPECT_EQ(pic.rises[0], 1u);
	EXPECT_FALSE(pit.next_deadline_ns());
	step(ticks_ns(70000));
	EXPECT_EQ(pic.rises[0], 1u);
}

// Linux's one-shot clockevent: mode 4, IRQ when OUT comes back up.
TEST_F(PitTest, Mode4OneShotStrobe)
{
	program(0, 4, 500);
	step(ticks_ns(500));
	EXPECT_FALSE(pit.out(0));
	EXPECT_EQ(pic.rises[0], 0u);
	step(ticks_ns(1));
	EXPECT_TRUE(pit.out(0));
	EXPECT_EQ(pic.rises[0], 1u);
	program(0, 4, 100);			/* re-armed by a new count */
	step(ticks_ns(101));
	EXPECT_EQ(pic.rises[0], 2u);
}

TEST_F(PitTest, Mode3SquareWave)
{
	program(0, 3, 100);
	EXPECT_TRUE(pit.out(0));
	clock.advance(ticks_ns(49));
	EXPECT_TRUE(pit.out(0));
	EXPECT_EQ(pit.count(0), 2);
	clock.advance(ticks_ns(1));
	EXPECT_FALSE(pit.out(0));
	EXPECT_EQ(pit.count(0) , 100);
	step(ticks_ns(50));
	EXPECT_TRUE(pit.out(0));
	EXPECT_EQ(pic.rises[0], 1u);
}

TEST_F(PitTest, NewModeStopsCounter)
{
	program(0, 2, 1000);
	out8(pit, 0x43, 0x34);
	step(100 * kMs);
	EXPECT_EQ(pic.rises[0], 0u);
	EXPECT_FALSE(pit.next_deadline_ns());
}

} // namespace
} // namespace kvmx
