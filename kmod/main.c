// SPDX-License-Identifier: GPL-2.0
/*
 * kvmx: a VT-x hypervisor with KVM's userspace API.
 *
 * This file is the Linux glue: module load/unload and the system fd
 * (/dev/kvmx, the counterpart of /dev/kvm).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "kvmx.h"

static long kvmx_dev_ioctl(struct file *file, unsigned int ioctl, unsigned long arg)
{
	switch (ioctl) {
	case KVMX_GET_API_VERSION:
		return arg ? -EINVAL : KVMX_API_VERSION;
	case KVMX_CREATE_VM:
		return kvmx_create_vm(arg);
	case KVMX_CHECK_EXTENSION:
		return kvmx_check_extension(arg);
	case KVMX_GET_VCPU_MMAP_SIZE:
		return arg ? -EINVAL : KVMX_RUN_PAGES * PAGE_SIZE;
	case KVMX_GET_SUPPORTED_CPUID:
		return kvmx_get_supported_cpuid((void __user *)arg);
	case KVMX_GET_MSR_INDEX_LIST:
		return kvmx_get_msr_index_list((void __user *)arg);
	case KVMX_GET_MSR_FEATURE_INDEX_LIST:
		return kvmx_get_msr_feature_index_list((void __user *)arg);
	case KVMX_GET_MSRS:
		return kvmx_get_feature_msrs((void __user *)arg);
	case KVMX_X86_GET_MCE_CAP_SUPPORTED:
		return kvmx_mce_cap_supported((void __user *)arg);
	case KVMX_GET_VMX_INFO: {
		struct kvmx_vmx_info info;

		kvmx_vmx_fill_info(&info);
		if (copy_to_user((void __user *)arg, &info, sizeof(info)))
			return -EFAULT;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kvmx_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= kvmx_dev_ioctl,
	.compat_ioctl	= kvmx_dev_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice kvmx_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kvmx",
	.fops	= &kvmx_dev_fops,
	.mode	= 0660,
	.groups	= kvmx_dev_groups,
};

/*
 * kvm_node=1: also answer on KVM's own node (misc minor 232, /dev/kvm), so
 * an unchanged KVM client runs on kvmx.  Only while kvm.ko does not hold
 * it; loading kvm.ko afterwards fails until kvmx is unloaded.
 */
static bool kvm_node;
module_param(kvm_node, bool, 0444);
MODULE_PARM_DESC(kvm_node, "also register /dev/kvm (misc minor 232) when kvm.ko does not");

static struct miscdevice kvmx_kvm_node = {
	.minor	= KVM_MINOR,
	.name	= "kvm",
	.fops	= &kvmx_dev_fops,
	.mode	= 0660,
};

static bool kvm_node_registered;

static int __init kvmx_init(void)
{
	int err;

	err = kvmx_vmx_setup();
	if (err)
		return err;
	err = kvmx_vmcs_global_init();
	if (err)
		goto fail_vmcs;
	kvmx_cpuid_init();
	err = kvmx_mitigations_init();
	if (err)
		goto fail_mitigations;
	err = kvmx_eventfd_init();
	if (err)
		goto fail_eventfd;
	err = kvmx_genl_init();
	if (err)
		goto fail_genl;
	err = misc_register(&kvmx_dev);
	if (err)
		goto fail_misc;
	if (kvm_node) {
		/* Not fatal: /dev/kvmx works either way. */
		if (misc_register(&kvmx_kvm_node))
			pr_info("kvm_node: /dev/kvm (minor %d) is taken, only /dev/kvmx\n",
				KVM_MINOR);
		else
			kvm_node_registered = true;
	}
	pr_info("loaded: VMCS revision %#x, EPT%s%s, VPID %s\n",
		VMXCAP_BASIC_REVISION(kvmx_host_caps.basic),
		kvmx_ctls.ept_2m ? " with 2 MiB pages" : "",
		kvmx_ctls.ept_ad ? " and A/D flags" : "",
		kvmx_ctls.vpid ? "on" : "off");
	return 0;

fail_misc:
	kvmx_genl_exit();
fail_genl:
	kvmx_eventfd_exit();
fail_eventfd:
	kvmx_mitigations_exit();
fail_mitigations:
	kvmx_vmcs_global_exit();
fail_vmcs:
	kvmx_vmx_teardown();
	return err;
}

static void __exit kvmx_exit(void)
{
	if (kvm_node_registered)
		misc_deregister(&kvmx_kvm_node);
	misc_deregister(&kvmx_dev);
	kvmx_genl_exit();
	kvmx_eventfd_exit();
	kvmx_mitigations_exit();
	kvmx_vmcs_global_exit();
	kvmx_vmx_teardown();
}

module_init(kvmx_init);
module_exit(kvmx_exit);

MODULE_DESCRIPTION("kvmx: a VT-x hypervisor with the KVM userspace API");
MODULE_AUTHOR("The kvmx developers");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
