#!/usr/bin/env bash
# The rig: boot Debian's stock kernel in Bochs (emulated VT-x with EPT) with an
# initramfs holding kvmx.ko, the kvmx tool, the guests and the in-rig tests,
# run one job (tests/rig/jobs/JOB.sh) and report its results.
#
#   scripts/rig.sh [--cpus N] [--timeout SECONDS] [--cmdline ARGS] JOB[+JOB...]
#
# JOB+JOB runs the jobs one after the other in the same boot (a rig boot is
# minutes of wall time); their results count as one job's.
#
# Logs: build/rig/JOB/{serial.log,dmesg.log,results.txt,bochs.log}
# Exit status: 0 if every result passed and the job ran to its end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cpus=1
timeout=1200
extra_cmdline=""
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--cmdline) extra_cmdline=$2; shift 2 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
job=${1:?usage: rig.sh [--cpus N] [--timeout S] [--cmdline ARGS] JOB[+JOB...]}
for j in ${job//+/ }; do
	[ -f "$KVMX_ROOT/tests/rig/jobs/$j.sh" ] || die "no such rig job: $j"
done

kver=$("$KVMX_ROOT/scripts/rig-kernel.sh")
out=$RIG_DIR/$job
stage=$out/root
rm -rf "$out"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,kvmx/modules,kvmx/guests,kvmx/jobs}

# --- the initramfs ---
cp /bin/busybox "$stage/bin/busybox"
install -m 755 "$KVMX_ROOT/tests/rig/init" "$stage/init"
cp "$RIG_DIR/kernel/modules/"*.ko "$stage/kvmx/modules/"
cp "$RIG_DIR/kmod/kvmx.ko" "$stage/kvmx/modules/kvmx.ko"
for b in kvmx kvmx-rig-tests kvm-client kvmx-stress; do
	strip -o "$stage/kvmx/$b" "$KVMX_BUILD/userspace/$b"
done
if [ -d "$KVMX_BUILD/guests" ]; then
	cp "$KVMX_BUILD/guests/"*.bin "$stage/kvmx/guests/" 2>/dev/null || true
fi
cp "$KVMX_ROOT/tests/rig/jobs/"*.sh "$KVMX_ROOT/tests/rig/lib.sh" "$KVMX_ROOT/tests/rig/guests.sh" \
	"$stage/kvmx/jobs/"
echo "${job//+/ }" >"$stage/kvmx/job"
# The Linux guest for jobs that boot one under kvmx: the rig's own kernel and
# a busybox initramfs whose /init says hello and halts.
if [ "${RIG_LINUX_GUEST:-}" = 1 ]; then
	g=$out/linux-guest
	mkdir -p "$g/bin" "$g/proc" "$g/dev" "$stage/kvmx/linux"
	cp /bin/busybox "$g/bin/busybox"
	install -m 755 "$KVMX_ROOT/tests/rig/linux-guest/init" "$g/init"
	(cd "$g" && find . | cpio -o -H newc --quiet | gzip -1) >"$stage/kvmx/linux/initrd.gz"
	cp "$RIG_DIR/kernel/vmlinuz" "$stage/kvmx/linux/vmlinuz"
fi
# QEMU (Debian's, with its shared libraries and firmware) to boot the same
# guest on kvm_intel for comparison.
if [ "${RIG_QEMU:-}" = 1 ] && [ -x /usr/bin/qemu-system-x86_64 ]; then
	q=$stage/kvmx/qemu
	mkdir -p "$q/share" "$stage/lib64" "$stage/lib/x86_64-linux-gnu"
	cp /usr/bin/qemu-system-x86_64 "$q/"
	ldd /usr/bin/qemu-system-x86_64 | awk '$3 ~ /^\// { print $3 }' |
		xargs -r cp -L -t "$stage/lib/x86_64-linux-gnu/"
	cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
	# microvm's firmware, and SeaBIOS (package seabios) for -M pc.
	for f in qemu/bios-microvm.bin qemu/qboot.rom qemu/linuxboot_dma.bin qemu/kvmvapic.bin \
		 qemu/pvh.bin qemu/multiboot_dma.bin seabios/bios-256k.bin \
		 seabios/vgabios-stdvga.bin; do
		[ -e "/usr/share/$f" ] && cp -L "/usr/share/$f" "$q/share/"
	done
fi
# KVM's selftests (scripts/build-kvm-selftests.sh) and the list the selftests job runs.
if [ "${RIG_SELFTESTS:-}" = 1 ]; then
	mkdir -p "$stage/kvmx/selftests"
	cp "$KVMX_BUILD/kvm-selftests/bin/"* "$KVMX_ROOT/tests/kvm-selftests/tests.txt" "$stage/kvmx/selftests/"
fi
# For debugging in the dev job: RIG_EXTRA_BINS="path..." lands each binary in
# /kvmx/extra with the shared libraries it needs (e.g. an ASan build of kvmx).
if [ -n "${RIG_EXTRA_BINS:-}" ]; then
	mkdir -p "$stage/kvmx/extra" "$stage/lib64" "$stage/lib/x86_64-linux-gnu"
	for b in $RIG_EXTRA_BINS; do
		strip -o "$stage/kvmx/extra/$(basename "$b")" "$b"
		{ ldd "$b" 2>/dev/null || true; } | awk '$3 ~ /^\// { print $3 }' |
			xargs -r cp -L -t "$stage/lib/x86_64-linux-gnu/"
	done
	cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
fi
# For the dev job: a command line to run inside the rig.
[ -n "${RIG_DEV_CMD:-}" ] && echo "$RIG_DEV_CMD" >"$stage/kvmx/dev.cmd"
[ -n "${RIG_BENCH_ARGS:-}" ] && echo "$RIG_BENCH_ARGS" >"$stage/kvmx/bench.args"
[ -n "${RIG_STRESS_SCALE:-}" ] && echo "$RIG_STRESS_SCALE" >"$stage/kvmx/stress.scale"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.gz"

# --- a bootable ISO: isolinux loads the kernel and the initramfs ---
iso=$out/iso
mkdir -p "$iso/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
cp "$RIG_DIR/kernel/vmlinuz" "$iso/vmlinuz"
cp "$out/initrd.gz" "$iso/initrd.gz"
cat >"$iso/isolinux/isolinux.cfg" <<CFG
default kvmx
prompt 0
timeout 0
label kvmx
  kernel /vmlinuz
  append initrd=/initrd.gz console=ttyS0,115200 quiet $extra_cmdline
CFG
xorriso -as mkisofs -quiet -o "$out/rig.iso" -b isolinux/isolinux.bin \
	-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	"$iso" 2>/dev/null

# --- Bochs (paths relative to $out: Bochs keeps them in short buffers): a Skylake-X with VMX, EPT, VPID, unrestricted guest, PML ---
cat >"$out/bochsrc" <<RC
megs: 512
cpu: model=corei7_skylake_x, count=$cpus, ips=200000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=rig.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=serial.log
log: bochs.log
display_library: rfb, options="timeout=0"
clock: sync=none, time0=1
# Debian's ALSA mixer thread aborts with no sound card: keep sound out.
sound: driver=dummy
plugin_ctrl: speaker=0, sb16=0, es1370=0
RC
printf 'c\nquit\n' >"$out/bochs.rc"

say "rig: booting $kver in Bochs ($cpus CPU, job $job); log: $out/serial.log"
start=$(date +%s)
# Bochs keeps running after a guest panic or a hang: watch the console and
# stop it when the job is done, the kernel panicked, or time is up.
(cd "$out" && exec bochs -q -f bochsrc -rc bochs.rc </dev/null >bochs.stdout 2>&1) &
bochs_pid=$!
trap 'pkill -P $bochs_pid 2>/dev/null; kill $bochs_pid 2>/dev/null' EXIT
touch "$out/serial.log"
done_at=""
# serial.timed: the console with the wall time each line arrived at, to see
# where a long job spends its time (rig time and wall time differ a lot).
seen=0
: >"$out/serial.timed"
while kill -0 $bochs_pid 2>/dev/null; do
	sleep 2
	now=$(date +%s)
	n=$(wc -l <"$out/serial.log")
	if [ "$n" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${n}p" "$out/serial.log" | tr -d '\r' |
			sed "s/^/[+$((now - start))s] /" >>"$out/serial.timed"
		seen=$n
	fi
	if [ -z "$done_at" ] && grep -a -q -e '^KVMX-DONE' -e 'end Kernel panic' "$out/serial.log"; then
		done_at=$now	# give poweroff a moment, then pull the plug
	fi
	if { [ -n "$done_at" ] && [ $((now - done_at)) -ge 20 ]; } ||
	   [ $((now - start)) -ge "$timeout" ]; then
		pkill -P $bochs_pid 2>/dev/null || true
		kill $bochs_pid 2>/dev/null || true
		break
	fi
done
set +e
wait $bochs_pid 2>/dev/null
rc=$?
set -e
trap - EXIT
wall=$(( $(date +%s) - start ))
touch "$out/serial.log"
tr -d '\r' <"$out/serial.log" >"$out/serial.txt"

# --- results ---
sed -n '/^KVMX-DMESG-BEGIN/,/^KVMX-DMESG-END/p' "$out/serial.txt" >"$out/dmesg.log"
grep -a -E '^KVMX-RESULT (PASS|FAIL|SKIP) ' "$out/serial.txt" >"$out/results.txt" || true
passed=$(grep -c '^KVMX-RESULT PASS ' "$out/results.txt" || true)
failed=$(grep -c '^KVMX-RESULT FAIL ' "$out/results.txt" || true)
skipped=$(grep -c '^KVMX-RESULT SKIP ' "$out/results.txt" || true)
booted=$(sed -n 's/^KVMX-BOOTED //p' "$out/serial.txt" | head -n1)
if ! grep -a -q '^KVMX-DONE' "$out/serial.txt"; then
	failed=$((failed + 1))
	echo "KVMX-RESULT FAIL rig.$job.completed the job did not run to its end (bochs rc=$rc after ${wall}s; see $out/serial.log)" >>"$out/results.txt"
fi
grep '^KVMX-RESULT FAIL ' "$out/results.txt" | sed 's/^KVMX-RESULT /  /' >&2 || true
grep '^KVMX-RESULT SKIP ' "$out/results.txt" | sed 's/^KVMX-RESULT /  /' >&2 || true
echo "$passed $failed $skipped" >"$out/counts"
say "rig: job $job: $passed passed, $failed failed, $skipped skipped (boot to /init ${booted:-?}s guest time, ${wall}s wall)"
[ "$failed" = 0 ]
