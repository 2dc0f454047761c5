// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal KVM client written against <linux/kvm.h> alone, the way small
 * KVM examples are: it knows nothing about kvmx.  Pointed at /dev/kvm or at
 * /dev/kvmx it must behave the same.  It runs one tiny guest in each of
 * real mode, 32-bit protected mode, 32-bit paging and long mode; each guest
 * stores 42 at guest-physical 0x400, writes 42 to port 0xe9 and halts.
 *
 *   kvm-client DEVICE real|protected|paged|long
 *
 * Prints what it saw and exits 0 if the guest behaved.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE	0x200000
#define CODE_AT		0x1000
#define PT_AT		0x2000
#define GDT_AT		0x8000

static void die(const char *what)
{
	fprintf(stderr, "kvm-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* mov dword/word [0x400], 42 ; mov al, 42 ; out 0xe9, al ; hlt */
static const uint8_t code16[] = { 0xc7, 0x06, 0x00, 0x04, 0x2a, 0x00, 0xb0, 0x2a,
				  0xe6, 0xe9, 0xf4 };
static const uint8_t code32[] = { 0xc7, 0x05, 0x00, 0x04, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
				  0xb0, 0x2a, 0xe6, 0xe9, 0xf4 };
/* long mode: mov dword [rip-relative? no: absolute via SIB] */
static const uint8_t code64[] = { 0xc7, 0x04, 0x25, 0x00, 0x04, 0x00, 0x00, 0x2a, 0x00, 0x00,
				  0x00, 0xb0, 0x2a, 0xe6, 0xe9, 0xf4 };

static void flat_seg(struct kvm_segment *s, int code, int l)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = code ? 8 : 16;
	s->present = 1;
	s->type = code ? 11 : 3;
	s->dpl = 0;
	s->db = !l;
	s->s = 1;
	s->l = l;
	s->g = 1;
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	const uint8_t *code;
	size_t code_len;
	uint8_t *mem;
	int sys, vm, vcpu, run_size, outs = 0;
	const char *mode;

	if (argc != 3) {
		fprintf(stderr, "usage: kvm-client DEVICE real|protected|paged|long\n");
		return 2;
	}
	mode = argv[2];
	sys = open(argv[1], O_RDWR | O_CLOEXEC);
	if (sys < 0)
		die(argv[1]);
	if (ioctl(sys, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die("KVM_GET_API_VERSION");
	vm = ioctl(sys, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	region.slot = 0;
	region.flags = 0;
	region.guest_phys_addr = 0;
	region.memory_size = MEM_SIZE;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	run_size = ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap run");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");

	if (!strcmp(mode, "real")) {
		sregs.cs.selector = 0;
		sregs.cs.base = 0;
		code = code16;
		code_len = sizeof(code16);
	} else {
		uint64_t *gdt = (uint64_t *)(mem + GDT_AT);
		int l = !strcmp(mode, "long");

		gdt[1] = l ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL;
		gdt[2] = 0x00cf93000000ffffULL;
		sregs.gdt.base = GDT_AT;
		sregs.gdt.limit = 23;
		flat_seg(&sregs.cs, 1, l);
		flat_seg(&sregs.ds, 0, 0);
		sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
		sregs.cr0 |= 1;	/* PE */
		code = code32;
		code_len = sizeof(code32);
		if (!strcmp(mode, "paged")) {
			uint32_t *pd = (uint32_t *)(mem + PT_AT);

			pd[0] = 0x87;	/* 4 MiB page at 0, present, RW, user */
			sregs.cr3 = PT_AT;
			sregs.cr4 |= 1 << 4;	/* PSE */
			sregs.cr0 |= 0x80000000u;	/* PG */
		} else if (l) {
			uint64_t *pml4 = (uint64_t *)(mem + PT_AT);
			uint64_t *pdpt = (uint64_t *)(mem + PT_AT + 0x1000);
			uint64_t *pd = (uint64_t *)(mem + PT_AT + 0x2000);

			pml4[0] = (PT_AT + 0x1000) | 3;
			pdpt[0] = (PT_AT + 0x2000) | 3;
			pd[0] = 0x83;	/* 2 MiB page at 0 */
			sregs.cr3 = PT_AT;
			sregs.cr4 |= 1 << 5;	/* PAE */
			sregs.cr0 |= 0x80000000u;
			sregs.efer |= (1 << 8) | (1 << 10);	/* LME, LMA */
			code = code64;
			code_len = sizeof(code64);
		} else if (strcmp(mode, "protected")) {
			fprintf(stderr, "kvm-client: unknown mode %s\n", mode);
			return 2;
		}
	}
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	memcpy(mem + CODE_AT, code, code_len);
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_AT;
	regs.rflags = 2;
	regs.rsp = 0x10000;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
		    run->io.port == 0xe9) {
			printf("%s: out 0xe9 <- %u\n", mode, *((uint8_t *)run + run->io.data_offset));
			outs++;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		fprintf(stderr, "kvm-client: %s: unexpected exit %u\n", mode, run->exit_reason);
		return 1;
	}
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		die("KVM_GET_REGS");
	printf("%s: halted at rip %#llx, memory[0x400] = %u\n", mode,
	       (unsigned long long)regs.rip, *(uint32_t *)(mem + 0x400));
	return outs == 1 && *(uint32_t *)(mem + 0x400) == 42 ? 0 : 1;
}
