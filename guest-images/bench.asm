; bench: the guest half of `kvmx bench` (long mode).  The tool writes which
; test to run and how often into the parameter block; the guest warms up,
; times the loop with RDTSC and leaves the tick count in the block.  Bochs'
; TSC follows emulated instructions, so the count is a stable clock in the rig.
	bits 64
	org 0x1000
%include "guest.inc"

%define PARAMS		0x800
%define P_TEST		PARAMS + 0x00	; u32: one of T_* below
%define P_ITERS		PARAMS + 0x04	; u32: timed iterations
%define P_ADDR		PARAMS + 0x08	; u64: T_TOUCH: first guest-physical address
%define P_STRIDE	PARAMS + 0x10	; u64: T_TOUCH: bytes between touches
%define P_TICKS		PARAMS + 0x18	; u64 out: TSC ticks of the timed loop

%define T_CPUID		0	; CPUID: handled in ring 0
%define T_PIO		1	; OUT to a port the tool handles
%define T_MMIO		2	; a write to the tool's MMIO device
%define T_HLT		3	; HLT: to userspace and back
%define T_VMCALL	4	; an unknown hypercall: ring 0 answers -ENOSYS
%define T_TOUCH		5	; first write to fresh pages: EPT fault-in
%define T_SELF_IPI	6	; in-kernel APIC: a self-IPI taken and EOIed
%define T_TIMER		7	; in-kernel APIC: a TSC deadline already due, HLT, EOI
%define T_X2APIC_IPI	8	; in-kernel APIC, x2APIC mode: a self-IPI (MSR 0x83f) and its EOI
%define WARMUP		16

%define BENCH_PORT	CONSOLE + 7	; the 8250's scratch register

%define APIC		0xfee00000	; the local APIC's registers (xAPIC)
%define APIC_VECTOR	0x40		; the vector the APIC tests take
%define IDT		0x6000		; 256 gates of 16 bytes

; TIMED body: run the loop "body; dec r13d; jnz" with r13d = iterations and
; leave the ticks in r12 (not rbx: CPUID clobbers it).  lfence keeps RDTSC
; from drifting into the loop.
%macro TIMED 1
	mov r13d, [P_ITERS]
	lfence
	rdtsc
	shl rdx, 32
	or rax, rdx
	mov r12, rax
%%loop:
	%1
	dec r13d
	jnz %%loop
	lfence
	rdtsc
	shl rdx, 32
	or rax, rdx
	sub rax, r12
	mov r12, rax
%endmacro

%macro WARM 1
	mov r13d, WARMUP
%%loop:
	%1
	dec r13d
	jnz %%loop
%endmacro

%macro do_cpuid 0
	xor eax, eax
	cpuid
%endmacro
%macro do_pio 0
	mov dx, BENCH_PORT
	out dx, al
%endmacro
%macro do_mmio 0
	mov dword [rdi], eax
%endmacro
%macro do_vmcall 0
	xor eax, eax
	vmcall
%endmacro
%macro do_touch 0
	mov byte [rdi], 1
	add rdi, rsi
%endmacro
; A self-IPI (ICR: shorthand self, fixed, APIC_VECTOR): taken right after the
; write, with IF=1; the handler's EOI ends it.
%macro do_self_ipi 0
	mov dword [rbx + 0x300], 0x44000 | APIC_VECTOR
%endmacro
; The same in x2APIC mode: WRMSR to SELF IPI and to EOI, which APIC
; virtualization takes without exits (SDM 29.5).
%macro do_x2apic_ipi 0
	mov ecx, 0x83f
	mov eax, APIC_VECTOR
	xor edx, edx
	wrmsr
%endmacro
; The TSC deadline set to now: due at once; STI;HLT waits for it (its
; interrupt comes after HLT, in STI's shadow, so none is lost).
%macro do_timer 0
	cli
	rdtsc
	mov ecx, 0x6e0
	wrmsr
	sti
	hlt
%endmacro

start:
	mov edi, MMIO_SCRATCH
	mov eax, [P_TEST]
	cmp eax, T_CPUID
	je t_cpuid
	cmp eax, T_PIO
	je t_pio
	cmp eax, T_MMIO
	je t_mmio
	cmp eax, T_HLT
	je t_hlt
	cmp eax, T_VMCALL
	je t_vmcall
	cmp eax, T_TOUCH
	je t_touch
	cmp eax, T_X2APIC_IPI
	je t_x2apic_ipi
	cmp eax, T_SELF_IPI
	je t_self_ipi
	cmp eax, T_TIMER
	je t_timer
	EXIT 1

t_cpuid:
	WARM do_cpuid
	TIMED do_cpuid
	jmp done
t_pio:
	WARM do_pio
	TIMED do_pio
	jmp done
t_mmio:
	WARM do_mmio
	TIMED do_mmio
	jmp done
t_hlt:
	WARM hlt
	TIMED hlt
	jmp done
t_vmcall:
	WARM do_vmcall
	TIMED do_vmcall
	jmp done
t_touch:
	; No warm-up: every page is touched once, and the first time is the point.
	mov rdi, [P_ADDR]
	mov rsi, [P_STRIDE]
	TIMED do_touch
	jmp done
t_self_ipi:
	call apic_setup
	WARM do_self_ipi
	TIMED do_self_ipi
	jmp done
t_x2apic_ipi:
	call apic_setup
	mov ecx, 0x1b					; IA32_APIC_BASE: x2APIC on
	rdmsr
	or eax, 1 << 10
	wrmsr
	mov eax, apic_isr_x2apic
	mov [IDT + APIC_VECTOR * 16], ax
	WARM do_x2apic_ipi
	TIMED do_x2apic_ipi
	jmp done
t_timer:
	call apic_setup
	mov dword [rbx + 0x320], 0x40000 | APIC_VECTOR	; LVTT: TSC deadline
	WARM do_timer
	TIMED do_timer
done:
	mov [P_TICKS], r12
	EXIT 0

; The in-kernel APIC tests: the APIC software-enabled, APIC_VECTOR's gate
; pointing at apic_isr, interrupts on; rbx = the APIC's base.
apic_setup:
	mov ebx, APIC
	mov dword [rbx + 0xf0], 0x1ff			; SVR: enabled
	mov edi, IDT + APIC_VECTOR * 16
	mov eax, apic_isr
	mov [rdi], ax					; offset 15:0
	mov cx, cs
	mov [rdi + 2], cx				; selector
	mov word [rdi + 4], 0x8e00			; present, 64-bit interrupt gate
	shr eax, 16
	mov [rdi + 6], ax				; offset 31:16
	mov qword [rdi + 8], 0				; offset 63:32, reserved
	lidt [idtr]
	sti
	ret

apic_isr:
	mov dword [rbx + 0xb0], 0			; EOI
	iretq

apic_isr_x2apic:
	push rax
	push rcx
	push rdx
	mov ecx, 0x80b					; EOI
	xor eax, eax
	xor edx, edx
	wrmsr
	pop rdx
	pop rcx
	pop rax
	iretq

idtr:
	dw 256 * 16 - 1
	dq IDT
