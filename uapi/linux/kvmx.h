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

/* ---- system fd ---- */
#define KVMX_GET_API_VERSION	_IO(KVMXIO, 0x00)
#define KVMX_CREATE_VM		_IO(KVMXIO, 0x01)
#define KVMX_CHECK_EXTENSION	_IO(KVMXIO, 0x03)

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
	__u64 reserved[8];
};

#define KVMX_MODULE_VERSION	1
#define KVMX_INFO_VMX_ON	(1u << 0)	/* kvmx holds VMX on some CPU */

#define KVMX_GET_VMX_INFO	_IOR(KVMXIO, 0xf0, struct kvmx_vmx_info)

#endif /* _UAPI_KVMX_H */
