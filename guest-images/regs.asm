; regs: computes known values into registers and halts; the test reads them
; back with KVM_GET_REGS (kvmx run --dump-regs), no console involved.
	bits 64
	org 0x1000

start:
	xor eax, eax			; r15 = 1 + 2 + ... + 100
	xor r15, r15
	mov ecx, 100
.sum:	add r15, rcx
	loop .sum
	mov rbx, 0x0123456789abcdef
	bswap rbx			; 0xefcdab8967452301
	mov r8, 1
	shl r8, 40			; 0x10000000000
	mov edx, 7			; 7! in r9
	mov r9, 1
.fact:	imul r9, rdx
	dec edx
	jnz .fact
	mov ecx, 0xc0000080		; EFER into rsi (LME|LMA = 0x500)
	rdmsr
	mov esi, eax
	xor ecx, ecx
	mov rax, 0x600dcafe
	hlt
