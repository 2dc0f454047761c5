; ept_stress: touches every 4 KiB page of guest RAM from 1 MiB up to the
; tool's setup area, writing each page's number into it, then reads all of
; them back.  Run with --mem 64M (long mode).
	bits 64
	org 0x1000
%include "guest.inc"

%define FIRST	0x100000
%define LAST	(64 << 20) - 0x10000

start:
	mov rdi, FIRST
.w:	mov rax, rdi
	shr rax, 12
	mov [rdi], rax
	mov [rdi + 0xff8], rax
	add rdi, 0x1000
	cmp rdi, LAST
	jb .w
	mov rdi, FIRST
	xor rcx, rcx
.r:	mov rax, rdi
	shr rax, 12
	cmp [rdi], rax
	jne fail
	cmp [rdi + 0xff8], rax
	jne fail
	inc rcx
	add rdi, 0x1000
	cmp rdi, LAST
	jb .r
	cmp rcx, (LAST - FIRST) / 0x1000
	jne fail
	mov rsi, okmsg
	call print
	EXIT 0
fail:
	mov rsi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
okmsg:	db "ept stress ok: 16112 pages written and read back", 10, 0
badmsg:	db "ept stress FAILED", 10, 0
