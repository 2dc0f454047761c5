// SPDX-License-Identifier: GPL-2.0
/*
 * A VM and its fd (KVM_CREATE_VM).  VMs keep VMX on: the first one switches
 * every CPU into VMX operation, the last one to go switches them all back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "kvmx.h"

struct kvmx_vm {
	struct mm_struct *mm;	/* the creator's address space */
	pid_t owner;
};

atomic_t kvmx_nr_vms = ATOMIC_INIT(0);

static void kvmx_vm_destroy(struct kvmx_vm *vm)
{
	mmdrop(vm->mm);
	kfree(vm);
	atomic_dec(&kvmx_nr_vms);
	kvmx_vmx_put();
}

static int kvmx_vm_release(struct inode *inode, struct file *file)
{
	kvmx_vm_destroy(file->private_data);
	return 0;
}

static long kvmx_vm_ioctl(struct file *file, unsigned int ioctl, unsigned long arg)
{
	struct kvmx_vm *vm = file->private_data;

	/* Like KVM: a VM fd is only usable from the process that created it. */
	if (vm->mm != current->mm)
		return -EIO;
	switch (ioctl) {
	case KVMX_CHECK_EXTENSION:
		return 0;
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
	vm->mm = current->mm;
	mmgrab(vm->mm);
	vm->owner = task_tgid_nr(current);

	err = kvmx_vmx_get();
	if (err) {
		mmdrop(vm->mm);
		kfree(vm);
		return err;
	}
	atomic_inc(&kvmx_nr_vms);

	fd = anon_inode_getfd("kvmx-vm", &kvmx_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		kvmx_vm_destroy(vm);
	return fd;
}
