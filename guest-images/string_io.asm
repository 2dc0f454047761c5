; string_io: INS/OUTS with and without REP, both directions, several sizes
; (protected mode).  The console prints what REP OUTSB sends.
	bits 32
	org 0x1000
%include "guest.inc"

start:
	cld
	mov esi, line
	mov ecx, line_end - line
	mov dx, CONSOLE
	rep outsb			; the line appears on the console
	cmp ecx, 0
	jne fail
	cmp esi, line_end
	jne fail

	; REP INSB from the UART's line-status register: 0x60 each time
	mov edi, buf
	mov ecx, 100
	mov dx, CONSOLE + 5
	rep insb
	cmp edi, buf + 100
	jne fail
	mov esi, buf
	mov ecx, 100
.chk:	lodsb
	cmp al, 0x60
	jne fail
	loop .chk

	; INSW without REP: one word; nothing on port 0x80: all ones
	mov edi, buf
	mov dx, 0x80
	insw
	cmp word [buf], 0xffff
	jne fail
	cmp edi, buf + 2
	jne fail

	; REP OUTSD backwards (DF=1) to an empty port: pointers move down
	std
	mov esi, buf + 16
	mov ecx, 4
	mov dx, 0x80
	rep outsd
	cld
	cmp esi, buf
	jne fail

	; 5000 bytes: more than one exit's worth of I/O page
	mov edi, big
	mov ecx, 5000
	mov dx, CONSOLE + 5
	rep insb
	cmp edi, big + 5000
	jne fail
	cmp byte [big + 4999], 0x60
	jne fail

	mov esi, okmsg
	call print
	EXIT 0
fail:
	mov esi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
line:	db "string I/O: hello through REP OUTSB", 10
line_end:
okmsg:	db "string io ok", 10, 0
badmsg:	db "string io FAILED", 10, 0
buf:	times 128 db 0
big:	times 5000 db 0
