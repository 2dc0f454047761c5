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
; The tests that count their interrupts (T_IPI_*, T_EOI_*):
%define P_TAKEN		PARAMS + 0x20	; u32: interrupts vCPU 0's handler took
%define P_TAKEN1	PARAMS + 0x24	; u32: interrupts vCPU 1's handler took
%define P_READY		PARAMS + 0x28	; u32: vCPU 1 is set up
%define P_DONE		PARAMS + 0x2c	; u32: vCPU 0 is done, vCPU 1 may exit
%define P_BASE		PARAMS + 0x30	; u64 out: T_EOI_*: ticks of the empty windows
%define P_SEEN		PARAMS + 0x38	; u32 out: P_TAKEN when the timed loop ended

%define T_CPUID		0	; CPUID: handled in ring 0
%define T_PIO		1	; OUT to a port the tool handles
%define T_MMIO		2	; a write to the tool's MMIO device
%define T_HLT		3	; HLT: to userspace and back
%define T_VMCALL	4	; an unknown hypercall: ring 0 answers -ENOSYS
%define T_TOUCH		5	; first write to fresh pages: EPT fault-in
%define T_SELF_IPI	6	; in-kernel APIC: a self-IPI taken and EOIed
%define T_TIMER		7	; in-kernel APIC: a TSC deadline already due, HLT, EOI
%define T_X2APIC_IPI	8	; in-kernel APIC, x2APIC mode: a self-IPI (MSR 0x83f) and its EOI
%define T_IPI_SPIN	9	; 2 vCPUs, x2APIC: IPI to vCPU 1, its IPI back; both spin
%define T_IPI_HLT	10	; the same, both wait in HLT
%define T_EOI_XAPIC	11	; an EOI alone, through the xAPIC page
%define T_EOI_X2APIC	12	; an EOI alone, x2APIC MSR 0x80b
%define WARMUP		16

%define BENCH_PORT	CONSOLE + 7	; the 8250's scratch register

%define APIC		0xfee00000	; the local APIC's registers (xAPIC)
%define APIC_VECTOR	0x40		; the vector the APIC tests take
%define PING_VECTOR	0x41		; T_IPI_*: vCPU 0 -> vCPU 1
%define PONG_VECTOR	0x42		; T_IPI_*: vCPU 1 -> vCPU 0
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
; IPI round trip (x2APIC, physical destination, fixed): vCPU 0 writes the
; ICR (MSR 0x830) for PING_VECTOR to APIC ID 1, whose handler (ping_isr)
; EOIs and sends PONG_VECTOR back; pong_isr counts it in P_TAKEN.  r14d: the
; count to wait for.  Spin: vCPU 0 polls P_TAKEN with IF=1 (no HLT: what
; delivering to a running vCPU costs).
%macro send_ping 0
	mov ecx, 0x830
	mov eax, 0x4000 | PING_VECTOR
	mov edx, 1
	wrmsr
%endmacro
%macro do_ipi_spin 0
	mov r14d, [P_TAKEN]
	inc r14d
	send_ping
%%wait:
	cmp [P_TAKEN], r14d
	jne %%wait
%endmacro
; HLT: the ping sent with IF=0, then STI;HLT until the pong is in (what
; waking a halted vCPU costs; STI's shadow keeps a pong that came early
; pending until HLT, as in do_timer).
%macro do_ipi_hlt 0
	mov r14d, [P_TAKEN]
	inc r14d
	cli
	send_ping
%%wait:
	sti
	hlt
	cli
	cmp [P_TAKEN], r14d
	jne %%wait
	sti
%endmacro
; EOI alone: %2 sends a self-IPI, taken by count_isr (which does not EOI);
; once P_TAKEN moved, RDTSC around %3 (the EOI write and what sets its
; registers up) and r12 += the ticks.  %1 iterations.
%macro EOI_LOOP 3
	mov r13d, %1
	xor r12, r12
%%loop:
	mov r14d, [P_TAKEN]
	%2
%%taken:
	cmp [P_TAKEN], r14d
	je %%taken
	WINDOW %3
	dec r13d
	jnz %%loop
%endmacro
; r12 += the ticks of %1 between two RDTSCs (r15: the first).
%macro WINDOW 1
	lfence
	rdtsc
	shl rdx, 32
	or rax, rdx
	mov r15, rax
	%1
	lfence
	rdtsc
	shl rdx, 32
	or rax, rdx
	sub rax, r15
	add r12, rax
%endmacro
; The empty windows: the same without the EOI write, no interrupt; r12 =
; their ticks.  %1 iterations.
%macro EMPTY_LOOP 2
	mov r13d, %1
	xor r12, r12
%%loop:
	WINDOW %2
	dec r13d
	jnz %%loop
%endmacro
%macro nothing 0
%endmacro
%macro xapic_self_ipi 0
	mov dword [rbx + 0x300], 0x44000 | APIC_VECTOR
%endmacro
%macro xapic_eoi 0
	mov dword [rbx + 0xb0], 0
%endmacro
%macro x2apic_self_ipi 0
	mov ecx, 0x83f
	mov eax, APIC_VECTOR
	xor edx, edx
	wrmsr
%endmacro
%macro x2apic_eoi_regs 0
	mov ecx, 0x80b
	xor eax, eax
	xor edx, edx
%endmacro
%macro x2apic_eoi 0
	x2apic_eoi_regs
	wrmsr
%endmacro

; vCPU 0 starts at 0x1000, vCPU 1 (T_IPI_*) at 0x1005: the tool sets its RIP.
	jmp strict near start
	jmp strict near ap_start

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
	cmp eax, T_IPI_SPIN
	je t_ipi_spin
	cmp eax, T_IPI_HLT
	je t_ipi_hlt
	cmp eax, T_EOI_XAPIC
	je t_eoi_xapic
	cmp eax, T_EOI_X2APIC
	je t_eoi_x2apic
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
	call x2apic_on
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

t_ipi_spin:
	call ipi_setup
	WARM do_ipi_spin
	TIMED do_ipi_spin
	jmp ipi_done
t_ipi_hlt:
	call ipi_setup
	WARM do_ipi_hlt
	TIMED do_ipi_hlt
ipi_done:
	mov eax, [P_TAKEN]
	mov [P_SEEN], eax
	mov dword [P_DONE], 1
	send_ping					; wakes vCPU 1 if it waits in HLT
	jmp done

; vCPU 0 of T_IPI_*: x2APIC on, pong_isr on PONG_VECTOR, vCPU 1 ready.
ipi_setup:
	call apic_setup
	call x2apic_on
	mov edi, PONG_VECTOR
	mov eax, pong_isr
	call set_gate
.wait:
	cmp dword [P_READY], 0
	je .wait
	ret

t_eoi_xapic:
	call apic_setup
	mov edi, APIC_VECTOR
	mov eax, count_isr
	call set_gate
	EMPTY_LOOP [P_ITERS], nothing
	mov [P_BASE], r12
	EOI_LOOP WARMUP, xapic_self_ipi, xapic_eoi
	EOI_LOOP [P_ITERS], xapic_self_ipi, xapic_eoi
	jmp eoi_done
t_eoi_x2apic:
	call apic_setup
	call x2apic_on
	mov edi, APIC_VECTOR
	mov eax, count_isr
	call set_gate
	EMPTY_LOOP [P_ITERS], x2apic_eoi_regs
	mov [P_BASE], r12
	EOI_LOOP WARMUP, x2apic_self_ipi, x2apic_eoi
	EOI_LOOP [P_ITERS], x2apic_self_ipi, x2apic_eoi
eoi_done:
	mov eax, [P_TAKEN]
	mov [P_SEEN], eax
	jmp done

; vCPU 1 of T_IPI_*: its APIC enabled, x2APIC, ping_isr on PING_VECTOR;
; then it waits as vCPU 0 does (spinning or in HLT) until P_DONE.
ap_start:
	mov ebx, APIC
	mov dword [rbx + 0xf0], 0x1ff			; SVR: enabled
	mov edi, PING_VECTOR
	mov eax, ping_isr
	call set_gate
	lidt [idtr]
	call x2apic_on
	mov dword [P_READY], 1
	sti
	cmp dword [P_TEST], T_IPI_HLT
	je .halt
.spin:
	cmp dword [P_DONE], 0
	je .spin
	EXIT 0
.halt:
	hlt
	cmp dword [P_DONE], 0
	je .halt
	EXIT 0

; The in-kernel APIC tests: the APIC software-enabled, APIC_VECTOR's gate
; pointing at apic_isr, interrupts on; rbx = the APIC's base.
apic_setup:
	mov ebx, APIC
	mov dword [rbx + 0xf0], 0x1ff			; SVR: enabled
	mov edi, APIC_VECTOR
	mov eax, apic_isr
	call set_gate
	lidt [idtr]
	sti
	ret

; IDT gate edi (a vector) to the handler at eax.
set_gate:
	shl edi, 4
	add edi, IDT
	mov [rdi], ax					; offset 15:0
	mov cx, cs
	mov [rdi + 2], cx				; selector
	mov word [rdi + 4], 0x8e00			; present, 64-bit interrupt gate
	shr eax, 16
	mov [rdi + 6], ax				; offset 31:16
	mov qword [rdi + 8], 0				; offset 63:32, reserved
	ret

x2apic_on:
	mov ecx, 0x1b					; IA32_APIC_BASE: x2APIC on
	rdmsr
	or eax, 1 << 10
	wrmsr
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

; T_EOI_*: count the interrupt, no EOI (the timed code does it).
count_isr:
	inc dword [P_TAKEN]
	iretq

; T_IPI_* on vCPU 0: the pong, counted.
pong_isr:
	push rax
	push rcx
	push rdx
	inc dword [P_TAKEN]
	x2apic_eoi
	pop rdx
	pop rcx
	pop rax
	iretq

; T_IPI_* on vCPU 1: the ping, counted, EOIed and answered with the pong.
ping_isr:
	push rax
	push rcx
	push rdx
	inc dword [P_TAKEN1]
	x2apic_eoi
	mov ecx, 0x830					; ICR: fixed, physical, APIC ID 0
	mov eax, 0x4000 | PONG_VECTOR
	xor edx, edx
	wrmsr
	pop rdx
	pop rcx
	pop rax
	iretq

idtr:
	dw 256 * 16 - 1
	dq IDT
