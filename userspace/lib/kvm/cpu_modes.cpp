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

using namespace x86;

namespace {

constexpr uint16_t SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_TSS = 0x18;

} // namespace

kvmx_segment flat_segment(uint16_t sel, uint8_t type, bool code64)
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

uint64_t flat_gdt_entry(uint8_t type, bool code64)
{
	uint64_t access = 0x80 | 0x10 | type;			// P, S, type
	uint64_t flags = code64 ? 0xa : 0xc;			// G + L, or G + D/B
	return 0xffffULL | (access << 40) | (0xfULL << 48) | (flags << 52);
}

kvmx_segment write_tss(const GuestMemory &mem, uint64_t slot, uint16_t sel, uint64_t tss)
{
	// A busy TSS: VM entry insists on a usable TR (SDM 27.3.1.2).
	uint64_t desc = 0x67 | ((tss & 0xffffff) << 16) | (0x8bULL << 40) |
			(((tss >> 24) & 0xff) << 56);
	mem.put<uint64_t>(slot, desc);
	mem.put<uint64_t>(slot + 8, tss >> 32);

	kvmx_segment tr{};
	tr.base = tss;
	tr.limit = 0x67;
	tr.selector = sel;
	tr.type = SEG_TSS_BUSY;
	tr.present = 1;
	return tr;
}

uint64_t write_identity_map_4g(const GuestMemory &mem, uint64_t tables)
{
	// PML4 -> PDPT -> 4 page directories of 2 MiB pages: 4 GiB 1:1.
	const uint64_t pml4 = tables, pdpt = tables + 0x1000, pd = tables + 0x2000;
	mem.put<uint64_t>(pml4, pdpt | 7);
	for (uint64_t i = 0; i < 4; i++) {
		mem.put<uint64_t>(pdpt + i * 8, (pd + i * 0x1000) | 7);
		for (uint64_t j = 0; j < 512; j++)
			mem.put<uint64_t>(pd + i * 0x1000 + j * 8, ((i * 512 + j) << 21) | 0x87);
	}
	return pml4;
}

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
	mem.put<uint64_t>(gdt + SEL_CODE, flat_gdt_entry(SEG_CODE_XR, is64));
	mem.put<uint64_t>(gdt + SEL_DATA, flat_gdt_entry(SEG_DATA_RW, false));
	s.tr = write_tss(mem, gdt + SEL_TSS, SEL_TSS, tss);

	s.gdt.base = gdt;
	s.gdt.limit = 0x27;
	s.cs = flat_segment(SEL_CODE, SEG_CODE_XR, is64);
	for (auto *seg : { &s.ds, &s.es, &s.fs, &s.gs, &s.ss })
		*seg = flat_segment(SEL_DATA, SEG_DATA_RW, false);
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
		s.cr3 = write_identity_map_4g(mem, tables);
		s.cr4 = CR4_PAE;
		s.cr0 |= CR0_PG;
		s.efer = EFER_LME | EFER_LMA;
	}
	return out;
}

} // namespace kvmx
