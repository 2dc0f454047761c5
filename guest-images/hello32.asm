; hello32: flat 32-bit protected mode, paging off.
	bits 32
	org 0x1000
%include "guest.inc"

start:
	mov eax, cr0
	test eax, 1			; PE must be on, PG off
	jz bad
	test eax, eax
	js bad
	mov esi, msg
	call print
	EXIT 0
bad:
	mov esi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
msg:	db "Hello from protected mode", 10, 0
badmsg:	db "wrong CR0", 10, 0
