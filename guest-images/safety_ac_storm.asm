; safety_ac_storm: CVE-2015-5307.  A ring-3 guest with CR0.AM and EFLAGS.AC
; does a misaligned load; its #AC gate is DPL 3 into ring-3 code, so the
; CPU pushes the exception frame onto the same misaligned ring-3 stack,
; which raises #AC again, and so on.  Without #AC interception the CPU
; delivers #AC to itself for ever; with it, every #AC is an exit and the
; host keeps its CPU (the test's signal ends KVM_RUN).
	bits 16
	org 0x1000

start:
	cli
	lgdt [gdtr]
	lidt [idtr]
	mov eax, cr0
	or eax, (1 << 18) | 1		; AM, PE
	mov cr0, eax
	jmp 0x08:pm32

	bits 32
pm32:
	mov ax, 0x10
	mov ss, ax
	mov esp, 0x8000
	mov ax, 0x23			; ring-3 data for DS/ES: IRET keeps them
	mov ds, ax
	mov es, ax
	push dword 0x23			; SS
	push dword 0x7001		; ESP, misaligned
	push dword (1 << 18) | (1 << 9) | 2	; EFLAGS: AC, IF
	push dword 0x1b			; CS
	push dword ring3
	iret

ring3:
	mov eax, [0x5001]		; misaligned: #AC
	jmp ring3

ac_handler:				; never reached: its frame can't be pushed
	iret

	align 8
gdt:
	dq 0
	dq 0x00cf9a000000ffff		; 0x08 ring-0 code
	dq 0x00cf92000000ffff		; 0x10 ring-0 data
	dq 0x00cffa000000ffff		; 0x18 ring-3 code
	dq 0x00cff2000000ffff		; 0x20 ring-3 data
gdt_end:
gdtr:
	dw gdt_end - gdt - 1
	dd gdt

	align 8
idt:
	times 17 dq 0
	; vector 17 (#AC): 32-bit interrupt gate, DPL 3, to ring-3 code
	dw (ac_handler - $$ + 0x1000) & 0xffff
	dw 0x1b
	db 0, 0xee
	dw (ac_handler - $$ + 0x1000) >> 16
	times 14 dq 0
idt_end:
idtr:
	dw idt_end - idt - 1
	dd idt
