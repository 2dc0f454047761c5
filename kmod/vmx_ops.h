/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMX instructions, each wrapped once with its failure path.
 *
 * Every VMX instruction reports failure in RFLAGS (SDM 31.2 "Conventions"):
 * CF=1 is VMfailInvalid (no current VMCS / bad operand), ZF=1 is VMfailValid
 * (error number in the VM-instruction error field).  "jna" takes both.  A
 * fault (#UD/#GP, e.g. VMX not on) is caught by the exception table so a
 * kvmx bug turns into an error code, not an oops.
 */
#ifndef KVMX_VMX_OPS_H
#define KVMX_VMX_OPS_H

#include <linux/types.h>
#include <linux/errno.h>
#include <asm/asm.h>

/* Returned when the instruction itself reported VMfailValid/VMfailInvalid. */
#define VMX_FAIL	(-EIO)
/* Returned when the instruction faulted. */
#define VMX_FAULT	(-EFAULT)

static __always_inline int vmx_vmxon(u64 phys)
{
	asm goto("1: vmxon %0\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : "m"(phys) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

static __always_inline int vmx_vmxoff(void)
{
	asm goto("1: vmxoff\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

static __always_inline int vmx_vmclear(u64 phys)
{
	asm goto("1: vmclear %0\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : "m"(phys) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

static __always_inline int vmx_vmptrld(u64 phys)
{
	asm goto("1: vmptrld %0\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : "m"(phys) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

/* Reports a failed VMREAD/VMWRITE: a kvmx bug, logged once per field. */
void kvmx_vmcs_access_failed(const char *insn, unsigned long field);

static __always_inline unsigned long vmcs_read(unsigned long field)
{
	unsigned long value;

	asm goto("1: vmread %[field], %[value]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fail]))
		 : [value] "=rm"(value) : [field] "r"(field) : "cc" : fail);
	return value;
fail:
	kvmx_vmcs_access_failed("vmread", field);
	return 0;
}

/* VMREAD of a field the CPU may not have: failure is an answer, not a bug. */
static __always_inline int vmcs_read_safe(unsigned long field, unsigned long *value)
{
	asm goto("1: vmread %[field], %[value]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fail]))
		 : [value] "=rm"(*value) : [field] "r"(field) : "cc" : fail);
	return 0;
fail:
	return VMX_FAIL;
}

static __always_inline u32 vmcs_read32(unsigned long field)
{
	return (u32)vmcs_read(field);
}

static __always_inline void vmcs_write(unsigned long field, unsigned long value)
{
	asm goto("1: vmwrite %[value], %[field]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fail]))
		 : : [field] "r"(field), [value] "rm"(value) : "cc", "memory" : fail);
	return;
fail:
	kvmx_vmcs_access_failed("vmwrite", field);
}

/* INVEPT/INVVPID descriptors (SDM 31.3, "INVEPT" and "INVVPID"). */
#define INVEPT_SINGLE_CONTEXT		1
#define INVEPT_ALL_CONTEXT		2
#define INVVPID_INDIV_ADDR		0
#define INVVPID_SINGLE_CONTEXT		1
#define INVVPID_ALL_CONTEXT		2

static __always_inline int vmx_invept(unsigned long type, u64 eptp)
{
	struct { u64 eptp, reserved; } desc = { eptp, 0 };

	asm goto("1: invept %0, %1\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : "m"(desc), "r"(type) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

static __always_inline int vmx_invvpid(unsigned long type, u16 vpid, u64 gva)
{
	struct { u64 vpid : 16, reserved : 48; u64 gva; } desc = { vpid, 0, gva };

	asm goto("1: invvpid %0, %1\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, (%l[fault]))
		 : : "m"(desc), "r"(type) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return VMX_FAIL;
fault:
	return VMX_FAULT;
}

#endif /* KVMX_VMX_OPS_H */
