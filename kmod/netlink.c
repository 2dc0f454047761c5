// SPDX-License-Identifier: GPL-2.0
/*
 * The "kvmx" generic-netlink family (uapi/linux/kvmx_netlink.h): the VMs
 * alive, their vCPUs' counters, a vCPU's VMCS, the EPT, and an "events"
 * multicast group.  Who asks is decided once per request from the sender's
 * credentials and the socket's (caller_of), never from whoever happens to
 * read the socket; VM ids then only reach VMs that caller may see.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/slab.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "kvmx.h"

/* EPT ranges per dump message: they fit in one NLMSG_GOODSIZE skb. */
#define EPT_RANGES_PER_MSG	64

static struct genl_family kvmx_genl_family;

enum { KVMX_MCGRP_EVENTS };

/*
 * Events name every VM's owner: root only.  Kernels without per-group
 * permissions (GENL_MCAST_CAP_*, 6.1.70+) get no events group at all.
 */
#ifdef GENL_MCAST_CAP_SYS_ADMIN
static const struct genl_multicast_group kvmx_mcgrps[] = {
	[KVMX_MCGRP_EVENTS] = { .name = KVMX_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};
#define KVMX_N_MCGRPS	ARRAY_SIZE(kvmx_mcgrps)
#else
#define kvmx_mcgrps	NULL
#define KVMX_N_MCGRPS	0
#endif

static struct kvmx_caller caller_of(const struct sk_buff *skb)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	struct file *file = sk && sk->sk_socket ? sk->sk_socket->file : NULL;
	struct kvmx_caller c = { .uid = current_euid() };

	c.admin = netlink_capable(skb, CAP_SYS_ADMIN);
	/* A setuid program writing someone's request to their socket is not them. */
	if (!file || !uid_eq(file->f_cred->euid, c.uid))
		c.uid = INVALID_UID;
	return c;
}

static const struct nla_policy kvmx_genl_policy[KVMX_A_MAX + 1] = {
	[KVMX_A_VM_ID]		= { .type = NLA_U32 },
	[KVMX_A_VCPU_ID]	= { .type = NLA_U32 },
	[KVMX_A_GPA]		= { .type = NLA_U64 },
};

static u64 vm_mem_bytes(struct kvmx_vm *vm)
{
	u64 pages = 0;
	int i;

	for (i = 0; i < KVMX_MAX_MEMSLOTS; i++)
		if (vm->slots[i].used)
			pages += vm->slots[i].npages;
	return pages << PAGE_SHIFT;
}

/* The VM's identity and size; vm->lock held. */
static int put_vm_info(struct sk_buff *skb, struct kvmx_vm *vm)
{
	if (nla_put_u32(skb, KVMX_A_VM_ID, vm->id) ||
	    nla_put_u32(skb, KVMX_A_OWNER_PID, vm->owner) ||
	    nla_put_u32(skb, KVMX_A_OWNER_UID, from_kuid_munged(current_user_ns(), vm->owner_uid)) ||
	    nla_put_u32(skb, KVMX_A_NR_VCPUS, vm->nr_vcpus) ||
	    nla_put_u64_64bit(skb, KVMX_A_MEM_BYTES, vm_mem_bytes(vm), KVMX_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMX_A_MAPPED_PAGES, atomic_long_read(&vm->mapped_pages),
			      KVMX_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMX_A_MMU_INVALIDATIONS,
			      atomic_long_read(&vm->mmu_invalidations), KVMX_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMX_A_EPT_PAGES, atomic_long_read(&vm->ept_pages),
			      KVMX_A_PAD) ||
	    nla_put_u32(skb, KVMX_A_TSC_KHZ, tsc_khz))
		return -EMSGSIZE;
	return 0;
}

static struct kvmx_vm *vm_from_attrs(struct nlattr **attrs, const struct kvmx_caller *c)
{
	if (!attrs[KVMX_A_VM_ID])
		return ERR_PTR(-EINVAL);
	return kvmx_vm_get_by_id(nla_get_u32(attrs[KVMX_A_VM_ID]), c);
}

/* ---- KVMX_CMD_LIST_VMS ---- */

#define LIST_BATCH	16

static int kvmx_genl_list_vms(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct kvmx_caller c = caller_of(cb->skb);
	struct kvmx_vm *vms[LIST_BATCH];
	int i, n, r = 0;

	n = kvmx_get_visible_vms(cb->args[0], &c, vms, LIST_BATCH);
	for (i = 0; i < n; i++) {
		struct kvmx_vm *vm = vms[i];
		void *hdr;

		if (!r) {
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
					  &kvmx_genl_family, NLM_F_MULTI, KVMX_CMD_LIST_VMS);
			r = hdr ? mutex_lock_killable(&vm->lock) : -EMSGSIZE;
			if (!r) {
				r = put_vm_info(skb, vm);
				mutex_unlock(&vm->lock);
			}
			if (r && hdr)
				genlmsg_cancel(skb, hdr);
			else if (!r)
				genlmsg_end(skb, hdr);
			if (!r)
				cb->args[0] = vm->id + 1;
		}
		kvmx_vm_put(vm);
	}
	/* Full (or interrupted): the next call resumes at cb->args[0]. */
	if (r == -EINTR)
		return r;
	return skb->len;
}

/* ---- KVMX_CMD_GET_STATS ---- */

/* Counters another thread is bumping: copied a whole u64 at a time. */
static int put_vcpu_stats(struct sk_buff *msg, struct kvmx_vcpu *v)
{
	struct nlattr *a;
	const u64 *from = (const u64 *)&v->stat;
	u64 *to;
	unsigned int i;

	if (nla_put_u32(msg, KVMX_A_VCPU_ID, v->id))
		return -EMSGSIZE;
	a = nla_reserve(msg, KVMX_A_VCPU_STATS, sizeof(v->stat));
	if (!a)
		return -EMSGSIZE;
	to = nla_data(a);
	for (i = 0; i < sizeof(v->stat) / sizeof(u64); i++)
		to[i] = READ_ONCE(from[i]);
	return 0;
}

static int kvmx_genl_get_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmx_caller c = caller_of(skb);
	struct kvmx_vm *vm = vm_from_attrs(info->attrs, &c);
	struct sk_buff *msg = NULL;
	void *hdr;
	int i, r;

	if (IS_ERR(vm))
		return PTR_ERR(vm);
	r = mutex_lock_killable(&vm->lock);
	if (r)
		goto out;
	/* Sized for the vCPUs there are; none can come or go under vm->lock. */
	msg = genlmsg_new(NLMSG_GOODSIZE + vm->nr_vcpus *
			  (nla_total_size(sizeof(struct kvmx_vcpu_stats)) + nla_total_size(4)),
			  GFP_KERNEL);
	r = -ENOMEM;
	if (!msg)
		goto unlock;
	r = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &kvmx_genl_family, 0, KVMX_CMD_GET_STATS);
	if (!hdr)
		goto unlock;
	r = put_vm_info(msg, vm);
	for (i = 0; !r && i < KVMX_MAX_VCPUS; i++)
		if (vm->vcpus[i])
			r = put_vcpu_stats(msg, vm->vcpus[i]);
	if (!r)
		genlmsg_end(msg, hdr);
unlock:
	mutex_unlock(&vm->lock);
out:
	kvmx_vm_put(vm);
	if (r) {
		nlmsg_free(msg);
		return r;
	}
	return genlmsg_reply(msg, info);
}

/* ---- KVMX_CMD_GET_VMCS ---- */

static int kvmx_genl_get_vmcs(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmx_caller c = caller_of(skb);
	struct kvmx_vm *vm = vm_from_attrs(info->attrs, &c);
	int max = kvmx_vmcs_snapshot_max(), n;
	struct kvmx_vmcs_field *fields;
	struct sk_buff *msg = NULL;
	void *hdr;
	u32 id;

	if (IS_ERR(vm))
		return PTR_ERR(vm);
	n = -EINVAL;
	if (!info->attrs[KVMX_A_VCPU_ID])
		goto out_vm;
	id = nla_get_u32(info->attrs[KVMX_A_VCPU_ID]);
	n = -ENOMEM;
	fields = kcalloc(max, sizeof(*fields), GFP_KERNEL);
	if (!fields)
		goto out_vm;
	n = kvmx_vm_vmcs_snapshot(vm, id, fields, max, c.admin);
	if (n < 0)
		goto out;
	msg = genlmsg_new(nla_total_size(n * sizeof(*fields)) + NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		n = -ENOMEM;
		goto out;
	}
	hdr = genlmsg_put_reply(msg, info, &kvmx_genl_family, 0, KVMX_CMD_GET_VMCS);
	if (!hdr || nla_put_u32(msg, KVMX_A_VM_ID, vm->id) ||
	    nla_put_u32(msg, KVMX_A_VCPU_ID, id) ||
	    nla_put(msg, KVMX_A_VMCS_FIELDS, n * sizeof(*fields), fields)) {
		nlmsg_free(msg);
		n = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(msg, hdr);
	n = genlmsg_reply(msg, info);
out:
	kfree(fields);
out_vm:
	kvmx_vm_put(vm);
	return n;
}

/* ---- KVMX_CMD_GET_EPT (dump) ---- */

/* Refuse before the dump starts: an error here reaches the caller as such. */
static int kvmx_genl_get_ept_start(struct netlink_callback *cb)
{
	struct kvmx_caller c = caller_of(cb->skb);
	struct kvmx_vm *vm = vm_from_attrs(genl_dumpit_info(cb)->attrs, &c);

	if (IS_ERR(vm))
		return PTR_ERR(vm);
	kvmx_vm_put(vm);
	return 0;
}

static int kvmx_genl_get_ept(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct kvmx_caller c = caller_of(cb->skb);
	struct kvmx_ept_range *ranges;
	struct kvmx_vm *vm;
	u64 gpa = cb->args[0];
	void *hdr;
	int n, r;

	if (cb->args[1])	/* the walk reached the end */
		return 0;
	vm = vm_from_attrs(info->attrs, &c);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ranges = kcalloc(EPT_RANGES_PER_MSG, sizeof(*ranges), GFP_KERNEL);
	r = -ENOMEM;
	if (!ranges)
		goto out;
	r = mutex_lock_killable(&vm->lock);
	if (r)
		goto out;
	spin_lock(&vm->mmu_lock);	/* the MMU notifier changes entries without vm->lock */
	n = kvmx_ept_ranges(vm, &gpa, ranges, EPT_RANGES_PER_MSG, c.admin);
	spin_unlock(&vm->mmu_lock);
	mutex_unlock(&vm->lock);
	r = -EMSGSIZE;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &kvmx_genl_family, NLM_F_MULTI, KVMX_CMD_GET_EPT);
	if (!hdr)
		goto out;
	if (nla_put_u32(skb, KVMX_A_VM_ID, vm->id) ||
	    nla_put(skb, KVMX_A_EPT_RANGES, n * sizeof(*ranges), ranges)) {
		genlmsg_cancel(skb, hdr);
		goto out;
	}
	genlmsg_end(skb, hdr);
	cb->args[0] = gpa;
	cb->args[1] = gpa == ~0ULL;
	r = skb->len;
out:
	kfree(ranges);
	kvmx_vm_put(vm);
	return r;
}

/* ---- KVMX_CMD_WALK_EPT ---- */

static int kvmx_genl_walk_ept(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmx_caller c = caller_of(skb);
	struct kvmx_vm *vm = vm_from_attrs(info->attrs, &c);
	struct kvmx_ept_level levels[4];
	struct sk_buff *msg;
	void *hdr;
	u64 gpa;
	int n;

	if (IS_ERR(vm))
		return PTR_ERR(vm);
	if (!info->attrs[KVMX_A_GPA]) {
		kvmx_vm_put(vm);
		return -EINVAL;
	}
	gpa = nla_get_u64(info->attrs[KVMX_A_GPA]);
	n = mutex_lock_killable(&vm->lock);
	if (n) {
		kvmx_vm_put(vm);
		return n;
	}
	spin_lock(&vm->mmu_lock);
	n = kvmx_ept_walk_gpa(vm, gpa, levels, c.admin);
	spin_unlock(&vm->mmu_lock);
	mutex_unlock(&vm->lock);
	kvmx_vm_put(vm);
	if (!n)
		return -EINVAL;	/* beyond what a 4-level EPT maps */
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kvmx_genl_family, 0, KVMX_CMD_WALK_EPT);
	if (!hdr || nla_put_u64_64bit(msg, KVMX_A_GPA, gpa, KVMX_A_PAD) ||
	    nla_put(msg, KVMX_A_EPT_WALK, n * sizeof(levels[0]), levels)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* ---- events ---- */

void kvmx_genl_event(struct kvmx_vm *vm, enum kvmx_event event, u32 exit_reason, u32 vmcs_error)
{
	struct sk_buff *msg;
	void *hdr;

	if (!KVMX_N_MCGRPS ||
	    !genl_has_listeners(&kvmx_genl_family, &init_net, KVMX_MCGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kvmx_genl_family, 0, KVMX_CMD_EVENT);
	if (!hdr || nla_put_u32(msg, KVMX_A_EVENT, event) ||
	    nla_put_u32(msg, KVMX_A_VM_ID, vm->id) ||
	    nla_put_u32(msg, KVMX_A_OWNER_PID, vm->owner) ||
	    nla_put_u32(msg, KVMX_A_OWNER_UID, from_kuid_munged(&init_user_ns, vm->owner_uid)) ||
	    nla_put_u32(msg, KVMX_A_EXIT_REASON, exit_reason) ||
	    nla_put_u32(msg, KVMX_A_VMCS_ERROR, vmcs_error)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&kvmx_genl_family, msg, 0, KVMX_MCGRP_EVENTS, GFP_KERNEL);
}

static const struct genl_ops kvmx_genl_ops[] = {
	{ .cmd = KVMX_CMD_LIST_VMS, .dumpit = kvmx_genl_list_vms },
	{ .cmd = KVMX_CMD_GET_STATS, .doit = kvmx_genl_get_stats },
	{ .cmd = KVMX_CMD_GET_VMCS, .doit = kvmx_genl_get_vmcs },
	{ .cmd = KVMX_CMD_GET_EPT, .start = kvmx_genl_get_ept_start,
	  .dumpit = kvmx_genl_get_ept },
	{ .cmd = KVMX_CMD_WALK_EPT, .doit = kvmx_genl_walk_ept },
};

static struct genl_family kvmx_genl_family __ro_after_init = {
	.name		= KVMX_GENL_NAME,
	.version	= KVMX_GENL_VERSION,
	.maxattr	= KVMX_A_MAX,
	.policy		= kvmx_genl_policy,
	.module		= THIS_MODULE,
	/* Our own locks suffice; don't hold genl_mutex (everyone's) while we wait. */
	.parallel_ops	= true,
	.ops		= kvmx_genl_ops,
	.n_ops		= ARRAY_SIZE(kvmx_genl_ops),
	.mcgrps		= kvmx_mcgrps,
	.n_mcgrps	= KVMX_N_MCGRPS,
};

int kvmx_genl_init(void)
{
	return genl_register_family(&kvmx_genl_family);
}

void kvmx_genl_exit(void)
{
	genl_unregister_family(&kvmx_genl_family);
}
