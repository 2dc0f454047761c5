// SPDX-License-Identifier: GPL-2.0
/*
 * The VMCS of a vCPU: allocation, the controls and host state it is set up
 * with, loading it on the CPU the vCPU thread runs on (and clearing it from
 * the one it left), and a readable dump for when things go wrong.
 *
 * A VMCS is "active" on at most one CPU (SDM 25.11.1): before it may be
 * loaded elsewhere it must be VMCLEARed on its old CPU.  Each CPU keeps a
 * list of the VMCSs active on it so VMXOFF (last VM gone, CPU going offline)
 * can clear them first.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <asm/cpu_entry_area.h>
#include <asm/desc.h>
#include <asm/apicdef.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

#include <asm/tsc.h>

#include "kvmx.h"
#include "vmx_ops.h"

static DEFINE_PER_CPU(struct list_head, loaded_vmcss);
static DEFINE_PER_CPU(void *, current_vmcs);

/* I/O and MSR bitmaps with every bit set: every port and MSR access exits. */
static void *io_bitmap_a, *io_bitmap_b, *msr_bitmap;
/*
 * The MSR bitmap of a vCPU whose x2APIC the CPU virtualizes (SDM 29.5):
 * RDMSR of the x2APIC range reads the virtual-APIC page, WRMSR of TPR, EOI
 * and SELF IPI are virtualized; all else still exits.  TMCCT (0x839) exits,
 * as in KVM: the page does not hold the timer's current count.
 */
static void *msr_bitmap_x2apic;

static DEFINE_SPINLOCK(vpid_lock);
static DECLARE_BITMAP(vpid_bitmap, 1 << 16);

/*
 * The highest VPID handed out.  VPIDs are 16 bits; past the last one a
 * vCPU runs without (its translations flushed at every entry and exit)
 * instead of failing.  Lower it to see that happen.
 */
static unsigned int max_vpid = 0xffff;
module_param(max_vpid, uint, 0644);
MODULE_PARM_DESC(max_vpid, "highest VPID to use (1-65535); later vCPUs run without VPID");

void kvmx_vmcs_access_failed(const char *insn, unsigned long field)
{
	pr_err_ratelimited("%s of VMCS field %#lx failed (error %u)\n", insn, field,
			   insn[3] == 'r' ? 0 : (u32)vmcs_read(VMCS_VM_INSTRUCTION_ERROR));
}

int kvmx_vpid_alloc(void)
{
	unsigned int limit;
	int vpid;

	if (!kvmx_ctls.vpid)
		return 0;
	spin_lock(&vpid_lock);
	limit = min_t(unsigned int, READ_ONCE(max_vpid), 0xffff) + 1;
	vpid = find_next_zero_bit(vpid_bitmap, limit, 1);
	if (vpid < limit)
		__set_bit(vpid, vpid_bitmap);
	else
		vpid = 0;	/* out of VPIDs: run untagged, flushed on entry */
	spin_unlock(&vpid_lock);
	return vpid;
}

void kvmx_vpid_free(int vpid)
{
	if (!vpid)
		return;
	spin_lock(&vpid_lock);
	__clear_bit(vpid, vpid_bitmap);
	spin_unlock(&vpid_lock);
}

int kvmx_vmcs_alloc(struct kvmx_vcpu *v)
{
	struct page *page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);

	if (!page)
		return -ENOMEM;
	kvmx_acct_add(vmcs_pages, 1);
	v->vmcs = page_address(page);
	v->vmcs_pa = page_to_phys(page);
	/* SDM 25.2: the first dword holds the VMCS revision identifier. */
	*(u32 *)v->vmcs = VMXCAP_BASIC_REVISION(kvmx_host_caps.basic);
	v->cpu = -1;
	INIT_LIST_HEAD(&v->loaded_link);
	return 0;
}

/* Runs on the CPU where @v's VMCS is active. */
static void __vmcs_clear(void *arg)
{
	struct kvmx_vcpu *v = arg;
	int cpu = smp_processor_id();

	if (v->cpu != cpu)
		return;
	if (per_cpu(current_vmcs, cpu) == v->vmcs)
		per_cpu(current_vmcs, cpu) = NULL;
	vmx_vmclear(v->vmcs_pa);
	list_del_init(&v->loaded_link);
	/* The list must not point at us before anyone sees cpu = -1. */
	smp_wmb();
	v->cpu = -1;
	v->launched = false;
}

static void vmcs_clear(struct kvmx_vcpu *v)
{
	int cpu = READ_ONCE(v->cpu);

	if (cpu >= 0)
		smp_call_function_single(cpu, __vmcs_clear, v, 1);
}

void kvmx_vmcs_free(struct kvmx_vcpu *v)
{
	vmcs_clear(v);
	if (v->vmcs) {
		free_page((unsigned long)v->vmcs);
		kvmx_acct_add(vmcs_pages, -1);
	}
	v->vmcs = NULL;
}

/* Before VMXOFF on this CPU: VMCLEAR every VMCS active here. */
void kvmx_vmcs_clear_cpu(int cpu)
{
	struct kvmx_vcpu *v, *tmp;

	list_for_each_entry_safe(v, tmp, per_cpu_ptr(&loaded_vmcss, cpu), loaded_link)
		__vmcs_clear(v);
}

/* Host state that differs between CPUs (SDM 27.2.3, 28.5). */
static void set_per_cpu_host_state(int cpu)
{
	u64 v;

	vmcs_write(VMCS_HOST_TR_BASE,
		   (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	vmcs_write(VMCS_HOST_GDTR_BASE, (unsigned long)get_current_gdt_ro());
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_ESP, v);
	rdmsrl(MSR_GS_BASE, v);
	vmcs_write(VMCS_HOST_GS_BASE, v);
}

/*
 * Make @v's VMCS current on this CPU.  Preemption must be off; interrupts
 * on (the VMCS may have to be cleared on another CPU first).
 */
void kvmx_vcpu_load(struct kvmx_vcpu *v)
{
	int cpu = smp_processor_id();
	bool moved = v->cpu != cpu;

	if (moved) {
		vmcs_clear(v);
		/* Pairs with the smp_wmb() in __vmcs_clear(). */
		smp_rmb();
		local_irq_disable();
		list_add(&v->loaded_link, this_cpu_ptr(&loaded_vmcss));
		local_irq_enable();
	}
	/* Userspace or another thread ran here: L1D may hold their data. */
	v->l1d_flush_pending = true;
	/* The thread may have waited for this CPU: steal time to account. */
	v->steal_time_update = true;
	if (this_cpu_read(current_vmcs) != v->vmcs) {
		/* Another vCPU ran here: keep its branch history from this one. */
		indirect_branch_prediction_barrier();
		this_cpu_write(current_vmcs, v->vmcs);
		if (vmx_vmptrld(v->vmcs_pa))
			pr_err_ratelimited("VMPTRLD failed on CPU %d\n", cpu);
	}
	if (moved) {
		set_per_cpu_host_state(cpu);
		/*
		 * This CPU may hold stale translations tagged with our VPID,
		 * or with our EPTP: a freed VM's root page can become ours, and
		 * what another VM cached under it must not be used for us.
		 */
		if (v->vpid)
			vmx_invvpid((kvmx_host_caps.ept_vpid_cap & VPID_CAP_SINGLE) ?
				    INVVPID_SINGLE_CONTEXT : INVVPID_ALL_CONTEXT, v->vpid, 0);
		kvmx_ept_flush_local(v->vm);
		v->stat.ept_flushes++;
		v->cpu = cpu;
	}
}

void kvmx_vcpu_put(struct kvmx_vcpu *v)
{
	kvmx_vcpu_restore_host(v);
}

/* Set up a new vCPU's VMCS; it is current on this CPU. */
void kvmx_vmcs_setup(struct kvmx_vcpu *v)
{
	struct desc_ptr idt;
	u64 msr;

	vmcs_write(VMCS_VMCS_LINK_POINTER, ~0ULL);

	/* Controls (SDM 25.6-25.8), as chosen at load time. */
	vmcs_write(VMCS_PIN_BASED_CTLS, kvmx_ctls.pin);
	/*
	 * The VMX-preemption timer (SDM 26.5.1) makes a guest exit after about
	 * a millisecond without exits, whatever it does: the host then gets
	 * its interrupts even where they alone would not reach it (Bochs
	 * takes none out of a guest with IF=0).  Its rate is the TSC's,
	 * divided by 2^IA32_VMX_MISC[4:0]; without "save preemption timer
	 * value" every entry starts it afresh.
	 */
	if (kvmx_ctls.pin & PIN_PREEMPTION_TIMER)
		vmcs_write(VMCS_PREEMPTION_TIMER_VALUE,
			   max_t(u64, 1, min_t(u64, U32_MAX,
					       (u64)tsc_khz >> (kvmx_host_caps.misc & 0x1f))));
	v->proc_ctls = kvmx_ctls.proc;
	vmcs_write(VMCS_PROC_BASED_CTLS, v->proc_ctls);
	/* VPID 0 is the host's: a vCPU without its own runs untagged. */
	vmcs_write(VMCS_PROC_BASED_CTLS2,
		   v->vpid ? kvmx_ctls.proc2 : kvmx_ctls.proc2 & ~PROC2_ENABLE_VPID);
	vmcs_write(VMCS_EXIT_CTLS, kvmx_ctls.exit);
	v->entry_ctls = kvmx_ctls.entry;
	vmcs_write(VMCS_ENTRY_CTLS, v->entry_ctls);
	if (kvmx_ctls.vpid)
		vmcs_write(VMCS_VPID, v->vpid);
	vmcs_write(VMCS_EPT_POINTER, v->vm->eptp);
	v->vm->ept_used = true;
	vmcs_write(VMCS_IO_BITMAP_A, __pa(io_bitmap_a));
	vmcs_write(VMCS_IO_BITMAP_B, __pa(io_bitmap_b));
	vmcs_write(VMCS_MSR_BITMAP, __pa(msr_bitmap));
	/*
	 * #DB and #AC always exit, so no guest can make the CPU deliver them
	 * to itself for ever (CVE-2015-8104, CVE-2015-5307); #MC so the host's
	 * handler sees machine checks that hit the guest; #UD for VMMCALL
	 * (exit_handlers.c).
	 */
	vmcs_write(VMCS_EXCEPTION_BITMAP, BIT(X86_VEC_DB) | BIT(X86_VEC_AC) | BIT(X86_VEC_MC) |
		   BIT(X86_VEC_UD));
	vmcs_write(VMCS_PAGE_FAULT_ERROR_MASK, 0);
	vmcs_write(VMCS_PAGE_FAULT_ERROR_MATCH, 0);
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_TSC_OFFSET, 0);

	/*
	 * CR0/CR4 bits kvmx owns (SDM 25.6.6): the guest reads them from the
	 * shadow and writing a different value exits.  PE/PG decide EFER.LMA
	 * and the IA-32e entry control; NE and VMXE are forced to 1 in the
	 * real register by the VMX fixed bits, the guest must not see that;
	 * OSXSAVE and PKE decide whether XCR0 and PKRU are switched on entry;
	 * MCE stays the host's in the real register.
	 */
	vmcs_write(VMCS_CR0_GUEST_HOST_MASK, X86_CR0_PE | X86_CR0_PG | X86_CR0_NE);
	vmcs_write(VMCS_CR4_GUEST_HOST_MASK, X86_CR4_VMXE | X86_CR4_SMXE | X86_CR4_OSXSAVE |
		   X86_CR4_PKE | X86_CR4_MCE | (u32)~kvmx_host_caps.cr4_fixed1);

	/* Host state (SDM 27.2.2-27.2.4); per-CPU parts in kvmx_vcpu_load(). */
	vmcs_write(VMCS_HOST_CR0, read_cr0());
	v->host_cr3 = __read_cr3();
	vmcs_write(VMCS_HOST_CR3, v->host_cr3);
	v->host_cr4 = cr4_read_shadow();
	vmcs_write(VMCS_HOST_CR4, v->host_cr4);
	vmcs_write(VMCS_HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(VMCS_HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(VMCS_HOST_DS_SELECTOR, 0);
	vmcs_write(VMCS_HOST_ES_SELECTOR, 0);
	vmcs_write(VMCS_HOST_FS_SELECTOR, 0);
	vmcs_write(VMCS_HOST_GS_SELECTOR, 0);
	vmcs_write(VMCS_HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	store_idt(&idt);
	vmcs_write(VMCS_HOST_IDTR_BASE, idt.address);
	vmcs_write(VMCS_HOST_RIP, (unsigned long)kvmx_vmexit);
	rdmsrl(MSR_IA32_SYSENTER_CS, msr);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_CS, msr);
	rdmsrl(MSR_IA32_SYSENTER_EIP, msr);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_EIP, msr);
	rdmsrl(MSR_EFER, msr);
	vmcs_write(VMCS_HOST_IA32_EFER, msr);
	rdmsrl(MSR_IA32_CR_PAT, msr);
	vmcs_write(VMCS_HOST_IA32_PAT, msr);
	v->host_fs = v->host_gs = 0;
	v->host_rsp = 0;

	kvmx_vcpu_reset(v);
}

#define DUMP_SEG(name, s)						\
	pr_err("  %-4s sel %#06lx base %#018lx limit %#010lx ar %#07lx\n", name, \
	       vmcs_read(VMCS_GUEST_##s##_SELECTOR), vmcs_read(VMCS_GUEST_##s##_BASE), \
	       vmcs_read(VMCS_GUEST_##s##_LIMIT), vmcs_read(VMCS_GUEST_##s##_AR))

/* The guest state and controls behind a failed entry or unexpected exit. */
/*
 * For whoever debugs a failed entry: once per VM, and rate-limited across
 * VMs so a guest fuzzer can't flood the log.
 */
void kvmx_dump_vmcs(struct kvmx_vcpu *v)
{
	static DEFINE_RATELIMIT_STATE(dump_rs, 5 * HZ, 2);

	if (v->vm->vmcs_dumped || !__ratelimit(&dump_rs))
		return;
	v->vm->vmcs_dumped = true;
	pr_err("vCPU %d (pid %d): exit reason %#x qualification %#lx, VM-instruction error %u\n",
	       v->id, task_tgid_nr(current), v->exit_reason, vmcs_read(VMCS_EXIT_QUALIFICATION),
	       (u32)vmcs_read(VMCS_VM_INSTRUCTION_ERROR));
	pr_err("  RIP %#018lx RSP %#018lx RFLAGS %#010lx\n", vmcs_read(VMCS_GUEST_RIP),
	       vmcs_read(VMCS_GUEST_RSP), vmcs_read(VMCS_GUEST_RFLAGS));
	pr_err("  CR0 %#010lx (shadow %#010lx) CR3 %#018lx CR4 %#010lx (shadow %#010lx) EFER %#06lx\n",
	       vmcs_read(VMCS_GUEST_CR0), vmcs_read(VMCS_CR0_READ_SHADOW),
	       vmcs_read(VMCS_GUEST_CR3), vmcs_read(VMCS_GUEST_CR4),
	       vmcs_read(VMCS_CR4_READ_SHADOW), vmcs_read(VMCS_GUEST_IA32_EFER));
	DUMP_SEG("CS", CS);
	DUMP_SEG("SS", SS);
	DUMP_SEG("DS", DS);
	DUMP_SEG("ES", ES);
	DUMP_SEG("FS", FS);
	DUMP_SEG("GS", GS);
	DUMP_SEG("TR", TR);
	DUMP_SEG("LDTR", LDTR);
	pr_err("  GDTR %#018lx/%#lx IDTR %#018lx/%#lx activity %lu interruptibility %#lx\n",
	       vmcs_read(VMCS_GUEST_GDTR_BASE), vmcs_read(VMCS_GUEST_GDTR_LIMIT),
	       vmcs_read(VMCS_GUEST_IDTR_BASE), vmcs_read(VMCS_GUEST_IDTR_LIMIT),
	       vmcs_read(VMCS_GUEST_ACTIVITY_STATE), vmcs_read(VMCS_GUEST_INTERRUPTIBILITY));
	pr_err("  controls: pin %#lx proc %#lx proc2 %#lx exit %#lx entry %#lx, entry intr %#lx\n",
	       vmcs_read(VMCS_PIN_BASED_CTLS), vmcs_read(VMCS_PROC_BASED_CTLS),
	       vmcs_read(VMCS_PROC_BASED_CTLS2), vmcs_read(VMCS_EXIT_CTLS),
	       vmcs_read(VMCS_ENTRY_CTLS), vmcs_read(VMCS_ENTRY_INTR_INFO));
}

static void *alloc_ones_page(void)
{
	void *p = (void *)__get_free_page(GFP_KERNEL);

	if (p)
		memset(p, 0xff, PAGE_SIZE);
	return p;
}

int kvmx_vmcs_global_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		INIT_LIST_HEAD(per_cpu_ptr(&loaded_vmcss, cpu));
	__set_bit(0, vpid_bitmap);	/* VPID 0 is the host's */
	io_bitmap_a = alloc_ones_page();
	io_bitmap_b = alloc_ones_page();
	msr_bitmap = alloc_ones_page();
	msr_bitmap_x2apic = alloc_ones_page();
	if (!io_bitmap_a || !io_bitmap_b || !msr_bitmap || !msr_bitmap_x2apic) {
		kvmx_vmcs_global_exit();
		return -ENOMEM;
	}
	/* Read bitmap for MSRs 0-0x1fff at 0, write bitmap for them at 0x800 (SDM 25.6.9). */
	bitmap_clear(msr_bitmap_x2apic, APIC_BASE_MSR, 0x100);
	set_bit(APIC_BASE_MSR + (APIC_TMCCT >> 4), msr_bitmap_x2apic);
	clear_bit(0x800 * 8 + APIC_BASE_MSR + (APIC_EOI >> 4), msr_bitmap_x2apic);
	/*
	 * TPR and SELF_IPI writes exit: either can make a virtual interrupt
	 * pending with IF=0 (see kvmx_lapic_vid_sync() on Bochs).  This bitmap
	 * is every vCPU's, so TPR writes can't exit only while TPR holds a
	 * vector back, as CR8 writes do; Linux writes TPR once, at APIC setup.
	 */
	return 0;
}

/*
 * The vCPU's APIC accesses with APIC virtualization: x2APIC MSRs
 * virtualized (@x2apic), else all exiting; the xAPIC page virtualized
 * (@apic_access), else its accesses fault as MMIO.  VM entry refuses both
 * at once (SDM 26.2.1.1).
 */
void kvmx_vmcs_apic_virt_mode(struct kvmx_vcpu *v, bool x2apic, bool apic_access)
{
	u32 proc2 = vmcs_read32(VMCS_PROC_BASED_CTLS2) &
		    ~(PROC2_VIRT_X2APIC | PROC2_VIRT_APIC_ACCESSES);

	if (x2apic)
		proc2 |= PROC2_VIRT_X2APIC;
	else if (apic_access)
		proc2 |= PROC2_VIRT_APIC_ACCESSES;
	vmcs_write(VMCS_PROC_BASED_CTLS2, proc2);
	vmcs_write(VMCS_MSR_BITMAP, __pa(x2apic ? msr_bitmap_x2apic : msr_bitmap));
}

void kvmx_vmcs_global_exit(void)
{
	free_page((unsigned long)io_bitmap_a);
	free_page((unsigned long)io_bitmap_b);
	free_page((unsigned long)msr_bitmap);
	free_page((unsigned long)msr_bitmap_x2apic);
	io_bitmap_a = io_bitmap_b = msr_bitmap = msr_bitmap_x2apic = NULL;
}
