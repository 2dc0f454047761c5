/* SPDX-License-Identifier: GPL-2.0 */
/* kvmx internal interfaces between the module's files. */
#ifndef KVMX_H
#define KVMX_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/hrtimer.h>
#include <linux/kvm_para.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>

#include "../uapi/linux/kvmx.h"
#include "../uapi/linux/kvmx_netlink.h"
#include "vmx_arch.h"
#include "vmx_features.h"
#include "vmcs_fields.h"
#include "insn_decode.h"
#include "x86_rules.h"

#define KVMX_MAX_VCPUS		64
#define KVMX_MAX_MEMSLOTS	32
#define KVMX_MAX_CPUID_ENTRIES	80
/* DR6/DR7 bits that read as 1 (SDM 18.2.3, 18.2.4). */
#define KVMX_DR6_FIXED		0xffff0ff0ULL
#define KVMX_DR7_FIXED		0x400ULL
/* The run page plus one page for port-I/O data, like KVM. */
#define KVMX_PIO_PAGE_OFFSET	1
#define KVMX_RUN_PAGES		2

/* ---- vmx_cpu.c: the host side of VMX ---- */

/* Capability MSRs read at load time, and the controls derived from them. */
extern struct kvmx_vmx_info kvmx_host_caps;
extern struct vmx_controls kvmx_ctls;
extern bool kvmx_nmi_window_ok;

int kvmx_vmx_setup(void);		/* module load: check features */
void kvmx_vmx_teardown(void);		/* module unload */
int kvmx_vmx_get(void);			/* a VM is born: VMX on, everywhere */
void kvmx_vmx_put(void);		/* a VM died: VMX off with the last */
void kvmx_vmx_fill_info(struct kvmx_vmx_info *info);
/* Called by vmx_cpu.c before VMXOFF on @cpu: VMCLEAR what is loaded there. */
void kvmx_vmcs_clear_cpu(int cpu);

/* ---- memslot.c ---- */
struct kvmx_memslot {
	u64 base_gfn;
	u64 npages;
	unsigned long hva;
	u32 flags;		/* KVMX_MEM_* */
	/* used, base_gfn, npages, hva: changed under vm->lock and vm->mmu_lock */
	bool used;
	unsigned long *dirty_bitmap;	/* KVMX_MEM_LOG_DIRTY_PAGES: written pages */
};

/* What the EPT fault path needs of a slot, copied under vm->lock. */
struct kvmx_slot_view {
	u64 base_gfn, npages;
	unsigned long hva;
	u32 flags;
	u64 gen;		/* vm->slots_gen when copied */
};

/* The VMM's address of @gpa, which @view's slot holds. */
static inline unsigned long kvmx_view_hva(const struct kvmx_slot_view *view, u64 gpa)
{
	return view->hva + (gpa - (view->base_gfn << PAGE_SHIFT));
}

/* ---- io_bus.c: the ports and MMIO ranges devices in the module own ---- */
enum kvmx_bus_id { KVMX_PIO_BUS, KVMX_MMIO_BUS, KVMX_NR_BUSES };

struct kvmx_io_device;
struct kvmx_vcpu;
/* 0 if the device took the access; a read fills @val (@len bytes). */
struct kvmx_io_ops {
	int (*read)(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		    unsigned int len, void *val);
	int (*write)(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		     unsigned int len, const void *val);
};

/* A device's range: [base, base + len) on one bus.  Embed it in the device. */
struct kvmx_io_device {
	const struct kvmx_io_ops *ops;
	u64 base, len;
};

/* Devices per bus, as KVM's limit: ioeventfds (one per virtqueue) count. */
#define KVMX_IO_BUS_MAX_DEVS	1000
struct kvmx_io_bus {
	struct rcu_head rcu;
	unsigned int n;
	struct kvmx_io_device *devs[];
};

struct kvmx_vm;
/*
 * Under vm->lock.  Ranges may overlap: an access goes to the devices that
 * cover it in registration order until one takes it (ioeventfds with
 * different datamatch values share an address).
 */
int kvmx_io_bus_register(struct kvmx_vm *vm, enum kvmx_bus_id bus, struct kvmx_io_device *d);
void kvmx_io_bus_unregister(struct kvmx_vm *vm, enum kvmx_bus_id bus, struct kvmx_io_device *d);
void kvmx_io_bus_destroy(struct kvmx_vm *vm);

/* ---- the VM (vm.c) ---- */
struct kvmx_vm {
	struct kref ref;		/* the VM fd and each vCPU fd */
	struct mm_struct *mm;		/* the creator's address space */
	pid_t owner;
	kuid_t owner_uid;		/* who may read it over netlink */
	u32 id;				/* netlink's name for it */
	struct list_head list;		/* on kvmx_vms */
	struct mutex lock;		/* slots, vCPU creation */
	struct kvmx_memslot slots[KVMX_MAX_MEMSLOTS];
	u64 slots_gen;			/* bumped when a slot moves or goes */
	/* Readers of slot addresses that look no slot up: steal time's sched-out write */
	struct srcu_struct slots_srcu;
	/*
	 * EPT entries, and the invalidation state below; innermost (after
	 * vm->lock), never held while sleeping or allocating (mmu_notifier.c).
	 */
	spinlock_t mmu_lock;
	struct mmu_notifier mmu_notifier;
	unsigned long mmu_invalidate_seq;	/* bumped at each invalidation's end */
	long mmu_invalidate_in_progress;	/* invalidations started, not ended */
	unsigned long mmu_invalidate_range_start, mmu_invalidate_range_end;	/* their hvas */
	atomic_long_t mmu_invalidations;	/* that touched a slot, for netlink */
	u64 *ept_root;			/* EPT PML4, a kernel page */
	struct page *apic_access_page;	/* lapic.c: with APIC virtualization, set once */
	u64 eptp;
	struct kvmx_vcpu *vcpus[KVMX_MAX_VCPUS];
	unsigned int nr_vcpus;
	int last_boosted_vcpu;		/* spin.c: where the next directed yield looks first */
	bool vmcs_dumped;		/* a failed entry was logged */
	bool ept_used;			/* a VMCS holds the EPTP: flush it at the end */
	/* `kvmx vmcs` on a running vCPU (vmcs_snapshot.c); under lock. */
	struct mutex snap_lock;		/* one reader at a time */
	int snap_vcpu;			/* whose VMCS is wanted, -1: nobody's */
	struct kvmx_vmcs_request *snap_req;
	wait_queue_head_t snap_wq;
	u64 tss_addr, identity_map_addr;	/* accepted, unused: UG */
	/* kvmclock (kvmclock.c): the clock's offset from the host's boot time */
	s64 kvmclock_offset;
	u32 kvmclock_gen;		/* bumped by KVM_SET_CLOCK */
	u64 wall_clock_msr;
	bool platform_info_readable;	/* KVM_CAP_MSR_PLATFORM_INFO */
	u64 disabled_quirks;		/* KVM_CAP_DISABLE_QUIRKS(2): KVMX_X86_QUIRK_* */
	/* The guest TSC's last VMM write (tsc.c): its offset, value and time. */
	raw_spinlock_t tsc_lock;
	bool tsc_written;
	s64 tsc_offset;
	u64 tsc_write, tsc_write_ns;
	unsigned int logged_slots;	/* slots with dirty logging on; vm->lock */
	/* The in-kernel irqchip (irqchip.c), NULL until KVM_CREATE_IRQCHIP. */
	struct kvmx_vm_irqchip *irqchip;
	/* The in-kernel 8254 (i8254.c), NULL until KVM_CREATE_PIT2. */
	struct kvmx_pit *pit;
	u32 bsp_id;			/* KVM_SET_BOOT_CPU_ID */
	u32 max_vcpu_ids;		/* KVM_CAP_MAX_VCPU_ID; 0: not fixed yet; vm->lock */
	/* KVM_IRQFD and KVM_IOEVENTFD (eventfd.c) */
	struct mutex irqfd_assign_lock;	/* one KVM_IRQFD at a time */
	spinlock_t irqfds_lock;
	struct list_head irqfds;
	struct list_head resamplers;	/* RCU; changed under irqfds_lock */
	struct list_head ioeventfds;	/* under lock */
	/* Ports and MMIO ranges devices in the module own (io_bus.c). */
	struct kvmx_io_bus __rcu *buses[KVMX_NR_BUSES];
	atomic_long_t mapped_pages;	/* guest RAM in EPT leaves, 4 KiB pages */
	atomic_long_t ept_pages;
	/* KVM_CAP_X86_USER_SPACE_MSR: KVMX_MSR_EXIT_REASON_* that go to userspace */
	u32 user_space_msr_mask;
	/* KVM_X86_SET_MSR_FILTER (msr.c): replaced under lock, read under RCU */
	struct kvmx_msr_filter_set __rcu *msr_filter;
};

void kvmx_vm_put(struct kvmx_vm *vm);

/* The quirks kvmx has and a VMM may turn off (KVM_CAP_DISABLE_QUIRKS2). */
#define KVMX_QUIRKS	(KVMX_X86_QUIRK_MISC_ENABLE_NO_MWAIT | KVMX_X86_QUIRK_FIX_HYPERCALL_INSN | \
			 KVMX_X86_QUIRK_MWAIT_NEVER_UD_FAULTS)
/* KVM's default behaviour @quirk is on for @vm. */
static inline bool kvmx_quirk(struct kvmx_vm *vm, u64 quirk)
{
	return !(READ_ONCE(vm->disabled_quirks) & quirk);
}
/* Who asks about VMs over netlink, decided once per request (netlink.c). */
struct kvmx_caller {
	kuid_t uid;		/* INVALID_UID: nobody's VMs but as admin */
	bool admin;		/* CAP_SYS_ADMIN: every VM, host addresses */
};

bool kvmx_vm_visible(struct kvmx_vm *vm, const struct kvmx_caller *c);
/* The VM with @id if the caller may see it, with a reference; or ERR_PTR. */
struct kvmx_vm *kvmx_vm_get_by_id(u32 id, const struct kvmx_caller *c);
/* References to up to @max visible VMs with id >= @from, in id order. */
int kvmx_get_visible_vms(u32 from, const struct kvmx_caller *c, struct kvmx_vm **out, int max);
long kvmx_check_extension(unsigned long cap);
int kvmx_create_vm(unsigned long type);
extern atomic_t kvmx_nr_vms;

int kvmx_set_memory_region(struct kvmx_vm *vm,
			   const struct kvmx_userspace_memory_region *r);
void kvmx_free_memslots(struct kvmx_vm *vm);
struct kvmx_memslot *kvmx_find_slot(struct kvmx_vm *vm, u64 gfn);
/* The slot of @gfn copied into @view: false if no slot has it.  Takes vm->lock. */
bool kvmx_slot_view(struct kvmx_vm *vm, u64 gfn, struct kvmx_slot_view *view);
/* Under vm->lock: @gfn of @s was written (dirty logging). */
void kvmx_slot_mark_dirty(struct kvmx_memslot *s, u64 gfn);
/* The kernel wrote guest page @gfn for the guest (emulation): log it. */
void kvmx_mark_page_dirty(struct kvmx_vm *vm, u64 gfn);
int kvmx_get_dirty_log(struct kvmx_vm *vm, const struct kvmx_dirty_log *log);
/* The same for slot @s, under vm->lock. */
void kvmx_slot_view_of(struct kvmx_vm *vm, const struct kvmx_memslot *s,
		       struct kvmx_slot_view *view);

/* ---- ept.c ---- */
int kvmx_ept_init(struct kvmx_vm *vm);
void kvmx_ept_destroy(struct kvmx_vm *vm);
/*
 * Map @gpa's page (and its neighbours when it can) after an EPT violation:
 * 1 if it is mapped (or the guest should just retry), 0 if no RAM slot
 * backs it for this access (a device: MMIO), or -errno.  Looks the user
 * page up without any lock held.
 */
int kvmx_ept_fault(struct kvmx_vcpu *v, u64 gpa, bool write);
/* The vCPU's cache of EPT table pages goes back (vCPU teardown). */
void kvmx_ept_vcpu_free(struct kvmx_vcpu *v);
/* INVEPT of @vm's EPTP on this CPU. */
void kvmx_ept_flush_local(struct kvmx_vm *vm);
/* Under vm->mmu_lock: remove the mappings of [gfn, gfn+npages); true if the caller must flush. */
bool kvmx_ept_zap_locked(struct kvmx_vm *vm, u64 gfn, u64 npages, bool resched, bool test_only);
/* Under vm->mmu_lock, EPT A/D flags on: accessed leaves in the range (@clear: and clear the flags). */
bool kvmx_ept_age_locked(struct kvmx_vm *vm, u64 gfn, u64 npages, bool clear);
void kvmx_ept_write_protect(struct kvmx_vm *vm, u64 gfn);	/* under vm->mmu_lock */
void kvmx_ept_flush_all(struct kvmx_vm *vm);	/* before vm->mmu_lock is dropped */
/*
 * After an EPT violation at the default APIC base, outside every slot, of a
 * vCPU whose APIC accesses the CPU virtualizes: the VM's APIC-access page
 * goes there (@writable: writes are virtualized too).  1 (the guest
 * retries), 0 (a slot is there: MMIO) or -errno.
 */
int kvmx_ept_map_apic_access(struct kvmx_vcpu *v, u64 gpa, bool writable);
/* Under vm->lock: a slot now covers [gfn, gfn+npages): its memory replaces the APIC-access page. */
void kvmx_ept_slot_added(struct kvmx_vm *vm, u64 gfn, u64 npages);

/* ---- mmu_notifier.c: the VMM's address space changes under the guest ---- */
int kvmx_mmu_notifier_register(struct kvmx_vm *vm);
void kvmx_mmu_notifier_unregister(struct kvmx_vm *vm);

/* ---- the vCPU (vcpu.c, run.c) ---- */

/* x86 register numbers, as exit qualifications and ModRM encode them. */
enum kvmx_reg {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
	NR_GPRS
};

/* EPT table pages a fault may need: a 4 KiB leaf at most three (PDPT, PD, PT). */
#define KVMX_EPT_CACHE_PAGES	3
struct kvmx_ept_cache {
	u64 *page[KVMX_EPT_CACHE_PAGES];
	int n;
};

struct kvmx_vcpu {
	struct kvmx_vm *vm;
	int id;
	struct mutex mutex;		/* one ioctl at a time */
	struct kvmx_run *run;
	struct page *run_pages[KVMX_RUN_PAGES];

	/* VMCS */
	void *vmcs;
	u64 vmcs_pa;
	int cpu;			/* where the VMCS is active, -1: nowhere */
	bool launched;
	struct list_head loaded_link;	/* on the per-CPU loaded list */
	struct preempt_notifier pn;
	u16 vpid;
	unsigned long host_rsp;		/* cached VMCS HOST_RSP */
	unsigned long host_cr3, host_cr4;
	u32 entry_ctls, proc_ctls;	/* cached dynamic controls */
	u16 host_ds, host_es, host_fs, host_gs, host_ldt;
	u64 host_debugctl;		/* VM exit clears IA32_DEBUGCTL */
	u32 host_pkru, pkru;		/* PKRU is switched by hand, like KVM */
	int last_cpu;			/* where the last VM entry was made */
	u64 host_kernel_gs_base, host_star, host_lstar, host_cstar, host_fmask;
	bool host_state_dirty;		/* GDT/TSS limits need restoring */
	bool l1d_flush_pending;		/* host ran code that may fill L1D */
	struct kvmx_vcpu_stats stat;	/* written by this vCPU's thread only */

	/* Guest state kept outside the VMCS. */
	unsigned long regs[NR_GPRS];	/* regs[REG_RSP] unused: VMCS */
	unsigned long cr2;
	u64 cr0, cr4;			/* what the guest believes */
	u64 efer;
	u64 xcr0;
	u64 dr[4], dr6, dr7;
	u64 star, lstar, cstar, fmask, kernel_gs_base, tsc_aux;
	u64 misc_enable, apic_base, cr8;
	s64 tsc_offset, tsc_adjust;	/* tsc.c: the VMCS's offset; IA32_TSC_ADJUST */
	bool enforce_pv_cpuid;		/* KVM_CAP_ENFORCE_PV_FEATURE_CPUID */
	/* PV steal time (steal_time.c): the MSR, run_delay at the last update */
	u64 steal_time_msr, steal_time_last;
	/* KVM's PV EOI (lapic.c): the MSR, and "the guest's flag was set for this run". */
	u64 pv_eoi_msr;
	bool pv_eoi_pending;
	bool steal_time_update;		/* update the guest's area before entry */
	struct kvm_steal_time __user *steal_time_hva;	/* where the last update wrote */
	u64 steal_time_gen;		/* vm->slots_gen of that update */
	bool steal_time_preempted;	/* "preempted" set since that update */
	bool at_insn_boundary;		/* the last exit was a host interrupt: no emulation under way */
	u64 platform_info;		/* MSR_PLATFORM_INFO, as the VMM set it */
	u64 power_ctl;			/* MSR_IA32_POWER_CTL: kept, no effect */
	struct fpu_guest fpu;
	struct kvmx_cpuid_entry2 *cpuid;
	unsigned int cpuid_nent;
	int pending_irq;		/* KVM_INTERRUPT vector, -1: none */
	/* Split irqchip: the VMM's 8259 ExtINT (KVM_INTERRUPT), not yet taken; -1: none. */
	int pending_extint;
	/* Split irqchip: a level vector's EOI for the VMM's IOAPIC (KVMX_EXIT_IOAPIC_EOI); -1: none. */
	int user_ioapic_eoi;
	u8 nmi_pending;			/* KVM_NMIs not yet injected, at most 2 */
	u32 sipi_vector;		/* KVM_SET_VCPU_EVENTS keeps it for the VMM */
	bool sigset_active;		/* KVM_SET_SIGNAL_MASK: this mask in KVM_RUN */
	sigset_t sigset;
	/* kvmclock (kvmclock.c): MSR_KVM_SYSTEM_TIME, and when to rewrite it */
	u64 kvmclock_msr;
	u32 kvmclock_version, kvmclock_gen;
	bool kvmclock_stale;
	/* Machine-check MSRs (mce.c): capabilities, status, control, banks */
	u64 mcg_cap, mcg_status, mcg_ctl;
	u64 mce_banks[4 * KVMX_MAX_MCE_BANKS];
	u64 mce_ctl2[KVMX_MAX_MCE_BANKS];	/* IA32_MCi_CTL2, with MCG_CMCI_P */
	/* MTRRs: kept for the guest; EPT maps RAM write-back, as KVM without DMA */
	struct {
		u64 def_type;
		u64 fixed[X86_NR_FIXED_MTRR];
		u64 var[2 * X86_NR_VAR_MTRR];	/* base, mask pairs */
	} mtrr;
	bool flush_guest_tlb;		/* an emulated CR write asks for it */
	bool triple_fault;		/* an exception on #DF: shut down */

	/* The in-kernel irqchip's part (lapic.c); apic is NULL without one. */
	struct kvmx_lapic *apic;
	/* Virtual-interrupt delivery is on; the event and RVI/SVI of the last entry. */
	bool vid;
	u32 entry_intr_info;
	u16 entry_intr_status;		/* RVI and SVI at entry */
	/* KVM_TPR_ACCESS_REPORTING on, and a TPR access to report (its RIP, direction). */
	bool tpr_access_reporting;
	struct {
		bool pending, write;
		u64 rip;
	} tpr_access;
	u32 mp_state;			/* KVMX_MP_STATE_*: halted, waiting for SIPI */
	bool halt_if;			/* EFLAGS.IF when the guest halted */
	/* KVM_HC_KICK_CPU came (spin.c): the next halt, or this one, ends at once. */
	bool pv_unhalted;
	struct kvmx_ept_cache ept_cache;	/* ept.c, under v->mutex */
	unsigned int halt_poll_ns;	/* this vCPU's halt-polling window (run.c) */
	wait_queue_head_t wq;		/* where a halted vCPU sleeps */
	/* Directed yield (spin.c): whom another vCPU spinning may hand its CPU to. */
	struct pid __rcu *pid;		/* the thread of the last KVM_RUN */
	bool preempted;			/* scheduled out while runnable */
	bool preempted_in_kernel;	/* ... with the guest at CPL 0 */
	bool ready;			/* preempted or woken, not yet back on a CPU */
	unsigned int ple_window;	/* PAUSE-loop exiting's window, TSC ticks */
	bool ple_window_dirty;		/* not yet in the VMCS */
	int guest_cpu;			/* the CPU running this guest now, -1: none */
	atomic_t nmi_queued;		/* NMIs other vCPUs' APICs sent */

	/* An exception a handler raised, delivered at the next entry. */
	struct {
		bool pending;
		u8 vector;
		bool has_error;
		u32 error;
	} exc;

	/* An interrupt or NMI an exception pre-empted, injected when it can be. */
	u32 kept_info;
	/* An event whose delivery an exit interrupted, to re-inject. */
	u32 reinject_info;
	u32 reinject_error;
	u32 reinject_len;

	/* The exit being handled. */
	u32 exit_reason;
	u32 exit_intr_info;		/* exception/NMI exits only */
	unsigned long exit_qual;	/* of the last exit; set by kvmx_handle_exit() */

	/*
	 * An exit to userspace whose instruction the next KVM_RUN finishes
	 * (pio.c, mmio.c), if RIP is still at it.
	 */
	int (*complete_userspace)(struct kvmx_vcpu *v);
	/*
	 * That exit as the kernel prepared it: devices in the module serve it
	 * from here (io_bus.c), never from the run page userspace can rewrite.
	 */
	struct {
		u32 kind;		/* KVMX_EXIT_IO or KVMX_EXIT_MMIO; 0: none */
		bool write;
		u8 size;		/* bytes per element, at most 8 */
		u32 count;		/* elements (string I/O) */
		u64 addr;		/* port or GPA */
		u64 data;		/* an MMIO write's value */
	} uexit;
	u64 complete_rip;		/* linear RIP of that instruction */
	struct mmio_insn mmio;
	/* A read-modify-write on MMIO between its read and its write exit. */
	u64 mmio_gpa, mmio_read, mmio_rflags;
	struct {
		bool in;
		bool rep;
		bool down;		/* EFLAGS.DF */
		u8 size;
		u8 seg;			/* segment number, ES = 0 */
		u8 addr_size;		/* as INSN_INFO_ADDR_SIZE() */
		u8 mode;		/* the code's mode at the exit: 16, 32, 64 */
		u32 count;		/* elements in this batch */
		u64 reg_start;		/* RSI or RDI at the exit */
		struct x86_seg segment;
	} pio;
};

/* The port-I/O data page: the second page of the run mapping. */
static inline u8 *kvmx_pio_data(struct kvmx_vcpu *v)
{
	return page_address(v->run_pages[KVMX_PIO_PAGE_OFFSET]);
}

long kvmx_create_vcpu(struct kvmx_vm *vm, unsigned long id);
int kvmx_vcpu_run(struct kvmx_vcpu *v);
int kvmx_vcpu_reset(struct kvmx_vcpu *v);
unsigned long kvmx_reg_read(struct kvmx_vcpu *v, unsigned int reg);
void kvmx_reg_write(struct kvmx_vcpu *v, unsigned int reg, unsigned long val);
void kvmx_skip_instruction(struct kvmx_vcpu *v);
/* ICEBP's skip: its own #DB comes instead of a single-step one. */
void kvmx_skip_instruction_notrap(struct kvmx_vcpu *v);
void kvmx_skip_bytes(struct kvmx_vcpu *v, unsigned int len);
void kvmx_sync_crs(struct kvmx_vcpu *v);
u64 kvmx_cr4_allowed(void);
void kvmx_inject_exception(struct kvmx_vcpu *v, unsigned int vector,
			   bool has_error, u32 error);
/* A #DB with @payload as DR6 would report it (exit-qualification format). */
void kvmx_inject_debug(struct kvmx_vcpu *v, u64 payload);
u64 kvmx_linear_rip(struct kvmx_vcpu *v);
#define kvmx_inject_gp(v)	kvmx_inject_exception(v, 13, true, 0)
#define kvmx_inject_ud(v)	kvmx_inject_exception(v, 6, false, 0)
void kvmx_set_cr0_hw(struct kvmx_vcpu *v, u64 cr0);
void kvmx_set_cr4_hw(struct kvmx_vcpu *v, u64 cr4);
int kvmx_load_pdptrs(struct kvmx_vcpu *v);
void kvmx_update_entry_ctls(struct kvmx_vcpu *v);

/* KVM_GET/SET_REGS, KVM_GET/SET_SREGS on kernel copies (vcpu.c) */
void kvmx_get_regs(struct kvmx_vcpu *v, struct kvmx_regs *r);
void kvmx_set_regs(struct kvmx_vcpu *v, const struct kvmx_regs *r);
void kvmx_get_sregs(struct kvmx_vcpu *v, struct kvmx_sregs *s);
int kvmx_set_sregs(struct kvmx_vcpu *v, const struct kvmx_sregs *s);

/* ---- vcpu_state.c: MP state, events, debug registers, XSAVE, signal mask ---- */
long kvmx_vcpu_state_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp);
/* KVM_GET/SET_VCPU_EVENTS on kernel copies */
void kvmx_get_vcpu_events(struct kvmx_vcpu *v, struct kvmx_vcpu_events *e);
int kvmx_set_vcpu_events(struct kvmx_vcpu *v, const struct kvmx_vcpu_events *e);
void kvmx_sigset_activate(struct kvmx_vcpu *v);
void kvmx_sigset_deactivate(struct kvmx_vcpu *v);

/* ---- kvmclock.c: the paravirtual clock, KVM_GET/SET_CLOCK ---- */
void kvmx_kvmclock_init(struct kvmx_vm *vm);
bool kvmx_kvmclock_stale(struct kvmx_vcpu *v);
void kvmx_kvmclock_update(struct kvmx_vcpu *v);
int kvmx_kvmclock_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data);
int kvmx_kvmclock_set_msr(struct kvmx_vcpu *v, u32 index, u64 data);
int kvmx_get_clock(struct kvmx_vm *vm, struct kvmx_clock_data __user *u);
int kvmx_set_clock(struct kvmx_vm *vm, struct kvmx_clock_data __user *u);

/* ---- mce.c: the guest's machine-check MSRs, KVM_X86_SETUP_MCE/SET_MCE ---- */
void kvmx_mce_init(struct kvmx_vcpu *v);
long kvmx_mce_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp);
long kvmx_mce_cap_supported(void __user *argp);
int kvmx_mce_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data, bool host);
int kvmx_mce_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host);

/* ---- host_state.c: what VM exit doesn't restore ---- */
void kvmx_vcpu_prepare_host(struct kvmx_vcpu *v);
void kvmx_vcpu_restore_host(struct kvmx_vcpu *v);
void kvmx_vmcs_refresh_host_crs(struct kvmx_vcpu *v);
/* Called by vmx_entry.S right before entry, with the stack VM exit will use. */
void kvmx_update_host_rsp(struct kvmx_vcpu *v, unsigned long host_rsp);

/* ---- vmcs.c ---- */
int kvmx_vmcs_alloc(struct kvmx_vcpu *v);
void kvmx_vmcs_free(struct kvmx_vcpu *v);
void kvmx_vmcs_setup(struct kvmx_vcpu *v);
/* With APIC virtualization: x2APIC MSRs or the xAPIC page virtualized (never both). */
void kvmx_vmcs_apic_virt_mode(struct kvmx_vcpu *v, bool x2apic, bool apic_access);
void kvmx_vcpu_load(struct kvmx_vcpu *v);
void kvmx_vcpu_put(struct kvmx_vcpu *v);
void kvmx_dump_vmcs(struct kvmx_vcpu *v);
int kvmx_vpid_alloc(void);
void kvmx_vpid_free(int vpid);
int kvmx_vmcs_global_init(void);
void kvmx_vmcs_global_exit(void);

/* ---- accounting.c: what the module holds (sysfs accounting/) ---- */
struct kvmx_accounting {
	atomic_long_t vms, vcpus;
	atomic_long_t vmcs_pages, run_pages, ept_pages;	/* allocated */
	atomic_long_t mapped_pages;			/* guest RAM in EPT leaves */
	atomic_long_t kmalloc_bytes;			/* VM, vCPU, slot arrays */
};
extern struct kvmx_accounting kvmx_acct;
extern const struct attribute_group *kvmx_dev_groups[];
#define kvmx_acct_add(field, n)	atomic_long_add((n), &kvmx_acct.field)

/* ---- netlink.c: the "kvmx" generic-netlink family ---- */
int kvmx_genl_init(void);
void kvmx_genl_exit(void);
void kvmx_genl_event(struct kvmx_vm *vm, enum kvmx_event event, u32 exit_reason, u32 vmcs_error);

/* ---- vmcs_snapshot.c: a VMCS, field by field, for `kvmx vmcs` ---- */
/* A reader waiting for a vCPU in KVM_RUN to copy its VMCS (vm->snap_req). */
struct kvmx_vmcs_request {
	struct kvmx_vmcs_field *out;
	int max, n;
	bool show_host;		/* host-state fields and HPAs, or zeros */
	bool done;
};

/*
 * Fills @out from vCPU @id's VMCS: the number of fields or -errno (-EBUSY:
 * it stayed in the guest).  The caller holds a VM reference, no locks.
 */
int kvmx_vm_vmcs_snapshot(struct kvmx_vm *vm, u32 id, struct kvmx_vmcs_field *out, int max,
			  bool show_host);
void kvmx_vcpu_serve_snapshot(struct kvmx_vcpu *v);
int kvmx_vmcs_snapshot_max(void);
/* A failed VM entry: dmesg (once per VM) and the netlink event. */
void kvmx_entry_failed(struct kvmx_vcpu *v, u32 vm_instruction_error);

/* ---- ept_walk.c: reading the EPT back, for `kvmx ept` ---- */
/* Merged ranges from *@gpa on; *@gpa is where to go on, ~0 at the end.  Under vm->mmu_lock. */
int kvmx_ept_ranges(struct kvmx_vm *vm, u64 *gpa, struct kvmx_ept_range *out, int max,
		    bool show_hpa);
/* The walk of one GPA, level by level; returns the number of levels.  Under vm->mmu_lock. */
int kvmx_ept_walk_gpa(struct kvmx_vm *vm, u64 gpa, struct kvmx_ept_level *out, bool show_hpa);

/* ---- mitigations.c ---- */
enum kvmx_l1d_flush { KVMX_L1D_FLUSH_NEVER, KVMX_L1D_FLUSH_COND, KVMX_L1D_FLUSH_ALWAYS };
extern enum kvmx_l1d_flush kvmx_l1d_flush_mode;
int kvmx_mitigations_init(void);
void kvmx_mitigations_exit(void);
void kvmx_l1d_flush(struct kvmx_vcpu *v);

/* What the host's speculation mitigations ask of kvmx, for `kvmx info`. */
u64 kvmx_mitigations_active(void);
/* Called from vmx_entry.S after every VM exit, before any RET. */
void kvmx_spec_ctrl_restore_host(void);

/* ---- vmx_entry.S ---- */
int __kvmx_vcpu_run(struct kvmx_vcpu *v, unsigned long *regs, bool launched);
/* Where VM exits land (HOST_RIP), inside __kvmx_vcpu_run. */
extern const char kvmx_vmexit[];

/* ---- exit_handlers.c: 1 = back to the guest, 0 = to userspace, <0 error ---- */
unsigned int kvmx_emulate_vmcall(struct kvmx_vcpu *v);
/* Hypercalls handle_vmcall() acts on, with interrupts on (the others: kvmx_emulate_vmcall()). */
static inline bool kvmx_hypercall_acts(unsigned long nr)
{
	return nr == KVM_HC_SCHED_YIELD || nr == KVM_HC_KICK_CPU || nr == KVM_HC_SEND_IPI;
}

/* spin.c: PAUSE-loop exiting and directed yield */
void kvmx_spin_vcpu_init(struct kvmx_vcpu *v);
void kvmx_spin_set_pid(struct kvmx_vcpu *v);
void kvmx_spin_vcpu_free(struct kvmx_vcpu *v);
void kvmx_spin_sched_in(struct kvmx_vcpu *v);
void kvmx_spin_sched_out(struct kvmx_vcpu *v);
void kvmx_spin_load_window(struct kvmx_vcpu *v);
int kvmx_handle_pause(struct kvmx_vcpu *v);
void kvmx_sched_yield(struct kvmx_vcpu *v, unsigned long dest_apic_id);
void kvmx_pv_kick(struct kvmx_vcpu *v, u32 dest_apic_id);
int kvmx_handle_exit(struct kvmx_vcpu *v);
int kvmx_complete_userspace(struct kvmx_vcpu *v);
/* KVM_EXIT_INTERNAL_ERROR for an exit kvmx does not expect. */
void kvmx_unexpected_exit(struct kvmx_vcpu *v);
/* KVM_EXIT_INTERNAL_ERROR for an instruction kvmx could not emulate. */
void kvmx_emulation_failed(struct kvmx_vcpu *v, const u8 *insn, unsigned int len);

/* ---- emulate.c: guest memory as exit handlers see it ---- */
int kvmx_read_gpa(struct kvmx_vcpu *v, u64 gpa, void *buf, unsigned int len);
int kvmx_write_gpa(struct kvmx_vcpu *v, u64 gpa, const void *buf, unsigned int len);
/* Guest-linear memory through the guest's page tables; @access: WALK_*. */
int kvmx_access_gla(struct kvmx_vcpu *v, u64 gla, void *buf, unsigned int len,
		    unsigned int access);
/* The mode of the code the guest runs: 16, 32 or 64. */
unsigned int kvmx_code_mode(struct kvmx_vcpu *v);

/* ---- eventfd.c: KVM_IRQFD, KVM_IOEVENTFD ---- */
int kvmx_eventfd_init(void);
void kvmx_eventfd_exit(void);
void kvmx_eventfd_init_vm(struct kvmx_vm *vm);
void kvmx_eventfd_destroy_vm(struct kvmx_vm *vm);
long kvmx_eventfd_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp);
/* The guest acknowledged pin @pin of @chip (KVMX_IRQCHIP_*) while a resampler held it up. */
void kvmx_irqfd_resample_ack(struct kvmx_vm *vm, u32 chip, u32 pin);

/* ---- io_bus.c: the exit userspace would finish, served by a device here ---- */
int kvmx_io_bus_serve(struct kvmx_vcpu *v);

/* ---- pio.c, mmio.c: exits that userspace finishes ---- */
int kvmx_handle_io(struct kvmx_vcpu *v);
/* @dev_write: the device's side is written (a MOVS's direction). */
int kvmx_handle_mmio(struct kvmx_vcpu *v, u64 gpa, bool dev_write);
/* Segment fields in the VMCS, by the number instructions encode (ES = 0). */
void kvmx_read_seg(unsigned int seg, struct x86_seg *out);
#define SEG_ES	0
#define SEG_SS	2
#define SEG_FS	4
#define SEG_GS	5
/* The next KVM_RUN calls @complete, unless userspace moved RIP meanwhile. */
void kvmx_complete_after_userspace(struct kvmx_vcpu *v, int (*complete)(struct kvmx_vcpu *v));

/* ---- cpuid.c ---- */
int kvmx_cpuid_init(void);
int kvmx_get_supported_cpuid(struct kvmx_cpuid2 __user *u);
int kvmx_vcpu_set_cpuid(struct kvmx_vcpu *v, struct kvmx_cpuid2 __user *u);
int kvmx_vcpu_get_cpuid(struct kvmx_vcpu *v, struct kvmx_cpuid2 __user *u);
void kvmx_emulate_cpuid(struct kvmx_vcpu *v);
/* The vCPU's CPUID entry for @function/@index (KVM_SET_CPUID2), or NULL. */
const struct kvmx_cpuid_entry2 *kvmx_cpuid_entry(struct kvmx_vcpu *v, u32 function, u32 index);
void kvmx_cpuid_update_mwait(struct kvmx_vcpu *v);
bool kvmx_guest_has_mwait(struct kvmx_vcpu *v);
#define CPUID7_EBX_TSC_ADJUST	BIT(1)	/* tsc.c emulates IA32_TSC_ADJUST */
/* KVM's PV feature @feature (KVM_FEATURE_*) is the guest's to use. */
bool kvmx_guest_pv_has(struct kvmx_vcpu *v, unsigned int feature);

/* ---- msr.c ---- */
/* kvmx_get/set_msr() results besides 0 (done) and 1 (refused: #GP). */
#define KVMX_MSR_UNKNOWN	2	/* no such MSR here */
#define KVMX_MSR_FILTERED	3	/* the VM's MSR filter denies it (kvmx_msr_allowed) */

/*
 * A VM's MSR filter (KVM_X86_SET_MSR_FILTER), one allocation with its
 * bitmaps behind it; never changed once published, freed after a grace
 * period.
 */
struct kvmx_msr_filter_set {
	struct rcu_head rcu;
	size_t bytes;			/* the allocation, accounted */
	bool default_allow;
	u32 count;
	struct {
		u32 flags;		/* KVMX_MSR_FILTER_READ/WRITE */
		u32 base, nmsrs;
		unsigned long *bitmap;
	} ranges[KVMX_MSR_FILTER_MAX_RANGES];
};

/* May the guest access MSR @index (@type: KVMX_MSR_FILTER_READ or _WRITE)? */
bool kvmx_msr_allowed(struct kvmx_vm *vm, u32 index, u32 type);
int kvmx_set_msr_filter(struct kvmx_vm *vm, struct kvmx_msr_filter __user *u);
void kvmx_msr_filter_destroy(struct kvmx_vm *vm);
int kvmx_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data, bool host);
int kvmx_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host);
int kvmx_get_msr_index_list(struct kvmx_msr_list __user *u);
int kvmx_get_msr_feature_index_list(struct kvmx_msr_list __user *u);
int kvmx_get_feature_msrs(struct kvmx_msrs __user *u);
int kvmx_vcpu_msrs_ioctl(struct kvmx_vcpu *v, struct kvmx_msrs __user *u, bool set);
int kvmx_set_efer(struct kvmx_vcpu *v, u64 efer, bool host);

/* ---- stats_fd.c: KVM_GET_STATS_FD ---- */
int kvmx_vm_stats_fd(struct kvmx_vm *vm);
int kvmx_vcpu_stats_fd(struct file *vcpu_file);

/* ---- steal_time.c ---- */
int kvmx_steal_time_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data);
int kvmx_steal_time_set_msr(struct kvmx_vcpu *v, u32 index, u64 data);
void kvmx_steal_time_record(struct kvmx_vcpu *v);
void kvmx_steal_time_set_preempted(struct kvmx_vcpu *v);

/* ---- tsc.c ---- */
u64 kvmx_guest_tsc(struct kvmx_vcpu *v);
void kvmx_tsc_vcpu_init(struct kvmx_vcpu *v);
int kvmx_tsc_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data);
int kvmx_tsc_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host);
int kvmx_tsc_attr_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, struct kvmx_device_attr __user *u);
extern u64 kvmx_host_xcr0;
u64 kvmx_supported_xcr0(void);

/* ---- the in-kernel irqchip: irqchip.c, lapic.c, ioapic.c, i8259.c ---- */

/*
 * Who drives an irqchip input line.  A line's level is the OR of its
 * sources', as on a board where several devices share a wire.
 */
enum kvmx_irq_source {
	KVMX_IRQ_SOURCE_USER,
	KVMX_IRQ_SOURCE_PIT,
	/* Level irqfds (KVM_IRQFD_FLAG_RESAMPLE): high from the trigger to the EOI. */
	KVMX_IRQ_SOURCE_RESAMPLE,
	KVMX_NR_IRQ_SOURCES
};

/* APIC delivery modes (SDM Vol. 3A 10.6.1, ICR bits 10:8). */
enum kvmx_apic_dm {
	KVMX_DM_FIXED = 0, KVMX_DM_LOWEST = 1, KVMX_DM_SMI = 2, KVMX_DM_NMI = 4,
	KVMX_DM_INIT = 5, KVMX_DM_SIPI = 6, KVMX_DM_EXTINT = 7,
};

/* Destination shorthands (ICR bits 19:18). */
enum kvmx_apic_shorthand { APIC_SH_NONE, APIC_SH_SELF, APIC_SH_ALL, APIC_SH_OTHERS };

/*
 * An interrupt message to local APICs: an IPI, an IOAPIC redirection
 * entry or an MSI, decoded into one form.
 */
struct kvmx_irq_msg {
	u32 dest_id;		/* 8 bits in xAPIC mode, 32 in x2APIC */
	u8 vector;
	u8 delivery_mode;	/* enum kvmx_apic_dm */
	u8 shorthand;		/* enum kvmx_apic_shorthand */
	bool logical;		/* destination mode */
	bool level_trig;	/* trigger mode: level (TMR set on acceptance) */
	bool assert;		/* level: assert (INIT level de-assert is ignored) */
};

struct kvmx_pic;
struct kvmx_ioapic;
struct kvmx_irq_routes;

struct kvmx_vm_irqchip {
	struct kvmx_vm *vm;
	/*
	 * Split irqchip (KVM_CAP_SPLIT_IRQCHIP): only the local APICs are
	 * here, pic and ioapic are NULL; the VMM's IOAPIC pins are GSIs below
	 * nr_user_ioapic_pins, routed as MSIs.
	 */
	bool split;
	u32 nr_user_ioapic_pins;
	struct kvmx_pic *pic;
	struct kvmx_ioapic *ioapic;
	struct kvmx_irq_routes __rcu *routes;	/* KVM_SET_GSI_ROUTING, vm->lock */
};

/* irqchip.c: the VM's irqchip ioctls and the GSI routing table. */
long kvmx_irqchip_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp);
/* KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): APICs here, PIC and IOAPIC in the VMM. */
int kvmx_irqchip_enable_split(struct kvmx_vm *vm, u64 nr_user_ioapic_pins);
/* Split irqchip: does @v's EOI of @vector concern the VMM's IOAPIC? */
bool kvmx_irqchip_user_ioapic_eoi(struct kvmx_vcpu *v, u8 vector);
void kvmx_irqchip_destroy(struct kvmx_vm *vm);
/* Raise or lower @gsi as its routes say: >0 delivered, 0 coalesced/masked, <0 errno. */
int kvmx_set_gsi(struct kvmx_vm *vm, enum kvmx_irq_source src, u32 gsi, bool level);
/* The GSI routed to pin @pin of @chip (KVMX_IRQCHIP_*), the last if several (KVM's map); -1 if none. */
s64 kvmx_irqchip_pin_gsi(struct kvmx_vm *vm, u32 chip, u32 pin);
/* The 8259 pair's INT output went high: wake the vCPUs that take ExtINT. */
void kvmx_irqchip_kick_extint(struct kvmx_vm *vm);

/* lapic.c: the local APIC of each vCPU. */
int kvmx_lapic_create(struct kvmx_vcpu *v);
void kvmx_lapic_free(struct kvmx_vcpu *v);
/* Power-on (or INIT, @init) state of the APIC; the vCPU's thread. */
void kvmx_lapic_reset(struct kvmx_vcpu *v, bool init);
/* Make the vCPU look at its APIC: wake it if it sleeps, IPI its CPU if it runs the guest. */
void kvmx_vcpu_kick(struct kvmx_vcpu *v);
void kvmx_lapic_deliver_cmci(struct kvmx_vcpu *v);
void kvmx_lapic_mcg_cap_changed(struct kvmx_vcpu *v);
/* INIT/SIPI, timer expirations and NMIs other threads sent: take them in.  Before entry. */
void kvmx_lapic_accept_events(struct kvmx_vcpu *v);
/* An interrupt (PIC or APIC) is waiting that the guest could take with IF=1. */
bool kvmx_cpu_has_interrupt(struct kvmx_vcpu *v);
/* Acknowledge it: the vector to inject, -1 if none after all.  Interrupts off. */
int kvmx_cpu_get_interrupt(struct kvmx_vcpu *v);
/* Other threads left INIT/SIPI, a timer expiration or an NMI for the vCPU. */
bool kvmx_lapic_events_pending(struct kvmx_vcpu *v);
struct kvmx_vcpu *kvmx_apic_find_id(struct kvmx_vm *vm, u32 id);
/* A halted or waiting vCPU has something to wake up for. */
bool kvmx_vcpu_has_wake_event(struct kvmx_vcpu *v);
/* The xAPIC page at @gpa (true if it is this vCPU's and the access was done). */
bool kvmx_lapic_mmio(struct kvmx_vcpu *v, u64 gpa, unsigned int len, bool write, void *data);
/* x2APIC MSRs, IA32_TSC_DEADLINE, IA32_APIC_BASE: 0, 1 (#GP) or -ENOENT (not ours). */
int kvmx_lapic_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data);
int kvmx_lapic_set_msr(struct kvmx_vcpu *v, u32 index, u64 data, bool host);
void kvmx_lapic_set_cr8(struct kvmx_vcpu *v, u64 cr8);
/* PV EOI around an entry: a stale flag retries it; the flag back after every return. */
bool kvmx_lapic_pv_eoi_stale(struct kvmx_vcpu *v);
void kvmx_lapic_pv_eoi_sync(struct kvmx_vcpu *v);
/* MSR_KVM_PV_EOI_EN: 0, 1 (#GP) or -ENOENT (not this MSR). */
int kvmx_pv_eoi_get_msr(struct kvmx_vcpu *v, u32 index, u64 *data);
int kvmx_pv_eoi_set_msr(struct kvmx_vcpu *v, u32 index, u64 data);
/* KVM_SET_VAPIC_ADDR's TPR mirror: written before an entry, read back after an exit. */
void kvmx_lapic_sync_to_vapic(struct kvmx_vcpu *v);
void kvmx_lapic_sync_from_vapic(struct kvmx_vcpu *v);
/* The CPU's APIC virtualization is on for this vCPU (the module parameter apicv). */
bool kvmx_lapic_apicv(struct kvmx_vcpu *v);
/* Before entry with it (interrupts off): RVI, SVI and the EOI-exit bitmap from the page. */
bool kvmx_lapic_vid_sync(struct kvmx_vcpu *v, bool blocked);
void kvmx_lapic_eoi_induced(struct kvmx_vcpu *v, u8 vec);
/* An APIC-write exit: the CPU wrote register @off of the page; its effect is ours. */
void kvmx_lapic_apic_write(struct kvmx_vcpu *v, unsigned int off);
/* Does the CPU virtualize this vCPU's accesses to @gpa (the APIC-access page goes there)? */
bool kvmx_lapic_virtualizes_access(struct kvmx_vcpu *v, u64 gpa);
/* ... writes too (the module parameter apicv_xapic_writes), not only reads. */
bool kvmx_lapic_xapic_writes(void);
void kvmx_lapic_vm_free(struct kvmx_vm *vm);	/* the VM's APIC-access page */
/* After an exit: CR8 the guest changed without one, the vapic TPR. */
void kvmx_lapic_after_exit(struct kvmx_vcpu *v);
/* The 8259's ExtINT waits for this vCPU (LINT0). */
bool kvmx_lapic_extint_pending(struct kvmx_vcpu *v);
bool kvmx_apic_base_valid(struct kvmx_vcpu *v, u64 data);
long kvmx_lapic_ioctl(struct kvmx_vcpu *v, unsigned int ioctl, void __user *argp);
/* Does @m from a device name @v's APIC? */
bool kvmx_apic_match_dest(struct kvmx_vcpu *v, const struct kvmx_irq_msg *m);
/* KVM_INTERRUPT may hand @v an interrupt now: no irqchip, or a split one whose LINT0 takes ExtINT. */
bool kvmx_vcpu_takes_user_irq(struct kvmx_vcpu *v);
/* ... and the guest can take it now (run.c): KVM's ready_for_interrupt_injection. */
bool kvmx_user_irq_ready(struct kvmx_vcpu *v);
/* Deliver @m from @src (NULL: a device): APICs that took it, or -1 if none matched. */
int kvmx_apic_deliver(struct kvmx_vm *vm, struct kvmx_vcpu *src, const struct kvmx_irq_msg *m);
/* KVM_HC_SEND_IPI: to the APIC IDs of two bitmaps from @min; how many took it, or -KVM_E*. */
long kvmx_pv_send_ipi(struct kvmx_vcpu *v, const unsigned long bitmap[2], u32 min,
		      unsigned long icr, unsigned int bits);
/* An MSI's address and data as an interrupt message (SDM Vol. 3A 10.11). */
void kvmx_msi_to_msg(u64 address, u32 data, struct kvmx_irq_msg *m);

/* i8259.c: the master and slave 8259A PICs, ports 0x20/0x21, 0xa0/0xa1, ELCR 0x4d0/0x4d1. */
struct kvmx_pic *kvmx_pic_create(struct kvmx_vm *vm);	/* registers its ports; vm->lock */
void kvmx_pic_destroy(struct kvmx_vm *vm, struct kvmx_pic *pic);
/* Drive IRQ @irq (0-15) from @src: 1 if it became pending, 0 if masked or coalesced. */
int kvmx_pic_set_irq(struct kvmx_pic *pic, enum kvmx_irq_source src, unsigned int irq,
		     bool level);
bool kvmx_pic_output(struct kvmx_pic *pic);	/* the INT line to LINT0 */
int kvmx_pic_ack(struct kvmx_pic *pic);		/* INTA: the vector to deliver */
/* After the entry that kvmx_pic_ack() was for, interrupts on: its automatic EOIs' resamplers. */
void kvmx_pic_aeoi_resample(struct kvmx_pic *pic);
int kvmx_pic_get_state(struct kvmx_pic *pic, unsigned int chip, struct kvmx_pic_state *s);
int kvmx_pic_set_state(struct kvmx_pic *pic, unsigned int chip, const struct kvmx_pic_state *s);

/* ioapic.c: the 24-pin IOAPIC at 0xfec00000. */
#define KVMX_IOAPIC_BASE	0xfec00000ULL
struct kvmx_ioapic *kvmx_ioapic_create(struct kvmx_vm *vm);	/* registers its MMIO; vm->lock */
void kvmx_ioapic_destroy(struct kvmx_vm *vm, struct kvmx_ioapic *ioapic);
/* Drive pin @pin from @src: >0 delivered, 0 coalesced (remote IRR / still pending), -1 masked. */
int kvmx_ioapic_set_irq(struct kvmx_ioapic *ioapic, enum kvmx_irq_source src, unsigned int pin,
			bool level);
/* A local APIC's EOI of @vector; if @level (TMR set): clear remote IRR, redeliver if still high. */
void kvmx_ioapic_eoi(struct kvmx_ioapic *ioapic, u8 vector, bool level);
/* Bits @word*64.. of the edge-triggered vectors whose EOIs the IOAPIC wants too. */
u64 kvmx_ioapic_edge_eoi_wanted(struct kvmx_ioapic *ioapic, unsigned int word);
int kvmx_ioapic_get_state(struct kvmx_ioapic *ioapic, struct kvmx_ioapic_state *s);
int kvmx_ioapic_set_state(struct kvmx_ioapic *ioapic, const struct kvmx_ioapic_state *s);

/* ---- i8254.c: the 8254 PIT, ports 0x40-0x43 and (KVMX_PIT_SPEAKER_DUMMY) 0x61 ---- */
struct kvmx_pit;
/* KVM_CREATE_PIT(2), KVM_GET/SET_PIT(2), KVM_REINJECT_CONTROL */
long kvmx_pit_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp);
/* The VM is going: before kvmx_irqchip_destroy(), as the PIT drives GSI 0. */
void kvmx_pit_destroy(struct kvmx_vm *vm);

#endif /* KVMX_H */
