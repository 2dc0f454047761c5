// SPDX-License-Identifier: GPL-2.0
/*
 * A VM and its fd (KVM_CREATE_VM): memory slots, vCPU creation and the
 * capabilities it reports.  VMs keep VMX on: the first one switches every
 * CPU into VMX operation, the last one to go switches them all back.
 *
 * The VM lives as long as its fd or any of its vCPU fds (vm->ref).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvmx.h"

atomic_t kvmx_nr_vms = ATOMIC_INIT(0);

/* Every VM, in id order, for netlink (netlink.c) to find. */
static LIST_HEAD(kvmx_vms);
static DEFINE_MUTEX(kvmx_vms_lock);
static u32 kvmx_next_vm_id = 1;

/* Root, or the user who created it (netlink.c decides who is asking). */
bool kvmx_vm_visible(struct kvmx_vm *vm, const struct kvmx_caller *c)
{
	return c->admin || uid_eq(c->uid, vm->owner_uid);
}

struct kvmx_vm *kvmx_vm_get_by_id(u32 id, const struct kvmx_caller *c)
{
	struct kvmx_vm *vm, *found = ERR_PTR(-ENOENT);

	mutex_lock(&kvmx_vms_lock);
	list_for_each_entry(vm, &kvmx_vms, list) {
		if (vm->id != id)
			continue;
		if (!kvmx_vm_visible(vm, c))
			found = ERR_PTR(-EPERM);
		else if (kref_get_unless_zero(&vm->ref))
			found = vm;
		break;
	}
	mutex_unlock(&kvmx_vms_lock);
	return found;
}

int kvmx_get_visible_vms(u32 from, const struct kvmx_caller *c, struct kvmx_vm **out, int max)
{
	struct kvmx_vm *vm;
	int n = 0;

	/* Only references here: VM locks are taken after kvmx_vms_lock is dropped. */
	mutex_lock(&kvmx_vms_lock);
	list_for_each_entry(vm, &kvmx_vms, list) {
		if (n == max)
			break;
		if (vm->id >= from && kvmx_vm_visible(vm, c) && kref_get_unless_zero(&vm->ref))
			out[n++] = vm;
	}
	mutex_unlock(&kvmx_vms_lock);
	return n;
}

/* KVM_CHECK_EXTENSION: exactly what works. */
long kvmx_check_extension(unsigned long cap)
{
	switch (cap) {
	case KVMX_CAP_HLT:
	case KVMX_CAP_USER_MEMORY:
	case KVMX_CAP_SET_TSS_ADDR:
	case KVMX_CAP_EXT_CPUID:
	case KVMX_CAP_DESTROY_MEMORY_REGION_WORKS:
	case KVMX_CAP_JOIN_MEMORY_REGIONS_WORKS:
	case KVMX_CAP_SET_IDENTITY_MAP_ADDR:
	case KVMX_CAP_READONLY_MEM:
	case KVMX_CAP_IMMEDIATE_EXIT:
	case KVMX_CAP_INTERNAL_ERROR_DATA:
	case KVMX_CAP_MP_STATE:
	case KVMX_CAP_VCPU_EVENTS:
	case KVMX_CAP_DEBUGREGS:
	case KVMX_CAP_GET_TSC_KHZ:
	case KVMX_CAP_IRQCHIP:
	case KVMX_CAP_IRQ_INJECT_STATUS:
	case KVMX_CAP_SET_BOOT_CPU_ID:
	case KVMX_CAP_TSC_DEADLINE_TIMER:
	case KVMX_CAP_SIGNAL_MSI:
	case KVMX_CAP_PIT:
	case KVMX_CAP_PIT2:
	case KVMX_CAP_PIT_STATE2:
	case KVMX_CAP_REINJECT_CONTROL:
	case KVMX_CAP_IRQFD:
	case KVMX_CAP_IRQFD_RESAMPLE:
	case KVMX_CAP_IOEVENTFD:
	case KVMX_CAP_IOEVENTFD_NO_LENGTH:
	case KVMX_CAP_IOEVENTFD_ANY_LENGTH:
	case KVMX_CAP_VAPIC:
	case KVMX_CAP_ENABLE_CAP_VM:
	case KVMX_CAP_SPLIT_IRQCHIP:
	case KVMX_CAP_NOP_IO_DELAY:
	case KVMX_CAP_VCPU_ATTRIBUTES:
	case KVMX_CAP_GET_MSR_FEATURES:
	case KVMX_CAP_MSR_PLATFORM_INFO:
	case KVMX_CAP_ENFORCE_PV_FEATURE_CPUID:
	case KVMX_CAP_DISABLE_QUIRKS:
	case KVMX_CAP_BINARY_STATS_FD:
	case KVMX_CAP_X86_USER_SPACE_MSR:
	case KVMX_CAP_X86_MSR_FILTER:
		return 1;
	case KVMX_CAP_DISABLE_QUIRKS2:
		return KVMX_QUIRKS;
	case KVMX_CAP_SYNC_REGS:
		return KVMX_SYNC_X86_VALID_FIELDS;
	case KVMX_CAP_ADJUST_CLOCK:
		/* the flags KVM_GET_CLOCK sets and KVM_SET_CLOCK honours */
		return KVMX_CLOCK_REALTIME | KVMX_CLOCK_HOST_TSC;
	case KVMX_CAP_MCE:
		return KVMX_MAX_MCE_BANKS;	/* QEMU reads the bank limit here */
	case KVMX_CAP_XSAVE:
	case KVMX_CAP_XCRS:
		return boot_cpu_has(X86_FEATURE_XSAVE);
	case KVMX_CAP_USER_NMI:
		return kvmx_nmi_window_ok;
	case KVMX_CAP_NR_VCPUS:
	case KVMX_CAP_MAX_VCPUS:
	case KVMX_CAP_MAX_VCPU_ID:
		return KVMX_MAX_VCPUS;
	case KVMX_CAP_NR_MEMSLOTS:
		return KVMX_MAX_MEMSLOTS;
	case KVMX_CAP_IRQ_ROUTING:
		/*
		 * As KVM: the size of a routing table, offered whether or not
		 * the VM has an irqchip to route to (QEMU requires it).
		 */
		return KVMX_MAX_IRQ_ROUTES;
	default:
		return 0;
	}
}

static void vm_free(struct kvmx_vm *vm)
{
	cleanup_srcu_struct(&vm->slots_srcu);
	kfree(vm);
	kvmx_acct_add(vms, -1);
	kvmx_acct_add(kmalloc_bytes, -(long)sizeof(*vm));
}

static void kvmx_vm_free(struct kref *ref)
{
	struct kvmx_vm *vm = container_of(ref, struct kvmx_vm, ref);

	mutex_lock(&kvmx_vms_lock);
	list_del(&vm->list);
	mutex_unlock(&kvmx_vms_lock);
	kvmx_genl_event(vm, KVMX_EVENT_VM_DESTROYED, 0, 0);
	kvmx_eventfd_destroy_vm(vm);
	kvmx_pit_destroy(vm);
	kvmx_irqchip_destroy(vm);
	kvmx_io_bus_destroy(vm);
	kvmx_msr_filter_destroy(vm);
	/*
	 * First of the memory: no hook may run on the slots or the EPT past
	 * this (it waits for those running, and zaps everything if the mm has
	 * not exited yet).  vm->mm is still held (mmgrab) for it.
	 */
	kvmx_mmu_notifier_unregister(vm);
	kvmx_free_memslots(vm);
	kvmx_ept_destroy(vm);
	kvmx_lapic_vm_free(vm);
	mmdrop(vm->mm);
	preempt_notifier_dec();
	vm_free(vm);
	atomic_dec(&kvmx_nr_vms);
	kvmx_vmx_put();
	module_put(THIS_MODULE);
}

void kvmx_vm_put(struct kvmx_vm *vm)
{
	kref_put(&vm->ref, kvmx_vm_free);
}

static int kvmx_vm_release(struct inode *inode, struct file *file)
{
	kvmx_vm_put(file->private_data);
	return 0;
}

/* KVM_ENABLE_CAP on the VM: the capabilities KVM_CHECK_EXTENSION offers for it. */
static int vm_enable_cap(struct kvmx_vm *vm, struct kvmx_enable_cap __user *u)
{
	struct kvmx_enable_cap cap;

	if (copy_from_user(&cap, u, sizeof(cap)))
		return -EFAULT;
	if (cap.flags)
		return -EINVAL;
	switch (cap.cap) {
	case KVMX_CAP_SPLIT_IRQCHIP:
		return kvmx_irqchip_enable_split(vm, cap.args[0]);
	case KVMX_CAP_MSR_PLATFORM_INFO:
		WRITE_ONCE(vm->platform_info_readable, !!cap.args[0]);
		return 0;
	case KVMX_CAP_DISABLE_QUIRKS2:
		if (cap.args[0] & ~KVMX_QUIRKS)
			return -EINVAL;
		fallthrough;
	case KVMX_CAP_DISABLE_QUIRKS:
		/* As KVM: the version-1 cap takes any bits, those kvmx lacks do nothing. */
		WRITE_ONCE(vm->disabled_quirks, cap.args[0]);
		return 0;
	case KVMX_CAP_MAX_VCPU_ID: {
		int r = -EINVAL;

		/* Lower only, and once: the first vCPU fixes it too. */
		if (cap.args[0] > KVMX_MAX_VCPUS)
			return -EINVAL;
		mutex_lock(&vm->lock);
		if (vm->max_vcpu_ids == cap.args[0] || !vm->max_vcpu_ids) {
			vm->max_vcpu_ids = cap.args[0];
			r = 0;
		}
		mutex_unlock(&vm->lock);
		return r;
	}
	case KVMX_CAP_X86_USER_SPACE_MSR:
		/* Which failed RDMSR/WRMSR go to userspace; any time, as KVM. */
		if (cap.args[0] & ~(u64)(KVMX_MSR_EXIT_REASON_INVAL | KVMX_MSR_EXIT_REASON_UNKNOWN |
					 KVMX_MSR_EXIT_REASON_FILTER))
			return -EINVAL;
		WRITE_ONCE(vm->user_space_msr_mask, cap.args[0]);
		return 0;
	default:
		return -EINVAL;	/* as KVM, for a capability it can't enable */
	}
}

static long kvmx_vm_ioctl(struct file *file, unsigned int ioctl, unsigned long arg)
{
	struct kvmx_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;

	/* Like KVM: a VM fd is only usable from the process that created it. */
	if (vm->mm != current->mm)
		return -EIO;
	switch (ioctl) {
	case KVMX_CHECK_EXTENSION:
		return kvmx_check_extension(arg);
	case KVMX_SET_USER_MEMORY_REGION: {
		struct kvmx_userspace_memory_region r;

		if (copy_from_user(&r, argp, sizeof(r)))
			return -EFAULT;
		return kvmx_set_memory_region(vm, &r);
	}
	case KVMX_CREATE_VCPU:
		return kvmx_create_vcpu(vm, arg);
	case KVMX_GET_VM_ID:
		return vm->id;
	case KVMX_GET_STATS_FD:
		return kvmx_vm_stats_fd(vm);
	case KVMX_GET_CLOCK:
		return kvmx_get_clock(vm, argp);
	case KVMX_SET_CLOCK:
		return kvmx_set_clock(vm, argp);
	case KVMX_GET_DIRTY_LOG: {
		struct kvmx_dirty_log log;

		if (copy_from_user(&log, argp, sizeof(log)))
			return -EFAULT;
		return kvmx_get_dirty_log(vm, &log);
	}
	case KVMX_ENABLE_CAP:
		return vm_enable_cap(vm, argp);
	case KVMX_X86_SET_MSR_FILTER:
		return kvmx_set_msr_filter(vm, argp);
	case KVMX_CREATE_IRQCHIP:
	case KVMX_SET_GSI_ROUTING:
	case KVMX_SET_BOOT_CPU_ID:
	case KVMX_IRQ_LINE:
	case KVMX_IRQ_LINE_STATUS:
	case KVMX_GET_IRQCHIP:
	case KVMX_SET_IRQCHIP:
	case KVMX_SIGNAL_MSI:
		return kvmx_irqchip_vm_ioctl(vm, ioctl, argp);
	case KVMX_IRQFD:
	case KVMX_IOEVENTFD:
		return kvmx_eventfd_vm_ioctl(vm, ioctl, argp);
	case KVMX_CREATE_PIT:
	case KVMX_CREATE_PIT2:
	case KVMX_GET_PIT:
	case KVMX_SET_PIT:
	case KVMX_GET_PIT2:
	case KVMX_SET_PIT2:
	case KVMX_REINJECT_CONTROL:
		return kvmx_pit_vm_ioctl(vm, ioctl, argp);
	case KVMX_SET_TSS_ADDR:
		/* Only needed without unrestricted guest; accepted like KVM. */
		if (arg > 0xffffffffUL - 3 * PAGE_SIZE)
			return -EINVAL;
		vm->tss_addr = arg;
		return 0;
	case KVMX_SET_IDENTITY_MAP_ADDR: {
		u64 addr;

		if (copy_from_user(&addr, argp, sizeof(addr)))
			return -EFAULT;
		vm->identity_map_addr = addr;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kvmx_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= kvmx_vm_release,
	.unlocked_ioctl	= kvmx_vm_ioctl,
	.compat_ioctl	= kvmx_vm_ioctl,
	.llseek		= noop_llseek,
};

int kvmx_create_vm(unsigned long type)
{
	struct kvmx_vm *vm;
	int fd, err;

	if (type != 0)
		return -EINVAL;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	if (init_srcu_struct(&vm->slots_srcu)) {
		kfree(vm);
		return -ENOMEM;
	}
	kvmx_acct_add(vms, 1);
	kvmx_acct_add(kmalloc_bytes, sizeof(*vm));
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	spin_lock_init(&vm->mmu_lock);
	raw_spin_lock_init(&vm->tsc_lock);
	vm->platform_info_readable = true;
	vm->mm = current->mm;
	vm->owner = task_tgid_nr(current);
	vm->owner_uid = current_euid();
	INIT_LIST_HEAD(&vm->list);
	mutex_init(&vm->snap_lock);
	init_waitqueue_head(&vm->snap_wq);
	vm->snap_vcpu = -1;
	kvmx_kvmclock_init(vm);
	kvmx_eventfd_init_vm(vm);
	err = kvmx_ept_init(vm);
	if (err) {
		vm_free(vm);
		return err;
	}
	err = kvmx_vmx_get();
	if (err) {
		kvmx_ept_destroy(vm);
		vm_free(vm);
		return err;
	}
	/* Before anyone can see the VM or fault on it; the VM is complete enough. */
	err = kvmx_mmu_notifier_register(vm);
	if (err) {
		kvmx_ept_destroy(vm);
		kvmx_vmx_put();
		vm_free(vm);
		return err;
	}
	mmgrab(vm->mm);
	preempt_notifier_inc();
	/* vCPU fds outlive the VM fd: the module must stay until the last. */
	__module_get(THIS_MODULE);
	atomic_inc(&kvmx_nr_vms);
	mutex_lock(&kvmx_vms_lock);
	vm->id = kvmx_next_vm_id++;
	list_add_tail(&vm->list, &kvmx_vms);
	mutex_unlock(&kvmx_vms_lock);
	kvmx_genl_event(vm, KVMX_EVENT_VM_CREATED, 0, 0);

	fd = anon_inode_getfd("kvmx-vm", &kvmx_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		kvmx_vm_put(vm);
	return fd;
}
