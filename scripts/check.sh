#!/usr/bin/env bash
# make check: build everything, run the native unit tests, the kernel-side
# lint, the dkms build and the rig jobs; end with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"

passed=0
failed=0
summary=()
logdir=$KVMX_BUILD/check
mkdir -p "$logdir"

# add SECTION PASSED FAILED
add() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	summary+=("$(printf '  %-28s %4d passed, %d failed' "$1" "$2" "$3")")
}

finish() {
	echo
	echo "make check summary (logs in $logdir, rig logs in $RIG_DIR/<job>/):"
	printf '%s\n' "${summary[@]}"
	echo "$passed passed, $failed failed"
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
[ -n "$up$uf" ] || uf=1
grep '^\[  FAILED  \] .*ms)$' "$logdir/unit.log" >&2 || true
add "unit tests" "${up:-0}" "${uf:-0}"

step lint scripts/lint-kmod.sh
step dkms scripts/dkms-test.sh

# The rig: one boot per job, one result per test inside it.
# linux: boot Debian's kernel as a kvmx guest (and under QEMU + kvm_intel).
# stress: the short version of make stress (2 CPUs, like make stress).
export RIG_LINUX_GUEST=1 RIG_QEMU=1 RIG_STRESS_SCALE=short
for job in "check --cpus 1" "smp --cpus 2" "linux --cpus 1" "stress --cpus 2"; do
	set -- $job
	name=$1; shift
	scripts/rig.sh "$@" "$name" 2>&1 | tee "$logdir/rig-$name.log" | grep -v '^  ' >&2
	if [ -s "$RIG_DIR/$name/counts" ]; then
		read -r p f <"$RIG_DIR/$name/counts"
	else
		p=0 f=1
	fi
	add "rig job $name" "$p" "$f"
done

say "check: $(( $(date +%s) - start ))s"
finish
