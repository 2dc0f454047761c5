// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a VM's EPT back for `kvmx ept`: the leaves as merged GPA ranges,
 * and the walk of one GPA level by level (SDM Vol. 3C, 29.3.2).  Both run
 * under vm->lock and vm->mmu_lock, so the tables can't change or go away
 * underneath.
 */
#include <linux/mm.h>
#include <asm/io.h>

#include "kvmx.h"
#include "ept.h"

#define GPA_LIMIT	BIT_ULL(EPT_LEVEL_SHIFT(EPT_LEVELS + 1))	/* what 4 levels map */
/* Leaves per call: vm->lock is not held for long, however big the VM. */
#define LEAVES_PER_CALL	16384

static inline unsigned int level_shift(int level)
{
	return EPT_LEVEL_SHIFT(level);
}

/* The first present leaf at or after *@gpa: its entry and size; false if none. */
static bool next_leaf(struct kvmx_vm *vm, u64 *gpa, u64 *entry, u64 *size)
{
	u64 addr = *gpa;

	while (addr < GPA_LIMIT) {
		u64 *table = vm->ept_root;
		int l;

		for (l = EPT_LEVELS; l >= 1; l--) {
			u64 span = BIT_ULL(level_shift(l));
			u64 e = table[EPT_INDEX(addr, l)];

			if (!(e & EPT_TABLE)) {
				/* Nothing below: skip what this entry would map. */
				addr = (addr | (span - 1)) + 1;
				break;
			}
			if (l == 1 || (e & EPT_LARGE)) {
				*gpa = addr & ~(span - 1);
				*entry = e;
				*size = span;
				return true;
			}
			table = __va(e & EPT_ADDR_MASK);
		}
	}
	return false;
}

int kvmx_ept_ranges(struct kvmx_vm *vm, u64 *gpa, struct kvmx_ept_range *out, int max,
		    bool show_hpa)
{
	u64 addr = *gpa, e, size;
	int n = 0, leaves = 0;

	while (leaves < LEAVES_PER_CALL && next_leaf(vm, &addr, &e, &size)) {
		u64 hpa = show_hpa ? (e & EPT_ADDR_MASK & ~(size - 1)) : 0;
		u32 flags = e & EPT_LEAF_ATTRS;
		struct kvmx_ept_range *prev = n ? &out[n - 1] : NULL;

		if (prev && prev->gpa + prev->size == addr && prev->flags == flags &&
		    prev->page_size == size && (!show_hpa || prev->hpa + prev->size == hpa)) {
			prev->size += size;
		} else {
			if (n == max) {
				*gpa = addr;
				return n;
			}
			out[n++] = (struct kvmx_ept_range) {
				.gpa = addr, .hpa = hpa, .size = size,
				.page_size = size, .flags = flags,
			};
		}
		addr += size;
		leaves++;
	}
	/* The caller merges a range split here with the next call's first. */
	*gpa = leaves < LEAVES_PER_CALL ? ~0ULL : addr;
	return n;
}

int kvmx_ept_walk_gpa(struct kvmx_vm *vm, u64 gpa, struct kvmx_ept_level *out, bool show_hpa)
{
	u64 *table = vm->ept_root;
	int l, n = 0;

	if (gpa >= GPA_LIMIT)
		return 0;
	for (l = EPT_LEVELS; l >= 1; l--) {
		unsigned int index = EPT_INDEX(gpa, l);
		u64 e = table[index];

		out[n++] = (struct kvmx_ept_level) {
			.level = l, .index = index,
			.table_hpa = show_hpa ? __pa(table) : 0,
			.entry = show_hpa ? e : e & ~EPT_ADDR_MASK,
		};
		if (!(e & EPT_TABLE) || l == 1 || (e & EPT_LARGE))
			break;
		table = __va(e & EPT_ADDR_MASK);
	}
	return n;
}
