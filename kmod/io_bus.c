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
	unsigned int n = old ? old->n : 0;

	lockdep_assert_held(&vm->lock);
	if (n == KVMX_IO_BUS_MAX_DEVS)
		return -ENOSPC;
	new = kzalloc(struct_size(new, devs, n + 1), GFP_KERNEL_ACCOUNT);
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
	struct kvmx_io_bus *old = bus_of(vm, id), *new;
	unsigned int i, j = 0;

	lockdep_assert_held(&vm->lock);
	if (!old)
		return;
	/*
	 * A new array without @d, in the same order (the order devices are
	 * offered an access in); readers may still see the old one, so the
	 * caller waits for them (synchronize_rcu) before it frees @d.
	 */
	new = kzalloc(struct_size(new, devs, old->n), GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	for (i = 0; i < old->n; i++)
		if (old->devs[i] != d)
			new->devs[j++] = old->devs[i];
	new->n = j;
	rcu_assign_pointer(vm->buses[id], new);
	kfree_rcu(old, rcu);
}

void kvmx_io_bus_destroy(struct kvmx_vm *vm)
{
	unsigned int id;

	/* The VM is dying: no vCPU runs, nobody reads the buses. */
	for (id = 0; id < KVMX_NR_BUSES; id++)
		kfree(rcu_dereference_protected(vm->buses[id], true));
}

/*
 * Offer an access to the devices on @id that cover [addr, addr + len), in
 * order, until one takes it: 0 if one did, -EOPNOTSUPP if none.  The caller
 * holds rcu_read_lock().
 */
static int bus_access(struct kvmx_vcpu *v, enum kvmx_bus_id id, u64 addr, unsigned int len,
		      bool write, void *data)
{
	struct kvmx_io_bus *bus = rcu_dereference(v->vm->buses[id]);
	unsigned int i, n;

	if (!bus)
		return -EOPNOTSUPP;
	n = READ_ONCE(bus->n);
	for (i = 0; i < n; i++) {
		struct kvmx_io_device *d = READ_ONCE(bus->devs[i]);
		int r;

		if (!d || addr < d->base || addr + len > d->base + d->len)
			continue;
		r = write ? d->ops->write(d, v, addr, len, data) :
			    d->ops->read(d, v, addr, len, data);
		if (!r)
			return 0;
	}
	return -EOPNOTSUPP;
}

/*
 * The port access of v->uexit, element by element (a string instruction's
 * batch; the data is in the PIO page).  The first element decides: nobody
 * takes it, the batch goes to userspace.  A later element nobody takes is
 * dropped (an ioeventfd whose datamatch only some elements of a REP OUTS
 * match; no device here refuses otherwise).
 */
static bool serve_pio(struct kvmx_vcpu *v)
{
	unsigned int size = v->uexit.size, count = v->uexit.count, i;
	u8 *data = kvmx_pio_data(v);
	bool done;

	if (!size || size > 8 || count > PAGE_SIZE / size)
		return false;
	rcu_read_lock();
	done = !bus_access(v, KVMX_PIO_BUS, v->uexit.addr, size, v->uexit.write, data);
	for (i = 1; done && i < count; i++)
		bus_access(v, KVMX_PIO_BUS, v->uexit.addr, size, v->uexit.write, data + i * size);
	rcu_read_unlock();
	return done;
}

/* The MMIO access of v->uexit; what a read returns goes to run->mmio.data. */
static bool serve_mmio(struct kvmx_vcpu *v)
{
	unsigned int len = v->uexit.size;
	u64 data = v->uexit.data;
	bool done;

	if (!len || len > sizeof(data))
		return false;
	if (kvmx_lapic_mmio(v, v->uexit.addr, len, v->uexit.write, &data)) {
		done = true;
	} else {
		rcu_read_lock();
		done = !bus_access(v, KVMX_MMIO_BUS, v->uexit.addr, len, v->uexit.write, &data);
		rcu_read_unlock();
	}
	if (done && !v->uexit.write)
		memcpy(v->run->mmio.data, &data, len);
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

		switch (v->uexit.kind) {
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
		/* The completion may prepare the next access: it records its own. */
		v->uexit.kind = 0;
		v->stat.kernel_io++;
		r = kvmx_complete_userspace(v);
	}
	return r;
}
