#include "vmcs_decode.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

extern "C" {
#include "vmcs_fields.h"
#include "vmx_arch.h"
#include "vmx_features.h"
}

namespace kvmx {

namespace {

struct FieldName {
	uint32_t encoding;
	std::string_view name;
};

// Every row of the one field table, dumped or not.
constexpr FieldName kFieldNames[] = {
#define VMCS_FIELD_FIRST(id, enc, name) { VMCS_##id, name },
#define VMCS_FIELD_DUMP VMCS_FIELD_FIRST
#define VMCS_FIELD_NAME VMCS_FIELD_FIRST
#include "vmcs_field_table.h"
};

// The name column: as wide as the longest name.
constexpr size_t kNameWidth = [] {
	size_t w = 0;
	for (const auto &f : kFieldNames)
		w = std::max(w, f.name.size());
	return w;
}();

struct BitName {
	uint64_t mask;
	std::string_view name;
};
using BitNames = std::vector<BitName>;

// A control's bits as common/vmx_features.c names them (one table for the
// module, `kvmx info` and `kvmx vmcs`).
BitNames from_group(const vmx_bit_group &g)
{
	BitNames v;
	for (size_t i = 0; i < g.nr_bits; i++)
		v.push_back({ 1ULL << g.bits[i].bit, g.bits[i].id });
	return v;
}

// Pin-based VM-execution controls (SDM 25.6.1, Table 25-5).
const BitNames kPinBits = from_group(vmx_pin_group);

// Primary processor-based VM-execution controls (SDM 25.6.2, Table 25-6).
const BitNames kProcBits = from_group(vmx_proc_group);

// Secondary processor-based VM-execution controls (SDM 25.6.2, Table 25-7).
const BitNames kProc2Bits = from_group(vmx_proc2_group);

// Tertiary processor-based VM-execution controls (SDM 25.6.2, Table 25-8).
constexpr BitName kProc3Bits[] = {
	{ BIT_ULL(0), "LOADIWKEY_EXITING" },
	{ BIT_ULL(1), "ENABLE_HLAT" },
	{ BIT_ULL(2), "EPT_PAGING_WRITE_CONTROL" },
	{ BIT_ULL(3), "GUEST_PAGING_VERIFICATION" },
	{ BIT_ULL(4), "IPI_VIRT" },
	{ BIT_ULL(7), "VIRTUALIZE_IA32_SPEC_CTRL" },
};

// VM-exit controls (SDM 25.7.1, Table 25-13).
const BitNames kExitBits = from_group(vmx_exit_group);

// VM-entry controls (SDM 25.8.1, Table 25-15).
const BitNames kEntryBits = from_group(vmx_entry_group);

// The reserved bits of each control that are "default1" (SDM A.2): always
// set, so not worth a "bitN" each.
constexpr uint64_t kPinDefault1 = 0x00000016;
constexpr uint64_t kProcDefault1 = 0x0401e172;
constexpr uint64_t kExitDefault1 = 0x00036dff;
constexpr uint64_t kEntryDefault1 = 0x000011ff;

constexpr BitName kCr0Bits[] = {
	{ BIT(0), "PE" }, { BIT(1), "MP" }, { BIT(2), "EM" }, { BIT(3), "TS" },
	{ BIT(4), "ET" }, { BIT(5), "NE" }, { BIT(16), "WP" }, { BIT(18), "AM" },
	{ BIT(29), "NW" }, { BIT(30), "CD" }, { BIT(31), "PG" },
};

constexpr BitName kCr4Bits[] = {
	{ BIT(0), "VME" }, { BIT(1), "PVI" }, { BIT(2), "TSD" }, { BIT(3), "DE" },
	{ BIT(4), "PSE" }, { BIT(5), "PAE" }, { BIT(6), "MCE" }, { BIT(7), "PGE" },
	{ BIT(8), "PCE" }, { BIT(9), "OSFXSR" }, { BIT(10), "OSXMMEXCPT" },
	{ BIT(11), "UMIP" }, { BIT(12), "LA57" }, { BIT(13), "VMXE" }, { BIT(14), "SMXE" },
	{ BIT(16), "FSGSBASE" }, { BIT(17), "PCIDE" }, { BIT(18), "OSXSAVE" },
	{ BIT(19), "KL" }, { BIT(20), "SMEP" }, { BIT(21), "SMAP" }, { BIT(22), "PKE" },
	{ BIT(23), "CET" }, { BIT(24), "PKS" }, { BIT(25), "UINTR" },
};

constexpr BitName kRflagsBits[] = {
	{ BIT(0), "CF" }, { BIT(1), "" }, { BIT(2), "PF" }, { BIT(4), "AF" },
	{ BIT(6), "ZF" }, { BIT(7), "SF" }, { BIT(8), "TF" }, { BIT(9), "IF" },
	{ BIT(10), "DF" }, { BIT(11), "OF" }, { BIT(14), "NT" }, { BIT(16), "RF" },
	{ BIT(17), "VM" }, { BIT(18), "AC" }, { BIT(19), "VIF" }, { BIT(20), "VIP" },
	{ BIT(21), "ID" },
};

constexpr BitName kEferBits[] = {
	{ BIT(0), "SCE" }, { BIT(8), "LME" }, { BIT(10), "LMA" }, { BIT(11), "NXE" },
	{ BIT(12), "SVME" }, { BIT(14), "FFXSR" },
};

// Guest interruptibility state (SDM 25.4.2, Table 25-3).
constexpr BitName kInterruptibilityBits[] = {
	{ GUEST_INTR_STATE_STI, "STI" },
	{ GUEST_INTR_STATE_MOV_SS, "MOV_SS" },
	{ BIT(2), "SMI" },
	{ GUEST_INTR_STATE_NMI, "NMI" },
	{ BIT(4), "ENCLAVE_INTERRUPTION" },
};

// Pending debug exceptions (SDM 25.4.2, Table 25-4).
constexpr BitName kPendingDbgBits[] = {
	{ BIT(0), "B0" }, { BIT(1), "B1" }, { BIT(2), "B2" }, { BIT(3), "B3" },
	{ BIT(12), "ENABLED_BREAKPOINT" }, { BIT(14), "BS" }, { BIT(16), "RTM" },
};

// Exit qualification for EPT violations (SDM 28.2.1, Table 28-7); bits 3-6
// and 8 are shown separately.
constexpr BitName kEptQualAccessBits[] = {
	{ EPT_QUAL_READ, "ACC_READ" },
	{ EPT_QUAL_WRITE, "ACC_WRITE" },
	{ EPT_QUAL_FETCH, "ACC_FETCH" },
};
constexpr BitName kEptQualTailBits[] = {
	{ BIT(9), "USER_LA" },
	{ BIT(10), "RW_PAGE" },
	{ BIT(11), "XD_PAGE" },
	{ EPT_QUAL_NMI_UNBLOCKING, "NMI_UNBLOCKING" },
	{ BIT(13), "SHADOW_STACK" },
	{ BIT(14), "SSS" },
	{ BIT(15), "GUEST_PAGING_VERIFY" },
	{ BIT(16), "ASYNC" },
};

void add(std::string &s, std::string_view word)
{
	if (word.empty())
		return;
	if (!s.empty())
		s += ' ';
	s += word;
}

// The names of the set bits; other set bits as "bitN" unless in @quiet.
std::string bit_names(uint64_t v, std::span<const BitName> names, uint64_t quiet = 0)
{
	std::string s;
	uint64_t known = 0;

	for (const auto &b : names) {
		known |= b.mask;
		if (v & b.mask)
			add(s, b.name);
	}
	uint64_t rest = v & ~known & ~quiet;
	for (unsigned i = 0; i < 64; i++)
		if (rest & (1ULL << i))
			add(s, fmt::format("bit{}", i));
	return s;
}

constexpr std::string_view kExceptionNames[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "", "#TS", "#NP", "#SS", "#GP", "#PF", "",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

std::string exception_bitmap(uint64_t v)
{
	std::string s;
	for (unsigned i = 0; i < 32; i++) {
		if (!(v & (1ULL << i)))
			continue;
		if (!kExceptionNames[i].empty())
			add(s, kExceptionNames[i]);
		else
			add(s, fmt::format("vector{}", i));
	}
	return s;
}

constexpr std::string_view kGprNames[16] = {
	"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
	"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
};

constexpr std::string_view kIntrTypeNames[8] = {
	"EXT_INTR", "RESERVED_TYPE", "NMI", "HARD_EXCEPTION",
	"SOFT_INTR", "PRIV_SOFT_EXCEPTION", "SOFT_EXCEPTION", "OTHER_EVENT",
};

// Interruption information (SDM 25.8.3 entry, 25.9.2 exit and IDT vectoring).
std::string intr_info(uint64_t v, bool nmi_unblocking_bit)
{
	if (!(v & INTR_INFO_VALID))
		return "not valid";
	unsigned vector = INTR_INFO_VECTOR(v), type = INTR_INFO_TYPE(v);
	std::string s = fmt::format("vector={:#04x}", vector);
	if ((type == INTR_TYPE_HARD_EXCEPTION || type == 5 || type == INTR_TYPE_SOFT_EXCEPTION) &&
	    vector < 32)
		add(s, kExceptionNames[vector]);
	add(s, kIntrTypeNames[type]);
	if (v & INTR_INFO_DELIVER_CODE)
		add(s, "ERROR_CODE_VALID");
	if (nmi_unblocking_bit && (v & BIT(12)))
		add(s, "NMI_UNBLOCKING");
	add(s, "VALID");
	return s;
}

// Segment access rights (SDM 25.4.1, Table 25-2; SDM Vol. 3A 3.4.5).
std::string access_rights(uint64_t ar)
{
	std::string s;
	unsigned type = ar & 15;

	// An unusable register's other bits mean nothing (SDM 25.4.1).
	if (ar == 0)
		return s;
	if (ar & VMX_AR_UNUSABLE)
		return "unusable";
	if (ar & BIT(4)) {
		if (type & 8) {
			add(s, "code");
			add(s, (type & 2) ? "RX" : "X");
			if (type & 4)
				add(s, "conforming");
		} else {
			add(s, "data");
			add(s, (type & 2) ? "RW" : "R");
			if (type & 4)
				add(s, "expand-down");
		}
		if (type & 1)
			add(s, "accessed");
	} else {
		static constexpr std::string_view sys[16] = {
			"reserved-type0", "TSS16-avail", "LDT", "TSS16-busy",
			"call-gate16", "task-gate", "int-gate16", "trap-gate16",
			"reserved-type8", "TSS-avail", "reserved-type10", "TSS-busy",
			"call-gate", "reserved-type13", "int-gate", "trap-gate",
		};
		add(s, sys[type]);
	}
	unsigned dpl = (ar >> 5) & 3;
	if (dpl)
		add(s, fmt::format("DPL{}", dpl));
	if (ar & BIT(7))
		add(s, "P");
	if (ar & BIT(12))
		add(s, "AVL");
	if (ar & BIT(13))
		add(s, "L");
	if (ar & BIT(14))
		add(s, "DB");
	if (ar & BIT(15))
		add(s, "G");
	return s;
}

// EPT pointer (SDM 25.6.11, Table 25-9).
std::string eptp(uint64_t v)
{
	std::string s;
	unsigned mt = v & 7, walk = ((v >> 3) & 7) + 1;

	add(s, mt == 0 ? "UC" : mt == 6 ? "WB" : fmt::format("memtype{}", mt));
	add(s, fmt::format("walk={}", walk));
	if (v & BIT(6))
		add(s, "AD");
	if (v & BIT(7))
		add(s, "SSS");
	std::string_view root = walk == 4 ? "pml4" : walk == 5 ? "pml5" : "root";
	add(s, fmt::format("{}={:#x}", root, v & 0x000ffffffffff000ULL));
	return s;
}

// Exit qualification for control-register accesses (SDM 28.2.1, Table 28-3).
std::string cr_access_qual(uint64_t q)
{
	unsigned cr = CR_QUAL_NUM(q);
	switch (CR_QUAL_TYPE(q)) {
	case CR_TYPE_MOV_TO_CR:
		return fmt::format("MOV_TO_CR CR{} reg={}", cr, kGprNames[CR_QUAL_REG(q)]);
	case CR_TYPE_MOV_FROM_CR:
		return fmt::format("MOV_FROM_CR CR{} reg={}", cr, kGprNames[CR_QUAL_REG(q)]);
	case CR_TYPE_CLTS:
		return fmt::format("CLTS CR{}", cr);
	default:
		return fmt::format("LMSW CR{} {} data={:#06x}", cr, (q & BIT(6)) ? "mem" : "reg",
				   CR_QUAL_LMSW_DATA(q));
	}
}

// Exit qualification for I/O instructions (SDM 28.2.1, Table 28-5).
std::string io_qual(uint64_t q)
{
	std::string s = (q & IO_QUAL_IN) ? "IN" : "OUT";
	add(s, fmt::format("size={}", IO_QUAL_SIZE(q)));
	add(s, fmt::format("port={:#06x}", IO_QUAL_PORT(q)));
	if (q & IO_QUAL_STRING)
		add(s, "STRING");
	if (q & IO_QUAL_REP)
		add(s, "REP");
	add(s, (q & BIT(6)) ? "IMM" : "DX");
	return s;
}

// Exit qualification for EPT violations (SDM 28.2.1, Table 28-7).
std::string ept_violation_qual(uint64_t q)
{
	std::string s = bit_names(q, kEptQualAccessBits, ~0ULL);
	add(s, fmt::format("perm={}{}{}", (q & EPT_QUAL_READABLE) ? 'R' : '-',
			   (q & EPT_QUAL_WRITABLE) ? 'W' : '-', (q & EPT_QUAL_EXECUTABLE) ? 'X' : '-'));
	if (q & BIT(6))
		add(s, "USER_EXEC");
	if (q & EPT_QUAL_GLA_VALID) {
		add(s, "GLA_VALID");
		add(s, (q & BIT(8)) ? "GLA_TRANSLATED" : "GLA_PAGE_WALK");
	}
	add(s, bit_names(q, kEptQualTailBits, ~0ULL));
	return s;
}

// VM-instruction error numbers (SDM 31.4, Table 31-1).
std::string_view vm_instruction_error(uint64_t e)
{
	switch (e) {
	case 1: return "VMCALL executed in VMX root operation";
	case 2: return "VMCLEAR with invalid physical address";
	case 3: return "VMCLEAR with VMXON pointer";
	case 4: return "VMLAUNCH with non-clear VMCS";
	case 5: return "VMRESUME with non-launched VMCS";
	case 6: return "VMRESUME after VMXOFF";
	case 7: return "VM entry with invalid control field(s)";
	case 8: return "VM entry with invalid host-state field(s)";
	case 9: return "VMPTRLD with invalid physical address";
	case 10: return "VMPTRLD with VMXON pointer";
	case 11: return "VMPTRLD with incorrect VMCS revision identifier";
	case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
	case 13: return "VMWRITE to read-only VMCS component";
	case 15: return "VMXON executed in VMX root operation";
	case 16: return "VM entry with invalid executive-VMCS pointer";
	case 17: return "VM entry with non-launched executive VMCS";
	case 18: return "VM entry with executive-VMCS pointer not VMXON pointer";
	case 19: return "VMCALL with non-clear VMCS";
	case 20: return "VMCALL with invalid VM-exit control fields";
	case 22: return "VMCALL with incorrect MSEG revision identifier";
	case 23: return "VMXOFF under dual-monitor treatment of SMIs and SMM";
	case 24: return "VMCALL with invalid SMM-monitor features";
	case 25: return "VM entry with invalid VM-execution control fields in executive VMCS";
	case 26: return "VM entry with events blocked by MOV SS";
	case 28: return "invalid operand to INVEPT/INVVPID";
	default: return "";
	}
}

// Exit reason (SDM 25.9.1, Table 25-18).
std::string exit_reason(uint64_t r)
{
	uint32_t basic = EXIT_REASON_BASIC(r);
	std::string_view name = vmx_exit_reason_name(basic);
	std::string s = name.empty() ? fmt::format("unknown({})", basic) : std::string(name);

	if (r & BIT(26))
		add(s, "BUS_LOCK_DETECTED");
	if (r & BIT(27))
		add(s, "ENCLAVE_MODE");
	if (r & BIT(28))
		add(s, "PENDING_MTF");
	if (r & BIT(29))
		add(s, "FROM_VMX_ROOT");
	if (r & EXIT_REASON_FAILED_ENTRY) {
		add(s, "ENTRY_FAILURE");
		switch (basic) {
		case EXIT_REASON_INVALID_STATE: add(s, "(invalid guest state)"); break;
		case EXIT_REASON_MSR_LOAD_FAIL: add(s, "(MSR loading)"); break;
		case EXIT_REASON_MCE_DURING_VMENTRY: add(s, "(machine-check event)"); break;
		default: break;
		}
	}
	return s;
}

// Looks fields up, prints them, and remembers which it printed.
class Dumper {
public:
	explicit Dumper(std::span<const VmcsField> fields)
	{
		for (const auto &f : fields)
			values_[f.encoding] = f.value;
	}

	bool has(uint32_t e) const { return values_.count(e) != 0; }
	uint64_t get(uint32_t e) const { return values_.at(e); }

	// One field, with @decode's words in brackets.
	template <typename Decode>
	void field(uint32_t e, Decode decode)
	{
		if (!has(e))
			return;
		uint64_t v = use(e);
		std::string d = decode(v);
		body_ += fmt::format("  {:<{}} {}{}\n", vmcs_field_name(e), kNameWidth, value(e, v),
				     d.empty() ? "" : fmt::format(" [{}]", d));
	}
	void field(uint32_t e)
	{
		field(e, [](uint64_t) { return std::string(); });
	}
	void flags(uint32_t e, std::span<const BitName> names, uint64_t quiet = 0)
	{
		field(e, [&](uint64_t v) { return bit_names(v, names, quiet); });
	}

	// A guest segment register: selector, base, limit, access rights.
	void segment(std::string_view name, uint32_t sel, uint32_t base, uint32_t limit, uint32_t ar)
	{
		std::string s, d;
		if (has(sel))
			add(s, fmt::format("sel={:#06x}", use(sel)));
		if (has(base))
			add(s, fmt::format("base={:#018x}", use(base)));
		if (has(limit))
			add(s, fmt::format("limit={:#010x}", use(limit)));
		if (has(ar)) {
			uint64_t v = use(ar);
			add(s, fmt::format("ar={:#07x}", v));
			d = access_rights(v);
		}
		if (!s.empty())
			body_ += fmt::format("  {:<{}} {}{}\n", name, kNameWidth, s,
					     d.empty() ? "" : fmt::format(" [{}]", d));
	}

	// Ends a section: its title and lines, if it has any.
	void section(std::string_view title)
	{
		if (!body_.empty())
			out_ += fmt::format("{}:\n{}", title, body_);
		body_.clear();
	}

	std::string finish()
	{
		for (const auto &[e, v] : values_) {
			if (printed_.count(e))
				continue;
			std::string_view name = vmcs_field_name(e);
			if (name.empty())
				body_ += fmt::format("  {:#010x} = {:#018x}\n", e, v);
			else
				body_ += fmt::format("  {:<{}} {}\n", name, kNameWidth, value(e, v));
		}
		section("Other fields");
		return std::move(out_);
	}

private:
	uint64_t use(uint32_t e)
	{
		printed_.insert(e);
		return get(e);
	}

	// As wide as the field (encoding bits 14:13, SDM Appendix B).
	static std::string value(uint32_t e, uint64_t v)
	{
		switch ((e >> 13) & 3) {
		case 0: return fmt::format("{:#06x}", v);
		case 2: return fmt::format("{:#010x}", v);
		default: return fmt::format("{:#018x}", v);
		}
	}

	std::map<uint32_t, uint64_t> values_;
	std::set<uint32_t> printed_;
	std::string body_, out_;
};

} // namespace

std::string_view vmcs_field_name(uint32_t encoding)
{
	for (const auto &f : kFieldNames)
		if (f.encoding == encoding)
			return f.name;
	return {};
}

std::string_view vmx_exit_reason_name(uint32_t basic)
{
	switch (basic) {
#define VMX_EXIT_REASON(id, nr, name) case nr: return name;
#include "vmx_exit_reasons.h"
	default: return {};
	}
}

std::string format_vmcs(std::span<const VmcsField> fields)
{
	Dumper d(fields);

	// Guest-state area (SDM 25.4): registers ...
	d.flags(VMCS_GUEST_CR0, kCr0Bits);
	d.field(VMCS_GUEST_CR3);
	d.flags(VMCS_GUEST_CR4, kCr4Bits);
	d.field(VMCS_GUEST_DR7);
	d.field(VMCS_GUEST_RSP);
	d.field(VMCS_GUEST_RIP);
	d.field(VMCS_GUEST_RFLAGS, [](uint64_t v) {
		std::string s = bit_names(v, kRflagsBits, BIT(12) | BIT(13));
		if (v & 0x3000)
			add(s, fmt::format("IOPL{}", (v >> 12) & 3));
		return s;
	});
#define SEG(n) d.segment(#n, VMCS_GUEST_##n##_SELECTOR, VMCS_GUEST_##n##_BASE, \
			 VMCS_GUEST_##n##_LIMIT, VMCS_GUEST_##n##_AR)
	SEG(CS);
	SEG(SS);
	SEG(DS);
	SEG(ES);
	SEG(FS);
	SEG(GS);
	SEG(LDTR);
	SEG(TR);
#undef SEG
	d.segment("GDTR", ~0u, VMCS_GUEST_GDTR_BASE, VMCS_GUEST_GDTR_LIMIT, ~0u);
	d.segment("IDTR", ~0u, VMCS_GUEST_IDTR_BASE, VMCS_GUEST_IDTR_LIMIT, ~0u);
	d.field(VMCS_GUEST_IA32_DEBUGCTL);
	d.field(VMCS_GUEST_SYSENTER_CS);
	d.field(VMCS_GUEST_SYSENTER_ESP);
	d.field(VMCS_GUEST_SYSENTER_EIP);
	d.field(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL);
	d.field(VMCS_GUEST_IA32_PAT);
	d.flags(VMCS_GUEST_IA32_EFER, kEferBits);
	d.field(VMCS_GUEST_IA32_BNDCFGS);
	d.field(VMCS_GUEST_IA32_RTIT_CTL);
	d.field(VMCS_GUEST_IA32_LBR_CTL);
	d.field(VMCS_GUEST_S_CET);
	d.field(VMCS_GUEST_INTR_SSP_TABLE);
	d.field(VMCS_GUEST_IA32_PKRS);
	d.field(VMCS_GUEST_SSP);
	d.field(VMCS_GUEST_SMBASE);
	// ... and non-register state (SDM 25.4.2).
	d.field(VMCS_GUEST_ACTIVITY_STATE, [](uint64_t v) -> std::string {
		static constexpr std::string_view names[] = { "ACTIVE", "HLT", "SHUTDOWN",
							      "WAIT_SIPI" };
		return v < 4 ? std::string(names[v]) : "reserved";
	});
	d.flags(VMCS_GUEST_INTERRUPTIBILITY, kInterruptibilityBits);
	d.flags(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, kPendingDbgBits);
	d.field(VMCS_VMCS_LINK_POINTER);
	d.field(VMCS_PREEMPTION_TIMER_VALUE);
	d.field(VMCS_GUEST_PDPTE0);
	d.field(VMCS_GUEST_PDPTE1);
	d.field(VMCS_GUEST_PDPTE2);
	d.field(VMCS_GUEST_PDPTE3);
	d.field(VMCS_GUEST_INTR_STATUS, [](uint64_t v) {
		return fmt::format("RVI={:#04x} SVI={:#04x}", v & 0xff, (v >> 8) & 0xff);
	});
	d.field(VMCS_GUEST_PML_INDEX);
	d.section("Guest-state area");

	// Host-state area (SDM 25.5).
	d.flags(VMCS_HOST_CR0, kCr0Bits);
	d.field(VMCS_HOST_CR3);
	d.flags(VMCS_HOST_CR4, kCr4Bits);
	d.field(VMCS_HOST_RSP);
	d.field(VMCS_HOST_RIP);
	d.field(VMCS_HOST_CS_SELECTOR);
	d.field(VMCS_HOST_SS_SELECTOR);
	d.field(VMCS_HOST_DS_SELECTOR);
	d.field(VMCS_HOST_ES_SELECTOR);
	d.field(VMCS_HOST_FS_SELECTOR);
	d.field(VMCS_HOST_GS_SELECTOR);
	d.field(VMCS_HOST_TR_SELECTOR);
	d.field(VMCS_HOST_FS_BASE);
	d.field(VMCS_HOST_GS_BASE);
	d.field(VMCS_HOST_TR_BASE);
	d.field(VMCS_HOST_GDTR_BASE);
	d.field(VMCS_HOST_IDTR_BASE);
	d.field(VMCS_HOST_IA32_SYSENTER_CS);
	d.field(VMCS_HOST_IA32_SYSENTER_ESP);
	d.field(VMCS_HOST_IA32_SYSENTER_EIP);
	d.field(VMCS_HOST_IA32_PERF_GLOBAL_CTRL);
	d.field(VMCS_HOST_IA32_PAT);
	d.flags(VMCS_HOST_IA32_EFER, kEferBits);
	d.field(VMCS_HOST_S_CET);
	d.field(VMCS_HOST_SSP);
	d.field(VMCS_HOST_INTR_SSP_TABLE);
	d.field(VMCS_HOST_IA32_PKRS);
	d.section("Host-state area");

	// VM-execution control fields (SDM 25.6).
	d.flags(VMCS_PIN_BASED_CTLS, kPinBits, kPinDefault1);
	d.flags(VMCS_PROC_BASED_CTLS, kProcBits, kProcDefault1);
	d.flags(VMCS_PROC_BASED_CTLS2, kProc2Bits);
	d.flags(VMCS_PROC_BASED_CTLS3, kProc3Bits);
	d.field(VMCS_EXCEPTION_BITMAP, exception_bitmap);
	d.field(VMCS_PAGE_FAULT_ERROR_MASK);
	d.field(VMCS_PAGE_FAULT_ERROR_MATCH);
	d.field(VMCS_IO_BITMAP_A);
	d.field(VMCS_IO_BITMAP_B);
	d.field(VMCS_TSC_OFFSET);
	d.field(VMCS_TSC_MULTIPLIER);
	d.flags(VMCS_CR0_GUEST_HOST_MASK, kCr0Bits);
	d.flags(VMCS_CR0_READ_SHADOW, kCr0Bits);
	d.flags(VMCS_CR4_GUEST_HOST_MASK, kCr4Bits);
	d.flags(VMCS_CR4_READ_SHADOW, kCr4Bits);
	d.field(VMCS_CR3_TARGET_COUNT);
	d.field(VMCS_CR3_TARGET_VALUE0);
	d.field(VMCS_CR3_TARGET_VALUE1);
	d.field(VMCS_CR3_TARGET_VALUE2);
	d.field(VMCS_CR3_TARGET_VALUE3);
	d.field(VMCS_APIC_ACCESS_ADDR);
	d.field(VMCS_VIRTUAL_APIC_PAGE_ADDR);
	d.field(VMCS_TPR_THRESHOLD);
	d.field(VMCS_EOI_EXIT_BITMAP0);
	d.field(VMCS_EOI_EXIT_BITMAP1);
	d.field(VMCS_EOI_EXIT_BITMAP2);
	d.field(VMCS_EOI_EXIT_BITMAP3);
	d.field(VMCS_POSTED_INTR_NV);
	d.field(VMCS_POSTED_INTR_DESC_ADDR);
	d.field(VMCS_PID_POINTER_TABLE);
	d.field(VMCS_LAST_PID_POINTER_INDEX);
	d.field(VMCS_MSR_BITMAP);
	d.field(0x200c);	// EXECUTIVE_VMCS_POINTER
	d.field(VMCS_EPT_POINTER, eptp);
	d.field(VMCS_VPID);
	d.field(VMCS_PLE_GAP);
	d.field(VMCS_PLE_WINDOW);
	d.field(VMCS_VM_FUNCTION_CONTROL);
	d.field(VMCS_EPTP_LIST_ADDRESS);
	d.field(VMCS_EPTP_INDEX);
	d.field(VMCS_ENCLS_EXITING_BITMAP);
	d.field(VMCS_PML_ADDRESS);
	d.field(VMCS_VE_INFORMATION_ADDRESS);
	d.field(VMCS_SPPT_POINTER);
	d.field(VMCS_XSS_EXIT_BITMAP);
	d.field(VMCS_NOTIFY_WINDOW);
	d.field(VMCS_SPEC_CTRL_MASK);
	d.field(VMCS_SPEC_CTRL_SHADOW);
	d.section("VM-execution control fields");

	// VM-exit control fields (SDM 25.7).
	d.flags(VMCS_EXIT_CTLS, kExitBits, kExitDefault1);
	d.field(VMCS_EXIT_CTLS2);
	d.field(VMCS_EXIT_MSR_STORE_COUNT);
	d.field(VMCS_EXIT_MSR_STORE_ADDR);
	d.field(VMCS_EXIT_MSR_LOAD_COUNT);
	d.field(VMCS_EXIT_MSR_LOAD_ADDR);
	d.section("VM-exit control fields");

	// VM-entry control fields (SDM 25.8).
	d.flags(VMCS_ENTRY_CTLS, kEntryBits, kEntryDefault1);
	d.field(VMCS_ENTRY_MSR_LOAD_COUNT);
	d.field(VMCS_ENTRY_MSR_LOAD_ADDR);
	d.field(VMCS_ENTRY_INTR_INFO, [](uint64_t v) { return intr_info(v, false); });
	d.field(VMCS_ENTRY_EXCEPTION_ERROR_CODE);
	d.field(VMCS_ENTRY_INSTRUCTION_LEN);
	d.section("VM-entry control fields");

	// VM-exit information fields (SDM 25.9).
	d.field(VMCS_EXIT_REASON, exit_reason);
	uint64_t reason = d.has(VMCS_EXIT_REASON) ? d.get(VMCS_EXIT_REASON) : ~0ULL;
	bool failed = reason & EXIT_REASON_FAILED_ENTRY;
	d.field(VMCS_EXIT_QUALIFICATION, [&](uint64_t q) -> std::string {
		if (failed)
			return {};
		switch (EXIT_REASON_BASIC(reason)) {
		case EXIT_REASON_CR_ACCESS: return cr_access_qual(q);
		case EXIT_REASON_IO_INSTRUCTION: return io_qual(q);
		case EXIT_REASON_EPT_VIOLATION: return ept_violation_qual(q);
		default: return {};
		}
	});
	d.field(VMCS_GUEST_LINEAR_ADDRESS);
	d.field(VMCS_GUEST_PHYSICAL_ADDRESS);
	d.field(VMCS_EXIT_INTR_INFO, [](uint64_t v) { return intr_info(v, true); });
	d.field(VMCS_EXIT_INTR_ERROR_CODE);
	d.field(VMCS_IDT_VECTORING_INFO, [](uint64_t v) { return intr_info(v, false); });
	d.field(VMCS_IDT_VECTORING_ERROR_CODE);
	d.field(VMCS_EXIT_INSTRUCTION_LEN);
	d.field(VMCS_EXIT_INSTRUCTION_INFO);
	d.field(VMCS_EXIT_IO_RCX);
	d.field(VMCS_EXIT_IO_RSI);
	d.field(VMCS_EXIT_IO_RDI);
	d.field(VMCS_EXIT_IO_RIP);
	d.field(VMCS_VM_INSTRUCTION_ERROR, [](uint64_t v) {
		std::string_view m = vm_instruction_error(v);
		return m.empty() ? std::string() : fmt::format("{}: {}", v, m);
	});
	d.section("VM-exit information fields");

	return d.finish();
}

} // namespace kvmx
