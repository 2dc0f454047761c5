/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmx's tracepoints, in tracefs under events/kvmx/ (trace-cmd record -e
 * kvmx, perf record -e 'kvmx:*').  Disabled ones cost a patched-out jump;
 * the VMREADs in TP_fast_assign run only while one is enabled.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvmx

#if !defined(_KVMX_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KVMX_TRACE_H

#include <linux/tracepoint.h>

#include "kvmx.h"
#include "vmx_ops.h"

TRACE_EVENT(kvmx_entry,
	TP_PROTO(struct kvmx_vcpu *v),
	TP_ARGS(v),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(unsigned long, rip)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->rip = vmcs_read(VMCS_GUEST_RIP);
	),
	TP_printk("vm %u vcpu %u rip %#lx", __entry->vm, __entry->vcpu, __entry->rip)
);

TRACE_EVENT(kvmx_exit,
	TP_PROTO(struct kvmx_vcpu *v),
	TP_ARGS(v),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, reason)
		__field(unsigned long, qual)
		__field(unsigned long, rip)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->reason = v->exit_reason;
		__entry->qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
		__entry->rip = vmcs_read(VMCS_GUEST_RIP);
	),
	TP_printk("vm %u vcpu %u reason %u%s qual %#lx rip %#lx",
		  __entry->vm, __entry->vcpu, __entry->reason & 0xffff,
		  (__entry->reason & 0x80000000) ? " (entry failed)" : "",
		  __entry->qual, __entry->rip)
);

TRACE_EVENT(kvmx_userspace_exit,
	TP_PROTO(struct kvmx_vcpu *v, int ret),
	TP_ARGS(v, ret),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, exit_reason)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->exit_reason = v->run->exit_reason;
		__entry->ret = ret;
	),
	TP_printk("vm %u vcpu %u KVM_EXIT %u ret %d", __entry->vm, __entry->vcpu,
		  __entry->exit_reason, __entry->ret)
);

TRACE_EVENT(kvmx_inject,
	TP_PROTO(struct kvmx_vcpu *v, u32 intr_info),
	TP_ARGS(v, intr_info),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, intr_info)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->intr_info = intr_info;
	),
	TP_printk("vm %u vcpu %u vector %u type %u", __entry->vm, __entry->vcpu,
		  __entry->intr_info & 0xff, (__entry->intr_info >> 8) & 7)
);

TRACE_EVENT(kvmx_block,
	TP_PROTO(struct kvmx_vcpu *v, u32 mp_state),
	TP_ARGS(v, mp_state),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u32, mp_state)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->mp_state = mp_state;
	),
	TP_printk("vm %u vcpu %u sleeps, mp_state %u", __entry->vm, __entry->vcpu,
		  __entry->mp_state)
);

TRACE_EVENT(kvmx_ept_fault,
	TP_PROTO(struct kvmx_vcpu *v, u64 gpa, unsigned long qual, bool mmio),
	TP_ARGS(v, gpa, qual, mmio),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(u64, gpa)
		__field(unsigned long, qual)
		__field(bool, mmio)
	),
	TP_fast_assign(
		__entry->vm = v->vm->id;
		__entry->vcpu = v->id;
		__entry->gpa = gpa;
		__entry->qual = qual;
		__entry->mmio = mmio;
	),
	TP_printk("vm %u vcpu %u gpa %#llx qual %#lx %s", __entry->vm, __entry->vcpu,
		  __entry->gpa, __entry->qual, __entry->mmio ? "mmio" : "ram")
);

#endif /* _KVMX_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
