// kvmx-stress: hammer a KVM-API device from the rig and see the host survive.
//
//   kvmx-stress ioctl    DEVICE CALLS PROCS THREADS SEED   random ioctl sequences
//   kvmx-stress guests   DEVICE COUNT SEED                 random and mutated guests
//   kvmx-stress kill     DEVICE COUNT SEED                 SIGKILL mid-run
//   kvmx-stress pressure DEVICE COUNT SEED                 guests in a small memory cgroup
//   kvmx-stress migrate  DEVICE MSECS VMS                  vCPU threads moved between CPUs
//
// Each prints one "stress: ..." summary line and exits 0 if the device
// behaved (only errno-style failures, every guest ended with a defined exit,
// nothing left behind); the rig job then checks dmesg and the module's
// accounting.
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <linux/kvmx.h>
}

#include "cpu_modes.hpp"
#include "guest_memory.hpp"
#include "mem_cgroup.hpp"
#include "thread_timer.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Every ioctl of the subset, plus numbers near them that are not.
const unsigned long kIoctls[] = {
	KVMX_GET_API_VERSION, KVMX_CREATE_VM, KVMX_GET_MSR_INDEX_LIST, KVMX_CHECK_EXTENSION,
	KVMX_GET_VCPU_MMAP_SIZE, KVMX_GET_SUPPORTED_CPUID, KVMX_CREATE_VCPU,
	KVMX_SET_USER_MEMORY_REGION, KVMX_SET_TSS_ADDR, KVMX_SET_IDENTITY_MAP_ADDR, KVMX_RUN,
	KVMX_GET_REGS, KVMX_SET_REGS, KVMX_GET_SREGS, KVMX_SET_SREGS, KVMX_INTERRUPT,
	KVMX_GET_MSRS, KVMX_SET_MSRS, KVMX_GET_FPU, KVMX_SET_FPU, KVMX_SET_CPUID2,
	KVMX_GET_CPUID2, KVMX_GET_VMX_INFO, KVMX_SET_SIGNAL_MASK, KVMX_GET_MP_STATE,
	KVMX_SET_MP_STATE, KVMX_NMI, KVMX_GET_VCPU_EVENTS, KVMX_SET_VCPU_EVENTS,
	KVMX_GET_DEBUGREGS, KVMX_SET_DEBUGREGS, KVMX_SET_TSC_KHZ, KVMX_GET_TSC_KHZ,
	KVMX_GET_XSAVE, KVMX_SET_XSAVE, KVMX_GET_XCRS, KVMX_SET_XCRS,
	KVMX_X86_GET_MCE_CAP_SUPPORTED, KVMX_X86_SETUP_MCE, KVMX_X86_SET_MCE,
	KVMX_SET_GSI_ROUTING, KVMX_GET_DIRTY_LOG,
	// The in-kernel irqchip, its PIT and eventfds (issue 14).
	KVMX_CREATE_IRQCHIP, KVMX_IRQ_LINE, KVMX_IRQ_LINE_STATUS, KVMX_GET_IRQCHIP,
	KVMX_SET_IRQCHIP, KVMX_SET_BOOT_CPU_ID, KVMX_SIGNAL_MSI, KVMX_GET_LAPIC, KVMX_SET_LAPIC,
	KVMX_IRQFD, KVMX_IOEVENTFD, KVMX_CREATE_PIT, KVMX_CREATE_PIT2, KVMX_GET_PIT,
	KVMX_SET_PIT, KVMX_GET_PIT2, KVMX_SET_PIT2, KVMX_REINJECT_CONTROL,
	// QEMU's kvmvapic (issue 15).
	KVMX_TPR_ACCESS_REPORTING, KVMX_SET_VAPIC_ADDR, KVMX_SET_VAPIC_ADDR,
	// QEMU's kernel-irqchip=split (issue 15); user-space MSR exits.
	KVMX_ENABLE_CAP,
	// What KVM's selftests use (issue 14): feature MSRs, the TSC offset,
	// binary stats (their fds are read and closed like the others).
	KVMX_GET_MSR_FEATURE_INDEX_LIST, KVMX_HAS_DEVICE_ATTR, KVMX_GET_DEVICE_ATTR,
	KVMX_SET_DEVICE_ATTR, KVMX_GET_STATS_FD,
	// MSR filters (KVM_CAP_X86_MSR_FILTER).
	KVMX_X86_SET_MSR_FILTER,
	// Twice: a VM with an irqchip makes the others reachable more often.
	KVMX_CREATE_IRQCHIP, KVMX_IRQ_LINE, KVMX_SET_LAPIC, KVMX_IRQFD,
};

// KVM_GET_DIRTY_LOG writes a slot's whole bitmap: room for the largest slot
// (2^24 pages), so that a random slot never has it write past the buffer.
constexpr size_t kDirtyRoom = (1 << 24) / 8;

// What any ioctl of the subset may write at its argument, at most.
constexpr size_t kArgRoom = 64 << 10;

struct Rng {
	std::mt19937_64 g;
	explicit Rng(uint64_t seed) : g(seed) {}
	uint64_t operator()() { return g(); }
	uint64_t below(uint64_t n) { return n ? g() % n : 0; }
	bool chance(unsigned pct) { return below(100) < pct; }
	// Values that find edge cases more often than uniform ones do.
	uint64_t interesting()
	{
		static const uint64_t v[] = { 0, 1, 2, 0xfff, 0x1000, 0x1001, 0x7fffffff, 0x80000000,
					      0xffffffff, 0x100000000ULL, ~0ULL, ~0ULL >> 1,
					      0xfffffffffffff000ULL, 1ULL << 47, 0x200000 };
		return chance(50) ? v[below(sizeof(v) / sizeof(v[0]))] : g();
	}
};

// Fill @buf with a mutated version of something plausible for @nr.
void fill_arg(Rng &r, std::vector<uint8_t> &buf)
{
	for (auto &b : buf)
		b = static_cast<uint8_t>(r());
	// Small counts in the first word (nmsrs, nent...) hit the copy paths.
	if (buf.size() >= 4 && r.chance(60)) {
		uint32_t n = static_cast<uint32_t>(r.chance(80) ? r.below(8) : r.interesting());
		std::memcpy(buf.data(), &n, 4);
	}
}

struct Fds {
	std::mutex m;
	std::vector<int> fds;
	int pick(Rng &r)
	{
		std::lock_guard<std::mutex> l(m);
		return fds.empty() ? -1 : fds[r.below(fds.size())];
	}
	void add(int fd)
	{
		if (fd < 0)
			return;
		std::lock_guard<std::mutex> l(m);
		fds.push_back(fd);
		if (fds.size() > 64) {
			::close(fds.front());
			fds.erase(fds.begin());
		}
	}
	void close_one(Rng &r)
	{
		std::lock_guard<std::mutex> l(m);
		if (fds.empty())
			return;
		size_t i = r.below(fds.size());
		::close(fds[i]);
		fds.erase(fds.begin() + static_cast<long>(i));
	}
};

void on_alarm(int) {}

// One thread of random calls on fds shared with the other threads.
void ioctl_worker(const char *dev, Fds &fds, uint64_t seed, uint64_t share,
		  std::atomic<uint64_t> &calls, std::vector<void *> &mems)
{
	Rng r(seed);
	kvmx::ThreadTimer timer;
	std::vector<uint8_t> buf;
	std::vector<uint8_t> dirty(kDirtyRoom);
	// Eventfds for KVM_IRQFD/KVM_IOEVENTFD; written now and then, closed
	// and replaced sometimes (an irqfd whose eventfd goes away).
	int efds[4];
	for (int &e : efds)
		e = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (uint64_t i = 0; i < share; i++) {
		unsigned what = static_cast<unsigned>(r.below(100));
		if (r.chance(3)) {
			uint64_t one = 1;
			(void)!::write(efds[r.below(4)], &one, sizeof(one));
		}
		if (r.chance(1)) {
			int &e = efds[r.below(4)];
			::close(e);
			e = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		}
		if (what < 5) {
			fds.add(::open(dev, O_RDWR | O_CLOEXEC));
		} else if (what < 8) {
			fds.close_one(r);
		} else if (what < 12) {
			// mmap of a random fd: only a vCPU fd should allow it.
			int fd = fds.pick(r);
			size_t len = 4096 * (1 + r.below(4));
			off_t off = static_cast<off_t>(4096 * r.below(3));
			void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
			if (p != MAP_FAILED) {
				volatile uint8_t x = *static_cast<uint8_t *>(p);
				(void)x;
				if (off == 0 && r.chance(50)) {
					// The run page: sync-regs requests (KVM_CAP_SYNC_REGS),
					// some with bits KVM refuses, over random register sets.
					auto *run = static_cast<kvmx_run *>(p);
					run->kvm_valid_regs = r.chance(80) ? r.below(8) : r.interesting();
					run->kvm_dirty_regs = r.chance(80) ? r.below(8) : r.interesting();
					if (r.chance(50)) {
						auto *b = reinterpret_cast<uint8_t *>(&run->s.regs);
						for (size_t k = 0; k < sizeof(run->s.regs); k++)
							if (r.chance(10))
								b[k] = static_cast<uint8_t>(r());
					}
				}
				::munmap(p, len);
			}
		} else {
			int fd = fds.pick(r);
			unsigned long nr = kIoctls[r.below(sizeof(kIoctls) / sizeof(kIoctls[0]))];
			if (r.chance(5))
				nr = 0xAE00 | r.below(256);		// any number in KVM's range
			else if (r.chance(5))
				nr = (nr & ~(0x3fffUL << 16)) | (r.below(0x3fff) << 16);	// wrong size
			buf.assign(16 + r.below(4096 + 64), 0);
			fill_arg(r, buf);
			// Room for whatever the call may write back: GET_MSRS and the
			// CPUID calls write as many entries as the (random) count says,
			// as on KVM.  Without it the fuzzer corrupts its own heap (seen).
			buf.resize(kArgRoom);
			unsigned long arg = reinterpret_cast<unsigned long>(buf.data());
			if (nr == KVMX_SET_USER_MEMORY_REGION && r.chance(70) && !mems.empty()) {
				// A plausible region: real memory, sometimes overlapping.
				kvmx_userspace_memory_region m{};
				m.slot = static_cast<uint32_t>(r.below(4));
				m.flags = (r.chance(20) ? KVMX_MEM_READONLY : 0) |
					  (r.chance(30) ? KVMX_MEM_LOG_DIRTY_PAGES : 0);
				m.guest_phys_addr = 0x100000 * r.below(8) + (r.chance(5) ? 0x800 : 0);
				m.memory_size = r.chance(10) ? 0 : 0x1000 * (1 + r.below(256));
				m.userspace_addr = reinterpret_cast<uint64_t>(mems[r.below(mems.size())]);
				std::memcpy(buf.data(), &m, sizeof(m));
			}
			if ((nr == KVMX_IRQ_LINE || nr == KVMX_IRQ_LINE_STATUS) && r.chance(80)) {
				kvmx_irq_level l{};
				l.irq = static_cast<uint32_t>(r.chance(90) ? r.below(32) : r.interesting());
				l.level = static_cast<uint32_t>(r.below(2));
				std::memcpy(buf.data(), &l, sizeof(l));
			}
			if (nr == KVMX_IRQFD && r.chance(80)) {
				kvmx_irqfd f{};
				f.fd = static_cast<uint32_t>(efds[r.below(4)]);
				f.gsi = static_cast<uint32_t>(r.below(32));
				f.flags = r.chance(30) ? KVMX_IRQFD_FLAG_DEASSIGN : 0;
				std::memcpy(buf.data(), &f, sizeof(f));
			}
			if (nr == KVMX_IOEVENTFD && r.chance(80)) {
				kvmx_ioeventfd e{};
				e.fd = efds[r.below(4)];
				e.addr = r.chance(50) ? r.below(0x10000) : 0xd0000000 + r.below(0x1000);
				e.len = static_cast<uint32_t>(1u << r.below(4)) & (r.chance(10) ? 0 : ~0u);
				e.datamatch = r.below(4);
				e.flags = static_cast<uint32_t>(r.below(8));
				std::memcpy(buf.data(), &e, sizeof(e));
			}
			if (nr == KVMX_ENABLE_CAP && r.chance(80)) {
				// Mostly the split irqchip, with pin counts near the limit,
				// or user-space MSR exits with masks around the valid bits.
				kvmx_enable_cap c{};
				static const uint32_t caps[] = {
					KVMX_CAP_SPLIT_IRQCHIP, KVMX_CAP_SPLIT_IRQCHIP, KVMX_CAP_MAX_VCPU_ID,
					KVMX_CAP_DISABLE_QUIRKS, KVMX_CAP_DISABLE_QUIRKS2,
					KVMX_CAP_MSR_PLATFORM_INFO, KVMX_CAP_ENFORCE_PV_FEATURE_CPUID,
				};
				bool msr = r.chance(30);
				c.cap = msr ? KVMX_CAP_X86_USER_SPACE_MSR
				      : r.chance(80) ? caps[r.below(sizeof(caps) / sizeof(caps[0]))]
						     : static_cast<uint32_t>(r.interesting());
				c.flags = r.chance(10) ? 1 : 0;
				if (msr)
					c.args[0] = r.chance(80) ? r.below(16) : r.interesting();
				else
					c.args[0] = r.chance(70) ? r.below(KVMX_MAX_IRQ_ROUTES + 2)
								 : r.interesting();
				std::memcpy(buf.data(), &c, sizeof(c));
			}
			if ((nr == KVMX_GET_DEVICE_ATTR || nr == KVMX_SET_DEVICE_ATTR ||
			     nr == KVMX_HAS_DEVICE_ATTR) && r.chance(80)) {
				// Mostly the TSC offset, at a good address or a bad one.
				kvmx_device_attr a{};
				a.group = r.chance(80) ? KVMX_VCPU_TSC_CTRL : static_cast<uint32_t>(r.below(4));
				a.attr = r.chance(80) ? KVMX_VCPU_TSC_OFFSET : r.interesting();
				a.addr = r.chance(80) ? reinterpret_cast<uint64_t>(buf.data() + 1024)
						      : r.interesting();
				std::memcpy(buf.data(), &a, sizeof(a));
			}
			if (nr == KVMX_X86_SET_MSR_FILTER && r.chance(80)) {
				// Ranges near the limits: flags, sizes around the largest
				// bitmap, bitmaps that are ours (sometimes too short, so
				// the copy runs past them into the rest of buf) or bad.
				kvmx_msr_filter f{};
				f.flags = r.chance(90) ? static_cast<uint32_t>(r.below(2))
						       : static_cast<uint32_t>(r.interesting());
				unsigned n = static_cast<unsigned>(r.below(KVMX_MSR_FILTER_MAX_RANGES + 1));
				for (unsigned k = 0; k < n; k++) {
					auto &rg = f.ranges[k];
					rg.flags = r.chance(90) ? static_cast<uint32_t>(r.below(4))
								: static_cast<uint32_t>(r.interesting());
					rg.nmsrs = r.chance(70) ? static_cast<uint32_t>(
						r.below(KVMX_MSR_FILTER_MAX_BITMAP_SIZE * 8 + 65))
								: static_cast<uint32_t>(r.interesting());
					rg.base = r.chance(50) ? static_cast<uint32_t>(r.below(4) << 30)
							       : static_cast<uint32_t>(r.interesting());
					rg.bitmap = r.chance(95) ? buf.data() + 4096
							 : reinterpret_cast<uint8_t *>(r.interesting());
				}
				std::memcpy(buf.data(), &f, sizeof(f));
			}
			if (nr == KVMX_GET_DIRTY_LOG && r.chance(90)) {
				kvmx_dirty_log log{};
				log.slot = static_cast<uint32_t>(r.below(6));
				log.dirty_bitmap = dirty.data();
				std::memcpy(buf.data(), &log, sizeof(log));
			}
			if (nr == KVMX_CREATE_VCPU || nr == KVMX_CHECK_EXTENSION || nr == KVMX_CREATE_VM ||
			    nr == KVMX_SET_TSS_ADDR || nr == KVMX_SET_IDENTITY_MAP_ADDR ||
			    nr == KVMX_SET_TSC_KHZ || nr == KVMX_NMI || nr == KVMX_CREATE_IRQCHIP ||
			    nr == KVMX_SET_BOOT_CPU_ID || nr == KVMX_CREATE_PIT)
				arg = r.chance(70) ? r.below(8) : r.interesting();
			else if (nr == KVMX_GET_DIRTY_LOG && r.chance(97))
				;	/* the bitmap pointer must stay ours */
			else if (r.chance(3))
				arg = r.interesting();			// a bad pointer
			if (nr == KVMX_RUN)
				timer.arm(2000);			// never stay in a guest long
			int ret = ::ioctl(fd, nr, arg);
			if (nr == KVMX_RUN)
				timer.arm(0);
			if (ret >= 0 && (nr == KVMX_CREATE_VM || nr == KVMX_CREATE_VCPU ||
					 nr == KVMX_GET_STATS_FD))
				fds.add(ret);
		}
		calls++;
	}
	for (int e : efds)
		::close(e);
}

// The work is counted in calls, not seconds: under this load the rig's
// clock runs at a fraction of its usual pace (a few rig seconds per wall
// minute), so a time bound says little about how much was tested.
int stress_ioctl(const char *dev, uint64_t total_calls, int procs, int threads, uint64_t seed)
{
	auto started = Clock::now();
	std::vector<pid_t> kids;
	int pipefd[2];
	if (::pipe(pipefd))
		return 2;
	for (int p = 0; p < procs; p++) {
		pid_t pid = ::fork();
		if (pid == 0) {
			struct sigaction sa {};
			sa.sa_handler = on_alarm;
			sigaction(SIGALRM, &sa, nullptr);
			std::vector<void *> mems;
			for (int i = 0; i < 4; i++)
				mems.push_back(::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE,
						      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
			Fds fds;
			std::atomic<uint64_t> calls{ 0 };
			uint64_t share = total_calls / static_cast<uint64_t>(procs * threads) + 1;
			std::vector<std::thread> ts;
			for (int t = 0; t < threads; t++)
				ts.emplace_back(ioctl_worker, dev, std::ref(fds),
						seed * 1000 + static_cast<uint64_t>(p * 100 + t), share,
						std::ref(calls), std::ref(mems));
			for (auto &t : ts)
				t.join();
			uint64_t n = calls;
			(void)!::write(pipefd[1], &n, sizeof(n));
			_exit(0);	// closes every fd the threads left open
		}
		kids.push_back(pid);
	}
	::close(pipefd[1]);
	// A child still there after this long (rig time) has a thread stuck in
	// a call that should have ended: KVM_RUN must return on its timer's signal.
	auto give_up = started + std::chrono::seconds(600);
	int died = 0, hung = 0;
	for (size_t left = kids.size(); left;) {
		for (pid_t &k : kids) {
			int st;
			if (k <= 0 || ::waitpid(k, &st, WNOHANG) != k)
				continue;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				died++;
			k = 0;
			left--;
		}
		if (left && Clock::now() > give_up) {
			for (pid_t &k : kids) {
				if (k <= 0)
					continue;
				::kill(k, SIGKILL);
				::waitpid(k, nullptr, 0);
				k = 0;
				hung++;
			}
			break;
		}
		::usleep(50000);
	}
	uint64_t total = 0, n;
	while (::read(pipefd[0], &n, sizeof(n)) == sizeof(n))
		total += n;
	double secs = std::chrono::duration<double>(Clock::now() - started).count();
	std::printf("stress: ioctl: %llu calls in %.1f s of rig time, %d processes x %d threads, "
		    "%d died, %d hung\n",
		    static_cast<unsigned long long>(total), secs, procs, threads, died, hung);
	return died + hung ? 1 : 0;
}

// ---- random guests ----

struct Vm {
	int sys = -1, vm = -1, vcpu = -1;
	kvmx_run *run = nullptr;
	int run_size = 0;
	~Vm()
	{
		if (run)
			::munmap(run, static_cast<size_t>(run_size));
		for (int fd : { vcpu, vm, sys })
			if (fd >= 0)
				::close(fd);
	}
};

// Random bytes, minus the ones that would leave the guest spinning with
// interrupts off: on Bochs that stops the host's timer (a Bochs limit, see
// docs), and the stress run would hang instead of testing kvmx.
void random_code(Rng &r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = static_cast<uint8_t>(r());
		if (b == 0xfa || b == 0x9d || b == 0xcf)	// cli, popf, iret
			b = 0x90;
		p[i] = b;
	}
}

// Instructions that make a guest exit, or change what the next exit sees:
// the dictionary that mutated guests are built from.  Most decode (to
// something) in every mode.
const std::vector<uint8_t> kExitingInsns[] = {
	{ 0x0f, 0xa2 },				// cpuid
	{ 0xe6, 0x10 },				// out 0x10, al
	{ 0xec },				// in al, dx
	{ 0x6e },				// outsb
	{ 0xf3, 0x6c },				// rep insb
	{ 0xf4 },				// hlt
	{ 0x0f, 0x01, 0xc1 },			// vmcall
	{ 0x0f, 0x32 },				// rdmsr
	{ 0x0f, 0x30 },				// wrmsr
	{ 0x0f, 0x20, 0xc0 },			// mov eax, cr0
	{ 0x0f, 0x22, 0xd8 },			// mov cr3, eax
	{ 0x0f, 0x22, 0xe0 },			// mov cr4, eax
	{ 0x0f, 0x21, 0xf8 },			// mov eax, dr7
	{ 0x0f, 0x01, 0xd1 },			// xsetbv
	{ 0x0f, 0x09 },				// wbinvd
	{ 0x0f, 0x31 },				// rdtsc
	{ 0xcc },				// int3
	{ 0xcd, 0x80 },				// int 0x80
	{ 0x0f, 0x0b },				// ud2
	{ 0xa3, 0x00, 0x00, 0x00, 0xd0 },	// mov [0xd0000000], eax (32-bit)
	{ 0x8b, 0x07 },				// mov eax, [edi] / ax, [bx]
	{ 0x89, 0x07 },				// mov [edi], eax
	{ 0x0f, 0x01, 0xc4 },			// vmxoff
	{ 0x0f, 0xc7, 0x30 },			// vmptrld [eax]
	{ 0x0f, 0x01, 0xf9 },			// rdtscp
	{ 0xeb, 0xfe },				// jmp $
	{ 0x40 },				// inc eax (a REX prefix in long mode)
	{ 0x66 },				// operand size prefix
};

// A program of 4-40 instructions from kExitingInsns, then up to 4 bytes
// mutated: code that reaches exit handlers with odd operands far more often
// than random bytes do.
std::vector<uint8_t> mutated_program(Rng &r)
{
	std::vector<uint8_t> code;
	for (uint64_t n = 4 + r.below(37); n; n--) {
		const auto &insn = kExitingInsns[r.below(std::size(kExitingInsns))];
		code.insert(code.end(), insn.begin(), insn.end());
	}
	for (uint64_t n = r.below(5); n; n--)
		code[r.below(code.size())] = static_cast<uint8_t>(r());
	return code;
}

// A VM with @mem as its RAM at 0 and one vCPU with its run page mapped;
// false if a step failed (errno tells why).
bool open_vm(Vm &v, const char *dev, kvmx::GuestMemory &mem)
{
	v.sys = ::open(dev, O_RDWR | O_CLOEXEC);
	v.vm = ::ioctl(v.sys, KVMX_CREATE_VM, 0);
	if (v.vm < 0)
		return false;
	kvmx_userspace_memory_region m{ 0, 0, 0, mem.size(), reinterpret_cast<uint64_t>(mem.host()) };
	if (::ioctl(v.vm, KVMX_SET_USER_MEMORY_REGION, &m))
		return false;
	v.vcpu = ::ioctl(v.vm, KVMX_CREATE_VCPU, 0);
	if (v.vcpu < 0)
		return false;
	v.run_size = ::ioctl(v.sys, KVMX_GET_VCPU_MMAP_SIZE, 0);
	void *p = ::mmap(nullptr, static_cast<size_t>(v.run_size), PROT_READ | PROT_WRITE, MAP_SHARED,
			 v.vcpu, 0);
	if (p == MAP_FAILED)
		return false;
	v.run = static_cast<kvmx_run *>(p);
	return true;
}

// open_vm(), then the vCPU in @mode running @code at 0x1000 with IF=1.
bool make_vm(Vm &v, const char *dev, kvmx::GuestMemory &mem, kvmx::CpuMode mode,
	     const std::vector<uint8_t> &code)
{
	std::memcpy(mem.at(0x1000, code.size()), code.data(), code.size());
	if (!open_vm(v, dev, mem))
		return false;
	kvmx_sregs s{};
	if (::ioctl(v.vcpu, KVMX_GET_SREGS, &s))
		return false;
	kvmx::ModeSetup ms = kvmx::setup_cpu_mode(mode, mem, s);
	if (::ioctl(v.vcpu, KVMX_SET_SREGS, &ms.sregs))
		return false;
	kvmx_regs regs{};
	regs.rip = 0x1000;
	regs.rsp = ms.stack_top;
	regs.rflags = 0x202;
	return ::ioctl(v.vcpu, KVMX_SET_REGS, &regs) == 0;
}

// Returns false if the device misbehaved (an errno it must not give, an
// undefined exit).
bool one_guest(const char *dev, Rng &r, uint64_t &exits)
{
	kvmx::ThreadTimer timer;
	Vm v;
	kvmx::GuestMemory mem(4 << 20);
	random_code(r, mem.at(0, 0x10000), 0x10000);
	// Half the guests start in random bytes, half in a mutated program.
	uint64_t rip = 0x1000 + r.below(0x100);
	if (r.chance(50)) {
		std::vector<uint8_t> code = mutated_program(r);
		std::memcpy(mem.at(rip, code.size()), code.data(), code.size());
	}
	if (!open_vm(v, dev, mem))
		return false;

	kvmx_sregs s{};
	::ioctl(v.vcpu, KVMX_GET_SREGS, &s);
	auto mode = static_cast<kvmx::CpuMode>(r.below(4));
	kvmx::ModeSetup ms = kvmx::setup_cpu_mode(mode, mem, s);
	s = ms.sregs;
	if (r.chance(20)) {
		// Random segment state: the module must refuse it or fail the entry.
		s.cs.type = static_cast<uint8_t>(r.below(16));
		s.ss.dpl = static_cast<uint8_t>(r.below(4));
		s.ds.limit = static_cast<uint32_t>(r());
		s.cr4 ^= 1ULL << r.below(24);
	}
	::ioctl(v.vcpu, KVMX_SET_SREGS, &s);
	kvmx_regs regs{};
	for (auto *q : { &regs.rax, &regs.rbx, &regs.rcx, &regs.rdx, &regs.rsi, &regs.rdi, &regs.rbp,
			 &regs.r8, &regs.r9, &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14,
			 &regs.r15 })
		*q = r.interesting();
	regs.rip = rip;
	regs.rsp = ms.stack_top;
	regs.rflags = 0x202;	// IF on, for the same reason as random_code()
	::ioctl(v.vcpu, KVMX_SET_REGS, &regs);

	for (int i = 0; i < 64; i++) {
		// A guest that loops without exits: 2 ms of rig time, which costs
		// Bochs some 2 million instructions, is plenty (kvmx's preemption
		// timer makes it exit every ~1 ms anyway).
		timer.arm(2000);
		int ret = ::ioctl(v.vcpu, KVMX_RUN, 0);
		timer.arm(0);
		exits++;
		if (ret < 0)
			return errno == EINTR || errno == EFAULT;
		switch (v.run->exit_reason) {
		case KVMX_EXIT_IO:
		case KVMX_EXIT_MMIO:
		case KVMX_EXIT_HLT:
		case KVMX_EXIT_IRQ_WINDOW_OPEN:
			continue;	// answer (with whatever is there) and go on
		case KVMX_EXIT_SHUTDOWN:
		case KVMX_EXIT_FAIL_ENTRY:
		case KVMX_EXIT_INTERNAL_ERROR:
			return true;	// defined ends
		default:
			std::printf("stress: undefined exit reason %u\n", v.run->exit_reason);
			return false;
		}
	}
	return true;
}

int stress_guests(const char *dev, int count, uint64_t seed)
{
	struct sigaction sa {};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, nullptr);
	Rng r(seed);
	int bad = 0;
	uint64_t exits = 0;
	auto started = Clock::now();
	for (int i = 0; i < count; i++) {
		if (!one_guest(dev, r, exits))
			bad++;
		if ((i + 1) % 100 == 0)
			std::fprintf(stderr, "progress: %d guests, %.1f s of rig time\n", i + 1,
				    std::chrono::duration<double>(Clock::now() - started).count());
	}
	std::printf("stress: guests: %d random guests, %llu runs, %d misbehaved\n", count,
		    static_cast<unsigned long long>(exits), bad);
	return bad ? 1 : 0;
}

// What kvmx's accounting (sysfs) says the module holds, as "name=value"
// for each counter that is not zero; "" when nothing is held (or on a
// device without that accounting).
std::string module_holds()
{
	namespace fs = std::filesystem;
	std::string held;
	std::error_code ec;
	for (const auto &f : fs::directory_iterator("/sys/class/misc/kvmx/accounting", ec)) {
		std::ifstream in(f.path());
		long v = -1;
		in >> v;
		if (v)
			held += (held.empty() ? "" : " ") + f.path().filename().string() + "=" +
				std::to_string(v);
	}
	return held;
}

// A child runs a guest (spinning, with exits) and is SIGKILLed at a random
// moment: in the middle of KVM_RUN, of an ioctl, or of its own exit.  Once
// it is reaped its fds are gone, so the module must hold nothing.
int stress_kill(const char *dev, int count, uint64_t seed)
{
	Rng r(seed);
	int leaks = 0;
	for (int i = 0; i < count; i++) {
		pid_t pid = ::fork();
		if (pid == 0) {
			Rng cr(seed + static_cast<uint64_t>(i));
			uint64_t ex = 0;
			for (;;)
				one_guest(dev, cr, ex);
		}
		// 0.5-20 ms: from opening the device to a few hundred runs in.
		::usleep(static_cast<useconds_t>(500 + r.below(20000)));
		::kill(pid, SIGKILL);
		::waitpid(pid, nullptr, 0);
		if (std::string held = module_holds(); !held.empty()) {
			std::printf("stress: kill %d: after the child was reaped kvmx still holds %s\n",
				    i, held.c_str());
			leaks++;
		}
	}
	std::printf("stress: kill: %d guests killed mid-run, %d left something behind\n", count,
		    leaks);
	return leaks ? 1 : 0;
}


// Memory pressure: guests fault in more RAM than their memory cgroup allows.
// The charge for a guest page (or an EPT table) fails: KVM_RUN must give a
// clean errno, or the OOM killer ends the process; either way nothing leaks.
// With swap on (the stress job turns it on), the cgroup may also swap up to
// 32 MiB: reclaim then takes guest pages out from under the EPT (the MMU
// notifier's invalidations and aging) and the guest faults them back in.
int stress_pressure(const char *dev, int count, uint64_t seed)
{
	const testutil::MemCgroup cg("kvmx-stress", std::to_string(16 << 20),
				     std::to_string(32 << 20), false);
	if (!cg.ok()) {
		std::printf("stress: pressure: cannot set up a memory cgroup\n");
		return 1;
	}
	const bool swap = testutil::field(testutil::get_file("/proc/meminfo"), "SwapTotal:") > 0;
	// Protected mode, flat: touch every 4 KiB from 1 MiB to the end, then HLT.
	Rng r(seed);
	int done = 0, swapped = 0, clean_err = 0, oom = 0, bad = 0;
	for (int i = 0; i < count; i++) {
		uint32_t mib = 8 + static_cast<uint32_t>(r.below(57));	// 8..64 MiB
		pid_t pid = ::fork();
		if (pid == 0) {
			if (!cg.join(::getpid()))
				::_exit(3);
			uint32_t end = mib << 20;
			std::vector<uint8_t> code = {
				0xbf, 0x00, 0x00, 0x10, 0x00,		// mov edi, 0x100000
				0x89, 0x07,				// 1: mov [edi], eax
				0x81, 0xc7, 0x00, 0x10, 0x00, 0x00,	// add edi, 0x1000
				0x81, 0xff, uint8_t(end), uint8_t(end >> 8), uint8_t(end >> 16),
				uint8_t(end >> 24),			// cmp edi, end
				0x72, 0xf0,				// jb 1b
				0xf4,					// hlt
			};
			kvmx::GuestMemory mem(uint64_t(mib) << 20, kvmx::Backing::Small);
			Vm v;
			if (!make_vm(v, dev, mem, kvmx::CpuMode::Protected, code))
				::_exit(errno == ENOMEM ? 1 : 2);
			for (int k = 0; k < 1000; k++) {
				if (::ioctl(v.vcpu, KVMX_RUN, 0) < 0)
					::_exit(errno == ENOMEM || errno == EFAULT || errno == EINTR ? 1 : 2);
				if (v.run->exit_reason == KVMX_EXIT_HLT) {
					// At HLT: did some of the guest's pages go to swap?
					::_exit(cg.stat("memory.swap.current") > 0 ? 6 : 0);
				}
				if (v.run->exit_reason != KVMX_EXIT_INTR)
					::_exit(4);
			}
			::_exit(5);
		}
		int st = 0;
		::waitpid(pid, &st, 0);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			oom++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			done++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 6)
			done++, swapped++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
			clean_err++;
		else {
			std::printf("stress: pressure: guest of %u MiB: status %#x\n", mib, st);
			bad++;
		}
	}
	std::printf("stress: pressure: %d guests of 8-64 MiB under a 16 MiB memory cgroup "
		    "(swap %s): %d ran to HLT (%d with pages in swap), %d got ENOMEM/EFAULT, "
		    "%d killed by the OOM killer, %d misbehaved\n",
		    count, swap ? "on, 32 MiB" : "off", done, swapped, clean_err, oom, bad);
	// Pressure that never bit tested nothing; with swap on, some guest must
	// have run through swap.
	return bad || clean_err + oom + swapped == 0 || (swap && !swapped) ? 1 : 0;
}

// Several VMs at once, their vCPU threads moved between CPUs every few
// milliseconds while they run; each guest counts, and every count must
// arrive in order: no state lost or replayed across a migration.
int stress_migrate(const char *dev, int msecs, int vms)
{
	// Real mode: esi counts; OUT it to port 0x10; spin a little; again.
	const std::vector<uint8_t> code = {
		0x66, 0x31, 0xf6,			// xor esi, esi
		0x66, 0x46,				// 1: inc esi
		0x66, 0x89, 0xf0,			// mov eax, esi
		0x66, 0xe7, 0x10,			// out 0x10, eax
		0x66, 0xb9, 0xd0, 0x07, 0x00, 0x00,	// mov ecx, 2000
		0xe2, 0xfe,				// 2: loop 2b
		0xeb, 0xee,				// jmp 1b
	};
	int ncpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
	std::atomic<bool> stop{ false };
	std::atomic<int> bad{ 0 };
	std::atomic<uint64_t> outs{ 0 }, moves{ 0 };
	std::vector<std::atomic<pid_t>> tids(static_cast<size_t>(vms));
	std::vector<std::thread> ts;
	for (int i = 0; i < vms; i++) {
		ts.emplace_back([&, i] {
			tids[static_cast<size_t>(i)] = static_cast<pid_t>(::gettid());
			kvmx::GuestMemory mem(1 << 20, kvmx::Backing::Small);
			Vm v;
			if (!make_vm(v, dev, mem, kvmx::CpuMode::Real, code)) {
				bad++;
				return;
			}
			uint32_t last = 0;
			while (!stop) {
				if (::ioctl(v.vcpu, KVMX_RUN, 0) < 0 && errno != EINTR) {
					bad++;
					return;
				}
				if (v.run->exit_reason != KVMX_EXIT_IO)
					continue;
				uint32_t got;
				std::memcpy(&got, reinterpret_cast<uint8_t *>(v.run) + v.run->io.data_offset, 4);
				if (got != last + 1) {
					std::printf("stress: migrate: VM %d counted %u after %u\n", i, got, last);
					bad++;
					return;
				}
				last = got;
				outs++;
			}
		});
	}
	auto end = Clock::now() + std::chrono::milliseconds(msecs);
	for (unsigned k = 0; Clock::now() < end; k++) {
		for (int i = 0; i < vms; i++) {
			pid_t tid = tids[static_cast<size_t>(i)];
			if (!tid)
				continue;
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(static_cast<int>((k + static_cast<unsigned>(i)) % static_cast<unsigned>(ncpus)), &set);
			if (::sched_setaffinity(tid, sizeof(set), &set) == 0)
				moves++;
		}
		::usleep(2000);
	}
	stop = true;
	for (auto &t : ts)
		t.join();
	std::printf("stress: migrate: %d VMs on %d CPUs for %d ms: %llu counts in order, "
		    "%llu forced moves, %d errors\n", vms, ncpus, msecs,
		    static_cast<unsigned long long>(outs.load()),
		    static_cast<unsigned long long>(moves.load()), bad.load());
	return bad || outs == 0 ? 1 : 0;
}

} // namespace

int main(int argc, char **argv)
{
	setvbuf(stdout, nullptr, _IONBF, 0);
	std::string cmd = argc > 1 ? argv[1] : "";
	if (cmd == "ioctl" && argc == 7)
		return stress_ioctl(argv[2], std::strtoull(argv[3], nullptr, 0), std::atoi(argv[4]),
				    std::atoi(argv[5]), std::strtoull(argv[6], nullptr, 0));
	if (cmd == "guests" && argc == 5)
		return stress_guests(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 0));
	if (cmd == "kill" && argc == 5)
		return stress_kill(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 0));
	if (cmd == "pressure" && argc == 5)
		return stress_pressure(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 0));
	if (cmd == "migrate" && argc == 5)
		return stress_migrate(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
	std::fprintf(stderr, "usage: kvmx-stress ioctl DEV CALLS PROCS THREADS SEED\n"
			     "       kvmx-stress guests DEV COUNT SEED\n"
			     "       kvmx-stress kill DEV COUNT SEED\n"
			     "       kvmx-stress pressure DEV COUNT SEED\n"
			     "       kvmx-stress migrate DEV MSECS VMS\n");
	return 2;
}
