#!/usr/bin/env bash
# make demo: load kvmx and run a guest natively when this host has VT-x and
# we are root; otherwise do the same inside the rig (Bochs, emulated VT-x).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"

native=no
if grep -qw vmx /proc/cpuinfo && [ "$(id -u)" = 0 ] &&
   [ -d "/lib/modules/$(uname -r)/build" ] && [ ! -e /proc/sys/kernel/modules_disabled -o \
	"$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 0 ]; then
	native=yes
fi

if [ $native = yes ]; then
	say "demo: this host has VT-x: running natively"
	make -s all
	lsmod | grep -q '^kvmx ' || insmod kmod/kvmx.ko
	build/cmake/kvmx info
	for spec in hello16:real hello32:protected hello_paged32:paged32 hello64:long; do
		g=${spec%%:*}
		echo "### kvmx run $g.bin --mode ${spec#*:}"
		build/cmake/kvmx run "build/guests/$g.bin" --mode "${spec#*:}" --timeout 60
	done
	echo "### kvmx run regs.bin --mode long --dump-regs --stats"
	build/cmake/kvmx run build/guests/regs.bin --mode long --dump-regs --stats --timeout 60
	# This host's own kernel as a kvmx guest, with a busybox initramfs.
	k=/boot/vmlinuz-$(uname -r)
	if [ -r "$k" ] && [ -x /bin/busybox ]; then
		g=$KVMX_BUILD/demo-linux
		rm -rf "$g" && mkdir -p "$g/root/bin" "$g/root/proc" "$g/root/dev"
		cp /bin/busybox "$g/root/bin/"
		install -m 755 tests/rig/linux-guest/init "$g/root/init"
		(cd "$g/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$g/initrd.gz"
		echo "### kvmx run -k $k -i initrd.gz -m 256M"
		build/cmake/kvmx run -k "$k" -i "$g/initrd.gz" -m 256M --timeout 120 </dev/null
	fi
	exit 0
fi

why="no VT-x on this CPU"
grep -qw vmx /proc/cpuinfo && why="not root, or no kernel headers / module loading here"
say "demo: $why: running kvmx in the rig (Bochs with emulated VT-x, about 5 minutes)"
make -s setup rig-kmod userspace guests
RIG_LINUX_GUEST=1 scripts/rig.sh demo || true
# Show what the guest console printed between the boot and the kernel log dump.
sed -n '/^KVMX-BOOTED/,/^KVMX-DMESG-BEGIN/p' "$RIG_DIR/demo/serial.txt" | grep -v '^KVMX-DMESG'
read -r p f <"$RIG_DIR/demo/counts"
[ "$f" = 0 ]
