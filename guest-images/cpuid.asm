; cpuid: prints the vendor string and what leaf 1 says about a hypervisor,
; from the table the tool gave with KVM_SET_CPUID2 (long mode).
	bits 64
	org 0x1000
%include "guest.inc"

start:
	xor eax, eax
	cpuid
	test eax, eax			; max basic leaf
	jz bad
	mov [vendor], ebx
	mov [vendor + 4], edx
	mov [vendor + 8], ecx
	mov rsi, vmsg
	call print
	mov rsi, vendor
	call print
	mov eax, 1
	cpuid
	mov rsi, hv_yes
	bt ecx, 31			; hypervisor present
	jc .p
	mov rsi, hv_no
.p:	call print
	bt ecx, 5			; VMX must be hidden from the guest
	jc bad
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000001
	jb bad
	mov eax, 0x80000001
	cpuid
	bt edx, 29			; long mode
	jnc bad
	mov rsi, okmsg
	call print
	EXIT 0
bad:
	mov rsi, badmsg
	call print
	EXIT 1

PRINT_ROUTINE
vmsg:	db "vendor: ", 0
vendor:	times 12 db 0
	db 10, 0
hv_yes:	db "hypervisor bit: set", 10, 0
hv_no:	db "hypervisor bit: clear", 10, 0
okmsg:	db "cpuid ok", 10, 0
badmsg:	db "cpuid FAILED", 10, 0
