// The "kvmx" generic-netlink family, read with libnl-genl: the VMs alive,
// their counters, a vCPU's VMCS, the EPT and the event stream.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

extern "C" {
#include <linux/kvmx_netlink.h>
}

struct nl_sock;
struct nl_msg;
struct nlattr;

namespace kvmx {

struct VmInfo {
	uint32_t id = 0, owner_pid = 0, owner_uid = 0, nr_vcpus = 0, tsc_khz = 0;
	uint64_t mem_bytes = 0, mapped_pages = 0, ept_pages = 0, mmu_invalidations = 0;
};

struct VcpuStats {
	uint32_t id = 0;
	kvmx_vcpu_stats stats{};
};

struct VmStats {
	VmInfo vm;
	std::vector<VcpuStats> vcpus;
};

struct VmEvent {
	uint32_t event = 0, vm_id = 0, owner_pid = 0, owner_uid = 0, exit_reason = 0,
		 vmcs_error = 0;
};

const char *event_name(uint32_t event);

class Netlink {
public:
	// Throws Error("kvmx's netlink family is not registered ...") without the module.
	Netlink();
	~Netlink();
	Netlink(const Netlink &) = delete;
	Netlink &operator=(const Netlink &) = delete;

	// Every request throws Error with the kernel's errno on failure
	// (EPERM: not your VM, ENOENT: no such VM/vCPU, EBUSY: vCPU in KVM_RUN).
	std::vector<VmInfo> list_vms();
	VmStats stats(uint32_t vm);
	std::vector<kvmx_vmcs_field> vmcs(uint32_t vm, uint32_t vcpu);
	std::vector<kvmx_ept_range> ept(uint32_t vm);
	std::vector<kvmx_ept_level> walk_ept(uint32_t vm, uint64_t gpa);

	// Join the "events" group (root only), then wait for the next one
	// (nothing after @timeout_ms; -1 waits for ever).  A subscribed Netlink
	// is for events only: requests on it would meet events in their replies.
	void subscribe_events();
	std::optional<VmEvent> next_event(int timeout_ms = -1);

private:
	struct SockDeleter {
		void operator()(nl_sock *s) const;
	};
	std::unique_ptr<nl_sock, SockDeleter> sock_;
	int family_ = 0;
	std::deque<VmEvent> pending_;	// events received, not yet returned
	bool subscribed_ = false;
	void transact(int cmd, bool dump, const std::function<void(::nl_msg *)> &fill,
		      const std::function<void(::nlattr *, int)> &on_message);
};

} // namespace kvmx
