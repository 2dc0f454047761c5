// SPDX-License-Identifier: GPL-2.0
/*
 * VMX capability checks and control selection (SDM Vol. 3D, Appendix A).
 * Kernel-agnostic: also compiled into the native unit tests.
 */
#include "vmx_arch.h"
#include "vmx_features.h"

#define GROUP(t, arr) { .title = (t), .bits = (arr), .nr_bits = ARRAY_SIZE(arr) }

static const struct vmx_bit_name pin_names[] = {
	{ 0, "external-interrupt exiting" },
	{ 3, "NMI exiting" },
	{ 5, "virtual NMIs" },
	{ 6, "VMX-preemption timer" },
	{ 7, "posted interrupts" },
};

static const struct vmx_bit_name proc_names[] = {
	{ 2, "interrupt-window exiting" },
	{ 3, "use TSC offsetting" },
	{ 7, "HLT exiting" },
	{ 9, "INVLPG exiting" },
	{ 10, "MWAIT exiting" },
	{ 11, "RDPMC exiting" },
	{ 12, "RDTSC exiting" },
	{ 15, "CR3-load exiting" },
	{ 16, "CR3-store exiting" },
	{ 19, "CR8-load exiting" },
	{ 20, "CR8-store exiting" },
	{ 21, "use TPR shadow" },
	{ 22, "NMI-window exiting" },
	{ 23, "MOV-DR exiting" },
	{ 24, "unconditional I/O exiting" },
	{ 25, "use I/O bitmaps" },
	{ 27, "monitor trap flag" },
	{ 28, "use MSR bitmaps" },
	{ 29, "MONITOR exiting" },
	{ 30, "PAUSE exiting" },
	{ 31, "activate secondary controls" },
};

static const struct vmx_bit_name proc2_names[] = {
	{ 0, "virtualize APIC accesses" },
	{ 1, "enable EPT" },
	{ 2, "descriptor-table exiting" },
	{ 3, "enable RDTSCP" },
	{ 4, "virtualize x2APIC mode" },
	{ 5, "enable VPID" },
	{ 6, "WBINVD exiting" },
	{ 7, "unrestricted guest" },
	{ 8, "APIC-register virtualization" },
	{ 9, "virtual-interrupt delivery" },
	{ 10, "PAUSE-loop exiting" },
	{ 11, "RDRAND exiting" },
	{ 12, "enable INVPCID" },
	{ 13, "enable VM functions" },
	{ 14, "VMCS shadowing" },
	{ 15, "ENCLS exiting" },
	{ 16, "RDSEED exiting" },
	{ 17, "enable PML" },
	{ 18, "EPT-violation #VE" },
	{ 19, "conceal VMX from PT" },
	{ 20, "enable XSAVES/XRSTORS" },
	{ 22, "mode-based execute control for EPT" },
	{ 23, "sub-page write permissions for EPT" },
	{ 24, "Intel PT uses guest physical addresses" },
	{ 25, "use TSC scaling" },
	{ 26, "enable user wait and pause" },
};

static const struct vmx_bit_name exit_names[] = {
	{ 2, "save debug controls" },
	{ 9, "host address-space size" },
	{ 12, "load IA32_PERF_GLOBAL_CTRL" },
	{ 15, "acknowledge interrupt on exit" },
	{ 18, "save IA32_PAT" },
	{ 19, "load IA32_PAT" },
	{ 20, "save IA32_EFER" },
	{ 21, "load IA32_EFER" },
	{ 22, "save VMX-preemption timer value" },
	{ 23, "clear IA32_BNDCFGS" },
	{ 24, "conceal VMX from PT" },
};

static const struct vmx_bit_name entry_names[] = {
	{ 2, "load debug controls" },
	{ 9, "IA-32e mode guest" },
	{ 10, "entry to SMM" },
	{ 11, "deactivate dual-monitor treatment" },
	{ 13, "load IA32_PERF_GLOBAL_CTRL" },
	{ 14, "load IA32_PAT" },
	{ 15, "load IA32_EFER" },
	{ 16, "load IA32_BNDCFGS" },
	{ 17, "conceal VMX from PT" },
};

static const struct vmx_bit_name ept_vpid_names[] = {
	{ 0, "EPT execute-only pages" },
	{ 6, "EPT 4-level page walk" },
	{ 7, "EPT 5-level page walk" },
	{ 8, "EPT uncacheable memory type" },
	{ 14, "EPT write-back memory type" },
	{ 16, "EPT 2 MiB pages" },
	{ 17, "EPT 1 GiB pages" },
	{ 20, "INVEPT" },
	{ 21, "EPT accessed/dirty flags" },
	{ 22, "advanced EPT-violation exit information" },
	{ 25, "INVEPT single-context" },
	{ 26, "INVEPT all-context" },
	{ 32, "INVVPID" },
	{ 40, "INVVPID individual-address" },
	{ 41, "INVVPID single-context" },
	{ 42, "INVVPID all-context" },
	{ 43, "INVVPID single-context-retaining-globals" },
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
#define PROC2_OPTIONAL	(PROC2_ENABLE_VPID | PROC2_ENABLE_INVPCID)
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
	/* VPID is an optimisation: without usable INVVPID, run without it. */
	out.vpid = (out.proc2 & PROC2_ENABLE_VPID) && (ept & VPID_CAP_INVVPID) &&
		   (ept & (VPID_CAP_SINGLE | VPID_CAP_ALL));
	if (!out.vpid)
		out.proc2 &= ~PROC2_ENABLE_VPID;

	if (ctls && !c.missing)
		*ctls = out;
	return c.missing;
}
