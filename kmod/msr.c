// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's MSRs.  Every RDMSR/WRMSR exits (the MSR bitmap is all ones;
 * with APIC virtualization the x2APIC range is the CPU's, never the real
 * MSRs); the MSRs below are emulated, any other one is a #GP in the guest,
 * like a CPU that doesn't have it, or an exit to userspace
 * (KVM_CAP_X86_USER_SPACE_MSR).  The VM's MSR filter (KVM_X86_SET_MSR_FILTER)
 * is checked before either, in the exit handlers: since nothing but the
 * x2APIC range (which KVM does not filter either) goes past them, no MSR
 * bitmap has to change with it.  KVM_GET/SET_MSRS reach the same code as the
 * host (no permission checks, no #GP semantics).
 *
 * SYSCALL's MSRs and KERNEL_GS_BASE are not switched by VM entry/exit: the
 * guest's values are loaded before the first entry of a run and the host's
 * put back lazily (host_state.c), when the thread leaves the CPU or KVM_RUN
 * returns.  Since
 * the guest's values reach the real MSRs, each is tried with WRMSR's safe
 * form when it is set: one the CPU refuses is a #GP for the guest (or an
 * error for KVM_SET_MSRS), never a fault in the host.
 */
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/kvm_para.h>
#include <asm/processor.h>

#include "kvmx.h"
#include "vmx_ops.h"

#define CPUID1_ECX_SSE3	BIT(0)
#define EFER_VALID	(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

static const u32 kvmx_msr_list[] = {
	MSR_EFER, MSR_IA32_CR_PAT, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP,
	MSR_IA32_SYSENTER_EIP, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_KERNEL_GS_BASE, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_TSC, MSR_IA32_TSC_ADJUST,
	MSR_IA32_MISC_ENABLE, MSR_IA32_APICBASE, MSR_IA32_FEAT_CTL,
	MSR_IA32_UCODE_REV, MSR_MTRRdefType,
	MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW,
	MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN,
	MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL, MSR_IA32_TSC_DEADLINE, MSR_PLATFORM_INFO,
	MSR_IA32_POWER_CTL,
};

/*
 * The feature MSRs: what KVM_GET_MSRS on the system fd reads, what a VMM
 * may then give a vCPU.  kvmx offers no nested VMX, so none of the VMX
 * capability MSRs; and no ARCH_CAPABILITIES yet.
 */
static const u32 kvmx_feature_msr_list[] = {
	MSR_IA32_UCODE_REV,
};

/* The MTRRs: stored for the guest and the VMM, checked as KVM checks them. */
static u64 *mtrr_slot(struct kvmx_vcpu *v, u32 index)
{
	int fixed = mtrr_fixed_index(index);

	if (index == MSR_MTRRdefType)
		return &v->mtrr.def_type;
	if (fixed >= 0)
		return &v->mtrr.fixed[fixed];
	if (mtrr_is_var(index))
		return &v->mtrr.var[index - X86_MSR_MTRR_PHYS_BASE0];
	return NULL;
}

static bool canonical(u64 a)
{
	return (u64)((s64)(a << 16) >> 16) == a;
}

int kvmx_set_efer(struct kvmx_vcpu *v, u64 efer, bool host)
{
	if (efer & ~EFER_VALID)
		return 1;
	if (!host) {
		/* LMA is the CPU's to set; LME can't change under paging. */
		efer = (efer & ~EFER_LMA) | (v->efer & EFER_LMA);
		if ((v->cr0 & X86_CR0_PG) && ((efer ^ v->efer) & EFER_LME))
			return 1;
	}
	v->efer = efer;
	vmcs_write(VMCS_GUEST_IA32_EFER, efer);
	kvmx_update_entry_ctls(v);
	return 0;
}

/* MSRs that live in the hardware while a run has the guest's loaded. */
static u64 *switched_msr(struct kvmx_vcpu *v, u32 index)
{
	switch (index) {
	case MSR_STAR:		return &v->star;
	case MSR_LSTAR:		return &v->lstar;
	case MSR_CSTAR:		return &v->cstar;
	case MSR_SYSCALL_MASK:	return &v->fmask;
	case MSR_KERNEL_GS_BASE: return &v->kernel_gs_base;
	default:		return NULL;
	}
}

/*
 * IA32_MISC_ENABLE.  Its MWAIT bit says whether MONITOR/MWAIT are enabled;
 * KVM's default (KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT) leaves CPUID alone,
 * without the quirk CPUID.1:ECX.MONITOR follows the bit, as on a real CPU.
 */
static int set_misc_enable(struct kvmx_vcpu *v, u64 data)
{
	if (!kvmx_quirk(v->vm, KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT) &&
	    ((data ^ v->misc_enable) & MSR_IA32_MISC_ENABLE_MWAIT)) {
		const struct kvmx_cpuid_entry2 *e = kvmx_cpuid_entry(v, 1, 0);

		if (!e || !(e->ecx & CPUID1_ECX_SSE3))
			return 1;
		v->misc_enable = data;
		kvmx_cpuid_update_mwait(v);
		return 0;
	}
	v->misc_enable = data;
	return 0;
}

int kvmx_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data, bool host)
{
	u64 *sw = switched_msr(v, index);
	int r;

	if (sw) {
		/* SWAPGS changes KERNEL_GS_BASE without an exit. */
		preempt_disable();
		if (index == MSR_KERNEL_GS_BASE && v->host_state_dirty)
			rdmsrl(MSR_KERNEL_GS_BASE, v->kernel_gs_base);
		*data = *sw;
		preempt_enable();
		return 0;
	}
	/* The local APIC's MSRs: x2APIC registers, the TSC deadline. */
	r = kvmx_lapic_get_msr(v, index, data);
	if (r == -ENOENT)
		r = kvmx_tsc_get_msr(v, index, data);
	if (r != -ENOENT)
		return r;
	switch (index) {
	case MSR_EFER:
		*data = v->efer;
		break;
	case MSR_IA32_TSC_DEADLINE:
		*data = 0;	/* no APIC timer without an in-kernel APIC */
		break;
	case MSR_IA32_CR_PAT:
		*data = vmcs_read(VMCS_GUEST_IA32_PAT);
		break;
	case MSR_IA32_SYSENTER_CS:
		*data = vmcs_read(VMCS_GUEST_SYSENTER_CS);
		break;
	case MSR_IA32_SYSENTER_ESP:
		*data = vmcs_read(VMCS_GUEST_SYSENTER_ESP);
		break;
	case MSR_IA32_SYSENTER_EIP:
		*data = vmcs_read(VMCS_GUEST_SYSENTER_EIP);
		break;
	case MSR_FS_BASE:
		*data = vmcs_read(VMCS_GUEST_FS_BASE);
		break;
	case MSR_GS_BASE:
		*data = vmcs_read(VMCS_GUEST_GS_BASE);
		break;
	case MSR_IA32_MISC_ENABLE:
		*data = v->misc_enable;
		break;
	case MSR_PLATFORM_INFO:
		if (!host && !READ_ONCE(v->vm->platform_info_readable))
			return 1;
		*data = v->platform_info;
		break;
	case MSR_IA32_APICBASE:
		*data = v->apic_base;
		break;
	case MSR_IA32_FEAT_CTL:
		*data = FEAT_CTL_LOCKED;	/* locked, VMX not offered */
		break;
	case MSR_IA32_UCODE_REV:
		*data = 0x100000000ULL;
		break;
	case MSR_MTRRcap:
		*data = X86_MTRR_CAP;
		break;
	case MSR_IA32_POWER_CTL:
		*data = v->power_ctl;
		break;
	default:
		if (mtrr_slot(v, index)) {
			*data = *mtrr_slot(v, index);
			break;
		}
		r = kvmx_kvmclock_get_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_steal_time_get_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_pv_eoi_get_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_mce_get_msr(v, index, data, host);
		return r == -ENOENT ? KVMX_MSR_UNKNOWN : r;
	}
	return 0;
}

int kvmx_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host)
{
	u64 *sw = switched_msr(v, index);
	int r;

	if (sw) {
		unsigned long flags;
		u64 old = 0;
		int err;

		if (index != MSR_STAR && index != MSR_SYSCALL_MASK && !canonical(data))
			return 1;
		/*
		 * The hardware holds the guest's value only while state is
		 * dirty; otherwise the host's goes back right after the try.
		 */
		local_irq_save(flags);
		if (!v->host_state_dirty)
			rdmsrl(index, old);
		err = wrmsrl_safe(index, data);
		if (!v->host_state_dirty)
			wrmsrl(index, old);
		else if (err)
			wrmsrl(index, *sw);
		if (!err)
			*sw = data;
		local_irq_restore(flags);
		return err ? 1 : 0;
	}
	r = kvmx_lapic_set_msr(v, index, data, host);
	if (r == -ENOENT)
		r = kvmx_tsc_set_msr(v, index, data, host);
	if (r != -ENOENT)
		return r;
	switch (index) {
	case MSR_EFER:
		return kvmx_set_efer(v, data, host);
	case MSR_IA32_TSC_DEADLINE:
		break;	/* ignored without an in-kernel APIC, as in KVM */
	case MSR_IA32_CR_PAT:
		if (!pat_valid(data))
			return 1;
		vmcs_write(VMCS_GUEST_IA32_PAT, data);
		break;
	case MSR_IA32_SYSENTER_CS:
		vmcs_write(VMCS_GUEST_SYSENTER_CS, (u32)data);
		break;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!canonical(data))
			return 1;
		vmcs_write(index == MSR_IA32_SYSENTER_ESP ? VMCS_GUEST_SYSENTER_ESP :
			   index == MSR_IA32_SYSENTER_EIP ? VMCS_GUEST_SYSENTER_EIP :
			   index == MSR_FS_BASE ? VMCS_GUEST_FS_BASE : VMCS_GUEST_GS_BASE, data);
		break;
	case MSR_IA32_MISC_ENABLE:
		return set_misc_enable(v, data);
	case MSR_PLATFORM_INFO:
		/*
		 * Read-only to the guest.  kvmx has no CPUID faulting: the bit
		 * KVM sets is dropped, so a state saved on KVM still restores.
		 */
		if (!host)
			return 1;
		v->platform_info = data & ~MSR_PLATFORM_INFO_CPUID_FAULT;
		break;
	case MSR_IA32_APICBASE:
		if (!kvmx_apic_base_valid(v, data))
			return 1;
		v->apic_base = data;
		break;
	case MSR_IA32_FEAT_CTL:
		return host ? 0 : 1;	/* locked */
	case MSR_IA32_UCODE_REV:
		break;	/* accepted, ignored */
	case MSR_IA32_POWER_CTL:
		v->power_ctl = data;	/* kept for the guest, as KVM */
		break;
	default:
		if (mtrr_slot(v, index)) {
			if (!mtrr_valid(index, data, boot_cpu_data.x86_phys_bits))
				return 1;
			*mtrr_slot(v, index) = data;
			break;
		}
		r = kvmx_kvmclock_set_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_steal_time_set_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_pv_eoi_set_msr(v, index, data);
		if (r == -ENOENT)
			r = kvmx_mce_set_msr(v, index, data, host);
		return r == -ENOENT ? KVMX_MSR_UNKNOWN : r;
	}
	return 0;
}

static int put_msr_list(struct kvmx_msr_list __user *u, const u32 *list, u32 len)
{
	u32 n;

	if (get_user(n, &u->nmsrs))
		return -EFAULT;
	if (put_user(len, &u->nmsrs))
		return -EFAULT;
	if (n < len)
		return -E2BIG;
	if (copy_to_user(u->indices, list, len * sizeof(*list)))
		return -EFAULT;
	return 0;
}

int kvmx_get_msr_index_list(struct kvmx_msr_list __user *u)
{
	return put_msr_list(u, kvmx_msr_list, ARRAY_SIZE(kvmx_msr_list));
}

int kvmx_get_msr_feature_index_list(struct kvmx_msr_list __user *u)
{
	return put_msr_list(u, kvmx_feature_msr_list, ARRAY_SIZE(kvmx_feature_msr_list));
}

static int get_feature_msr(u32 index, u64 *data)
{
	*data = 0;
	switch (index) {
	case MSR_IA32_UCODE_REV:
		rdmsrl_safe(index, data);	/* the host's, as KVM reports it */
		return 0;
	default:
		return 1;
	}
}

#define KVMX_MAX_MSRS_PER_CALL	256

/*
 * KVM_GET_MSRS / KVM_SET_MSRS on a vCPU, or KVM_GET_MSRS of the feature
 * MSRs on the system fd (@v NULL): returns how many entries were processed.
 */
int kvmx_vcpu_msrs_ioctl(struct kvmx_vcpu *v, struct kvmx_msrs __user *u, bool set)
{
	struct kvmx_msr_entry *e;
	u32 n, i;
	int r;

	if (get_user(n, &u->nmsrs))
		return -EFAULT;
	if (n > KVMX_MAX_MSRS_PER_CALL)
		return -E2BIG;
	e = memdup_user(u->entries, n * sizeof(*e));
	if (IS_ERR(e))
		return PTR_ERR(e);
	for (i = 0; i < n; i++) {
		if (!v ? get_feature_msr(e[i].index, &e[i].data) :
		    set ? kvmx_set_msr(v, e[i].index, e[i].data, true) :
			  kvmx_get_msr(v, e[i].index, &e[i].data, true))
			break;
	}
	r = i;
	if (!set && copy_to_user(u->entries, e, n * sizeof(*e)))
		r = -EFAULT;
	kfree(e);
	return r;
}

int kvmx_get_feature_msrs(struct kvmx_msrs __user *u)
{
	return kvmx_vcpu_msrs_ioctl(NULL, u, false);
}

/* ---- KVM_X86_SET_MSR_FILTER ---- */

bool kvmx_msr_allowed(struct kvmx_vm *vm, u32 index, u32 type)
{
	const struct kvmx_msr_filter_set *f;
	bool allowed;
	u32 i;

	/* The x2APIC range is never filtered (KVM's rule). */
	if (index >= 0x800 && index <= 0x8ff)
		return true;
	rcu_read_lock();
	f = rcu_dereference(vm->msr_filter);
	allowed = !f || f->default_allow;
	for (i = 0; f && i < f->count; i++) {
		u32 base = f->ranges[i].base;
		/* As KVM: a range whose end wraps past 2^32 matches nothing. */
		u32 end = base + f->ranges[i].nmsrs;

		if (index >= base && index < end && (f->ranges[i].flags & type)) {
			allowed = test_bit(index - base, f->ranges[i].bitmap);
			break;
		}
	}
	rcu_read_unlock();
	return allowed;
}

/* Bytes KVM copies for a range's bitmap: whole longs. */
static size_t range_bitmap_bytes(u32 nmsrs)
{
	return BITS_TO_LONGS(nmsrs) * sizeof(long);
}

/* KVM's checks of one range: 0, or -EINVAL.  Empty ranges are skipped. */
static int range_check(const struct kvmx_msr_filter_range *r)
{
	size_t bytes = range_bitmap_bytes(r->nmsrs);

	if (r->flags & ~(KVMX_MSR_FILTER_READ | KVMX_MSR_FILTER_WRITE))
		return -EINVAL;
	if (!r->flags)
		return -EINVAL;
	if (!bytes || bytes > KVMX_MSR_FILTER_MAX_BITMAP_SIZE)
		return -EINVAL;
	return 0;
}

static void msr_filter_free(struct kvmx_msr_filter_set *f)
{
	kvmx_acct_add(kmalloc_bytes, -(long)f->bytes);
	kvfree(f);
}

/*
 * Every argument is the caller's: the whole request is copied once, ranges
 * are checked in KVM's order (a range's bitmap is read before the next
 * range is looked at, so the first problem decides the errno, as in KVM),
 * at most KVMX_MSR_FILTER_MAX_RANGES bitmaps of at most
 * KVMX_MSR_FILTER_MAX_BITMAP_SIZE bytes each are allocated.
 */
int kvmx_set_msr_filter(struct kvmx_vm *vm, struct kvmx_msr_filter __user *u)
{
	struct kvmx_msr_filter *req;
	struct kvmx_msr_filter_set *f, *old;
	size_t bytes = sizeof(*f);
	unsigned int i, valid;
	bool empty = true;
	u8 *p;
	int err = 0;

	req = memdup_user(u, sizeof(*req));
	if (IS_ERR(req))
		return PTR_ERR(req);
	if (req->flags & ~KVMX_MSR_FILTER_DEFAULT_DENY) {
		err = -EINVAL;
		goto out_req;
	}
	for (i = 0; i < KVMX_MSR_FILTER_MAX_RANGES; i++)
		empty &= !req->ranges[i].nmsrs;
	if (empty && (req->flags & KVMX_MSR_FILTER_DEFAULT_DENY)) {
		err = -EINVAL;
		goto out_req;
	}
	/* The ranges before the first bad one are copied (and may fault) first. */
	for (valid = 0; valid < KVMX_MSR_FILTER_MAX_RANGES; valid++) {
		const struct kvmx_msr_filter_range *r = &req->ranges[valid];

		if (!r->nmsrs)
			continue;
		err = range_check(r);
		if (err)
			break;
		bytes += range_bitmap_bytes(r->nmsrs);
	}
	f = kvzalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!f) {
		err = -ENOMEM;
		goto out_req;
	}
	f->bytes = bytes;
	kvmx_acct_add(kmalloc_bytes, bytes);
	f->default_allow = !(req->flags & KVMX_MSR_FILTER_DEFAULT_DENY);
	p = (u8 *)(f + 1);
	for (i = 0; i < valid; i++) {
		const struct kvmx_msr_filter_range *r = &req->ranges[i];
		size_t n = range_bitmap_bytes(r->nmsrs);

		if (!r->nmsrs)
			continue;
		if (copy_from_user(p, (const void __user *)r->bitmap, n)) {
			err = -EFAULT;
			break;
		}
		f->ranges[f->count].flags = r->flags;
		f->ranges[f->count].base = r->base;
		f->ranges[f->count].nmsrs = r->nmsrs;
		f->ranges[f->count].bitmap = (unsigned long *)p;
		f->count++;
		p += n;
	}
	if (err) {
		msr_filter_free(f);
		goto out_req;
	}

	/* vCPUs read it under RCU (kvmx_msr_allowed); writers take vm->lock. */
	mutex_lock(&vm->lock);
	old = rcu_dereference_protected(vm->msr_filter, lockdep_is_held(&vm->lock));
	rcu_assign_pointer(vm->msr_filter, f);
	mutex_unlock(&vm->lock);
	if (old) {
		kvmx_acct_add(kmalloc_bytes, -(long)old->bytes);
		kvfree_rcu(old, rcu);
	}
out_req:
	kfree(req);
	return err;
}

/* The VM is going: no vCPU can look at the filter any more. */
void kvmx_msr_filter_destroy(struct kvmx_vm *vm)
{
	struct kvmx_msr_filter_set *f = rcu_dereference_protected(vm->msr_filter, 1);

	if (f)
		msr_filter_free(f);
	RCU_INIT_POINTER(vm->msr_filter, NULL);
}
