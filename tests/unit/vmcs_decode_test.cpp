// The VMCS field table of `kvmx vmcs` and its decoder, on values built by
// hand from the SDM (Vol. 3C chapters 25 and 28, Vol. 3D appendices B and C).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "vmcs_decode.hpp"

extern "C" {
#include "vmcs_dump_fields.h"
}

namespace {

using kvmx::VmcsField;

std::string dump(std::vector<VmcsField> fields)
{
	return kvmx::format_vmcs(fields);
}

// The line that starts with "  <name> ", or "" if there is none.
std::string line_of(const std::string &text, const std::string &name)
{
	size_t pos = text.find("  " + name + " ");
	if (pos == std::string::npos)
		return {};
	return text.substr(pos, text.find('\n', pos) - pos);
}

TEST(VmcsDecode, FieldNames)
{
	EXPECT_EQ(kvmx::vmcs_field_name(0x681e), "GUEST_RIP");
	EXPECT_EQ(kvmx::vmcs_field_name(0x4402), "VM_EXIT_REASON");
	EXPECT_EQ(kvmx::vmcs_field_name(0x201a), "EPT_POINTER");
	EXPECT_EQ(kvmx::vmcs_field_name(0x4000), "PIN_BASED_VM_EXEC_CONTROL");
	EXPECT_EQ(kvmx::vmcs_field_name(0x0000), "VIRTUAL_PROCESSOR_ID");
	EXPECT_EQ(kvmx::vmcs_field_name(0x6400), "EXIT_QUALIFICATION");
	EXPECT_EQ(kvmx::vmcs_field_name(0x201b), "");	// the "high" access type
	EXPECT_EQ(kvmx::vmcs_field_name(0x7fff), "");
}

TEST(VmcsDecode, ExitReasonNames)
{
	EXPECT_EQ(kvmx::vmx_exit_reason_name(0), "EXCEPTION_NMI");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(10), "CPUID");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(12), "HLT");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(28), "CR_ACCESS");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(30), "IO_INSTRUCTION");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(33), "INVALID_STATE");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(48), "EPT_VIOLATION");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(49), "EPT_MISCONFIG");
	EXPECT_EQ(kvmx::vmx_exit_reason_name(35), "");	// reserved
	EXPECT_EQ(kvmx::vmx_exit_reason_name(1000), "");
}

// Every field the module dumps has a name, once, and fits the bound.
TEST(VmcsDumpFields, AllNamedNoDuplicates)
{
	std::set<uint32_t> seen;
	for (uint32_t e : kvmx_vmcs_dump_fields) {
		EXPECT_NE(kvmx::vmcs_field_name(e), "") << std::hex << e;
		EXPECT_TRUE(seen.insert(e).second) << "duplicate " << std::hex << e;
		EXPECT_EQ(e & 1, 0u) << "high access type " << std::hex << e;
	}
	EXPECT_LE(ARRAY_SIZE(kvmx_vmcs_dump_fields), size_t(KVMX_VMCS_DUMP_MAX));
	// Read before anything a failed VMREAD (error 12) would overwrite it with.
	EXPECT_EQ(kvmx_vmcs_dump_fields[0], uint32_t(VMCS_VM_INSTRUCTION_ERROR));
}

// The one field table: each encoding and each name once, full access
// type only, and exactly one FIRST row.
TEST(VmcsFieldTable, EncodingsAndNamesUnique)
{
	struct Row {
		uint32_t enc;
		std::string name;
		bool first;
	};
	const std::vector<Row> rows = {
#define VMCS_FIELD_FIRST(id, enc, name) { enc, name, true },
#define VMCS_FIELD_DUMP(id, enc, name) { enc, name, false },
#define VMCS_FIELD_NAME VMCS_FIELD_DUMP
#include "vmcs_field_table.h"
	};
	std::set<uint32_t> encs;
	std::set<std::string> names;
	int firsts = 0;
	for (const auto &r : rows) {
		EXPECT_TRUE(encs.insert(r.enc).second) << "duplicate " << std::hex << r.enc;
		EXPECT_TRUE(names.insert(r.name).second) << "duplicate " << r.name;
		EXPECT_EQ(r.enc & 1, 0u) << r.name;
		EXPECT_EQ(kvmx::vmcs_field_name(r.enc), r.name);
		firsts += r.first;
	}
	EXPECT_EQ(firsts, 1);
	EXPECT_GT(rows.size(), ARRAY_SIZE(kvmx_vmcs_dump_fields));
}

TEST(VmxExitReasons, NumbersAndNamesUnique)
{
	std::set<uint32_t> nrs;
	std::set<std::string> names;
#define VMX_EXIT_REASON(id, nr, name)                                  \
	EXPECT_TRUE(nrs.insert(nr).second) << #id;                     \
	EXPECT_TRUE(names.insert(name).second) << #id;                 \
	EXPECT_EQ(kvmx::vmx_exit_reason_name(EXIT_REASON_##id), name);
#include "vmx_exit_reasons.h"
	EXPECT_EQ(uint32_t(EXIT_REASON_MAX), *nrs.rbegin() + 1);
}

// A dump of every field in the table puts each on a line of its own.
TEST(VmcsDumpFields, EveryFieldPrinted)
{
	std::vector<VmcsField> f;
	for (uint32_t e : kvmx_vmcs_dump_fields)
		f.push_back({ e, 0 });
	std::string s = dump(f);
	for (uint32_t e : kvmx_vmcs_dump_fields) {
		std::string name(kvmx::vmcs_field_name(e));
		// Segment and descriptor-table fields share one line per register.
		if (name.find("_SELECTOR") != std::string::npos && name.starts_with("GUEST_"))
			continue;
		if (name.starts_with("GUEST_") && (name.ends_with("_BASE") || name.ends_with("_LIMIT") ||
						   name.ends_with("_AR_BYTES")))
			continue;
		EXPECT_NE(line_of(s, name), "") << name;
	}
	EXPECT_EQ(s.find("Other fields"), std::string::npos);
}

TEST(VmcsDecode, SectionsInSdmOrderAndAbsentFieldsSkipped)
{
	std::string s = dump({ { 0x4402, 12 }, { 0x4000, 0x16 }, { 0x6c16, 0xffffffff81000000 },
			       { 0x681e, 0x1000 } });
	size_t guest = s.find("Guest-state area:\n"), host = s.find("Host-state area:\n"),
	       exec = s.find("VM-execution control fields:\n"),
	       info = s.find("VM-exit information fields:\n");
	ASSERT_NE(guest, std::string::npos);
	ASSERT_NE(host, std::string::npos);
	ASSERT_NE(exec, std::string::npos);
	ASSERT_NE(info, std::string::npos);
	EXPECT_LT(guest, host);
	EXPECT_LT(host, exec);
	EXPECT_LT(exec, info);
	EXPECT_EQ(s.find("VM-exit control fields"), std::string::npos);
	EXPECT_EQ(s.find("VM-entry control fields"), std::string::npos);
	EXPECT_EQ(s.find("GUEST_RSP"), std::string::npos);
	EXPECT_EQ(line_of(s, "GUEST_RIP").find("0x0000000000001000"), 32u);
	EXPECT_EQ(line_of(s, "VM_EXIT_REASON"), "  VM_EXIT_REASON                0x0000000c [HLT]");
}

TEST(VmcsDecode, NameColumnAligned)
{
	std::string s = dump({ { 0x681e, 0x1000 }, { 0x4000, 0x16 }, { 0x0000, 1 } });
	size_t col = line_of(s, "GUEST_RIP").find("0x");
	EXPECT_EQ(line_of(s, "PIN_BASED_VM_EXEC_CONTROL").find("0x"), col);
	EXPECT_EQ(line_of(s, "VIRTUAL_PROCESSOR_ID").find("0x"), col);
	EXPECT_EQ(line_of(s, "VIRTUAL_PROCESSOR_ID").substr(col), "0x0001");
}

TEST(VmcsDecode, PinBasedControls)
{
	// External-interrupt exiting, NMI exiting, virtual NMIs, posted
	// interrupts on top of the default1 bits 1, 2, 4 (SDM A.3.1).
	std::string s = dump({ { 0x4000, 0x16 | 0x01 | 0x08 | 0x20 | 0x80 } });
	EXPECT_EQ(line_of(s, "PIN_BASED_VM_EXEC_CONTROL"),
		  "  PIN_BASED_VM_EXEC_CONTROL     0x000000bf "
		  "[EXT_INTR_EXITING NMI_EXITING VIRTUAL_NMIS POSTED_INTR]");
	// Only default1 bits: nothing named.
	s = dump({ { 0x4000, 0x16 } });
	EXPECT_EQ(line_of(s, "PIN_BASED_VM_EXEC_CONTROL"), "  PIN_BASED_VM_EXEC_CONTROL     0x00000016");
}

TEST(VmcsDecode, ProcessorBasedControls)
{
	std::string s = dump({ { 0x4002, 0x8401e1f2 | 0x80 | 0x02000000 }, { 0x401e, 0xa2 } });
	std::string proc = line_of(s, "CPU_BASED_VM_EXEC_CONTROL");
	EXPECT_NE(proc.find("HLT_EXITING"), std::string::npos) << proc;
	EXPECT_NE(proc.find("USE_IO_BITMAPS"), std::string::npos) << proc;
	EXPECT_NE(proc.find("ACTIVATE_SECONDARY_CONTROLS"), std::string::npos) << proc;
	EXPECT_NE(proc.find("CR3_LOAD_EXITING"), std::string::npos) << proc;
	EXPECT_EQ(proc.find("bit"), std::string::npos) << proc;
	EXPECT_EQ(line_of(s, "SECONDARY_VM_EXEC_CONTROL"),
		  "  SECONDARY_VM_EXEC_CONTROL     0x000000a2 [ENABLE_EPT ENABLE_VPID UNRESTRICTED_GUEST]");
}

TEST(VmcsDecode, ExitAndEntryControls)
{
	std::string s = dump({ { 0x400c, 0x00036dff | (1 << 9) | (1 << 15) | (1 << 21) },
			       { 0x4012, 0x000011ff | (1 << 9) | (1 << 15) } });
	EXPECT_EQ(line_of(s, "VM_EXIT_CONTROLS"),
		  "  VM_EXIT_CONTROLS              0x0023efff "
		  "[SAVE_DEBUG_CONTROLS HOST_ADDR_SPACE_SIZE ACK_INTR_ON_EXIT LOAD_IA32_EFER]");
	EXPECT_EQ(line_of(s, "VM_ENTRY_CONTROLS"),
		  "  VM_ENTRY_CONTROLS             0x000093ff "
		  "[LOAD_DEBUG_CONTROLS IA32E_MODE LOAD_IA32_EFER]");
}

TEST(VmcsDecode, EptPointer)
{
	// WB (6), page-walk length 4 (3 in bits 5:3), A/D flags (bit 6).
	std::string s = dump({ { 0x201a, 0x1234505e } });
	EXPECT_EQ(line_of(s, "EPT_POINTER"),
		  "  EPT_POINTER                   0x000000001234505e [WB walk=4 AD pml4=0x12345000]");
}

TEST(VmcsDecode, EptViolationQualification)
{
	// 0x181: bit 0 data read, bits 3-5 clear (not present), bit 7 linear
	// address valid, bit 8 access to the translated address (Table 28-7).
	std::string s = dump({ { 0x4402, 48 }, { 0x6400, 0x181 }, { 0x2400, 0xfee00000 } });
	EXPECT_EQ(line_of(s, "VM_EXIT_REASON"), "  VM_EXIT_REASON                0x00000030 [EPT_VIOLATION]");
	EXPECT_EQ(line_of(s, "EXIT_QUALIFICATION"),
		  "  EXIT_QUALIFICATION            0x0000000000000181 "
		  "[ACC_READ perm=--- GLA_VALID GLA_TRANSLATED]");
	EXPECT_NE(line_of(s, "GUEST_PHYSICAL_ADDRESS"), "");

	// A write to a read/execute page during a guest page walk, NMI unblocking.
	s = dump({ { 0x4402, 48 }, { 0x6400, 0x102a | 0x80 } });
	EXPECT_NE(line_of(s, "EXIT_QUALIFICATION")
			  .find("[ACC_WRITE perm=R-X GLA_VALID GLA_PAGE_WALK NMI_UNBLOCKING]"),
		  std::string::npos)
		<< s;
}

TEST(VmcsDecode, CrAccessQualification)
{
	// mov %rax,%cr0: CR 0, access type 0 (MOV to CR), register 0 (RAX).
	std::string s = dump({ { 0x4402, 28 }, { 0x6400, 0x0 } });
	EXPECT_EQ(line_of(s, "EXIT_QUALIFICATION"),
		  "  EXIT_QUALIFICATION            0x0000000000000000 [MOV_TO_CR CR0 reg=RAX]");
	// mov %cr3,%r9: CR 3, type 1, register 9.
	s = dump({ { 0x4402, 28 }, { 0x6400, 0x913 } });
	EXPECT_NE(line_of(s, "EXIT_QUALIFICATION").find("[MOV_FROM_CR CR3 reg=R9]"), std::string::npos);
	// lmsw %ax with ax = 1: type 3, register operand, data in bits 31:16.
	s = dump({ { 0x4402, 28 }, { 0x6400, 0x10030 } });
	EXPECT_NE(line_of(s, "EXIT_QUALIFICATION").find("[LMSW CR0 reg data=0x0001]"), std::string::npos);
}

TEST(VmcsDecode, IoQualification)
{
	// out %al,$0x80: size 1 (0), OUT, not string, immediate (bit 6), port 0x80.
	std::string s = dump({ { 0x4402, 30 }, { 0x6400, 0x00800040 } });
	EXPECT_EQ(line_of(s, "EXIT_QUALIFICATION"),
		  "  EXIT_QUALIFICATION            0x0000000000800040 [OUT size=1 port=0x0080 IMM]");
	// rep insw (%dx): size 2, IN, string, REP, port 0x1f0 in DX.
	s = dump({ { 0x4402, 30 }, { 0x6400, 0x01f00039 } });
	EXPECT_NE(line_of(s, "EXIT_QUALIFICATION").find("[IN size=2 port=0x01f0 STRING REP DX]"),
		  std::string::npos);
}

TEST(VmcsDecode, FailedEntry)
{
	std::string s = dump({ { 0x4402, 0x80000021 }, { 0x6400, 0 }, { 0x4400, 0 } });
	EXPECT_EQ(line_of(s, "VM_EXIT_REASON"),
		  "  VM_EXIT_REASON                0x80000021 "
		  "[INVALID_STATE ENTRY_FAILURE (invalid guest state)]");
	// The qualification of a failed entry is not a CR/I/O/EPT one.
	EXPECT_EQ(line_of(s, "EXIT_QUALIFICATION"), "  EXIT_QUALIFICATION            0x0000000000000000");
}

TEST(VmcsDecode, OtherReasonsRawQualification)
{
	std::string s = dump({ { 0x4402, 10 }, { 0x6400, 0x181 } });
	EXPECT_EQ(line_of(s, "EXIT_QUALIFICATION"), "  EXIT_QUALIFICATION            0x0000000000000181");
}

TEST(VmcsDecode, InterruptionInfo)
{
	// #PF, hardware exception, error code delivered, valid.
	std::string s = dump({ { 0x4404, 0x80000b0e }, { 0x4408, 0x80000020 }, { 0x4016, 0x0 } });
	EXPECT_NE(line_of(s, "VM_EXIT_INTR_INFO")
			  .find("[vector=0x0e #PF HARD_EXCEPTION ERROR_CODE_VALID VALID]"),
		  std::string::npos)
		<< s;
	EXPECT_NE(line_of(s, "IDT_VECTORING_INFO_FIELD").find("[vector=0x20 EXT_INTR VALID]"),
		  std::string::npos)
		<< s;
	EXPECT_NE(line_of(s, "VM_ENTRY_INTR_INFO_FIELD").find("[not valid]"), std::string::npos) << s;
}

TEST(VmcsDecode, VmInstructionError)
{
	std::string s = dump({ { 0x4400, 7 } });
	EXPECT_EQ(line_of(s, "VM_INSTRUCTION_ERROR"),
		  "  VM_INSTRUCTION_ERROR          0x00000007 [7: VM entry with invalid control field(s)]");
}

TEST(VmcsDecode, GuestSegmentsAndNonRegisterState)
{
	std::string s = dump({ { 0x0802, 0x8 }, { 0x6808, 0 }, { 0x4802, 0xffffffff }, { 0x4816, 0xa09b },
			       { 0x0806, 0 }, { 0x481a, 0x10000 }, { 0x4826, 1 }, { 0x4824, 0x9 },
			       { 0x6816, 0x5000 }, { 0x4810, 0x27 } });
	EXPECT_EQ(line_of(s, "CS"),
		  "  CS                            sel=0x0008 base=0x0000000000000000 limit=0xffffffff "
		  "ar=0x0a09b [code RX accessed P L G]");
	EXPECT_NE(line_of(s, "DS").find("[unusable]"), std::string::npos) << s;
	EXPECT_EQ(line_of(s, "GDTR"),
		  "  GDTR                          base=0x0000000000005000 limit=0x00000027");
	EXPECT_NE(line_of(s, "GUEST_ACTIVITY_STATE").find("[HLT]"), std::string::npos);
	EXPECT_NE(line_of(s, "GUEST_INTERRUPTIBILITY_INFO").find("[STI NMI]"), std::string::npos);
}

TEST(VmcsDecode, UnknownEncodingsInOtherFields)
{
	std::string s = dump({ { 0x681e, 1 }, { 0x7abc, 0x42 } });
	size_t other = s.find("Other fields:\n");
	ASSERT_NE(other, std::string::npos);
	EXPECT_NE(s.find("  0x00007abc = 0x0000000000000042", other), std::string::npos) << s;
}

} // namespace
