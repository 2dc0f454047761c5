// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_GET_STATS_FD: the VM's and each vCPU's counters in KVM's binary
 * statistics format (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD"),
 * so tools written for KVM read kvmx's unchanged.  The file is a header,
 * an id string, one descriptor per statistic, then the u64 data; it is
 * built at each read, with the counters as they are at that moment.
 *
 * The same counters go out over netlink (netlink.c) for `kvmx stat`.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>

#include "kvmx.h"

struct stat_desc {
	const char *name;
	u32 offset;	/* bytes into the data */
	u16 size;	/* u64s */
	u32 flags;
};

#define STAT(type, field, flags) \
	{ #field, offsetof(type, field), sizeof_field(type, field) / sizeof(u64), flags }
#define COUNT	(KVMX_STATS_TYPE_CUMULATIVE | KVMX_STATS_UNIT_NONE | KVMX_STATS_BASE_POW10)
#define CYCLES	(KVMX_STATS_TYPE_CUMULATIVE | KVMX_STATS_UNIT_CYCLES | KVMX_STATS_BASE_POW10)
#define NOW	(KVMX_STATS_TYPE_INSTANT | KVMX_STATS_UNIT_NONE | KVMX_STATS_BASE_POW10)

static const struct stat_desc vcpu_stats[] = {
	STAT(struct kvmx_vcpu_stats, exits, COUNT),
	STAT(struct kvmx_vcpu_stats, user_exits, COUNT),
	STAT(struct kvmx_vcpu_stats, runs, COUNT),
	STAT(struct kvmx_vcpu_stats, entries, COUNT),
	STAT(struct kvmx_vcpu_stats, fast_reentries, COUNT),
	STAT(struct kvmx_vcpu_stats, ept_faults, COUNT),
	STAT(struct kvmx_vcpu_stats, mmio_exits, COUNT),
	STAT(struct kvmx_vcpu_stats, irq_injections, COUNT),
	STAT(struct kvmx_vcpu_stats, exc_injections, COUNT),
	STAT(struct kvmx_vcpu_stats, l1d_flushes, COUNT),
	STAT(struct kvmx_vcpu_stats, guest_tsc, CYCLES),
	STAT(struct kvmx_vcpu_stats, run_tsc, CYCLES),
	STAT(struct kvmx_vcpu_stats, ept_flushes, COUNT),
	STAT(struct kvmx_vcpu_stats, guest_tlb_flushes, COUNT),
	STAT(struct kvmx_vcpu_stats, kernel_io, COUNT),
	STAT(struct kvmx_vcpu_stats, halts, COUNT),
	STAT(struct kvmx_vcpu_stats, ipis, COUNT),
	STAT(struct kvmx_vcpu_stats, apic_timer_irqs, COUNT),
	STAT(struct kvmx_vcpu_stats, directed_yields, COUNT),
	STAT(struct kvmx_vcpu_stats, pv_tlb_flushes, COUNT),
};

struct vm_stats {
	u64 vcpus;		/* vCPUs alive */
	u64 mapped_pages;	/* guest RAM in EPT leaves, 4 KiB pages */
	u64 ept_pages;		/* EPT table pages */
	u64 mmu_invalidations;	/* MMU-notifier invalidations that touched a slot */
};

static const struct stat_desc vm_stats[] = {
	STAT(struct vm_stats, vcpus, NOW),
	STAT(struct vm_stats, mapped_pages, NOW),
	STAT(struct vm_stats, ept_pages, NOW),
	STAT(struct vm_stats, mmu_invalidations, COUNT),
};

#define DESC_SIZE	(sizeof(struct kvmx_stats_desc) + KVMX_STATS_NAME_SIZE)

static ssize_t read_stats(const struct stat_desc *d, unsigned int n, const char *id,
			  const void *data, size_t data_size, char __user *buf, size_t count,
			  loff_t *pos)
{
	struct kvmx_stats_header h = {
		.name_size = KVMX_STATS_NAME_SIZE,
		.num_desc = n,
		.id_offset = sizeof(h),
		.desc_offset = sizeof(h) + KVMX_STATS_NAME_SIZE,
		.data_offset = sizeof(h) + KVMX_STATS_NAME_SIZE + n * DESC_SIZE,
	};
	size_t total = h.data_offset + data_size;
	unsigned int i;
	ssize_t r;
	char *file;

	file = kzalloc(total, GFP_KERNEL_ACCOUNT);
	if (!file)
		return -ENOMEM;
	memcpy(file, &h, sizeof(h));
	strscpy(file + h.id_offset, id, KVMX_STATS_NAME_SIZE);
	for (i = 0; i < n; i++) {
		struct kvmx_stats_desc *o = (void *)(file + h.desc_offset + i * DESC_SIZE);

		o->flags = d[i].flags;
		o->size = d[i].size;
		o->offset = d[i].offset;
		strscpy(o->name, d[i].name, KVMX_STATS_NAME_SIZE);
	}
	memcpy(file + h.data_offset, data, data_size);
	r = simple_read_from_buffer(buf, count, pos, file, total);
	kfree(file);
	return r;
}

static ssize_t vcpu_stats_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	struct file *vcpu_file = file->private_data;
	struct kvmx_vcpu *v = vcpu_file->private_data;
	char id[KVMX_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "kvm-%d/vcpu-%u", v->vm->owner, v->id);
	/* Racy reads of counters the vCPU's thread writes, as KVM's. */
	return read_stats(vcpu_stats, ARRAY_SIZE(vcpu_stats), id, &v->stat, sizeof(v->stat),
			  buf, count, pos);
}

/* The vCPU lives while its fd does: hold the fd. */
static int vcpu_stats_release(struct inode *inode, struct file *file)
{
	fput(file->private_data);
	return 0;
}

static const struct file_operations vcpu_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= vcpu_stats_read,
	.release	= vcpu_stats_release,
	.llseek		= noop_llseek,
};

static ssize_t vm_stats_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	struct kvmx_vm *vm = file->private_data;
	char id[KVMX_STATS_NAME_SIZE];
	struct vm_stats s = {
		.vcpus = READ_ONCE(vm->nr_vcpus),
		.mapped_pages = atomic_long_read(&vm->mapped_pages),
		.ept_pages = atomic_long_read(&vm->ept_pages),
		.mmu_invalidations = atomic_long_read(&vm->mmu_invalidations),
	};

	snprintf(id, sizeof(id), "kvm-%d", vm->owner);
	return read_stats(vm_stats, ARRAY_SIZE(vm_stats), id, &s, sizeof(s), buf, count, pos);
}

static int vm_stats_release(struct inode *inode, struct file *file)
{
	kvmx_vm_put(file->private_data);
	return 0;
}

static const struct file_operations vm_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= vm_stats_read,
	.release	= vm_stats_release,
	.llseek		= noop_llseek,
};

static int stats_fd(const char *name, const struct file_operations *fops, void *priv)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile(name, fops, priv, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	file->f_mode |= FMODE_PREAD;
	fd_install(fd, file);
	return fd;
}

int kvmx_vm_stats_fd(struct kvmx_vm *vm)
{
	int fd;

	kref_get(&vm->ref);
	fd = stats_fd("kvmx-vm-stats", &vm_stats_fops, vm);
	if (fd < 0)
		kvmx_vm_put(vm);
	return fd;
}

int kvmx_vcpu_stats_fd(struct file *vcpu_file)
{
	int fd;

	get_file(vcpu_file);
	fd = stats_fd("kvmx-vcpu-stats", &vcpu_stats_fops, vcpu_file);
	if (fd < 0)
		fput(vcpu_file);
	return fd;
}
