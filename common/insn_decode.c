// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO instruction decoding (SDM Vol. 2, chapter 2 "Instruction Format").
 * Only the length and the register/immediate operand matter: the address
 * comes from the EPT violation.
 */
#include "insn_decode.h"
#include "x86_rules.h"

struct prefixes {
	bool opsize;		/* 0x66 */
	bool addrsize;		/* 0x67 */
	bool rep;		/* 0xf3 or 0xf2 */
	u8 seg;			/* segment override, X86_SEG_DS if none */
	u8 rex;			/* 0x40..0x4f, 64-bit mode only */
};

#define REX_W	0x8
#define REX_R	0x4

/* Bytes of ModRM + SIB + displacement, or -1 for a register operand. */
static int modrm_len(const u8 *p, unsigned int avail, unsigned int addr_size)
{
	u8 modrm, mod, rm;
	int len = 1;

	if (avail < 1)
		return -1;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return -1;	/* not a memory operand */
	if (addr_size == 2) {
		if (mod == 0 && rm == 6)
			return len + 2;
		return len + (mod == 1 ? 1 : mod == 2 ? 2 : 0);
	}
	if (rm == 4) {		/* SIB */
		if (avail < 2)
			return -1;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			return len + 4;
	} else if (mod == 0 && rm == 5) {
		return len + 4;	/* disp32, or RIP-relative in 64-bit mode */
	}
	return len + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static u64 read_imm(const u8 *p, unsigned int size)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

static u64 sign_extend(u64 v, unsigned int bytes)
{
	unsigned int shift = 64 - 8 * bytes;

	return bytes >= 8 ? v : (u64)((s64)(v << shift) >> shift);
}

/* The @size-byte immediate at code[*i], sign-extended; -1 past @avail. */
static int take_imm(const u8 *code, unsigned int avail, unsigned int *i, unsigned int size,
		    u64 *imm)
{
	if (*i + size > avail)
		return -1;
	*imm = sign_extend(read_imm(code + *i, size), size);
	*i += size;
	return 0;
}

int insn_decode_mmio(const u8 *code, unsigned int avail, unsigned int mode,
		     struct mmio_insn *out)
{
	struct prefixes pfx = { .seg = X86_SEG_DS };
	unsigned int i = 0, op_size, addr_size;
	int mlen;
	u8 opc;

	if (avail > X86_MAX_INSN_LEN)
		avail = X86_MAX_INSN_LEN;
	/* Legacy prefixes, then REX (which must come last). */
	for (; i < avail; i++) {
		u8 b = code[i];

		if (b == 0x66)
			pfx.opsize = true;
		else if (b == 0x67)
			pfx.addrsize = true;
		else if (b == 0xf2 || b == 0xf3)
			pfx.rep = true;
		else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e)
			pfx.seg = (b >> 3) & 3;		/* ES, CS, SS, DS */
		else if (b == 0x64 || b == 0x65)
			pfx.seg = b - 0x64 + 4;		/* FS, GS */
		else if (b != 0xf0)			/* LOCK */
			break;
	}
	if (i < avail && mode == 64 && (code[i] & 0xf0) == 0x40)
		pfx.rex = code[i++];
	if (i >= avail)
		return -1;

	if (mode == 64) {
		op_size = (pfx.rex & REX_W) ? 8 : pfx.opsize ? 2 : 4;
		addr_size = pfx.addrsize ? 4 : 8;
	} else if (mode == 32) {
		op_size = pfx.opsize ? 2 : 4;
		addr_size = pfx.addrsize ? 2 : 4;
	} else {
		op_size = pfx.opsize ? 4 : 2;
		addr_size = pfx.addrsize ? 4 : 2;
	}

	memset(out, 0, sizeof(*out));
	opc = code[i++];
	switch (opc) {
	case 0x88: case 0x89: case 0x8a: case 0x8b:
		mlen = modrm_len(code + i, avail - i, addr_size);
		if (mlen < 0)
			return -1;
		out->op = (opc & 2) ? MMIO_LOAD : MMIO_STORE_REG;
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		out->reg = ((code[i] >> 3) & 7) | ((pfx.rex & REX_R) ? 8 : 0);
		i += mlen;
		break;
	case 0xc6: case 0xc7:
		mlen = modrm_len(code + i, avail - i, addr_size);
		if (mlen < 0 || ((code[i] >> 3) & 7) != 0)
			return -1;
		i += mlen;
		out->op = MMIO_STORE_IMM;
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		/* imm16/imm32; a 64-bit store takes a sign-extended imm32 */
		if (take_imm(code, avail, &i, out->size > 4 ? 4 : out->size, &out->imm))
			return -1;
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		if (i + addr_size > avail)
			return -1;
		i += addr_size;	/* the moffs itself */
		out->op = (opc & 2) ? MMIO_STORE_REG : MMIO_LOAD;
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		out->reg = 0;	/* AL/AX/EAX/RAX */
		break;
	case 0x00: case 0x01: case 0x02: case 0x03:	/* ADD */
	case 0x08: case 0x09: case 0x0a: case 0x0b:	/* OR */
	case 0x10: case 0x11: case 0x12: case 0x13:	/* ADC */
	case 0x18: case 0x19: case 0x1a: case 0x1b:	/* SBB */
	case 0x20: case 0x21: case 0x22: case 0x23:	/* AND */
	case 0x28: case 0x29: case 0x2a: case 0x2b:	/* SUB */
	case 0x30: case 0x31: case 0x32: case 0x33:	/* XOR */
	case 0x38: case 0x39: case 0x3a: case 0x3b:	/* CMP */
	case 0x84: case 0x85:				/* TEST m, r */
	case 0x86: case 0x87:				/* XCHG m, r */
		mlen = modrm_len(code + i, avail - i, addr_size);
		if (mlen < 0)
			return -1;
		out->op = opc >= 0x86 ? MMIO_XCHG : opc >= 0x84 ? MMIO_TEST : MMIO_ALU;
		out->alu = opc >= 0x84 ? X86_ALU_AND : opc >> 3;
		out->to_reg = opc < 0x84 && (opc & 2);
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		out->reg = ((code[i] >> 3) & 7) | ((pfx.rex & REX_R) ? 8 : 0);
		i += mlen;
		break;
	case 0x80: case 0x81: case 0x83:	/* ALU m, imm8 / imm16/32 / sign-extended imm8 */
	case 0xf6: case 0xf7:			/* TEST m, imm (only /0) */
		mlen = modrm_len(code + i, avail - i, addr_size);
		if (mlen < 0)
			return -1;
		out->alu = (code[i] >> 3) & 7;
		if (opc >= 0xf6) {
			if (out->alu != 0)
				return -1;	/* NOT, NEG, MUL, DIV ...: not emulated */
			out->alu = X86_ALU_AND;
		}
		out->op = opc >= 0xf6 ? MMIO_TEST : MMIO_ALU;
		out->has_imm = true;
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		i += mlen;
		/* 80 and 83 take imm8, 81 imm16/imm32 (sign-extended for 64 bits) */
		if (take_imm(code, avail, &i,
			     opc == 0x83 || !(opc & 1) ? 1 : out->size > 4 ? 4 : out->size,
			     &out->imm))
			return -1;
		break;
	case 0xa4: case 0xa5: case 0xaa: case 0xab:
		/* MOVS, STOS: the operands are implicit, no ModRM. */
		out->op = (opc & 8) ? MMIO_STOS : MMIO_MOVS;
		out->size = (opc & 1) ? op_size : 1;
		out->reg_size = out->size;
		out->reg = 0;	/* STOS stores AL/AX/EAX/RAX */
		out->rep = pfx.rep;
		out->seg = pfx.seg;
		out->addr_size = addr_size == 8 ? 2 : addr_size == 4 ? 1 : 0;
		break;
	case 0x0f:
		if (i >= avail)
			return -1;
		opc = code[i++];
		if (opc != 0xb6 && opc != 0xb7 && opc != 0xbe && opc != 0xbf)
			return -1;
		mlen = modrm_len(code + i, avail - i, addr_size);
		if (mlen < 0)
			return -1;
		out->op = (opc & 8) ? MMIO_LOAD_SX : MMIO_LOAD_ZX;
		out->size = (opc & 1) ? 2 : 1;
		out->reg_size = op_size;
		out->reg = ((code[i] >> 3) & 7) | ((pfx.rex & REX_R) ? 8 : 0);
		i += mlen;
		break;
	default:
		return -1;
	}
	if (i > avail)
		return -1;
	/* Without REX, byte registers 4..7 are AH, CH, DH, BH. */
	if (out->reg_size == 1 && !pfx.rex && out->reg >= 4 && out->reg < 8 &&
	    out->op != MMIO_STORE_IMM && out->op != MMIO_STOS && out->op != MMIO_MOVS &&
	    !out->has_imm) {
		out->reg -= 4;
		out->high_byte = true;
	}
	out->len = i;
	return 0;
}

u64 insn_mmio_load_result(const struct mmio_insn *insn, u64 old, u64 data)
{
	u64 v = data;

	if (insn->size < 8)
		v &= (1ULL << (8 * insn->size)) - 1;
	if (insn->op == MMIO_LOAD_SX)
		v = sign_extend(v, insn->size);
	if (insn->high_byte)
		return (old & ~0xff00ULL) | ((v & 0xff) << 8);
	switch (insn->reg_size) {
	case 1:
		return (old & ~0xffULL) | (v & 0xff);
	case 2:
		return (old & ~0xffffULL) | (v & 0xffff);
	case 4:
		return v & 0xffffffffULL;
	default:
		return v;
	}
}

u64 insn_mmio_store_value(const struct mmio_insn *insn, u64 reg_value)
{
	u64 v = insn->op == MMIO_STORE_IMM ? insn->imm :
		insn->high_byte ? reg_value >> 8 : reg_value;

	return insn->size < 8 ? v & ((1ULL << (8 * insn->size)) - 1) : v;
}
