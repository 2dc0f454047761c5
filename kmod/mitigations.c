// SPDX-License-Identifier: GPL-2.0
/*
 * Speculative-execution mitigations around VM entry, chosen the way the host
 * kernel and kvm_intel choose them, so kvmx is never the cheaper-because-less-
 * safe hypervisor:
 *
 *  - L1TF: flush the L1 data cache before VM entry when the CPU has the bug,
 *    unless ARCH_CAPABILITIES says entry needn't (SKIP_VMENTRY_L1DFLUSH) or
 *    the kernel was told l1tf=off / mitigations=off.  As kvm_intel's default
 *    ("cond"), only after the host may have pulled secrets into L1D: the
 *    thread came back from userspace or another CPU, kvmx emulated an
 *    instruction or copied guest memory, or an interrupt ran on this CPU
 *    (not after an EPT fault that only mapped a page, as kvm_intel).  With
 *    X86_FEATURE_FLUSH_L1D the CPU does it (IA32_FLUSH_CMD); else we read a
 *    64 KiB buffer.
 *  - MDS / MMIO stale data: VERW right before VMLAUNCH/VMRESUME, in
 *    vmx_entry.S (the kernel's VM_CLEAR_CPU_BUFFERS alternative).
 *  - Spectre v2 / RSB: the return stack is refilled after every VM exit
 *    (X86_FEATURE_RSB_VMEXIT alternative, vmx_entry.S).
 *  - SPEC_CTRL: with legacy IBRS (X86_FEATURE_KERNEL_IBRS) the host's value
 *    is written again after every exit, before the first RET: IBRS protects
 *    only after a write made in the more privileged mode.  The guest can't
 *    write SPEC_CTRL (not offered), so it runs with the host's value.
 *  - BHI: the branch history is cleared after every exit where the kernel
 *    asks (X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT, vmx_entry.S).
 *  - Branch predictors: IBPB when a CPU switches to another vCPU's VMCS
 *    (X86_FEATURE_USE_IBPB), as kvm_intel 6.1 does; VMSCAPE: IBPB before the
 *    CPU that ran a guest returns to userspace (X86_FEATURE_IBPB_EXIT_TO_USER,
 *    run.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/hardirq.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/processor.h>

#include "kvmx.h"

/* L1D of the CPUs with L1TF: 32 KiB; read twice that, as kvm_intel does. */
#define L1D_FLUSH_ORDER	4

enum kvmx_l1d_flush kvmx_l1d_flush_mode;
static void *l1d_flush_buf;

static bool l1d_flush_needed_by_cpu(void)
{
	u64 caps = 0;

	if (!boot_cpu_has_bug(X86_BUG_L1TF))
		return false;
	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrl_safe(MSR_IA32_ARCH_CAPABILITIES, &caps);
	return !(caps & ARCH_CAP_SKIP_VMENTRY_L1DFLUSH);
}

int kvmx_mitigations_init(void)
{
	kvmx_l1d_flush_mode = KVMX_L1D_FLUSH_NEVER;
	if (l1d_flush_needed_by_cpu() && l1tf_mitigation != L1TF_MITIGATION_OFF)
		kvmx_l1d_flush_mode = l1tf_mitigation == L1TF_MITIGATION_FULL_FORCE ?
				      KVMX_L1D_FLUSH_ALWAYS : KVMX_L1D_FLUSH_COND;
	if (kvmx_l1d_flush_mode != KVMX_L1D_FLUSH_NEVER &&
	    !boot_cpu_has(X86_FEATURE_FLUSH_L1D)) {
		struct page *p = alloc_pages(GFP_KERNEL | __GFP_ZERO, L1D_FLUSH_ORDER);

		if (!p)
			return -ENOMEM;
		l1d_flush_buf = page_address(p);
	}
	pr_info("VM-entry mitigations: L1D flush %s%s, mitigations mask %#llx (kvmx info lists them)\n",
		kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_NEVER ? "off" :
		kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_COND ? "when needed" : "always",
		kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_NEVER ? "" :
		l1d_flush_buf ? " (software)" : " (IA32_FLUSH_CMD)",
		kvmx_mitigations_active());
	return 0;
}

/* The same alternatives vmx_entry.S and run.c follow, as KVMX_MITIGATION_* bits. */
u64 kvmx_mitigations_active(void)
{
	u64 m = 0;

	if (kvmx_l1d_flush_mode != KVMX_L1D_FLUSH_NEVER)
		m |= KVMX_MITIGATION_L1D_FLUSH;
	if (kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_COND)
		m |= KVMX_MITIGATION_L1D_FLUSH_COND;
#ifdef X86_FEATURE_CLEAR_CPU_BUF_VM
	if (cpu_feature_enabled(X86_FEATURE_CLEAR_CPU_BUF_VM))
#else
	if (cpu_feature_enabled(X86_FEATURE_CLEAR_CPU_BUF))
#endif
		m |= KVMX_MITIGATION_VERW;
	if (cpu_feature_enabled(X86_FEATURE_RSB_VMEXIT))
		m |= KVMX_MITIGATION_RSB_FILL;
	if (cpu_feature_enabled(X86_FEATURE_USE_IBPB))
		m |= KVMX_MITIGATION_IBPB_SWITCH;
	if (cpu_feature_enabled(X86_FEATURE_MSR_SPEC_CTRL))
		m |= KVMX_MITIGATION_SPEC_CTRL;
	if (cpu_feature_enabled(X86_FEATURE_KERNEL_IBRS))
		m |= KVMX_MITIGATION_KERNEL_IBRS;
#ifdef X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT
	if (cpu_feature_enabled(X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT))
		m |= KVMX_MITIGATION_BHI_CLEAR;
#endif
#ifdef X86_FEATURE_IBPB_EXIT_TO_USER
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		m |= KVMX_MITIGATION_IBPB_EXIT_USER;
#endif
	return m;
}

/*
 * Right after the exit's RSB fill, before any unbalanced RET (vmx_entry.S):
 * the guest ran with the host's SPEC_CTRL (it can't write its own), so only
 * legacy IBRS needs the write, to take effect again in the host (what
 * kvm_intel's vmx_spec_ctrl_restore_host() does when the values match).
 */
noinstr void kvmx_spec_ctrl_restore_host(void)
{
	if (!cpu_feature_enabled(X86_FEATURE_MSR_SPEC_CTRL))
		return;
	if (cpu_feature_enabled(X86_FEATURE_KERNEL_IBRS))
		native_wrmsrl(MSR_IA32_SPEC_CTRL, this_cpu_read(x86_spec_ctrl_current));
	barrier_nospec();
}

void kvmx_mitigations_exit(void)
{
	if (l1d_flush_buf)
		free_pages((unsigned long)l1d_flush_buf, L1D_FLUSH_ORDER);
	l1d_flush_buf = NULL;
}

/* Interrupts are off: the next thing this CPU does is VM entry. */
void kvmx_l1d_flush(struct kvmx_vcpu *v)
{
	unsigned int size = PAGE_SIZE << L1D_FLUSH_ORDER, i;

	if (kvmx_l1d_flush_mode == KVMX_L1D_FLUSH_COND) {
		bool flush = v->l1d_flush_pending || kvm_get_cpu_l1tf_flush_l1d();

		v->l1d_flush_pending = false;
		kvm_clear_cpu_l1tf_flush_l1d();
		if (!flush)
			return;
	}
	v->stat.l1d_flushes++;
	if (!l1d_flush_buf) {
		native_wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);
		return;
	}
	/* Fill the TLB first so the second pass only evicts cache lines. */
	for (i = 0; i < size; i += PAGE_SIZE)
		READ_ONCE(((u8 *)l1d_flush_buf)[i]);
	barrier();
	for (i = 0; i < size; i += L1_CACHE_BYTES)
		READ_ONCE(((u8 *)l1d_flush_buf)[i]);
}
