# kvmx top-level build.  See README.md; the two commands that matter:
#   make demo    run the main job (natively with VT-x and root, else in the rig)
#   make check   unit tests + rig tests, ending with "N passed, N failed"
SHELL := /bin/bash
BUILD := build
JOBS  ?= $(shell nproc)
# The kernel build tree for `make kmod` (running kernel's, else the rig's).
KDIR  ?= $(shell scripts/kdir.sh)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all setup setup-build kmod rig-kmod userspace guests unit rig-check rig-dev \
	check demo bench stress apicv-stall selftests lint dkms-test install uninstall clean

all: kmod userspace guests

setup:
	@scripts/setup.sh all
setup-build:
	@scripts/setup.sh build

# kvmx.ko against KDIR, built in place (kmod/kvmx.ko).
kmod: setup-build
	$(MAKE) -C kmod KDIR=$(KDIR)

# kvmx.ko against the rig kernel's headers, built in a copy of the sources so
# it never clobbers a native build.
rig-kmod: setup-build
	@scripts/stage-kmod.sh $(BUILD)/rig/kmod
	$(MAKE) -s -C $(BUILD)/rig/kmod/kmod KDIR=/usr/src/linux-headers-$$(scripts/rig-kernel.sh)
	@cp $(BUILD)/rig/kmod/kmod/kvmx.ko $(BUILD)/rig/kmod/kvmx.ko

userspace: setup-build
	@cmake -S . -B $(BUILD)/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/cmake -j$(JOBS)
	@mkdir -p $(BUILD)/userspace
	@install -m 755 $(BUILD)/cmake/kvmx $(BUILD)/cmake/kvmx-rig-tests $(BUILD)/cmake/kvm-client $(BUILD)/cmake/kvmx-stress \
		$(BUILD)/userspace/

guests: setup-build
	@$(MAKE) -s -C guest-images OUT=$(CURDIR)/$(BUILD)/guests

unit: userspace
	$(BUILD)/cmake/kvmx-unit-tests

rig-check: setup rig-kmod userspace guests
	scripts/rig.sh check

# The developer's loop: rebuild what changed, then boot the dev job, e.g.
#   make rig-dev RIG_DEV_CMD='gtest /kvmx/kvmx-rig-tests --gtest_filter=*Safety*'
rig-dev: setup rig-kmod userspace guests
	scripts/rig.sh dev

check:
	@scripts/check.sh

demo:
	@scripts/demo.sh

# Not part of check: look for the apicv SMP stall of issue 14 (six 4-vCPU
# Linux boots with apicv=1; a stalled one prints its vCPUs' RIPs as symbols).
apicv-stall: setup rig-kmod userspace guests
	RIG_LINUX_GUEST=1 scripts/rig.sh --timeout 2400 apicv-stall

# Not part of check: the long stress run in the rig, 2 CPUs (about 17 minutes).
stress: setup rig-kmod userspace guests
	RIG_STRESS_SCALE=full scripts/rig.sh --cpus 2 --timeout 2400 stress

# Not part of check: KVM's own selftests (Debian's linux-source-6.1) on
# kvm_intel and on kvmx in the rig, side by side (about 7 minutes, 1 CPU).
selftests: setup rig-kmod userspace guests
	@scripts/build-kvm-selftests.sh
	RIG_SELFTESTS=1 scripts/rig.sh --timeout 1800 selftests

# Not part of check: kvmx against kvm_intel in the rig (about 30 minutes).
bench:
	@scripts/bench.sh

lint: setup-build
	@scripts/lint-kmod.sh

dkms-test: setup-build
	@scripts/dkms-test.sh

# Installs like an out-of-tree module: kvmx.ko into extra/, the udev rule,
# the uapi header and the tool.
install: kmod userspace
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=extra modules_install
	install -D -m 644 kmod/99-kvmx.rules $(DESTDIR)/etc/udev/rules.d/99-kvmx.rules
	install -D -m 644 uapi/linux/kvmx.h $(DESTDIR)$(PREFIX)/include/linux/kvmx.h
	install -D -m 755 $(BUILD)/cmake/kvmx $(DESTDIR)$(PREFIX)/bin/kvmx
	[ -n "$(DESTDIR)" ] || depmod -a $$(basename $$(dirname $(KDIR)) 2>/dev/null) || true

uninstall:
	rm -f $(DESTDIR)/etc/udev/rules.d/99-kvmx.rules $(DESTDIR)$(PREFIX)/include/linux/kvmx.h \
		$(DESTDIR)$(PREFIX)/bin/kvmx
	find $(DESTDIR)/lib/modules -path '*/extra/kvmx.ko*' -delete 2>/dev/null || true

clean:
	-$(MAKE) -C kmod KDIR=$(KDIR) clean
	rm -rf $(BUILD)
