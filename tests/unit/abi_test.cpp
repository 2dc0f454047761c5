// kvmx's ABI must be KVM's: same ioctl numbers, capability numbers, layouts.
#include <gtest/gtest.h>
#include <linux/kvm.h>

extern "C" {
#include <linux/kvmx.h>
}

// The static assertions live in abi_check.c: they must be compiled as C.
// Debian's <linux/kvm.h> declares flexible arrays through a macro that makes
// them 4 bytes longer under C++, so C++ would compare against the wrong
// ioctl numbers (KVM_GET_MSRS, KVM_SET_CPUID2, ...).
extern "C" unsigned long abi_kvm_set_cpuid2_number(void);

TEST(Abi, CheckedInCAgainstLinuxKvmH)
{
	EXPECT_EQ(abi_kvm_set_cpuid2_number(), (unsigned long)KVMX_SET_CPUID2);
}

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
