// kvmx's ABI must be KVM's: same ioctl numbers, capability numbers, layouts.
#include <gtest/gtest.h>
#include <linux/kvm.h>

extern "C" {
#include <linux/kvmx.h>
}

static_assert(KVMX_API_VERSION == KVM_API_VERSION);
static_assert(KVMX_GET_API_VERSION == KVM_GET_API_VERSION);
static_assert(KVMX_CREATE_VM == KVM_CREATE_VM);
static_assert(KVMX_CHECK_EXTENSION == KVM_CHECK_EXTENSION);

static_assert(KVMX_CAP_HLT == KVM_CAP_HLT);
static_assert(KVMX_CAP_USER_MEMORY == KVM_CAP_USER_MEMORY);
static_assert(KVMX_CAP_SET_TSS_ADDR == KVM_CAP_SET_TSS_ADDR);
static_assert(KVMX_CAP_EXT_CPUID == KVM_CAP_EXT_CPUID);
static_assert(KVMX_CAP_NR_VCPUS == KVM_CAP_NR_VCPUS);
static_assert(KVMX_CAP_NR_MEMSLOTS == KVM_CAP_NR_MEMSLOTS);
static_assert(KVMX_CAP_DESTROY_MEMORY_REGION_WORKS == KVM_CAP_DESTROY_MEMORY_REGION_WORKS);
static_assert(KVMX_CAP_JOIN_MEMORY_REGIONS_WORKS == KVM_CAP_JOIN_MEMORY_REGIONS_WORKS);
static_assert(KVMX_CAP_SET_IDENTITY_MAP_ADDR == KVM_CAP_SET_IDENTITY_MAP_ADDR);
static_assert(KVMX_CAP_MAX_VCPUS == KVM_CAP_MAX_VCPUS);
static_assert(KVMX_CAP_READONLY_MEM == KVM_CAP_READONLY_MEM);
static_assert(KVMX_CAP_IMMEDIATE_EXIT == KVM_CAP_IMMEDIATE_EXIT);
static_assert(KVMX_CAP_MAX_VCPU_ID == KVM_CAP_MAX_VCPU_ID);

static_assert(KVMX_GET_MSR_INDEX_LIST == KVM_GET_MSR_INDEX_LIST);
static_assert(KVMX_GET_VCPU_MMAP_SIZE == KVM_GET_VCPU_MMAP_SIZE);
static_assert(KVMX_GET_SUPPORTED_CPUID == KVM_GET_SUPPORTED_CPUID);
static_assert(KVMX_CREATE_VCPU == KVM_CREATE_VCPU);
static_assert(KVMX_SET_USER_MEMORY_REGION == KVM_SET_USER_MEMORY_REGION);
static_assert(KVMX_SET_TSS_ADDR == KVM_SET_TSS_ADDR);
static_assert(KVMX_SET_IDENTITY_MAP_ADDR == KVM_SET_IDENTITY_MAP_ADDR);
static_assert(KVMX_RUN == KVM_RUN);
static_assert(KVMX_GET_REGS == KVM_GET_REGS);
static_assert(KVMX_SET_REGS == KVM_SET_REGS);
static_assert(KVMX_GET_SREGS == KVM_GET_SREGS);
static_assert(KVMX_SET_SREGS == KVM_SET_SREGS);
static_assert(KVMX_INTERRUPT == KVM_INTERRUPT);
static_assert(KVMX_GET_MSRS == KVM_GET_MSRS);
static_assert(KVMX_SET_MSRS == KVM_SET_MSRS);
static_assert(KVMX_GET_FPU == KVM_GET_FPU);
static_assert(KVMX_SET_FPU == KVM_SET_FPU);
static_assert(KVMX_SET_CPUID2 == KVM_SET_CPUID2);
static_assert(KVMX_GET_CPUID2 == KVM_GET_CPUID2);

static_assert(KVMX_EXIT_IO == KVM_EXIT_IO && KVMX_EXIT_HLT == KVM_EXIT_HLT);
static_assert(KVMX_EXIT_MMIO == KVM_EXIT_MMIO && KVMX_EXIT_SHUTDOWN == KVM_EXIT_SHUTDOWN);
static_assert(KVMX_EXIT_FAIL_ENTRY == KVM_EXIT_FAIL_ENTRY && KVMX_EXIT_INTR == KVM_EXIT_INTR);
static_assert(KVMX_EXIT_IRQ_WINDOW_OPEN == KVM_EXIT_IRQ_WINDOW_OPEN);
static_assert(KVMX_EXIT_INTERNAL_ERROR == KVM_EXIT_INTERNAL_ERROR);
static_assert(KVMX_INTERNAL_ERROR_EMULATION == KVM_INTERNAL_ERROR_EMULATION);
static_assert(KVMX_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON ==
	      KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON);
static_assert(KVMX_MEM_READONLY == KVM_MEM_READONLY);
static_assert(KVMX_CPUID_FLAG_SIGNIFCANT_INDEX == KVM_CPUID_FLAG_SIGNIFCANT_INDEX);

#define SAME_LAYOUT(ours, theirs, field) \
	static_assert(offsetof(ours, field) == offsetof(theirs, field), #field)
static_assert(sizeof(kvmx_regs) == sizeof(kvm_regs));
SAME_LAYOUT(kvmx_regs, kvm_regs, rflags);
static_assert(sizeof(kvmx_segment) == sizeof(kvm_segment));
SAME_LAYOUT(kvmx_segment, kvm_segment, unusable);
static_assert(sizeof(kvmx_sregs) == sizeof(kvm_sregs));
SAME_LAYOUT(kvmx_sregs, kvm_sregs, gdt);
SAME_LAYOUT(kvmx_sregs, kvm_sregs, efer);
SAME_LAYOUT(kvmx_sregs, kvm_sregs, interrupt_bitmap);
static_assert(sizeof(kvmx_fpu) == sizeof(kvm_fpu));
SAME_LAYOUT(kvmx_fpu, kvm_fpu, xmm);
SAME_LAYOUT(kvmx_fpu, kvm_fpu, mxcsr);
static_assert(sizeof(kvmx_msrs) == sizeof(kvm_msrs));
static_assert(sizeof(kvmx_msr_entry) == sizeof(kvm_msr_entry));
static_assert(sizeof(kvmx_cpuid2) == sizeof(kvm_cpuid2));
static_assert(sizeof(kvmx_cpuid_entry2) == sizeof(kvm_cpuid_entry2));
static_assert(sizeof(kvmx_userspace_memory_region) == sizeof(kvm_userspace_memory_region));
SAME_LAYOUT(kvmx_userspace_memory_region, kvm_userspace_memory_region, userspace_addr);
static_assert(sizeof(kvmx_run) == sizeof(kvm_run));
SAME_LAYOUT(kvmx_run, kvm_run, exit_reason);
SAME_LAYOUT(kvmx_run, kvm_run, ready_for_interrupt_injection);
SAME_LAYOUT(kvmx_run, kvm_run, cr8);
SAME_LAYOUT(kvmx_run, kvm_run, io);
SAME_LAYOUT(kvmx_run, kvm_run, io.data_offset);
SAME_LAYOUT(kvmx_run, kvm_run, mmio.is_write);
SAME_LAYOUT(kvmx_run, kvm_run, internal.data);
SAME_LAYOUT(kvmx_run, kvm_run, fail_entry.cpu);
SAME_LAYOUT(kvmx_run, kvm_run, kvm_valid_regs);
SAME_LAYOUT(kvmx_run, kvm_run, s);

// kvmx's own ioctl must not be one of KVM's system ioctls.
TEST(Abi, KvmxOnlyIoctlIsOutsideKvmsRange)
{
	EXPECT_EQ(_IOC_TYPE(KVMX_GET_VMX_INFO), KVMIO);
	EXPECT_GE(_IOC_NR(KVMX_GET_VMX_INFO), 0xf0u);
	EXPECT_NE(KVMX_GET_VMX_INFO, (unsigned long)KVM_GET_MSR_INDEX_LIST);
	EXPECT_NE(KVMX_GET_VMX_INFO, (unsigned long)KVM_GET_SUPPORTED_CPUID);
}

TEST(Abi, VmxInfoLayoutIsStable)
{
	// Userspace and module must agree; grow it only through reserved[].
	EXPECT_EQ(sizeof(kvmx_vmx_info), 24u + 19u * 8u + 8u * 8u);
	EXPECT_EQ(offsetof(kvmx_vmx_info, basic), 32u);
}
