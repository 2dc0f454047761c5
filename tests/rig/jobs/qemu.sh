# Debian's QEMU, unchanged, on kvmx: it opens /dev/kvm by name, so each run
# has /dev/kvmx bound over /dev/kvm in a private mount namespace (`kvmx
# exec`).  Every command line runs on kvm_intel first, in the same boot, as
# the reference.  The guest is the rig's own kernel with the busybox
# initramfs of the linux job.  First with QEMU's own APIC, IOAPIC, PIC and
# PIT (kernel-irqchip=off), then with QEMU's default irqchip and two vCPUs:
# for -M pc all in the kernel, for -M microvm split (only the APICs).
. /kvmx/jobs/lib.sh
dmesg_mark qemu
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod load_kvm
Q=/kvmx/qemu
# kvm-asyncpf-int needs an in-kernel APIC: kvm_intel refuses its MSR without
# one and QEMU 7.2 then aborts; kvmx does not offer async page faults.
CPU=host,kvm-asyncpf-int=off
APPEND="console=ttyS0 reboot=t panic=-1"

# What every run has: the rig's kernel and initramfs, the console on stdio.
COMMON="-L $Q/share -cpu $CPU -m 128M -nodefaults -no-user-config -nographic -serial stdio
	-no-reboot -kernel $L/vmlinuz -initrd $L/initrd.gz"

# qemu_boot NAME DEVICE ARGS...: boot to /init, which prints KVMX-GUEST-UP and
# reboots (-no-reboot ends QEMU).
qemu_boot() {
	name=$1 dev=$2; shift 2
	t0=$(uptime_s)
	{ timeout 900 kvmx exec --device "$dev" -- $Q/qemu-system-x86_64 $COMMON "$@" \
		-append "$APPEND ${QEMU_APPEND:-}kvmx.reboot" </dev/null 2>&1
	  echo $? >/tmp/qemu.rc; } | tee /tmp/qemu.out
	t1=$(uptime_s)
	echo "KVMX-QEMU-BOOT $name status $(cat /tmp/qemu.rc), $(awk "BEGIN { print $t1 - $t0 }") s (rig guest time)"
	if [ "$(cat /tmp/qemu.rc)" = 0 ] && grep -q '^KVMX-GUEST-UP' /tmp/qemu.out; then
		pass "qemu.$name"
	else
		fail "qemu.$name" "qemu exited $(cat /tmp/qemu.rc)"
	fi
}

# qemu_smp NAME DEVICE ARGS...: QEMU's default irqchip (APIC, IOAPIC, PIC
# and PIT in the kernel) with 2 vCPUs: the guest boots to /init, both CPUs
# take local APIC timer interrupts and lines go through the IOAPIC.
qemu_smp() {
	name=$1 dev=$2; shift 2
	QEMU_APPEND="kvmx.irqs "
	qemu_boot "$name" "$dev" "$@" -smp 2
	QEMU_APPEND=
	tr -d '\r' </tmp/qemu.out >/tmp/qemu.$name.txt
	guest_apics "qemu.$name.apics" 2 /tmp/qemu.$name.txt
}

# qemu_shell NAME DEVICE ARGS...: what is typed on QEMU's serial console
# reaches the guest's shell and its answers come back; QEMU's monitor (on the
# same terminal, Ctrl-A c) reads the registers, resets the machine (the guest
# boots again) and quits.
qemu_shell() {
	name=$1 dev=$2; shift 2
	rm -f /tmp/qin && mkfifo /tmp/qin
	common=$(echo "$COMMON" | sed 's/-serial stdio/-serial mon:stdio/; s/-no-reboot//')
	timeout 1200 kvmx exec --device "$dev" -- $Q/qemu-system-x86_64 $common "$@" \
		-append "$APPEND kvmx.shell" </tmp/qin >/tmp/qshell.out 2>&1 &
	pid=$!
	exec 3>/tmp/qin
	wait_for() {	# wait_for PATTERN COUNT
		i=0
		while [ "$(grep -c "$1" /tmp/qshell.out)" -lt "$2" ] && [ $i -lt 900 ]; do
			sleep 1; i=$((i + 1))
		done
	}
	wait_for '^KVMX-GUEST-SHELL' 1
	for line in 'echo typed-$((6 * 7))' 'uname -s'; do
		sleep 1
		echo "$line" >&3
	done
	sleep 2
	printf '\001c' >&3		# to the monitor
	sleep 1
	echo 'info registers' >&3
	sleep 2
	echo 'system_reset' >&3
	wait_for '^KVMX-GUEST-SHELL' 2
	echo 'quit' >&3
	wait $pid
	rc=$?
	exec 3>&-
	cat /tmp/qshell.out
	if [ $rc = 0 ] && grep -q '^typed-42' /tmp/qshell.out && grep -q '^Linux' /tmp/qshell.out &&
	   grep -q 'RIP=' /tmp/qshell.out && [ "$(grep -c '^KVMX-GUEST-SHELL' /tmp/qshell.out)" = 2 ]; then
		pass "qemu.$name"
	else
		fail "qemu.$name" "qemu exited $rc"
	fi
}

# microvm has no RTC under KVM unless asked (rtc=auto means "without KVM
# only"); Debian's kernel then probes for one and polls its absent status
# port for 1.2 s of guest time, over 60 s of wall time in the rig per boot.
MICROVM=microvm,rtc=on
for dev in /dev/kvm /dev/kvmx; do
	tag=$(basename $dev)
	qemu_boot "$tag.microvm" $dev -M $MICROVM -accel kvm,kernel-irqchip=off
	# SeaBIOS, then the kernel; with a standard VGA, whose BIOS clears the
	# legacy window (MMIO) with REP STOS, and QEMU logs the writes to its
	# frame buffer (KVM_GET_DIRTY_LOG).  (A pc without VGA boots the same
	# way, minus that: make check's time went to other boots.)
	qemu_boot "$tag.pc-vga" $dev -M pc -accel kvm,kernel-irqchip=off -vga std
	qemu_smp "$tag.pc-smp2" $dev -M pc -accel kvm
	# microvm's default is the split irqchip: the APICs in the kernel, its
	# IOAPIC and PIC in QEMU (KVM_CAP_SPLIT_IRQCHIP, KVM_EXIT_IOAPIC_EOI).
	qemu_smp "$tag.microvm-smp2" $dev -M $MICROVM -accel kvm
done
qemu_shell kvmx.microvm-shell /dev/kvmx -M $MICROVM -accel kvm,kernel-irqchip=off
dmesg_clean qemu.dmesg-clean qemu
