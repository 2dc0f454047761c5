# make bench: the same guests first (correctness on this build and boot),
# then `kvmx bench` on /dev/kvmx and /dev/kvm, one after the other.
. /kvmx/jobs/lib.sh
dmesg_mark bench
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod load_kvm
. /kvmx/jobs/guests.sh

echo "KVMX-BENCH-ENV-BEGIN"
echo "kernel command line: $(cat /proc/cmdline)"
echo "host CPUs: $(grep -c ^processor /proc/cpuinfo)"
for f in /sys/devices/system/cpu/vulnerabilities/*; do
	echo "vulnerability $(basename "$f"): $(cat "$f")"
done
echo "kvm_intel vmentry_l1d_flush: $(cat /sys/module/kvm_intel/parameters/vmentry_l1d_flush 2>/dev/null)"
# Debian's kernel boots with THP off here; VMMs ask for it with madvise.
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
echo "transparent hugepages: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
echo "cpu flags: $(grep -m1 ^flags /proc/cpuinfo | cut -d: -f2)"
echo "KVMX-BENCH-ENV-END"

# BENCH_ARGS comes from scripts/bench.sh through the dev command file.
[ -f /kvmx/bench.args ] && BENCH_ARGS=$(cat /kvmx/bench.args)
kvmx bench --device /dev/kvmx --device /dev/kvm --json /tmp/bench.json ${BENCH_ARGS:-} \
	>/tmp/bench.txt
rc=$?
echo "KVMX-BENCH-TABLE-BEGIN"
cat /tmp/bench.txt
echo "KVMX-BENCH-TABLE-END"
echo "KVMX-BENCH-JSON-BEGIN"
cat /tmp/bench.json 2>/dev/null
echo "KVMX-BENCH-JSON-END"
[ $rc = 0 ] && pass bench.ran || fail bench.ran "kvmx bench exited $rc"

# The same on kvmx without APIC virtualization (module parameter apicv=0; on
# by default): the APIC rows are the ones it changes.
rmmod kvmx && insmod /kvmx/modules/kvmx.ko apicv=0
kvmx bench --device /dev/kvmx ${BENCH_ARGS:-} >/tmp/bench-noapicv.txt
rc=$?
echo "KVMX-BENCH-NOAPICV-BEGIN"
cat /tmp/bench-noapicv.txt
echo "KVMX-BENCH-NOAPICV-END"
[ $rc = 0 ] && pass bench.noapicv-ran || fail bench.noapicv-ran "kvmx bench (apicv=0) exited $rc"
dmesg_clean bench.dmesg-clean bench
