/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VM entry and VM exit: the only code that runs with guest registers loaded.
 *
 * The guest's general-purpose registers live in an array indexed by x86
 * register number (RSP excepted: the VMCS holds it).  VM exit lands at
 * kvmx_vmexit with RSP = VMCS.HOST_RSP, set just before entry to point at
 * the saved @regs pointer (SDM 28.5 "Loading host state").
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#define R_RAX	(0 * 8)
#define R_RCX	(1 * 8)
#define R_RDX	(2 * 8)
#define R_RBX	(3 * 8)
#define R_RBP	(5 * 8)
#define R_RSI	(6 * 8)
#define R_RDI	(7 * 8)
#define R_R8	(8 * 8)
#define R_R9	(9 * 8)
#define R_R10	(10 * 8)
#define R_R11	(11 * 8)
#define R_R12	(12 * 8)
#define R_R13	(13 * 8)
#define R_R14	(14 * 8)
#define R_R15	(15 * 8)

.section .text, "ax"

/*
 * int __kvmx_vcpu_run(struct kvmx_vcpu *v, unsigned long *regs, bool launched)
 *
 * Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed (VMfail), and
 * 2 if it faulted.  Interrupts must be off.  @v is only handed to
 * kvmx_update_host_rsp(); @regs are its guest registers.
 */
SYM_FUNC_START(__kvmx_vcpu_run)
	push %rbp
	mov  %rsp, %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx

	/* @regs stays on the stack: VM exit finds it at HOST_RSP. */
	push %rsi
	mov  %edx, %ebx

	/* kvmx_update_host_rsp(@v, the stack VM exit will land on) */
	mov  %rsp, %rsi
	call kvmx_update_host_rsp

	mov  (%rsp), %rax
	/* CF = @launched: VMRESUME, else VMLAUNCH.  MOVs keep the flags. */
	bt   $0, %ebx

	mov  R_RCX(%rax), %rcx
	mov  R_RDX(%rax), %rdx
	mov  R_RBX(%rax), %rbx
	mov  R_RBP(%rax), %rbp
	mov  R_RSI(%rax), %rsi
	mov  R_RDI(%rax), %rdi
	mov  R_R8(%rax),  %r8
	mov  R_R9(%rax),  %r9
	mov  R_R10(%rax), %r10
	mov  R_R11(%rax), %r11
	mov  R_R12(%rax), %r12
	mov  R_R13(%rax), %r13
	mov  R_R14(%rax), %r14
	mov  R_R15(%rax), %r15
	mov  R_RAX(%rax), %rax

	/* MDS/MMIO-stale-data: flush CPU buffers when the host asks (VERW keeps CF). */
	VM_CLEAR_CPU_BUFFERS

	UNWIND_HINT_SAVE
	jnc  .Lvmlaunch
.Lvmresume:
	vmresume
	jmp  .Lvmfail
.Lvmlaunch:
	vmlaunch
	jmp  .Lvmfail

	_ASM_EXTABLE(.Lvmresume, .Lfixup)
	_ASM_EXTABLE(.Lvmlaunch, .Lfixup)

SYM_INNER_LABEL(kvmx_vmexit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE

	push %rax
	mov  8(%rsp), %rax		/* @regs */
	pop  R_RAX(%rax)
	mov  %rcx, R_RCX(%rax)
	mov  %rdx, R_RDX(%rax)
	mov  %rbx, R_RBX(%rax)
	mov  %rbp, R_RBP(%rax)
	mov  %rsi, R_RSI(%rax)
	mov  %rdi, R_RDI(%rax)
	mov  %r8,  R_R8(%rax)
	mov  %r9,  R_R9(%rax)
	mov  %r10, R_R10(%rax)
	mov  %r11, R_R11(%rax)
	mov  %r12, R_R12(%rax)
	mov  %r13, R_R13(%rax)
	mov  %r14, R_R14(%rax)
	mov  %r15, R_R15(%rax)
	xor  %ebx, %ebx

.Lclear_regs:
	pop  %rax			/* @regs */
	/* Leave no guest value in a register for speculation to use. */
	xor  %eax, %eax
	xor  %ecx, %ecx
	xor  %edx, %edx
	xor  %ebp, %ebp
	xor  %esi, %esi
	xor  %edi, %edi
	xor  %r8d,  %r8d
	xor  %r9d,  %r9d
	xor  %r10d, %r10d
	xor  %r11d, %r11d
	xor  %r12d, %r12d
	xor  %r13d, %r13d
	xor  %r14d, %r14d
	xor  %r15d, %r15d

	/* Spectre-RSB: the guest may have filled the RSB; before any RET. */
	FILL_RETURN_BUFFER %rcx, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT, \
			   X86_FEATURE_RSB_VMEXIT_LITE

	/* Legacy IBRS: the host's SPEC_CTRL again, before the first RET. */
	call kvmx_spec_ctrl_restore_host
#ifdef X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT
	/* BHI: no guest-made branch history for host code to use. */
	CLEAR_BRANCH_HISTORY_VMEXIT
#endif

	mov  %ebx, %eax
	pop  %rbx
	pop  %r12
	pop  %r13
	pop  %r14
	pop  %r15
	pop  %rbp
	RET

.Lfixup:
	mov  $2, %ebx
	jmp  .Lclear_regs
.Lvmfail:
	mov  $1, %ebx
	jmp  .Lclear_regs
SYM_FUNC_END(__kvmx_vcpu_run)
