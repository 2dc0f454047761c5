// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel irqchip of a VM, as KVM_CREATE_IRQCHIP makes it: the 8259
 * pair (i8259.c), the IOAPIC (ioapic.c) and a local APIC per vCPU
 * (lapic.c), with the table that maps the VMM's interrupt numbers (GSIs) to
 * their pins or to MSI messages.
 *
 * The VM fd's ioctls for them live here: KVM_CREATE_IRQCHIP,
 * KVM_IRQ_LINE(_STATUS), KVM_GET/SET_IRQCHIP, KVM_SET_GSI_ROUTING,
 * KVM_SIGNAL_MSI and KVM_SET_BOOT_CPU_ID.
 *
 * KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) makes the other kind of irqchip
 * (QEMU's kernel-irqchip=split, microvm's default): the local APICs stay in
 * the module, the 8259s and the IOAPIC are the VMM's.  The VMM's IOAPIC
 * pins are GSIs routed as MSIs; its 8259 hands ExtINTs in with
 * KVM_INTERRUPT; EOIs of the level vectors its pins send come back to it as
 * KVMX_EXIT_IOAPIC_EOI.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvmx.h"

#define KVMX_NR_GSIS	KVMX_MAX_IRQ_ROUTES	/* GSIs are below this, as in KVM */

/* One route: a GSI to a pin of a chip, or to an MSI message. */
struct kvmx_irq_route {
	u32 gsi;
	u32 type;		/* KVMX_IRQ_ROUTING_* */
	union {
		struct {
			u32 chip;	/* KVMX_IRQCHIP_* */
			u32 pin;
		} irqchip;
		struct {
			u64 address;
			u32 data;
		} msi;
	};
};

struct kvmx_irq_routes {
	struct rcu_head rcu;
	/* Split irqchip: vectors the VMM's IOAPIC pins send level-triggered. */
	DECLARE_BITMAP(user_ioapic_level, 256);
	u32 nr;
	struct kvmx_irq_route r[];
};

/* ---- delivering a GSI ---- */

static int route_set(struct kvmx_vm *vm, const struct kvmx_irq_route *e,
		     enum kvmx_irq_source src, bool level)
{
	struct kvmx_vm_irqchip *chip = vm->irqchip;
	struct kvmx_irq_msg m;

	if (e->type == KVMX_IRQ_ROUTING_MSI) {
		/* A message is an edge: only the rising level sends it. */
		if (!level)
			return -1;
		kvmx_msi_to_msg(e->msi.address, e->msi.data, &m);
		return kvmx_apic_deliver(vm, NULL, &m);
	}
	switch (e->irqchip.chip) {
	case KVMX_IRQCHIP_PIC_MASTER:
		return kvmx_pic_set_irq(chip->pic, src, e->irqchip.pin, level);
	case KVMX_IRQCHIP_PIC_SLAVE:
		return kvmx_pic_set_irq(chip->pic, src, 8 + e->irqchip.pin, level);
	default:
		return kvmx_ioapic_set_irq(chip->ioapic, src, e->irqchip.pin, level);
	}
}

int kvmx_set_gsi(struct kvmx_vm *vm, enum kvmx_irq_source src, u32 gsi, bool level)
{
	struct kvmx_irq_routes *routes;
	int ret = -1;
	u32 i;

	rcu_read_lock();
	routes = rcu_dereference(vm->irqchip->routes);
	for (i = 0; routes && i < routes->nr; i++) {
		int r;

		if (routes->r[i].gsi != gsi)
			continue;
		/* KVM's sum: how many took it, -1 if every route refused. */
		r = route_set(vm, &routes->r[i], src, level);
		if (r < 0)
			continue;
		ret = r + (ret < 0 ? 0 : ret);
	}
	rcu_read_unlock();
	return ret;
}

s64 kvmx_irqchip_pin_gsi(struct kvmx_vm *vm, u32 chip, u32 pin)
{
	struct kvmx_irq_routes *routes;
	s64 gsi = -1;
	u32 i;

	rcu_read_lock();
	routes = rcu_dereference(vm->irqchip->routes);
	for (i = 0; routes && i < routes->nr; i++) {
		const struct kvmx_irq_route *e = &routes->r[i];

		if (e->type == KVMX_IRQ_ROUTING_IRQCHIP && e->irqchip.chip == chip &&
		    e->irqchip.pin == pin)
			gsi = e->gsi;
	}
	rcu_read_unlock();
	return gsi;
}

/* ---- the routing table ---- */

static int route_from_user(const struct kvmx_irq_routing_entry *u, struct kvmx_irq_route *e)
{
	if (u->gsi >= KVMX_NR_GSIS || u->flags)
		return -EINVAL;
	e->gsi = u->gsi;
	e->type = u->type;
	switch (u->type) {
	case KVMX_IRQ_ROUTING_IRQCHIP:
		e->irqchip.chip = u->u.irqchip.irqchip;
		e->irqchip.pin = u->u.irqchip.pin;
		switch (e->irqchip.chip) {
		case KVMX_IRQCHIP_PIC_MASTER:
		case KVMX_IRQCHIP_PIC_SLAVE:
			return e->irqchip.pin < 8 ? 0 : -EINVAL;
		case KVMX_IRQCHIP_IOAPIC:
			return e->irqchip.pin < KVMX_IOAPIC_NUM_PINS ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	case KVMX_IRQ_ROUTING_MSI:
		/* Bits 63:32 are the x2APIC extended destination, not offered here. */
		if (u->u.msi.address_hi)
			return -EINVAL;
		e->msi.address = u->u.msi.address_lo;
		e->msi.data = u->u.msi.data;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * KVM's rule for one GSI: either one MSI route, or at most one route to
 * each chip.
 */
static bool route_conflicts(const struct kvmx_irq_routes *t, const struct kvmx_irq_route *e)
{
	u32 i;

	for (i = 0; i < t->nr; i++) {
		const struct kvmx_irq_route *o = &t->r[i];

		if (o->gsi != e->gsi)
			continue;
		if (o->type == KVMX_IRQ_ROUTING_MSI || e->type == KVMX_IRQ_ROUTING_MSI ||
		    o->irqchip.chip == e->irqchip.chip)
			return true;
	}
	return false;
}

/*
 * A split irqchip has no chip to route to, only MSIs; and which vectors the
 * VMM's IOAPIC pins send level-triggered decides which EOIs go back to it
 * (KVM computes the same from the same routes).
 */
static int split_routes(const struct kvmx_vm_irqchip *chip, struct kvmx_irq_routes *t)
{
	u32 i;

	if (!chip->split)
		return 0;
	for (i = 0; i < t->nr; i++) {
		const struct kvmx_irq_route *e = &t->r[i];

		if (e->type != KVMX_IRQ_ROUTING_MSI)
			return -EINVAL;
		/* MSI data bit 15: level trigger (SDM Vol. 3A 10.11.2). */
		if (e->gsi < chip->nr_user_ioapic_pins && (e->msi.data & BIT(15)))
			__set_bit(e->msi.data & 0xff, t->user_ioapic_level);
	}
	return 0;
}

bool kvmx_irqchip_user_ioapic_eoi(struct kvmx_vcpu *v, u8 vector)
{
	struct kvmx_irq_routes *routes;
	bool found = false;
	u32 i;

	rcu_read_lock();
	routes = rcu_dereference(v->vm->irqchip->routes);
	if (!routes || !test_bit(vector, routes->user_ioapic_level))
		goto out;
	/* Only a pin that names this vCPU: its EOI is the one the IOAPIC waits for. */
	for (i = 0; i < routes->nr && !found; i++) {
		const struct kvmx_irq_route *e = &routes->r[i];
		struct kvmx_irq_msg m;

		if (e->gsi >= v->vm->irqchip->nr_user_ioapic_pins || !(e->msi.data & BIT(15)) ||
		    (e->msi.data & 0xff) != vector)
			continue;
		kvmx_msi_to_msg(e->msi.address, e->msi.data, &m);
		found = kvmx_apic_match_dest(v, &m);
	}
out:
	rcu_read_unlock();
	return found;
}

static void replace_routes(struct kvmx_vm *vm, struct kvmx_irq_routes *new)
{
	struct kvmx_irq_routes *old;

	old = rcu_replace_pointer(vm->irqchip->routes, new, lockdep_is_held(&vm->lock));
	if (old)
		kvfree_rcu(old, rcu);
}

static int set_gsi_routing(struct kvmx_vm *vm, struct kvmx_irq_routing __user *u)
{
	struct kvmx_irq_routing hdr;
	struct kvmx_irq_routing_entry *ue = NULL;
	struct kvmx_irq_routes *t;
	u32 i;
	int r;

	if (copy_from_user(&hdr, u, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nr > KVMX_MAX_IRQ_ROUTES || hdr.flags)
		return -EINVAL;
	if (hdr.nr) {
		ue = vmemdup_user(u->entries, array_size(sizeof(*ue), hdr.nr));
		if (IS_ERR(ue))
			return PTR_ERR(ue);
	}
	t = kvzalloc(struct_size(t, r, hdr.nr), GFP_KERNEL_ACCOUNT);
	r = -ENOMEM;
	if (!t)
		goto out;
	for (i = 0; i < hdr.nr; i++) {
		r = route_from_user(&ue[i], &t->r[t->nr]);
		if (!r && route_conflicts(t, &t->r[t->nr]))
			r = -EINVAL;
		if (r) {
			kvfree(t);
			goto out;
		}
		t->nr++;
	}
	mutex_lock(&vm->lock);
	if (vm->irqchip) {
		r = split_routes(vm->irqchip, t);
		if (!r)
			replace_routes(vm, t);
	} else {
		r = -EINVAL;	/* nothing to route to, as KVM says */
	}
	mutex_unlock(&vm->lock);
	if (r)
		kvfree(t);
out:
	kvfree(ue);
	return r;
}

/* KVM's default table: ISA IRQs to both the PICs and the IOAPIC, the rest to the IOAPIC. */
static struct kvmx_irq_routes *default_routes(void)
{
	struct kvmx_irq_routes *t;
	u32 gsi;

	t = kvzalloc(struct_size(t, r, 16 * 2 + KVMX_IOAPIC_NUM_PINS - 16), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	for (gsi = 0; gsi < KVMX_IOAPIC_NUM_PINS; gsi++) {
		if (gsi < 16)
			t->r[t->nr++] = (struct kvmx_irq_route) {
				.gsi = gsi, .type = KVMX_IRQ_ROUTING_IRQCHIP,
				.irqchip = { gsi < 8 ? KVMX_IRQCHIP_PIC_MASTER : KVMX_IRQCHIP_PIC_SLAVE,
					     gsi & 7 },
			};
		t->r[t->nr++] = (struct kvmx_irq_route) {
			.gsi = gsi, .type = KVMX_IRQ_ROUTING_IRQCHIP,
			.irqchip = { KVMX_IRQCHIP_IOAPIC, gsi },
		};
	}
	return t;
}

/* ---- create and destroy ---- */

/*
 * KVM_CREATE_IRQCHIP (@split false) or the split irqchip: once per VM and
 * before any vCPU, as every vCPU needs its local APIC from birth (KVM's
 * rule too).
 */
static int create_irqchip(struct kvmx_vm *vm, bool split, u32 nr_user_ioapic_pins)
{
	struct kvmx_vm_irqchip *chip = NULL;
	struct kvmx_irq_routes *routes = NULL;
	int r;

	mutex_lock(&vm->lock);
	r = -EEXIST;
	if (vm->irqchip)
		goto out;
	/* KVM's errnos: EINVAL for KVM_CREATE_IRQCHIP, EEXIST for the split one. */
	r = split ? -EEXIST : -EINVAL;
	if (vm->nr_vcpus)
		goto out;
	r = -ENOMEM;
	chip = kzalloc(sizeof(*chip), GFP_KERNEL_ACCOUNT);
	/* The split one starts with no routes at all, as KVM's. */
	routes = split ? kvzalloc(sizeof(*routes), GFP_KERNEL_ACCOUNT) : default_routes();
	if (!chip || !routes)
		goto out;
	chip->vm = vm;
	chip->split = split;
	chip->nr_user_ioapic_pins = nr_user_ioapic_pins;
	if (!split) {
		chip->pic = kvmx_pic_create(vm);
		if (IS_ERR(chip->pic)) {
			r = PTR_ERR(chip->pic);
			goto out;
		}
		chip->ioapic = kvmx_ioapic_create(vm);
		if (IS_ERR(chip->ioapic)) {
			r = PTR_ERR(chip->ioapic);
			kvmx_pic_destroy(vm, chip->pic);
			goto out;
		}
	}
	RCU_INIT_POINTER(chip->routes, routes);
	/* Complete before anyone sees it: ioctls read vm->irqchip without the lock. */
	smp_store_release(&vm->irqchip, chip);
	mutex_unlock(&vm->lock);
	return 0;
out:
	mutex_unlock(&vm->lock);
	kfree(chip);
	kvfree(routes);
	return r;
}

int kvmx_irqchip_enable_split(struct kvmx_vm *vm, u64 nr_user_ioapic_pins)
{
	if (nr_user_ioapic_pins > KVMX_MAX_IRQ_ROUTES)
		return -EINVAL;
	return create_irqchip(vm, true, nr_user_ioapic_pins);
}

/* The VM is going: no vCPU and no VM-fd ioctl is left to use the irqchip. */
void kvmx_irqchip_destroy(struct kvmx_vm *vm)
{
	struct kvmx_vm_irqchip *chip = vm->irqchip;

	if (!chip)
		return;
	mutex_lock(&vm->lock);
	if (chip->ioapic)
		kvmx_ioapic_destroy(vm, chip->ioapic);
	if (chip->pic)
		kvmx_pic_destroy(vm, chip->pic);
	vm->irqchip = NULL;
	mutex_unlock(&vm->lock);
	kvfree(rcu_dereference_protected(chip->routes, true));
	kfree(chip);
}

/* ---- KVM_GET/SET_IRQCHIP ---- */

static int irqchip_state(struct kvmx_vm *vm, void __user *argp, bool set)
{
	struct kvmx_vm_irqchip *chip = vm->irqchip;
	struct kvmx_irqchip *s;
	int r;

	/* A split irqchip's PIC and IOAPIC are the VMM's to save. */
	if (chip->split)
		return -ENXIO;
	s = memdup_user(argp, sizeof(*s));
	if (IS_ERR(s))
		return PTR_ERR(s);
	switch (s->chip_id) {
	case KVMX_IRQCHIP_PIC_MASTER:
	case KVMX_IRQCHIP_PIC_SLAVE:
		r = set ? kvmx_pic_set_state(chip->pic, s->chip_id, &s->chip.pic) :
			  kvmx_pic_get_state(chip->pic, s->chip_id, &s->chip.pic);
		break;
	case KVMX_IRQCHIP_IOAPIC:
		r = set ? kvmx_ioapic_set_state(chip->ioapic, &s->chip.ioapic) :
			  kvmx_ioapic_get_state(chip->ioapic, &s->chip.ioapic);
		break;
	default:
		r = -EINVAL;
	}
	if (!r && !set && copy_to_user(argp, s, sizeof(*s)))
		r = -EFAULT;
	kfree(s);
	return r;
}

/* ---- KVM_IRQ_LINE, KVM_SIGNAL_MSI ---- */

static int irq_line(struct kvmx_vm *vm, struct kvmx_irq_level __user *u, bool status)
{
	struct kvmx_irq_level l;

	if (copy_from_user(&l, u, sizeof(l)))
		return -EFAULT;
	l.status = kvmx_set_gsi(vm, KVMX_IRQ_SOURCE_USER, l.irq, l.level);
	if (status && copy_to_user(u, &l, sizeof(l)))
		return -EFAULT;
	return 0;
}

static int signal_msi(struct kvmx_vm *vm, struct kvmx_msi __user *u)
{
	struct kvmx_irq_msg m;
	struct kvmx_msi msi;

	if (copy_from_user(&msi, u, sizeof(msi)))
		return -EFAULT;
	if (msi.flags || msi.address_hi)
		return -EINVAL;
	kvmx_msi_to_msg(msi.address_lo, msi.data, &m);
	/* As KVM: the number of APICs that took it; -1 (EPERM) if none did. */
	return kvmx_apic_deliver(vm, NULL, &m);
}

long kvmx_irqchip_vm_ioctl(struct kvmx_vm *vm, unsigned int ioctl, void __user *argp)
{
	switch (ioctl) {
	case KVMX_CREATE_IRQCHIP:
		return create_irqchip(vm, false, 0);
	case KVMX_SET_GSI_ROUTING:
		return set_gsi_routing(vm, argp);
	case KVMX_SET_BOOT_CPU_ID: {
		unsigned long id = (unsigned long)argp;
		int r = 0;

		if (id >= KVMX_MAX_VCPUS)
			return -EINVAL;
		mutex_lock(&vm->lock);
		if (vm->nr_vcpus)
			r = -EBUSY;
		else
			vm->bsp_id = id;
		mutex_unlock(&vm->lock);
		return r;
	}
	}
	/* The rest need the irqchip; it never goes away while the VM fd is open. */
	if (!smp_load_acquire(&vm->irqchip))
		return ioctl == KVMX_SIGNAL_MSI ? -EINVAL : -ENXIO;
	switch (ioctl) {
	case KVMX_IRQ_LINE:
		return irq_line(vm, argp, false);
	case KVMX_IRQ_LINE_STATUS:
		return irq_line(vm, argp, true);
	case KVMX_GET_IRQCHIP:
		return irqchip_state(vm, argp, false);
	case KVMX_SET_IRQCHIP:
		return irqchip_state(vm, argp, true);
	case KVMX_SIGNAL_MSI:
		return signal_msi(vm, argp);
	default:
		return -ENOTTY;
	}
}
