/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest linear → guest physical translation through the guest's own page
 * tables (SDM Vol. 3A, chapter 4), for the accesses kvmx emulates: fetching
 * an MMIO instruction, copying string-I/O data.  Kernel-agnostic.
 */
#ifndef KVMX_GUEST_WALK_H
#define KVMX_GUEST_WALK_H

#include "kvmx_compat.h"

struct guest_paging {
	u64 cr0;
	u64 cr3;
	u64 cr4;
	u64 efer;
};

#define WALK_WRITE	BIT(1)
#define WALK_USER	BIT(2)
#define WALK_FETCH	BIT(4)

/* Reads @len bytes of guest-physical memory; 0 on success. */
typedef int (*guest_read_fn)(void *ctx, u64 gpa, void *buf, unsigned int len);

enum walk_result {
	WALK_OK = 0,
	WALK_PAGE_FAULT = 1,	/* the guest's tables don't allow it */
	WALK_READ_ERROR = 2,	/* a table lies outside guest memory */
};

/* Translate @gla for an access of kind @access (WALK_*). */
enum walk_result guest_walk(const struct guest_paging *p, u64 gla,
			    unsigned int access, guest_read_fn read, void *ctx,
			    u64 *gpa);

#endif /* KVMX_GUEST_WALK_H */
