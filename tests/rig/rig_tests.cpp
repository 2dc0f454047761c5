// Integration tests that run inside the rig, on /dev/kvmx and /dev/kvm.
//
// The rig job loads kvmx and kvm_intel before running this binary; a missing
// device is a failure here, not a skip.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "fd.hpp"
#include "system.hpp"

using kvmx::Fd;

namespace {

Fd open_dev(const char *path)
{
	Fd fd(::open(path, O_RDWR | O_CLOEXEC));
	EXPECT_TRUE(fd) << path << ": " << std::strerror(errno);
	return fd;
}

kvmx_vmx_info vmx_info(const Fd &sys)
{
	kvmx_vmx_info info{};
	EXPECT_EQ(::ioctl(sys.get(), KVMX_GET_VMX_INFO, &info), 0) << std::strerror(errno);
	return info;
}

unsigned online_cpus()
{
	return static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
}

// Runs "mov al, 0x42; out 0x10, al; hlt" in real mode on a KVM-API device and
// checks the guest's visible behaviour: one OUT of 0x42 to port 0x10, then HLT.
void run_tiny_real_mode_guest(const char *dev)
{
	Fd sys = open_dev(dev);
	ASSERT_TRUE(sys);
	Fd vm(::ioctl(sys.get(), KVM_CREATE_VM, 0));
	ASSERT_TRUE(vm) << "KVM_CREATE_VM on " << dev << ": " << std::strerror(errno);

	const size_t mem_size = 0x10000;
	void *mem = ::mmap(nullptr, mem_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(mem, MAP_FAILED);
	const unsigned char code[] = { 0xb0, 0x42, 0xe6, 0x10, 0xf4 };
	std::memcpy(static_cast<char *>(mem) + 0x1000, code, sizeof(code));
	kvm_userspace_memory_region region{};
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = mem_size;
	region.userspace_addr = reinterpret_cast<__u64>(mem);
	ASSERT_EQ(::ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region), 0) << std::strerror(errno);

	Fd vcpu(::ioctl(vm.get(), KVM_CREATE_VCPU, 0));
	ASSERT_TRUE(vcpu) << std::strerror(errno);
	int run_size = ::ioctl(sys.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_GT(run_size, 0);
	auto *run = static_cast<kvm_run *>(::mmap(nullptr, run_size, PROT_READ | PROT_WRITE,
						  MAP_SHARED, vcpu.get(), 0));
	ASSERT_NE(run, MAP_FAILED);

	kvm_sregs sregs{};
	ASSERT_EQ(::ioctl(vcpu.get(), KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ASSERT_EQ(::ioctl(vcpu.get(), KVM_SET_SREGS, &sregs), 0);
	kvm_regs regs{};
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	ASSERT_EQ(::ioctl(vcpu.get(), KVM_SET_REGS, &regs), 0);

	ASSERT_EQ(::ioctl(vcpu.get(), KVM_RUN, 0), 0) << std::strerror(errno);
	ASSERT_EQ(run->exit_reason, (unsigned)KVM_EXIT_IO);
	EXPECT_EQ(run->io.direction, KVM_EXIT_IO_OUT);
	EXPECT_EQ(run->io.port, 0x10);
	EXPECT_EQ(run->io.size, 1);
	EXPECT_EQ(*(reinterpret_cast<unsigned char *>(run) + run->io.data_offset), 0x42);
	ASSERT_EQ(::ioctl(vcpu.get(), KVM_RUN, 0), 0) << std::strerror(errno);
	EXPECT_EQ(run->exit_reason, (unsigned)KVM_EXIT_HLT);

	::munmap(run, run_size);
	::munmap(mem, mem_size);
}

TEST(SystemFd, ApiVersionIsKvms)
{
	Fd sys = open_dev("/dev/kvmx");
	EXPECT_EQ(::ioctl(sys.get(), KVMX_GET_API_VERSION, 0), 12);
}

TEST(SystemFd, UnknownIoctlIsENOTTY)
{
	Fd sys = open_dev("/dev/kvmx");
	errno = 0;
	EXPECT_EQ(::ioctl(sys.get(), _IO(KVMXIO, 0x7f), 0), -1);
	EXPECT_EQ(errno, ENOTTY);
	EXPECT_EQ(::ioctl(sys.get(), _IOW('z', 1, int), 0), -1);
	EXPECT_EQ(errno, ENOTTY);
}

TEST(SystemFd, CreateVmRejectsUnknownMachineType)
{
	Fd sys = open_dev("/dev/kvmx");
	errno = 0;
	EXPECT_EQ(::ioctl(sys.get(), KVMX_CREATE_VM, 1), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u) << "a refused VM left VMX on";
}

TEST(SystemFd, VmxInfoRejectsBadPointer)
{
	Fd sys = open_dev("/dev/kvmx");
	errno = 0;
	EXPECT_EQ(::ioctl(sys.get(), KVMX_GET_VMX_INFO, 8), -1);
	EXPECT_EQ(errno, EFAULT);
}

TEST(Vmx, OnOnlyWhileAVmExists)
{
	Fd sys = open_dev("/dev/kvmx");
	auto before = vmx_info(sys);
	EXPECT_EQ(before.nr_cpus_vmx_on, 0u);
	EXPECT_EQ(before.flags & KVMX_INFO_VMX_ON, 0u);
	{
		Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		ASSERT_TRUE(vm) << std::strerror(errno);
		auto during = vmx_info(sys);
		EXPECT_EQ(during.nr_cpus_vmx_on, online_cpus());
		EXPECT_EQ(during.nr_vms, 1u);
		EXPECT_NE(during.flags & KVMX_INFO_VMX_ON, 0u);
	}
	auto after = vmx_info(sys);
	EXPECT_EQ(after.nr_cpus_vmx_on, 0u);
	EXPECT_EQ(after.nr_vms, 0u);
}

TEST(Vmx, ManyVmsClosedInAnyOrder)
{
	Fd sys = open_dev("/dev/kvmx");
	std::vector<Fd> vms;
	for (int i = 0; i < 16; i++) {
		vms.emplace_back(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		ASSERT_TRUE(vms.back()) << std::strerror(errno);
	}
	EXPECT_EQ(vmx_info(sys).nr_vms, 16u);
	std::mt19937 rng(42);
	std::shuffle(vms.begin(), vms.end(), rng);
	while (!vms.empty()) {
		EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, online_cpus());
		vms.pop_back();
	}
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u);
}

TEST(Vmx, RepeatedCreateDestroy)
{
	Fd sys = open_dev("/dev/kvmx");
	for (int i = 0; i < 300; i++) {
		Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		ASSERT_TRUE(vm) << "iteration " << i << ": " << std::strerror(errno);
	}
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u);
}

TEST(Vmx, VmOutlivesItsSystemFd)
{
	Fd sys = open_dev("/dev/kvmx");
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm);
	sys.reset();
	errno = 0;
	EXPECT_EQ(::ioctl(vm.get(), KVMX_CHECK_EXTENSION, KVMX_CAP_USER_MEMORY), 1)
		<< std::strerror(errno);
	vm.reset();
	Fd sys2 = open_dev("/dev/kvmx");
	EXPECT_EQ(vmx_info(sys2).nr_vms, 0u);
}

TEST(VmFd, UnusableFromAnotherProcess)
{
	Fd sys = open_dev("/dev/kvmx");
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int r = ::ioctl(vm.get(), KVMX_CHECK_EXTENSION, 0);
		_exit(r == -1 && errno == EIO ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		<< "a forked child could use its parent's VM fd";
}

TEST(VmFd, ExitWithVmsAliveReleasesVmx)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int sys = ::open("/dev/kvmx", O_RDWR);
		for (int i = 0; i < 4; i++)
			if (::ioctl(sys, KVMX_CREATE_VM, 0) < 0)
				_exit(1);
		_exit(0);	// the kernel closes the fds
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	Fd sys = open_dev("/dev/kvmx");
	auto info = vmx_info(sys);
	EXPECT_EQ(info.nr_vms, 0u);
	EXPECT_EQ(info.nr_cpus_vmx_on, 0u);
}

// --- kvmx and kvm_intel take turns ---

TEST(Coexistence, KvmCannotCreateAVmWhileKvmxHoldsVmx)
{
	Fd sys = open_dev("/dev/kvmx");
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm);
	Fd kvm = open_dev("/dev/kvm");
	ASSERT_TRUE(kvm);
	errno = 0;
	Fd kvm_vm(::ioctl(kvm.get(), KVM_CREATE_VM, 0));
	EXPECT_FALSE(kvm_vm) << "kvm_intel entered VMX while kvmx held it";
	EXPECT_EQ(errno, EBUSY);
}

TEST(Coexistence, KvmxRefusesWhileKvmHoldsVmxAndLeavesNothingOn)
{
	Fd kvm = open_dev("/dev/kvm");
	Fd kvm_vm(::ioctl(kvm.get(), KVM_CREATE_VM, 0));
	ASSERT_TRUE(kvm_vm) << std::strerror(errno);
	Fd sys = open_dev("/dev/kvmx");
	errno = 0;
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	EXPECT_FALSE(vm);
	EXPECT_EQ(errno, EBUSY);
	auto info = vmx_info(sys);
	EXPECT_EQ(info.nr_cpus_vmx_on, 0u);
	EXPECT_EQ(info.nr_vms, 0u);
	// The library turns EBUSY into a sentence for people.
	try {
		kvmx::System("/dev/kvmx").create_vm();
		ADD_FAILURE() << "create_vm succeeded";
	} catch (const std::exception &e) {
		EXPECT_NE(std::string(e.what()).find("held by another hypervisor"), std::string::npos)
			<< e.what();
	}
	kvm_vm.reset();
	Fd vm2(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	EXPECT_TRUE(vm2) << "kvmx could not take VMX back after KVM's VM went away";
}

TEST(Coexistence, KvmRunsAGuestAfterKvmxVmsAreGone)
{
	{
		Fd sys = open_dev("/dev/kvmx");
		Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		ASSERT_TRUE(vm);
	}
	run_tiny_real_mode_guest("/dev/kvm");
}

// Run by the check job after `rmmod kvmx`: kvm_intel still runs a guest.
TEST(KvmAfterRmmod, RunsAGuest)
{
	ASSERT_NE(::access("/dev/kvmx", F_OK), 0) << "kvmx is still loaded";
	run_tiny_real_mode_guest("/dev/kvm");
}

// --- 2 CPUs (the smp rig job) ---

bool set_online(int cpu, bool on)
{
	std::ofstream f("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online");
	f << (on ? "1" : "0");
	f.close();
	return !f.fail();
}

void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0) << std::strerror(errno);
}

TEST(Smp, VmxOnEveryCpuWhileAVmExists)
{
	ASSERT_EQ(online_cpus(), 2u);
	Fd sys = open_dev("/dev/kvmx");
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm);
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 2u);
}

TEST(Smp, CpuHotplugWhileVmsExist)
{
	Fd sys = open_dev("/dev/kvmx");
	Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm);
	ASSERT_TRUE(set_online(1, false)) << "cannot offline CPU 1";
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 1u) << "offlined CPU stayed in VMX operation";
	ASSERT_TRUE(set_online(1, true)) << "cannot online CPU 1";
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 2u) << "onlined CPU did not join VMX operation";
	vm.reset();
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u);
	// A CPU that comes online with no VM around stays out of VMX operation.
	ASSERT_TRUE(set_online(1, false));
	ASSERT_TRUE(set_online(1, true));
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u);
	Fd vm2(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
	ASSERT_TRUE(vm2);
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 2u);
}

TEST(Smp, VmsCreatedAndClosedFromEitherCpu)
{
	Fd sys = open_dev("/dev/kvmx");
	for (int i = 0; i < 50; i++) {
		pin_to(i % 2);
		Fd vm(::ioctl(sys.get(), KVMX_CREATE_VM, 0));
		ASSERT_TRUE(vm) << std::strerror(errno);
		pin_to((i + 1) % 2);
	}
	pin_to(0);
	EXPECT_EQ(vmx_info(sys).nr_cpus_vmx_on, 0u);
}

} // namespace
