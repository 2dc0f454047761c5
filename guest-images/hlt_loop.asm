; hlt_loop: halts ten times; run it with --resume-after-hlt.  Prints how
; many times it came back.
	bits 16
	org 0x1000
%include "guest.inc"

start:
	xor cx, cx
.again:
	hlt
	inc cx
	cmp cx, 10
	jb .again
	mov si, msg
	call print
	EXIT 0

PRINT_ROUTINE
msg:	db "came back from HLT 10 times", 10, 0
