; safety_rdpmc_mwait: RDPMC without a vPMU is #GP; MONITOR/MWAIT are NOPs
; (kvm_intel's default).  Counts: [0x600] #GP, [0x601] #UD, [0x602] reached
; the end.
	bits 16
	org 0x1000

start:
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x800
	mov word [13 * 4], gp_handler
	mov word [13 * 4 + 2], 0
	mov word [6 * 4], ud_handler
	mov word [6 * 4 + 2], 0
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
