// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory as the emulating exit handlers (mmio.c, pio.c) and the PAE
 * PDPTE load see it: guest-physical through the memory slots' userspace
 * mappings, guest-linear through the guest's own page tables.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/uaccess.h>

#include "kvmx.h"
#include "guest_walk.h"
#include "vmx_ops.h"

/*
 * Copy to/from guest-physical memory through the slots' userspace mappings.
 * The slot is looked up under vm->lock, the copy made without it: a copy
 * may sleep for as long as the VMM's memory wants (userfaultfd, FUSE), and
 * other vCPUs, netlink readers and teardown need the lock meanwhile.  A slot
 * that goes away during the copy leaves the copy to the VMM's own mapping.
 */
static int access_gpa(struct kvmx_vcpu *v, u64 gpa, void *buf, unsigned int len, bool write)
{
	/* Host code over guest data: flush L1D before entry (KVM: emulation). */
	v->l1d_flush_pending = true;
	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gpa & ~PAGE_MASK));
		struct kvmx_slot_view s;
		void __user *hva;

		if (!kvmx_slot_view(v->vm, gpa >> PAGE_SHIFT, &s) ||
		    (write && (s.flags & KVMX_MEM_READONLY)))
			return -EFAULT;
		hva = (void __user *)kvmx_view_hva(&s, gpa);
		if (write ? copy_to_user(hva, buf, chunk) : copy_from_user(buf, hva, chunk))
			return -EFAULT;
		/*
		 * Written for the guest, not through EPT: the dirty log must see
		 * it.  Decided by the slot as it is now, not by the copy @s:
		 * logging may have been turned on while the write slept.
		 */
		if (write)
			kvmx_mark_page_dirty(v->vm, gpa >> PAGE_SHIFT);
		gpa += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

void kvmx_read_seg(unsigned int seg, struct x86_seg *out)
{
	out->base = vmcs_read(VMCS_GUEST_ES_BASE + 2 * seg);
	out->limit = vmcs_read32(VMCS_GUEST_ES_LIMIT + 2 * seg);
	out->ar = vmcs_read32(VMCS_GUEST_ES_AR + 2 * seg);
}

int kvmx_read_gpa(struct kvmx_vcpu *v, u64 gpa, void *buf, unsigned int len)
{
	return access_gpa(v, gpa, buf, len, false);
}

int kvmx_write_gpa(struct kvmx_vcpu *v, u64 gpa, const void *buf, unsigned int len)
{
	return access_gpa(v, gpa, (void *)buf, len, true);
}

static int walk_read(void *ctx, u64 gpa, void *buf, unsigned int len)
{
	return kvmx_read_gpa(ctx, gpa, buf, len);
}

/* Guest linear → physical, for an access of @len bytes within one page. */
static int translate(struct kvmx_vcpu *v, u64 gla, unsigned int access, u64 *gpa)
{
	struct guest_paging p;

	kvmx_sync_crs(v);
	p.cr0 = v->cr0;
	p.cr3 = vmcs_read(VMCS_GUEST_CR3);
	p.cr4 = v->cr4;
	p.efer = v->efer;
	if (VMX_AR_DPL(vmcs_read32(VMCS_GUEST_SS_AR)) == 3)
		access |= WALK_USER;
	return guest_walk(&p, gla, access, walk_read, v, gpa) == WALK_OK ? 0 : -EFAULT;
}

/* Read or write guest-linear memory, page by page. */
int kvmx_access_gla(struct kvmx_vcpu *v, u64 gla, void *buf, unsigned int len,
		    unsigned int access)
{
	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gla & ~PAGE_MASK));
		u64 gpa;

		if (translate(v, gla, access, &gpa))
			return -EFAULT;
		if ((access & WALK_WRITE) ? kvmx_write_gpa(v, gpa, buf, chunk) :
					    kvmx_read_gpa(v, gpa, buf, chunk))
			return -EFAULT;
		gla += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

/* The default operand size of the code the guest runs: 16, 32 or 64. */
unsigned int kvmx_code_mode(struct kvmx_vcpu *v)
{
	u32 cs_ar = vmcs_read32(VMCS_GUEST_CS_AR);

	if ((v->efer & EFER_LMA) && (cs_ar & VMX_AR_L))
		return 64;
	return (cs_ar & VMX_AR_DB) ? 32 : 16;
}
