# Debian's QEMU, unchanged, on kvmx: it opens /dev/kvm by name, so each run
# sees /dev/kvmx bound over /dev/kvm in a private mount namespace (what
# `kvmx exec` does).  The same command lines run on kvm_intel first, in the
# same boot, as the reference.  The guest is the rig's own kernel with the
# busybox initramfs of the linux job; it answers on its serial console.
. /kvmx/jobs/lib.sh
dmesg_mark qemu
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod sh -c 'insmod /kvmx/modules/irqbypass.ko && insmod /kvmx/modules/kvm.ko &&
	insmod /kvmx/modules/kvm-intel.ko'
L=/kvmx/linux
Q=/kvmx/qemu
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# qemu_boot NAME DEVICE MACHINE-ARGS...: boot to /init, which prints
# KVMX-GUEST-UP and reboots (-no-reboot ends QEMU).
qemu_boot() {
	name=$1 dev=$2; shift 2
	t0=$(uptime_s)
	{ timeout 600 kvmx exec --device "$dev" -- $Q/qemu-system-x86_64 -L $Q/share "$@" \
		-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-kernel $L/vmlinuz -initrd $L/initrd.gz \
		-append "console=ttyS0 earlyprintk=serial noacpi pci=conf1 reboot=t panic=-1 kvmx.reboot" \
		</dev/null 2>&1; echo $? >/tmp/qemu.rc; } | tee /tmp/qemu.out
	t1=$(uptime_s)
	echo "KVMX-QEMU-BOOT $name status $(cat /tmp/qemu.rc), $(awk "BEGIN { print $t1 - $t0 }") s (rig guest time)"
	if grep -q '^KVMX-GUEST-UP' /tmp/qemu.out; then pass "qemu.$name"
	else fail "qemu.$name" "qemu exited $(cat /tmp/qemu.rc)"; fi
}

for dev in /dev/kvm /dev/kvmx; do
	tag=$(basename $dev)
	qemu_boot "$tag.microvm-irqchip-off" $dev -M microvm -accel kvm,kernel-irqchip=off \
		-cpu host,kvm-asyncpf-int=off
done
dmesg_clean qemu.dmesg-clean qemu
