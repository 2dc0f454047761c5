; hello16: real mode.  Prints a line and exits with status 0.
	bits 16
	org 0x1000
%include "guest.inc"

start:
	mov si, msg
	call print
	EXIT 0

PRINT_ROUTINE
msg:	db "Hello from real mode", 10, 0
