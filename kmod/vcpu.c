// SPDX-License-Identifier: GPL-2.0
/*
 * A vCPU and its fd (KVM_CREATE_VCPU): the register ioctls, the run page
 * mmap, and the guest-state helpers the exit handlers share.
 *
 * Every vCPU ioctl runs with the vCPU "loaded": its VMCS is current on the
 * CPU the thread runs on, and a preempt notifier moves it along when the
 * scheduler moves the thread (KVM does the same).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/tlbflush.h>

#include "kvmx.h"
#include "vmx_ops.h"
#include "trace.h"

#define CR0_OWNED	(X86_CR0_PE | X86_CR0_PG | X86_CR0_NE)

unsigned long kvmx_reg_read(struct kvmx_vcpu *v, unsigned int reg)
{
	return reg == REG_RSP ? vmcs_read(VMCS_GUEST_RSP) : v->regs[reg];
}

void kvmx_reg_write(struct kvmx_vcpu *v, unsigned int reg, unsigned long val)
{
	if (reg == REG_RSP)
		vmcs_write(VMCS_GUEST_RSP, val);
	else
		v->regs[reg] = val;
}

static bool in_64bit_code(struct kvmx_vcpu *v)
{
	return (v->efer & EFER_LMA) && (vmcs_read32(VMCS_GUEST_CS_AR) & VMX_AR_L);
}

/*
 * Advance RIP past an instruction of @len bytes (SDM 28.2.5 for its length)
 * that kvmx carried out for the guest.  The CPU would have ended blocking by
 * STI/MOV SS and, with EFLAGS.TF set, raised a single-step #DB after it.
 */
static void advance_rip(struct kvmx_vcpu *v, unsigned long len, bool trap)
{
	unsigned long rip = vmcs_read(VMCS_GUEST_RIP) + len;
	u32 intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY);

	if (!in_64bit_code(v))
		rip = (u32)rip;
	vmcs_write(VMCS_GUEST_RIP, rip);
	if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY,
			   intr & ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
	if (trap && unlikely(vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_TF))
		kvmx_inject_debug(v, X86_DR6_BS);
}

void kvmx_skip_instruction(struct kvmx_vcpu *v)
{
	advance_rip(v, vmcs_read32(VMCS_EXIT_INSTRUCTION_LEN), true);
}

void kvmx_skip_instruction_notrap(struct kvmx_vcpu *v)
{
	advance_rip(v, vmcs_read32(VMCS_EXIT_INSTRUCTION_LEN), false);
}

void kvmx_skip_bytes(struct kvmx_vcpu *v, unsigned int len)
{
	advance_rip(v, len, true);
}

u64 kvmx_linear_rip(struct kvmx_vcpu *v)
{
	u64 rip = vmcs_read(VMCS_GUEST_RIP);

	return in_64bit_code(v) ? rip : (u32)(vmcs_read(VMCS_GUEST_CS_BASE) + rip);
}

/*
 * Queue an exception for the next entry.  When the exit interrupted the
 * delivery of another event, the two combine as the CPU would combine them
 * (SDM Vol. 3A 6.15): an exception being delivered merges into #DF, a triple
 * fault or the new one; an interrupt or NMI being delivered stays queued and
 * goes in at the entry after (never dropped); a software interrupt is
 * dropped, its instruction runs again when the handler returns.  A second
 * exception from the same exit is ignored: the first one is what the CPU
 * would have raised.
 */
void kvmx_inject_exception(struct kvmx_vcpu *v, unsigned int vector,
			   bool has_error, u32 error)
{
	u32 prev = v->reinject_info;

	if (v->exc.pending || v->triple_fault)
		return;
	if (prev & INTR_INFO_VALID) {
		switch (INTR_INFO_TYPE(prev)) {
		case INTR_TYPE_HARD_EXCEPTION: {
			int merged = exception_merge(INTR_INFO_VECTOR(prev), vector);

			v->reinject_info = 0;
			if (merged == X86_MERGE_TRIPLE_FAULT) {
				v->triple_fault = true;
				return;
			}
			if (merged == X86_VEC_DF) {
				vector = X86_VEC_DF;
				has_error = true;
				error = 0;
			}
			break;
		}
		case INTR_TYPE_EXT_INTR:
		case INTR_TYPE_NMI:
			/* Kept apart: the next exit's vectoring info must not erase it. */
			v->kept_info = prev & (INTR_INFO_VALID | 0x7ff);
			v->reinject_info = 0;
			break;
		default:
			v->reinject_info = 0;
			break;
		}
	}
	v->exc.pending = true;
	v->exc.vector = vector;
	/* Real mode has no error codes (SDM 27.2.1.3). */
	v->exc.has_error = has_error && (v->cr0 & X86_CR0_PE);
	v->exc.error = error;
}

void kvmx_inject_debug(struct kvmx_vcpu *v, u64 payload)
{
	if (v->exc.pending || v->triple_fault)
		return;
	v->dr6 = dr6_after_debug_exception(v->dr6, payload);
	/* Delivering #DB clears DR7.GD, so the handler may use the registers. */
	v->dr7 &= ~X86_DR7_GD;
	vmcs_write(VMCS_GUEST_DR7, v->dr7);
	kvmx_inject_exception(v, X86_VEC_DB, false, 0);
}

void kvmx_update_entry_ctls(struct kvmx_vcpu *v)
{
	u32 ctls = v->entry_ctls & ~ENTRY_CTL_IA32E_MODE;

	if (v->efer & EFER_LMA)
		ctls |= ENTRY_CTL_IA32E_MODE;
	if (ctls != v->entry_ctls) {
		v->entry_ctls = ctls;
		vmcs_write(VMCS_ENTRY_CTLS, ctls);
	}
}

void kvmx_set_cr0_hw(struct kvmx_vcpu *v, u64 cr0)
{
	/* Under unrestricted guest PE and PG are free; the rest is fixed. */
	u64 fixed = kvmx_host_caps.cr0_fixed0 & ~(u64)(X86_CR0_PE | X86_CR0_PG);

	v->cr0 = cr0;
	vmcs_write(VMCS_CR0_READ_SHADOW, cr0);
	vmcs_write(VMCS_GUEST_CR0, cr0 | fixed);
}

void kvmx_set_cr4_hw(struct kvmx_vcpu *v, u64 cr4)
{
	/*
	 * CR4.MCE stays as the host has it, whatever the guest wants: a
	 * machine check in the guest with MCE clear would shut the CPU down
	 * instead of reaching the host's handler (kvm_intel does the same).
	 */
	u64 hw = (cr4 & ~(u64)X86_CR4_MCE) | (cr4_read_shadow() & X86_CR4_MCE);

	v->cr4 = cr4;
	vmcs_write(VMCS_CR4_READ_SHADOW, cr4);
	vmcs_write(VMCS_GUEST_CR4, hw | kvmx_host_caps.cr4_fixed0);
}

/* CR0/CR4 as the guest sees them: its own bits from the hardware. */
static u64 guest_cr0(struct kvmx_vcpu *v)
{
	return (vmcs_read(VMCS_GUEST_CR0) & ~(u64)CR0_OWNED) | (v->cr0 & CR0_OWNED);
}

static u64 guest_cr4(struct kvmx_vcpu *v)
{
	u64 mask = vmcs_read(VMCS_CR4_GUEST_HOST_MASK);

	return (vmcs_read(VMCS_GUEST_CR4) & ~mask) | (v->cr4 & mask);
}

/* Keep v->cr0/cr4 current with what the guest changed without exiting. */
void kvmx_sync_crs(struct kvmx_vcpu *v)
{
	v->cr0 = guest_cr0(v);
	v->cr4 = guest_cr4(v);
}

/*
 * PAE paging with EPT: VM entry loads the four PDPTEs from the VMCS (SDM
 * 26.3.2.4), so whenever kvmx changes CR0/CR3/CR4 behind the guest's back it
 * must read them from guest memory, as MOV to CR would have.
 */
int kvmx_load_pdptrs(struct kvmx_vcpu *v)
{
	u64 pdpte[4];
	int i;

	if (!(v->cr0 & X86_CR0_PG) || !(v->cr4 & X86_CR4_PAE) || (v->efer & EFER_LMA))
		return 0;
	if (kvmx_read_gpa(v, vmcs_read(VMCS_GUEST_CR3) & ~0x1fULL, pdpte, sizeof(pdpte)))
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		/* Reserved bits 1, 2, 5-8 must be clear in present entries. */
		if ((pdpte[i] & 1) && (pdpte[i] & 0x1e6))
			return -EINVAL;
		vmcs_write(VMCS_GUEST_PDPTE0 + 2 * i, pdpte[i]);
	}
	return 0;
}

/* Access rights at reset: present, DPL 0, code/data (S=1) or system. */
#define AR_RESET_CODE	0x9b	/* execute/read, accessed */
#define AR_RESET_DATA	0x93	/* read/write, accessed */
#define AR_RESET_LDT	0x82
#define AR_RESET_TSS	0x8b	/* busy 16-bit TSS */

/* The architectural state after RESET (SDM 10.1, Table 10-1), as KVM sets it. */
int kvmx_vcpu_reset(struct kvmx_vcpu *v)
{
	static const struct {
		u32 sel, base, limit, ar;
	} segs[] = {
		{ VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};
	unsigned int i;

	memset(v->regs, 0, sizeof(v->regs));
	/* Guest memory the old code registered is not the new code's (KVM too). */
	v->steal_time_msr = 0;
	v->steal_time_update = false;
	v->steal_time_hva = NULL;
	v->kvmclock_msr = 0;
	v->pv_eoi_msr = 0;
	v->pv_eoi_pending = false;
	WRITE_ONCE(v->pv_unhalted, false);	/* a kick meant for the old code */
	v->regs[REG_RDX] = 0x600;	/* processor signature, as KVM without CPUID */
	for (i = 0; i < ARRAY_SIZE(segs); i++) {
		vmcs_write(segs[i].sel, 0);
		vmcs_write(segs[i].base, 0);
		vmcs_write(segs[i].limit, 0xffff);
		vmcs_write(segs[i].ar, AR_RESET_DATA);
	}
	vmcs_write(VMCS_GUEST_CS_SELECTOR, 0xf000);
	vmcs_write(VMCS_GUEST_CS_BASE, 0xffff0000);
	vmcs_write(VMCS_GUEST_CS_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_CS_AR, AR_RESET_CODE);
	vmcs_write(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmcs_write(VMCS_GUEST_LDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_LDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_LDTR_AR, AR_RESET_LDT);
	vmcs_write(VMCS_GUEST_TR_SELECTOR, 0);
	vmcs_write(VMCS_GUEST_TR_BASE, 0);
	vmcs_write(VMCS_GUEST_TR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_TR_AR, AR_RESET_TSS);
	vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, 0xffff);

	vmcs_write(VMCS_GUEST_RIP, 0xfff0);
	vmcs_write(VMCS_GUEST_RSP, 0);
	vmcs_write(VMCS_GUEST_RFLAGS, X86_EFLAGS_FIXED);
	v->cr2 = 0;
	v->efer = 0;
	vmcs_write(VMCS_GUEST_IA32_EFER, 0);
	vmcs_write(VMCS_GUEST_CR3, 0);
	kvmx_set_cr0_hw(v, X86_CR0_ET | X86_CR0_CD | X86_CR0_NW);
	kvmx_set_cr4_hw(v, 0);
	kvmx_update_entry_ctls(v);
	v->dr[0] = v->dr[1] = v->dr[2] = v->dr[3] = 0;
	v->dr6 = KVMX_DR6_FIXED;
	v->dr7 = KVMX_DR7_FIXED;
	v->pkru = 0;
	vmcs_write(VMCS_GUEST_DR7, KVMX_DR7_FIXED);
	vmcs_write(VMCS_GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(VMCS_GUEST_IA32_PAT, 0x0007040600070406ULL);
	vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	v->xcr0 = XFEATURE_MASK_FP;
	v->star = v->lstar = v->cstar = v->fmask = v->kernel_gs_base = 0;
	v->tsc_aux = 0;
	v->misc_enable = MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL | MSR_IA32_MISC_ENABLE_BTS_UNAVAIL;
	v->apic_base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
		       (v->id == v->vm->bsp_id ? MSR_IA32_APICBASE_BSP : 0);
	v->cr8 = 0;
	v->pending_irq = -1;
	v->nmi_pending = 0;
	v->sipi_vector = 0;
	v->complete_userspace = NULL;
	v->exit_qual = 0;
	v->exc.pending = false;
	v->reinject_info = 0;
	v->kept_info = 0;
	v->triple_fault = false;
	v->flush_guest_tlb = true;
	return 0;
}

/* ---- KVM_GET/SET_REGS ---- */

void kvmx_get_regs(struct kvmx_vcpu *v, struct kvmx_regs *r)
{
	r->rax = v->regs[REG_RAX];
	r->rbx = v->regs[REG_RBX];
	r->rcx = v->regs[REG_RCX];
	r->rdx = v->regs[REG_RDX];
	r->rsi = v->regs[REG_RSI];
	r->rdi = v->regs[REG_RDI];
	r->rsp = vmcs_read(VMCS_GUEST_RSP);
	r->rbp = v->regs[REG_RBP];
	r->r8 = v->regs[REG_R8];
	r->r9 = v->regs[REG_R9];
	r->r10 = v->regs[REG_R10];
	r->r11 = v->regs[REG_R11];
	r->r12 = v->regs[REG_R12];
	r->r13 = v->regs[REG_R13];
	r->r14 = v->regs[REG_R14];
	r->r15 = v->regs[REG_R15];
	r->rip = vmcs_read(VMCS_GUEST_RIP);
	r->rflags = vmcs_read(VMCS_GUEST_RFLAGS);
}

void kvmx_set_regs(struct kvmx_vcpu *v, const struct kvmx_regs *r)
{
	v->regs[REG_RAX] = r->rax;
	v->regs[REG_RBX] = r->rbx;
	v->regs[REG_RCX] = r->rcx;
	v->regs[REG_RDX] = r->rdx;
	v->regs[REG_RSI] = r->rsi;
	v->regs[REG_RDI] = r->rdi;
	vmcs_write(VMCS_GUEST_RSP, r->rsp);
	v->regs[REG_RBP] = r->rbp;
	v->regs[REG_R8] = r->r8;
	v->regs[REG_R9] = r->r9;
	v->regs[REG_R10] = r->r10;
	v->regs[REG_R11] = r->r11;
	v->regs[REG_R12] = r->r12;
	v->regs[REG_R13] = r->r13;
	v->regs[REG_R14] = r->r14;
	v->regs[REG_R15] = r->r15;
	vmcs_write(VMCS_GUEST_RIP, r->rip);
	/* Reserved RFLAGS bits: bit 1 set, 3, 5, 15, 22-63 clear. */
	/*
	 * An I/O or MMIO exit in flight is still finished by the next KVM_RUN
	 * if RIP points at its instruction (kvmx_complete_userspace()), as
	 * KVM does: new registers alone don't cancel it.
	 */
	vmcs_write(VMCS_GUEST_RFLAGS, (r->rflags & 0x3f7fd5) | X86_EFLAGS_FIXED);
}

/* ---- KVM_GET/SET_SREGS ---- */

struct seg_fields {
	u32 sel, base, limit, ar;
};

static const struct seg_fields seg_cs = { VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE,
					   VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR };
static const struct seg_fields seg_ds = { VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE,
					   VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR };
static const struct seg_fields seg_es = { VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE,
					   VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR };
static const struct seg_fields seg_fs = { VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE,
					   VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR };
static const struct seg_fields seg_gs = { VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE,
					   VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR };
static const struct seg_fields seg_ss = { VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE,
					   VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR };
static const struct seg_fields seg_tr = { VMCS_GUEST_TR_SELECTOR, VMCS_GUEST_TR_BASE,
					   VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR };
static const struct seg_fields seg_ldt = { VMCS_GUEST_LDTR_SELECTOR, VMCS_GUEST_LDTR_BASE,
					    VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR };

/* VMCS access rights (SDM 25.4.1, Table 25-2) <-> struct kvm_segment. */
static void get_seg(const struct seg_fields *f, struct kvmx_segment *s)
{
	u32 ar = vmcs_read32(f->ar);

	s->selector = vmcs_read(f->sel);
	s->base = vmcs_read(f->base);
	s->limit = vmcs_read32(f->limit);
	s->unusable = !!(ar & VMX_AR_UNUSABLE);
	s->type = VMX_AR_TYPE(ar);
	s->s = !!(ar & VMX_AR_S);
	s->dpl = VMX_AR_DPL(ar);
	s->present = !s->unusable;
	s->avl = !!(ar & VMX_AR_AVL);
	s->l = !!(ar & VMX_AR_L);
	s->db = !!(ar & VMX_AR_DB);
	s->g = !!(ar & VMX_AR_G);
	s->padding = 0;
}

static void set_seg(const struct seg_fields *f, const struct kvmx_segment *s)
{
	u32 ar;

	if (s->unusable || !s->present)
		ar = VMX_AR_UNUSABLE;
	else
		ar = VMX_AR_TYPE(s->type) | ((s->s & 1) ? VMX_AR_S : 0) | ((s->dpl & 3) << 5) |
		     VMX_AR_P | ((s->avl & 1) ? VMX_AR_AVL : 0) | ((s->l & 1) ? VMX_AR_L : 0) |
		     ((s->db & 1) ? VMX_AR_DB : 0) | ((s->g & 1) ? VMX_AR_G : 0);
	vmcs_write(f->sel, s->selector);
	vmcs_write(f->base, s->base);
	vmcs_write(f->limit, s->limit);
	vmcs_write(f->ar, ar);
}

void kvmx_get_sregs(struct kvmx_vcpu *v, struct kvmx_sregs *s)
{
	memset(s, 0, sizeof(*s));
	get_seg(&seg_cs, &s->cs);
	get_seg(&seg_ds, &s->ds);
	get_seg(&seg_es, &s->es);
	get_seg(&seg_fs, &s->fs);
	get_seg(&seg_gs, &s->gs);
	get_seg(&seg_ss, &s->ss);
	get_seg(&seg_tr, &s->tr);
	get_seg(&seg_ldt, &s->ldt);
	s->gdt.base = vmcs_read(VMCS_GUEST_GDTR_BASE);
	s->gdt.limit = vmcs_read(VMCS_GUEST_GDTR_LIMIT);
	s->idt.base = vmcs_read(VMCS_GUEST_IDTR_BASE);
	s->idt.limit = vmcs_read(VMCS_GUEST_IDTR_LIMIT);
	kvmx_sync_crs(v);
	s->cr0 = v->cr0;
	s->cr2 = v->cr2;
	s->cr3 = vmcs_read(VMCS_GUEST_CR3);
	s->cr4 = v->cr4;
	s->cr8 = v->cr8;
	s->efer = v->efer;
	s->apic_base = v->apic_base;
	if (v->pending_irq >= 0)
		s->interrupt_bitmap[v->pending_irq / 64] |= 1ULL << (v->pending_irq % 64);
}

/*
 * CR4 bits a guest may set: what the CPU allows in VMX operation, minus
 * VMX/SMX, and minus OSXSAVE when the host kernel runs without XSAVE.
 */
u64 kvmx_cr4_allowed(void)
{
	u64 allowed = kvmx_host_caps.cr4_fixed1 & ~(u64)(X86_CR4_VMXE | X86_CR4_SMXE);

	if (!boot_cpu_has(X86_FEATURE_OSXSAVE))
		allowed &= ~(u64)X86_CR4_OSXSAVE;
	/* PKRU is switched only where the host uses protection keys. */
	if (!cpu_feature_enabled(X86_FEATURE_OSPKE))
		allowed &= ~(u64)X86_CR4_PKE;
	return allowed;
}

/* The checks KVM makes before it accepts special registers. */
static bool sregs_valid(struct kvmx_vcpu *v, const struct kvmx_sregs *s)
{
	if (s->efer & ~(u64)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
		return false;
	if ((s->cr0 >> 32) || ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE)) ||
	    ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD)))
		return false;
	if (s->cr4 & ~kvmx_cr4_allowed())
		return false;
	if (s->cr8 & ~0xfULL)
		return false;
	if (!kvmx_apic_base_valid(v, s->apic_base))
		return false;
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
		if (s->cr3 >> boot_cpu_data.x86_phys_bits)
			return false;
	} else if ((s->efer & EFER_LMA) || s->cs.l) {
		return false;
	}
	return true;
}

int kvmx_set_sregs(struct kvmx_vcpu *v, const struct kvmx_sregs *s)
{
	int i;

	if (!sregs_valid(v, s))
		return -EINVAL;
	set_seg(&seg_cs, &s->cs);
	set_seg(&seg_ds, &s->ds);
	set_seg(&seg_es, &s->es);
	set_seg(&seg_fs, &s->fs);
	set_seg(&seg_gs, &s->gs);
	set_seg(&seg_ss, &s->ss);
	set_seg(&seg_tr, &s->tr);
	set_seg(&seg_ldt, &s->ldt);
	vmcs_write(VMCS_GUEST_GDTR_BASE, s->gdt.base);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, s->gdt.limit);
	vmcs_write(VMCS_GUEST_IDTR_BASE, s->idt.base);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, s->idt.limit);
	v->cr2 = s->cr2;
	kvmx_lapic_set_cr8(v, s->cr8);
	vmcs_write(VMCS_GUEST_CR3, s->cr3);
	kvmx_set_cr0_hw(v, s->cr0);
	kvmx_set_cr4_hw(v, s->cr4);
	kvmx_set_efer(v, s->efer, true);
	if (v->apic)
		kvmx_lapic_set_msr(v, MSR_IA32_APICBASE, s->apic_base, true);
	else
		v->apic_base = s->apic_base;
	v->pending_irq = -1;
	for (i = 0; i < KVMX_NR_INTERRUPTS; i++) {
		if (s->interrupt_bitmap[i / 64] & (1ULL << (i % 64))) {
			v->pending_irq = i;
			break;
		}
	}
	/* New paging state: no translation of the old one may survive. */
	v->flush_guest_tlb = true;
	if (kvmx_load_pdptrs(v))
		return -EINVAL;
	return 0;
}

/* ---- KVM_GET/SET_FPU: the legacy region of the guest's XSAVE area ---- */

static void get_fpu(struct kvmx_vcpu *v, struct kvmx_fpu *f)
{
	struct fxregs_state *fx = &v->fpu.fpstate->regs.fxsave;

	memset(f, 0, sizeof(*f));
	memcpy(f->fpr, fx->st_space, sizeof(f->fpr));
	f->fcw = fx->cwd;
	f->fsw = fx->swd;
	f->ftwx = fx->twd;
	f->last_opcode = fx->fop;
	f->last_ip = fx->rip;
	f->last_dp = fx->rdp;
	memcpy(f->xmm, fx->xmm_space, sizeof(f->xmm));
	f->mxcsr = fx->mxcsr;
}

static int set_fpu(struct kvmx_vcpu *v, const struct kvmx_fpu *f)
{
	struct fxregs_state *fx = &v->fpu.fpstate->regs.fxsave;

	/* Reserved MXCSR bits would make the next XRSTOR fault in the host. */
	if (f->mxcsr >> 16)
		return -EINVAL;
	memcpy(fx->st_space, f->fpr, sizeof(f->fpr));
	fx->cwd = f->fcw;
	fx->swd = f->fsw;
	fx->twd = f->ftwx;
	fx->fop = f->last_opcode;
	fx->rip = f->last_ip;
	fx->rdp = f->last_dp;
	memcpy(fx->xmm_space, f->xmm, sizeof(f->xmm));
	fx->mxcsr = f->mxcsr;
	/* Make XRSTOR take x87 and SSE state from the legacy region. */
	if (boot_cpu_has(X86_FEATURE_XSAVE))
		v->fpu.fpstate->regs.xsave.header.xfeatures |= XFEATURE_MASK_FPSSE;
	return 0;
}

/* ---- the fd ---- */

static void vcpu_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct kvmx_vcpu *v = container_of(pn, struct kvmx_vcpu, pn);

	kvmx_spin_sched_in(v);
	kvmx_vcpu_load(v);
}

static void vcpu_sched_out(struct preempt_notifier *pn, struct task_struct *next)
{
	struct kvmx_vcpu *v = container_of(pn, struct kvmx_vcpu, pn);

	kvmx_spin_sched_out(v);
	kvmx_vcpu_put(v);
}

static struct preempt_ops kvmx_preempt_ops = {
	.sched_in = vcpu_sched_in,
	.sched_out = vcpu_sched_out,
};

static void vcpu_enter_ioctl(struct kvmx_vcpu *v)
{
	preempt_disable();
	preempt_notifier_register(&v->pn);
	kvmx_vcpu_load(v);
	preempt_enable();
}

static void vcpu_exit_ioctl(struct kvmx_vcpu *v)
{
	preempt_disable();
	kvmx_vcpu_put(v);
	preempt_notifier_unregister(&v->pn);
	preempt_enable();
}

/* KVM_ENABLE_CAP on a vCPU: the one KVM_CHECK_EXTENSION offers for it. */
static int vcpu_enable_cap(struct kvmx_vcpu *v, struct kvmx_enable_cap __user *u)
{
	struct kvmx_enable_cap cap;

	if (copy_from_user(&cap, u, sizeof(cap)))
		return -EFAULT;
	if (cap.flags)
		return -EINVAL;
	switch (cap.cap) {
	case KVMX_CAP_ENFORCE_PV_FEATURE_CPUID:
		v->enforce_pv_cpuid = cap.args[0];
		return 0;
	default:
		return -EINVAL;
	}
}

static long vcpu_ioctl_loaded(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp)
{
	union {
		struct kvmx_regs regs;
		struct kvmx_sregs sregs;
		struct kvmx_fpu fpu;
		struct kvmx_interrupt irq;
	} *u;
	long r;

	switch (ioctl) {
	case KVMX_RUN:
		kvmx_spin_set_pid(v);
		return kvmx_vcpu_run(v);
	case KVMX_GET_MSRS:
		return kvmx_vcpu_msrs_ioctl(v, argp, false);
	case KVMX_SET_MSRS:
		return kvmx_vcpu_msrs_ioctl(v, argp, true);
	case KVMX_SET_CPUID2:
		return kvmx_vcpu_set_cpuid(v, argp);
	case KVMX_GET_CPUID2:
		return kvmx_vcpu_get_cpuid(v, argp);
	case KVMX_GET_MP_STATE:
	case KVMX_SET_MP_STATE:
	case KVMX_GET_VCPU_EVENTS:
	case KVMX_SET_VCPU_EVENTS:
	case KVMX_GET_DEBUGREGS:
	case KVMX_SET_DEBUGREGS:
	case KVMX_GET_XSAVE:
	case KVMX_SET_XSAVE:
	case KVMX_GET_XCRS:
	case KVMX_SET_XCRS:
	case KVMX_GET_TSC_KHZ:
	case KVMX_SET_TSC_KHZ:
	case KVMX_SET_SIGNAL_MASK:
	case KVMX_NMI:
		return kvmx_vcpu_state_ioctl(v, ioctl, argp);
	case KVMX_X86_SETUP_MCE:
	case KVMX_X86_SET_MCE:
		return kvmx_mce_ioctl(v, ioctl, argp);
	case KVMX_GET_LAPIC:
	case KVMX_SET_LAPIC:
	case KVMX_SET_VAPIC_ADDR:
	case KVMX_TPR_ACCESS_REPORTING:
		return kvmx_lapic_ioctl(v, ioctl, argp);
	case KVMX_HAS_DEVICE_ATTR:
	case KVMX_GET_DEVICE_ATTR:
	case KVMX_SET_DEVICE_ATTR:
		return kvmx_tsc_attr_ioctl(v, ioctl, argp);
	case KVMX_ENABLE_CAP:
		return vcpu_enable_cap(v, argp);
	}

	u = kzalloc(sizeof(*u), GFP_KERNEL);
	if (!u)
		return -ENOMEM;
	r = 0;
	switch (ioctl) {
	case KVMX_GET_REGS:
		kvmx_get_regs(v, &u->regs);
		if (copy_to_user(argp, &u->regs, sizeof(u->regs)))
			r = -EFAULT;
		break;
	case KVMX_SET_REGS:
		if (copy_from_user(&u->regs, argp, sizeof(u->regs)))
			r = -EFAULT;
		else
			kvmx_set_regs(v, &u->regs);
		break;
	case KVMX_GET_SREGS:
		kvmx_get_sregs(v, &u->sregs);
		if (copy_to_user(argp, &u->sregs, sizeof(u->sregs)))
			r = -EFAULT;
		break;
	case KVMX_SET_SREGS:
		if (copy_from_user(&u->sregs, argp, sizeof(u->sregs)))
			r = -EFAULT;
		else
			r = kvmx_set_sregs(v, &u->sregs);
		break;
	case KVMX_GET_FPU:
		get_fpu(v, &u->fpu);
		if (copy_to_user(argp, &u->fpu, sizeof(u->fpu)))
			r = -EFAULT;
		break;
	case KVMX_SET_FPU:
		if (copy_from_user(&u->fpu, argp, sizeof(u->fpu)))
			r = -EFAULT;
		else
			r = set_fpu(v, &u->fpu);
		break;
	case KVMX_INTERRUPT: {
		/*
		 * The VMM's 8259 (no in-kernel one): one interrupt may wait.
		 * With a split irqchip it is an ExtINT for LINT0 to take.
		 */
		int *slot = v->apic ? &v->pending_extint : &v->pending_irq;

		if (copy_from_user(&u->irq, argp, sizeof(u->irq)))
			r = -EFAULT;
		else if (u->irq.irq >= KVMX_NR_INTERRUPTS)
			r = -EINVAL;
		else if (v->apic && !v->vm->irqchip->split)
			r = -ENXIO;	/* the in-kernel PIC and APIC decide, as in KVM */
		else if (*slot >= 0)
			r = -EEXIST;
		else
			*slot = u->irq.irq;
		break;
	}
	default:
		r = -ENOTTY;
	}
	kfree(u);
	return r;
}

static long kvmx_vcpu_ioctl(struct file *file, unsigned int ioctl, unsigned long arg)
{
	struct kvmx_vcpu *v = file->private_data;
	long r;

	if (v->vm->mm != current->mm)
		return -EIO;
	/* Needs no VMCS, and must not wait for a running vCPU. */
	if (ioctl == KVMX_GET_STATS_FD)
		return kvmx_vcpu_stats_fd(file);
	if (mutex_lock_killable(&v->mutex))
		return -EINTR;
	vcpu_enter_ioctl(v);
	r = vcpu_ioctl_loaded(v, ioctl, (void __user *)arg);
	/* A `kvmx vmcs` reader that found us busy: answer before letting go. */
	if (unlikely(READ_ONCE(v->vm->snap_vcpu) == v->id))
		kvmx_vcpu_serve_snapshot(v);
	vcpu_exit_ioctl(v);
	mutex_unlock(&v->mutex);
	return r;
}

static vm_fault_t kvmx_vcpu_fault(struct vm_fault *vmf)
{
	struct kvmx_vcpu *v = vmf->vma->vm_file->private_data;

	if (vmf->pgoff >= KVMX_RUN_PAGES)
		return VM_FAULT_SIGBUS;
	vmf->page = v->run_pages[vmf->pgoff];
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct kvmx_vcpu_vm_ops = {
	.fault = kvmx_vcpu_fault,
};

static int kvmx_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff + vma_pages(vma) > KVMX_RUN_PAGES ||
	    vma->vm_pgoff + vma_pages(vma) < vma->vm_pgoff)
		return -EINVAL;
	vma->vm_ops = &kvmx_vcpu_vm_ops;
	return 0;
}

static void vcpu_free(struct kvmx_vcpu *v)
{
	int i;

	kvmx_lapic_free(v);
	kvmx_spin_vcpu_free(v);
	kvmx_ept_vcpu_free(v);
	kvmx_vmcs_free(v);
	kvmx_vpid_free(v->vpid);
	if (v->fpu.fpstate)
		fpu_free_guest_fpstate(&v->fpu);
	for (i = 0; i < KVMX_RUN_PAGES; i++) {
		if (v->run_pages[i]) {
			__free_page(v->run_pages[i]);
			kvmx_acct_add(run_pages, -1);
		}
	}
	kfree(v->cpuid);
	kfree(v);
	kvmx_acct_add(vcpus, -1);
	kvmx_acct_add(kmalloc_bytes, -(long)sizeof(*v));
}

/* Take a published vCPU out of its VM and free it, with the VM reference it held. */
static void vcpu_unpublish_free(struct kvmx_vcpu *v)
{
	struct kvmx_vm *vm = v->vm;
	bool others;

	mutex_lock(&vm->lock);
	vm->vcpus[v->id] = NULL;
	others = --vm->nr_vcpus;
	mutex_unlock(&vm->lock);
	/*
	 * IPIs and device interrupts, and other vCPUs looking for one to
	 * yield to (spin.c), look vCPUs up under RCU: let them finish.
	 */
	if (v->apic || others)
		synchronize_rcu();
	vcpu_free(v);
	kvmx_vm_put(vm);
}

static int kvmx_vcpu_release(struct inode *inode, struct file *file)
{
	vcpu_unpublish_free(file->private_data);
	return 0;
}

static const struct file_operations kvmx_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= kvmx_vcpu_release,
	.unlocked_ioctl	= kvmx_vcpu_ioctl,
	.compat_ioctl	= kvmx_vcpu_ioctl,
	.mmap		= kvmx_vcpu_mmap,
	.llseek		= noop_llseek,
};

long kvmx_create_vcpu(struct kvmx_vm *vm, unsigned long id)
{
	struct kvmx_vcpu *v;
	int i, fd, err;

	/* The ID limit (KVM_CAP_MAX_VCPU_ID) is fixed from the first vCPU on, as in KVM. */
	mutex_lock(&vm->lock);
	if (!vm->max_vcpu_ids)
		vm->max_vcpu_ids = KVMX_MAX_VCPUS;
	err = id >= vm->max_vcpu_ids ? -EINVAL : 0;
	mutex_unlock(&vm->lock);
	if (err)
		return err;
	v = kzalloc(sizeof(*v), GFP_KERNEL_ACCOUNT);
	if (!v)
		return -ENOMEM;
	kvmx_acct_add(vcpus, 1);
	kvmx_acct_add(kmalloc_bytes, sizeof(*v));
	v->vm = vm;
	v->id = id;
	kvmx_mce_init(v);
	v->cpu = -1;
	v->last_cpu = -1;
	v->guest_cpu = -1;
	v->pending_extint = -1;
	v->user_ioapic_eoi = -1;
	init_waitqueue_head(&v->wq);
	INIT_LIST_HEAD(&v->loaded_link);
	mutex_init(&v->mutex);
	preempt_notifier_init(&v->pn, &kvmx_preempt_ops);
	err = -ENOMEM;
	for (i = 0; i < KVMX_RUN_PAGES; i++) {
		v->run_pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!v->run_pages[i])
			goto fail;
		kvmx_acct_add(run_pages, 1);
	}
	v->run = page_address(v->run_pages[0]);
	if (!fpu_alloc_guest_fpstate(&v->fpu))
		goto fail;
	err = kvmx_vmcs_alloc(v);
	if (err)
		goto fail;
	v->vpid = kvmx_vpid_alloc();

	preempt_disable();
	kvmx_vcpu_load(v);
	kvmx_vmcs_setup(v);
	kvmx_spin_vcpu_init(v);
	kvmx_tsc_vcpu_init(v);
	preempt_enable();

	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		mutex_unlock(&vm->lock);
		err = -EEXIST;
		goto fail;
	}
	/* Checked under the lock KVM_CREATE_IRQCHIP takes: every vCPU or none has an APIC. */
	if (vm->irqchip) {
		err = kvmx_lapic_create(v);
		if (err) {
			mutex_unlock(&vm->lock);
			goto fail;
		}
		/* Application processors wait in KVM_RUN for INIT and SIPI. */
		if (id != vm->bsp_id)
			v->mp_state = KVMX_MP_STATE_UNINITIALIZED;
	}
	/* Published last: other vCPUs' IPIs find it here (under RCU). */
	smp_wmb();
	vm->vcpus[id] = v;
	vm->nr_vcpus++;
	kref_get(&vm->ref);
	mutex_unlock(&vm->lock);

	fd = anon_inode_getfd("kvmx-vcpu", &kvmx_vcpu_fops, v, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		vcpu_unpublish_free(v);
	return fd;
fail:
	vcpu_free(v);
	return err;
}
