// The host's VMX capabilities in words, for `kvmx info`.
#pragma once

#include <string>
#include <vector>

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

// What kvmx needs and this host lacks (empty: kvmx can run here).
std::vector<std::string> missing_vmx_features(const kvmx_vmx_info &info);

// A multi-line description: VMX_BASIC, fixed bits, each control group bit by
// bit (supported / always on / unsupported, and whether kvmx uses it), EPT and
// VPID capabilities, and what is missing.
std::string describe_vmx(const kvmx_vmx_info &info);

// Every raw capability value, one "name value" line each (kvmx info --raw).
std::string raw_vmx_msrs(const kvmx_vmx_info &info);
// The KVMX_MITIGATION_* bits kvmx reports, one line each, on or off.
std::string describe_mitigations(uint64_t mitigations);

} // namespace kvmx
