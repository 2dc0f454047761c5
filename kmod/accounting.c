// SPDX-License-Identifier: GPL-2.0
/*
 * What kvmx holds right now, module-wide: objects, pages it allocated, guest
 * pages its EPT maps (4 KiB each; none is pinned).  Read in /sys/class/misc/kvmx/accounting/; when no VM is
 * left every count must be 0 again (the stress tests check that), and the
 * benchmark reads the memory a VM costs from here.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "kvmx.h"

struct kvmx_accounting kvmx_acct;

#define ACCT_ATTR(name)							\
static ssize_t name##_show(struct device *d, struct device_attribute *a,	\
			   char *buf)						\
{									\
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&kvmx_acct.name)); \
}									\
static DEVICE_ATTR_RO(name)

ACCT_ATTR(vms);
ACCT_ATTR(vcpus);
ACCT_ATTR(vmcs_pages);
ACCT_ATTR(run_pages);
ACCT_ATTR(ept_pages);
ACCT_ATTR(mapped_pages);
ACCT_ATTR(kmalloc_bytes);

static struct attribute *kvmx_acct_attrs[] = {
	&dev_attr_vms.attr,
	&dev_attr_vcpus.attr,
	&dev_attr_vmcs_pages.attr,
	&dev_attr_run_pages.attr,
	&dev_attr_ept_pages.attr,
	&dev_attr_mapped_pages.attr,
	&dev_attr_kmalloc_bytes.attr,
	NULL,
};

static const struct attribute_group kvmx_acct_group = {
	.name = "accounting",
	.attrs = kvmx_acct_attrs,
};

const struct attribute_group *kvmx_dev_groups[] = {
	&kvmx_acct_group,
	NULL,
};
