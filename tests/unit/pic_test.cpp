// The 8259 pair as Linux programs it (arch/x86/kernel/i8259.c behaviour,
// from the data sheet's point of view).
#include <gtest/gtest.h>

#include "pic_i8259.hpp"
#include "port_io.hpp"

namespace kvmx {
namespace {

using test::in8;
using test::out8;

// ICW1-4 on both chips, vectors 0x30 and 0x38, as init_8259A() does.
void linux_init(Pic8259 &p, bool auto_eoi = false)
{
	out8(p, 0x21, 0xff);
	out8(p, 0xa1, 0xff);
	out8(p, 0x20, 0x11);			/* ICW1: edge, cascade, ICW4 */
	out8(p, 0x21, 0x30);			/* ICW2 */
	out8(p, 0x21, 0x04);			/* ICW3: slave on IR2 */
	out8(p, 0x21, auto_eoi ? 0x03 : 0x01);	/* ICW4: 8086 (+ AEOI) */
	out8(p, 0xa0, 0x11);
	out8(p, 0xa1, 0x38);
	out8(p, 0xa1, 0x02);
	out8(p, 0xa1, 0x01);
	out8(p, 0x21, 0x00);			/* unmask everything */
	out8(p, 0xa1, 0x00);
}

TEST(Pic8259, ImrReadsBackForLinuxProbe)
{
	Pic8259 p;
	out8(p, 0x21, 0xa5);
	EXPECT_EQ(in8(p, 0x21), 0xa5);
	out8(p, 0xa1, 0x5a);
	EXPECT_EQ(in8(p, 0xa1), 0x5a);
}

TEST(Pic8259, InitThenDeliverWithEoi)
{
	Pic8259 p;
	linux_init(p);
	EXPECT_FALSE(p.has_pending());
	p.set_irq(0, true);
	p.set_irq(0, false);
	ASSERT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x30);
	EXPECT_EQ(p.isr(0), 0x01);
	EXPECT_EQ(p.irr(0), 0x00);
	// A lower-priority request waits while IRQ 0 is in service.
	p.set_irq(1, true);
	EXPECT_FALSE(p.has_pending());
	out8(p, 0x20, 0x20);			/* non-specific EOI */
	EXPECT_EQ(p.isr(0), 0x00);
	ASSERT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x31);
}

TEST(Pic8259, MaskHoldsRequestInIrr)
{
	Pic8259 p;
	linux_init(p);
	out8(p, 0x21, 0x01);
	p.set_irq(0, true);
	EXPECT_FALSE(p.has_pending());
	out8(p, 0x20, 0x0a);			/* OCW3: read IRR */
	EXPECT_EQ(in8(p, 0x20), 0x01);
	out8(p, 0x21, 0x00);
	EXPECT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x30);
	out8(p, 0x20, 0x0b);			/* OCW3: read ISR */
	EXPECT_EQ(in8(p, 0x20), 0x01);
}

TEST(Pic8259, PriorityAndNesting)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(3, true);
	p.set_irq(1, true);
	EXPECT_EQ(p.acknowledge(), 0x31);
	// Higher priority nests over an in-service lower one...
	p.set_irq(0, true);
	ASSERT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x30);
	EXPECT_EQ(p.isr(0), 0x03);
	// ... and EOI retires the highest in service first.
	out8(p, 0x20, 0x20);
	EXPECT_EQ(p.isr(0), 0x02);
	EXPECT_FALSE(p.has_pending());		/* IRQ 3 still below IRQ 1 */
	out8(p, 0x20, 0x61);			/* specific EOI for IRQ 1 */
	EXPECT_EQ(p.isr(0), 0x00);
	EXPECT_EQ(p.acknowledge(), 0x33);
}

TEST(Pic8259, EdgeTriggeringNeedsANewEdge)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(4, true);
	EXPECT_EQ(p.acknowledge(), 0x34);
	out8(p, 0x20, 0x20);
	p.set_irq(4, true);			/* still high: no new edge */
	EXPECT_FALSE(p.has_pending());
	p.set_irq(4, false);
	p.set_irq(4, true);
	EXPECT_TRUE(p.has_pending());
}

TEST(Pic8259, CascadeThroughSlave)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(12, true);
	ASSERT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x3c);
	EXPECT_EQ(p.isr(0), 0x04);
	EXPECT_EQ(p.isr(1), 0x10);
	// Linux: specific EOI to the slave, then to the master's IR2.
	out8(p, 0xa0, 0x64);
	out8(p, 0x20, 0x62);
	EXPECT_EQ(p.isr(0), 0x00);
	EXPECT_EQ(p.isr(1), 0x00);
	// Master IRQ 1 outranks slave IRQ 8 (behind IR2); IRQ 0 outranks both.
	p.set_irq(8, true);
	p.set_irq(1, true);
	EXPECT_EQ(p.acknowledge(), 0x31);
	out8(p, 0x20, 0x20);
	EXPECT_EQ(p.acknowledge(), 0x38);
	// A slave request masked at the slave doesn't reach the master.
	out8(p, 0xa0, 0x20);
	out8(p, 0x20, 0x20);
	out8(p, 0xa1, 0x02);
	p.set_irq(9, true);
	EXPECT_FALSE(p.has_pending());
	out8(p, 0xa1, 0x00);
	EXPECT_TRUE(p.has_pending());
	EXPECT_EQ(p.acknowledge(), 0x39);
}

TEST(Pic8259, SpuriousIrq7WhenRequestVanishes)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(5, true);
	out8(p, 0x21, 0x20);			/* masked before the INTA */
	EXPECT_EQ(p.acknowledge(), 0x37);
	EXPECT_EQ(p.isr(0), 0x00);		/* spurious: nothing in service */
}

TEST(Pic8259, AutoEoiLeavesIsrClear)
{
	Pic8259 p;
	linux_init(p, true);
	p.set_irq(0, true);
	EXPECT_EQ(p.acknowledge(), 0x30);
	EXPECT_EQ(p.isr(0), 0x00);
	p.set_irq(0, false);
	p.set_irq(0, true);
	EXPECT_EQ(p.acknowledge(), 0x30);	/* no EOI needed */
}

TEST(Pic8259, SetPriorityRotates)
{
	Pic8259 p;
	linux_init(p);
	out8(p, 0x20, 0xc2);			/* IRQ 2 lowest: IRQ 3 highest */
	p.set_irq(1, true);
	p.set_irq(4, true);
	EXPECT_EQ(p.acknowledge(), 0x34);
}

TEST(Pic8259, PollMode)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(6, true);
	out8(p, 0x20, 0x0c);			/* OCW3: poll */
	EXPECT_EQ(in8(p, 0x20), 0x86);
	EXPECT_EQ(p.isr(0), 0x40);
	out8(p, 0x20, 0x0c);
	EXPECT_EQ(in8(p, 0x20), 0x00);
}

TEST(Pic8259, ElcrAndLevelTriggering)
{
	Pic8259 p;
	linux_init(p);
	out8(p, 0x4d0, 0xff);
	out8(p, 0x4d1, 0xff);
	EXPECT_EQ(in8(p, 0x4d0), 0xf8);		/* IRQ 0-2 are always edge */
	EXPECT_EQ(in8(p, 0x4d1), 0xde);		/* so are IRQ 8 and 13 */
	p.set_irq(9, true);
	EXPECT_EQ(p.acknowledge(), 0x39);
	out8(p, 0xa0, 0x20);
	out8(p, 0x20, 0x20);
	EXPECT_TRUE(p.has_pending());		/* level still high */
	p.set_irq(9, false);
	EXPECT_FALSE(p.has_pending());
}

TEST(Pic8259, ReinitClearsState)
{
	Pic8259 p;
	linux_init(p);
	p.set_irq(3, true);
	p.acknowledge();
	out8(p, 0x20, 0x11);
	EXPECT_EQ(p.isr(0), 0x00);
	EXPECT_EQ(p.imr(0), 0x00);
	out8(p, 0x21, 0x40);
	out8(p, 0x21, 0x04);
	out8(p, 0x21, 0x01);
	p.set_irq(3, false);
	p.set_irq(3, true);
	EXPECT_EQ(p.acknowledge(), 0x43);
}

} // namespace
} // namespace kvmx
