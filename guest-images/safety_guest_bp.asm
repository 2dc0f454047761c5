; safety_guest_bp: the guest arms a data breakpoint (DR0 = 0x700, write,
; 4 bytes) and writes there: its #DB handler counts ([0x600]) and keeps DR6
; ([0x604]).
%include "guest.inc"

	bits 16
	org 0x1000

start:
	REAL_MODE_FLAT 0x800
	SET_IVT 1, db_handler
	mov eax, 0x700
	mov dr0, eax
	mov eax, (3 << 18) | (1 << 16) | 1	; LEN0 = 4 bytes, RW0 = write, L0
	mov dr7, eax
	mov dword [0x700], 0x1234
	xor eax, eax
	mov dr7, eax
	hlt

db_handler:
	push eax
	mov eax, dr6
	mov [0x604], eax
	inc byte [0x600]
	pop eax
	iret
