// A vCPU's VMCS in words, for `kvmx vmcs`: field names (SDM Vol. 3D,
// Appendix B), exit reasons (Appendix C), and the fields laid out and decoded
// the way SDM chapter 25 describes them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvmx {

// One VMREAD result: the field encoding and its value (zero-extended).
struct VmcsField {
	uint32_t encoding;
	uint64_t value;
};

// "GUEST_RIP" for 0x681e (KVM's names); "" if unknown.
std::string_view vmcs_field_name(uint32_t encoding);

// The name of a basic exit reason (SDM Appendix C): 10 -> "CPUID",
// 48 -> "EPT_VIOLATION"; "" if unknown.
std::string_view vmx_exit_reason_name(uint32_t basic);

// Multi-line dump, one field a line ("  NAME   value [decoded bits]"), in
// sections as in SDM 25.4-25.9: guest state, host state, VM-execution,
// VM-exit and VM-entry controls, VM-exit information, then "other fields"
// for encodings it does not know.  Fields missing from @fields are skipped.
std::string format_vmcs(std::span<const VmcsField> fields);

} // namespace kvmx
