; triple_fault: an empty IDT, then an exception: #GP, #DF, shutdown.
	bits 32
	org 0x1000
%include "guest.inc"

start:
	mov esi, msg
	call print
	lidt [idtr]
	int3
	EXIT 1				; never reached

PRINT_ROUTINE
idtr:	dw 0
	dd 0
msg:	db "about to triple fault", 10, 0
