; hello64: 64-bit long mode, identity-mapped 2 MiB pages.
	bits 64
	org 0x1000
%include "guest.inc"

start:
	mov ecx, 0xc0000080		; EFER
	rdmsr
	test eax, 0x400			; LMA
	jz bad
	mov rax, 0x123456789abcdef0	; a real 64-bit register
	mov rbx, rax
	shr rbx, 32
	cmp ebx, 0x12345678
	jne bad
	mov rsi, msg
	call print
	EXIT 0
bad:
	mov rsi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
msg:	db "Hello from long mode", 10, 0
badmsg:	db "not in long mode", 10, 0
