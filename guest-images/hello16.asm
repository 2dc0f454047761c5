; hello16: real mode.  Prints a line on the console port (COM1, 0x3f8) and
; reports success through the isa-debug-exit style port 0xf4.
; Loaded at 0x1000 (kvmx run's default), entered with CS:IP = 0:0x1000.
	bits 16
	org 0x1000

start:
	mov si, msg
	mov dx, 0x3f8
.next:
	lodsb
	test al, al
	jz .done
	out dx, al
	jmp .next
.done:
	xor al, al
	out 0xf4, al		; exit status 0
	hlt

msg:	db "Hello from real mode", 10, 0
