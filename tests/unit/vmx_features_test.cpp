// Capability checks and control selection, fed with recorded MSR values.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vmx_report.hpp"

extern "C" {
#include "vmx_arch.h"
#include "vmx_features.h"
}

namespace {

// Recorded in the rig: Bochs 2.7, cpu model corei7_skylake_x (kvmx info).
kvmx_vmx_info bochs_skylake_x()
{
	kvmx_vmx_info c{};
	c.cpuid1_ecx = 0xfffa3223;
	c.feature_control = 0x5;
	c.basic = 0x00d810000000002bULL;
	c.pinbased = 0x0000007f00000016ULL;
	c.procbased = 0xfff9fffe0401e172ULL;
	c.exit = 0x01ffefff00036dffULL;
	c.entry = 0x0003f3ff000011ffULL;
	c.misc = 0x00000000000401e7ULL;
	c.cr0_fixed0 = 0x80000021ULL;
	c.cr0_fixed1 = 0xffffffffULL;
	c.cr4_fixed0 = 0x2000ULL;
	c.cr4_fixed1 = 0x3767ffULL;
	c.vmcs_enum = 0x2eULL;
	c.procbased2 = 0x02177fff00000000ULL;
	c.ept_vpid_cap = 0x00000f0106334141ULL;
	c.true_pinbased = 0x0000007f00000016ULL;
	c.true_procbased = 0xfff9fffe04006172ULL;
	c.true_exit = 0x01ffefff00036dfbULL;
	c.true_entry = 0x0003f3ff000011fbULL;
	return c;
}

std::vector<std::string> missing(const kvmx_vmx_info &c)
{
	return kvmx::missing_vmx_features(c);
}

bool mentions(const std::vector<std::string> &v, const std::string &s)
{
	for (auto &m : v)
		if (m.find(s) != std::string::npos)
			return true;
	return false;
}

TEST(AdjustControls, MustBeOneBitsAreAlwaysSet)
{
	uint32_t miss = 1;
	// allowed-0 (low) = 0x16, allowed-1 (high) = 0xff
	EXPECT_EQ(vmx_adjust_controls(0x000000ff00000016ULL, 0x1, 0, &miss), 0x17u);
	EXPECT_EQ(miss, 0u);
}

TEST(AdjustControls, OptionalBitsDroppedWhenNotAllowed)
{
	uint32_t miss = 1;
	EXPECT_EQ(vmx_adjust_controls(0x0000000f00000000ULL, 0x1, 0x30, &miss), 0x1u);
	EXPECT_EQ(miss, 0u);
}

TEST(AdjustControls, RequiredBitsNotAllowedAreReported)
{
	uint32_t miss = 0;
	vmx_adjust_controls(0x0000000f00000000ULL, 0x11, 0, &miss);
	EXPECT_EQ(miss, 0x10u);
}

TEST(CheckFeatures, BochsSkylakeHasEverything)
{
	auto c = bochs_skylake_x();
	vmx_controls ctls{};
	ASSERT_EQ(vmx_check_features(&c, &ctls, nullptr, nullptr), 0) << missing(c).at(0);
	EXPECT_TRUE(ctls.proc2 & PROC2_ENABLE_EPT);
	EXPECT_TRUE(ctls.proc2 & PROC2_UNRESTRICTED_GUEST);
	EXPECT_TRUE(ctls.vpid);
	EXPECT_TRUE(ctls.proc2 & PROC2_ENABLE_VPID);
	EXPECT_TRUE(ctls.ept_2m);
	EXPECT_TRUE(ctls.ept_ad) << "Bochs reports EPT accessed and dirty flags (bit 21)";
	EXPECT_TRUE(ctls.proc & PROC_HLT_EXITING);
	EXPECT_TRUE(ctls.pin & PIN_EXT_INTR_EXITING);
	EXPECT_TRUE(ctls.exit & EXIT_CTL_HOST_ADDR_SPACE_SIZE);
	EXPECT_TRUE(ctls.entry & ENTRY_CTL_LOAD_EFER);
	// TRUE controls let kvmx run without CR3 exiting under EPT ...
	EXPECT_FALSE(ctls.proc & PROC_CR3_LOAD_EXITING);
	// ... and the per-vCPU dynamic bits are not part of the static controls.
	EXPECT_FALSE(ctls.proc & PROC_INTR_WINDOW_EXITING);
	EXPECT_FALSE(ctls.entry & ENTRY_CTL_IA32E_MODE);
	// The must-be-one bits of the capability MSRs are honoured.
	EXPECT_EQ(ctls.pin & 0x16u, 0x16u);
}

TEST(CheckFeatures, WithoutTrueControlsTheDefault1BitsStay)
{
	auto c = bochs_skylake_x();
	c.basic &= ~VMXCAP_BASIC_TRUE_CTLS;
	vmx_controls ctls{};
	ASSERT_EQ(vmx_check_features(&c, &ctls, nullptr, nullptr), 0);
	EXPECT_TRUE(ctls.proc & PROC_CR3_LOAD_EXITING);
}

TEST(CheckFeatures, NoVmxCpuidIsOneClearReason)
{
	auto c = bochs_skylake_x();
	c.cpuid1_ecx &= ~CPUID1_ECX_VMX;
	auto m = missing(c);
	ASSERT_EQ(m.size(), 1u);
	EXPECT_NE(m[0].find("no VT-x"), std::string::npos);
}

TEST(CheckFeatures, FeatureControlMustBeLockedWithVmxOutsideSmx)
{
	auto c = bochs_skylake_x();
	c.feature_control = 0;
	auto m = missing(c);
	EXPECT_EQ(m.size(), 2u);
	EXPECT_TRUE(mentions(m, "not locked"));
	EXPECT_TRUE(mentions(m, "outside SMX"));
}

TEST(CheckFeatures, EachMissingRequiredControlIsNamed)
{
	auto c = bochs_skylake_x();
	c.procbased2 &= ~((uint64_t)PROC2_UNRESTRICTED_GUEST << 32);
	c.true_procbased &= ~((uint64_t)PROC_HLT_EXITING << 32);
	auto m = missing(c);
	EXPECT_EQ(m.size(), 2u);
	EXPECT_TRUE(mentions(m, "'unrestricted guest' (bit 7)"));
	EXPECT_TRUE(mentions(m, "'HLT exiting' (bit 7)"));
}

TEST(CheckFeatures, EptNeedsWriteBackAndInvept)
{
	auto c = bochs_skylake_x();
	c.ept_vpid_cap &= ~(EPT_CAP_MT_WB | EPT_CAP_INVEPT);
	auto m = missing(c);
	EXPECT_EQ(m.size(), 2u);
	EXPECT_TRUE(mentions(m, "write-back"));
	EXPECT_TRUE(mentions(m, "INVEPT"));
}

TEST(CheckFeatures, VpidIsDroppedWithoutInvvpid)
{
	auto c = bochs_skylake_x();
	c.ept_vpid_cap &= ~VPID_CAP_INVVPID;
	vmx_controls ctls{};
	ASSERT_EQ(vmx_check_features(&c, &ctls, nullptr, nullptr), 0);
	EXPECT_FALSE(ctls.vpid);
	EXPECT_FALSE(ctls.proc2 & PROC2_ENABLE_VPID);
}

TEST(CheckFeatures, VmcsMustBeWriteBackAndFitAPage)
{
	auto c = bochs_skylake_x();
	c.basic = (c.basic & ~(0xfULL << 50) & ~(0x1fffULL << 32)) | (0x1800ULL << 32);
	auto m = missing(c);
	EXPECT_TRUE(mentions(m, "memory type"));
	EXPECT_TRUE(mentions(m, "region size"));
}

TEST(FixedBits, Cr0AndCr4)
{
	EXPECT_TRUE(vmx_fixed_bits_ok(0x80050033, 0x80000021, 0xffffffff));
	EXPECT_FALSE(vmx_fixed_bits_ok(0x80050032, 0x80000021, 0xffffffff));	// PE clear
	EXPECT_FALSE(vmx_fixed_bits_ok(0x00002000 | (1ULL << 40), 0x2000, 0xffffffff));
}

TEST(Describe, NamesCapabilitiesInWords)
{
	auto s = kvmx::describe_vmx(bochs_skylake_x());
	EXPECT_NE(s.find("VMCS revision id       0x2b"), std::string::npos);
	EXPECT_NE(s.find("write-back"), std::string::npos);
	EXPECT_NE(s.find("unrestricted guest"), std::string::npos);
	EXPECT_NE(s.find("EPT 2 MiB pages"), std::string::npos);
	EXPECT_NE(s.find("kvmx can run here"), std::string::npos);
}

} // namespace
