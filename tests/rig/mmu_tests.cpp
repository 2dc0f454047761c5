// Guest memory follows the VMM's mapping (issue 16): when the VMM's page
// behind a slot changes (MADV_DONTNEED, mremap, CoW after fork), the guest
// sees the new page, on kvmx (MMU notifier, no pins) as on KVM.  Mem.* run
// on both devices; KvmxMem.* check kvmx's EPT through netlink.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "kvmx_netlink.hpp"
#include "mem_cgroup.hpp"
#include "rig_env.hpp"

using rig::Env;
using testutil::field;
using testutil::get_file;
using testutil::MemCgroup;
using testutil::put_file;

namespace {

constexpr uint64_t kSlotGpa = 0x40000000;	// 1 GiB: above slot 0, 2 MiB aligned
constexpr size_t k2M = 2 << 20;

// Long mode; RBX = the GPA the guest works on.  Each round: IN from port
// 0x82 (the command: 0 reads, anything else is written to [RBX] first),
// then the dword at [RBX] goes out on port 0x80.
//   top: in eax,0x82 ; test eax,eax ; jz rd ; mov [rbx],eax
//   rd:  mov eax,[rbx] ; out 0x80,eax ; jmp top
const std::vector<uint8_t> kProgram = { 0xe5, 0x82, 0x85, 0xc0, 0x74, 0x02, 0x89, 0x03,
					0x8b, 0x03, 0xe7, 0x80, 0xeb, 0xf2 };

struct Guest {
	Env e;
	explicit Guest(const std::string &dev) : e(dev)
	{
		e.long_mode(kProgram);
		kvmx_regs r = e.regs();
		r.rbx = kSlotGpa;
		EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	}
	int slot(void *host, size_t size = k2M)
	{
		return e.set_region(1, kSlotGpa, size, host);
	}
	// One round: the guest's view of the dword at kSlotGpa (after writing
	// @cmd if not 0).  Returns the KVM_RUN errno in @err (0: fine).
	void set_rbx(uint64_t gpa)
	{
		kvmx_regs r = e.regs();
		r.rbx = gpa;
		EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	}
	uint32_t step(uint32_t cmd, int *err = nullptr)
	{
		int r = e.run_once();
		if (err)
			*err = r;
		if (r)
			return ~0u;
		EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
		EXPECT_EQ(e.run->io.port, 0x82);
		std::memcpy(reinterpret_cast<char *>(e.run) + e.run->io.data_offset, &cmd, 4);
		r = e.run_once();
		if (err)
			*err = r;
		if (r)
			return ~0u;
		EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
		EXPECT_EQ(e.run->io.port, 0x80);
		uint32_t v;
		std::memcpy(&v, reinterpret_cast<char *>(e.run) + e.run->io.data_offset, 4);
		return v;
	}
};

void *map_anon(size_t size)
{
	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? nullptr : p;
}

volatile uint32_t *word(void *p)
{
	return static_cast<volatile uint32_t *>(p);
}

class Mem : public testing::TestWithParam<std::string> {};

TEST_P(Mem, GuestSeesTheNewPageAfterMadvDontneed)
{
	Guest g(GetParam());
	void *m = map_anon(k2M);
	ASSERT_NE(m, nullptr);
	*word(m) = 0x11111111;
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0), 0x11111111u);
	EXPECT_EQ(g.step(0x22222222), 0x22222222u) << "the guest's write";
	EXPECT_EQ(*word(m), 0x22222222u) << "the VMM sees the guest's write";
	ASSERT_EQ(::madvise(m, k2M, MADV_DONTNEED), 0);
	EXPECT_EQ(g.step(0), 0u) << "after MADV_DONTNEED the page reads zero";
	*word(m) = 0x33333333;
	EXPECT_EQ(g.step(0), 0x33333333u) << "what the VMM wrote after";
	ASSERT_EQ(::madvise(m, k2M, MADV_DONTNEED), 0);
	EXPECT_EQ(g.step(0x44444444), 0x44444444u);
	EXPECT_EQ(*word(m), 0x44444444u) << "the guest's write after MADV_DONTNEED went to the VMM";
	::munmap(m, k2M);
}

TEST_P(Mem, GuestSeesTheNewPageAfterMremapFixed)
{
	Guest g(GetParam());
	void *a = map_anon(k2M), *b = map_anon(k2M);
	ASSERT_NE(a, nullptr);
	ASSERT_NE(b, nullptr);
	*word(a) = 0xaaaaaaaa;
	*word(b) = 0xbbbbbbbb;
	ASSERT_EQ(g.slot(a), 0);
	EXPECT_EQ(g.step(0x0a0a0a0a), 0x0a0a0a0au);
	// b's pages move over a's address; a's pages go.
	void *r = ::mremap(b, k2M, k2M, MREMAP_MAYMOVE | MREMAP_FIXED, a);
	ASSERT_EQ(r, a);
	EXPECT_EQ(g.step(0), 0xbbbbbbbbu) << "the guest still sees the old page";
	EXPECT_EQ(g.step(0xcccccccc), 0xccccccccu);
	EXPECT_EQ(*word(a), 0xccccccccu) << "the guest's write went to the moved page";
	::munmap(a, k2M);
}

TEST_P(Mem, ForkAndCowKeepTheGuestOnTheParentsPage)
{
	Guest g(GetParam());
	void *m = map_anon(k2M);
	ASSERT_NE(m, nullptr);
	*word(m) = 0x11111111;
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0x12121212), 0x12121212u) << "mapped writable before the fork";
	pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		*word(m) = 0xdeadbeef;	// the child's own copy
		_exit(*word(m) == 0xdeadbeef ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(*word(m), 0x12121212u) << "the parent's memory";
	EXPECT_EQ(g.step(0), 0x12121212u) << "the child's write is not the parent's guest's";
	// The parent writes (breaking CoW if the page is still shared): the guest sees it.
	pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		::usleep(200000);	// keeps the page shared while the parent writes
		_exit(0);
	}
	*word(m) = 0x34343434;
	EXPECT_EQ(g.step(0), 0x34343434u) << "the parent's write after fork";
	EXPECT_EQ(g.step(0x56565656), 0x56565656u);
	EXPECT_EQ(*word(m), 0x56565656u) << "the guest's write after fork is the parent's";
	ASSERT_EQ(::waitpid(pid, &status, 0), pid);
	::munmap(m, k2M);
}

// A slot whose memory is unmapped under the guest: KVM_RUN fails with
// EFAULT on the next access, as on KVM; mapped again, the guest goes on.
TEST_P(Mem, UnmappedSlotMemoryFaultsAndComesBack)
{
	Guest g(GetParam());
	void *m = map_anon(k2M);
	ASSERT_NE(m, nullptr);
	*word(m) = 0x77777777;
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0), 0x77777777u);
	ASSERT_EQ(::munmap(m, k2M), 0);
	int err = 0;
	g.step(0, &err);
	EXPECT_EQ(err, EFAULT);
	void *again = ::mmap(m, k2M, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(again, m);
	*word(m) = 0x88888888;
	// The failed run left the guest at its load: run it on.
	int r = g.e.run_once();
	ASSERT_EQ(r, 0);
	ASSERT_EQ(g.e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
	uint32_t v;
	std::memcpy(&v, reinterpret_cast<char *>(g.e.run) + g.e.run->io.data_offset, 4);
	EXPECT_EQ(v, 0x88888888u);
	::munmap(m, k2M);
}

INSTANTIATE_TEST_SUITE_P(Devices, Mem, testing::Values("/dev/kvmx", "/dev/kvm"),
			 [](const auto &info) { return info.param == "/dev/kvm" ? "kvm" : "kvmx"; });

// kvmx only: the VMM's transparent huge page is mapped with one 2 MiB EPT
// leaf, and the counters show it and the invalidation that zaps it.
TEST(KvmxMem, ThpBackedSlotMaps2MiBPages)
{
	// The rig's kernel boots with THP off: on for madvised memory, for this test.
	const std::string knob = "/sys/kernel/mm/transparent_hugepage/enabled";
	const std::string mode = get_file(knob);
	if (mode.empty() || (mode.find("[never]") != std::string::npos && !put_file(knob, "madvise")))
		GTEST_SKIP() << "THP is off and stays off: " << mode;
	struct Restore {
		std::function<void()> f;
		~Restore() { f(); }
	} restore{ [&] {
		if (mode.find("[never]") != std::string::npos)
			put_file(knob, "never");
	} };
	Guest g("/dev/kvmx");
	void *raw = map_anon(2 * k2M);
	ASSERT_NE(raw, nullptr);
	auto m = reinterpret_cast<void *>((reinterpret_cast<uintptr_t>(raw) + k2M - 1) & ~(k2M - 1));
	ASSERT_EQ(::madvise(m, k2M, MADV_HUGEPAGE), 0);
	*word(m) = 0x12345678;
	// Is it a huge page for the VMM?  /proc/self/smaps says.
	bool huge = false;
	{
		std::ifstream smaps("/proc/self/smaps");
		std::string line;
		bool in = false;
		while (std::getline(smaps, line)) {
			unsigned long lo, hi;
			if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 &&
			    line.find(' ') < line.find(':') + 20) {
				in = lo <= (uintptr_t)m && (uintptr_t)m < hi;
				continue;
			}
			unsigned long kb;
			if (in && std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1)
				huge = kb >= 2048;
		}
	}
	if (!huge)
		GTEST_SKIP() << "the kernel gave no huge page for the slot";
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0), 0x12345678u);
	uint32_t id = ::ioctl(g.e.vm.get(), KVMX_GET_VM_ID);
	kvmx::Netlink nl;
	bool big = false;
	for (const auto &r : nl.ept(id))
		if (r.gpa <= kSlotGpa && kSlotGpa < r.gpa + r.size)
			big = r.page_size == k2M;
	EXPECT_TRUE(big) << "the slot is not mapped with a 2 MiB leaf";
	auto s = nl.stats(id);
	EXPECT_GE(s.vm.mapped_pages, 512u);
	uint64_t before = s.vm.mmu_invalidations;
	ASSERT_EQ(::madvise(m, k2M, MADV_DONTNEED), 0);
	s = nl.stats(id);
	EXPECT_GT(s.vm.mmu_invalidations, before);
	EXPECT_LT(s.vm.mapped_pages, 512u) << "the 2 MiB leaf went with the page";
	EXPECT_EQ(g.step(0), 0u);
	::munmap(raw, 2 * k2M);
}

// A slot backed by hugetlbfs (MAP_HUGETLB, 2 MiB pages): on both devices the
// guest reads and writes it, and after MADV_DONTNEED sees a fresh zero page;
// on kvmx it is one 2 MiB EPT leaf.
TEST_P(Mem, HugetlbSlotFollowsTheVmm)
{
	const char *knob = "/proc/sys/vm/nr_hugepages";
	long before = 0;
	{
		std::ifstream f(knob);
		f >> before;
	}
	{
		std::ofstream f(knob);
		f << before + 1;
	}
	struct Restore {
		std::function<void()> f;
		~Restore() { f(); }
	} restore{ [&] {
		std::ofstream f(knob);
		f << before;
	} };
	Guest g(GetParam());
	void *m = ::mmap(nullptr, k2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (m == MAP_FAILED)
		GTEST_SKIP() << "no 2 MiB hugetlb page: " << std::strerror(errno);
	*word(m) = 0x13131313;
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0), 0x13131313u);
	EXPECT_EQ(g.step(0x24242424), 0x24242424u);
	EXPECT_EQ(*word(m), 0x24242424u);
	if (GetParam() == "/dev/kvmx") {
		kvmx::Netlink nl;
		bool big = false;
		for (const auto &r : nl.ept(::ioctl(g.e.vm.get(), KVMX_GET_VM_ID)))
			if (r.gpa <= kSlotGpa && kSlotGpa < r.gpa + r.size)
				big = r.page_size == k2M;
		EXPECT_TRUE(big) << "the hugetlb page is not mapped with a 2 MiB leaf";
	}
	ASSERT_EQ(::madvise(m, k2M, MADV_DONTNEED), 0);
	EXPECT_EQ(g.step(0), 0u) << "after MADV_DONTNEED the hugetlb page reads zero";
	*word(m) = 0x35353535;
	EXPECT_EQ(g.step(0), 0x35353535u);
	::munmap(m, k2M);
}

// A file-backed MAP_SHARED slot (memfd): the guest's write is in the file,
// and a write through another mapping of the file is seen by the guest.
TEST_P(Mem, SharedFileSlotIsTheFile)
{
	int fd = ::memfd_create("kvmx-mem", 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(::ftruncate(fd, k2M), 0);
	void *m = ::mmap(nullptr, k2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *other = ::mmap(nullptr, k2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(m, MAP_FAILED);
	ASSERT_NE(other, MAP_FAILED);
	Guest g(GetParam());
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0x5a5a5a5a), 0x5a5a5a5au);
	EXPECT_EQ(*word(other), 0x5a5a5a5au) << "the guest's write is in the file";
	*word(other) = 0x6b6b6b6b;
	EXPECT_EQ(g.step(0), 0x6b6b6b6bu) << "a write through another mapping";
	// Punching the page out of the file: the guest sees a new zero page.
	ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), 0);
	EXPECT_EQ(g.step(0), 0u) << "after the hole punch";
	::munmap(m, k2M);
	::munmap(other, k2M);
	::close(fd);
}

// ksmd, for the tests below: fast scanning while the test runs, stopped
// (run=2 unmerges everything) when it ends.
struct Ksm {
	static bool put(const std::string &f, const std::string &v)
	{
		std::ofstream o("/sys/kernel/mm/ksm/" + f);
		o << v;
		return bool(o.flush());
	}
	static long get(const std::string &f)
	{
		std::ifstream i("/sys/kernel/mm/ksm/" + f);
		long v = -1;
		i >> v;
		return v;
	}
	static bool available() { return get("run") >= 0; }
	Ksm()
	{
		put("sleep_millisecs", "0");
		put("pages_to_scan", "1000");
		started = put("run", "1");
	}
	~Ksm() { put("run", "2"); }
	// Up to 10 s for pages_sharing to reach @n; then no more merging
	// behind the test's back.
	bool wait_sharing(long n)
	{
		bool merged = false;
		for (int i = 0; i < 200 && !merged; i++) {
			::usleep(50000);
			merged = get("pages_sharing") >= n;
		}
		put("run", "0");
		return merged;
	}
	bool started = false;
};

// KSM merges two identical pages of the slot (write-protecting them for
// the guest too); a guest write then breaks the merge for its page only.
TEST_P(Mem, KsmMergedPagesSplitOnAGuestWrite)
{
	if (!Ksm::available())
		GTEST_SKIP() << "no KSM in this kernel";
	Guest g(GetParam());
	void *m = map_anon(k2M);
	ASSERT_NE(m, nullptr);
	std::memset(m, 0x5c, 2 * 4096);
	ASSERT_EQ(g.slot(m), 0);
	EXPECT_EQ(g.step(0x5c5c5c5c), 0x5c5c5c5cu) << "page 0 mapped writable";
	g.set_rbx(kSlotGpa + 4096);
	EXPECT_EQ(g.step(0x5c5c5c5c), 0x5c5c5c5cu) << "page 1 mapped writable";
	ASSERT_EQ(::madvise(m, 2 * 4096, MADV_MERGEABLE), 0);
	Ksm ksm;
	ASSERT_TRUE(ksm.started);
	ASSERT_TRUE(ksm.wait_sharing(1)) << "ksmd merged nothing in 10 s";
	EXPECT_EQ(g.step(0), 0x5c5c5c5cu) << "the merged page";
	EXPECT_EQ(g.step(0x6d6d6d6d), 0x6d6d6d6du) << "the guest's write to page 1";
	EXPECT_EQ(word(m)[1024], 0x6d6d6d6du) << "the VMM sees it in page 1";
	EXPECT_EQ(word(m)[0], 0x5c5c5c5cu) << "page 0 is untouched";
	g.set_rbx(kSlotGpa);
	EXPECT_EQ(g.step(0), 0x5c5c5c5cu) << "the guest's page 0 is untouched";
	::munmap(m, k2M);
}

// KSM across two guests: two VMs whose RAM holds the same page end up on
// one host page (ksmd's counters move), both keep reading it, and a write
// by one guest gives it a copy while the other keeps the shared content.
TEST_P(Mem, KsmMergesTwoGuestsPages)
{
	if (!Ksm::available())
		GTEST_SKIP() << "no KSM in this kernel";
	Guest a(GetParam()), b(GetParam());
	void *ma = map_anon(k2M), *mb = map_anon(k2M);
	ASSERT_NE(ma, nullptr);
	ASSERT_NE(mb, nullptr);
	std::memset(ma, 0x7e, 4096);
	std::memset(mb, 0x7e, 4096);
	ASSERT_EQ(a.slot(ma), 0);
	ASSERT_EQ(b.slot(mb), 0);
	EXPECT_EQ(a.step(0), 0x7e7e7e7eu) << "guest A maps its page";
	EXPECT_EQ(b.step(0), 0x7e7e7e7eu) << "guest B maps its page";
	long shared = Ksm::get("pages_shared"), sharing = Ksm::get("pages_sharing");
	ASSERT_EQ(::madvise(ma, 4096, MADV_MERGEABLE), 0);
	ASSERT_EQ(::madvise(mb, 4096, MADV_MERGEABLE), 0);
	Ksm ksm;
	ASSERT_TRUE(ksm.started);
	ASSERT_TRUE(ksm.wait_sharing(sharing + 1)) << "ksmd merged nothing in 10 s";
	EXPECT_GE(Ksm::get("pages_shared"), shared + 1) << "one stable page for both";
	std::printf("ksm: pages_shared %ld, pages_sharing %ld (before: %ld, %ld)\n",
		    Ksm::get("pages_shared"), Ksm::get("pages_sharing"), shared, sharing);
	EXPECT_EQ(a.step(0), 0x7e7e7e7eu) << "guest A reads the merged page";
	EXPECT_EQ(b.step(0), 0x7e7e7e7eu) << "guest B reads the merged page";
	EXPECT_EQ(a.step(0x1a1a1a1a), 0x1a1a1a1au) << "guest A writes: its own copy";
	EXPECT_EQ(b.step(0), 0x7e7e7e7eu) << "guest B keeps the shared content";
	EXPECT_EQ(word(ma)[0], 0x1a1a1a1au) << "VMM A sees guest A's write";
	EXPECT_EQ(word(mb)[0], 0x7e7e7e7eu) << "VMM B's page is untouched";
	EXPECT_EQ(b.step(0x2b2b2b2b), 0x2b2b2b2bu) << "guest B writes too";
	EXPECT_EQ(a.step(0), 0x1a1a1a1au) << "guest A keeps its own";
	::munmap(ma, k2M);
	::munmap(mb, k2M);
}

// ---- Guest RAM as process memory under reclaim: aging and swap ----

// Long mode; RBX = first GPA, RCX = bytes to write.  Each round: IN from
// port 0x82 gives a seed (0: HLT); the guest writes the qword
// (gpa * 0x9e3779b97f4a7c15) ^ seed at every qword of [RBX, RBX + RCX),
// then OUT 0x80.  Then, as long as IN from 0x83 gives a length L (0: next
// seed), it reads [RBX, RBX + L) back and OUTs the number of qwords that
// differ on 0x81.  Every value differs: zram can't fold pages away.
//   top:  in eax,0x82 ; test eax,eax ; jz halt ; mov r8,rax
//         mov r9,0x9e3779b97f4a7c15 ; mov rdi,rbx ; lea rsi,[rbx+rcx]
//   w:    mov rax,rdi ; imul rax,r9 ; xor rax,r8 ; mov [rdi],rax
//         add rdi,8 ; cmp rdi,rsi ; jb w ; out 0x80,eax
//   next: in eax,0x83 ; test eax,eax ; jz top ; mov esi,eax ; add rsi,rbx
//         xor edx,edx ; mov rdi,rbx
//   c:    mov rax,rdi ; imul rax,r9 ; xor rax,r8 ; cmp [rdi],rax ; je ok
//         inc edx
//   ok:   add rdi,8 ; cmp rdi,rsi ; jb c ; mov eax,edx ; out 0x81,eax
//         jmp next
//   halt: hlt ; jmp halt
const std::vector<uint8_t> kPatternProgram = {
	0xe5, 0x82, 0x85, 0xc0, 0x74, 0x5c, 0x49, 0x89, 0xc0, 0x49, 0xb9, 0x15, 0x7c, 0x4a,
	0x7f, 0xb9, 0x79, 0x37, 0x9e, 0x48, 0x89, 0xdf, 0x48, 0x8d, 0x34, 0x0b, 0x48, 0x89,
	0xf8, 0x49, 0x0f, 0xaf, 0xc1, 0x4c, 0x31, 0xc0, 0x48, 0x89, 0x07, 0x48, 0x83, 0xc7,
	0x08, 0x48, 0x39, 0xf7, 0x72, 0xea, 0xe7, 0x80, 0xe5, 0x83, 0x85, 0xc0, 0x74, 0xc8,
	0x89, 0xc6, 0x48, 0x01, 0xde, 0x31, 0xd2, 0x48, 0x89, 0xdf, 0x48, 0x89, 0xf8, 0x49,
	0x0f, 0xaf, 0xc1, 0x4c, 0x31, 0xc0, 0x48, 0x39, 0x07, 0x74, 0x02, 0xff, 0xc2, 0x48,
	0x83, 0xc7, 0x08, 0x48, 0x39, 0xf7, 0x72, 0xe6, 0x89, 0xd0, 0xe7, 0x81, 0xeb, 0xd0,
	0xf4, 0xeb, 0xfd,
};

// Swap for the tests below, once per boot: the rig's root is an initramfs,
// so a zram device (the rig kernel's zram.ko and zsmalloc.ko).  Returns
// what went wrong, or "".
std::string ensure_swap()
{
	if (field(get_file("/proc/meminfo"), "SwapTotal:") > 0)
		return "";
	if (::access("/sys/block/zram0", F_OK) &&
	    std::system("insmod /kvmx/modules/zsmalloc.ko; insmod /kvmx/modules/zram.ko"))
		return "cannot load zram";
	if (!put_file("/sys/block/zram0/disksize", "256M"))
		return "cannot size zram0";
	if (std::system("mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"))
		return "mkswap/swapon /dev/zram0 failed";
	return "";
}

// The pattern guest over a slot of @size at kSlotGpa.
struct PatternGuest {
	Env e;
	PatternGuest(const std::string &dev, size_t size) : e(dev)
	{
		e.long_mode(kPatternProgram);
		kvmx_regs r = e.regs();
		r.rbx = kSlotGpa;
		r.rcx = size;
		EXPECT_EQ(::ioctl(e.vcpu.get(), KVMX_SET_REGS, &r), 0);
	}
	int slot_set(void *host, size_t size) { return e.set_region(1, kSlotGpa, size, host); }
	// Run to the next port I/O exit; its port, or -1 (the KVM_RUN errno or
	// another exit is reported).
	int io(uint32_t in_value = 0)
	{
		if (e.run->exit_reason == KVMX_EXIT_IO && e.run->io.direction == KVMX_EXIT_IO_IN)
			std::memcpy(reinterpret_cast<char *>(e.run) + e.run->io.data_offset, &in_value,
				    4);
		int r = e.run_once();
		EXPECT_EQ(r, 0) << std::strerror(r);
		EXPECT_EQ(e.run->exit_reason, (unsigned)KVMX_EXIT_IO);
		if (r || e.run->exit_reason != KVMX_EXIT_IO)
			return -1;
		return e.run->io.port;
	}
	uint32_t out_value()
	{
		uint32_t v;
		std::memcpy(&v, reinterpret_cast<char *>(e.run) + e.run->io.data_offset, 4);
		return v;
	}
	// From the seed prompt (port 0x82): write the pattern of @seed; ends at
	// the length prompt (0x83).
	bool write(uint32_t seed) { return io(seed) == 0x80 && io() == 0x83; }
	// From the length prompt: check [kSlotGpa, +len); the qwords that differ
	// (~0u if the guest did not answer).  Ends at the length prompt.
	uint32_t check(uint32_t len)
	{
		if (io(len) != 0x81)
			return ~0u;
		uint32_t bad = out_value();
		return io() == 0x83 ? bad : ~0u;
	}
	// From the length prompt: back to the seed prompt.
	bool next_seed() { return io(0) == 0x82; }
};

// /proc/self/pagemap: how many of the pages of [p, p + bytes) are in RAM
// and how many in swap (bits 63 and 62 of each entry).
struct Residency {
	size_t present = 0, swapped = 0;
};

Residency residency(const void *p, size_t bytes)
{
	Residency r;
	int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return r;
	std::vector<uint64_t> e(bytes / 4096);
	off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / 4096 * 8);
	if (::pread(fd, e.data(), e.size() * 8, off) == static_cast<ssize_t>(e.size() * 8))
		for (uint64_t v : e) {
			r.present += (v >> 63) & 1;
			r.swapped += (v >> 62) & 1;
		}
	::close(fd);
	return r;
}

// Page aging sees what the guest uses: reclaim (memory.reclaim on the
// VMM's memory cgroup, with swap) asks the device whether each guest page
// was used since last asked (the MMU notifier's clear_flush_young), so
// the pages the guest keeps reading stay in RAM while the ones it wrote
// once and left go to swap; and the data survives.  The guest's use never
// reaches the VMM's page table: only the hypervisor can tell.
//
// The LRU is set up so that position alone would evict the used pages
// first: MADV_COLD puts the hot quarter, then the cold rest, then a filler
// (the VMM's own memory, not the guest's) on the inactive list, hot nearest
// its tail.  A first reclaim takes the filler and looks at every guest page
// once on its way (they were all used: the guest wrote them); from then on
// only the hot pages were used.  A device that never says "used" loses the
// hot pages; one that always says so (or never clears) lets nothing cold go.
// On kvmx with EPT A/D flags the hot pages also keep their mappings: their
// reads take no EPT fault while the cold pages go.
TEST_P(Mem, ReclaimKeepsThePagesTheGuestUses)
{
	if (std::string why = ensure_swap(); !why.empty())
		GTEST_FAIL() << why;
	constexpr size_t kHot = 256 * 4096, kCold = 1536 * 4096, kSize = kHot + kCold;
	constexpr size_t kFiller = 512 * 4096;
	const bool kvmx = GetParam() == "/dev/kvmx";
	MemCgroup cg(kvmx ? "kvmx-age" : "kvm-age", "max", "max", true);
	ASSERT_TRUE(cg.ok()) << "cannot set up a memory cgroup";
	PatternGuest g(GetParam(), kSize);
	auto *m = static_cast<uint8_t *>(map_anon(kSize));
	auto *filler = static_cast<uint8_t *>(map_anon(kFiller));
	ASSERT_NE(m, nullptr);
	ASSERT_NE(filler, nullptr);
	// 4 KiB pages: a huge page would put hot and cold under one LRU entry.
	ASSERT_EQ(::madvise(m, kSize, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(::madvise(filler, kFiller, MADV_NOHUGEPAGE), 0);
	std::memset(filler, 0x3c, kFiller);
	ASSERT_EQ(g.slot_set(m, kSize), 0);
	ASSERT_EQ(g.io(), 0x82);
	ASSERT_TRUE(g.write(0x1234567));
	ASSERT_EQ(g.check(kSize), 0u) << "the pattern as written";
	ASSERT_EQ(residency(m, kSize).present, kSize / 4096);

	// Hot pages nearest the inactive list's tail, then cold, then filler.
	ASSERT_EQ(::madvise(m, kHot, MADV_COLD), 0);
	ASSERT_EQ(::madvise(m + kHot, kCold, MADV_COLD), 0);
	ASSERT_EQ(::madvise(filler, kFiller, MADV_COLD), 0);
	cg.reclaim(kFiller - 64 * 4096);
	Residency hot = residency(m, kHot);
	EXPECT_EQ(hot.present, kHot / 4096) << "hot pages went in the first reclaim (its first look at them)";

	uint32_t id = kvmx ? ::ioctl(g.e.vm.get(), KVMX_GET_VM_ID) : 0;
	auto ept_faults = [&] {
		kvmx::Netlink nl;
		uint64_t n = 0;
		for (const auto &v : nl.stats(id).vcpus)
			n += v.stats.ept_faults;
		return n;
	};
	uint64_t faults_before = 0;
	const int kRounds = 6;
	for (int round = 0; round < kRounds; round++) {
		ASSERT_EQ(g.check(kHot), 0u) << "round " << round << ": the guest reads its hot pages";
		if (round == 1 && kvmx)
			faults_before = ept_faults();	// from here on the hot pages are mapped
		cg.reclaim(128 * 4096);
		hot = residency(m, kHot);
		EXPECT_EQ(hot.present, kHot / 4096) << "round " << round << ": " << hot.swapped
			<< " hot pages were swapped out";
	}
	Residency cold = residency(m + kHot, kCold);
	EXPECT_GE(cold.swapped, 256u) << "reclaim took too little of the cold pages ("
		<< cold.present << " of " << kCold / 4096 << " still in RAM)";
	if (kvmx && get_file("/sys/module/kvmx/parameters/ept_ad").starts_with("Y")) {
		uint64_t faults = ept_faults() - faults_before;
		EXPECT_LT(faults, 64u) << "with EPT A/D aging the hot pages keep their mappings";
		kvmx::Netlink nl;
		uint64_t hot_mapped = 0;
		for (const auto &r : nl.ept(id))
			if (r.gpa >= kSlotGpa && r.gpa < kSlotGpa + kHot)
				hot_mapped += std::min<uint64_t>(r.size, kSlotGpa + kHot - r.gpa);
		EXPECT_EQ(hot_mapped, kHot) << "the hot pages' EPT leaves";
	}
	EXPECT_EQ(g.check(kSize), 0u) << "the whole pattern, cold pages back from swap";
	std::printf("aging: %zu of %zu cold pages swapped out, hot pages all in RAM: %s, "
		    "swap.current %lld\n", cold.swapped, kCold / 4096,
		    residency(m, kHot).present == kHot / 4096 ? "yes" : "no",
		    cg.stat("memory.swap.current"));
	ASSERT_TRUE(g.next_seed());
	::munmap(m, kSize);
	::munmap(filler, kFiller);
}

// A guest whose RAM is three times its memory cgroup's limit, with swap:
// it writes a pattern over all of it, reads it back, writes another and
// reads that back (a page that came back from swap and is written again
// must go out again as written).  It keeps running, its data survives and
// the cgroup's swap counter shows pages really went out.
TEST_P(Mem, GuestRamLargerThanItsCgroupGoesToSwap)
{
	if (std::string why = ensure_swap(); !why.empty())
		GTEST_FAIL() << why;
	constexpr size_t kMax = 8 << 20, kSize = 3 * kMax;
	const bool kvmx = GetParam() == "/dev/kvmx";
	MemCgroup cg(kvmx ? "kvmx-swap" : "kvm-swap", std::to_string(kMax), "max", true);
	ASSERT_TRUE(cg.ok()) << "cannot set up a memory cgroup";
	PatternGuest g(GetParam(), kSize);
	auto *m = static_cast<uint8_t *>(map_anon(kSize));
	ASSERT_NE(m, nullptr);
	ASSERT_EQ(::madvise(m, kSize, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(g.slot_set(m, kSize), 0);
	ASSERT_EQ(g.io(), 0x82);
	long long swap_max = 0;
	for (uint32_t seed : { 0x2468aceu, 0x13579bdu }) {
		ASSERT_TRUE(g.write(seed)) << "seed " << seed;
		swap_max = std::max(swap_max, cg.stat("memory.swap.current"));
		EXPECT_EQ(g.check(kSize), 0u) << "seed " << seed << ": qwords that differ";
		swap_max = std::max(swap_max, cg.stat("memory.swap.current"));
		EXPECT_LE(cg.stat("memory.current"), static_cast<long long>(kMax));
		ASSERT_TRUE(g.next_seed());
	}
	EXPECT_GE(swap_max, static_cast<long long>(kSize - kMax))
		<< "the cgroup's swap counter: at least what did not fit";
	EXPECT_EQ(cg.stat("memory.events", "oom_kill"), 0);
	std::printf("swap: %zu MiB guest under a %zu MiB cgroup: swap.current up to %lld KiB, "
		    "%lld pgmajfault\n", kSize >> 20, kMax >> 20, swap_max >> 10,
		    cg.stat("memory.stat", "pgmajfault"));
	::munmap(m, kSize);
}


// /proc/kpageflags of the page behind @p (0 if none is mapped there).
uint64_t kpageflags(const void *p)
{
	uint64_t e = 0, f = 0;
	int pm = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = ::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(p) / 4096 * 8);
	if (pm >= 0 && kf >= 0 && ::pread(pm, &e, 8, off) == 8 && (e >> 63) &&
	    ::pread(kf, &f, 8, static_cast<off_t>((e & ((1ull << 55) - 1)) * 8)) != 8)
		f = 0;
	if (pm >= 0)
		::close(pm);
	if (kf >= 0)
		::close(kf);
	return f;
}

// The host learns which pages the guest wrote even when the writes took no
// fault.  After MADV_FREE the VMM's pages are clean but still mapped
// writable, so a guest read maps them writable for the guest too, and its
// later writes run without an exit.  Reclaim (MADV_PAGEOUT) then discards
// a freed page that is still clean and keeps one written since: a device
// that never told the host of the guest's writes loses them (the guest
// reads zeros).  One that dirties every writable page keeps the pages the
// guest only read: kvm_intel does (KVM 6.1 presets the EPT dirty flag on
// every writable leaf); kvmx sets it from the guest's writes where the CPU
// has EPT A/D flags, so there those pages go.
TEST_P(Mem, GuestWritesWithoutAnExitSurviveReclaim)
{
	constexpr size_t kPages = 64, kWritten = 32, kSize = kPages * 4096;
	const bool precise = GetParam() == "/dev/kvmx" &&
			     get_file("/sys/module/kvmx/parameters/ept_ad").starts_with("Y");
	auto *m = static_cast<uint8_t *>(map_anon(kSize));
	ASSERT_NE(m, nullptr);
	ASSERT_EQ(::madvise(m, kSize, MADV_NOHUGEPAGE), 0);
	for (size_t i = 0; i < kPages; i++)
		*word(m + i * 4096) = 0xa0000000u + i;
	ASSERT_EQ(::madvise(m, kSize, MADV_FREE), 0);	// clean, still writable
	// Present and still lazily freed (not swap-backed): reclaim has not decided yet.
	auto lazy = [&](size_t i) {
		uint64_t f = kpageflags(m + i * 4096);
		return f && !(f & (1ull << KPF_SWAPBACKED));
	};
	ASSERT_TRUE(lazy(0)) << "MADV_FREE did not make the page lazily freed";
	Guest g(GetParam());
	ASSERT_EQ(g.slot(m, kSize), 0);
	for (size_t i = 0; i < kPages; i++) {
		g.set_rbx(kSlotGpa + i * 4096);
		EXPECT_EQ(g.step(0), 0xa0000000u + i) << "page " << i;	// a read maps it
	}
	for (size_t i = 0; i < kWritten; i++) {
		g.set_rbx(kSlotGpa + i * 4096);
		uint32_t v = 0x51000000u + i;
		EXPECT_EQ(g.step(v), v) << "page " << i;	// written without a fault
		EXPECT_EQ(*word(m + i * 4096), v) << "the VMM sees the guest's write";
	}
	// Reclaim keeps a page the guest used since the last look (aging): the
	// first pass clears the accessed flags, a later one decides.
	long long freed = field(get_file("/proc/vmstat"), "pglazyfreed");
	int passes = 0;
	for (; passes < 4; passes++) {
		bool undecided = false;
		for (size_t i = 0; i < kPages; i++)
			undecided |= lazy(i);
		if (!undecided)
			break;
		ASSERT_EQ(::madvise(m, kSize, MADV_PAGEOUT), 0);
	}
	freed = field(get_file("/proc/vmstat"), "pglazyfreed") - freed;
	for (size_t i = 0; i < kWritten; i++)
		EXPECT_FALSE(lazy(i)) << "reclaim never decided on page " << i;
	if (precise) {
		EXPECT_EQ(freed, static_cast<long long>(kPages - kWritten))
			<< "pages discarded: only those the guest did not write may go";
	}
	for (size_t i = 0; i < kPages; i++) {
		g.set_rbx(kSlotGpa + i * 4096);
		uint32_t v = g.step(0);
		if (i < kWritten) {
			EXPECT_EQ(v, 0x51000000u + i) << "page " << i << " after reclaim";
		} else if (precise) {
			EXPECT_EQ(v, 0u) << "page " << i << " (discarded) after reclaim";
		} else {
			EXPECT_TRUE(v == 0 || v == 0xa0000000u + i) << "page " << i << ": " << v;
		}
	}
	std::printf("MADV_FREE, then the guest writes %zu of %zu pages without an exit: "
		    "%d MADV_PAGEOUT passes discarded %lld\n", kWritten, kPages, passes, freed);
	::munmap(m, kSize);
}

} // namespace
