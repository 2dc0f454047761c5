/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kvmx needs from the CPU's VMX implementation, checked against the
 * capability MSRs, and the VM-execution/exit/entry controls kvmx runs with.
 * Kernel-agnostic: the module calls it at load time, `kvmx info` and the unit
 * tests call it on recorded MSR values.
 */
#ifndef KVMX_VMX_FEATURES_H
#define KVMX_VMX_FEATURES_H

#include "kvmx_compat.h"
#include "../uapi/linux/kvmx.h"

/*
 * One bit of a control or capability MSR: its identifier as `kvmx vmcs`
 * prints it (NULL where none is needed) and its name in words for `kvmx info`.
 */
struct vmx_bit_name {
	u8 bit;
	const char *id;
	const char *name;
};

/* A group of bits that live in one capability MSR. */
struct vmx_bit_group {
	const char *title;
	const struct vmx_bit_name *bits;
	size_t nr_bits;
};

extern const struct vmx_bit_group vmx_pin_group;
extern const struct vmx_bit_group vmx_proc_group;
extern const struct vmx_bit_group vmx_proc2_group;
extern const struct vmx_bit_group vmx_exit_group;
extern const struct vmx_bit_group vmx_entry_group;
extern const struct vmx_bit_group vmx_ept_vpid_group;

/* The controls a vCPU's VMCS is set up with (before per-vCPU dynamic bits). */
struct vmx_controls {
	u32 pin;
	u32 proc;
	u32 proc2;
	u32 exit;
	u32 entry;
	bool vpid;		/* VPID enabled and INVVPID usable */
	bool ept_2m;		/* EPT may map 2 MiB pages */
	bool invept_single;	/* else all-context INVEPT */
	bool ept_ad;		/* EPT accessed and dirty flags (EPTP bit 6) */
	/*
	 * TPR shadow, APIC-register virtualization, virtual-interrupt delivery,
	 * x2APIC virtualization and APIC-access virtualization can all be
	 * turned on (SDM 29): set per vCPU
	 * with an in-kernel APIC, not in the controls above.
	 */
	bool apicv;
};

/* Reported once per missing feature; @what is a complete sentence fragment. */
typedef void (*vmx_report_fn)(void *ctx, const char *what);

/*
 * Control-field adjustment (SDM A.3.1): the low half of a capability MSR has
 * the bits that must be 1, the high half the bits that may be 1.  Returns the
 * value to program and sets *missing to the @required bits the CPU cannot set.
 */
u32 vmx_adjust_controls(u64 cap_msr, u32 required, u32 optional, u32 *missing);

/*
 * Check everything kvmx relies on.  Calls @report for each missing feature
 * (if @report is not NULL) and returns how many are missing; on success fills
 * @ctls (if not NULL) with the controls to use.
 */
int vmx_check_features(const struct kvmx_vmx_info *caps,
		       struct vmx_controls *ctls,
		       vmx_report_fn report, void *ctx);

/* The capability MSRs to use for pin/proc/exit/entry: TRUE ones if present. */
u64 vmx_pin_cap(const struct kvmx_vmx_info *caps);
u64 vmx_proc_cap(const struct kvmx_vmx_info *caps);
u64 vmx_exit_cap(const struct kvmx_vmx_info *caps);
u64 vmx_entry_cap(const struct kvmx_vmx_info *caps);

/* Does @value obey a FIXED0/FIXED1 pair (SDM A.7, A.8)? */
static inline bool vmx_fixed_bits_ok(u64 value, u64 fixed0, u64 fixed1)
{
	return (value & fixed0) == fixed0 && (value & ~fixed1) == 0;
}

#endif /* KVMX_VMX_FEATURES_H */
