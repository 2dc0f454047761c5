// SPDX-License-Identifier: GPL-2.0
/*
 * The host side of VMX: feature checks at load time, VMXON/VMXOFF on every
 * online CPU, CPU hotplug and reboot.
 *
 * Like KVM in 6.1, VMX is on only while at least one kvmx VM exists, so kvmx
 * and kvm_intel can take turns on the same machine.  If a CPU is already in
 * VMX operation (CR4.VMXE set by someone else), creating a VM fails with
 * -EBUSY and every CPU kvmx turned on is turned off again.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/reboot.h>
#include <linux/smp.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/msr.h>
#include <asm/io.h>

#include "kvmx.h"
#include "vmx_arch.h"
#include "vmx_ops.h"

struct kvmx_cpu {
	struct page *vmxon_region;	/* SDM 25.11.5: one 4 KiB page per CPU */
	bool vmx_on;
};

static DEFINE_PER_CPU(struct kvmx_cpu, kvmx_cpu);

struct kvmx_vmx_info kvmx_host_caps;
struct vmx_controls kvmx_ctls;

/*
 * EPT accessed/dirty flags where the CPU has them (KVM's "eptad"): page
 * aging reads and clears accessed flags instead of zapping.  ept_ad=0
 * keeps the zap-based aging of CPUs without them (e.g. to test it).
 */
static bool ept_ad = true;
module_param(ept_ad, bool, 0444);
MODULE_PARM_DESC(ept_ad, "use EPT accessed and dirty flags where the CPU has them; default on");
/* KVM_NMI: NMI-window exits need virtual NMIs (SDM 25.6.1, 25.6.2). */
bool kvmx_nmi_window_ok __ro_after_init;

/*
 * kvmx_vmx_users counts VMs.  It changes only under kvmx_vmx_lock *and*
 * cpus_read_lock(), so the hotplug callbacks (which run with the hotplug
 * lock held for writing) can read it without the mutex.
 */
static DEFINE_MUTEX(kvmx_vmx_lock);
static unsigned int kvmx_vmx_users;
static atomic_t kvmx_cpus_on = ATOMIC_INIT(0);
static bool kvmx_rebooting;
static enum cpuhp_state kvmx_cpuhp_state;

static void read_host_caps(struct kvmx_vmx_info *c)
{
	memset(c, 0, sizeof(*c));
	c->module_version = KVMX_MODULE_VERSION;
	c->cpuid1_ecx = cpuid_ecx(1);
	if (!(c->cpuid1_ecx & CPUID1_ECX_VMX))
		return;		/* the VMX MSRs don't exist: rdmsr would #GP */
	rdmsrl_safe(MSR_IA32_FEAT_CTL, &c->feature_control);
	rdmsrl_safe(MSR_IA32_VMX_BASIC, &c->basic);
	rdmsrl_safe(MSR_IA32_VMX_PINBASED_CTLS, &c->pinbased);
	rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS, &c->procbased);
	rdmsrl_safe(MSR_IA32_VMX_EXIT_CTLS, &c->exit);
	rdmsrl_safe(MSR_IA32_VMX_ENTRY_CTLS, &c->entry);
	rdmsrl_safe(MSR_IA32_VMX_MISC, &c->misc);
	rdmsrl_safe(MSR_IA32_VMX_CR0_FIXED0, &c->cr0_fixed0);
	rdmsrl_safe(MSR_IA32_VMX_CR0_FIXED1, &c->cr0_fixed1);
	rdmsrl_safe(MSR_IA32_VMX_CR4_FIXED0, &c->cr4_fixed0);
	rdmsrl_safe(MSR_IA32_VMX_CR4_FIXED1, &c->cr4_fixed1);
	rdmsrl_safe(MSR_IA32_VMX_VMCS_ENUM, &c->vmcs_enum);
	/* The remaining MSRs exist only when the features that define them do. */
	if ((c->procbased >> 32) & PROC_SECONDARY_CONTROLS) {
		rdmsrl_safe(MSR_IA32_VMX_PROCBASED_CTLS2, &c->procbased2);
		if ((c->procbased2 >> 32) & (PROC2_ENABLE_EPT | PROC2_ENABLE_VPID))
			rdmsrl_safe(MSR_IA32_VMX_EPT_VPID_CAP, &c->ept_vpid_cap);
		if ((c->procbased2 >> 32) & PROC2_ENABLE_VMFUNC)
			rdmsrl_safe(MSR_IA32_VMX_VMFUNC, &c->vmfunc);
	}
	if (c->basic & VMXCAP_BASIC_TRUE_CTLS) {
		rdmsrl_safe(MSR_IA32_VMX_TRUE_PINBASED_CTLS, &c->true_pinbased);
		rdmsrl_safe(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, &c->true_procbased);
		rdmsrl_safe(MSR_IA32_VMX_TRUE_EXIT_CTLS, &c->true_exit);
		rdmsrl_safe(MSR_IA32_VMX_TRUE_ENTRY_CTLS, &c->true_entry);
	}
}

static void report_missing(void *ctx, const char *what)
{
	pr_err("missing VMX feature: %s\n", what);
}

/* Runs on the CPU to enable, with interrupts off. */
static int vmx_enable_this_cpu(void)
{
	struct kvmx_cpu *cpu = this_cpu_ptr(&kvmx_cpu);
	const struct kvmx_vmx_info *c = &kvmx_host_caps;
	u64 fc;
	int err;

	if (cpu->vmx_on)
		return 0;
	/* Someone else (kvm_intel, VirtualBox...) is in VMX operation here. */
	if (cr4_read_shadow() & X86_CR4_VMXE)
		return -EBUSY;
	/* SDM 24.7: VMXON #GPs unless FEATURE_CONTROL is locked with VMX on. */
	if (rdmsrl_safe(MSR_IA32_FEAT_CTL, &fc) ||
	    (fc & (VMXCAP_FEAT_LOCKED | VMXCAP_FEAT_VMX_OUTSIDE_SMX)) !=
	    (VMXCAP_FEAT_LOCKED | VMXCAP_FEAT_VMX_OUTSIDE_SMX))
		return -EIO;
	/* SDM 24.8: CR0 and CR4 must honour the VMX fixed bits. */
	if (!vmx_fixed_bits_ok(read_cr0(), c->cr0_fixed0, c->cr0_fixed1))
		return -EIO;
	cr4_set_bits(X86_CR4_VMXE);
	if (!vmx_fixed_bits_ok(__read_cr4(), c->cr4_fixed0, c->cr4_fixed1)) {
		cr4_clear_bits(X86_CR4_VMXE);
		return -EIO;
	}
	err = vmx_vmxon(page_to_phys(cpu->vmxon_region));
	if (err) {
		cr4_clear_bits(X86_CR4_VMXE);
		return -EBUSY;
	}
	/*
	 * Whoever used VMX on this CPU before may have left EPT and VPID
	 * translations in the TLBs tagged with values kvmx reuses.
	 */
	if (kvmx_host_caps.ept_vpid_cap & EPT_CAP_INVEPT_ALL)
		vmx_invept(INVEPT_ALL_CONTEXT, 0);
	if (kvmx_ctls.vpid && (kvmx_host_caps.ept_vpid_cap & VPID_CAP_ALL))
		vmx_invvpid(INVVPID_ALL_CONTEXT, 0, 0);
	cpu->vmx_on = true;
	atomic_inc(&kvmx_cpus_on);
	return 0;
}

static void vmx_disable_this_cpu(void)
{
	struct kvmx_cpu *cpu = this_cpu_ptr(&kvmx_cpu);

	if (!cpu->vmx_on)
		return;
	kvmx_vmcs_clear_cpu(smp_processor_id());
	if (vmx_vmxoff())
		pr_err("VMXOFF failed on CPU %d\n", smp_processor_id());
	cr4_clear_bits(X86_CR4_VMXE);
	cpu->vmx_on = false;
	atomic_dec(&kvmx_cpus_on);
}

struct enable_result {
	atomic_t failed;
	int first_cpu;
	int err;
};

static void vmx_enable_ipi(void *data)
{
	struct enable_result *r = data;
	int err = vmx_enable_this_cpu();

	if (err && atomic_inc_return(&r->failed) == 1) {
		r->first_cpu = smp_processor_id();
		r->err = err;
	}
}

static void vmx_disable_ipi(void *unused)
{
	vmx_disable_this_cpu();
}

int kvmx_vmx_get(void)
{
	struct enable_result r = { .failed = ATOMIC_INIT(0) };
	int err = 0;

	cpus_read_lock();
	mutex_lock(&kvmx_vmx_lock);
	if (kvmx_rebooting) {
		err = -EBUSY;
		goto out;
	}
	if (kvmx_vmx_users == 0) {
		on_each_cpu(vmx_enable_ipi, &r, 1);
		if (atomic_read(&r.failed)) {
			on_each_cpu(vmx_disable_ipi, NULL, 1);
			err = r.err;
			if (err == -EBUSY)
				pr_info_ratelimited("VMX is held by another hypervisor (kvm_intel?) on CPU %d\n",
						    r.first_cpu);
			else
				pr_err_ratelimited("could not enable VMX on CPU %d (%d)\n",
						   r.first_cpu, err);
			goto out;
		}
	}
	kvmx_vmx_users++;
out:
	mutex_unlock(&kvmx_vmx_lock);
	cpus_read_unlock();
	return err;
}

void kvmx_vmx_put(void)
{
	cpus_read_lock();
	mutex_lock(&kvmx_vmx_lock);
	if (!WARN_ON_ONCE(kvmx_vmx_users == 0) && --kvmx_vmx_users == 0)
		on_each_cpu(vmx_disable_ipi, NULL, 1);
	mutex_unlock(&kvmx_vmx_lock);
	cpus_read_unlock();
}

void kvmx_vmx_fill_info(struct kvmx_vmx_info *info)
{
	*info = kvmx_host_caps;
	info->nr_vms = atomic_read(&kvmx_nr_vms);
	info->nr_cpus_vmx_on = atomic_read(&kvmx_cpus_on);
	info->flags = info->nr_cpus_vmx_on ? KVMX_INFO_VMX_ON : 0;
	info->mitigations = kvmx_mitigations_active();
}

/* CPU hotplug: a CPU coming online while VMs exist joins VMX operation. */
static int kvmx_cpu_online(unsigned int cpu)
{
	unsigned long flags;
	int err = 0;

	if (kvmx_vmx_users) {
		local_irq_save(flags);
		err = vmx_enable_this_cpu();
		local_irq_restore(flags);
		if (err)
			pr_err("could not enable VMX on CPU %u coming online (%d)\n",
			       cpu, err);
	}
	return err;
}

static int kvmx_cpu_offline(unsigned int cpu)
{
	unsigned long flags;

	local_irq_save(flags);
	vmx_disable_this_cpu();
	local_irq_restore(flags);
	return 0;
}

/* VMX blocks INIT: leave VMX operation on every CPU before a reboot. */
static int kvmx_reboot(struct notifier_block *nb, unsigned long code, void *unused)
{
	mutex_lock(&kvmx_vmx_lock);
	kvmx_rebooting = true;
	mutex_unlock(&kvmx_vmx_lock);
	on_each_cpu(vmx_disable_ipi, NULL, 1);
	return NOTIFY_OK;
}

static struct notifier_block kvmx_reboot_nb = {
	.notifier_call = kvmx_reboot,
};

static void free_vmxon_regions(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct kvmx_cpu *c = per_cpu_ptr(&kvmx_cpu, cpu);

		if (c->vmxon_region)
			__free_page(c->vmxon_region);
		c->vmxon_region = NULL;
	}
}

static int alloc_vmxon_regions(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL | __GFP_ZERO, 0);

		if (!page) {
			free_vmxon_regions();
			return -ENOMEM;
		}
		/* SDM 25.11.5: the region starts with the VMCS revision id. */
		*(u32 *)page_address(page) = VMXCAP_BASIC_REVISION(kvmx_host_caps.basic);
		per_cpu_ptr(&kvmx_cpu, cpu)->vmxon_region = page;
	}
	return 0;
}

int kvmx_vmx_setup(void)
{
	int missing, ret;

	if (boot_cpu_data.x86_vendor != X86_VENDOR_INTEL &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_CENTAUR &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_ZHAOXIN) {
		pr_err("VT-x not available: this is not an Intel-compatible CPU\n");
		return -ENODEV;
	}
	read_host_caps(&kvmx_host_caps);
	missing = vmx_check_features(&kvmx_host_caps, &kvmx_ctls,
				     report_missing, NULL);
	if (missing) {
		pr_err("VT-x not usable: %d required feature(s) missing\n", missing);
		return -ENODEV;
	}
	/* As KVM's eptad: the parameter reads what is in use. */
	if (!ept_ad)
		kvmx_ctls.ept_ad = false;
	ept_ad = kvmx_ctls.ept_ad;
	kvmx_nmi_window_ok = (kvmx_ctls.pin & PIN_VIRTUAL_NMIS) &&
			     ((vmx_proc_cap(&kvmx_host_caps) >> 32) & PROC_NMI_WINDOW_EXITING);
	ret = alloc_vmxon_regions();
	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "kvmx:online",
					kvmx_cpu_online, kvmx_cpu_offline);
	if (ret < 0) {
		free_vmxon_regions();
		return ret;
	}
	kvmx_cpuhp_state = ret;
	register_reboot_notifier(&kvmx_reboot_nb);
	return 0;
}

/* Called when no VM is left (every VM fd holds a module reference). */
void kvmx_vmx_teardown(void)
{
	unregister_reboot_notifier(&kvmx_reboot_nb);
	cpuhp_remove_state_nocalls(kvmx_cpuhp_state);
	free_vmxon_regions();
}
