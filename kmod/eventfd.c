// SPDX-License-Identifier: GPL-2.0
/*
 * Eventfds as interrupt lines and doorbells, the two halves of a device
 * that lives outside the vCPU thread (a virtio backend, vhost):
 *
 *  - KVM_IRQFD: a write to the eventfd raises a GSI.  We hang our own entry
 *    on the eventfd's wait queue; its wake function runs in the writer's
 *    context (any thread, IRQs off, the queue's lock held), takes the count
 *    and pulses the GSI there: the irqchip's delivery only sets bits and
 *    kicks, so it is safe in that context and costs the writer no thread
 *    switch.  When the eventfd is closed, the wait queue says EPOLLHUP and
 *    the irqfd is taken down by a work item (it can't free itself there).
 *
 *  - KVM_IRQFD with KVM_IRQFD_FLAG_RESAMPLE: a level-triggered interrupt,
 *    such as a PCI INTx that VFIO forwards.  The write raises the GSI and
 *    it stays up until the guest acknowledges it: the EOI that clears the
 *    IOAPIC pin's Remote IRR, or the 8259's ISR bit.  Then the line drops
 *    and the resamplefd is signalled, so that the device side looks again
 *    whether it still wants service (and writes the eventfd if so).  The
 *    irqfds of one GSI share a resampler: one line, every resamplefd told.
 *    The line is its own irqchip source (KVMX_IRQ_SOURCE_RESAMPLE), so
 *    KVM_IRQ_LINE on the same GSI neither holds it up nor drops it.
 *
 *  - KVM_IOEVENTFD: a guest write to a port or MMIO address (of a given
 *    length, optionally with a given value) signals the eventfd instead of
 *    exiting to userspace: a device on io_bus.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <asm/unaligned.h>

#include "kvmx.h"

/* Where irqfds whose eventfd was closed are freed; flushed at VM death. */
static struct workqueue_struct *irqfd_cleanup_wq;

/* The resampling irqfds of one GSI (KVM's kvm_kernel_irqfd_resampler). */
struct kvmx_irqfd_resampler {
	u32 gsi;
	struct list_head irqfds;	/* their resample_link: RCU, changed under vm->irqfds_lock */
	struct list_head link;		/* vm->resamplers: the same */
	struct rcu_head rcu;
};

struct kvmx_irqfd_link {
	struct kvmx_vm *vm;
	struct eventfd_ctx *ctx;
	u32 gsi;
	wait_queue_entry_t wait;
	poll_table pt;
	struct list_head list;		/* vm->irqfds, under vm->irqfds_lock */
	struct work_struct shutdown;
	/* KVM_IRQFD_FLAG_RESAMPLE: NULL for an edge irqfd */
	struct kvmx_irqfd_resampler *resampler;
	struct eventfd_ctx *resamplefd;
	struct list_head resample_link;
	struct rcu_head rcu;
};

/* Leave the resampler; the last one out drops the line (KVM does too) and frees it. */
static void resampler_leave(struct kvmx_irqfd_link *f)
{
	struct kvmx_irqfd_resampler *r = f->resampler;
	struct kvmx_vm *vm = f->vm;

	spin_lock_irq(&vm->irqfds_lock);
	list_del_rcu(&f->resample_link);
	if (list_empty(&r->irqfds)) {
		list_del_rcu(&r->link);
		kvmx_set_gsi(vm, KVMX_IRQ_SOURCE_RESAMPLE, r->gsi, false);
		kfree_rcu(r, rcu);
	}
	spin_unlock_irq(&vm->irqfds_lock);
}

/* An EOI may still be signalling the resamplefd (under RCU): a grace period first. */
static void irqfd_free_rcu(struct rcu_head *head)
{
	struct kvmx_irqfd_link *f = container_of(head, struct kvmx_irqfd_link, rcu);

	eventfd_ctx_put(f->resamplefd);
	kfree(f);
}

/* Off the eventfd's wait queue, then freed: no wake function runs after. */
static void irqfd_free(struct kvmx_irqfd_link *f)
{
	u64 cnt;

	eventfd_ctx_remove_wait_queue(f->ctx, &f->wait, &cnt);
	eventfd_ctx_put(f->ctx);
	if (!f->resampler) {
		kfree(f);
		return;
	}
	resampler_leave(f);
	call_rcu(&f->rcu, irqfd_free_rcu);
}

static void irqfd_shutdown(struct work_struct *work)
{
	irqfd_free(container_of(work, struct kvmx_irqfd_link, shutdown));
}

/*
 * An irqfd's interrupt is an edge: the GSI goes up and straight back down;
 * a resampling one's is a level, up until the guest's EOI.
 */
static void irqfd_fire(struct kvmx_irqfd_link *f)
{
	if (f->resampler) {
		kvmx_set_gsi(f->vm, KVMX_IRQ_SOURCE_RESAMPLE, f->gsi, true);
		return;
	}
	kvmx_set_gsi(f->vm, KVMX_IRQ_SOURCE_USER, f->gsi, true);
	kvmx_set_gsi(f->vm, KVMX_IRQ_SOURCE_USER, f->gsi, false);
}

void kvmx_irqfd_resample_ack(struct kvmx_vm *vm, u32 chip, u32 pin)
{
	s64 gsi = kvmx_irqchip_pin_gsi(vm, chip, pin);
	struct kvmx_irqfd_resampler *r;
	struct kvmx_irqfd_link *f;

	if (gsi < 0)
		return;
	rcu_read_lock();
	list_for_each_entry_rcu(r, &vm->resamplers, link) {
		if (r->gsi != gsi)
			continue;
		/* The chip dropped its pin already; the GSI's other routes too. */
		kvmx_set_gsi(vm, KVMX_IRQ_SOURCE_RESAMPLE, r->gsi, false);
		list_for_each_entry_rcu(f, &r->irqfds, resample_link)
			eventfd_signal(f->resamplefd, 1);
	}
	rcu_read_unlock();
}

/* Called by the eventfd's wake_up, with its queue's lock held. */
static int irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct kvmx_irqfd_link *f = container_of(wait, struct kvmx_irqfd_link, wait);
	__poll_t flags = key_to_poll(key);
	struct kvmx_vm *vm = f->vm;
	unsigned long irqflags;

	if (flags & EPOLLIN) {
		u64 cnt;

		/* Consume the count (the eventfd is ours) and raise the line. */
		eventfd_ctx_do_read(f->ctx, &cnt);
		irqfd_fire(f);
	}
	if (flags & EPOLLHUP) {
		/* The eventfd is being closed: whoever unlinks the irqfd frees it. */
		spin_lock_irqsave(&vm->irqfds_lock, irqflags);
		if (!list_empty(&f->list)) {
			list_del_init(&f->list);
			queue_work(irqfd_cleanup_wq, &f->shutdown);
		}
		spin_unlock_irqrestore(&vm->irqfds_lock, irqflags);
	}
	return 0;
}

static void irqfd_queue_proc(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct kvmx_irqfd_link *f = container_of(pt, struct kvmx_irqfd_link, pt);

	add_wait_queue_priority(wqh, &f->wait);
}

/*
 * Join @f to the resampler of its GSI, the first one making it from @spare
 * (which is then used up: NULL).  Under vm->irqfds_lock.
 */
static void resampler_join(struct kvmx_irqfd_link *f, struct kvmx_irqfd_resampler **spare)
{
	struct kvmx_irqfd_resampler *r;
	struct kvmx_vm *vm = f->vm;

	list_for_each_entry(r, &vm->resamplers, link)
		if (r->gsi == f->gsi)
			goto found;
	r = *spare;
	*spare = NULL;
	r->gsi = f->gsi;
	INIT_LIST_HEAD(&r->irqfds);
	list_add_rcu(&r->link, &vm->resamplers);
found:
	f->resampler = r;
	list_add_rcu(&f->resample_link, &r->irqfds);
}

static int irqfd_assign(struct kvmx_vm *vm, const struct kvmx_irqfd *args)
{
	struct kvmx_irqfd_resampler *spare = NULL;
	struct kvmx_irqfd_link *f, *o;
	struct eventfd_ctx *ctx, *resamplefd = NULL;
	struct kvmx_vm_irqchip *chip;
	struct fd file;
	__poll_t events;
	int r;

	/*
	 * KVM's answers: no irqfd without an irqchip, and a resampler needs
	 * the IOAPIC and the 8259s here, whose EOIs it waits for.
	 */
	chip = smp_load_acquire(&vm->irqchip);
	if (!chip || ((args->flags & KVMX_IRQFD_FLAG_RESAMPLE) && chip->split))
		return -EINVAL;
	if (args->flags & KVMX_IRQFD_FLAG_RESAMPLE) {
		resamplefd = eventfd_ctx_fdget(args->resamplefd);
		if (IS_ERR(resamplefd))
			return PTR_ERR(resamplefd);
		spare = kzalloc(sizeof(*spare), GFP_KERNEL_ACCOUNT);
		if (!spare) {
			eventfd_ctx_put(resamplefd);
			return -ENOMEM;
		}
	}
	file = fdget(args->fd);
	if (!file.file) {
		r = -EBADF;
		goto out_resample;
	}
	ctx = eventfd_ctx_fileget(file.file);
	if (IS_ERR(ctx)) {
		r = PTR_ERR(ctx);
		goto out;
	}
	r = -ENOMEM;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f) {
		eventfd_ctx_put(ctx);
		goto out;
	}
	f->vm = vm;
	f->ctx = ctx;
	f->gsi = args->gsi;
	INIT_LIST_HEAD(&f->list);
	INIT_WORK(&f->shutdown, irqfd_shutdown);
	init_waitqueue_func_entry(&f->wait, irqfd_wakeup);
	init_poll_funcptr(&f->pt, irqfd_queue_proc);

	/*
	 * Until it is on the eventfd's wait queue, no KVM_IRQFD may find and
	 * free it: the assignments and deassignments take turns.
	 */
	mutex_lock(&vm->irqfd_assign_lock);
	spin_lock_irq(&vm->irqfds_lock);
	list_for_each_entry(o, &vm->irqfds, list) {
		if (o->ctx == ctx) {
			/* One GSI per eventfd, as KVM. */
			spin_unlock_irq(&vm->irqfds_lock);
			mutex_unlock(&vm->irqfd_assign_lock);
			eventfd_ctx_put(ctx);
			kfree(f);
			r = -EBUSY;
			goto out;
		}
	}
	if (resamplefd) {
		f->resamplefd = resamplefd;
		resamplefd = NULL;	/* the irqfd's now */
		resampler_join(f, &spare);
	}
	list_add_tail(&f->list, &vm->irqfds);
	spin_unlock_irq(&vm->irqfds_lock);

	/*
	 * On the wait queue from here; a count already there fires now.  It is
	 * not consumed here, as in KVM: eventfd_ctx_do_read() wants the queue's
	 * lock, which only the wake function holds; the next wake-up takes it.
	 */
	events = vfs_poll(file.file, &f->pt);
	if (events & EPOLLIN)
		irqfd_fire(f);
	mutex_unlock(&vm->irqfd_assign_lock);
	r = 0;
out:
	fdput(file);
out_resample:
	if (resamplefd)
		eventfd_ctx_put(resamplefd);
	kfree(spare);
	return r;
}

static int irqfd_deassign(struct kvmx_vm *vm, const struct kvmx_irqfd *args)
{
	struct kvmx_irqfd_link *f, *found = NULL;
	struct eventfd_ctx *ctx;
	bool resampling;

	ctx = eventfd_ctx_fdget(args->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	mutex_lock(&vm->irqfd_assign_lock);
	spin_lock_irq(&vm->irqfds_lock);
	list_for_each_entry(f, &vm->irqfds, list) {
		if (f->ctx == ctx && f->gsi == args->gsi) {
			list_del_init(&f->list);
			found = f;
			break;
		}
	}
	spin_unlock_irq(&vm->irqfds_lock);
	mutex_unlock(&vm->irqfd_assign_lock);
	eventfd_ctx_put(ctx);
	resampling = found && found->resampler;
	if (found)
		irqfd_free(found);
	/* One being closed at the same time is gone too once this returns (KVM's promise). */
	flush_workqueue(irqfd_cleanup_wq);
	/* ... and no EOI signals its resamplefd any more. */
	if (resampling)
		synchronize_rcu();
	return 0;
}

/* ---- ioeventfds ---- */

struct kvmx_ioeventfd_dev {
	struct kvmx_io_device dev;	/* on the PIO or MMIO bus */
	struct list_head list;		/* vm->ioeventfds, under vm->lock */
	struct eventfd_ctx *ctx;
	enum kvmx_bus_id bus;
	u64 datamatch;
	u32 len;			/* 0: any length */
	bool wildcard;			/* no datamatch: any value */
};

static int ioeventfd_write(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			   unsigned int len, const void *val)
{
	struct kvmx_ioeventfd_dev *p = container_of(d, struct kvmx_ioeventfd_dev, dev);
	u64 data;

	if (addr != d->base || (p->len && len != p->len))
		return -EOPNOTSUPP;
	if (!p->wildcard) {
		switch (len) {
		case 1:
			data = *(const u8 *)val;
			break;
		case 2:
			data = get_unaligned((const u16 *)val);
			break;
		case 4:
			data = get_unaligned((const u32 *)val);
			break;
		case 8:
			data = get_unaligned((const u64 *)val);
			break;
		default:
			return -EOPNOTSUPP;
		}
		if (data != p->datamatch)
			return -EOPNOTSUPP;
	}
	eventfd_signal(p->ctx, 1);
	return 0;
}

/* A doorbell has no value to read: reads go on to userspace. */
static int ioeventfd_read(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
			  unsigned int len, void *val)
{
	return -EOPNOTSUPP;
}

static const struct kvmx_io_ops ioeventfd_ops = {
	.read = ioeventfd_read,
	.write = ioeventfd_write,
};

static bool ioeventfd_same(const struct kvmx_ioeventfd_dev *p, const struct kvmx_ioeventfd *a,
			   enum kvmx_bus_id bus)
{
	return p->bus == bus && p->dev.base == a->addr && p->len == a->len &&
	       p->wildcard == !(a->flags & KVMX_IOEVENTFD_FLAG_DATAMATCH) &&
	       (p->wildcard || p->datamatch == a->datamatch);
}

static int ioeventfd_assign(struct kvmx_vm *vm, const struct kvmx_ioeventfd *a,
			    enum kvmx_bus_id bus)
{
	struct kvmx_ioeventfd_dev *p, *o;
	struct eventfd_ctx *ctx;
	int r;

	ctx = eventfd_ctx_fdget(a->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p) {
		eventfd_ctx_put(ctx);
		return -ENOMEM;
	}
	p->dev.ops = &ioeventfd_ops;
	p->dev.base = a->addr;
	p->dev.len = a->len ? a->len : 1;
	p->ctx = ctx;
	p->bus = bus;
	p->len = a->len;
	p->datamatch = a->datamatch;
	p->wildcard = !(a->flags & KVMX_IOEVENTFD_FLAG_DATAMATCH);

	mutex_lock(&vm->lock);
	r = -EEXIST;
	list_for_each_entry(o, &vm->ioeventfds, list)
		if (ioeventfd_same(o, a, bus))
			goto fail;
	r = kvmx_io_bus_register(vm, bus, &p->dev);
	if (r)
		goto fail;
	list_add_tail(&p->list, &vm->ioeventfds);
	mutex_unlock(&vm->lock);
	return 0;
fail:
	mutex_unlock(&vm->lock);
	eventfd_ctx_put(ctx);
	kfree(p);
	return r;
}

static void ioeventfd_free(struct kvmx_ioeventfd_dev *p)
{
	eventfd_ctx_put(p->ctx);
	kfree(p);
}

static int ioeventfd_deassign(struct kvmx_vm *vm, const struct kvmx_ioeventfd *a,
			      enum kvmx_bus_id bus)
{
	struct kvmx_ioeventfd_dev *p, *found = NULL;
	struct eventfd_ctx *ctx;

	ctx = eventfd_ctx_fdget(a->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	mutex_lock(&vm->lock);
	list_for_each_entry(p, &vm->ioeventfds, list) {
		if (p->ctx == ctx && ioeventfd_same(p, a, bus)) {
			kvmx_io_bus_unregister(vm, bus, &p->dev);
			list_del(&p->list);
			found = p;
			break;
		}
	}
	mutex_unlock(&vm->lock);
	eventfd_ctx_put(ctx);
	if (!found)
		return -ENOENT;
	/* A vCPU may be in its write right now (under RCU). */
	synchronize_rcu();
	ioeventfd_free(found);
	return 0;
}

static int ioeventfd(struct kvmx_vm *vm, const struct kvmx_ioeventfd *a)
{
	enum kvmx_bus_id bus = (a->flags & KVMX_IOEVENTFD_FLAG_PIO) ? KVMX_PIO_BUS : KVMX_MMIO_BUS;
	u32 valid = KVMX_IOEVENTFD_FLAG_DATAMATCH | KVMX_IOEVENTFD_FLAG_PIO |
		    KVMX_IOEVENTFD_FLAG_DEASSIGN;

	/* KVM's rules: natural sizes or 0 (any), no wrap, known flags only. */
	if (a->len != 0 && a->len != 1 && a->len != 2 && a->len != 4 && a->len != 8)
		return -EINVAL;
	if (a->addr + a->len < a->addr || (a->flags & ~valid))
		return -EINVAL;
	if (!a->len && (a->flags & KVMX_IOEVENTFD_FLAG_DATAMATCH))
		return -EINVAL;
	if (bus == KVMX_PIO_BUS && a->addr + a->len > 0x10000)
		return -EINVAL;
	if (a->flags & KVMX_IOEVENTFD_FLAG_DEASSIGN)
		return ioeventfd_deassign(vm, a, bus);
	return ioeventfd_assign(vm, a, bus);
}

long kvmx_eventfd_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp)
{
	switch (ioctl) {
	case KVMX_IRQFD: {
		struct kvmx_irqfd a;

		if (copy_from_user(&a, argp, sizeof(a)))
			return -EFAULT;
		if (a.flags & ~(KVMX_IRQFD_FLAG_DEASSIGN | KVMX_IRQFD_FLAG_RESAMPLE))
			return -EINVAL;
		if (a.flags & KVMX_IRQFD_FLAG_DEASSIGN)
			return irqfd_deassign(vm, &a);
		return irqfd_assign(vm, &a);
	}
	case KVMX_IOEVENTFD: {
		struct kvmx_ioeventfd a;

		if (copy_from_user(&a, argp, sizeof(a)))
			return -EFAULT;
		return ioeventfd(vm, &a);
	}
	default:
		return -ENOTTY;
	}
}

void kvmx_eventfd_init_vm(struct kvmx_vm *vm)
{
	mutex_init(&vm->irqfd_assign_lock);
	spin_lock_init(&vm->irqfds_lock);
	INIT_LIST_HEAD(&vm->irqfds);
	INIT_LIST_HEAD(&vm->resamplers);
	INIT_LIST_HEAD(&vm->ioeventfds);
}

/* The VM is dying: no vCPU runs, no VM-fd ioctl is left; the irqchip still exists. */
void kvmx_eventfd_destroy_vm(struct kvmx_vm *vm)
{
	struct kvmx_ioeventfd_dev *p, *pn;
	struct kvmx_irqfd_link *f;

	/*
	 * One at a time, unlinked under the lock: an eventfd closed meanwhile
	 * finds its irqfd unlinked and leaves it to us (or we find it gone).
	 */
	for (;;) {
		spin_lock_irq(&vm->irqfds_lock);
		f = list_first_entry_or_null(&vm->irqfds, struct kvmx_irqfd_link, list);
		if (f)
			list_del_init(&f->list);
		spin_unlock_irq(&vm->irqfds_lock);
		if (!f)
			break;
		irqfd_free(f);
	}
	flush_workqueue(irqfd_cleanup_wq);

	mutex_lock(&vm->lock);
	list_for_each_entry(p, &vm->ioeventfds, list)
		kvmx_io_bus_unregister(vm, p->bus, &p->dev);
	mutex_unlock(&vm->lock);
	list_for_each_entry_safe(p, pn, &vm->ioeventfds, list) {
		list_del(&p->list);
		ioeventfd_free(p);
	}
}

int kvmx_eventfd_init(void)
{
	irqfd_cleanup_wq = alloc_workqueue("kvmx-irqfd-cleanup", 0, 0);
	return irqfd_cleanup_wq ? 0 : -ENOMEM;
}

void kvmx_eventfd_exit(void)
{
	rcu_barrier();		/* irqfd_free_rcu() is module code */
	destroy_workqueue(irqfd_cleanup_wq);
}
