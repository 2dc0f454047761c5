; hello_paged32: 32-bit protected mode with 32-bit paging (4 MiB pages).
; Writes through a high alias would need another mapping, so it checks
; CR0.PG/CR4.PSE and that a far address (3 GiB, identity-mapped, no RAM)
; reads as a device (all ones from the tool).
	bits 32
	org 0x1000
%include "guest.inc"

start:
	mov eax, cr0
	test eax, eax			; PG is bit 31
	jns bad
	mov eax, cr4
	test eax, 0x10			; PSE
	jz bad
	mov eax, [MMIO_NOTHING]		; no RAM, no device: all ones
	cmp eax, 0xffffffff
	jne bad
	mov esi, msg
	call print
	EXIT 0
bad:
	mov esi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
msg:	db "Hello from 32-bit paging", 10, 0
badmsg:	db "paging is not what it should be", 10, 0
