// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO: an EPT violation outside every RAM slot (or a write to a read-only
 * one) is a device register.  The instruction is fetched through the guest's
 * page tables and decoded (insn_decode.c: MOV and its zero/sign-extending
 * forms, STOS and MOVS with or without REP, ALU operations, TEST and XCHG
 * with a memory operand), the access goes to userspace as KVM_EXIT_MMIO, and
 * the next KVM_RUN finishes the instruction with the data userspace left.  A
 * string instruction goes one element per exit: a REP with elements left
 * runs again, and its next element faults again.  A read-modify-write is a
 * read exit, then a write exit; registers and flags change only once both
 * are done, so userspace taking over in between leaves the guest as it was.
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

/* Linear address of the current element of a string operand at @seg:@reg. */
static int string_la(struct kvmx_vcpu *v, unsigned int seg, unsigned int reg, u64 *la)
{
	struct x86_seg s;
	u64 ea = v->regs[reg] & address_size_mask(v->mmio.addr_size);

	kvmx_read_seg(seg, &s);
	return seg_linear_address(&s, seg == SEG_SS, kvmx_code_mode(v), ea, v->mmio.size,
				  seg == SEG_FS || seg == SEG_GS, la);
}

/* rSI/rDI one element on, at the instruction's address size (SDM Vol. 2B). */
static void string_advance(struct kvmx_vcpu *v, unsigned int reg, unsigned int mode)
{
	bool down = vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_DF;

	v->regs[reg] = string_reg_write(v->regs[reg],
					string_element_ea(v->regs[reg], v->mmio.addr_size, 1,
							  v->mmio.size, down),
					v->mmio.addr_size, mode);
}

/*
 * One element of STOS/MOVS done: the registers move, rCX counts down, and a
 * REP with elements left runs the instruction again.
 */
static int complete_string_element(struct kvmx_vcpu *v)
{
	u64 mask = address_size_mask(v->mmio.addr_size);
	unsigned int mode = kvmx_code_mode(v);

	string_advance(v, REG_RDI, mode);
	if (v->mmio.op == MMIO_MOVS)
		string_advance(v, REG_RSI, mode);
	if (v->mmio.rep) {
		u64 rcx = ((v->regs[REG_RCX] & mask) - 1) & mask;

		v->regs[REG_RCX] = string_reg_write(v->regs[REG_RCX], rcx, v->mmio.addr_size, mode);
		if (rcx)
			return 1;
	}
	kvmx_skip_bytes(v, v->mmio.len);
	return 1;
}

/* MOVS from MMIO: what userspace read goes to ES:rDI in RAM. */
static int complete_movs_from_mmio(struct kvmx_vcpu *v)
{
	u64 la;
	int fault = string_la(v, SEG_ES, REG_RDI, &la);

	if (fault) {
		kvmx_inject_exception(v, fault, true, 0);
		return 1;
	}
	/* The destination is MMIO too: not emulated (KVM's emulator does it). */
	if (kvmx_access_gla(v, la, v->run->mmio.data, v->mmio.size, WALK_WRITE)) {
		kvmx_emulation_failed(v, NULL, 0);
		return 0;
	}
	return complete_string_element(v);
}

/* KVM_EXIT_MMIO for @len bytes at @gpa; a write carries @data. */
static void mmio_exit(struct kvmx_vcpu *v, u64 gpa, bool write, u64 data)
{
	struct kvmx_run *run = v->run;

	/* The kernel's own record, for a device in the module (io_bus.c). */
	v->uexit = (typeof(v->uexit)) {
		.kind = KVMX_EXIT_MMIO, .write = write, .size = v->mmio.size, .count = 1,
		.addr = gpa, .data = data,
	};
	run->exit_reason = KVMX_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = v->mmio.size;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, &data, v->mmio.size);
}

/* The register operand as the instruction sees it (AH..BH included). */
static u64 reg_operand(struct kvmx_vcpu *v)
{
	return insn_mmio_store_value(&v->mmio, kvmx_reg_read(v, v->mmio.reg));
}

/* The write of a read-modify-write is done: now the guest state changes. */
static int complete_rmw_write(struct kvmx_vcpu *v)
{
	if (v->mmio.op == MMIO_XCHG)
		kvmx_reg_write(v, v->mmio.reg,
			       insn_mmio_load_result(&v->mmio, kvmx_reg_read(v, v->mmio.reg),
						     v->mmio_read));
	else	/* only the status flags: the VMM may have set the others since */
		vmcs_write(VMCS_GUEST_RFLAGS,
			   (vmcs_read(VMCS_GUEST_RFLAGS) & ~X86_ALU_FLAGS) | v->mmio_rflags);
	kvmx_skip_bytes(v, v->mmio.len);
	return 1;
}

/*
 * The read of an ALU operation, TEST or XCHG is back: compute, then finish
 * (result in a register, or flags only) or write the result back.
 */
static int complete_rmw_read(struct kvmx_vcpu *v)
{
	const struct mmio_insn *in = &v->mmio;
	u64 mem = 0, dst, src, res, rflags;

	memcpy(&mem, v->run->mmio.data, in->size);
	v->mmio_read = mem;
	if (in->op == MMIO_XCHG) {
		mmio_exit(v, v->mmio_gpa, true, reg_operand(v));
		kvmx_complete_after_userspace(v, complete_rmw_write);
		return 0;
	}
	dst = in->to_reg ? reg_operand(v) : mem;
	src = in->to_reg ? mem : in->has_imm ? in->imm : reg_operand(v);
	res = alu_exec(in->alu, in->size, dst, src, vmcs_read(VMCS_GUEST_RFLAGS), &rflags);
	if (in->op == MMIO_TEST || in->alu == X86_ALU_CMP || in->to_reg) {
		if (in->to_reg && in->alu != X86_ALU_CMP)
			kvmx_reg_write(v, in->reg,
				       insn_mmio_load_result(in, kvmx_reg_read(v, in->reg), res));
		vmcs_write(VMCS_GUEST_RFLAGS, rflags);
		kvmx_skip_bytes(v, in->len);
		return 1;
	}
	v->mmio_rflags = rflags & X86_ALU_FLAGS;
	mmio_exit(v, v->mmio_gpa, true, res);
	kvmx_complete_after_userspace(v, complete_rmw_write);
	return 0;
}

int kvmx_handle_mmio(struct kvmx_vcpu *v, u64 gpa, bool dev_write)
{
	int (*complete)(struct kvmx_vcpu *v);
	unsigned int mode = kvmx_code_mode(v);
	u8 insn[X86_MAX_INSN_LEN] = { 0 };
	u64 rip = vmcs_read(VMCS_GUEST_RIP);
	u64 gla = (mode == 64 ? 0 : vmcs_read(VMCS_GUEST_CS_BASE)) + rip;
	unsigned int avail = X86_MAX_INSN_LEN;

	if (mode != 64)
		gla = (u32)gla;
	/* Fetch what is there: the instruction may end right before a hole. */
	while (avail && kvmx_access_gla(v, gla, insn, avail, WALK_FETCH))
		avail = min_t(unsigned int, avail - 1, PAGE_SIZE - (gla & ~PAGE_MASK));
	if (!avail || insn_decode_mmio(insn, avail, mode, &v->mmio)) {
		kvmx_emulation_failed(v, insn, avail);
		return 0;
	}
	switch (v->mmio.op) {
	case MMIO_MOVS: {
		u64 la, data = 0;
		int fault;

		/* The exit says which side is the device's. */
		if (!dev_write) {
			mmio_exit(v, gpa, false, 0);
			complete = complete_movs_from_mmio;
			break;
		}
		fault = string_la(v, v->mmio.seg, REG_RSI, &la);
		if (fault) {
			kvmx_inject_exception(v, fault, true, 0);
			return 1;
		}
		if (kvmx_access_gla(v, la, &data, v->mmio.size, 0)) {
			kvmx_emulation_failed(v, insn, avail);
			return 0;
		}
		mmio_exit(v, gpa, true, data);
		complete = complete_string_element;
		break;
	}
	case MMIO_STOS:
		mmio_exit(v, gpa, true, reg_operand(v));
		complete = complete_string_element;
		break;
	case MMIO_ALU:
	case MMIO_TEST:
	case MMIO_XCHG:
		v->mmio_gpa = gpa;
		mmio_exit(v, gpa, false, 0);
		complete = complete_rmw_read;
		break;
	case MMIO_STORE_REG:
	case MMIO_STORE_IMM:
		mmio_exit(v, gpa, true, reg_operand(v));
		complete = complete_mmio_write;
		break;
	default:	/* the loads */
		mmio_exit(v, gpa, false, 0);
		complete = complete_mmio_read;
	}
	kvmx_complete_after_userspace(v, complete);
	return 0;
}
