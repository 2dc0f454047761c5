/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decoding of the instructions a guest uses to touch device memory (MOV and
 * its zero/sign-extending forms, the string stores and moves firmware uses
 * to fill and copy frame buffers, and the read-modify-write forms drivers
 * use on registers: ALU operations, TEST, XCHG), enough to emulate the
 * access an EPT violation on an MMIO address stands for.  Kernel-agnostic.
 */
#ifndef KVMX_INSN_DECODE_H
#define KVMX_INSN_DECODE_H

#include "kvmx_compat.h"

enum mmio_op {
	MMIO_STORE_REG,		/* MOV m, r */
	MMIO_STORE_IMM,		/* MOV m, imm */
	MMIO_LOAD,		/* MOV r, m */
	MMIO_LOAD_ZX,		/* MOVZX r, m */
	MMIO_LOAD_SX,		/* MOVSX r, m */
	MMIO_STOS,		/* STOS: [ES:rDI] = AL/AX/EAX/RAX */
	MMIO_MOVS,		/* MOVS: [ES:rDI] = [seg:rSI] */
	MMIO_ALU,		/* ADD/OR/ADC/SBB/AND/SUB/XOR/CMP with a memory operand */
	MMIO_TEST,		/* TEST m, r / TEST m, imm: flags only */
	MMIO_XCHG,		/* XCHG m, r */
};

/* Segment numbers as instructions encode them (ES = 0 ... GS = 5). */
#define X86_SEG_ES	0
#define X86_SEG_DS	3

struct mmio_insn {
	u8 len;			/* bytes of the whole instruction */
	u8 op;			/* enum mmio_op */
	u8 size;		/* bytes of the memory access: 1, 2, 4 or 8 */
	u8 reg;			/* register operand, x86 number 0..15 */
	bool high_byte;		/* reg is AH/CH/DH/BH (reg 0..3, bits 15:8) */
	u8 reg_size;		/* bytes of the register operand */
	u64 imm;		/* MMIO_STORE_IMM: the value, sign-extended */
	/* ALU forms */
	u8 alu;			/* enum x86_alu (x86_rules.h) */
	bool to_reg;		/* the result goes to the register, not memory */
	bool has_imm;		/* the other operand is imm, not reg */
	/* String forms */
	bool rep;		/* REP (F3, or F2, which means the same here) */
	u8 seg;			/* MOVS's source segment: DS or the override */
	u8 addr_size;		/* 0: 16, 1: 32, 2: 64 bits (instruction-information style) */
};

/* Maximum length of an x86 instruction. */
#define X86_MAX_INSN_LEN 15

/*
 * Decode @code (up to @avail bytes) executed with default operand/address
 * size @mode (16, 32 or 64).  Returns 0, or -1 for an instruction kvmx does
 * not emulate (the caller reports an emulation failure).
 */
int insn_decode_mmio(const u8 *code, unsigned int avail, unsigned int mode,
		     struct mmio_insn *out);

/*
 * The new value of a 64-bit register after a load of @data through @insn:
 * 8/16-bit destinations keep the other bits, 32-bit ones zero the upper half.
 */
u64 insn_mmio_load_result(const struct mmio_insn *insn, u64 old, u64 data);

/* The value a store through @insn writes, given its register's content. */
u64 insn_mmio_store_value(const struct mmio_insn *insn, u64 reg_value);

#endif /* KVMX_INSN_DECODE_H */
