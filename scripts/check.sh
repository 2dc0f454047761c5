#!/usr/bin/env bash
# make check: build everything, run the native unit tests, the kernel-side
# lint, the dkms build and the rig jobs; end with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"

passed=0
failed=0
skipped=0
summary=()
logdir=$KVMX_BUILD/check
mkdir -p "$logdir"

# add SECTION PASSED FAILED [SKIPPED]
add() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	skipped=$((skipped + ${4:-0}))
	summary+=("$(printf '  %-28s %4d passed, %d failed, %d skipped' "$1" "$2" "$3" "${4:-0}")")
}

finish() {
	echo
	echo "make check summary (logs in $logdir, rig logs in $RIG_DIR/<job>/):"
	printf '%s\n' "${summary[@]}"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
	exit
}

# step NAME CMD...: one result from a command, its output kept in a log.
step() {
	local name=$1; shift
	if "$@" >"$logdir/$name.log" 2>&1; then add "$name" 1 0
	else
		say "FAILED: $name (see $logdir/$name.log):"
		tail -n 30 "$logdir/$name.log" >&2
		add "$name" 0 1
		return 1
	fi
}

start=$(date +%s)
step setup scripts/setup.sh all || finish
step build make -s all rig-kmod || finish

# Native unit tests: one result per test.
build/cmake/kvmx-unit-tests >"$logdir/unit.log" 2>&1
up=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$logdir/unit.log")
uf=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below.*/\1/p' "$logdir/unit.log")
us=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\?, listed below.*/\1/p' "$logdir/unit.log")
[ -n "$up$uf" ] || uf=1
grep '^\[  FAILED  \] .*ms)$' "$logdir/unit.log" >&2 || true
add "unit tests" "${up:-0}" "${uf:-0}" "${us:-0}"

step lint scripts/lint-kmod.sh
step dkms scripts/dkms-test.sh

# The rig: one boot per job, one result per test inside it.
# linux: boot Debian's kernel as a kvmx guest (userspace PIC) and type into
# its shell, then SMP with the in-kernel irqchip on kvm_intel and on kvmx;
# qemu: Debian's QEMU boots it on kvm_intel and on kvmx.
# stress: the short version of make stress (2 CPUs, like make stress).
export RIG_STRESS_SCALE=short
# run_job NAME ARGS...: one rig boot, its console summary in a log.  Only
# the jobs that boot Linux guests carry them (and QEMU) in their initramfs:
# the rig unpacks it at every boot, at emulated speed.
run_job() {
	local name=$1; shift
	RIG_LINUX_GUEST=$([[ $name == *linux* || $name == *qemu* ]] && echo 1) \
	RIG_QEMU=$([[ $name == *qemu* ]] && echo 1) \
		scripts/rig.sh "$@" "$name" >"$logdir/rig-$name.log" 2>&1
}
# collect NAME: the job's results into the summary.
collect() {
	local p=0 f=1 s=0
	grep -v '^  ' "$logdir/rig-$1.log" >&2
	[ -s "$RIG_DIR/$1/counts" ] && read -r p f s <"$RIG_DIR/$1/counts"
	add "rig job $1" "$p" "$f" "${s:-0}"
}
# Two lanes, one host core each (Bochs runs every emulated CPU on one
# thread; each Bochs takes the first free display port): check and linux
# (the Linux boots, SMP ones included) in one 1-CPU boot, then the 2-CPU
# jobs smp and stress in one boot, beside qemu (Debian's QEMU on kvm_intel
# and on kvmx, the longest job) and linux's 4-vCPU boot (linux-c4).  Each
# rig boot costs 1-2 minutes before its first test.  CI has 2 cores and 90
# minutes, make check 40: each lane under 30 (2026-12-04 14:55, locally:
# 31.5 and 25.2 minutes before linux-c4 moved to the qemu lane).
{ run_job check+linux --cpus 1 --timeout 2400
  run_job smp+stress --cpus 2 --timeout 2400; } &
lane1=$!
{ run_job qemu+linux-c4 --cpus 1 --timeout 2400; } &
lane2=$!
wait $lane1 $lane2
for job in check+linux qemu+linux-c4 smp+stress; do
	collect "$job"
done

say "check: $(( $(date +%s) - start ))s"
finish
