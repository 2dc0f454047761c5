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

# load_kvm: Debian's kvm_intel, the reference; a job that follows another in
# the same boot (rig.sh a+b) finds it loaded already.
load_kvm() {
	[ -d /sys/module/kvm_intel ] && return 0
	insmod /kvmx/modules/irqbypass.ko && insmod /kvmx/modules/kvm.ko &&
		insmod /kvmx/modules/kvm-intel.ko
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

# guest_apics TEST N OUT: the console OUT (CRs removed) of the Linux guest
# booted with "kvmx.irqs" saw N CPUs, each took local APIC timer interrupts
# (LOC above 0 on every CPU of /proc/interrupts), and lines go through an
# IO-APIC.  One result, TEST.
guest_apics() {
	sed -n '/^KVMX-GUEST-IRQS-BEGIN/,/^KVMX-GUEST-IRQS-END/p' "$3" >"$3.irqs"
	cpus=$(sed -n 's/^KVMX-GUEST-CPUS \([0-9]*\).*/\1/p' "$3" | head -n1)
	# "LOC:  c0 c1 ... Local timer interrupts": a count above 0 per CPU.
	loc=$(awk -v n="$2" '$1 == "LOC:" { k = 0; for (i = 2; i <= n + 1; i++) if ($i + 0 > 0) k++; print k }' "$3.irqs")
	if [ "$cpus" != "$2" ]; then
		fail "$1" "the guest saw ${cpus:-no} CPUs, not $2"
	elif [ "$loc" != "$2" ]; then
		fail "$1" "LOC (local APIC timer) counts above 0 on ${loc:-no} of $2 CPUs"
	elif ! grep -q 'IO-APIC' "$3.irqs"; then
		fail "$1" "no IO-APIC lines in /proc/interrupts"
	else
		pass "$1"
	fi
}

# The Linux guest the rig carries (RIG_LINUX_GUEST=1) and the rig's clock.
L=/kvmx/linux
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# SMP with the in-kernel irqchip (issue 14): the MP table's CPUs come up and
# take local APIC timer interrupts (LOC on every CPU of /proc/interrupts),
# the UART's line goes through the IOAPIC, and "halt -f" on every vCPU ends
# the run with status 0.  KVMX-LINUX-SMP lines give the boot time: rig guest
# time around kvmx run, and the guest's uptime when /init started.
# smp_boot NAME DEVICE CPUS
smp_boot() {
	name=$1 dev=$2 n=$3
	out=/tmp/smp.$name.$n
	t0=$(uptime_s)
	{ timeout 900 kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M -c $n --device $dev \
		--irqchip=kernel --append kvmx.irqs </dev/null 2>&1
	  echo $? >/tmp/smp.rc; } | tee $out
	rc=$(cat /tmp/smp.rc)
	t1=$(uptime_s)
	tr -d '\r' <$out >$out.txt
	up=$(sed -n 's/^KVMX-GUEST-UP .* after \([0-9.]*\) s.*/\1/p' $out.txt | head -n1)
	echo "KVMX-LINUX-SMP $name -c $n: kvmx status $rc, $(awk "BEGIN { print $t1 - $t0 }") s rig guest time, /init at ${up:-?} s guest uptime"
	t=linux.smp.$name.c$n
	if [ $rc = 0 ] && [ -n "$up" ]; then pass $t.boots-to-init
	else fail $t.boots-to-init "kvmx run -k -c $n --device $dev --irqchip=kernel exited $rc"; fi
	guest_apics $t.apics $n $out.txt
}
