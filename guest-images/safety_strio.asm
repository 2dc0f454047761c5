; safety_strio: string I/O addresses wrap at the address size and respect
; the segment limit (real mode: 64 KiB).  REP OUTSB from SI = 0xffff sends
; [0xffff] then [0x0000]; OUTSW at SI = 0xffff crosses the limit: #GP.
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x800
	SET_IVT 13, gp_handler
	mov al, [0]			; keep IVT entry 0's low byte
	mov [0x606], al
	mov byte [0xffff], 0xa1
	mov byte [0], 0xb2
	cld
	mov si, 0xffff
	mov cx, 2
	mov dx, 0x10
	rep outsb
	mov [0x600], si			; 0x0001 after the wrap
	mov [0x602], cx
	mov si, 0xffff
	outsw				; 1 byte (6f): #GP
	mov al, [0x606]
	mov [0], al
	hlt

gp_handler:
	push bp
	mov bp, sp
	inc word [bp + 2]		; skip the OUTSW
	inc byte [0x604]
	pop bp
	iret
