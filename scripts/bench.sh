#!/usr/bin/env bash
# make bench: kvmx against kvm_intel in the rig, each boot running the same
# guests first (correctness on this build) and then `kvmx bench` on both.
# Three boots: 1 CPU with the kernel's default mitigations (+ 1/4/16 VMs at
# once), 1 CPU with mitigations=off, 2 CPUs with default mitigations.
# Results: build/bench/<config>.{txt,json}; not part of make check.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"
make -s setup rig-kmod userspace guests
out=$KVMX_BUILD/bench
mkdir -p "$out"
status=0
run() {
	local name=$1 cpus=$2 cmdline=$3 args=$4
	say "bench: $name (rig with $cpus CPU(s), command line '${cmdline:-default}')"
	RIG_BENCH_ARGS="$args" scripts/rig.sh --cpus "$cpus" --timeout 3000 \
		${cmdline:+--cmdline "$cmdline"} bench || status=1
	local s=$RIG_DIR/bench/serial.txt
	{
		sed -n '/^KVMX-BENCH-ENV-BEGIN/,/^KVMX-BENCH-ENV-END/p' "$s" | grep -v '^KVMX-' |
			grep -v -e '^vulnerability .*Not affected' -e '^cpu flags'
		sed -n '/^KVMX-BENCH-TABLE-BEGIN/,/^KVMX-BENCH-TABLE-END/p' "$s" | grep -v '^KVMX-'
	} >"$out/$name.txt"
	sed -n '/^KVMX-BENCH-JSON-BEGIN/,/^KVMX-BENCH-JSON-END/p' "$s" | grep -v '^KVMX-' \
		>"$out/$name.json"
	cp "$s" "$out/$name.serial.txt"
	echo "=== $name"
	cat "$out/$name.txt"
}
run default-1cpu 1 "" "--scale"
run mitigations-off-1cpu 1 "mitigations=off" ""
run default-2cpu 2 "" "--scale"
say "bench: tables and JSON in $out/"
exit $status
