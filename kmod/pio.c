// SPDX-License-Identifier: GPL-2.0
/*
 * Port I/O: IN/OUT and INS/OUTS (with or without REP) exit here (every port
 * is in the I/O bitmaps) and go to userspace as KVM_EXIT_IO, the data in the
 * second page of the run mapping.  The next KVM_RUN finishes the instruction
 * (the completions below): RAX for IN, guest memory and RSI/RDI/RCX for the
 * string forms.  Userspace owns every port: there are no in-kernel devices.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "kvmx.h"
#include "guest_walk.h"
#include "vmx_ops.h"

/* IN: the data goes into AL/AX/EAX (SDM Vol. 2A "IN"). */
static int complete_pio_in(struct kvmx_vcpu *v)
{
	u64 data = 0;

	memcpy(&data, kvmx_pio_data(v), v->pio.size);
	v->regs[REG_RAX] = pio_in_result(v->regs[REG_RAX], data, v->pio.size);
	kvmx_skip_instruction(v);
	return 1;
}

/* OUT: userspace took the data, the instruction is done. */
static int complete_pio_out(struct kvmx_vcpu *v)
{
	kvmx_skip_instruction(v);
	return 1;
}

/* KVM_EXIT_IO of @count elements of @size bytes, data in the second run page. */
static void io_exit(struct kvmx_vcpu *v, bool in, unsigned int size, u16 port, u32 count)
{
	struct kvmx_run *run = v->run;

	/* The kernel's own record, for a device in the module (io_bus.c). */
	v->uexit = (typeof(v->uexit)) {
		.kind = KVMX_EXIT_IO, .write = !in, .size = size, .count = count, .addr = port,
	};
	run->exit_reason = KVMX_EXIT_IO;
	run->io.direction = in ? KVMX_EXIT_IO_IN : KVMX_EXIT_IO_OUT;
	run->io.size = size;
	run->io.port = port;
	run->io.count = count;
	run->io.data_offset = KVMX_PIO_PAGE_OFFSET * PAGE_SIZE;
}


/*
 * Linear address of element @i of the string I/O in v->pio: the address
 * register moves and wraps at the instruction's address size, the segment's
 * limit applies (SDM Vol. 2B INS/OUTS).  0, or the vector to raise.
 */
static int pio_element(struct kvmx_vcpu *v, u64 i, u64 *la)
{
	u64 ea = string_element_ea(v->pio.reg_start, v->pio.addr_size, i, v->pio.size,
				   v->pio.down);

	return seg_linear_address(&v->pio.segment, v->pio.seg == SEG_SS, v->pio.mode, ea,
				  v->pio.size, v->pio.seg == SEG_FS || v->pio.seg == SEG_GS, la);
}

/*
 * INS/OUTS back from userspace: store what came in, move the registers.
 * With REP, RCX is read again: userspace may have changed it during the
 * exit (KVM_SET_REGS).  As KVM's emulator, which re-reads it and takes the
 * batch's elements one iteration at a time, only as many elements as RCX
 * still asks for are finished (the rest of the batch is dropped); a
 * larger RCX runs the instruction again for more.
 */
static int complete_string_io(struct kvmx_vcpu *v)
{
	u8 *data = kvmx_pio_data(v);
	u64 mask = address_size_mask(v->pio.addr_size);
	unsigned int reg = v->pio.in ? REG_RDI : REG_RSI, i;
	u64 count = v->pio.count, rcx = 0;

	if (v->pio.rep) {
		rcx = v->regs[REG_RCX] & mask;
		count = min(count, rcx);
		if (!count) {
			kvmx_skip_instruction(v);
			return 1;
		}
	}
	if (v->pio.in) {
		for (i = 0; i < count; i++) {
			u64 la;

			if (pio_element(v, i, &la) ||
			    kvmx_access_gla(v, la, data + i * v->pio.size, v->pio.size, WALK_WRITE)) {
				kvmx_emulation_failed(v, NULL, 0);
				return 0;
			}
		}
	}
	v->regs[reg] = string_reg_write(v->regs[reg],
					string_element_ea(v->pio.reg_start, v->pio.addr_size,
							  count, v->pio.size, v->pio.down),
					v->pio.addr_size, v->pio.mode);
	if (v->pio.rep) {
		rcx -= count;
		v->regs[REG_RCX] = string_reg_write(v->regs[REG_RCX], rcx, v->pio.addr_size,
						    v->pio.mode);
		if (rcx)
			return 1;	/* more to do: run the instruction again */
	}
	kvmx_skip_instruction(v);
	return 1;
}

/*
 * INS/OUTS (SDM Vol. 2B): as many elements as fit the I/O page go to
 * userspace in one exit, up to the first one the segment refuses (a fault,
 * raised when that element comes first); RSI/RDI/RCX move when it comes
 * back, and a REP with iterations left runs the instruction again for the
 * next batch.
 */
static int handle_string_io(struct kvmx_vcpu *v)
{
	unsigned long q = v->exit_qual;
	u32 info = vmcs_read32(VMCS_EXIT_INSTRUCTION_INFO);
	u8 *data = kvmx_pio_data(v);
	unsigned int size = IO_QUAL_SIZE(q);
	unsigned int addr_size = INSN_INFO_ADDR_SIZE(info);
	u64 count = (q & IO_QUAL_REP) ? v->regs[REG_RCX] & address_size_mask(addr_size) : 1, i;
	int fault;

	if (!count) {
		kvmx_skip_instruction(v);
		return 1;
	}
	count = min_t(u64, count, PAGE_SIZE / size);
	v->pio.in = q & IO_QUAL_IN;
	v->pio.rep = q & IO_QUAL_REP;
	v->pio.size = size;
	v->pio.addr_size = addr_size;
	v->pio.mode = kvmx_code_mode(v);	/* once, not per element */
	v->pio.down = vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_DF;
	/* INS writes ES:rDI, always; OUTS reads DS:rSI or its override. */
	v->pio.seg = v->pio.in ? SEG_ES : INSN_INFO_SEG(info);
	v->pio.reg_start = v->regs[v->pio.in ? REG_RDI : REG_RSI];
	kvmx_read_seg(v->pio.seg, &v->pio.segment);
	for (i = 0; i < count; i++) {
		u64 la;

		fault = pio_element(v, i, &la);
		if (fault) {
			if (!i) {
				kvmx_inject_exception(v, fault, true, 0);
				return 1;
			}
			count = i;
			break;
		}
		if (!v->pio.in && kvmx_access_gla(v, la, data + i * size, size, 0)) {
			kvmx_emulation_failed(v, NULL, 0);
			return 0;
		}
	}
	v->pio.count = count;
	io_exit(v, v->pio.in, size, IO_QUAL_PORT(q), count);
	kvmx_complete_after_userspace(v, complete_string_io);
	return 0;
}

int kvmx_handle_io(struct kvmx_vcpu *v)
{
	unsigned long q = v->exit_qual;
	unsigned int size = IO_QUAL_SIZE(q);

	if (q & IO_QUAL_STRING)
		return handle_string_io(v);
	io_exit(v, q & IO_QUAL_IN, size, IO_QUAL_PORT(q), 1);
	v->pio.size = size;
	if (q & IO_QUAL_IN) {
		kvmx_complete_after_userspace(v, complete_pio_in);
	} else {
		memcpy(kvmx_pio_data(v), &v->regs[REG_RAX], size);
		kvmx_complete_after_userspace(v, complete_pio_out);
	}
	return 0;
}
