# make stress (STRESS_SCALE=full) and its short version in make check
# (STRESS_SCALE=short): ioctl fuzzing, random guests, SIGKILL mid-run, on
# kvmx; then every page and pin must be back, rmmod must work and kvm_intel
# must still run a guest.  dmesg must stay clean throughout.
. /kvmx/jobs/lib.sh
dmesg_mark stress
scale=$(cat /kvmx/stress.scale 2>/dev/null || echo short)
# Sized in work, not time: under these loads the rig's clock crawls (Linux
# takes Bochs' TSC for 3.5 GHz; with 2 CPUs busy it gains ~0.5 s per wall
# minute), so only the migration phase is timed (in ms of rig time).
if [ "$scale" = full ]; then
	calls=120000 procs=4 threads=4 guests=1000 kills=100 pressure=30 migrate=1500 vms=4
else
	calls=30000 procs=2 threads=3 guests=200 kills=20 pressure=8 migrate=500 vms=3
fi
seed=$(cut -d' ' -f1 /proc/uptime | tr -d .)
echo "stress: scale $scale, seed $seed"
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
# step NAME CMD...: like check, and show the tool's "stress:" summary lines.
step() {
	name=$1; shift
	echo "stress: $name starts at rig time $(cut -d' ' -f1 /proc/uptime) s"
	"$@" >/tmp/$name.out	# stderr (progress) straight to the console
	rc=$?
	grep '^stress:' /tmp/$name.out
	if [ $rc = 0 ]; then pass "$name"; else
		tail -n 20 /tmp/$name.out
		fail "$name" "($* exited $rc)"
	fi
}
step stress.ioctl kvmx-stress ioctl /dev/kvmx $calls $procs $threads $seed
step stress.guests kvmx-stress guests /dev/kvmx $guests $seed
step stress.kill kvmx-stress kill /dev/kvmx $kills $seed
step stress.migrate kvmx-stress migrate /dev/kvmx $migrate $vms
# The pressure phase runs with swap on (zram: the rig's root is an
# initramfs), so reclaim takes guest pages out from under the EPT too.
check stress.swapon sh -c 'insmod /kvmx/modules/zsmalloc.ko && insmod /kvmx/modules/zram.ko &&
	echo 256M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0'
# The OOM killer's report carries a stack trace: look for kvmx's own trouble
# (BUG/WARNING/Oops) in it, then start a fresh mark for the rest.
dmesg_mark stress-pressure
step stress.pressure kvmx-stress pressure /dev/kvmx $pressure $seed
echo "stress: swap after the pressure phase: $(grep -E 'Swap(Total|Free)' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"

bad=$(dmesg | sed -n '/KVMX-MARK stress-pressure/,$p' | grep -E 'BUG|WARNING|Oops|general protection' || true)
if [ -z "$bad" ]; then pass stress.pressure-dmesg; else
	echo "$bad" | head -n 20; fail stress.pressure-dmesg "BUG/WARNING/Oops under memory pressure"; fi
dmesg_mark stress-after-pressure
check stress.accounting-zero sh -c 'for f in /sys/class/misc/kvmx/accounting/*; do
	echo "$(basename "$f") = $(cat "$f")"
	[ "$(cat "$f")" = 0 ] || exit 1; done'
check stress.rmmod rmmod kvmx
check kvm.insmod load_kvm
gtest /kvmx/kvmx-rig-tests --gtest_filter=KvmAfterRmmod.*
dmesg_clean stress.dmesg-clean stress-after-pressure
dmesg | sed -n '/KVMX-MARK stress/,/KVMX-MARK stress-pressure/p' >/tmp/before-pressure
bad=$(grep -E 'BUG|WARNING|Oops|Call Trace|general protection|RIP:' /tmp/before-pressure || true)
if [ -z "$bad" ]; then pass stress.dmesg-clean-before-pressure; else
	echo "$bad" | head -n 40; fail stress.dmesg-clean-before-pressure "kernel log shows BUG/WARNING/Oops"; fi
