// SPDX-License-Identifier: GPL-2.0
/*
 * Host state around guest runs: what VM exit does not restore by itself
 * (SDM 28.5) and kvmx must put back before the host uses it.
 *
 * Lazily, once per stretch of runs (kvmx_vcpu_prepare_host() before the
 * first entry, kvmx_vcpu_restore_host() when the thread leaves the CPU or
 * KVM_RUN returns): data segment selectors, the LDT, FS/GS selectors with
 * RPL/TI bits, the SYSCALL/SWAPGS MSRs (which hold the guest's values in
 * between), the GDT and TSS limits.  Per entry: the VMCS host CR3/CR4 and
 * HOST_RSP.  DEBUGCTL, DR7 and PKRU are handled around each entry in run.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/pkru.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

#include "kvmx.h"
#include "vmx_ops.h"

static void host_msrs_save_and_load_guest(struct kvmx_vcpu *v)
{
	rdmsrl(MSR_KERNEL_GS_BASE, v->host_kernel_gs_base);
	rdmsrl(MSR_STAR, v->host_star);
	rdmsrl(MSR_LSTAR, v->host_lstar);
	rdmsrl(MSR_CSTAR, v->host_cstar);
	rdmsrl(MSR_SYSCALL_MASK, v->host_fmask);
	wrmsrl(MSR_KERNEL_GS_BASE, v->kernel_gs_base);
	if (v->star != v->host_star)
		wrmsrl(MSR_STAR, v->star);
	if (v->lstar != v->host_lstar)
		wrmsrl(MSR_LSTAR, v->lstar);
	if (v->cstar != v->host_cstar)
		wrmsrl(MSR_CSTAR, v->cstar);
	if (v->fmask != v->host_fmask)
		wrmsrl(MSR_SYSCALL_MASK, v->fmask);
}

/* The guest may have changed KERNEL_GS_BASE with SWAPGS: keep its value. */
static void host_msrs_save_guest(struct kvmx_vcpu *v)
{
	rdmsrl(MSR_KERNEL_GS_BASE, v->kernel_gs_base);
}

static void host_msrs_restore(struct kvmx_vcpu *v)
{
	wrmsrl(MSR_KERNEL_GS_BASE, v->host_kernel_gs_base);
	if (v->star != v->host_star)
		wrmsrl(MSR_STAR, v->host_star);
	if (v->lstar != v->host_lstar)
		wrmsrl(MSR_LSTAR, v->host_lstar);
	if (v->cstar != v->host_cstar)
		wrmsrl(MSR_CSTAR, v->host_cstar);
	if (v->fmask != v->host_fmask)
		wrmsrl(MSR_SYSCALL_MASK, v->host_fmask);
}

/* Called by vmx_entry.S right before entry, with the stack VM exit will use. */
void kvmx_update_host_rsp(struct kvmx_vcpu *v, unsigned long host_rsp)
{
	if (unlikely(v->host_rsp != host_rsp)) {
		v->host_rsp = host_rsp;
		vmcs_write(VMCS_HOST_RSP, host_rsp);
	}
}

/* Called before each VM entry with interrupts off: CR3/CR4 may change. */
void kvmx_vmcs_refresh_host_crs(struct kvmx_vcpu *v)
{
	unsigned long cr3 = __read_cr3(), cr4 = cr4_read_shadow();

	if (unlikely(cr3 != v->host_cr3)) {
		v->host_cr3 = cr3;
		vmcs_write(VMCS_HOST_CR3, cr3);
	}
	if (unlikely(cr4 != v->host_cr4)) {
		v->host_cr4 = cr4;
		vmcs_write(VMCS_HOST_CR4, cr4);
	}
}

static u16 read_ldt(void)
{
	u16 ldt;

	asm("sldt %0" : "=g"(ldt));
	return ldt;
}

/*
 * Host state the guest's run changes and that is put back lazily: data
 * segment selectors, the LDT (VM exit makes LDTR unusable), a GS selector
 * with RPL/TI bits (the VMCS can't hold it), the MSRs of SYSCALL and SWAPGS,
 * the GDT and TSS limits (VM exit sets them to 0xffff and 0x67, SDM 28.5.2).
 * DEBUGCTL (cleared by every exit) and PKRU are put back after each exit.
 */
void kvmx_vcpu_prepare_host(struct kvmx_vcpu *v)
{
	u16 fs, gs;
	u64 base;

	if (v->host_state_dirty)
		return;
	v->host_debugctl = get_debugctlmsr();
	if (cpu_feature_enabled(X86_FEATURE_OSPKE))
		v->host_pkru = read_pkru();
	v->host_ldt = read_ldt();
	savesegment(ds, v->host_ds);
	savesegment(es, v->host_es);
	savesegment(fs, fs);
	savesegment(gs, gs);
	/* VM exit loads these selectors; RPL/TI bits are not allowed there. */
	if (fs != v->host_fs) {
		v->host_fs = fs;
		vmcs_write(VMCS_HOST_FS_SELECTOR, (fs & 7) ? 0 : fs);
	}
	if (gs != v->host_gs) {
		v->host_gs = gs;
		vmcs_write(VMCS_HOST_GS_SELECTOR, (gs & 7) ? 0 : gs);
	}
	rdmsrl(MSR_FS_BASE, base);
	vmcs_write(VMCS_HOST_FS_BASE, base);
	rdmsrl(MSR_GS_BASE, base);
	vmcs_write(VMCS_HOST_GS_BASE, base);

	host_msrs_save_and_load_guest(v);
	v->host_state_dirty = true;
}

void kvmx_vcpu_restore_host(struct kvmx_vcpu *v)
{
	if (!v->host_state_dirty)
		return;
	v->host_state_dirty = false;
	/* The guest's SWAPGS base first: loading GS below overwrites it. */
	host_msrs_save_guest(v);
	/* The LDT first: any of the selectors below may point into it. */
	if (v->host_ldt || (v->host_gs & 7)) {
		asm volatile("lldt %0" : : "rm"(v->host_ldt));
		load_gs_index(v->host_gs);
	}
	if (v->host_fs & 7)
		loadsegment(fs, v->host_fs);
	if (v->host_ds | v->host_es) {
		loadsegment(ds, v->host_ds);
		loadsegment(es, v->host_es);
	}
	host_msrs_restore(v);
	invalidate_tss_limit();
	load_fixmap_gdt(raw_smp_processor_id());
}
