/* SPDX-License-Identifier: GPL-2.0 */
/* kvmx internal interfaces between the module's files. */
#ifndef KVMX_H
#define KVMX_H

#include <linux/types.h>
#include "../uapi/linux/kvmx.h"
#include "vmx_arch.h"
#include "vmx_features.h"

/* ---- vmx_cpu.c: the host side of VMX ---- */

/* Capability MSRs read at load time, and the controls derived from them. */
extern struct kvmx_vmx_info kvmx_host_caps;
extern struct vmx_controls kvmx_ctls;

int kvmx_vmx_setup(void);		/* module load: check features */
void kvmx_vmx_teardown(void);		/* module unload */
int kvmx_vmx_get(void);			/* a VM is born: VMX on, everywhere */
void kvmx_vmx_put(void);		/* a VM died: VMX off with the last */
void kvmx_vmx_fill_info(struct kvmx_vmx_info *info);

/* ---- vm.c ---- */
int kvmx_create_vm(unsigned long type);
extern atomic_t kvmx_nr_vms;

#endif /* KVMX_H */
