; safety_rdpmc_mwait: RDPMC without a vPMU is #GP; MONITOR/MWAIT are NOPs
; (kvm_intel's default).  Counts: [0x600] #GP, [0x601] #UD, [0x602] reached
; the end.
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x800
	SET_IVT 13, gp_handler
	SET_IVT 6, ud_handler
	xor ecx, ecx
	rdpmc				; 2 bytes
	mov eax, 0x700
	xor ecx, ecx
	xor edx, edx
	monitor				; 3 bytes
	xor eax, eax
	xor ecx, ecx
	mwait				; 3 bytes
	mov byte [0x602], 1
	hlt

gp_handler:				; skip the RDPMC
	push bp
	mov bp, sp
	add word [bp + 2], 2
	inc byte [0x600]
	pop bp
	iret

ud_handler:				; skip MONITOR/MWAIT
	push bp
	mov bp, sp
	add word [bp + 2], 3
	inc byte [0x601]
	pop bp
	iret
