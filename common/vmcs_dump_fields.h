/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMCS fields `kvmx vmcs` dumps, in the order the module VMREADs them:
 * the FIRST and DUMP rows of vmcs_field_table.h,
 * FIRST first.  The module skips the
 * ones the CPU rejects; userspace names and decodes the rest.
 * Kernel-agnostic: shared with the native unit tests.
 */
#ifndef KVMX_VMCS_DUMP_FIELDS_H
#define KVMX_VMCS_DUMP_FIELDS_H

#include "kvmx_compat.h"
#include "vmcs_fields.h"

static const u32 kvmx_vmcs_dump_fields[] = {
#define VMCS_FIELD_FIRST(id, enc, name)	VMCS_##id,
#define VMCS_FIELD_DUMP(id, enc, name)	VMCS_##id,
#define VMCS_FIELD_NAME(id, enc, name)
#include "vmcs_field_table.h"
};

/* Upper bound on ARRAY_SIZE(kvmx_vmcs_dump_fields), e.g. for a uapi buffer. */
#define KVMX_VMCS_DUMP_MAX	256

#endif /* KVMX_VMCS_DUMP_FIELDS_H */
