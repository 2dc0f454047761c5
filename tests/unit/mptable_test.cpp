// The MP table (MP spec 1.4) the PC leaves for Linux with the in-kernel
// irqchip: checksums, the pointer to the configuration table, and each
// entry where the spec puts it.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "error.hpp"
#include "mptable.hpp"

namespace kvmx {
namespace {

uint8_t sum(const uint8_t *p, size_t n)
{
	return uint8_t(std::accumulate(p, p + n, 0u));
}

uint16_t u16(const uint8_t *p)
{
	return uint16_t(p[0] | p[1] << 8);
}

uint32_t u32(const uint8_t *p)
{
	return uint32_t(p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24);
}

struct Parsed {
	const uint8_t *fp, *hdr;
	std::vector<const uint8_t *> entries;
};

// Walks the table as Linux's mpparse.c does.
Parsed parse(const std::vector<uint8_t> &t, uint32_t base)
{
	Parsed p{ t.data(), nullptr, {} };
	uint32_t cfg = u32(t.data() + 4);
	EXPECT_GE(cfg, base);
	p.hdr = t.data() + (cfg - base);
	const uint8_t *e = p.hdr + mp::kHeaderSize, *end = p.hdr + u16(p.hdr + 4);
	for (unsigned i = 0; i < u16(p.hdr + 34); i++) {
		EXPECT_LT(e, end);
		p.entries.push_back(e);
		e += e[0] == mp::kProcessor ? mp::kProcessorSize : mp::kEntrySize;
	}
	EXPECT_EQ(e, end) << "the entries fill the base table exactly";
	return p;
}

TEST(MpTable, FloatingPointerAndHeaderChecksumToZero)
{
	for (unsigned cpus : { 1u, 2u, 4u, 64u }) {
		auto t = build_mptable(kMpTableBase, { cpus, 0x50654, 0xbfebfbff });
		ASSERT_GE(t.size(), mp::kFloatingSize + mp::kHeaderSize);
		EXPECT_EQ(std::memcmp(t.data(), "_MP_", 4), 0);
		EXPECT_EQ(sum(t.data(), mp::kFloatingSize), 0) << cpus;
		EXPECT_EQ(t[8], 1);			/* 16 bytes */
		EXPECT_EQ(t[9], 4);			/* revision 1.4 */
		EXPECT_EQ(t[11], 0);			/* a table follows, no default config */
		EXPECT_EQ(u32(t.data() + 4), kMpTableBase + 16);

		auto p = parse(t, kMpTableBase);
		EXPECT_EQ(std::memcmp(p.hdr, "PCMP", 4), 0);
		uint16_t len = u16(p.hdr + 4);
		EXPECT_EQ(p.hdr + len, t.data() + t.size()) << "nothing after the table";
		EXPECT_EQ(sum(p.hdr, len), 0) << cpus;
		EXPECT_EQ(p.hdr[6], 4);
		EXPECT_EQ(u32(p.hdr + 36), kLocalApicBase);
		EXPECT_EQ(u16(p.hdr + 40), 0);		/* no extended table */
		EXPECT_LE(t.size(), 0x10000u) << "fits in 0xf0000-0xfffff";
	}
}

TEST(MpTable, OneProcessorPerCpuBspFirst)
{
	auto t = build_mptable(kMpTableBase, { 4, 0x50654, 0x1234 });
	auto p = parse(t, kMpTableBase);
	ASSERT_GE(p.entries.size(), 4u);
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = p.entries[i];
		EXPECT_EQ(e[0], mp::kProcessor);
		EXPECT_EQ(e[1], i) << "local APIC id = vCPU index";
		EXPECT_EQ(e[2], mp::kLocalApicVersion);
		EXPECT_EQ(e[3], i == 0 ? (mp::kCpuEnabled | mp::kCpuBsp) : mp::kCpuEnabled);
		EXPECT_EQ(u32(e + 4), 0x50654u);
		EXPECT_EQ(u32(e + 8), 0x1234u);
	}
}

TEST(MpTable, IsaBusIoApicAndInterrupts)
{
	const unsigned cpus = 2;
	auto t = build_mptable(kMpTableBase, { cpus, 0, 0 });
	auto p = parse(t, kMpTableBase);
	// 2 CPUs, the bus, the IOAPIC, ISA IRQs 0-15 without 2, LINT0/LINT1.
	ASSERT_EQ(p.entries.size(), cpus + 1 + 1 + 15 + 2);
	const uint8_t *bus = p.entries[cpus];
	EXPECT_EQ(bus[0], mp::kBus);
	EXPECT_EQ(std::memcmp(bus + 2, "ISA   ", 6), 0);
	const uint8_t *io = p.entries[cpus + 1];
	EXPECT_EQ(io[0], mp::kIoApic);
	EXPECT_EQ(io[1], cpus) << "IOAPIC id follows the CPUs' APIC ids";
	EXPECT_EQ(io[3] & 1, 1);
	EXPECT_EQ(u32(io + 4), kIoApicBase);

	std::vector<int> pin_of(16, -1);
	for (size_t i = cpus + 2; i < cpus + 2 + 15; i++) {
		const uint8_t *e = p.entries[i];
		ASSERT_EQ(e[0], mp::kIoInterrupt);
		EXPECT_EQ(e[1], mp::kIntInt);
		EXPECT_EQ(u16(e + 2), 0) << "ISA: edge, active high";
		EXPECT_EQ(e[4], bus[1]);
		EXPECT_EQ(e[6], io[1]);
		ASSERT_LT(e[5], 16);
		pin_of[e[5]] = e[7];
	}
	for (int irq = 0; irq < 16; irq++)
		EXPECT_EQ(pin_of[irq], irq == 2 ? -1 : irq)
			<< "ISA IRQ " << irq << " on the pin KVM's default routing drives";

	const uint8_t *lint0 = p.entries[cpus + 17], *lint1 = p.entries[cpus + 18];
	EXPECT_EQ(lint0[0], mp::kLocalInterrupt);
	EXPECT_EQ(lint0[1], mp::kIntExtInt);
	EXPECT_EQ(lint0[6], 0xff);
	EXPECT_EQ(lint0[7], 0);
	EXPECT_EQ(lint1[0], mp::kLocalInterrupt);
	EXPECT_EQ(lint1[1], mp::kIntNmi);
	EXPECT_EQ(lint1[6], 0xff);
	EXPECT_EQ(lint1[7], 1);
}

TEST(MpTable, EntriesSortedByType)
{
	auto p = parse(build_mptable(kMpTableBase, { 3, 0, 0 }), kMpTableBase);
	for (size_t i = 1; i < p.entries.size(); i++)
		EXPECT_LE(p.entries[i - 1][0], p.entries[i][0]);
}

TEST(MpTable, RefusesWhatItCannotDescribe)
{
	EXPECT_THROW(build_mptable(kMpTableBase, { 0, 0, 0 }), Error);
	EXPECT_THROW(build_mptable(kMpTableBase, { 255, 0, 0 }), Error);
	EXPECT_THROW(build_mptable(kMpTableBase + 4, { 1, 0, 0 }), Error);
	EXPECT_NO_THROW(build_mptable(kMpTableBase, { 254, 0, 0 }));
}

TEST(MpTable, ChecksumByte)
{
	const uint8_t b[] = { 1, 2, 3 };
	EXPECT_EQ(mp_checksum(b), uint8_t(256 - 6));
	EXPECT_EQ(mp_checksum({}), 0);
}

} // namespace
} // namespace kvmx
