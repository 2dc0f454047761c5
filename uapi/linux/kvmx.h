/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvmx userspace ABI.
 *
 * The subset of KVM's API that kvmx implements, with KVM's ioctl numbers and
 * struct layouts, so that a KVM client opening /dev/kvmx instead of /dev/kvm
 * runs unchanged.  Names carry a KVMX_/kvmx_ prefix so this header can be
 * included next to <linux/kvm.h>; tests/unit/abi_test.cpp proves the numbers
 * and layouts are equal.
 *
 * A few kvmx-only ioctls live above KVM's range (nr >= 0xf0) and are marked.
 */
#ifndef _UAPI_KVMX_H
#define _UAPI_KVMX_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KVMX_API_VERSION	12	/* what KVM_GET_API_VERSION returns */

#define KVMXIO			0xAE	/* KVMIO */

/* ---- capabilities (KVM_CAP_* numbers) ---- */
#define KVMX_CAP_HLT			1
#define KVMX_CAP_USER_MEMORY		3
#define KVMX_CAP_SET_TSS_ADDR		4
#define KVMX_CAP_VAPIC			6
#define KVMX_CAP_EXT_CPUID		7
#define KVMX_CAP_NR_VCPUS		9
#define KVMX_CAP_NR_MEMSLOTS		10
#define KVMX_CAP_DESTROY_MEMORY_REGION_WORKS 21
#define KVMX_CAP_JOIN_MEMORY_REGIONS_WORKS 30
#define KVMX_CAP_SET_IDENTITY_MAP_ADDR	37
#define KVMX_CAP_MAX_VCPUS		66
#define KVMX_CAP_READONLY_MEM		81
#define KVMX_CAP_IMMEDIATE_EXIT		136
#define KVMX_CAP_MAX_VCPU_ID		128
#define KVMX_CAP_INTERNAL_ERROR_DATA	40
#define KVMX_CAP_MP_STATE		14
#define KVMX_CAP_USER_NMI		22
#define KVMX_CAP_VCPU_EVENTS		41
#define KVMX_CAP_DEBUGREGS		50
#define KVMX_CAP_XSAVE			55
#define KVMX_CAP_XCRS			56
#define KVMX_CAP_GET_TSC_KHZ		61
#define KVMX_CAP_IRQ_ROUTING		25
#define KVMX_CAP_MCE			31
#define KVMX_CAP_ADJUST_CLOCK		39
#define KVMX_CAP_IRQCHIP		0
#define KVMX_CAP_IRQ_INJECT_STATUS	26
#define KVMX_CAP_SET_BOOT_CPU_ID	34
#define KVMX_CAP_TSC_DEADLINE_TIMER	72
#define KVMX_CAP_SIGNAL_MSI		77
#define KVMX_CAP_IRQFD			32
#define KVMX_CAP_IRQFD_RESAMPLE		82
#define KVMX_CAP_IOEVENTFD		36
#define KVMX_CAP_IOEVENTFD_NO_LENGTH	100
#define KVMX_CAP_IOEVENTFD_ANY_LENGTH	122
#define KVMX_CAP_ENABLE_CAP_VM		98
#define KVMX_CAP_SPLIT_IRQCHIP		121
#define KVMX_CAP_NOP_IO_DELAY		12
#define KVMX_CAP_SYNC_REGS		74
#define KVMX_CAP_X86_USER_SPACE_MSR	188
#define KVMX_CAP_X86_MSR_FILTER		189

/* ---- exit reasons (kvm_run.exit_reason) ---- */
#define KVMX_EXIT_UNKNOWN		0
#define KVMX_EXIT_EXCEPTION		1
#define KVMX_EXIT_IO			2
#define KVMX_EXIT_HYPERCALL		3
#define KVMX_EXIT_DEBUG			4
#define KVMX_EXIT_HLT			5
#define KVMX_EXIT_MMIO			6
#define KVMX_EXIT_IRQ_WINDOW_OPEN	7
#define KVMX_EXIT_SHUTDOWN		8
#define KVMX_EXIT_FAIL_ENTRY		9
#define KVMX_EXIT_INTR			10
#define KVMX_EXIT_SET_TPR		11
#define KVMX_EXIT_TPR_ACCESS		12
#define KVMX_EXIT_INTERNAL_ERROR	17
#define KVMX_EXIT_IOAPIC_EOI		26
#define KVMX_EXIT_X86_RDMSR		29
#define KVMX_EXIT_X86_WRMSR		30

/* kvm_run.internal.suberror */
#define KVMX_INTERNAL_ERROR_EMULATION	1
#define KVMX_INTERNAL_ERROR_SIMUL_EX	2
#define KVMX_INTERNAL_ERROR_DELIVERY_EV	3
#define KVMX_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON 4
/* kvm_run.emulation_failure.flags */
#define KVMX_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES (1ULL << 0)

#define KVMX_EXIT_IO_IN			0
#define KVMX_EXIT_IO_OUT		1

/* ---- structures (x86 layouts of <linux/kvm.h>) ---- */
struct kvmx_regs {
	__u64 rax, rbx, rcx, rdx;
	__u64 rsi, rdi, rsp, rbp;
	__u64 r8,  r9,  r10, r11;
	__u64 r12, r13, r14, r15;
	__u64 rip, rflags;
};

struct kvmx_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u8  type;
	__u8  present, dpl, db, s, l, g, avl;
	__u8  unusable;
	__u8  padding;
};

struct kvmx_dtable {
	__u64 base;
	__u16 limit;
	__u16 padding[3];
};

#define KVMX_NR_INTERRUPTS 256

struct kvmx_sregs {
	struct kvmx_segment cs, ds, es, fs, gs, ss;
	struct kvmx_segment tr, ldt;
	struct kvmx_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 apic_base;
	__u64 interrupt_bitmap[(KVMX_NR_INTERRUPTS + 63) / 64];
};

struct kvmx_fpu {
	__u8  fpr[8][16];
	__u16 fcw;
	__u16 fsw;
	__u8  ftwx;
	__u8  pad1;
	__u16 last_opcode;
	__u64 last_ip;
	__u64 last_dp;
	__u8  xmm[16][16];
	__u32 mxcsr;
	__u32 pad2;
};

struct kvmx_msr_entry {
	__u32 index;
	__u32 reserved;
	__u64 data;
};

struct kvmx_msrs {
	__u32 nmsrs;
	__u32 pad;
	struct kvmx_msr_entry entries[];
};

struct kvmx_msr_list {
	__u32 nmsrs;
	__u32 indices[];
};

#define KVMX_CPUID_FLAG_SIGNIFCANT_INDEX	(1u << 0)

struct kvmx_cpuid_entry2 {
	__u32 function;
	__u32 index;
	__u32 flags;
	__u32 eax;
	__u32 ebx;
	__u32 ecx;
	__u32 edx;
	__u32 padding[3];
};

struct kvmx_cpuid2 {
	__u32 nent;
	__u32 padding;
	struct kvmx_cpuid_entry2 entries[];
};

struct kvmx_interrupt {
	__u32 irq;
};

#define KVMX_MEM_LOG_DIRTY_PAGES	(1u << 0)
#define KVMX_MEM_READONLY		(1u << 1)

struct kvmx_userspace_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;	/* bytes */
	__u64 userspace_addr;	/* start of the userspace allocated memory */
};

/* KVM_GET/SET_VCPU_EVENTS */
struct kvmx_vcpu_events {
	struct {
		__u8 injected;
		__u8 nr;
		__u8 has_error_code;
		__u8 pending;
		__u32 error_code;
	} exception;
	struct {
		__u8 injected;
		__u8 nr;
		__u8 soft;
		__u8 shadow;
	} interrupt;
	struct {
		__u8 injected;
		__u8 pending;
		__u8 masked;
		__u8 pad;
	} nmi;
	__u32 sipi_vector;
	__u32 flags;
	struct {
		__u8 smm;
		__u8 pending;
		__u8 smm_inside_nmi;
		__u8 latched_init;
	} smi;
	struct {
		__u8 pending;
	} triple_fault;
	__u8 reserved[26];
	__u8 exception_has_payload;
	__u64 exception_payload;
};

#define KVMX_VCPUEVENT_VALID_NMI_PENDING	0x00000001
#define KVMX_VCPUEVENT_VALID_SIPI_VECTOR	0x00000002
#define KVMX_VCPUEVENT_VALID_SHADOW		0x00000004
#define KVMX_VCPUEVENT_VALID_SMM		0x00000008
#define KVMX_VCPUEVENT_VALID_PAYLOAD		0x00000010
#define KVMX_VCPUEVENT_VALID_TRIPLE_FAULT	0x00000020

#define KVMX_X86_SHADOW_INT_MOV_SS	0x01
#define KVMX_X86_SHADOW_INT_STI		0x02

/*
 * KVM_CAP_SYNC_REGS: register sets KVM_RUN copies into kvm_run->s.regs on
 * return (kvm_valid_regs) and takes from there before entry (kvm_dirty_regs).
 */
#define KVMX_SYNC_X86_REGS		(1UL << 0)
#define KVMX_SYNC_X86_SREGS		(1UL << 1)
#define KVMX_SYNC_X86_EVENTS		(1UL << 2)
#define KVMX_SYNC_X86_VALID_FIELDS	(KVMX_SYNC_X86_REGS | KVMX_SYNC_X86_SREGS | \
					 KVMX_SYNC_X86_EVENTS)

struct kvmx_sync_regs {
	struct kvmx_regs regs;
	struct kvmx_sregs sregs;
	struct kvmx_vcpu_events events;
};

/* The shared run page, mmap'd from the vCPU fd at offset 0. */
struct kvmx_run {
	/* in */
	__u8 request_interrupt_window;
	__u8 immediate_exit;
	__u8 padding1[6];

	/* out */
	__u32 exit_reason;
	__u8 ready_for_interrupt_injection;
	__u8 if_flag;
	__u16 flags;

	/* in (pre_kvm_run), out (post_kvm_run) */
	__u64 cr8;
	__u64 apic_base;

	union {
		struct {
			__u64 hardware_exit_reason;
		} hw;
		struct {
			__u64 hardware_entry_failure_reason;
			__u32 cpu;
		} fail_entry;
		struct {
			__u32 exception;
			__u32 error_code;
		} ex;
		/* KVMX_EXIT_TPR_ACCESS: the guest touched the xAPIC TPR at rip */
		struct {
			__u64 rip;
			__u32 is_write;
			__u32 pad;
		} tpr_access;
		/* KVMX_EXIT_IOAPIC_EOI: split irqchip, the guest EOIed a level vector */
		struct {
			__u8 vector;
		} eoi;
		struct {
			__u8 direction;
			__u8 size;		/* bytes */
			__u16 port;
			__u32 count;
			__u64 data_offset;	/* relative to kvm_run start */
		} io;
		struct {
			__u64 phys_addr;
			__u8  data[8];
			__u32 len;
			__u8  is_write;
		} mmio;
		struct {
			__u32 suberror;
			__u32 ndata;
			__u64 data[16];
		} internal;
		/* KVMX_INTERNAL_ERROR_EMULATION: internal, with names for data[0..2]. */
		struct {
			__u32 suberror;
			__u32 ndata;
			__u64 flags;
			__u8  insn_size;
			__u8  insn_bytes[15];
		} emulation_failure;
		/* KVMX_EXIT_X86_RDMSR, KVMX_EXIT_X86_WRMSR (KVM_CAP_X86_USER_SPACE_MSR) */
		struct {
			__u8 error;	/* in: non-zero raises #GP */
			__u8 pad[7];
			__u32 reason;	/* out: KVMX_MSR_EXIT_REASON_* */
			__u32 index;	/* out */
			__u64 data;	/* out for WRMSR, in for RDMSR */
		} msr;
		char padding[256];
	};

	__u64 kvm_valid_regs;
	__u64 kvm_dirty_regs;
	union {
		struct kvmx_sync_regs regs;
		char padding[2048];
	} s;
};

/* KVM_GET/SET_MP_STATE */
struct kvmx_mp_state {
	__u32 mp_state;
};

#define KVMX_MP_STATE_RUNNABLE		0
#define KVMX_MP_STATE_UNINITIALIZED	1
#define KVMX_MP_STATE_INIT_RECEIVED	2
#define KVMX_MP_STATE_HALTED		3
#define KVMX_MP_STATE_SIPI_RECEIVED	4

/* KVM_SET_SIGNAL_MASK: len is sizeof(sigset_t) of the kernel, 8 on x86-64 */
struct kvmx_signal_mask {
	__u32 len;
	__u8  sigset[];
};

/* KVM_GET/SET_DEBUGREGS */
struct kvmx_debugregs {
	__u64 db[4];
	__u64 dr6;
	__u64 dr7;
	__u64 flags;
	__u64 reserved[9];
};

/* KVM_GET/SET_XSAVE: the XSAVE area in the standard (non-compacted) format */
struct kvmx_xsave {
	__u32 region[1024];
	__u32 extra[];
};

/* KVM_GET/SET_XCRS */
#define KVMX_MAX_XCRS	16

struct kvmx_xcr {
	__u32 xcr;
	__u32 reserved;
	__u64 value;
};

struct kvmx_xcrs {
	__u32 nr_xcrs;
	__u32 flags;
	struct kvmx_xcr xcrs[KVMX_MAX_XCRS];
	__u64 padding[16];
};

/* KVM_IRQ_LINE(_STATUS): a GSI's level; _STATUS writes back what happened */
struct kvmx_irq_level {
	union {
		__u32 irq;
		__s32 status;
	};
	__u32 level;
};

/* KVM_GET/SET_IRQCHIP: one of the three chips of the in-kernel irqchip */
#define KVMX_IRQCHIP_PIC_MASTER	0
#define KVMX_IRQCHIP_PIC_SLAVE	1
#define KVMX_IRQCHIP_IOAPIC	2
#define KVMX_NR_IRQCHIPS	3

struct kvmx_pic_state {
	__u8 last_irr;		/* the lines' levels at the last edge check */
	__u8 irr;
	__u8 imr;
	__u8 isr;
	__u8 priority_add;	/* the lowest-priority line + 1 (rotation) */
	__u8 irq_base;
	__u8 read_reg_select;	/* OCW3: reads return ISR, not IRR */
	__u8 poll;
	__u8 special_mask;
	__u8 init_state;	/* which ICW comes next, 0: none */
	__u8 auto_eoi;
	__u8 rotate_on_auto_eoi;
	__u8 special_fully_nested_mode;
	__u8 init4;		/* ICW4 expected */
	__u8 elcr;		/* level-triggered lines (ports 0x4d0/0x4d1) */
	__u8 elcr_mask;
};

#define KVMX_IOAPIC_NUM_PINS	24
struct kvmx_ioapic_state {
	__u64 base_address;
	__u32 ioregsel;
	__u32 id;
	__u32 irr;
	__u32 pad;
	union {
		__u64 bits;
		struct {
			__u8 vector;
			__u8 delivery_mode:3;
			__u8 dest_mode:1;
			__u8 delivery_status:1;
			__u8 polarity:1;
			__u8 remote_irr:1;
			__u8 trig_mode:1;
			__u8 mask:1;
			__u8 reserve:7;
			__u8 reserved[4];
			__u8 dest_id;
		} fields;
	} redirtbl[KVMX_IOAPIC_NUM_PINS];
};

struct kvmx_irqchip {
	__u32 chip_id;
	__u32 pad;
	union {
		char dummy[512];
		struct kvmx_pic_state pic;
		struct kvmx_ioapic_state ioapic;
	} chip;
};

/* KVM_GET/SET_LAPIC: the first 1 KiB of the xAPIC register page */
#define KVMX_APIC_REG_SIZE	0x400
struct kvmx_lapic_state {
	char regs[KVMX_APIC_REG_SIZE];
};

/* KVM_SIGNAL_MSI, and an MSI route */
struct kvmx_msi {
	__u32 address_lo;
	__u32 address_hi;
	__u32 data;
	__u32 flags;
	__u32 devid;
	__u8  pad[12];
};

/* KVM_IRQFD: a write to eventfd @fd raises GSI @gsi */
#define KVMX_IRQFD_FLAG_DEASSIGN	(1 << 0)
#define KVMX_IRQFD_FLAG_RESAMPLE	(1 << 1)

struct kvmx_irqfd {
	__u32 fd;
	__u32 gsi;
	__u32 flags;
	__u32 resamplefd;
	__u8  pad[16];
};

/* KVM_IOEVENTFD: a guest write to @addr (matching @datamatch) signals eventfd @fd */
#define KVMX_IOEVENTFD_FLAG_DATAMATCH	(1 << 0)
#define KVMX_IOEVENTFD_FLAG_PIO		(1 << 1)
#define KVMX_IOEVENTFD_FLAG_DEASSIGN	(1 << 2)

struct kvmx_ioeventfd {
	__u64 datamatch;
	__u64 addr;
	__u32 len;		/* 1, 2, 4 or 8 bytes; 0: any length */
	__s32 fd;
	__u32 flags;
	__u8  pad[36];
};

/* KVM_SET_GSI_ROUTING: the table that maps GSIs to irqchip pins and MSIs */
#define KVMX_IRQ_ROUTING_IRQCHIP	1
#define KVMX_IRQ_ROUTING_MSI		2

struct kvmx_irq_routing_irqchip {
	__u32 irqchip;
	__u32 pin;
};

struct kvmx_irq_routing_msi {
	__u32 address_lo;
	__u32 address_hi;
	__u32 data;
	union {
		__u32 pad;
		__u32 devid;
	};
};

struct kvmx_irq_routing_entry {
	__u32 gsi;
	__u32 type;
	__u32 flags;
	__u32 pad;
	union {
		struct kvmx_irq_routing_irqchip irqchip;
		struct kvmx_irq_routing_msi msi;
		__u32 pad[8];
	} u;
};

struct kvmx_irq_routing {
	__u32 nr;
	__u32 flags;
	struct kvmx_irq_routing_entry entries[];
};

#define KVMX_MAX_IRQ_ROUTES	4096

/* KVM_GET_DIRTY_LOG: one bit per page of the slot, set where it was written */
struct kvmx_dirty_log {
	__u32 slot;
	__u32 padding1;
	union {
		void *dirty_bitmap;	/* a user pointer */
		__u64 padding2;
	};
};

/* KVM_GET/SET_CLOCK: the VM's kvmclock, in nanoseconds */
struct kvmx_clock_data {
	__u64 clock;
	__u32 flags;
	__u32 pad0;
	__u64 realtime;
	__u64 host_tsc;
	__u32 pad[4];
};

#define KVMX_CLOCK_TSC_STABLE	2
#define KVMX_CLOCK_REALTIME	(1 << 2)
#define KVMX_CLOCK_HOST_TSC	(1 << 3)

/* KVM_X86_SET_MCE: a machine check for the guest */
struct kvmx_x86_mce {
	__u64 status;
	__u64 addr;
	__u64 misc;
	__u64 mcg_status;
	__u8 bank;
	__u8 pad1[7];
	__u64 pad2[3];
};

#define KVMX_MAX_MCE_BANKS	32

/*
 * KVM_ENABLE_CAP(KVMX_CAP_X86_USER_SPACE_MSR): args[0] says which failed
 * RDMSR/WRMSR go to userspace as KVMX_EXIT_X86_RDMSR/WRMSR.
 */
#define KVMX_MSR_EXIT_REASON_INVAL	(1 << 0)	/* the MSR refused the value */
#define KVMX_MSR_EXIT_REASON_UNKNOWN	(1 << 1)	/* no such MSR here */
#define KVMX_MSR_EXIT_REASON_FILTER	(1 << 2)	/* the MSR filter denied it */

/* KVM_X86_SET_MSR_FILTER */
#define KVMX_MSR_FILTER_MAX_BITMAP_SIZE	0x600
#define KVMX_MSR_FILTER_READ		(1 << 0)
#define KVMX_MSR_FILTER_WRITE		(1 << 1)
struct kvmx_msr_filter_range {
	__u32 flags;	/* KVMX_MSR_FILTER_READ/WRITE */
	__u32 nmsrs;	/* bits in bitmap */
	__u32 base;	/* the first MSR */
	__u8 *bitmap;	/* 1 allows, 0 denies */
};

#define KVMX_MSR_FILTER_MAX_RANGES	16
#define KVMX_MSR_FILTER_DEFAULT_ALLOW	(0 << 0)
#define KVMX_MSR_FILTER_DEFAULT_DENY	(1 << 0)
struct kvmx_msr_filter {
	__u32 flags;
	struct kvmx_msr_filter_range ranges[KVMX_MSR_FILTER_MAX_RANGES];
};

/* ---- system fd ---- */
#define KVMX_GET_API_VERSION	_IO(KVMXIO, 0x00)
#define KVMX_CREATE_VM		_IO(KVMXIO, 0x01)
#define KVMX_GET_MSR_INDEX_LIST	_IOWR(KVMXIO, 0x02, struct kvmx_msr_list)
#define KVMX_CHECK_EXTENSION	_IO(KVMXIO, 0x03)
#define KVMX_GET_VCPU_MMAP_SIZE	_IO(KVMXIO, 0x04)
#define KVMX_GET_SUPPORTED_CPUID _IOWR(KVMXIO, 0x05, struct kvmx_cpuid2)
#define KVMX_X86_GET_MCE_CAP_SUPPORTED _IOR(KVMXIO, 0x9d, __u64)

/* ---- VM fd ---- */
#define KVMX_CREATE_VCPU		_IO(KVMXIO, 0x41)
#define KVMX_SET_USER_MEMORY_REGION	_IOW(KVMXIO, 0x46, struct kvmx_userspace_memory_region)
#define KVMX_SET_TSS_ADDR		_IO(KVMXIO, 0x47)
#define KVMX_SET_IDENTITY_MAP_ADDR	_IOW(KVMXIO, 0x48, __u64)
#define KVMX_SET_GSI_ROUTING		_IOW(KVMXIO, 0x6a, struct kvmx_irq_routing)
#define KVMX_CREATE_IRQCHIP		_IO(KVMXIO, 0x60)
#define KVMX_IRQ_LINE			_IOW(KVMXIO, 0x61, struct kvmx_irq_level)
#define KVMX_GET_IRQCHIP		_IOWR(KVMXIO, 0x62, struct kvmx_irqchip)
#define KVMX_SET_IRQCHIP		_IOR(KVMXIO, 0x63, struct kvmx_irqchip)
#define KVMX_IRQ_LINE_STATUS		_IOWR(KVMXIO, 0x67, struct kvmx_irq_level)
#define KVMX_SET_BOOT_CPU_ID		_IO(KVMXIO, 0x78)
#define KVMX_SIGNAL_MSI			_IOW(KVMXIO, 0xa5, struct kvmx_msi)
#define KVMX_IRQFD			_IOW(KVMXIO, 0x76, struct kvmx_irqfd)
#define KVMX_IOEVENTFD			_IOW(KVMXIO, 0x79, struct kvmx_ioeventfd)
#define KVMX_GET_DIRTY_LOG		_IOW(KVMXIO, 0x42, struct kvmx_dirty_log)
#define KVMX_SET_CLOCK			_IOW(KVMXIO, 0x7b, struct kvmx_clock_data)
#define KVMX_X86_SET_MSR_FILTER		_IOW(KVMXIO, 0xc6, struct kvmx_msr_filter)
#define KVMX_GET_CLOCK			_IOR(KVMXIO, 0x7c, struct kvmx_clock_data)

/*
 * KVM_TPR_ACCESS_REPORTING: with @enabled, each xAPIC TPR access through the
 * APIC page ends KVM_RUN with KVMX_EXIT_TPR_ACCESS once it is done (QEMU's
 * kvmvapic patches such instructions in 32-bit Windows).
 */
struct kvmx_tpr_access_ctl {
	__u32 enabled;
	__u32 flags;		/* none defined: must be 0 */
	__u32 reserved[8];
};

/*
 * KVM_SET_VAPIC_ADDR: a guest-physical u32 the in-kernel APIC keeps as
 * TPR | highest ISR class << 8 | highest IRR << 24 before each entry, and
 * whose low byte it takes as the TPR after each exit; 0 turns it off.
 */
struct kvmx_vapic_addr {
	__u64 vapic_addr;
};

/*
 * KVM_ENABLE_CAP on a VM fd.  KVMX_CAP_SPLIT_IRQCHIP: the local APICs in the
 * module, the PIC and IOAPIC in the VMM; args[0] is how many GSIs (from 0)
 * are the VMM's IOAPIC pins.  KVMX_CAP_MAX_VCPU_ID: args[0] lowers the limit.
 * KVMX_CAP_X86_USER_SPACE_MSR: args[0] is a mask of KVMX_MSR_EXIT_REASON_*.
 */
struct kvmx_enable_cap {
	__u32 cap;
	__u32 flags;		/* none defined: must be 0 */
	__u64 args[4];
	__u8 pad[64];
};
#define KVMX_ENABLE_CAP		_IOW(KVMXIO, 0xa3, struct kvmx_enable_cap)

/* ---- vCPU fd ---- */
#define KVMX_RUN		_IO(KVMXIO, 0x80)
#define KVMX_GET_REGS		_IOR(KVMXIO, 0x81, struct kvmx_regs)
#define KVMX_SET_REGS		_IOW(KVMXIO, 0x82, struct kvmx_regs)
#define KVMX_GET_SREGS		_IOR(KVMXIO, 0x83, struct kvmx_sregs)
#define KVMX_SET_SREGS		_IOW(KVMXIO, 0x84, struct kvmx_sregs)
#define KVMX_INTERRUPT		_IOW(KVMXIO, 0x86, struct kvmx_interrupt)
#define KVMX_GET_MSRS		_IOWR(KVMXIO, 0x88, struct kvmx_msrs)
#define KVMX_SET_MSRS		_IOW(KVMXIO, 0x89, struct kvmx_msrs)
#define KVMX_GET_FPU		_IOR(KVMXIO, 0x8c, struct kvmx_fpu)
#define KVMX_SET_FPU		_IOW(KVMXIO, 0x8d, struct kvmx_fpu)
#define KVMX_SET_CPUID2		_IOW(KVMXIO, 0x90, struct kvmx_cpuid2)
#define KVMX_GET_CPUID2		_IOWR(KVMXIO, 0x91, struct kvmx_cpuid2)
#define KVMX_SET_SIGNAL_MASK	_IOW(KVMXIO, 0x8b, struct kvmx_signal_mask)
#define KVMX_GET_LAPIC		_IOR(KVMXIO, 0x8e, struct kvmx_lapic_state)
#define KVMX_SET_LAPIC		_IOW(KVMXIO, 0x8f, struct kvmx_lapic_state)
#define KVMX_TPR_ACCESS_REPORTING _IOWR(KVMXIO, 0x92, struct kvmx_tpr_access_ctl)
#define KVMX_SET_VAPIC_ADDR	_IOW(KVMXIO, 0x93, struct kvmx_vapic_addr)
#define KVMX_GET_MP_STATE	_IOR(KVMXIO, 0x98, struct kvmx_mp_state)
#define KVMX_SET_MP_STATE	_IOW(KVMXIO, 0x99, struct kvmx_mp_state)
#define KVMX_NMI		_IO(KVMXIO, 0x9a)
#define KVMX_X86_SETUP_MCE	_IOW(KVMXIO, 0x9c, __u64)
#define KVMX_X86_SET_MCE	_IOW(KVMXIO, 0x9e, struct kvmx_x86_mce)
#define KVMX_GET_VCPU_EVENTS	_IOR(KVMXIO, 0x9f, struct kvmx_vcpu_events)
#define KVMX_SET_VCPU_EVENTS	_IOW(KVMXIO, 0xa0, struct kvmx_vcpu_events)
#define KVMX_GET_DEBUGREGS	_IOR(KVMXIO, 0xa1, struct kvmx_debugregs)
#define KVMX_SET_DEBUGREGS	_IOW(KVMXIO, 0xa2, struct kvmx_debugregs)
#define KVMX_SET_TSC_KHZ	_IO(KVMXIO, 0xa2)
#define KVMX_GET_TSC_KHZ	_IO(KVMXIO, 0xa3)
#define KVMX_GET_XSAVE		_IOR(KVMXIO, 0xa4, struct kvmx_xsave)
#define KVMX_SET_XSAVE		_IOW(KVMXIO, 0xa5, struct kvmx_xsave)
#define KVMX_GET_XCRS		_IOR(KVMXIO, 0xa6, struct kvmx_xcrs)
#define KVMX_SET_XCRS		_IOW(KVMXIO, 0xa7, struct kvmx_xcrs)

/*
 * kvmx only: the host's raw VMX capability MSRs as the module read them at
 * load time, and whether VMX is on right now.  `kvmx info` decodes them with
 * the same code the module uses (kmod/vmx_features.c).
 */
struct kvmx_vmx_info {
	__u32 module_version;	/* KVMX_MODULE_VERSION */
	__u32 flags;		/* KVMX_INFO_* */
	__u32 nr_vms;		/* VMs alive, all processes */
	__u32 nr_cpus_vmx_on;	/* CPUs in VMX root operation by kvmx */
	__u32 cpuid1_ecx;
	__u32 padding;
	__u64 feature_control;
	__u64 basic;
	__u64 pinbased;
	__u64 procbased;
	__u64 exit;
	__u64 entry;
	__u64 misc;
	__u64 cr0_fixed0;
	__u64 cr0_fixed1;
	__u64 cr4_fixed0;
	__u64 cr4_fixed1;
	__u64 vmcs_enum;
	__u64 procbased2;
	__u64 ept_vpid_cap;
	__u64 true_pinbased;
	__u64 true_procbased;
	__u64 true_exit;
	__u64 true_entry;
	__u64 vmfunc;
	__u64 mitigations;	/* KVMX_MITIGATION_*: what kvmx does around VM entry */
	__u64 reserved[7];
};

/* kvmx_vmx_info.mitigations: each one is on because the host kernel asks for it. */
#define KVMX_MITIGATION_L1D_FLUSH	(1ULL << 0)	/* L1TF: flush L1D before entry */
#define KVMX_MITIGATION_L1D_FLUSH_COND	(1ULL << 1)	/* ... only after host activity */
#define KVMX_MITIGATION_VERW		(1ULL << 2)	/* MDS/MMIO: clear CPU buffers */
#define KVMX_MITIGATION_RSB_FILL	(1ULL << 3)	/* Spectre v2: refill the RSB on exit */
#define KVMX_MITIGATION_IBPB_SWITCH	(1ULL << 4)	/* IBPB between vCPUs on a CPU */
#define KVMX_MITIGATION_SPEC_CTRL	(1ULL << 5)	/* host SPEC_CTRL back after exit */
#define KVMX_MITIGATION_BHI_CLEAR	(1ULL << 6)	/* branch history cleared on exit */
#define KVMX_MITIGATION_IBPB_EXIT_USER	(1ULL << 7)	/* VMSCAPE: IBPB before userspace */
#define KVMX_MITIGATION_KERNEL_IBRS	(1ULL << 8)	/* legacy IBRS rewritten after exit */

#define KVMX_MODULE_VERSION	1
#define KVMX_INFO_VMX_ON	(1u << 0)	/* kvmx holds VMX on some CPU */

#define KVMX_GET_VMX_INFO	_IOR(KVMXIO, 0xf0, struct kvmx_vmx_info)
/* kvmx only, on a VM fd: the VM's id in the "kvmx" netlink family. */
#define KVMX_GET_VM_ID		_IO(KVMXIO, 0xf1)

/* ---- the in-kernel 8254 PIT (KVM_CREATE_PIT2), x86 layouts of <asm/kvm.h> ---- */
#define KVMX_CAP_PIT			11
#define KVMX_CAP_REINJECT_CONTROL	24
#define KVMX_CAP_PIT2			33
#define KVMX_CAP_PIT_STATE2		35

/* KVM_CREATE_PIT2 */
struct kvmx_pit_config {
	__u32 flags;
	__u32 pad[15];
};
#define KVMX_PIT_SPEAKER_DUMMY		1	/* the PIT also serves port 0x61 */

/* One counter, as KVM_GET/SET_PIT(2) carry it. */
struct kvmx_pit_channel_state {
	__u32 count;		/* the initial count, 1-65536 */
	__u16 latched_count;
	__u8 count_latched;
	__u8 status_latched;
	__u8 status;
	__u8 read_state;
	__u8 write_state;
	__u8 write_latch;
	__u8 rw_mode;
	__u8 mode;		/* 0-5, 0xff: never programmed */
	__u8 bcd;
	__u8 gate;
	__s64 count_load_time;	/* CLOCK_MONOTONIC ns */
};

struct kvmx_pit_state {
	struct kvmx_pit_channel_state channels[3];
};

#define KVMX_PIT_FLAGS_HPET_LEGACY	0x00000001
#define KVMX_PIT_FLAGS_SPEAKER_DATA_ON	0x00000002

struct kvmx_pit_state2 {
	struct kvmx_pit_channel_state channels[3];
	__u32 flags;
	__u32 reserved[9];
};

struct kvmx_reinject_control {
	__u8 pit_reinject;
	__u8 reserved[31];
};

#define KVMX_CREATE_PIT			_IO(KVMXIO, 0x64)
#define KVMX_GET_PIT			_IOWR(KVMXIO, 0x65, struct kvmx_pit_state)
#define KVMX_SET_PIT			_IOR(KVMXIO, 0x66, struct kvmx_pit_state)
#define KVMX_REINJECT_CONTROL		_IO(KVMXIO, 0x71)
#define KVMX_CREATE_PIT2		_IOW(KVMXIO, 0x77, struct kvmx_pit_config)
#define KVMX_GET_PIT2			_IOR(KVMXIO, 0x9f, struct kvmx_pit_state2)
#define KVMX_SET_PIT2			_IOW(KVMXIO, 0xa0, struct kvmx_pit_state2)

/* ---- feature MSRs, the TSC's controls, PV-feature enforcement, quirks ---- */
#define KVMX_CAP_DISABLE_QUIRKS		116
#define KVMX_CAP_VCPU_ATTRIBUTES	127
#define KVMX_CAP_GET_MSR_FEATURES	153
#define KVMX_CAP_MSR_PLATFORM_INFO	159
#define KVMX_CAP_ENFORCE_PV_FEATURE_CPUID 190
#define KVMX_CAP_DISABLE_QUIRKS2	213

/* System fd: the MSRs KVM_GET_MSRS on the system fd answers (what a vCPU can get). */
#define KVMX_GET_MSR_FEATURE_INDEX_LIST	_IOWR(KVMXIO, 0x0a, struct kvmx_msr_list)

/*
 * KVM_ENABLE_CAP(KVMX_CAP_DISABLE_QUIRKS2) on the VM: args[0] is the set of
 * KVM's default behaviours to turn off (it replaces the previous set).  The
 * ones kvmx has and can turn off are what KVM_CHECK_EXTENSION returns.
 */
#define KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT	(1 << 4)	/* MISC_ENABLE.MWAIT leaves CPUID alone */
#define KVMX_X86_QUIRK_FIX_HYPERCALL_INSN	(1 << 5)	/* VMMCALL patched to VMCALL */
#define KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS	(1 << 6)	/* MONITOR/MWAIT are NOPs */

/* KVM_{HAS,GET,SET}_DEVICE_ATTR on a vCPU fd. */
struct kvmx_device_attr {
	__u32 flags;		/* none defined: must be 0 */
	__u32 group;
	__u64 attr;
	__u64 addr;		/* userspace address of the attribute's value */
};
#define KVMX_VCPU_TSC_CTRL	0	/* group: the vCPU's TSC */
#define KVMX_VCPU_TSC_OFFSET	0	/* attr: guest TSC - host TSC, a __u64 */

#define KVMX_SET_DEVICE_ATTR	_IOW(KVMXIO, 0xe1, struct kvmx_device_attr)
#define KVMX_GET_DEVICE_ATTR	_IOW(KVMXIO, 0xe2, struct kvmx_device_attr)
#define KVMX_HAS_DEVICE_ATTR	_IOW(KVMXIO, 0xe3, struct kvmx_device_attr)

/*
 * KVM_GET_STATS_FD on a VM or vCPU fd: a read-only fd holding KVM's binary
 * statistics format, header, id string, descriptors, then the u64 data
 * (read live at each read).  The vCPU's data is struct kvmx_vcpu_stats.
 */
#define KVMX_CAP_BINARY_STATS_FD	203
#define KVMX_STATS_NAME_SIZE		48

struct kvmx_stats_header {
	__u32 flags;		/* 0 */
	__u32 name_size;	/* KVMX_STATS_NAME_SIZE */
	__u32 num_desc;
	__u32 id_offset;
	__u32 desc_offset;
	__u32 data_offset;
};

struct kvmx_stats_desc {
	__u32 flags;		/* KVMX_STATS_TYPE_* | KVMX_STATS_UNIT_* | KVMX_STATS_BASE_* */
	__s16 exponent;
	__u16 size;		/* how many u64s */
	__u32 offset;		/* bytes into the data block */
	__u32 bucket_size;	/* histograms only */
	char name[];		/* name_size bytes */
};
#define KVMX_STATS_TYPE_CUMULATIVE	(0x0 << 0)
#define KVMX_STATS_TYPE_INSTANT		(0x1 << 0)
#define KVMX_STATS_UNIT_NONE		(0x0 << 4)
#define KVMX_STATS_UNIT_BYTES		(0x1 << 4)
#define KVMX_STATS_UNIT_CYCLES		(0x3 << 4)
#define KVMX_STATS_BASE_POW10		(0x0 << 8)

#define KVMX_GET_STATS_FD	_IO(KVMXIO, 0xce)

#endif /* _UAPI_KVMX_H */
