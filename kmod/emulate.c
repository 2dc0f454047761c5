// SPDX-License-Identifier: GPL-2.0
/*
 * The few instructions kvmx emulates because hardware can't finish them
 * alone: a MOV to or from a device register (an EPT violation outside any
 * memory slot) and string port I/O (INS/OUTS, with or without REP).  Both
 * read guest memory through the guest's page tables and the memory slots.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/uaccess.h>

#include "kvmx.h"
#include "guest_walk.h"
#include "vmx_ops.h"

/*
 * Copy to/from guest-physical memory through the slots' userspace mappings.
 * The slot is looked up under vm->lock, the copy made without it: a copy
 * may sleep for as long as the VMM's memory wants (userfaultfd, FUSE), and
 * other vCPUs, netlink readers and teardown need the lock meanwhile.  A slot
 * that goes away during the copy leaves the copy to the VMM's own mapping.
 */
static int access_gpa(struct kvmx_vcpu *v, u64 gpa, void *buf, unsigned int len, bool write)
{
	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gpa & ~PAGE_MASK));
		struct kvmx_slot_view s;
		void __user *hva;

		if (!kvmx_slot_view(v->vm, gpa >> PAGE_SHIFT, &s) ||
		    (write && (s.flags & KVMX_MEM_READONLY)))
			return -EFAULT;
		hva = (void __user *)(s.hva + (gpa - (s.base_gfn << PAGE_SHIFT)));
		if (write ? copy_to_user(hva, buf, chunk) : copy_from_user(buf, hva, chunk))
			return -EFAULT;
		gpa += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int kvmx_read_gpa(struct kvmx_vcpu *v, u64 gpa, void *buf, unsigned int len)
{
	return access_gpa(v, gpa, buf, len, false);
}

int kvmx_write_gpa(struct kvmx_vcpu *v, u64 gpa, const void *buf, unsigned int len)
{
	return access_gpa(v, gpa, (void *)buf, len, true);
}

static int walk_read(void *ctx, u64 gpa, void *buf, unsigned int len)
{
	return kvmx_read_gpa(ctx, gpa, buf, len);
}

/* Guest linear → physical, for an access of @len bytes within one page. */
static int translate(struct kvmx_vcpu *v, u64 gla, unsigned int access, u64 *gpa)
{
	struct guest_paging p;

	kvmx_sync_crs(v);
	p.cr0 = v->cr0;
	p.cr3 = vmcs_read(VMCS_GUEST_CR3);
	p.cr4 = v->cr4;
	p.efer = v->efer;
	if ((vmcs_read32(VMCS_GUEST_SS_AR) >> 5 & 3) == 3)
		access |= WALK_USER;
	return guest_walk(&p, gla, access, walk_read, v, gpa) == WALK_OK ? 0 : -EFAULT;
}

/* Read or write guest-linear memory, page by page. */
static int access_gla(struct kvmx_vcpu *v, u64 gla, void *buf, unsigned int len,
		      unsigned int access)
{
	while (len) {
		unsigned int chunk = min_t(u64, len, PAGE_SIZE - (gla & ~PAGE_MASK));
		u64 gpa;

		if (translate(v, gla, access, &gpa))
			return -EFAULT;
		if ((access & WALK_WRITE) ? kvmx_write_gpa(v, gpa, buf, chunk) :
					    kvmx_read_gpa(v, gpa, buf, chunk))
			return -EFAULT;
		gla += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

/* The default operand size of the code the guest runs: 16, 32 or 64. */
static unsigned int code_mode(struct kvmx_vcpu *v)
{
	u32 cs_ar = vmcs_read32(VMCS_GUEST_CS_AR);

	if ((v->efer & EFER_LMA) && (cs_ar & BIT(13)))
		return 64;
	return (cs_ar & BIT(14)) ? 32 : 16;
}

int kvmx_handle_mmio(struct kvmx_vcpu *v, u64 gpa)
{
	struct kvmx_run *run = v->run;
	unsigned int mode = code_mode(v);
	u8 insn[X86_MAX_INSN_LEN] = { 0 };
	u64 rip = vmcs_read(VMCS_GUEST_RIP);
	u64 gla = (mode == 64 ? 0 : vmcs_read(VMCS_GUEST_CS_BASE)) + rip;
	unsigned int avail = X86_MAX_INSN_LEN;
	u64 value;

	if (mode != 64)
		gla = (u32)gla;
	/* Fetch what is there: the instruction may end right before a hole. */
	while (avail && access_gla(v, gla, insn, avail, WALK_FETCH))
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
		kvmx_set_pending(v, PENDING_MMIO_WRITE);
	} else {
		run->mmio.is_write = 0;
		kvmx_set_pending(v, PENDING_MMIO_READ);
	}
	return 0;
}

/* Segment fields in the VMCS, by the segment number instructions encode. */
static void read_seg(unsigned int seg, struct x86_seg *out)
{
	out->base = vmcs_read(VMCS_GUEST_ES_BASE + 2 * seg);
	out->limit = vmcs_read32(VMCS_GUEST_ES_LIMIT + 2 * seg);
	out->ar = vmcs_read32(VMCS_GUEST_ES_AR + 2 * seg);
}

#define SEG_ES	0
#define SEG_SS	2
#define SEG_FS	4
#define SEG_GS	5

/*
 * Linear address of element @i of the string I/O in v->pio: the address
 * register moves and wraps at the instruction's address size, the segment's
 * limit applies (SDM Vol. 2B INS/OUTS).  0, or the vector to raise.
 */
static int pio_element(struct kvmx_vcpu *v, u64 i, u64 *la)
{
	u64 ea = string_element_ea(v->pio.reg_start, v->pio.addr_size, i, v->pio.size,
				   v->pio.down);

	return seg_linear_address(&v->pio.segment, v->pio.seg == SEG_SS, code_mode(v), ea,
				  v->pio.size, v->pio.seg == SEG_FS || v->pio.seg == SEG_GS, la);
}

/*
 * INS/OUTS (SDM Vol. 2B): as many elements as fit the I/O page go to
 * userspace in one exit, up to the first one the segment refuses (a fault,
 * raised when that element comes first); RSI/RDI/RCX move when it comes
 * back, and a REP with iterations left runs the instruction again for the
 * next batch.
 */
int kvmx_handle_string_io(struct kvmx_vcpu *v)
{
	unsigned long q = vmcs_read(VMCS_EXIT_QUALIFICATION);
	u32 info = vmcs_read32(VMCS_EXIT_INSTRUCTION_INFO);
	struct kvmx_run *run = v->run;
	u8 *data = kvmx_pio_data(v);
	unsigned int size = IO_QUAL_SIZE(q);
	unsigned int addr_size = INSN_INFO_ADDR_SIZE(info);
	u64 mask = addr_size == 2 ? ~0ULL : addr_size == 1 ? 0xffffffffULL : 0xffffULL;
	u64 count = (q & IO_QUAL_REP) ? v->regs[REG_RCX] & mask : 1, i;
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
	v->pio.down = vmcs_read(VMCS_GUEST_RFLAGS) & X86_EFLAGS_DF;
	/* INS writes ES:rDI, always; OUTS reads DS:rSI or its override. */
	v->pio.seg = v->pio.in ? SEG_ES : INSN_INFO_SEG(info);
	v->pio.reg_start = v->regs[v->pio.in ? REG_RDI : REG_RSI];
	read_seg(v->pio.seg, &v->pio.segment);
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
		if (!v->pio.in && access_gla(v, la, data + i * size, size, 0)) {
			kvmx_emulation_failed(v, NULL, 0);
			return 0;
		}
	}
	v->pio.count = count;
	run->exit_reason = KVMX_EXIT_IO;
	run->io.direction = v->pio.in ? KVMX_EXIT_IO_IN : KVMX_EXIT_IO_OUT;
	run->io.size = size;
	run->io.port = IO_QUAL_PORT(q);
	run->io.count = count;
	run->io.data_offset = KVMX_PIO_PAGE_OFFSET * PAGE_SIZE;
	kvmx_set_pending(v, PENDING_PIO_STRING);
	return 0;
}

int kvmx_complete_string_io(struct kvmx_vcpu *v)
{
	u8 *data = kvmx_pio_data(v);
	u64 mask = v->pio.addr_size == 2 ? ~0ULL : v->pio.addr_size == 1 ? 0xffffffffULL : 0xffffULL;
	/* What a write of the result replaces: 32-bit results zero-extend in 64-bit mode. */
	u64 wmask = (v->pio.addr_size == 1 && code_mode(v) == 64) ? ~0ULL : mask;
	unsigned int reg = v->pio.in ? REG_RDI : REG_RSI, i;

	if (v->pio.in) {
		for (i = 0; i < v->pio.count; i++) {
			u64 la;

			if (pio_element(v, i, &la) ||
			    access_gla(v, la, data + i * v->pio.size, v->pio.size, WALK_WRITE)) {
				kvmx_emulation_failed(v, NULL, 0);
				return 0;
			}
		}
	}
	v->regs[reg] = (v->regs[reg] & ~wmask) |
		       string_element_ea(v->pio.reg_start, v->pio.addr_size, v->pio.count,
					 v->pio.size, v->pio.down);
	if (v->pio.rep) {
		u64 rcx = ((v->regs[REG_RCX] & mask) - v->pio.count) & mask;

		v->regs[REG_RCX] = (v->regs[REG_RCX] & ~wmask) | rcx;
		if (rcx)
			return 1;	/* more to do: run the instruction again */
	}
	kvmx_skip_instruction(v);
	return 1;
}
