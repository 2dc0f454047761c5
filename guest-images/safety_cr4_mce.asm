; safety_cr4_mce: the guest sets and clears CR4.MCE and reads back what it
; wrote each time ([0x600], [0x604]); the real CR4 keeps the host's MCE.
	bits 16
	org 0x1000

start:
	mov eax, cr4
	or eax, 0x40
	mov cr4, eax
	mov eax, cr4
	mov [0x600], eax
	and eax, ~0x40
	mov cr4, eax
	mov eax, cr4
	mov [0x604], eax
	hlt
