// The bzImage loader on synthetic images, checked at the offsets
// Documentation/arch/x86/boot.rst and zero-page.rst give (not through our
// own structs), and on Debian's real kernel when the rig has one.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bzimage_loader.hpp"
#include "error.hpp"
#include "machine.hpp"

namespace kvmx {
namespace {

template <typename T> void put(std::vector<uint8_t> &b, size_t off, T v)
{
	std::memcpy(&b[off], &v, sizeof(T));
}

template <typename T> T get(const GuestMemory &m, uint64_t gpa)
{
	T v;
	std::memcpy(&v, m.at(gpa, sizeof(T)), sizeof(T));
	return v;
}

constexpr uint64_t kBp = 0x7000;

// A bzImage as the 2.15 protocol describes it: boot sector + 4 setup
// sectors, then the protected-mode kernel (filled with a pattern).
std::vector<uint8_t> fake_bzimage(size_t kernel_bytes = 64 << 10)
{
	std::vector<uint8_t> b(5 * 512 + kernel_bytes);
	for (size_t i = 5 * 512; i < b.size(); i++)
		b[i] = uint8_t(i * 7);
	b[0x1f1] = 0;				/* setup_sects 0 means 4 */
	put<uint16_t>(b, 0x1fe, 0xaa55);
	b[0x200] = 0xeb;			/* jmp over the header */
	b[0x201] = 0x6a;			/* header ends at 0x26c */
	std::memcpy(&b[0x202], "HdrS", 4);
	put<uint16_t>(b, 0x206, 0x020f);
	put<uint16_t>(b, 0x20e, 0x1234);	/* kernel_version: copied as is */
	b[0x211] = 0x01;			/* LOADED_HIGH */
	put<uint32_t>(b, 0x22c, 0x7fffffff);	/* initrd_addr_max */
	put<uint32_t>(b, 0x230, 0x200000);	/* kernel_alignment */
	b[0x234] = 1;				/* relocatable */
	put<uint16_t>(b, 0x236, 0x0003);	/* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put<uint32_t>(b, 0x238, 2047);		/* cmdline_size */
	put<uint64_t>(b, 0x258, 0x1000000);	/* pref_address */
	put<uint32_t>(b, 0x260, 0x2000000);	/* init_size: 32 MiB */
	return b;
}

kvmx_sregs reset_sregs()
{
	kvmx_sregs s{};
	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	s.idt.limit = 0xffff;
	return s;
}

std::string error_of(auto &&fn)
{
	try {
		fn();
	} catch (const Error &e) {
		return e.what();
	}
	return "";
}

TEST(BzImage, ParsesHeader)
{
	auto img = fake_bzimage();
	BzImage k = parse_bzimage(img);
	EXPECT_EQ(k.version, 0x020f);
	EXPECT_EQ(k.version_string(), "2.15");
	EXPECT_EQ(k.setup_sects, 4u);
	EXPECT_EQ(k.setup_size(), 5u * 512);
	EXPECT_EQ(k.kernel().size(), 64u << 10);
	EXPECT_TRUE(k.relocatable);
	EXPECT_EQ(k.header_end, 0x26cu);
}

TEST(BzImage, RejectsWhatItCannotBoot)
{
	auto img = fake_bzimage();
	img[0x202] = 'X';
	EXPECT_EQ(error_of([&] { parse_bzimage(img); }), "not a bzImage (no HdrS magic)");

	img = fake_bzimage();
	put<uint16_t>(img, 0x206, 0x0205);
	EXPECT_EQ(error_of([&] { parse_bzimage(img); }),
		  "boot protocol 2.05 too old (need 2.06 or later)");

	img = fake_bzimage();
	put<uint16_t>(img, 0x236, 0x0000);
	EXPECT_NE(error_of([&] { parse_bzimage(img); }).find("kernel has no 64-bit entry"),
		  std::string::npos);

	img = fake_bzimage();
	put<uint16_t>(img, 0x206, 0x0206);	/* before xloadflags existed */
	EXPECT_NE(error_of([&] { parse_bzimage(img); }).find("kernel has no 64-bit entry"),
		  std::string::npos);

	img = fake_bzimage();
	img[0x211] = 0;
	EXPECT_NE(error_of([&] { parse_bzimage(img); }).find("zImage"), std::string::npos);

	img.resize(0x100);
	EXPECT_NE(error_of([&] { parse_bzimage(img); }).find("not a bzImage"), std::string::npos);
}

struct LoadTest : ::testing::Test {
	std::vector<uint8_t> img = fake_bzimage();
	std::vector<uint8_t> initrd = std::vector<uint8_t>(300000, 0xab);
	PcMemoryMap map = pc_memory_map(128 << 20);
	GuestMemory mem{ 128 << 20 };
	LinuxBoot b;

	void SetUp() override
	{
		b = load_linux(mem, map, parse_bzimage(img), initrd, "console=ttyS0 quiet",
			       reset_sregs());
	}
};

TEST_F(LoadTest, KernelAndCommandLineInPlace)
{
	EXPECT_EQ(std::memcmp(mem.at(0x100000, img.size() - 2560), img.data() + 2560,
			      img.size() - 2560), 0);
	EXPECT_STREQ(reinterpret_cast<const char *>(mem.at(0x20000)), "console=ttyS0 quiet");
	// Runtime start 16 MiB (pref_address) + init_size 32 MiB.
	EXPECT_EQ(b.kernel_end, 0x3000000u);
}

TEST_F(LoadTest, ZeroPageFields)
{
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x202), 0x53726448u);	/* header copied */
	EXPECT_EQ(get<uint16_t>(mem, kBp + 0x20e), 0x1234);
	EXPECT_EQ(get<uint16_t>(mem, kBp + 0x206), 0x020f);
	EXPECT_EQ(get<uint16_t>(mem, kBp + 0x1fa), 0xffff);		/* vid_mode */
	EXPECT_EQ(get<uint8_t>(mem, kBp + 0x210), 0xff);		/* type_of_loader */
	EXPECT_EQ(get<uint8_t>(mem, kBp + 0x211), 0x81);		/* LOADED_HIGH|CAN_USE_HEAP */
	EXPECT_EQ(get<uint16_t>(mem, kBp + 0x224), 0xfe00);		/* heap_end_ptr */
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x228), 0x20000u);		/* cmd_line_ptr */
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x0c8), 0u);			/* ext_cmd_line_ptr */
	// Nothing past the header's end (0x26c) came from the image.
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x26c), 0u);
}

TEST_F(LoadTest, InitrdHighAndPageAligned)
{
	uint32_t addr = get<uint32_t>(mem, kBp + 0x218);
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x21c), 300000u);		/* ramdisk_size */
	EXPECT_EQ(get<uint32_t>(mem, kBp + 0x0c0), 0u);			/* ext_ramdisk_image */
	EXPECT_EQ(addr % 4096, 0u);
	EXPECT_EQ(addr, ((128u << 20) - 300000u) & ~0xfffu);
	EXPECT_GE(addr, b.kernel_end);
	EXPECT_EQ(*mem.at(addr), 0xab);
	EXPECT_EQ(*mem.at(addr + 299999), 0xab);
}

TEST_F(LoadTest, E820Table)
{
	ASSERT_EQ(get<uint8_t>(mem, kBp + 0x1e8), 3);
	struct { uint64_t addr, size; uint32_t type; } want[] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x100000 - 0x9fc00, 2 },
		{ 0x100000, (128 << 20) - 0x100000, 1 },
	};
	for (unsigned i = 0; i < 3; i++) {
		uint64_t e = kBp + 0x2d0 + i * 20;
		EXPECT_EQ(get<uint64_t>(mem, e), want[i].addr) << i;
		EXPECT_EQ(get<uint64_t>(mem, e + 8), want[i].size) << i;
		EXPECT_EQ(get<uint32_t>(mem, e + 16), want[i].type) << i;
	}
}

TEST_F(LoadTest, SixtyFourBitEntryState)
{
	EXPECT_EQ(b.regs.rip, 0x100200u);
	EXPECT_EQ(b.regs.rsi, kBp);
	EXPECT_EQ(b.regs.rflags & 0x200, 0u);				/* IF off */
	EXPECT_EQ(b.sregs.cs.selector, 0x10);
	EXPECT_EQ(b.sregs.cs.l, 1);
	EXPECT_EQ(b.sregs.cs.db, 0);
	for (auto *s : { &b.sregs.ds, &b.sregs.es, &b.sregs.ss })
		EXPECT_EQ(s->selector, 0x18);
	EXPECT_EQ(b.sregs.cr0 & 0x80000001u, 0x80000001u);		/* PG|PE */
	EXPECT_EQ(b.sregs.cr4 & 0x20, 0x20u);				/* PAE */
	EXPECT_EQ(b.sregs.efer & 0x500, 0x500u);			/* LME|LMA */
	EXPECT_EQ(b.sregs.idt.limit, 0xffff);				/* from reset */
	EXPECT_NE(b.sregs.tr.type & 0x2, 0);				/* busy TSS */

	// The GDT holds what the selectors say: __BOOT_CS is 64-bit code.
	uint64_t gdt = b.sregs.gdt.base;
	ASSERT_GE(b.sregs.gdt.limit, 0x1f);
	uint64_t cs = get<uint64_t>(mem, gdt + 0x10), ds = get<uint64_t>(mem, gdt + 0x18);
	EXPECT_TRUE(cs & (1ULL << 47));					/* present */
	EXPECT_TRUE(cs & (1ULL << 53));					/* L */
	EXPECT_TRUE(cs & (1ULL << 43));					/* code */
	EXPECT_FALSE(ds & (1ULL << 43));				/* data */
	EXPECT_TRUE(ds & (1ULL << 41));					/* writable */

	// Page tables map 0-4 GiB 1:1: walk two addresses by hand.
	for (uint64_t va : { 0x100200ULL, 0xfee00000ULL }) {
		uint64_t pml4e = get<uint64_t>(mem, (b.sregs.cr3 & ~0xfffULL) + 8 * ((va >> 39) & 511));
		ASSERT_TRUE(pml4e & 1);
		uint64_t pdpte = get<uint64_t>(mem, (pml4e & ~0xfffULL) + 8 * ((va >> 30) & 511));
		ASSERT_TRUE(pdpte & 1);
		uint64_t pde = get<uint64_t>(mem, (pdpte & ~0xfffULL) + 8 * ((va >> 21) & 511));
		ASSERT_TRUE(pde & 0x81);					/* present, 2 MiB */
		EXPECT_EQ((pde & ~0x1fffffULL & ((1ULL << 52) - 1)) | (va & 0x1fffff), va);
	}
	// The structures the loader wrote don't overlap.
	EXPECT_LT(gdt + b.sregs.gdt.limit, b.sregs.tr.base);
	EXPECT_LE(b.sregs.tr.base + 0x68, b.regs.rsp - 0x1000);
	EXPECT_GE(b.sregs.cr3, kBp + 4096);
	EXPECT_LE(b.sregs.cr3 + kIdentityMapSize, 0x20000u);
}

TEST(BzImageLoad, RefusesWhatDoesNotFit)
{
	auto img = fake_bzimage();
	BzImage k = parse_bzimage(img);
	{
		GuestMemory mem(128 << 20);
		std::vector<uint8_t> big(100 << 20);
		EXPECT_NE(error_of([&] {
				  load_linux(mem, pc_memory_map(128 << 20), k, big, "", reset_sregs());
			  }).find("initrd too large for guest memory"),
			  std::string::npos);
		std::string longline(3000, 'a');
		EXPECT_NE(error_of([&] {
				  load_linux(mem, pc_memory_map(128 << 20), k, {}, longline,
					     reset_sregs());
			  }).find("command line too long"),
			  std::string::npos);
	}
	GuestMemory small(32 << 20);
	EXPECT_NE(error_of([&] {
			  load_linux(small, pc_memory_map(32 << 20), k, {}, "", reset_sregs());
		  }).find("guest memory too small"),
		  std::string::npos);
}

TEST(BzImageLoad, InitrdRespectsInitrdAddrMax)
{
	auto img = fake_bzimage();
	put<uint32_t>(img, 0x22c, 0x37ffffff);
	std::vector<uint8_t> initrd(8192, 1);
	GuestMemory mem(1 << 30);
	LinuxBoot b = load_linux(mem, pc_memory_map(1 << 30), parse_bzimage(img), initrd, "",
				 reset_sregs());
	EXPECT_EQ(b.initrd_addr, 0x38000000u - 8192);
}

TEST(PcMemoryMap, PciHoleAbove3G)
{
	auto m = pc_memory_map(4ULL << 30);
	EXPECT_EQ(m.below_4g, 3ULL << 30);
	EXPECT_EQ(m.above_4g, 1ULL << 30);
	ASSERT_EQ(m.e820.size(), 4u);
	EXPECT_EQ(m.e820[2].addr + m.e820[2].size, 3ULL << 30);
	EXPECT_EQ(m.e820[3].addr, 4ULL << 30);
	EXPECT_EQ(m.e820[3].size, 1ULL << 30);
	EXPECT_EQ(m.e820[3].type, 1u);
	EXPECT_THROW(pc_memory_map(1 << 20), Error);
	EXPECT_THROW(pc_memory_map((64 << 20) + 1), Error);
}

// Debian's kernel, as the rig boots it: scripts/rig-kernel.sh fetched it
// into the source tree's build/ (make check does that before the unit tests).
TEST(BzImageReal, DebianKernelHeader)
{
	const std::string path = std::string(KVMX_SOURCE_DIR) + "/build/rig/kernel/vmlinuz";
	if (!std::filesystem::exists(path))
		GTEST_SKIP() << path << " not present: run scripts/rig-kernel.sh (make setup)";
	auto img = read_image(path);
	BzImage k = parse_bzimage(img);
	EXPECT_GE(k.version, 0x0206);
	EXPECT_TRUE(k.xloadflags & boot::XLF_KERNEL_64);
	EXPECT_TRUE(k.relocatable);
	EXPECT_GT(k.init_size, k.kernel().size());
	// And it loads into a 256 MiB guest with room to spare.
	GuestMemory mem(256 << 20);
	LinuxBoot b = load_linux(mem, pc_memory_map(256 << 20), k, {},
				 "console=ttyS0", reset_sregs());
	EXPECT_LT(b.kernel_end, 256u << 20);
	EXPECT_EQ(std::memcmp(mem.at(0x100000, 4096), k.kernel().data(), 4096), 0);
}

} // namespace
} // namespace kvmx
