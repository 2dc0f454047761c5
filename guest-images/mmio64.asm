; mmio64: device-register accesses of every width and form, in long mode.
; Each check writes to the scratch device and reads back into a register;
; the exit status is the number of the first failed check (0: all passed).
	bits 64
	org 0x1000
%include "guest.inc"

%macro NEXT 0
	inc r15
%endmacro

start:
	xor r15, r15
	mov rdi, MMIO_SCRATCH

	NEXT				; 1: imm8 store, 8-bit load
	mov byte [rdi], 0x5a
	mov al, [rdi]
	cmp al, 0x5a
	jne fail
	NEXT				; 2: imm16 store, 16-bit load
	mov word [rdi + 2], 0xbeef
	mov bx, [rdi + 2]
	cmp bx, 0xbeef
	jne fail
	NEXT				; 3: imm32 store, 32-bit load
	mov dword [rdi + 4], 0xdeadbeef
	mov ecx, [rdi + 4]
	cmp ecx, 0xdeadbeef
	jne fail
	NEXT				; 4: 64-bit register store and load
	mov rax, 0x1122334455667788
	mov [rdi + 8], rax
	mov rdx, [rdi + 8]
	cmp rdx, rax
	jne fail
	NEXT				; 5: sign-extended imm32 into a qword
	mov qword [rdi + 16], -2
	mov r8, [rdi + 16]
	cmp r8, -2
	jne fail
	NEXT				; 6: movzx byte
	movzx eax, byte [rdi + 8]
	cmp eax, 0x88
	jne fail
	NEXT				; 7: movsx byte into 64 bits
	movsx rax, byte [rdi + 8]
	cmp rax, -0x78
	jne fail
	NEXT				; 8: movzx/movsx word
	movzx ecx, word [rdi + 8]
	cmp ecx, 0x7788
	jne fail
	movsx rcx, word [rdi + 14]
	cmp rcx, 0x1122
	jne fail
	NEXT				; 9: high-byte registers both ways
	mov ah, 0x77
	mov [rdi + 24], ah
	mov bl, [rdi + 24]
	cmp bl, 0x77
	jne fail
	mov bx, 0
	mov bh, [rdi]
	cmp bx, 0x5a00
	jne fail
	NEXT				; 10: moffs form
	mov al, [abs qword MMIO_SCRATCH]
	cmp al, 0x5a
	jne fail
	NEXT				; 11: REX.R register (r9d)
	mov r9d, 0xcafef00d
	mov [rdi + 32], r9d
	mov r10d, [rdi + 32]
	cmp r10d, 0xcafef00d
	jne fail
	NEXT				; 12: a hole reads as all ones
	mov rsi, MMIO_NOTHING
	mov eax, [rsi]
	cmp eax, 0xffffffff
	jne fail
	NEXT				; 13: 32-bit loads zero the upper half
	mov rax, -1
	mov eax, [rdi + 4]
	mov rbx, 0xdeadbeef
	cmp rax, rbx
	jne fail
	NEXT				; 14: 8-bit loads keep the rest
	mov rax, -1
	mov al, [rdi]
	cmp rax, -0xa6
	jne fail

	mov rsi, okmsg
	call print
	EXIT 0
fail:
	mov rsi, badmsg
	call print
	mov eax, r15d
	out EXIT_PORT, al
	hlt

PRINT_ROUTINE
okmsg:	db "mmio64 ok: 14 checks", 10, 0
badmsg:	db "mmio64 FAILED (exit status = check number)", 10, 0
