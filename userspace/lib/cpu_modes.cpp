#include "cpu_modes.hpp"

#include "error.hpp"

namespace kvmx {

CpuMode parse_cpu_mode(const std::string &name)
{
	if (name == "real")
		return CpuMode::Real;
	if (name == "protected")
		return CpuMode::Protected;
	if (name == "paged32")
		return CpuMode::Paged32;
	if (name == "long")
		return CpuMode::Long;
	throw Error("unknown mode '" + name + "' (real, protected, paged32 or long)");
}

const char *cpu_mode_name(CpuMode m)
{
	switch (m) {
	case CpuMode::Real: return "real";
	case CpuMode::Protected: return "protected";
	case CpuMode::Paged32: return "paged32";
	case CpuMode::Long: return "long";
	}
	return "?";
}

namespace {

constexpr uint64_t CR0_PE = 1, CR0_ET = 1 << 4, CR0_PG = 1ULL << 31;
constexpr uint64_t CR4_PSE = 1 << 4, CR4_PAE = 1 << 5;
constexpr uint64_t EFER_LME = 1 << 8, EFER_LMA = 1 << 10;
constexpr uint16_t SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_TSS = 0x18;

kvmx_segment flat(uint16_t sel, uint8_t type, bool code64)
{
	kvmx_segment s{};
	s.base = 0;
	s.limit = 0xffffffff;
	s.selector = sel;
	s.type = type;
	s.present = 1;
	s.s = 1;
	s.g = 1;
	s.l = code64;
	s.db = !code64;
	return s;
}

// A GDT descriptor (SDM 3.4.5) for base 0, limit 4 GiB.
uint64_t gdt_entry(uint8_t type, bool code64)
{
	uint64_t access = 0x80 | 0x10 | type;			// P, S, type
	uint64_t flags = code64 ? 0xa : 0xc;			// G + L, or G + D/B
	return 0xffffULL | (access << 40) | (0xfULL << 48) | (flags << 52);
}

} // namespace

ModeSetup setup_cpu_mode(CpuMode mode, const GuestMemory &mem, const kvmx_sregs &reset)
{
	ModeSetup out{ reset, 0 };
	kvmx_sregs &s = out.sregs;

	if (mem.size() < 2 * kSetupAreaSize)
		throw Error("not enough guest memory for the mode setup (need at least 128 KiB)");
	const uint64_t area = mem.size() - kSetupAreaSize;
	const uint64_t gdt = area, tss = area + 0x100, tables = area + 0x1000;
	out.stack_top = area;

	if (mode == CpuMode::Real) {
		for (auto *seg : { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss }) {
			seg->base = 0;
			seg->selector = 0;
		}
		out.stack_top = std::min<uint64_t>(area, 0x10000) - 0x10;
		return out;
	}
	if (mode == CpuMode::Long && area + kSetupAreaSize > (4ULL << 30))
		throw Error("long mode setup maps only the first 4 GiB");

	bool is64 = mode == CpuMode::Long;
	mem.put<uint64_t>(gdt + 0, 0);
	mem.put<uint64_t>(gdt + SEL_CODE, gdt_entry(0xb, is64));
	mem.put<uint64_t>(gdt + SEL_DATA, gdt_entry(0x3, false));
	// A busy TSS: VM entry insists on a usable TR (SDM 27.3.1.2).
	uint64_t tss_desc = 0x67 | ((tss & 0xffffff) << 16) | (0x8bULL << 40) |
			    (((tss >> 24) & 0xff) << 56);
	mem.put<uint64_t>(gdt + SEL_TSS, tss_desc);
	mem.put<uint64_t>(gdt + SEL_TSS + 8, tss >> 32);

	s.gdt.base = gdt;
	s.gdt.limit = 0x27;
	s.cs = flat(SEL_CODE, 0xb, is64);
	for (auto *seg : { &s.ds, &s.es, &s.fs, &s.gs, &s.ss })
		*seg = flat(SEL_DATA, 0x3, false);
	s.tr = kvmx_segment{};
	s.tr.base = tss;
	s.tr.limit = 0x67;
	s.tr.selector = SEL_TSS;
	s.tr.type = 0xb;
	s.tr.present = 1;
	s.cr0 = CR0_PE | CR0_ET;
	s.cr4 = 0;
	s.efer = 0;

	if (mode == CpuMode::Paged32) {
		// One page directory of 4 MiB pages maps all 4 GiB 1:1.
		for (uint64_t i = 0; i < 1024; i++)
			mem.put<uint32_t>(tables + i * 4, (uint32_t)((i << 22) | 0x87));
		s.cr3 = tables;
		s.cr4 = CR4_PSE;
		s.cr0 |= CR0_PG;
	} else if (mode == CpuMode::Long) {
		// PML4 -> PDPT -> 4 page directories of 2 MiB pages: 4 GiB 1:1.
		const uint64_t pml4 = tables, pdpt = tables + 0x1000, pd = tables + 0x2000;
		mem.put<uint64_t>(pml4, pdpt | 7);
		for (uint64_t i = 0; i < 4; i++) {
			mem.put<uint64_t>(pdpt + i * 8, (pd + i * 0x1000) | 7);
			for (uint64_t j = 0; j < 512; j++)
				mem.put<uint64_t>(pd + i * 0x1000 + j * 8,
						  ((i * 512 + j) << 21) | 0x87);
		}
		s.cr3 = pml4;
		s.cr4 = CR4_PAE;
		s.cr0 |= CR0_PG;
		s.efer = EFER_LME | EFER_LMA;
	}
	return out;
}

} // namespace kvmx
