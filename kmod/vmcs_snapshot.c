// SPDX-License-Identifier: GPL-2.0
/*
 * A vCPU's VMCS, field by field, for `kvmx vmcs` and for whoever debugs a
 * failed VM entry.  The module only reads; the tool names and decodes the
 * fields (userspace/lib/vmcs_decode.cpp) from the same list.
 *
 * A VMCS can only be read with VMREAD on a CPU where it is current (SDM
 * 25.11.1), so a snapshot loads it here, which is only allowed while the
 * vCPU's own thread is not using it: between runs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>
#include <linux/preempt.h>

#include "kvmx.h"
#include "vmx_ops.h"
#include "vmcs_dump_fields.h"

int kvmx_vmcs_snapshot_max(void)
{
	return ARRAY_SIZE(kvmx_vmcs_dump_fields);
}

int kvmx_vcpu_vmcs_snapshot(struct kvmx_vcpu *v, struct kvmx_vmcs_field *out, int max)
{
	unsigned int i;
	int n = 0;

	/* Never wait: the vCPU thread may need vm->lock, which we hold. */
	if (!mutex_trylock(&v->mutex))
		return -EBUSY;
	preempt_disable();
	kvmx_vcpu_load(v);
	for (i = 0; i < ARRAY_SIZE(kvmx_vmcs_dump_fields) && n < max; i++) {
		unsigned long val;

		/* Fields this CPU doesn't implement fail VMREAD: leave them out. */
		if (vmcs_read_safe(kvmx_vmcs_dump_fields[i], &val))
			continue;
		out[n].encoding = kvmx_vmcs_dump_fields[i];
		out[n].pad = 0;
		out[n].value = val;
		n++;
	}
	preempt_enable();
	mutex_unlock(&v->mutex);
	return n;
}

/* Called by the vCPU thread with its VMCS loaded, interrupts on. */
void kvmx_entry_failed(struct kvmx_vcpu *v)
{
	kvmx_dump_vmcs(v);
	kvmx_genl_event(v->vm, KVMX_EVENT_ENTRY_FAILED,
			v->run->fail_entry.hardware_entry_failure_reason,
			vmcs_read32(VMCS_VM_INSTRUCTION_ERROR));
}
