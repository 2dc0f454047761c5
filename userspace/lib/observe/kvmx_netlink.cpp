#include "kvmx_netlink.hpp"

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "error.hpp"

namespace kvmx {

namespace {

// One request: the callback sees each reply message's attributes in order.
struct Request {
	std::function<void(nlattr *head, int len)> on_message;
	int error = 0;	// errno from an NLMSG_ERROR, 0 if none
};

int on_valid(nl_msg *msg, void *arg)
{
	auto *r = static_cast<Request *>(arg);
	auto *gh = static_cast<genlmsghdr *>(nlmsg_data(nlmsg_hdr(msg)));
	r->on_message(genlmsg_attrdata(gh, 0), genlmsg_attrlen(gh, 0));
	return NL_OK;
}

int on_error(sockaddr_nl *, nlmsgerr *e, void *arg)
{
	static_cast<Request *>(arg)->error = -e->error;
	return NL_STOP;
}

template <typename T> std::vector<T> array_attr(const nlattr *a)
{
	std::vector<T> v(nla_len(a) / sizeof(T));
	std::memcpy(v.data(), nla_data(a), v.size() * sizeof(T));
	return v;
}

// Calls @f on each attribute of one reply message, in order.
template <typename F> void for_each_attr(nlattr *head, int len, F &&f)
{
	nlattr *a;
	int rem;
	nla_for_each_attr(a, head, len, rem)
		f(a);
}

// The on_message of a reply that carries its answer as one array attribute.
template <typename T> auto array_of(int type, std::vector<T> &out)
{
	return [type, &out](nlattr *head, int len) {
		for_each_attr(head, len, [&](nlattr *a) {
			if (nla_type(a) == type)
				out = array_attr<T>(a);
		});
	};
}

void read_vm_info(const nlattr *a, VmInfo &vm)
{
	switch (nla_type(a)) {
	case KVMX_A_VM_ID: vm.id = nla_get_u32(const_cast<nlattr *>(a)); break;
	case KVMX_A_OWNER_PID: vm.owner_pid = nla_get_u32(const_cast<nlattr *>(a)); break;
	case KVMX_A_OWNER_UID: vm.owner_uid = nla_get_u32(const_cast<nlattr *>(a)); break;
	case KVMX_A_NR_VCPUS: vm.nr_vcpus = nla_get_u32(const_cast<nlattr *>(a)); break;
	case KVMX_A_TSC_KHZ: vm.tsc_khz = nla_get_u32(const_cast<nlattr *>(a)); break;
	case KVMX_A_MEM_BYTES: vm.mem_bytes = nla_get_u64(const_cast<nlattr *>(a)); break;
	case KVMX_A_MAPPED_PAGES: vm.mapped_pages = nla_get_u64(const_cast<nlattr *>(a)); break;
	case KVMX_A_MMU_INVALIDATIONS:
		vm.mmu_invalidations = nla_get_u64(const_cast<nlattr *>(a));
		break;
	case KVMX_A_EPT_PAGES: vm.ept_pages = nla_get_u64(const_cast<nlattr *>(a)); break;
	default: break;
	}
}

const char *cmd_name(int cmd)
{
	switch (cmd) {
	case KVMX_CMD_LIST_VMS: return "listing VMs";
	case KVMX_CMD_GET_STATS: return "reading the VM's counters";
	case KVMX_CMD_GET_VMCS: return "reading the vCPU's VMCS";
	case KVMX_CMD_GET_EPT: return "reading the VM's EPT";
	case KVMX_CMD_WALK_EPT: return "walking the VM's EPT";
	default: return "netlink request";
	}
}

} // namespace

const char *event_name(uint32_t event)
{
	switch (event) {
	case KVMX_EVENT_VM_CREATED: return "vm-created";
	case KVMX_EVENT_VM_DESTROYED: return "vm-destroyed";
	case KVMX_EVENT_ENTRY_FAILED: return "entry-failed";
	case KVMX_EVENT_SHUTDOWN: return "shutdown";
	default: return "unknown";
	}
}

void Netlink::SockDeleter::operator()(nl_sock *s) const
{
	nl_socket_free(s);
}

Netlink::Netlink() : sock_(nl_socket_alloc())
{
	if (!sock_)
		throw Error("netlink: out of memory", ENOMEM);
	if (int r = genl_connect(sock_.get()); r < 0)
		throw Error(std::string("netlink: cannot connect: ") + nl_geterror(r));
	family_ = genl_ctrl_resolve(sock_.get(), KVMX_GENL_NAME);
	if (family_ < 0)
		throw Error("kvmx's netlink family is not registered: is kvmx.ko loaded?", ENOENT);
	nl_socket_disable_auto_ack(sock_.get());
	nl_socket_enable_msg_peek(sock_.get());	// replies can exceed a page
}

Netlink::~Netlink() = default;

// Sends @cmd with attributes from @fill, feeds every reply message to @on_message.
void Netlink::transact(int cmd, bool dump, const std::function<void(nl_msg *)> &fill,
		       const std::function<void(nlattr *, int)> &on_message)
{
	if (subscribed_)
		throw Error("kvmx netlink: this socket receives events; use another for requests");
	nl_sock *sk = sock_.get();
	int family = family_;
	Request r{ on_message };
	std::unique_ptr<nl_msg, void (*)(nl_msg *)> msg(nlmsg_alloc(), nlmsg_free);
	if (!msg)
		throw Error("netlink: out of memory", ENOMEM);
	if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, dump ? NLM_F_DUMP : 0,
			 cmd, KVMX_GENL_VERSION))
		throw Error("netlink: message too small");
	fill(msg.get());
	if (int e = nl_send_auto(sk, msg.get()); e < 0)
		throw Error(std::string("netlink: send: ") + nl_geterror(e));
	std::unique_ptr<nl_cb, void (*)(nl_cb *)> cb(nl_cb_alloc(NL_CB_DEFAULT), nl_cb_put);
	nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &r);
	int e = nl_recvmsgs(sk, cb.get());
	if (r.error)
		throw Error(std::string("kvmx netlink: ") + cmd_name(cmd), r.error);
	if (e < 0)
		throw Error(std::string("netlink: receive: ") + nl_geterror(e));
}

std::vector<VmInfo> Netlink::list_vms()
{
	std::vector<VmInfo> vms;
	auto on_message = [&](nlattr *head, int len) {
		VmInfo vm;
		for_each_attr(head, len, [&](nlattr *a) { read_vm_info(a, vm); });
		vms.push_back(vm);
	};
	transact(KVMX_CMD_LIST_VMS, true, [](nl_msg *) {}, on_message);
	return vms;
}

VmStats Netlink::stats(uint32_t vm)
{
	VmStats s;
	auto on_message = [&](nlattr *head, int len) {
		uint32_t vcpu = 0;
		for_each_attr(head, len, [&](nlattr *a) {
			if (nla_type(a) == KVMX_A_VCPU_ID) {
				vcpu = nla_get_u32(a);
			} else if (nla_type(a) == KVMX_A_VCPU_STATS) {
				VcpuStats v;
				v.id = vcpu;
				std::memcpy(&v.stats, nla_data(a),
					    std::min<size_t>(nla_len(a), sizeof(v.stats)));
				s.vcpus.push_back(v);
			} else {
				read_vm_info(a, s.vm);
			}
		});
	};
	transact(KVMX_CMD_GET_STATS, false,
		 [&](nl_msg *m) { nla_put_u32(m, KVMX_A_VM_ID, vm); }, on_message);
	return s;
}

std::vector<kvmx_vmcs_field> Netlink::vmcs(uint32_t vm, uint32_t vcpu)
{
	std::vector<kvmx_vmcs_field> fields;
	transact(KVMX_CMD_GET_VMCS, false, [&](nl_msg *m) {
		nla_put_u32(m, KVMX_A_VM_ID, vm);
		nla_put_u32(m, KVMX_A_VCPU_ID, vcpu);
	}, array_of(KVMX_A_VMCS_FIELDS, fields));
	return fields;
}

std::vector<kvmx_ept_range> Netlink::ept(uint32_t vm)
{
	std::vector<kvmx_ept_range> ranges;
	auto on_message = [&](nlattr *head, int len) {
		for_each_attr(head, len, [&](nlattr *a) {
			if (nla_type(a) != KVMX_A_EPT_RANGES)
				return;
			for (const auto &x : array_attr<kvmx_ept_range>(a)) {
				// The kernel merges within a message; merge across them too.
				if (!ranges.empty()) {
					auto &p = ranges.back();
					bool hpa_follows = (p.hpa == 0 && x.hpa == 0) ||
							   p.hpa + p.size == x.hpa;
					if (p.gpa + p.size == x.gpa && p.flags == x.flags &&
					    p.page_size == x.page_size && hpa_follows) {
						p.size += x.size;
						continue;
					}
				}
				ranges.push_back(x);
			}
		});
	};
	transact(KVMX_CMD_GET_EPT, true,
		 [&](nl_msg *m) { nla_put_u32(m, KVMX_A_VM_ID, vm); }, on_message);
	return ranges;
}

std::vector<kvmx_ept_level> Netlink::walk_ept(uint32_t vm, uint64_t gpa)
{
	std::vector<kvmx_ept_level> levels;
	transact(KVMX_CMD_WALK_EPT, false, [&](nl_msg *m) {
		nla_put_u32(m, KVMX_A_VM_ID, vm);
		nla_put_u64(m, KVMX_A_GPA, gpa);
	}, array_of(KVMX_A_EPT_WALK, levels));
	return levels;
}

void Netlink::subscribe_events()
{
	subscribed_ = true;
	int grp = genl_ctrl_resolve_grp(sock_.get(), KVMX_GENL_NAME, KVMX_GENL_MCGRP_EVENTS);
	if (grp < 0)
		throw Error("kvmx netlink: no events group", ENOENT);
	nl_socket_disable_seq_check(sock_.get());
	if (int e = nl_socket_add_membership(sock_.get(), grp); e < 0)
		throw Error(e == -NLE_PERM ? "kvmx events are for root (CAP_SYS_ADMIN)" :
			    std::string("netlink: joining the events group: ") + nl_geterror(e),
			    e == -NLE_PERM ? EPERM : 0);
}

std::optional<VmEvent> Netlink::next_event(int timeout_ms)
{
	auto &got = pending_;
	auto on_message = [&](nlattr *head, int len) {
		VmEvent ev;
		for_each_attr(head, len, [&](nlattr *a) {
			switch (nla_type(a)) {
			case KVMX_A_EVENT: ev.event = nla_get_u32(a); break;
			case KVMX_A_VM_ID: ev.vm_id = nla_get_u32(a); break;
			case KVMX_A_OWNER_PID: ev.owner_pid = nla_get_u32(a); break;
			case KVMX_A_OWNER_UID: ev.owner_uid = nla_get_u32(a); break;
			case KVMX_A_EXIT_REASON: ev.exit_reason = nla_get_u32(a); break;
			case KVMX_A_VMCS_ERROR: ev.vmcs_error = nla_get_u32(a); break;
			default: break;
			}
		});
		got.push_back(ev);
	};
	Request r{ on_message };
	std::unique_ptr<nl_cb, void (*)(nl_cb *)> cb(nl_cb_alloc(NL_CB_DEFAULT), nl_cb_put);
	nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	while (got.empty()) {
		pollfd p{ nl_socket_get_fd(sock_.get()), POLLIN, 0 };
		int n = ::poll(&p, 1, timeout_ms);
		if (n < 0 && errno != EINTR)
			throw Error("poll on the netlink socket", errno);
		if (n == 0)
			return std::nullopt;
		if (n < 0)
			continue;
		if (int e = nl_recvmsgs(sock_.get(), cb.get()); e < 0 && e != -NLE_INTR)
			throw Error(std::string("netlink: receive: ") + nl_geterror(e));
	}
	VmEvent ev = got.front();
	got.pop_front();
	return ev;
}

} // namespace kvmx
