// The MMIO instruction decoder, on encodings assembled by hand from the SDM.
#include <gtest/gtest.h>

#include <vector>

extern "C" {
#include "insn_decode.h"
#include "x86_rules.h"
}

namespace {

mmio_insn decode(std::vector<uint8_t> b, unsigned mode)
{
	mmio_insn in{};
	EXPECT_EQ(insn_decode_mmio(b.data(), b.size(), mode, &in), 0);
	return in;
}

TEST(InsnDecode, MovStore32FromRegister64BitMode)
{
	// mov [rdi], eax  = 89 07
	auto in = decode({ 0x89, 0x07 }, 64);
	EXPECT_EQ(in.len, 2);
	EXPECT_EQ(in.op, MMIO_STORE_REG);
	EXPECT_EQ(in.size, 4);
	EXPECT_EQ(in.reg, 0);
}

TEST(InsnDecode, RexWAndRexRSelectR9Quadword)
{
	// mov [rax+0x10], r9 = 4c 89 48 10
	auto in = decode({ 0x4c, 0x89, 0x48, 0x10 }, 64);
	EXPECT_EQ(in.len, 4);
	EXPECT_EQ(in.size, 8);
	EXPECT_EQ(in.reg, 9);
}

TEST(InsnDecode, LoadWithSibAndDisp32)
{
	// mov ecx, [rbx+rsi*4+0x12345678] = 8b 8c b3 78 56 34 12
	auto in = decode({ 0x8b, 0x8c, 0xb3, 0x78, 0x56, 0x34, 0x12 }, 64);
	EXPECT_EQ(in.len, 7);
	EXPECT_EQ(in.op, MMIO_LOAD);
	EXPECT_EQ(in.reg, 1);
}

TEST(InsnDecode, RipRelativeIsDisp32)
{
	// mov eax, [rip+0x100] = 8b 05 00 01 00 00
	EXPECT_EQ(decode({ 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00 }, 64).len, 6);
}

TEST(InsnDecode, SixteenBitAddressing)
{
	// real mode: mov [0x1234], al = 88 06 34 12 ; mov ax, [bx+si+5] = 8b 40 05
	auto a = decode({ 0x88, 0x06, 0x34, 0x12 }, 16);
	EXPECT_EQ(a.len, 4);
	EXPECT_EQ(a.size, 1);
	auto b = decode({ 0x8b, 0x40, 0x05 }, 16);
	EXPECT_EQ(b.len, 3);
	EXPECT_EQ(b.size, 2);
	// 66 prefix in 16-bit code: 32-bit operand; 67: 32-bit addressing with SIB
	auto c = decode({ 0x66, 0x67, 0x89, 0x04, 0x24 }, 16);
	EXPECT_EQ(c.len, 5);
	EXPECT_EQ(c.size, 4);
}

TEST(InsnDecode, OperandSizePrefixIn32BitMode)
{
	// mov word [eax], dx = 66 89 10
	auto in = decode({ 0x66, 0x89, 0x10 }, 32);
	EXPECT_EQ(in.len, 3);
	EXPECT_EQ(in.size, 2);
	EXPECT_EQ(in.reg, 2);
}

TEST(InsnDecode, StoreImmediates)
{
	// mov dword [rdi], 0xdeadbeef = c7 07 ef be ad de
	auto a = decode({ 0xc7, 0x07, 0xef, 0xbe, 0xad, 0xde }, 64);
	EXPECT_EQ(a.op, MMIO_STORE_IMM);
	EXPECT_EQ(a.len, 6);
	EXPECT_EQ(insn_mmio_store_value(&a, 0), 0xdeadbeefULL);
	// mov qword [rdi], -2 = 48 c7 07 fe ff ff ff: sign-extended to 64 bits
	auto b = decode({ 0x48, 0xc7, 0x07, 0xfe, 0xff, 0xff, 0xff }, 64);
	EXPECT_EQ(b.size, 8);
	EXPECT_EQ(insn_mmio_store_value(&b, 0), 0xfffffffffffffffeULL);
	// mov byte [bx], 0x7f = c6 07 7f (16-bit)
	auto c = decode({ 0xc6, 0x07, 0x7f }, 16);
	EXPECT_EQ(c.len, 3);
	EXPECT_EQ(insn_mmio_store_value(&c, 0), 0x7fULL);
}

TEST(InsnDecode, MoffsForms)
{
	// mov eax, [0xd0000000] in 32-bit mode = a1 00 00 00 d0
	auto a = decode({ 0xa1, 0x00, 0x00, 0x00, 0xd0 }, 32);
	EXPECT_EQ(a.len, 5);
	EXPECT_EQ(a.op, MMIO_LOAD);
	// movabs [imm64], al = a2 + 8 bytes
	auto b = decode({ 0xa2, 0, 0, 0, 0xd0, 0, 0, 0, 0 }, 64);
	EXPECT_EQ(b.len, 9);
	EXPECT_EQ(b.op, MMIO_STORE_REG);
	EXPECT_EQ(b.size, 1);
}

TEST(InsnDecode, HighByteRegistersWithoutRex)
{
	// mov [rdi], ah = 88 27 ; with REX (40 88 27) it is spl
	auto a = decode({ 0x88, 0x27 }, 64);
	EXPECT_TRUE(a.high_byte);
	EXPECT_EQ(a.reg, 0);
	EXPECT_EQ(insn_mmio_store_value(&a, 0x1234), 0x12ULL);
	auto b = decode({ 0x40, 0x88, 0x27 }, 64);
	EXPECT_FALSE(b.high_byte);
	EXPECT_EQ(b.reg, 4);
}

TEST(InsnDecode, LoadResultsMergeLikeHardware)
{
	mmio_insn in = decode({ 0x8a, 0x07 }, 64);	// mov al, [rdi]
	EXPECT_EQ(insn_mmio_load_result(&in, 0x1122334455667788ULL, 0xab), 0x11223344556677abULL);
	in = decode({ 0x8b, 0x07 }, 64);		// mov eax, [rdi]: zero-extends
	EXPECT_EQ(insn_mmio_load_result(&in, 0x1122334455667788ULL, 0xcafef00d), 0xcafef00dULL);
	in = decode({ 0x66, 0x8b, 0x07 }, 64);		// mov ax, [rdi]
	EXPECT_EQ(insn_mmio_load_result(&in, 0x1122334455667788ULL, 0xbeef), 0x112233445566beefULL);
	in = decode({ 0x8a, 0x27 }, 64);		// mov ah, [rdi]
	EXPECT_EQ(insn_mmio_load_result(&in, 0x1122334455667788ULL, 0xab), 0x112233445566ab88ULL);
}

TEST(InsnDecode, MovzxMovsx)
{
	// movzx eax, byte [rdi] = 0f b6 07 ; movsx rax, word [rdi] = 48 0f bf 07
	auto z = decode({ 0x0f, 0xb6, 0x07 }, 64);
	EXPECT_EQ(z.op, MMIO_LOAD_ZX);
	EXPECT_EQ(z.size, 1);
	EXPECT_EQ(z.reg_size, 4);
	EXPECT_EQ(insn_mmio_load_result(&z, ~0ULL, 0xff), 0xffULL);
	auto s = decode({ 0x48, 0x0f, 0xbf, 0x07 }, 64);
	EXPECT_EQ(s.op, MMIO_LOAD_SX);
	EXPECT_EQ(s.len, 4);
	EXPECT_EQ(insn_mmio_load_result(&s, 0, 0x8000), 0xffffffffffff8000ULL);
}

TEST(InsnDecode, RejectsWhatItDoesNotEmulate)
{
	mmio_insn in{};
	const uint8_t reg_reg[] = { 0x89, 0xc0 };	// mov eax, eax: no memory operand
	EXPECT_EQ(insn_decode_mmio(reg_reg, sizeof(reg_reg), 64, &in), -1);
	const uint8_t imul[] = { 0x0f, 0xaf, 0x07 };	// imul eax, [rdi]
	EXPECT_EQ(insn_decode_mmio(imul, sizeof(imul), 64, &in), -1);
	const uint8_t truncated[] = { 0x8b, 0x84 };	// needs SIB + disp32
	EXPECT_EQ(insn_decode_mmio(truncated, sizeof(truncated), 64, &in), -1);
	const uint8_t prefixes_only[15] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66 };
	EXPECT_EQ(insn_decode_mmio(prefixes_only, sizeof(prefixes_only), 64, &in), -1);
}

// String stores and moves (SDM Vol. 2B STOS, MOVS): implicit operands,
// REP, the source segment override and the address size.
TEST(InsnDecode, RepStosAndMovs)
{
	auto in = decode({ 0xf3, 0xab }, 32);	// rep stosd
	EXPECT_EQ(in.len, 2);
	EXPECT_EQ(in.op, MMIO_STOS);
	EXPECT_EQ(in.size, 4);
	EXPECT_TRUE(in.rep);
	EXPECT_EQ(in.addr_size, 1);
	EXPECT_FALSE(in.high_byte);

	in = decode({ 0xaa }, 16);		// stosb
	EXPECT_EQ(in.op, MMIO_STOS);
	EXPECT_EQ(in.size, 1);
	EXPECT_FALSE(in.rep);
	EXPECT_EQ(in.addr_size, 0);

	in = decode({ 0xf3, 0x66, 0xa5 }, 64);	// rep movsw
	EXPECT_EQ(in.len, 3);
	EXPECT_EQ(in.op, MMIO_MOVS);
	EXPECT_EQ(in.size, 2);
	EXPECT_EQ(in.addr_size, 2);
	EXPECT_EQ(in.seg, X86_SEG_DS);

	in = decode({ 0x26, 0x67, 0x48, 0xa5 }, 64);	// movsq es:[esi] (a32)
	EXPECT_EQ(in.size, 8);
	EXPECT_EQ(in.addr_size, 1);
	EXPECT_EQ(in.seg, X86_SEG_ES);

	in = decode({ 0x64, 0xa4 }, 32);		// movsb fs:[esi]
	EXPECT_EQ(in.seg, 4);
	EXPECT_EQ(in.size, 1);
}

// Read-modify-write forms drivers use on device registers.
TEST(InsnDecode, AluTestAndXchgForms)
{
	auto in = decode({ 0x09, 0x07 }, 64);	// or [rdi], eax
	EXPECT_EQ(in.op, MMIO_ALU);
	EXPECT_EQ(in.alu, X86_ALU_OR);
	EXPECT_FALSE(in.to_reg);
	EXPECT_EQ(in.size, 4);
	EXPECT_EQ(in.reg, 0);

	in = decode({ 0x48, 0x2b, 0x4f, 0x08 }, 64);	// sub rcx, [rdi+8]
	EXPECT_EQ(in.len, 4);
	EXPECT_EQ(in.alu, X86_ALU_SUB);
	EXPECT_TRUE(in.to_reg);
	EXPECT_EQ(in.size, 8);
	EXPECT_EQ(in.reg, 1);

	in = decode({ 0x81, 0x67, 0x04, 0xff, 0xff, 0xfe, 0xff }, 32);	// and dword [edi+4], ~0x10000
	EXPECT_EQ(in.len, 7);
	EXPECT_EQ(in.alu, X86_ALU_AND);
	EXPECT_TRUE(in.has_imm);
	EXPECT_EQ(in.imm, 0xfffffffffffeffffULL);

	in = decode({ 0x83, 0x3f, 0xff }, 32);	// cmp dword [edi], -1
	EXPECT_EQ(in.len, 3);
	EXPECT_EQ(in.alu, X86_ALU_CMP);
	EXPECT_EQ(in.size, 4);
	EXPECT_EQ(in.imm, ~0ULL);

	in = decode({ 0x80, 0x0f, 0x80 }, 16);	// or byte [bx], 0x80
	EXPECT_EQ(in.size, 1);
	EXPECT_EQ(in.imm, 0xffffffffffffff80ULL);

	in = decode({ 0xf7, 0x07, 0x00, 0x00, 0x01, 0x00 }, 32);	// test dword [edi], 0x10000
	EXPECT_EQ(in.op, MMIO_TEST);
	EXPECT_EQ(in.len, 6);
	EXPECT_EQ(in.imm, 0x10000u);

	in = decode({ 0x84, 0x27 }, 32);	// test [edi], ah
	EXPECT_EQ(in.op, MMIO_TEST);
	EXPECT_TRUE(in.high_byte);
	EXPECT_EQ(in.reg, 0);

	in = decode({ 0x87, 0x0f }, 32);	// xchg [edi], ecx
	EXPECT_EQ(in.op, MMIO_XCHG);
	EXPECT_EQ(in.reg, 1);

	mmio_insn bad{};
	uint8_t neg[] = { 0xf7, 0x1f };		// neg dword [edi]: not emulated
	EXPECT_EQ(insn_decode_mmio(neg, sizeof(neg), 32, &bad), -1);
	uint8_t reg[] = { 0x01, 0xc0 };		// add eax, eax: no memory operand
	EXPECT_EQ(insn_decode_mmio(reg, sizeof(reg), 32, &bad), -1);
}

} // namespace
