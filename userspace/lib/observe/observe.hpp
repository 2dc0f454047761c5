// What `kvmx stat`, `top`, `events`, `vmcs` and `ept` print, from what the
// "kvmx" netlink family returns (kvmx_netlink.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvmx_netlink.hpp"

namespace kvmx {

// One block per VM: owner, size, then per vCPU the exits by reason.
std::string format_stats(const VmStats &s);
std::string stats_json(const std::vector<VmStats> &all);

// `kvmx top`: one row per VM, vCPU and counter that moved, fastest first.
std::string format_top(const std::vector<VmStats> &before, const std::vector<VmStats> &now,
		       double seconds);

// GPA ranges with permissions, memory type and page size (HPA if shown).
std::string format_ept_ranges(const std::vector<kvmx_ept_range> &ranges);
// The walk of @gpa, one line per level, and where it lands.
std::string format_ept_walk(uint64_t gpa, const std::vector<kvmx_ept_level> &levels);

std::string format_event(const VmEvent &e);

// The VMCS of a vCPU between runs: asks again while the vCPU is in KVM_RUN
// (EBUSY), up to @timeout_ms.
std::vector<kvmx_vmcs_field> read_vmcs(Netlink &nl, uint32_t vm, uint32_t vcpu,
				       int timeout_ms = 2000);
std::string format_vmcs_fields(const std::vector<kvmx_vmcs_field> &fields);

// The one VM the caller can see when @vm is 0 (throws if none or several).
uint32_t pick_vm(Netlink &nl, uint32_t vm);

} // namespace kvmx
