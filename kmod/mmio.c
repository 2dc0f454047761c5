// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO: an EPT violation outside every RAM slot (or a write to a read-only
 * one) is a device register.  The instruction is fetched through the guest's
 * page tables and decoded (insn_decode.c: MOV and its zero/sign-extending
 * forms), the access goes to userspace as KVM_EXIT_MMIO, and the next
 * KVM_RUN finishes the instruction with the data userspace left.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "kvmx.h"
#include "guest_walk.h"
#include "vmx_ops.h"

/* A load: the data userspace put in run->mmio goes into the register. */
static int complete_mmio_read(struct kvmx_vcpu *v)
{
	u64 data = 0;

	memcpy(&data, v->run->mmio.data, v->mmio.size);
	kvmx_reg_write(v, v->mmio.reg,
		       insn_mmio_load_result(&v->mmio, kvmx_reg_read(v, v->mmio.reg), data));
	kvmx_skip_bytes(v, v->mmio.len);
	return 1;
}

/* A store: userspace took the data, the instruction is done. */
static int complete_mmio_write(struct kvmx_vcpu *v)
{
	kvmx_skip_bytes(v, v->mmio.len);
	return 1;
}

int kvmx_handle_mmio(struct kvmx_vcpu *v, u64 gpa)
{
	struct kvmx_run *run = v->run;
	unsigned int mode = kvmx_code_mode(v);
	u8 insn[X86_MAX_INSN_LEN] = { 0 };
	u64 rip = vmcs_read(VMCS_GUEST_RIP);
	u64 gla = (mode == 64 ? 0 : vmcs_read(VMCS_GUEST_CS_BASE)) + rip;
	unsigned int avail = X86_MAX_INSN_LEN;
	u64 value;

	if (mode != 64)
		gla = (u32)gla;
	/* Fetch what is there: the instruction may end right before a hole. */
	while (avail && kvmx_access_gla(v, gla, insn, avail, WALK_FETCH))
		avail = min_t(unsigned int, avail - 1, PAGE_SIZE - (gla & ~PAGE_MASK));
	if (!avail || insn_decode_mmio(insn, avail, mode, &v->mmio)) {
		kvmx_emulation_failed(v, insn, avail);
		return 0;
	}
	run->exit_reason = KVMX_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = v->mmio.size;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (v->mmio.op == MMIO_STORE_REG || v->mmio.op == MMIO_STORE_IMM) {
		run->mmio.is_write = 1;
		value = insn_mmio_store_value(&v->mmio, kvmx_reg_read(v, v->mmio.reg));
		memcpy(run->mmio.data, &value, v->mmio.size);
		kvmx_complete_after_userspace(v, complete_mmio_write);
	} else {
		run->mmio.is_write = 0;
		kvmx_complete_after_userspace(v, complete_mmio_read);
	}
	return 0;
}
