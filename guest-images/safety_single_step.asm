; safety_single_step: EFLAGS.TF over instructions the hypervisor carries out
; (CPUID in the kernel, OUT through userspace): each must be followed by the
; single-step #DB the CPU would raise.  The #DB handler records the return
; IP of each; the guest records where they should be.
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x800
	SET_IVT 1, db_handler
	mov word [0x610], after_cpuid
	mov word [0x612], after_out
	pushf
	pop ax
	or ax, 0x100
	push ax
	popf				; TF takes effect after the next instruction
	nop
	xor eax, eax
	cpuid
after_cpuid:
	out 0x10, al
after_out:
	hlt

db_handler:
	push bp
	push bx
	mov bp, sp
	xor bx, bx
	mov bl, [0x620]			; #DBs so far
	shl bx, 1
	mov ax, [bp + 4]		; return IP
	mov [0x600 + bx], ax
	inc byte [0x620]
	cmp byte [0x620], 4
	jb .out
	and word [bp + 8], ~0x100	; enough: clear TF in the saved FLAGS
.out:
	pop bx
	pop bp
	iret
