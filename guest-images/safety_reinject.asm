; safety_reinject: an interrupt whose delivery faults in EPT (the stack page
; was never touched) is delivered again once the page is mapped, not lost.
; The VMM injects vector 0x20 at the OUT; the handler marks [0x600].
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x9000			; the page below is untouched
	SET_IVT 0x20, handler
	sti
	nop
	out 0x10, al
	hlt

handler:
	mov byte [0x600], 1
	iret
