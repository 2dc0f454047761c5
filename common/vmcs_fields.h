/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMCS field encodings (SDM Vol. 3D, Appendix B) and the formats of the
 * fields kvmx reads: exit reasons (Appendix C), exit qualifications
 * (SDM 28.2.1), interruption information (SDM 25.8.3, 28.2.2).
 * Kernel-agnostic: shared with the native unit tests and `kvmx`.
 */
#ifndef KVMX_VMCS_FIELDS_H
#define KVMX_VMCS_FIELDS_H

#include "kvmx_compat.h"

/* VMCS_<id> for every row of vmcs_field_table.h. */
#define VMCS_FIELD_ENUM(id, enc, name)	VMCS_##id = (enc),
#define VMCS_FIELD_FIRST VMCS_FIELD_ENUM
#define VMCS_FIELD_DUMP VMCS_FIELD_ENUM
#define VMCS_FIELD_NAME VMCS_FIELD_ENUM
enum vmcs_field {
#include "vmcs_field_table.h"
};
#undef VMCS_FIELD_ENUM

/* Basic exit reasons: EXIT_REASON_<id> for every row of vmx_exit_reasons.h. */
#define VMX_EXIT_REASON(id, nr, name)	EXIT_REASON_##id = (nr),
enum vmx_exit_reason {
#include "vmx_exit_reasons.h"
	EXIT_REASON_MAX
};

#define EXIT_REASON_BASIC(r)		((r) & 0xffff)
#define EXIT_REASON_FAILED_ENTRY	BIT(31)

/* Interruption information (VM-entry and VM-exit, SDM 25.8.3 / 28.2.2). */
#define INTR_INFO_VECTOR(i)		((i) & 0xff)
#define INTR_INFO_TYPE(i)		(((i) >> 8) & 7)
#define INTR_INFO_DELIVER_CODE		BIT(11)
#define INTR_INFO_VALID			BIT(31)
#define INTR_TYPE_EXT_INTR		0
#define INTR_TYPE_NMI			2
#define INTR_TYPE_HARD_EXCEPTION	3
#define INTR_TYPE_SOFT_INTR		4
#define INTR_TYPE_PRIV_SOFT_EXCEPTION	5	/* ICEBP (INT1) */
#define INTR_TYPE_SOFT_EXCEPTION	6

/* Guest interruptibility state (SDM 25.4.2). */
#define GUEST_INTR_STATE_STI		BIT(0)
#define GUEST_INTR_STATE_MOV_SS		BIT(1)
#define GUEST_INTR_STATE_NMI		BIT(3)

/* Exit qualification for I/O instructions (SDM Table 28-5). */
#define IO_QUAL_SIZE(q)			((unsigned int)((q) & 7) + 1)
#define IO_QUAL_IN			BIT(3)
#define IO_QUAL_STRING			BIT(4)
#define IO_QUAL_REP			BIT(5)
#define IO_QUAL_PORT(q)			((u16)((q) >> 16))

/* Exit qualification for control-register accesses (SDM Table 28-3). */
#define CR_QUAL_NUM(q)			((unsigned int)((q) & 15))
#define CR_QUAL_TYPE(q)			((unsigned int)(((q) >> 4) & 3))
#define CR_QUAL_REG(q)			((unsigned int)(((q) >> 8) & 15))
#define CR_QUAL_LMSW_DATA(q)		((u16)((q) >> 16))
#define CR_TYPE_MOV_TO_CR		0
#define CR_TYPE_MOV_FROM_CR		1
#define CR_TYPE_CLTS			2
#define CR_TYPE_LMSW			3

/* Exit qualification for MOV DR (SDM Table 28-4). */
#define DR_QUAL_NUM(q)			((unsigned int)((q) & 7))
#define DR_QUAL_FROM_DR			BIT(4)
#define DR_QUAL_REG(q)			((unsigned int)(((q) >> 8) & 15))

/* Exit qualification for APIC-access exits (SDM Table 28-6); also APIC-write's offset. */
#define APIC_ACCESS_OFFSET		0xfff
#define APIC_ACCESS_TYPE		0xf000
#define APIC_ACCESS_LINEAR_READ		0
#define APIC_ACCESS_LINEAR_WRITE	1

/* Exit qualification for EPT violations (SDM Table 28-7). */
#define EPT_QUAL_READ			BIT(0)
#define EPT_QUAL_WRITE			BIT(1)
#define EPT_QUAL_FETCH			BIT(2)
#define EPT_QUAL_READABLE		BIT(3)
#define EPT_QUAL_WRITABLE		BIT(4)
#define EPT_QUAL_EXECUTABLE		BIT(5)
#define EPT_QUAL_GLA_VALID		BIT(7)
#define EPT_QUAL_NMI_UNBLOCKING		BIT(12)

/* VM-exit instruction information for INS/OUTS (SDM Table 28-8). */
#define INSN_INFO_ADDR_SIZE(i)		(((i) >> 7) & 7)	/* 0: 16, 1: 32, 2: 64 bit */
#define INSN_INFO_SEG(i)		(((i) >> 15) & 7)

/* Segment access rights as the VMCS holds them (SDM 25.4.1). */
#define VMX_AR_TYPE(ar)			((ar) & 15)
#define VMX_AR_S			BIT(4)	/* code/data, not system */
#define VMX_AR_DPL(ar)			(((ar) >> 5) & 3)
#define VMX_AR_P			BIT(7)
#define VMX_AR_AVL			BIT(12)
#define VMX_AR_L			BIT(13)	/* 64-bit code */
#define VMX_AR_DB			BIT(14)	/* default operation size 32 */
#define VMX_AR_G			BIT(15)
#define VMX_AR_UNUSABLE			BIT(16)

#endif /* KVMX_VMCS_FIELDS_H */
