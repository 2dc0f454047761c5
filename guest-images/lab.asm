; lab: the guest of the lab guide (docs/lab-guide.md), 32-bit protected
; mode.  It writes a marker at GPA 0x5000 (a page for `kvmx ept --gpa`),
; does 1000 CPUIDs (exits handled in the kernel), reads the MMIO scratch
; device once (an EPT violation that becomes KVM_EXIT_MMIO), prints a line
; (port I/O: KVM_EXIT_IO per byte) and halts.  Run it with `kvmx run --hold`
; so the VM stays around to be looked at.
	bits 32
	org 0x1000
%include "guest.inc"

MARKER	equ 0x5000

start:
	mov dword [MARKER], 0x4b564d58	; "XMVK", for the student to find by EPT
	mov ebp, 1000
.cpuid:
	xor eax, eax
	cpuid				; exit 10 (CPUID), handled in the kernel
	dec ebp
	jnz .cpuid
	mov eax, [MMIO_SCRATCH]		; exit 48 (EPT violation) -> KVM_EXIT_MMIO
	mov esi, done
	call print			; exit 30 (I/O) -> KVM_EXIT_IO, per byte
	hlt				; exit 12 (HLT) -> KVM_EXIT_HLT

PRINT_ROUTINE
done:	db "lab: 1000 CPUIDs, 1 MMIO read, this line, HLT", 10, 0
