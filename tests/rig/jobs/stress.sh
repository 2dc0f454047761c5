# make stress (STRESS_SCALE=full) and its short version in make check
# (STRESS_SCALE=short): ioctl fuzzing, random guests, SIGKILL mid-run, on
# kvmx; then every page and pin must be back, rmmod must work and kvm_intel
# must still run a guest.  dmesg must stay clean throughout.
. /kvmx/jobs/lib.sh
dmesg_mark stress
scale=$(cat /kvmx/stress.scale 2>/dev/null || echo short)
if [ "$scale" = full ]; then
	secs=60 procs=4 threads=4 guests=2000 kills=100
else
	secs=10 procs=2 threads=3 guests=200 kills=20
fi
seed=$(cut -d' ' -f1 /proc/uptime | tr -d .)
echo "stress: scale $scale, seed $seed"
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
# step NAME CMD...: like check, and show the tool's "stress:" summary lines.
step() {
	name=$1; shift
	"$@" >/tmp/$name.out 2>&1
	rc=$?
	grep '^stress:' /tmp/$name.out
	if [ $rc = 0 ]; then pass "$name"; else
		tail -n 20 /tmp/$name.out
		fail "$name" "($* exited $rc)"
	fi
}
step stress.ioctl kvmx-stress ioctl /dev/kvmx $secs $procs $threads $seed
step stress.guests kvmx-stress guests /dev/kvmx $guests $seed
step stress.kill kvmx-stress kill /dev/kvmx $kills $seed
check stress.accounting-zero sh -c 'for f in /sys/class/misc/kvmx/accounting/*; do
	echo "$(basename "$f") = $(cat "$f")"
	[ "$(cat "$f")" = 0 ] || exit 1; done'
check stress.rmmod rmmod kvmx
check kvm.insmod sh -c 'insmod /kvmx/modules/irqbypass.ko && insmod /kvmx/modules/kvm.ko &&
	insmod /kvmx/modules/kvm-intel.ko'
gtest /kvmx/kvmx-rig-tests --gtest_filter=KvmAfterRmmod.*
dmesg_clean stress.dmesg-clean stress
