// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's machine-check architecture (SDM Vol. 3B, chapter 16), as KVM
 * emulates it: IA32_MCG_CAP/STATUS/CTL and up to 32 banks of
 * CTL/STATUS/ADDR/MISC, kept in software; KVM_X86_SETUP_MCE chooses the
 * capabilities, KVM_X86_SET_MCE lets the VMM report an error to the guest
 * (QEMU does for host memory errors).  None of this touches the host's
 * own machine checks (exit_handlers.c, run.c handle those).
 *
 * With CMCI (MCG_CMCI_P), each bank has an IA32_MCi_CTL2 whose CMCI_EN
 * asks for an interrupt through the local APIC's CMCI entry when an error
 * that needs no action (UCNA: uncorrected, no #MC) is logged there.
 */
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include <asm/mce.h>
#include <asm/msr-index.h>

#include "kvmx.h"

/* What KVM 6.1 offers on VMX, without LMCE (no FEATURE_CONTROL bit for it). */
#define KVMX_MCE_CAP_SUPPORTED	(MCG_CTL_P | MCG_SER_P | MCG_CMCI_P)

static unsigned int bank_num(struct kvmx_vcpu *v)
{
	return v->mcg_cap & 0xff;
}

/* A new vCPU: 32 banks, no MCG_CTL, until the VMM says otherwise (as KVM). */
void kvmx_mce_init(struct kvmx_vcpu *v)
{
	v->mcg_cap = KVMX_MAX_MCE_BANKS;
}

static int setup_mce(struct kvmx_vcpu *v, u64 mcg_cap)
{
	unsigned int i, n = mcg_cap & 0xff;

	if (!n || n > KVMX_MAX_MCE_BANKS ||
	    (mcg_cap & ~(KVMX_MCE_CAP_SUPPORTED | 0xff | 0xff0000)))
		return -EINVAL;
	v->mcg_cap = mcg_cap;
	if (mcg_cap & MCG_CTL_P)
		v->mcg_ctl = ~0ULL;
	for (i = 0; i < n; i++) {
		v->mce_banks[4 * i] = ~0ULL;	/* every error class reported */
		v->mce_ctl2[i] = 0;
	}
	kvmx_lapic_mcg_cap_changed(v);
	return 0;
}

/* Uncorrected, no action required: logged, and a CMCI if the bank asks. */
static bool is_ucna(const struct kvmx_x86_mce *m)
{
	return !m->mcg_status && !(m->status & (MCI_STATUS_PCC | MCI_STATUS_S | MCI_STATUS_AR)) &&
	       (m->status & MCI_STATUS_UC);
}

static int set_mce(struct kvmx_vcpu *v, struct kvmx_x86_mce *m)
{
	unsigned int n = bank_num(v);
	u64 *bank;

	if (m->bank >= n || !(m->status & MCI_STATUS_VAL))
		return -EINVAL;
	bank = &v->mce_banks[array_index_nospec(4 * m->bank, 4 * n)];

	if (is_ucna(m)) {
		bank[1] = m->status;
		bank[2] = m->addr;
		bank[3] = m->misc;
		v->mcg_status = m->mcg_status;
		if ((v->mcg_cap & MCG_CMCI_P) &&
		    (v->mce_ctl2[array_index_nospec(m->bank, n)] & MCI_CTL2_CMCI_EN))
			kvmx_lapic_deliver_cmci(v);
	} else if (m->status & MCI_STATUS_UC) {
		/* Reporting of uncorrected errors is off: nothing happens. */
		if (((v->mcg_cap & MCG_CTL_P) && v->mcg_ctl != ~0ULL) || bank[0] != ~0ULL)
			return 0;
		/* A second #MC, or none enabled: the CPU shuts down. */
		if ((v->mcg_status & MCG_STATUS_MCIP) || !(v->cr4 & X86_CR4_MCE)) {
			v->triple_fault = true;
			return 0;
		}
		if (bank[1] & MCI_STATUS_VAL)
			m->status |= MCI_STATUS_OVER;
		bank[2] = m->addr;
		bank[3] = m->misc;
		v->mcg_status = m->mcg_status;
		bank[1] = m->status;
		kvmx_inject_exception(v, X86_VEC_MC, false, 0);
	} else if (!(bank[1] & MCI_STATUS_VAL) || !(bank[1] & MCI_STATUS_UC)) {
		/* A corrected error: logged, no exception. */
		if (bank[1] & MCI_STATUS_VAL)
			m->status |= MCI_STATUS_OVER;
		bank[2] = m->addr;
		bank[3] = m->misc;
		bank[1] = m->status;
	} else {
		bank[1] |= MCI_STATUS_OVER;	/* an uncorrected one is kept */
	}
	return 0;
}

long kvmx_mce_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp)
{
	struct kvmx_x86_mce m;
	u64 cap;

	switch (ioctl) {
	case KVMX_X86_SETUP_MCE:
		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		return setup_mce(v, cap);
	case KVMX_X86_SET_MCE:
		if (copy_from_user(&m, argp, sizeof(m)))
			return -EFAULT;
		return set_mce(v, &m);
	}
	return -ENOTTY;
}

/* KVM_X86_GET_MCE_CAP_SUPPORTED (system fd) */
long kvmx_mce_cap_supported(void __user *argp)
{
	u64 cap = KVMX_MCE_CAP_SUPPORTED;

	return copy_to_user(argp, &cap, sizeof(cap)) ? -EFAULT : 0;
}

static bool is_bank_msr(struct kvmx_vcpu *v, u32 index)
{
	return index >= MSR_IA32_MC0_CTL && index < MSR_IA32_MCx_CTL(bank_num(v));
}

/*
 * IA32_MCi_CTL2 of an existing bank: its index; -2 for one of a bank this
 * vCPU lacks (a known MSR that faults, as in KVM); -1 for any other MSR.
 */
static int ctl2_bank(struct kvmx_vcpu *v, u32 index)
{
	if (index < MSR_IA32_MC0_CTL2 || index >= MSR_IA32_MCx_CTL2(KVMX_MAX_MCE_BANKS))
		return -1;
	if (index >= MSR_IA32_MCx_CTL2(bank_num(v)))
		return -2;
	return array_index_nospec(index - MSR_IA32_MC0_CTL2, bank_num(v));
}

/* 0: done, 1: refused (#GP or a short KVM_SET_MSRS), -ENOENT: not an MCE MSR. */
int kvmx_mce_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data, bool host)
{
	switch (index) {
	case MSR_IA32_P5_MC_ADDR:
	case MSR_IA32_P5_MC_TYPE:
		*data = 0;
		return 0;
	case MSR_IA32_MCG_CAP:
		*data = v->mcg_cap;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(v->mcg_cap & MCG_CTL_P) && !host)
			return 1;
		*data = v->mcg_ctl;
		return 0;
	case MSR_IA32_MCG_STATUS:
		*data = v->mcg_status;
		return 0;
	}
	if (ctl2_bank(v, index) == -2)
		return 1;
	if (ctl2_bank(v, index) >= 0) {
		if (!(v->mcg_cap & MCG_CMCI_P) && !host)
			return 1;
		*data = v->mce_ctl2[ctl2_bank(v, index)];
		return 0;
	}
	if (!is_bank_msr(v, index))
		return -ENOENT;
	*data = v->mce_banks[array_index_nospec(index - MSR_IA32_MC0_CTL,
						4 * bank_num(v))];
	return 0;
}

int kvmx_mce_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host)
{
	u32 off;

	switch (index) {
	case MSR_IA32_MCG_STATUS:
		v->mcg_status = data;
		return 0;
	case MSR_IA32_MCG_CTL:
		if (!(v->mcg_cap & MCG_CTL_P) && (data || !host))
			return 1;
		if (data && data != ~0ULL)
			return 1;
		v->mcg_ctl = data;
		return 0;
	}
	if (ctl2_bank(v, index) == -2)
		return 1;
	if (ctl2_bank(v, index) >= 0) {
		if (!(v->mcg_cap & MCG_CMCI_P) && (data || !host))
			return 1;
		if (data & ~(MCI_CTL2_CMCI_EN | MCI_CTL2_CMCI_THRESHOLD_MASK))
			return 1;
		v->mce_ctl2[ctl2_bank(v, index)] = data;
		return 0;
	}
	if (!is_bank_msr(v, index))
		return -ENOENT;
	off = array_index_nospec(index - MSR_IA32_MC0_CTL, 4 * bank_num(v));
	/*
	 * MCi_CTL takes 0 or all ones; like KVM, bit 10 and bit 0 may be
	 * clear too (old Linux and UnixWare clear them).
	 */
	if ((off & 3) == 0 && data && (data | BIT_ULL(10) | 1) != ~0ULL)
		return 1;
	/* MCi_STATUS: only the VMM may log an error there (Intel has no McStatusWrEn). */
	if ((off & 3) == 1 && data && !host)
		return 1;
	v->mce_banks[off] = data;
	return 0;
}
