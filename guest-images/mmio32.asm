; mmio32: device-register accesses from 32-bit protected mode (no paging),
; where operand-size prefixes mean 16 bits and moffs are 4 bytes.
	bits 32
	org 0x1000
%include "guest.inc"

start:
	xor edx, edx
	mov edi, MMIO_SCRATCH
	inc edx				; 1: byte
	mov byte [edi + 1], 0xa5
	mov al, [edi + 1]
	cmp al, 0xa5
	jne fail
	inc edx				; 2: word through the 0x66 prefix
	mov word [edi + 2], 0x1234
	mov cx, [edi + 2]
	cmp cx, 0x1234
	jne fail
	inc edx				; 3: dword, SIB addressing
	mov ebx, 1
	mov dword [edi + ebx * 4], 0x89abcdef
	mov eax, [edi + 4]
	cmp eax, 0x89abcdef
	jne fail
	inc edx				; 4: moffs32
	mov eax, [MMIO_SCRATCH + 4]
	cmp eax, 0x89abcdef
	jne fail
	inc edx				; 5: movzx word
	movzx eax, word [edi + 2]
	cmp eax, 0x1234
	jne fail
	mov esi, okmsg
	call print
	EXIT 0
fail:
	mov esi, badmsg
	call print
	mov al, dl
	out EXIT_PORT, al
	hlt

PRINT_ROUTINE
okmsg:	db "mmio32 ok: 5 checks", 10, 0
badmsg:	db "mmio32 FAILED (exit status = check number)", 10, 0
