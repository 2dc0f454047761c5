; safety_db_storm: CVE-2015-8104.  Started in long mode (flat, identity
; paged by the tool).  #DB is delivered on IST1, and DR0 watches the slot of
; that stack where the CPU pushes SS: every #DB delivery writes the slot and
; raises the next #DB, for ever.  Without #DB interception the CPU never
; leaves the guest; with it, each #DB is an exit and the host stays in
; charge (the test's signal ends KVM_RUN).
	bits 64
	org 0x1000

IST_TOP	equ 0x8000
TSS	equ tss - $$ + 0x1000
DBH	equ db_handler - $$ + 0x1000

start:
	lgdt [gdtr]
	push 0x08
	lea rax, [rel .cs]
	push rax
	retfq
.cs:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov ax, 0x18
	ltr ax
	lidt [idtr]
	mov rax, IST_TOP - 8
	mov dr0, rax
	mov rax, (3 << 18) | (1 << 16) | 1	; LEN0 = 4 bytes, RW0 = write, L0
	mov dr7, rax
	sti				; Bochs: see SignalInterruptsARunningGuest
	mov dword [IST_TOP - 8], 0	; the first hit
	hlt

db_handler:
	iretq

	align 16
gdt:
	dq 0
	dq 0x00af9a000000ffff		; 0x08 64-bit code
	dq 0x00cf92000000ffff		; 0x10 data
	; 0x18: 64-bit available TSS at TSS, limit 0x67
	dw 0x67
	dw TSS & 0xffff
	db (TSS >> 16) & 0xff
	db 0x89
	db 0
	db (TSS >> 24) & 0xff
	dd 0
	dd 0
gdt_end:
gdtr:
	dw gdt_end - gdt - 1
	dq gdt

	align 16
idt:
	dq 0, 0				; vector 0
	; vector 1 (#DB): 64-bit interrupt gate, IST1
	dw DBH & 0xffff
	dw 0x08
	db 1
	db 0x8e
	dw (DBH >> 16) & 0xffff
	dd 0
	dd 0
idt_end:
idtr:
	dw idt_end - idt - 1
	dq idt

	align 16
tss:
	dd 0
	dq IST_TOP			; RSP0
	dq 0, 0				; RSP1, RSP2
	dq 0
	dq IST_TOP			; IST1
	times 6 dq 0
	dq 0
	dw 0
	dw 104				; no I/O bitmap
