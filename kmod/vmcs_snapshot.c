// SPDX-License-Identifier: GPL-2.0
/*
 * A vCPU's VMCS, field by field, for `kvmx vmcs` and for whoever debugs a
 * failed VM entry.  The module only reads; the tool names and decodes the
 * fields (userspace/lib/observe/vmcs_decode.cpp) from the same list.
 *
 * A VMCS can only be read with VMREAD on a CPU where it is current (SDM
 * 25.11.1): between runs the reader loads it on its own CPU; during
 * KVM_RUN the vCPU's thread reads it for the reader at its next exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/wait.h>

#include "kvmx.h"
#include "vmx_ops.h"
#include "vmcs_dump_fields.h"

int kvmx_vmcs_snapshot_max(void)
{
	return ARRAY_SIZE(kvmx_vmcs_dump_fields);
}

/*
 * Host-state fields (encoding bits 11:10 = 3, SDM Vol. 3D B.1-B.4) and the
 * physical addresses among the controls tell where the host kernel and its
 * memory are: for CAP_SYS_ADMIN only, like the HPAs of kvmx_ept_walk_gpa().
 */
static bool reveals_host(u32 enc)
{
	switch (enc & ~1u) {	/* either half of a 64-bit field */
	case VMCS_IO_BITMAP_A:
	case VMCS_IO_BITMAP_B:
	case VMCS_MSR_BITMAP:
	case VMCS_EXIT_MSR_STORE_ADDR:
	case VMCS_EXIT_MSR_LOAD_ADDR:
	case VMCS_ENTRY_MSR_LOAD_ADDR:
	case VMCS_EPT_POINTER:
	case 0x200c:	/* executive-VMCS pointer */
	case 0x200e:	/* PML address */
	case 0x2012:	/* virtual-APIC address */
	case 0x2014:	/* APIC-access address */
	case 0x2016:	/* posted-interrupt descriptor */
	case 0x2024:	/* EPTP-list address */
	case 0x2026:	/* VMREAD bitmap */
	case 0x2028:	/* VMWRITE bitmap */
	case 0x202a:	/* virtualization-exception information */
		return true;
	default:
		return ((enc >> 10) & 3) == 3;
	}
}

/* Reads the fields from the VMCS current on this CPU. */
static int read_fields(struct kvmx_vmcs_field *out, int max, bool show_host)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < ARRAY_SIZE(kvmx_vmcs_dump_fields) && n < max; i++) {
		unsigned long val;

		/* Fields this CPU doesn't implement fail VMREAD: leave them out. */
		if (vmcs_read_safe(kvmx_vmcs_dump_fields[i], &val))
			continue;
		out[n].encoding = kvmx_vmcs_dump_fields[i];
		out[n].pad = 0;
		out[n].value = show_host || !reveals_host(kvmx_vmcs_dump_fields[i]) ? val : 0;
		n++;
	}
	return n;
}

static void kick(void *unused)
{
	/* The IPI itself is the point: it makes the guest exit. */
}

/*
 * Between runs (its mutex is free) the VMCS is loaded here and read.  While
 * the vCPU is in KVM_RUN, its own thread reads it at the next exit (see
 * kvmx_vcpu_serve_snapshot()), which an IPI brings about soon.
 */
int kvmx_vm_vmcs_snapshot(struct kvmx_vm *vm, u32 id, struct kvmx_vmcs_field *out, int max,
			  bool show_host)
{
	struct kvmx_vmcs_request req = { .out = out, .max = max, .show_host = show_host };
	struct kvmx_vcpu *v;
	int r, cpu;

	r = mutex_lock_killable(&vm->snap_lock);	/* one request at a time */
	if (r)
		return r;
	r = mutex_lock_killable(&vm->lock);	/* keeps the vCPU from going away */
	if (r) {
		mutex_unlock(&vm->snap_lock);
		return r;
	}
	v = id < KVMX_MAX_VCPUS ? vm->vcpus[id] : NULL;
	r = -ENOENT;
	if (!v)
		goto out;
	/* Never wait for it under vm->lock: its thread may need vm->lock. */
	if (mutex_trylock(&v->mutex)) {
		preempt_disable();
		kvmx_vcpu_load(v);
		r = read_fields(out, max, show_host);
		preempt_enable();
		mutex_unlock(&v->mutex);
		goto out;
	}
	vm->snap_req = &req;
	WRITE_ONCE(vm->snap_vcpu, id);
	cpu = READ_ONCE(v->cpu);
	mutex_unlock(&vm->lock);

	if (cpu >= 0 && cpu != raw_smp_processor_id() && cpu_online(cpu))
		smp_call_function_single(cpu, kick, NULL, 0);
	wait_event_interruptible_timeout(vm->snap_wq, READ_ONCE(req.done), HZ / 2);

	mutex_lock(&vm->lock);
	WRITE_ONCE(vm->snap_vcpu, -1);
	vm->snap_req = NULL;
	r = req.done ? req.n : -EBUSY;	/* a guest that never exits */
out:
	mutex_unlock(&vm->lock);
	mutex_unlock(&vm->snap_lock);
	return r;
}

/* The vCPU thread, in KVM_RUN after an exit, its VMCS loaded here. */
void kvmx_vcpu_serve_snapshot(struct kvmx_vcpu *v)
{
	struct kvmx_vm *vm = v->vm;
	struct kvmx_vmcs_request *req;

	mutex_lock(&vm->lock);
	req = vm->snap_req;
	if (READ_ONCE(vm->snap_vcpu) == v->id && req && !req->done) {
		preempt_disable();
		req->n = read_fields(req->out, req->max, req->show_host);
		preempt_enable();
		WRITE_ONCE(req->done, true);
		WRITE_ONCE(vm->snap_vcpu, -1);	/* answered: the run loop goes on */
		wake_up(&vm->snap_wq);
	}
	mutex_unlock(&vm->lock);
}

/*
 * Called by the vCPU thread with its VMCS loaded, interrupts on.
 * @vm_instruction_error: for VMfailValid; 0 for an exit with bit 31 set.
 */
void kvmx_entry_failed(struct kvmx_vcpu *v, u32 vm_instruction_error)
{
	kvmx_dump_vmcs(v);
	kvmx_genl_event(v->vm, KVMX_EVENT_ENTRY_FAILED,
			v->run->fail_entry.hardware_entry_failure_reason, vm_instruction_error);
}
