// A VM with 1 MiB of RAM and one vCPU on /dev/kvmx or /dev/kvm, through the
// raw ioctls: what the in-rig API and observability tests build on.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <thread>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_modes.hpp"
#include "fd.hpp"
#include "guest_memory.hpp"

extern "C" {
#include <linux/kvmx.h>
}

namespace rig {

using kvmx::Fd;

// An ioctl's errno, or 0 when it succeeds, so a test can compare the two
// devices' answers with one EXPECT_EQ.
inline int ioctl_errno(int fd, unsigned long req, const void *arg)
{
	return ::ioctl(fd, req, arg) ? errno : 0;
}

struct Env {
	Fd sys, vm;
	std::unique_ptr<kvmx::GuestMemory> mem;
	Fd vcpu;
	kvmx_run *run = nullptr;
	int run_size = 0;

	// Throws when the environment can't be built: the test fails cleanly.
	explicit Env(const std::string &dev, uint64_t mem_size = 1 << 20)
	{
		sys.reset(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
		if (!sys)
			throw std::runtime_error(dev + ": " + std::strerror(errno));
		vm.reset(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		if (!vm)
			throw std::runtime_error(std::string("KVM_CREATE_VM: ") + std::strerror(errno));
		mem = std::make_unique<kvmx::GuestMemory>(mem_size);
		if (set_region(0, 0, mem_size, mem->host()))
			throw std::runtime_error("KVM_SET_USER_MEMORY_REGION failed");
		run_size = ::ioctl(sys.get(), KVMX_GET_VCPU_MMAP_SIZE, 0);
	}
	~Env()
	{
		if (run)
			::munmap(run, run_size);
	}
	int set_region(uint32_t slot, uint64_t gpa, uint64_t size, void *host, uint32_t flags = 0)
	{
		kvmx_userspace_memory_region r{ slot, flags, gpa, size,
						reinterpret_cast<uint64_t>(host) };
		return ::ioctl(vm.get(), KVMX_SET_USER_MEMORY_REGION, &r) ? errno : 0;
	}
	void make_vcpu()
	{
		vcpu.reset(::ioctl(vm.get(), KVMX_CREATE_VCPU, 0));
		if (!vcpu)
			throw std::runtime_error(std::string("KVM_CREATE_VCPU: ") + std::strerror(errno));
		void *p = ::mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0);
		if (p == MAP_FAILED)
			throw std::runtime_error("cannot map the run page");
		run = static_cast<kvmx_run *>(p);
	}
	// Real mode at 0x1000 with @code there.
	void real_mode(std::vector<uint8_t> code)
	{
		make_vcpu();
		mem->write(0x1000, code);
		kvmx_sregs s{};
		if (::ioctl(vcpu.get(), KVMX_GET_SREGS, &s))
			throw std::runtime_error("KVM_GET_SREGS failed");
		s.cs.base = 0;
		s.cs.selector = 0;
		if (::ioctl(vcpu.get(), KVMX_SET_SREGS, &s))
			throw std::runtime_error("KVM_SET_SREGS failed");
		kvmx_regs r{};
		r.rip = 0x1000;
		r.rflags = 2;
		r.rsp = 0x800;
		if (::ioctl(vcpu.get(), KVMX_SET_REGS, &r))
			throw std::runtime_error("KVM_SET_REGS failed");
	}
	// Long mode at 0x1000 with @code there, as `kvmx run --mode long` sets
	// it up (flat segments, 4 GiB identity-mapped, in the top 64 KiB of RAM).
	void long_mode(std::vector<uint8_t> code)
	{
		make_vcpu();
		mem->write(0x1000, code);
		kvmx_sregs s{};
		if (::ioctl(vcpu.get(), KVMX_GET_SREGS, &s))
			throw std::runtime_error("KVM_GET_SREGS failed");
		auto m = kvmx::setup_cpu_mode(kvmx::CpuMode::Long, *mem, s);
		if (::ioctl(vcpu.get(), KVMX_SET_SREGS, &m.sregs))
			throw std::runtime_error("KVM_SET_SREGS failed");
		kvmx_regs r{};
		r.rip = 0x1000;
		r.rsp = m.stack_top;
		r.rflags = 2;
		if (::ioctl(vcpu.get(), KVMX_SET_REGS, &r))
			throw std::runtime_error("KVM_SET_REGS failed");
	}
	int run_once() { return ::ioctl(vcpu.get(), KVMX_RUN, 0) ? errno : 0; }
	kvmx_regs regs()
	{
		kvmx_regs r{};
		EXPECT_EQ(::ioctl(vcpu.get(), KVMX_GET_REGS, &r), 0);
		return r;
	}
};

// A kvmx_msrs with room for @n entries (KVM_GET/SET_MSRS), 8-byte aligned.
class Msrs {
public:
	explicit Msrs(uint32_t n)
		: buf_((sizeof(kvmx_msrs) + n * sizeof(kvmx_msr_entry) + 7) / 8)
	{
		get()->nmsrs = n;
	}
	kvmx_msrs *get() { return reinterpret_cast<kvmx_msrs *>(buf_.data()); }
	kvmx_msrs *operator->() { return get(); }

private:
	std::vector<uint64_t> buf_;
};

inline void on_kick(int) {}

// KVM_RUN of a guest that doesn't leave by itself: a thread sends SIGUSR1
// every 100 ms (at most ~10 s) until the run comes back; its errno is
// returned.  @meanwhile, if given, is done by that thread 100 ms into the
// run, before the first signal.
inline int run_kicked(Env &e, const std::function<void()> &meanwhile = nullptr)
{
	struct sigaction sa {};
	sa.sa_handler = on_kick;
	sigaction(SIGUSR1, &sa, nullptr);
	pthread_t self = pthread_self();
	std::atomic<bool> done{ false };
	std::thread kicker([self, &done, &meanwhile] {
		if (meanwhile) {
			usleep(100000);
			meanwhile();
		}
		for (int i = 0; i < 100 && !done; i++) {
			usleep(100000);
			if (!done)
				pthread_kill(self, SIGUSR1);
		}
	});
	int r = e.run_once();
	done = true;
	kicker.join();
	return r;
}

// KVM_RUN on vCPU fd @fd from this thread; if it has not come back after
// @ms, a SIGUSR1 every 50 ms brings it back (EINTR).  Returns KVM_RUN's errno.
inline int run_with_deadline(int fd, int ms)
{
	struct sigaction sa {};
	sa.sa_handler = on_kick;
	sigaction(SIGUSR1, &sa, nullptr);
	pthread_t self = pthread_self();
	std::mutex m;
	std::condition_variable cv;
	bool done = false;
	std::thread kicker([&] {
		std::unique_lock<std::mutex> l(m);
		if (cv.wait_for(l, std::chrono::milliseconds(ms), [&] { return done; }))
			return;
		while (!done) {
			pthread_kill(self, SIGUSR1);
			cv.wait_for(l, std::chrono::milliseconds(50), [&] { return done; });
		}
	});
	int r = ::ioctl(fd, KVMX_RUN, 0) ? errno : 0;
	{
		std::lock_guard<std::mutex> l(m);
		done = true;
	}
	cv.notify_all();
	kicker.join();
	return r;
}

} // namespace rig
