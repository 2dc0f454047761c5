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
