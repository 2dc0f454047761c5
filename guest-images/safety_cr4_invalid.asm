; safety_cr4_invalid: a MOV to CR4 that the hypervisor sees (it touches an
; owned bit, OSXSAVE) with a value the CPU would refuse (PCIDE outside
; IA-32e mode) is #GP in the guest, never a failed VM entry.  [0x600]: #GPs;
; [0x604]: CR4 afterwards.
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x800
	SET_IVT 13, gp_handler
	mov eax, cr4
	or eax, (1 << 17) | (1 << 18)	; PCIDE | OSXSAVE
	mov cr4, eax			; 3 bytes
	mov eax, cr4
	mov [0x604], eax
	hlt

gp_handler:
	push bp
	mov bp, sp
	add word [bp + 2], 3
	inc byte [0x600]
	pop bp
	iret
