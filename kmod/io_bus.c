// SPDX-License-Identifier: GPL-2.0
/*
 * The buses of the devices that live in the module (the 8259s, the IOAPIC):
 * each registers the ports or MMIO range it owns, like kvmtool's devices.
 *
 * Exit handlers don't know about them.  pio.c and mmio.c prepare every
 * access as an exit to userspace (run->io, run->mmio) with a completion for
 * the next KVM_RUN; kvmx_io_bus_serve() then looks the address up here, does
 * the access on the device and runs the completion at once, so the guest
 * goes on without leaving the kernel.  An address nobody here owns goes to
 * userspace as before.
 *
 * Registration is rare (an irqchip is created once) and lookups happen on
 * every I/O exit, from any vCPU: a bus is an RCU-replaced array.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>

#include "kvmx.h"

static struct kvmx_io_bus *bus_of(struct kvmx_vm *vm, enum kvmx_bus_id id)
{
	return rcu_dereference_protected(vm->buses[id], lockdep_is_held(&vm->lock));
}

int kvmx_io_bus_register(struct kvmx_vm *vm, enum kvmx_bus_id id, struct kvmx_io_device *d)
{
	struct kvmx_io_bus *old = bus_of(vm, id), *new;
	unsigned int i, n = old ? old->n : 0;

	lockdep_assert_held(&vm->lock);
	if (n == KVMX_IO_BUS_MAX_DEVS)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		struct kvmx_io_device *o = old->devs[i];

		if (d->base < o->base + o->len && o->base < d->base + d->len)
			return -EEXIST;
	}
	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;
	if (old)
		memcpy(new->devs, old->devs, n * sizeof(new->devs[0]));
	new->devs[n] = d;
	new->n = n + 1;
	rcu_assign_pointer(vm->buses[id], new);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

void kvmx_io_bus_unregister(struct kvmx_vm *vm, enum kvmx_bus_id id, struct kvmx_io_device *d)
{
	struct kvmx_io_bus *bus = bus_of(vm, id);
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	if (!bus)
		return;
	/*
	 * Shrunk in place: a reader sees the device or not, and the caller
	 * waits for readers (synchronize_rcu) before it frees the device.
	 */
	for (i = 0; i < bus->n; i++) {
		if (bus->devs[i] != d)
			continue;
		bus->devs[i] = bus->devs[bus->n - 1];
		WRITE_ONCE(bus->n, bus->n - 1);
		return;
	}
}

void kvmx_io_bus_destroy(struct kvmx_vm *vm)
{
	unsigned int id;

	/* The VM is dying: no vCPU runs, nobody reads the buses. */
	for (id = 0; id < KVMX_NR_BUSES; id++)
		kfree(rcu_dereference_protected(vm->buses[id], true));
}

/* The device owning [addr, addr + len) on @id, under rcu_read_lock(). */
static struct kvmx_io_device *find_dev(struct kvmx_vm *vm, enum kvmx_bus_id id, u64 addr,
				       unsigned int len)
{
	struct kvmx_io_bus *bus = rcu_dereference(vm->buses[id]);
	unsigned int i, n;

	if (!bus)
		return NULL;
	n = READ_ONCE(bus->n);
	for (i = 0; i < n; i++) {
		struct kvmx_io_device *d = READ_ONCE(bus->devs[i]);

		if (d && addr >= d->base && addr + len <= d->base + d->len)
			return d;
	}
	return NULL;
}

static int dev_access(struct kvmx_io_device *d, struct kvmx_vcpu *v, u64 addr,
		      unsigned int len, bool write, void *data)
{
	return write ? d->ops->write(d, v, addr, len, data) : d->ops->read(d, v, addr, len, data);
}

/* run->io, element by element (a string instruction's batch). */
static bool serve_pio(struct kvmx_vcpu *v)
{
	struct kvmx_run *run = v->run;
	bool write = run->io.direction == KVMX_EXIT_IO_OUT;
	unsigned int size = run->io.size, i;
	u8 *data = kvmx_pio_data(v);	/* run->io.data_offset's page */
	struct kvmx_io_device *d;
	bool done = false;

	rcu_read_lock();
	d = find_dev(v->vm, KVMX_PIO_BUS, run->io.port, size);
	if (d) {
		done = true;
		for (i = 0; i < run->io.count; i++)
			if (dev_access(d, v, run->io.port, size, write, data + i * size))
				done = false;
	}
	rcu_read_unlock();
	return done;
}

static bool serve_mmio(struct kvmx_vcpu *v)
{
	struct kvmx_run *run = v->run;
	struct kvmx_io_device *d;
	bool done = false;

	if (kvmx_lapic_mmio(v, run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
			    run->mmio.data))
		return true;
	rcu_read_lock();
	d = find_dev(v->vm, KVMX_MMIO_BUS, run->mmio.phys_addr, run->mmio.len);
	if (d)
		done = !dev_access(d, v, run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
				   run->mmio.data);
	rcu_read_unlock();
	return done;
}

/*
 * The exit to userspace being prepared is an access a device here owns: do
 * it and finish the instruction (its completion), then look again, since a
 * completion may prepare the next access (a read-modify-write's write, a
 * string instruction's next element).  Returns what the handler should:
 * 1 to re-enter, 0 to go to userspace, <0 on error.
 */
int kvmx_io_bus_serve(struct kvmx_vcpu *v)
{
	int r = 0;

	while (r == 0 && v->complete_userspace) {
		bool served;

		switch (v->run->exit_reason) {
		case KVMX_EXIT_IO:
			served = serve_pio(v);
			break;
		case KVMX_EXIT_MMIO:
			served = serve_mmio(v);
			break;
		default:
			served = false;
		}
		if (!served)
			break;
		v->stat.kernel_io++;
		r = kvmx_complete_userspace(v);
	}
	return r;
}
