/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvmx's generic-netlink family "kvmx": what `kvmx stat`, `top`, `events`,
 * `vmcs` and `ept` read.  kvmx only; KVM has no equivalent.
 *
 * A VM is named by its id (KVMX_A_VM_ID, from KVMX_CMD_LIST_VMS).  Every
 * command answers only about VMs the caller owns (same effective uid as the
 * creator) unless the caller has CAP_SYS_ADMIN; others get -EPERM, and the
 * list leaves them out.  Host-physical addresses are shown to CAP_SYS_ADMIN
 * only (0 otherwise), as /proc/pid/pagemap does.
 */
#ifndef _UAPI_KVMX_NETLINK_H
#define _UAPI_KVMX_NETLINK_H

#include <linux/types.h>

#define KVMX_GENL_NAME		"kvmx"
#define KVMX_GENL_VERSION	1
#define KVMX_GENL_MCGRP_EVENTS	"events"	/* CAP_SYS_ADMIN to join */

enum kvmx_genl_cmd {
	KVMX_CMD_UNSPEC,
	KVMX_CMD_LIST_VMS,	/* dump: one message per visible VM */
	KVMX_CMD_GET_STATS,	/* VM_ID -> VM info + one VCPU_STATS per vCPU */
	KVMX_CMD_GET_VMCS,	/* VM_ID, VCPU_ID -> VMCS_FIELDS */
	KVMX_CMD_GET_EPT,	/* dump: VM_ID -> EPT_RANGES messages */
	KVMX_CMD_WALK_EPT,	/* VM_ID, GPA -> EPT_WALK */
	KVMX_CMD_EVENT,		/* multicast: EVENT, VM_ID, OWNER_PID, ... */
	__KVMX_CMD_MAX,
};

enum kvmx_genl_attr {
	KVMX_A_UNSPEC,
	KVMX_A_VM_ID,		/* u32 */
	KVMX_A_VCPU_ID,		/* u32 */
	KVMX_A_OWNER_PID,	/* u32: the creating process (tgid) */
	KVMX_A_OWNER_UID,	/* u32: its effective uid */
	KVMX_A_NR_VCPUS,	/* u32 */
	KVMX_A_MEM_BYTES,	/* u64: guest memory in slots */
	KVMX_A_MAPPED_PAGES,	/* u64: guest RAM the EPT maps, in 4 KiB pages */
	KVMX_A_EPT_PAGES,	/* u64: EPT tables */
	KVMX_A_TSC_KHZ,		/* u32: to turn TSC ticks into time */
	KVMX_A_VCPU_STATS,	/* binary struct kvmx_vcpu_stats */
	KVMX_A_VMCS_FIELDS,	/* binary array of struct kvmx_vmcs_field */
	KVMX_A_GPA,		/* u64 */
	KVMX_A_EPT_RANGES,	/* binary array of struct kvmx_ept_range */
	KVMX_A_EPT_WALK,	/* binary array of struct kvmx_ept_level */
	KVMX_A_EVENT,		/* u32: enum kvmx_event */
	KVMX_A_EXIT_REASON,	/* u32: hardware exit reason of the event */
	KVMX_A_VMCS_ERROR,	/* u32: VM-instruction error of the event */
	KVMX_A_PAD,
	KVMX_A_MMU_INVALIDATIONS,	/* u64: MMU-notifier invalidations that hit a slot */
	__KVMX_A_MAX,
};
#define KVMX_A_MAX (__KVMX_A_MAX - 1)

enum kvmx_event {
	KVMX_EVENT_VM_CREATED = 1,
	KVMX_EVENT_VM_DESTROYED,
	KVMX_EVENT_ENTRY_FAILED,	/* VMLAUNCH/VMRESUME or entry checks */
	KVMX_EVENT_SHUTDOWN,		/* triple fault */
};

/* Sized for every basic exit reason (SDM Vol. 3D, Appendix C). */
#define KVMX_STAT_EXIT_REASONS	80
/* kvm_run exit_reason values (KVM_EXIT_*). */
#define KVMX_STAT_USER_EXITS	40

/* One vCPU's counters; each written only by the vCPU's own thread. */
struct kvmx_vcpu_stats {
	__u64 exits[KVMX_STAT_EXIT_REASONS];	/* by basic exit reason */
	__u64 user_exits[KVMX_STAT_USER_EXITS];	/* returns to userspace by KVM_EXIT_* */
	__u64 runs;		/* KVM_RUN calls */
	__u64 entries;		/* VM entries (VMLAUNCH/VMRESUME) */
	__u64 fast_reentries;	/* exits handled with interrupts still off */
	__u64 ept_faults;	/* EPT violations that mapped guest RAM */
	__u64 mmio_exits;	/* EPT violations outside RAM (MMIO) */
	__u64 irq_injections;	/* KVM_INTERRUPT vectors delivered */
	__u64 exc_injections;	/* exceptions kvmx raised in the guest */
	__u64 l1d_flushes;	/* L1TF mitigation before entry */
	__u64 guest_tsc;	/* TSC ticks spent in VMX non-root */
	__u64 run_tsc;		/* TSC ticks spent inside KVM_RUN */
	__u64 ept_flushes;	/* INVEPTs of the VM's EPTP on a CPU new to the vCPU */
	__u64 guest_tlb_flushes; /* INVVPIDs for emulated CR0/CR4 writes, SET_SREGS */
	__u64 kernel_io;	/* port and MMIO accesses devices in the module served */
	__u64 halts;		/* HLTs the vCPU slept through in the kernel */
	__u64 ipis;		/* IPIs this vCPU's local APIC sent */
	__u64 apic_timer_irqs;	/* local APIC timer expirations */
	__u64 directed_yields;	/* PAUSE-loop exits and KVM_HC_SCHED_YIELDs that gave the CPU away */
	__u64 pv_tlb_flushes;	/* guest TLB flushes other vCPUs asked for while this one was preempted */
};

struct kvmx_vmcs_field {
	__u32 encoding;		/* SDM Vol. 3D, Appendix B */
	__u32 pad;
	__u64 value;
};

/* GPA range mapped contiguously to host memory with the same attributes. */
struct kvmx_ept_range {
	__u64 gpa;
	__u64 hpa;		/* 0 unless CAP_SYS_ADMIN */
	__u64 size;
	__u32 page_size;	/* 4096 or 2097152 */
	__u32 flags;		/* KVMX_EPT_R/W/X, memory type in bits 3-5 */
};
#define KVMX_EPT_R		(1u << 0)
#define KVMX_EPT_W		(1u << 1)
#define KVMX_EPT_X		(1u << 2)
#define KVMX_EPT_MT_SHIFT	3
#define KVMX_EPT_IGNORE_PAT	(1u << 6)

/* One step of a walk: the entry read at @level (4 = PML4 ... 1 = PT). */
struct kvmx_ept_level {
	__u32 level;
	__u32 index;		/* which of the 512 entries */
	__u64 table_hpa;	/* 0 unless CAP_SYS_ADMIN */
	__u64 entry;		/* raw; address bits masked unless CAP_SYS_ADMIN */
};

#endif /* _UAPI_KVMX_NETLINK_H */
