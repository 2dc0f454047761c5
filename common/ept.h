/* SPDX-License-Identifier: GPL-2.0 */
/* EPT paging-structure entries (SDM Vol. 3C, 29.3.2), as ept.c builds them. */
#ifndef KVMX_EPT_H
#define KVMX_EPT_H

#define EPT_READ		BIT_ULL(0)
#define EPT_WRITE		BIT_ULL(1)
#define EPT_EXEC		BIT_ULL(2)
#define EPT_MT_WB		(6ULL << 3)	/* leaf memory type: write-back */
#define EPT_IGNORE_PAT		BIT_ULL(6)
#define EPT_LARGE		BIT_ULL(7)
/* With EPTP bit 6 set (SDM 29.3.5): the CPU sets these in the entries it uses. */
#define EPT_ACCESSED_BIT	8
#define EPT_ACCESSED		BIT_ULL(EPT_ACCESSED_BIT)
#define EPT_DIRTY		BIT_ULL(9)	/* leaves only */
#define EPT_ADDR_MASK		0x000ffffffffff000ULL
#define EPT_TABLE		(EPT_READ | EPT_WRITE | EPT_EXEC)
/* Bits 6:0 of a leaf: permissions, memory type, ignore-PAT. */
#define EPT_LEAF_ATTRS		0x7fULL
#define EPT_LEVELS		4
#define EPT_ENTRIES		512	/* per table, 9 bits of the address each */

/* The address bits a table at @level (1: 4 KiB pages ... 4: PML4) translates. */
#define EPT_LEVEL_SHIFT(level)	(12 + 9 * ((level) - 1))
/* The entry for @gpa in the table at @level. */
#define EPT_INDEX(gpa, level)	(((gpa) >> EPT_LEVEL_SHIFT(level)) & (EPT_ENTRIES - 1))

#endif /* KVMX_EPT_H */
