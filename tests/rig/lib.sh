# Helpers for rig jobs (busybox sh).  Each result is one serial line that
# scripts/rig.sh counts: "KVMX-RESULT PASS name", "KVMX-RESULT FAIL name why"
# or "KVMX-RESULT SKIP name" (a test that could not run here, and said why).
# A newline first: output tee'd to the console may have left a line open.
pass() { printf '\nKVMX-RESULT PASS %s\n' "$1"; }
fail() { printf '\nKVMX-RESULT FAIL %s %s\n' "$1" "${2:-}"; }

# check NAME CMD...: one result from a command's exit status.
check() {
	name=$1; shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then pass "$name"; else
		echo "$out" | tail -n 20
		fail "$name" "($* exited $rc)"
	fi
}

# Mark the kernel log so dmesg_clean looks only at what the tests caused
# (Debian's kernel logs a WARNING of its own at boot on Bochs' Skylake-X).
dmesg_mark() { echo "KVMX-MARK $1" >/dev/kmsg; }

# dmesg_clean NAME MARK: no BUG/WARNING/Oops since MARK.
dmesg_clean() {
	bad=$(dmesg | sed -n "/KVMX-MARK $2/,\$p" |
		grep -E 'BUG|WARNING|Oops|Call Trace|general protection|RIP:' || true)
	if [ -z "$bad" ]; then pass "$1"; else
		echo "$bad" | head -n 40
		fail "$1" "kernel log shows BUG/WARNING/Oops"
	fi
}

# gtest BINARY ARGS...: run a GoogleTest binary, one result per test.
gtest() {
	# Stream the output: a hang must show where it happened.
	{ timeout "${GTEST_TIMEOUT:-300}" "$@"; echo $? >/tmp/gtest.rc; } 2>&1 | tee /tmp/gtest.out
	rc=$(cat /tmp/gtest.rc)
	if [ "$rc" = 124 ] || [ "$rc" = 143 ]; then
		echo "gtest: timed out; kernel tasks:"
		echo w >/proc/sysrq-trigger
		dmesg | tail -n 60
	fi
	awk '/^\[       OK \] / { print "KVMX-RESULT PASS " $4 }
	     /^\[  SKIPPED \] .*\([0-9]+ ms\)$/ { print "KVMX-RESULT SKIP " $4 }
	     /^\[  FAILED  \] .*\([0-9]+ ms\)$/ { print "KVMX-RESULT FAIL " $4 }' /tmp/gtest.out
	grep -q '^\[  PASSED  \]' /tmp/gtest.out || [ $rc = 0 ] ||
		fail "$(basename "$1").ran" "exit status $rc"
}
