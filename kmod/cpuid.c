// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: what kvmx can offer a guest (KVM_GET_SUPPORTED_CPUID), the table a
 * vCPU was given (KVM_SET_CPUID2) and the CPUID exit that answers from it.
 *
 * The supported table is the host's CPUID filtered down to features that
 * work without further help from kvmx: no VMX/SMX, no MONITOR/MWAIT, no
 * speculation-control MSRs, no RDTSCP (TSC_AUX is not switched).
 * x2APIC is offered as KVM offers it, whatever the host has: the in-kernel
 * local APIC (lapic.c) implements it, and a VMM with its own APIC clears
 * it.  The TSC-deadline timer is there too, but as in KVM the VMM sets its
 * bit itself (KVM_CAP_TSC_DEADLINE_TIMER says it may), as it sets the
 * "hypervisor present" bit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/fpu/xcr.h>
#include <asm/kvm_para.h>
#include <asm/processor.h>

#include "kvmx.h"
#include "vmx_ops.h"

static struct kvmx_cpuid_entry2 supported[KVMX_MAX_CPUID_ENTRIES];
static unsigned int nr_supported;
u64 kvmx_host_xcr0;

/* Feature bits kvmx passes through (SDM Vol. 2A, CPUID). */
#define F1_ECX	(BIT(0) | BIT(1) | BIT(9) | BIT(12) | BIT(13) | BIT(17) | BIT(19) | \
		 BIT(20) | BIT(22) | BIT(23) | BIT(25) | BIT(26) | BIT(28) | BIT(29) | BIT(30))
#define F1_EDX	(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(8) | \
		 BIT(9) | BIT(11) | BIT(13) | BIT(15) | BIT(16) | BIT(17) | BIT(19) | \
		 BIT(23) | BIT(24) | BIT(25) | BIT(26))
#define F7_EBX	(BIT(0) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | BIT(9) | BIT(16) | BIT(17) | \
		 BIT(19) | BIT(20) | BIT(23) | BIT(28) | BIT(29) | BIT(30) | BIT(31))
#define FX1_ECX	(BIT(0) | BIT(5) | BIT(8))
#define FX1_EDX	(BIT(11) | BIT(20) | BIT(26) | BIT(29))
#define FD1_EAX	(BIT(0) | BIT(1) | BIT(2))	/* XSAVEOPT, XSAVEC, XGETBV1 */
#define CPUID1_ECX_OSXSAVE	BIT(27)
#define CPUID1_ECX_MONITOR	BIT(3)
#define CPUID1_EDX_APIC		BIT(9)
/* The in-kernel local APIC emulates it whatever the host has, as KVM's. */
#define CPUID1_ECX_X2APIC	BIT(21)

/* XCR0 components a guest may enable: x87, SSE, AVX, AVX-512. */
u64 kvmx_supported_xcr0(void)
{
	return kvmx_host_xcr0 & (XFEATURE_MASK_FP | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM |
				 XFEATURE_MASK_AVX512);
}

static struct kvmx_cpuid_entry2 *add(u32 function, u32 index, bool indexed)
{
	struct kvmx_cpuid_entry2 *e;

	if (nr_supported >= ARRAY_SIZE(supported))
		return NULL;
	e = &supported[nr_supported++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = indexed ? KVMX_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	cpuid_count(function, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	return e;
}

int kvmx_cpuid_init(void)
{
	struct kvmx_cpuid_entry2 *e;
	u32 max, i;
	u64 xcr0;

	kvmx_host_xcr0 = boot_cpu_has(X86_FEATURE_OSXSAVE) ?
			 xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
	xcr0 = kvmx_supported_xcr0();

	max = min_t(u32, cpuid_eax(0), 0xd);
	e = add(0, 0, false);
	e->eax = max;
	e = add(1, 0, false);
	/* Only what the host kernel itself enabled (it may have turned off XSAVE). */
	e->ecx &= F1_ECX & boot_cpu_data.x86_capability[CPUID_1_ECX];
	if (!(xcr0 & XFEATURE_MASK_YMM))
		e->ecx &= ~BIT(28);
	e->edx &= F1_EDX & boot_cpu_data.x86_capability[CPUID_1_EDX];
	e->ecx |= CPUID1_ECX_X2APIC;
	if (max >= 7) {
		e = add(7, 0, true);
		e->eax = 0;
		e->ebx &= F7_EBX & boot_cpu_data.x86_capability[CPUID_7_0_EBX];
		e->ebx |= CPUID7_EBX_TSC_ADJUST;	/* tsc.c emulates it */
		if (!(kvmx_ctls.proc2 & PROC2_ENABLE_INVPCID))
			e->ebx &= ~BIT(10);
		if (!(xcr0 & XFEATURE_MASK_YMM))
			e->ebx &= ~BIT(5);
		if ((xcr0 & XFEATURE_MASK_AVX512) != XFEATURE_MASK_AVX512)
			e->ebx &= ~(BIT(16) | BIT(17) | BIT(28) | BIT(30) | BIT(31));
		e->ecx = 0;
		e->edx = 0;
	}
	if (max >= 0xd && boot_cpu_has(X86_FEATURE_OSXSAVE)) {
		e = add(0xd, 0, true);
		e->eax = (u32)xcr0;
		e->edx = (u32)(xcr0 >> 32);
		e = add(0xd, 1, true);
		e->eax &= FD1_EAX;
		e->ebx = e->ecx = e->edx = 0;
		for (i = 2; i < 64; i++)
			if (xcr0 & BIT_ULL(i))
				add(0xd, i, true);
	}
	max = min_t(u32, cpuid_eax(0x80000000), 0x80000008);
	e = add(0x80000000, 0, false);
	e->eax = max;
	for (i = 0x80000001; i <= max; i++) {
		e = add(i, 0, false);
		if (i == 0x80000001) {
			e->ecx &= FX1_ECX;
			e->edx &= FX1_EDX;
		} else if (i == 0x80000008) {
			e->ebx = e->ecx = e->edx = 0;
		} else if (i == 0x80000007) {
			e->eax = e->ebx = e->ecx = 0;
			e->edx &= BIT(8);	/* invariant TSC */
		}
	}
	/*
	 * KVM's leaves (Documentation/virt/kvm/x86/cpuid.rst): the signature,
	 * kvmclock through both its MSR pairs, steal time, and NOP_IO_DELAY
	 * (the guest skips its port-0x80 delays, which would each be an
	 * exit).  Put there by hand, since the host's CPUID says nothing
	 * about them.
	 */
	e = &supported[nr_supported++];
	memset(e, 0, sizeof(*e));
	e->function = KVM_CPUID_SIGNATURE;
	e->eax = KVM_CPUID_FEATURES;
	memcpy(&e->ebx, "KVMK", 4);
	memcpy(&e->ecx, "VMKV", 4);
	memcpy(&e->edx, "M\0\0\0", 4);
	e = &supported[nr_supported++];
	memset(e, 0, sizeof(*e));
	e->function = KVM_CPUID_FEATURES;
	e->eax = BIT(KVM_FEATURE_CLOCKSOURCE) | BIT(KVM_FEATURE_NOP_IO_DELAY) |
		 BIT(KVM_FEATURE_CLOCKSOURCE2) | BIT(KVM_FEATURE_PV_UNHALT) |
		 BIT(KVM_FEATURE_PV_SEND_IPI) | BIT(KVM_FEATURE_PV_EOI);
	/* Steal time, and what its "preempted" flag serves (steal_time.c, spin.c). */
	if (sched_info_on())
		e->eax |= BIT(KVM_FEATURE_STEAL_TIME) | BIT(KVM_FEATURE_PV_TLB_FLUSH) |
			  BIT(KVM_FEATURE_PV_SCHED_YIELD);
	return 0;
}

int kvmx_get_supported_cpuid(struct kvmx_cpuid2 __user *u)
{
	u32 nent;

	if (get_user(nent, &u->nent))
		return -EFAULT;
	if (nent < nr_supported)
		return -E2BIG;
	if (put_user(nr_supported, &u->nent) ||
	    copy_to_user(u->entries, supported, nr_supported * sizeof(supported[0])))
		return -EFAULT;
	return 0;
}

static bool same_table(struct kvmx_vcpu *v, const struct kvmx_cpuid_entry2 *e, u32 nent)
{
	u32 i;

	if (nent != v->cpuid_nent)
		return false;
	for (i = 0; i < nent; i++) {
		const struct kvmx_cpuid_entry2 *o = &v->cpuid[i];

		if (e[i].function != o->function || e[i].index != o->index ||
		    e[i].flags != o->flags || e[i].eax != o->eax || e[i].ebx != o->ebx ||
		    e[i].ecx != o->ecx || e[i].edx != o->edx)
			return false;
	}
	return true;
}

int kvmx_vcpu_set_cpuid(struct kvmx_vcpu *v, struct kvmx_cpuid2 __user *u)
{
	struct kvmx_cpuid_entry2 *e;
	u32 nent;

	if (get_user(nent, &u->nent))
		return -EFAULT;
	if (nent > KVMX_MAX_CPUID_ENTRIES)
		return -E2BIG;
	e = nent ? memdup_user(u->entries, nent * sizeof(*e)) : NULL;
	if (IS_ERR(e))
		return PTR_ERR(e);
	/*
	 * After the first entry the guest may have acted on what CPUID said:
	 * the same table again is fine, another one is refused (KVM 6.1 too).
	 */
	if (v->last_cpu >= 0) {
		int r = same_table(v, e, nent) ? 0 : -EINVAL;

		kfree(e);
		return r;
	}
	kfree(v->cpuid);
	v->cpuid = e;
	v->cpuid_nent = nent;
	kvmx_cpuid_update_mwait(v);
	return 0;
}

int kvmx_vcpu_get_cpuid(struct kvmx_vcpu *v, struct kvmx_cpuid2 __user *u)
{
	u32 nent;

	if (get_user(nent, &u->nent))
		return -EFAULT;
	if (nent < v->cpuid_nent)
		return -E2BIG;
	if (put_user(v->cpuid_nent, &u->nent) ||
	    copy_to_user(u->entries, v->cpuid, v->cpuid_nent * sizeof(*v->cpuid)))
		return -EFAULT;
	return 0;
}

static const struct kvmx_cpuid_entry2 *find(struct kvmx_vcpu *v, u32 function, u32 index)
{
	return kvmx_cpuid_entry(v, function, index);
}

const struct kvmx_cpuid_entry2 *kvmx_cpuid_entry(struct kvmx_vcpu *v, u32 function, u32 index)
{
	unsigned int i;

	for (i = 0; i < v->cpuid_nent; i++) {
		const struct kvmx_cpuid_entry2 *e = &v->cpuid[i];

		if (e->function == function &&
		    (!(e->flags & KVMX_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index))
			return e;
	}
	return NULL;
}

/*
 * Without KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT, CPUID.1:ECX.MONITOR is what
 * IA32_MISC_ENABLE.MWAIT says (msr.c), after each change of either.
 */
void kvmx_cpuid_update_mwait(struct kvmx_vcpu *v)
{
	unsigned int i;

	if (kvmx_quirk(v->vm, KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT))
		return;
	for (i = 0; i < v->cpuid_nent; i++) {
		struct kvmx_cpuid_entry2 *e = &v->cpuid[i];

		if (e->function != 1)
			continue;
		if (v->misc_enable & MSR_IA32_MISC_ENABLE_MWAIT)
			e->ecx |= CPUID1_ECX_MONITOR;
		else
			e->ecx &= ~CPUID1_ECX_MONITOR;
	}
}

/* MONITOR/MWAIT are the guest's (CPUID.1:ECX.MONITOR). */
bool kvmx_guest_has_mwait(struct kvmx_vcpu *v)
{
	const struct kvmx_cpuid_entry2 *e = find(v, 1, 0);

	return e && (e->ecx & CPUID1_ECX_MONITOR);
}

/*
 * KVM's rule: the PV features are all there unless the VMM asked that
 * the guest's CPUID leaf say which (KVM_CAP_ENFORCE_PV_FEATURE_CPUID).
 */
bool kvmx_guest_pv_has(struct kvmx_vcpu *v, unsigned int feature)
{
	const struct kvmx_cpuid_entry2 *e;

	if (!v->enforce_pv_cpuid)
		return true;
	e = find(v, KVM_CPUID_FEATURES, 0);
	return e && (e->eax & BIT(feature));
}

/* XSAVE area size for the components in @xcr0, from the guest's leaf 0xd. */
static u32 xsave_size(struct kvmx_vcpu *v, u64 xcr0)
{
	u32 size = 512 + 64, i;

	for (i = 2; i < 64; i++) {
		const struct kvmx_cpuid_entry2 *e;

		if (!(xcr0 & BIT_ULL(i)))
			continue;
		e = find(v, 0xd, i);
		if (e && e->eax + e->ebx > size)
			size = e->eax + e->ebx;
	}
	return size;
}

void kvmx_emulate_cpuid(struct kvmx_vcpu *v)
{
	u32 function = (u32)v->regs[REG_RAX], index = (u32)v->regs[REG_RCX];
	const struct kvmx_cpuid_entry2 *e = find(v, function, index);
	u32 eax = 0, ebx = 0, ecx = 0, edx = 0;

	if (e) {
		eax = e->eax;
		ebx = e->ebx;
		ecx = e->ecx;
		edx = e->edx;
	}
	/* Bits that follow the guest's state, as on real hardware. */
	if (function == 1) {
		ecx &= ~CPUID1_ECX_OSXSAVE;
		if (v->cr4 & X86_CR4_OSXSAVE)
			ecx |= CPUID1_ECX_OSXSAVE;
		/* The APIC bit follows IA32_APIC_BASE's global enable (SDM 10.4.3). */
		if (v->apic && !(v->apic_base & MSR_IA32_APICBASE_ENABLE))
			edx &= ~CPUID1_EDX_APIC;
	} else if (function == 0xd && index == 0 && e) {
		ebx = xsave_size(v, v->xcr0);
	}
	v->regs[REG_RAX] = eax;
	v->regs[REG_RBX] = ebx;
	v->regs[REG_RCX] = ecx;
	v->regs[REG_RDX] = edx;
}
