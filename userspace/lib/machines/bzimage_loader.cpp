#include "bzimage_loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_modes.hpp"
#include "error.hpp"

namespace kvmx {

namespace {

template <typename T> T get(std::span<const uint8_t> b, size_t off)
{
	T v;
	std::memcpy(&v, b.data() + off, sizeof(T));
	return v;
}

uint64_t align_up(uint64_t v, uint64_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

constexpr size_t kHeaderStart = 0x1f1;
constexpr size_t kHeaderMax = 0x290;	// end of the header's room in boot_params

} // namespace

std::string BzImage::version_string() const
{
	return fmt::format("{}.{:02}", version >> 8, version & 0xff);
}

BzImage parse_bzimage(std::span<const uint8_t> image)
{
	BzImage k;
	k.image = image;

	if (image.size() < 0x270)
		throw Error(fmt::format("not a bzImage (only {} bytes)", image.size()));
	if (get<uint32_t>(image, 0x202) != boot::kHdrSMagic)
		throw Error("not a bzImage (no HdrS magic)");
	k.version = get<uint16_t>(image, 0x206);
	if (k.version < 0x206)
		throw Error(fmt::format("boot protocol {} too old (need 2.06 or later)",
					k.version_string()));
	k.setup_sects = image[0x1f1] ? image[0x1f1] : 4;	/* 0 means 4 */
	k.loadflags = image[0x211];
	if (!(k.loadflags & boot::LOADED_HIGH))
		throw Error("a zImage, not a bzImage (the kernel is not loaded high)");
	if (k.version >= 0x20c)
		k.xloadflags = get<uint16_t>(image, 0x236);
	if (!(k.xloadflags & boot::XLF_KERNEL_64))
		throw Error(fmt::format("kernel has no 64-bit entry (boot protocol {}{})",
					k.version_string(),
					k.version < 0x20c ? " predates XLF_KERNEL_64"
							  : ", xloadflags without XLF_KERNEL_64"));
	if (k.setup_size() >= image.size())
		throw Error(fmt::format("truncated bzImage: {} setup sectors but only {} bytes",
					k.setup_sects, image.size()));
	k.initrd_addr_max = get<uint32_t>(image, 0x22c);
	k.kernel_alignment = get<uint32_t>(image, 0x230);
	k.relocatable = image[0x234];
	k.cmdline_size = get<uint32_t>(image, 0x238);
	if (k.version >= 0x20a) {
		k.pref_address = get<uint64_t>(image, 0x258);
		k.init_size = get<uint32_t>(image, 0x260);
	}
	// The jump at 0x200 skips the header: its 8-bit offset marks the end.
	k.header_end = std::min<size_t>(0x202 + image[0x201], kHeaderMax);
	return k;
}

LinuxBoot load_linux(const GuestMemory &mem, const PcMemoryMap &map, const BzImage &k,
		     std::span<const uint8_t> initrd, const std::string &cmdline,
		     const kvmx_sregs &reset, const LinuxLayout &lay)
{
	LinuxBoot out;
	auto kernel = k.kernel();
	const uint64_t load = lay.kernel;

	// boot.rst: the kernel runs from pref_address (or the load address
	// if it can relocate, rounded up to kernel_alignment) and needs
	// init_size bytes from there before it looks at the memory map.
	uint64_t runtime = k.pref_address ? k.pref_address : load;
	if (k.relocatable)
		runtime = align_up(std::max(load, runtime), k.kernel_alignment);
	out.kernel_end = std::max(load + kernel.size(), runtime + k.init_size);
	if (out.kernel_end > map.below_4g)
		throw Error(fmt::format("guest memory too small: this kernel needs {} MiB, "
					"the guest has {} MiB",
					(out.kernel_end + (1 << 20) - 1) >> 20, map.below_4g >> 20));
	uint64_t cmdline_max = k.cmdline_size ? k.cmdline_size : 256;	/* incl. the NUL */
	if (cmdline.size() + 1 > cmdline_max)
		throw Error(fmt::format("kernel command line too long: {} bytes, this kernel "
					"takes at most {}", cmdline.size(), cmdline_max - 1));

	mem.write(load, kernel);

	// The initrd goes as high as the kernel allows, page-aligned.
	if (!initrd.empty()) {
		uint64_t top = std::min<uint64_t>(uint64_t(k.initrd_addr_max) + 1, map.below_4g);
		uint64_t size = initrd.size();
		if (size > top || ((top - size) & ~0xfffULL) < out.kernel_end)
			throw Error(fmt::format("initrd too large for guest memory: {} KiB, but only "
						"{} KiB free between the kernel and {:#x}",
						size >> 10,
						top > out.kernel_end ? (top - out.kernel_end) >> 10 : 0,
						top));
		out.initrd_addr = (top - size) & ~0xfffULL;
		out.initrd_size = size;
		mem.write(out.initrd_addr, initrd);
	}

	std::vector<uint8_t> cl(cmdline.begin(), cmdline.end());
	cl.push_back(0);
	mem.write(lay.cmdline, cl);

	// The zero page: the image's setup header, then what a loader fills in.
	BootParams bp{};
	std::memcpy(reinterpret_cast<uint8_t *>(&bp) + kHeaderStart,
		    k.image.data() + kHeaderStart, k.header_end - kHeaderStart);
	bp.hdr.vid_mode = 0xffff;			/* "normal" */
	bp.hdr.type_of_loader = 0xff;			/* no registered ID */
	bp.hdr.loadflags |= boot::CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = 0xfe00;			/* setup's heap: whole 64 KiB segment */
	bp.hdr.code32_start = uint32_t(load);
	bp.hdr.cmd_line_ptr = uint32_t(lay.cmdline);
	bp.ext_cmd_line_ptr = uint32_t(lay.cmdline >> 32);
	bp.hdr.ramdisk_image = uint32_t(out.initrd_addr);
	bp.ext_ramdisk_image = uint32_t(out.initrd_addr >> 32);
	bp.hdr.ramdisk_size = uint32_t(out.initrd_size);
	bp.ext_ramdisk_size = uint32_t(out.initrd_size >> 32);
	bp.alt_mem_k = uint32_t(std::min<uint64_t>((map.below_4g + map.above_4g - (1 << 20)) >> 10,
						   UINT32_MAX));
	if (map.e820.size() > std::size(bp.e820_table))
		throw Error("too many E820 entries for the zero page");
	bp.e820_entries = uint8_t(map.e820.size());
	std::copy(map.e820.begin(), map.e820.end(), bp.e820_table);
	mem.write(lay.boot_params, { reinterpret_cast<const uint8_t *>(&bp), sizeof(bp) });

	// GDT: null, unused, __BOOT_CS, __BOOT_DS, and a TSS for VM entry.
	mem.put<uint64_t>(lay.gdt + 0x00, 0);
	mem.put<uint64_t>(lay.gdt + 0x08, 0);
	mem.put<uint64_t>(lay.gdt + kBootCs, flat_gdt_entry(x86::SEG_CODE_XR, true));
	mem.put<uint64_t>(lay.gdt + kBootDs, flat_gdt_entry(x86::SEG_DATA_RW, false));
	kvmx_sregs &s = out.sregs;
	s = reset;
	s.tr = write_tss(mem, lay.gdt + kBootTss, kBootTss, lay.tss);
	s.gdt.base = lay.gdt;
	s.gdt.limit = kBootTss + 16 - 1;
	s.cs = flat_segment(kBootCs, x86::SEG_CODE_XR, true);
	for (auto *seg : { &s.ds, &s.es, &s.fs, &s.gs, &s.ss })
		*seg = flat_segment(kBootDs, x86::SEG_DATA_RW, false);
	s.cr3 = write_identity_map_4g(mem, lay.page_tables);
	s.cr0 = x86::CR0_PE | x86::CR0_ET | x86::CR0_NE | x86::CR0_PG;
	s.cr4 = x86::CR4_PAE;
	s.efer = x86::EFER_LME | x86::EFER_LMA;

	out.regs.rip = load + 0x200;			/* startup_64 */
	out.regs.rsi = lay.boot_params;
	out.regs.rsp = lay.stack_top;
	out.regs.rflags = 0x2;				/* IF clear */
	return out;
}

} // namespace kvmx
