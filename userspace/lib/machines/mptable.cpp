#include "mptable.hpp"

#include <cstring>
#include <fmt/format.h>
#include <numeric>

#include "error.hpp"

namespace kvmx {

namespace {

class Writer {
public:
	explicit Writer(std::vector<uint8_t> &out) : out_(out) {}
	void u8(uint8_t v) { out_.push_back(v); }
	void u16(uint16_t v) { put(&v, 2); }
	void u32(uint32_t v) { put(&v, 4); }
	void str(const char *s, size_t n)	// space-padded, as the spec's strings
	{
		size_t len = std::strlen(s);
		for (size_t i = 0; i < n; i++)
			out_.push_back(uint8_t(i < len ? s[i] : ' '));
	}
	void zeros(size_t n) { out_.insert(out_.end(), n, 0); }

private:
	void put(const void *p, size_t n)	// little-endian host
	{
		auto b = static_cast<const uint8_t *>(p);
		out_.insert(out_.end(), b, b + n);
	}
	std::vector<uint8_t> &out_;
};

constexpr uint8_t kIsaBus = 0;

void io_interrupt(Writer &w, uint8_t irq, uint8_t ioapic_id, uint8_t pin)
{
	w.u8(mp::kIoInterrupt);
	w.u8(mp::kIntInt);
	w.u16(0);		/* polarity and trigger conform to the bus: ISA, edge high */
	w.u8(kIsaBus);
	w.u8(irq);
	w.u8(ioapic_id);
	w.u8(pin);
}

void local_interrupt(Writer &w, uint8_t type, uint8_t lint)
{
	w.u8(mp::kLocalInterrupt);
	w.u8(type);
	w.u16(0);
	w.u8(kIsaBus);
	w.u8(0);
	w.u8(0xff);		/* every local APIC */
	w.u8(lint);
}

} // namespace

uint8_t mp_checksum(std::span<const uint8_t> bytes)
{
	unsigned sum = std::accumulate(bytes.begin(), bytes.end(), 0u);
	return uint8_t(-sum);
}

std::vector<uint8_t> build_mptable(uint32_t base, const MpTableConfig &cfg)
{
	if (cfg.cpus == 0 || cfg.cpus >= mp::kMaxCpus)
		throw Error(fmt::format("an MP table describes 1 to {} CPUs, not {}",
					mp::kMaxCpus - 1, cfg.cpus));
	if (base & 15)
		throw Error(fmt::format("the MP floating pointer must be 16-byte aligned ({:#x})",
					base));
	const uint8_t ioapic_id = uint8_t(cfg.cpus);
	std::vector<uint8_t> out;
	Writer w(out);

	// Floating pointer structure (MP spec 4.1).
	w.str("_MP_", 4);
	w.u32(base + uint32_t(mp::kFloatingSize));	/* the configuration table */
	w.u8(1);		/* length in 16-byte paragraphs */
	w.u8(4);		/* spec revision 1.4 */
	w.u8(0);		/* checksum, below */
	w.u8(0);		/* feature 1: a configuration table is present */
	w.u8(0);		/* feature 2: no IMCR, virtual wire mode */
	w.zeros(3);
	out[10] = mp_checksum({ out.data(), mp::kFloatingSize });

	// Configuration table header (MP spec 4.2).
	const size_t hdr = out.size();
	w.str("PCMP", 4);
	w.u16(0);		/* base table length, below */
	w.u8(4);
	w.u8(0);		/* checksum, below */
	w.str("KVMX", 8);	/* OEM id */
	w.str("PC", 12);	/* product id */
	w.u32(0);		/* no OEM table */
	w.u16(0);
	w.u16(0);		/* entry count, below */
	w.u32(kLocalApicBase);
	w.u16(0);		/* no extended table */
	w.u8(0);
	w.u8(0);

	uint16_t entries = 0;
	for (unsigned i = 0; i < cfg.cpus; i++, entries++) {
		w.u8(mp::kProcessor);
		w.u8(uint8_t(i));	/* local APIC id: the vCPU's CPUID initial APIC id */
		w.u8(mp::kLocalApicVersion);
		w.u8(mp::kCpuEnabled | (i == 0 ? mp::kCpuBsp : 0));
		w.u32(cfg.cpu_signature);
		w.u32(cfg.cpu_features);
		w.zeros(8);
	}
	w.u8(mp::kBus);
	w.u8(kIsaBus);
	w.str("ISA", 6);
	entries++;
	w.u8(mp::kIoApic);
	w.u8(ioapic_id);
	w.u8(mp::kIoApicVersion);
	w.u8(1);		/* usable */
	w.u32(kIoApicBase);
	entries++;
	for (uint8_t irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;	/* the 8259 cascade: no device raises it */
		io_interrupt(w, irq, ioapic_id, irq);
		entries++;
	}
	local_interrupt(w, mp::kIntExtInt, 0);
	local_interrupt(w, mp::kIntNmi, 1);
	entries += 2;

	const size_t len = out.size() - hdr;
	out[hdr + 4] = uint8_t(len);
	out[hdr + 5] = uint8_t(len >> 8);
	out[hdr + 34] = uint8_t(entries);
	out[hdr + 35] = uint8_t(entries >> 8);
	out[hdr + 7] = mp_checksum({ out.data() + hdr, len });
	return out;
}

} // namespace kvmx
