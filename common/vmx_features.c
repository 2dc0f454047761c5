// SPDX-License-Identifier: GPL-2.0
/*
 * VMX capability checks and control selection (SDM Vol. 3D, Appendix A).
 * Kernel-agnostic: also compiled into the native unit tests.
 */
#include "vmx_arch.h"
#include "vmx_features.h"

#define GROUP(t, arr) { .title = (t), .bits = (arr), .nr_bits = ARRAY_SIZE(arr) }

static const struct vmx_bit_name pin_names[] = {
	{ 0, "EXT_INTR_EXITING", "external-interrupt exiting" },
	{ 3, "NMI_EXITING", "NMI exiting" },
	{ 5, "VIRTUAL_NMIS", "virtual NMIs" },
	{ 6, "VMX_PREEMPTION_TIMER", "VMX-preemption timer" },
	{ 7, "POSTED_INTR", "posted interrupts" },
};

static const struct vmx_bit_name proc_names[] = {
	{ 2, "INTR_WINDOW_EXITING", "interrupt-window exiting" },
	{ 3, "USE_TSC_OFFSETTING", "use TSC offsetting" },
	{ 7, "HLT_EXITING", "HLT exiting" },
	{ 9, "INVLPG_EXITING", "INVLPG exiting" },
	{ 10, "MWAIT_EXITING", "MWAIT exiting" },
	{ 11, "RDPMC_EXITING", "RDPMC exiting" },
	{ 12, "RDTSC_EXITING", "RDTSC exiting" },
	{ 15, "CR3_LOAD_EXITING", "CR3-load exiting" },
	{ 16, "CR3_STORE_EXITING", "CR3-store exiting" },
	{ 17, "ACTIVATE_TERTIARY_CONTROLS", "activate tertiary controls" },
	{ 19, "CR8_LOAD_EXITING", "CR8-load exiting" },
	{ 20, "CR8_STORE_EXITING", "CR8-store exiting" },
	{ 21, "TPR_SHADOW", "use TPR shadow" },
	{ 22, "NMI_WINDOW_EXITING", "NMI-window exiting" },
	{ 23, "MOV_DR_EXITING", "MOV-DR exiting" },
	{ 24, "UNCOND_IO_EXITING", "unconditional I/O exiting" },
	{ 25, "USE_IO_BITMAPS", "use I/O bitmaps" },
	{ 27, "MONITOR_TRAP_FLAG", "monitor trap flag" },
	{ 28, "USE_MSR_BITMAPS", "use MSR bitmaps" },
	{ 29, "MONITOR_EXITING", "MONITOR exiting" },
	{ 30, "PAUSE_EXITING", "PAUSE exiting" },
	{ 31, "ACTIVATE_SECONDARY_CONTROLS", "activate secondary controls" },
};

static const struct vmx_bit_name proc2_names[] = {
	{ 0, "VIRTUALIZE_APIC_ACCESSES", "virtualize APIC accesses" },
	{ 1, "ENABLE_EPT", "enable EPT" },
	{ 2, "DESC_TABLE_EXITING", "descriptor-table exiting" },
	{ 3, "ENABLE_RDTSCP", "enable RDTSCP" },
	{ 4, "VIRTUALIZE_X2APIC_MODE", "virtualize x2APIC mode" },
	{ 5, "ENABLE_VPID", "enable VPID" },
	{ 6, "WBINVD_EXITING", "WBINVD exiting" },
	{ 7, "UNRESTRICTED_GUEST", "unrestricted guest" },
	{ 8, "APIC_REGISTER_VIRT", "APIC-register virtualization" },
	{ 9, "VIRTUAL_INTR_DELIVERY", "virtual-interrupt delivery" },
	{ 10, "PAUSE_LOOP_EXITING", "PAUSE-loop exiting" },
	{ 11, "RDRAND_EXITING", "RDRAND exiting" },
	{ 12, "ENABLE_INVPCID", "enable INVPCID" },
	{ 13, "ENABLE_VMFUNC", "enable VM functions" },
	{ 14, "SHADOW_VMCS", "VMCS shadowing" },
	{ 15, "ENCLS_EXITING", "ENCLS exiting" },
	{ 16, "RDSEED_EXITING", "RDSEED exiting" },
	{ 17, "ENABLE_PML", "enable PML" },
	{ 18, "EPT_VIOLATION_VE", "EPT-violation #VE" },
	{ 19, "PT_CONCEAL_VMX", "conceal VMX from PT" },
	{ 20, "ENABLE_XSAVES", "enable XSAVES/XRSTORS" },
	{ 21, "PASID_TRANSLATION", "PASID translation" },
	{ 22, "MODE_BASED_EPT_EXEC", "mode-based execute control for EPT" },
	{ 23, "EPT_SUB_PAGE_WRITE", "sub-page write permissions for EPT" },
	{ 24, "PT_USE_GPA", "Intel PT uses guest physical addresses" },
	{ 25, "TSC_SCALING", "use TSC scaling" },
	{ 26, "ENABLE_USR_WAIT_PAUSE", "enable user wait and pause" },
	{ 27, "ENABLE_PCONFIG", "enable PCONFIG" },
	{ 28, "ENCLV_EXITING", "ENCLV exiting" },
	{ 30, "BUS_LOCK_DETECTION", "bus lock detection" },
	{ 31, "NOTIFY_VM_EXITING", "notify VM exiting" },
};

static const struct vmx_bit_name exit_names[] = {
	{ 2, "SAVE_DEBUG_CONTROLS", "save debug controls" },
	{ 9, "HOST_ADDR_SPACE_SIZE", "host address-space size" },
	{ 12, "LOAD_IA32_PERF_GLOBAL_CTRL", "load IA32_PERF_GLOBAL_CTRL" },
	{ 15, "ACK_INTR_ON_EXIT", "acknowledge interrupt on exit" },
	{ 18, "SAVE_IA32_PAT", "save IA32_PAT" },
	{ 19, "LOAD_IA32_PAT", "load IA32_PAT" },
	{ 20, "SAVE_IA32_EFER", "save IA32_EFER" },
	{ 21, "LOAD_IA32_EFER", "load IA32_EFER" },
	{ 22, "SAVE_VMX_PREEMPTION_TIMER", "save VMX-preemption timer value" },
	{ 23, "CLEAR_IA32_BNDCFGS", "clear IA32_BNDCFGS" },
	{ 24, "PT_CONCEAL_PIP", "conceal VMX from PT" },
	{ 25, "CLEAR_IA32_RTIT_CTL", "clear IA32_RTIT_CTL" },
	{ 26, "CLEAR_IA32_LBR_CTL", "clear IA32_LBR_CTL" },
	{ 27, "CLEAR_UINV", "clear UINV" },
	{ 28, "LOAD_CET_STATE", "load CET state" },
	{ 29, "LOAD_IA32_PKRS", "load IA32_PKRS" },
	{ 30, "SAVE_IA32_PERF_GLOBAL_CTRL", "save IA32_PERF_GLOBAL_CTRL" },
	{ 31, "ACTIVATE_SECONDARY_CONTROLS", "activate secondary controls" },
};

static const struct vmx_bit_name entry_names[] = {
	{ 2, "LOAD_DEBUG_CONTROLS", "load debug controls" },
	{ 9, "IA32E_MODE", "IA-32e mode guest" },
	{ 10, "SMM", "entry to SMM" },
	{ 11, "DEACT_DUAL_MONITOR", "deactivate dual-monitor treatment" },
	{ 13, "LOAD_IA32_PERF_GLOBAL_CTRL", "load IA32_PERF_GLOBAL_CTRL" },
	{ 14, "LOAD_IA32_PAT", "load IA32_PAT" },
	{ 15, "LOAD_IA32_EFER", "load IA32_EFER" },
	{ 16, "LOAD_BNDCFGS", "load IA32_BNDCFGS" },
	{ 17, "PT_CONCEAL_PIP", "conceal VMX from PT" },
	{ 18, "LOAD_IA32_RTIT_CTL", "load IA32_RTIT_CTL" },
	{ 19, "LOAD_UINV", "load UINV" },
	{ 20, "LOAD_CET_STATE", "load CET state" },
	{ 21, "LOAD_IA32_LBR_CTL", "load IA32_LBR_CTL" },
	{ 22, "LOAD_IA32_PKRS", "load IA32_PKRS" },
};

static const struct vmx_bit_name ept_vpid_names[] = {
	{ 0, NULL, "EPT execute-only pages" },
	{ 6, NULL, "EPT 4-level page walk" },
	{ 7, NULL, "EPT 5-level page walk" },
	{ 8, NULL, "EPT uncacheable memory type" },
	{ 14, NULL, "EPT write-back memory type" },
	{ 16, NULL, "EPT 2 MiB pages" },
	{ 17, NULL, "EPT 1 GiB pages" },
	{ 20, NULL, "INVEPT" },
	{ 21, NULL, "EPT accessed/dirty flags" },
	{ 22, NULL, "advanced EPT-violation exit information" },
	{ 25, NULL, "INVEPT single-context" },
	{ 26, NULL, "INVEPT all-context" },
	{ 32, NULL, "INVVPID" },
	{ 40, NULL, "INVVPID individual-address" },
	{ 41, NULL, "INVVPID single-context" },
	{ 42, NULL, "INVVPID all-context" },
	{ 43, NULL, "INVVPID single-context-retaining-globals" },
};

const struct vmx_bit_group vmx_pin_group = GROUP("pin-based controls", pin_names);
const struct vmx_bit_group vmx_proc_group = GROUP("processor-based controls", proc_names);
const struct vmx_bit_group vmx_proc2_group =
	GROUP("secondary processor-based controls", proc2_names);
const struct vmx_bit_group vmx_exit_group = GROUP("VM-exit controls", exit_names);
const struct vmx_bit_group vmx_entry_group = GROUP("VM-entry controls", entry_names);
const struct vmx_bit_group vmx_ept_vpid_group =
	GROUP("EPT and VPID capabilities", ept_vpid_names);

/* What kvmx's VMCS setup relies on, and what it uses when present. */
#define PIN_REQUIRED	(PIN_EXT_INTR_EXITING | PIN_NMI_EXITING)
#define PIN_OPTIONAL	(PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER)
#define PROC_REQUIRED	(PROC_HLT_EXITING | PROC_USE_IO_BITMAPS | \
			 PROC_USE_MSR_BITMAPS | PROC_SECONDARY_CONTROLS | \
			 PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING | \
			 PROC_MOV_DR_EXITING | PROC_RDPMC_EXITING | \
			 PROC_MWAIT_EXITING | PROC_MONITOR_EXITING)
#define PROC_OPTIONAL	(PROC_TSC_OFFSETTING)
#define PROC2_REQUIRED	(PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST)
#define PROC2_OPTIONAL	(PROC2_ENABLE_VPID | PROC2_ENABLE_INVPCID | PROC2_PAUSE_LOOP_EXITING)
#define EXIT_REQUIRED	(EXIT_CTL_HOST_ADDR_SPACE_SIZE | EXIT_CTL_SAVE_EFER | \
			 EXIT_CTL_LOAD_EFER | EXIT_CTL_SAVE_DEBUG)
#define EXIT_OPTIONAL	(EXIT_CTL_SAVE_PAT | EXIT_CTL_LOAD_PAT)
#define ENTRY_REQUIRED	(ENTRY_CTL_LOAD_EFER | ENTRY_CTL_LOAD_DEBUG)
#define ENTRY_OPTIONAL	(ENTRY_CTL_LOAD_PAT)
/* Not in the static controls, but set per vCPU when the guest enters long mode. */
#define ENTRY_DYNAMIC	(ENTRY_CTL_IA32E_MODE)
#define PROC_DYNAMIC	(PROC_INTR_WINDOW_EXITING)

u32 vmx_adjust_controls(u64 cap_msr, u32 required, u32 optional, u32 *missing)
{
	u32 must_be_one = (u32)cap_msr;
	u32 may_be_one = (u32)(cap_msr >> 32);

	if (missing)
		*missing = required & ~may_be_one;
	return ((required | optional) & may_be_one) | must_be_one;
}

static bool has_true_ctls(const struct kvmx_vmx_info *caps)
{
	return caps->basic & VMXCAP_BASIC_TRUE_CTLS;
}

u64 vmx_pin_cap(const struct kvmx_vmx_info *caps)
{
	return has_true_ctls(caps) ? caps->true_pinbased : caps->pinbased;
}

u64 vmx_proc_cap(const struct kvmx_vmx_info *caps)
{
	return has_true_ctls(caps) ? caps->true_procbased : caps->procbased;
}

u64 vmx_exit_cap(const struct kvmx_vmx_info *caps)
{
	return has_true_ctls(caps) ? caps->true_exit : caps->exit;
}

u64 vmx_entry_cap(const struct kvmx_vmx_info *caps)
{
	return has_true_ctls(caps) ? caps->true_entry : caps->entry;
}

static const char *bit_name(const struct vmx_bit_group *g, unsigned int bit)
{
	size_t i;

	for (i = 0; i < g->nr_bits; i++)
		if (g->bits[i].bit == bit)
			return g->bits[i].name;
	return "unnamed bit";
}

struct checker {
	vmx_report_fn report;
	void *ctx;
	int missing;
};

static void need(struct checker *c, bool ok, const char *what)
{
	if (ok)
		return;
	c->missing++;
	if (c->report)
		c->report(c->ctx, what);
}

/* Report each required bit of one control group the CPU cannot set. */
static u32 need_controls(struct checker *c, const struct vmx_bit_group *g,
			 u64 cap, u32 required, u32 optional)
{
	u32 missing, value;
	unsigned int bit;

	value = vmx_adjust_controls(cap, required, optional, &missing);
	for (bit = 0; bit < 32; bit++) {
		if (!(missing & BIT(bit)))
			continue;
		c->missing++;
		if (c->report) {
			char buf[128];

			snprintf(buf, sizeof(buf), "%s: '%s' (bit %u) not supported",
				 g->title, bit_name(g, bit), bit);
			c->report(c->ctx, buf);
		}
	}
	return value;
}

int vmx_check_features(const struct kvmx_vmx_info *caps,
		       struct vmx_controls *ctls,
		       vmx_report_fn report, void *ctx)
{
	struct checker c = { .report = report, .ctx = ctx, .missing = 0 };
	u64 fc = caps->feature_control;
	u64 basic = caps->basic;
	u64 ept = caps->ept_vpid_cap;
	struct vmx_controls out = { 0 };

	if (!(caps->cpuid1_ecx & CPUID1_ECX_VMX)) {
		need(&c, false,
		     "CPUID.1:ECX.VMX is clear: this CPU has no VT-x, or a hypervisor below hides it");
		return c.missing;	/* the VMX MSRs do not exist */
	}
	need(&c, fc & VMXCAP_FEAT_LOCKED,
	     "IA32_FEATURE_CONTROL is not locked (firmware or kernel left it open)");
	need(&c, fc & VMXCAP_FEAT_VMX_OUTSIDE_SMX,
	     "IA32_FEATURE_CONTROL disables VMX outside SMX (VT-x is off in the firmware setup)");

	need(&c, VMXCAP_BASIC_VMCS_SIZE(basic) > 0 && VMXCAP_BASIC_VMCS_SIZE(basic) <= 4096,
	     "VMX_BASIC: VMCS region size is not between 1 and 4096 bytes");
	need(&c, VMXCAP_BASIC_MEMTYPE(basic) == VMXCAP_MEMTYPE_WB,
	     "VMX_BASIC: VMCS memory type is not write-back");
	need(&c, !(basic & VMXCAP_BASIC_32BIT_ADDR),
	     "VMX_BASIC: VMX structures limited to 32-bit physical addresses");
	need(&c, basic & VMXCAP_BASIC_INOUT_INFO,
	     "VMX_BASIC: no instruction information on INS/OUTS exits");

	out.pin = need_controls(&c, &vmx_pin_group, vmx_pin_cap(caps),
				PIN_REQUIRED, PIN_OPTIONAL);
	out.proc = need_controls(&c, &vmx_proc_group, vmx_proc_cap(caps),
				 PROC_REQUIRED | PROC_DYNAMIC, PROC_OPTIONAL);
	out.proc &= ~PROC_DYNAMIC | (u32)vmx_proc_cap(caps);
	/* Secondary controls exist only if the primary ones can activate them. */
	if ((u32)(vmx_proc_cap(caps) >> 32) & PROC_SECONDARY_CONTROLS)
		out.proc2 = need_controls(&c, &vmx_proc2_group, caps->procbased2,
					  PROC2_REQUIRED, PROC2_OPTIONAL);
	out.exit = need_controls(&c, &vmx_exit_group, vmx_exit_cap(caps),
				 EXIT_REQUIRED, EXIT_OPTIONAL);
	out.entry = need_controls(&c, &vmx_entry_group, vmx_entry_cap(caps),
				  ENTRY_REQUIRED | ENTRY_DYNAMIC, ENTRY_OPTIONAL);
	out.entry &= ~ENTRY_DYNAMIC | (u32)vmx_entry_cap(caps);

	if (out.proc2 & PROC2_ENABLE_EPT) {
		need(&c, ept & EPT_CAP_WALK_4, "EPT: no 4-level page walk");
		need(&c, ept & EPT_CAP_MT_WB, "EPT: no write-back memory type for EPT structures");
		need(&c, ept & EPT_CAP_INVEPT, "EPT: no INVEPT instruction");
		need(&c, ept & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL),
		     "EPT: INVEPT supports neither single- nor all-context invalidation");
	}
	out.ept_2m = ept & EPT_CAP_2M;
	out.invept_single = ept & EPT_CAP_INVEPT_SINGLE;
	out.ept_ad = (out.proc2 & PROC2_ENABLE_EPT) && (ept & EPT_CAP_AD);
	/* VPID is an optimisation: without usable INVVPID, run without it. */
	out.vpid = (out.proc2 & PROC2_ENABLE_VPID) && (ept & VPID_CAP_INVVPID) &&
		   (ept & (VPID_CAP_SINGLE | VPID_CAP_ALL));
	if (!out.vpid)
		out.proc2 &= ~PROC2_ENABLE_VPID;

	out.apicv = ((u32)(vmx_proc_cap(caps) >> 32) & PROC_TPR_SHADOW) &&
		    (out.proc & PROC_SECONDARY_CONTROLS) &&
		    ((u32)(caps->procbased2 >> 32) & PROC2_APICV) == PROC2_APICV;

	if (ctls && !c.missing)
		*ctls = out;
	return c.missing;
}
