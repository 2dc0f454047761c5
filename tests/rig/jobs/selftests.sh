# KVM's own selftests (Debian's linux-source-6.1, scripts/build-kvm-selftests.sh)
# on kvm_intel and on kvmx in the same boot, as tests/kvm-selftests/tests.txt
# lists them.  The selftests open /dev/kvm by name: on kvmx each runs under
# `kvmx exec`, with /dev/kvmx bound over /dev/kvm in a private mount namespace.
# Needs RIG_SELFTESTS=1 (scripts/rig.sh copies the binaries and the list to
# /kvmx/selftests).  Exit status as kselftest: 0 pass, 4 skip, else fail.
#
# Results (see tests.txt for the categories):
#   selftest.kvm.NAME   kvm_intel: pass PASS, skip SKIP, fail or timeout FAIL
#   selftest.kvmx.NAME  pass:  kvmx pass PASS; kvmx skip where kvm_intel skipped
#                              too SKIP; anything else FAIL
#                       xfail: a known kvmx gap: not passing is SKIP (with the
#                              reason), passing is FAIL ("xpass": flip it to
#                              pass in tests.txt)
#                       info:  (kvm_intel too) pass PASS, anything else SKIP
# and a table, one KVMX-SELFTEST line per test, between KVMX-SELFTESTS-BEGIN/END.
. /kvmx/jobs/lib.sh
S=/kvmx/selftests
dmesg_mark selftests
check kvm.insmod load_kvm
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
if [ ! -f $S/tests.txt ]; then
	fail selftests.present "no $S/tests.txt: run with RIG_SELFTESTS=1"
	return 0 2>/dev/null || exit 0
fi
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# run_one DEVICE NAME TIMEOUT ARGS...: prints pass/skip/fail/timeout/missing
# and the rig time it took; the output goes to /tmp/st.out.
run_one() {
	dev=$1 name=$2 secs=$3; shift 3
	if [ ! -x "$S/$name" ]; then echo missing; return; fi
	t0=$(uptime_s)
	if [ "$dev" = /dev/kvm ]; then
		timeout -s KILL "$secs" "$S/$name" "$@" </dev/null >/tmp/st.out 2>&1
	else
		timeout -s KILL "$secs" kvmx exec --device "$dev" -- "$S/$name" "$@" \
			</dev/null >/tmp/st.out 2>&1
	fi
	rc=$?
	t=$(awk "BEGIN { printf \"%.1f\", $(uptime_s) - $t0 }")
	case $rc in
	0) r=pass ;;
	4) r=skip ;;
	124|137|143) r=timeout ;;
	*) r="fail($rc)" ;;
	esac
	echo "$r $t"
}

# What a test printed, shortened: a skip's reason, a failure's assertion.
show() {
	echo "--- $1: $2"
	if [ "$2" = pass ]; then tail -n 3 /tmp/st.out; else tail -n 25 /tmp/st.out; fi
}

: >/tmp/table
sed 's/#.*//' $S/tests.txt | awk 'NF >= 2' >/tmp/list
while read -r name cat secs args; do
	reason=$(grep -E "^$name[[:space:]]" $S/tests.txt | sed -n 's/^[^#]*# *//p' | head -n1)
	if [ "$cat" = exclude ]; then
		printf '%-34s %-16s %-16s %s\n' "$name" - - "excluded: $reason" >>/tmp/table
		continue
	fi
	echo "=== selftest $name ($cat, ${secs}s) $args"
	set -- $(run_one /dev/kvm "$name" "$secs" $args)
	kres=$1 kt=$2
	show "kvm_intel $name" "$kres"
	set -- $(run_one /dev/kvmx "$name" "$secs" $args)
	xres=$1 xt=$2
	show "kvmx $name" "$xres"
	echo "=== selftest $name: kvm_intel $kres (${kt}s), kvmx $xres (${xt}s)"

	case $kres in
	pass) pass "selftest.kvm.$name" ;;
	skip) printf '\nKVMX-RESULT SKIP %s %s\n' "selftest.kvm.$name" "skipped on kvm_intel" ;;
	*)	if [ "$cat" = info ]; then
			printf '\nKVMX-RESULT SKIP %s %s\n' "selftest.kvm.$name" "info ($kres): $reason"
		else
			fail "selftest.kvm.$name" "kvm_intel: $kres"
		fi ;;
	esac
	note=""
	if [ "$cat" = info ]; then
		note="info: $reason"
		if [ "$xres" = pass ]; then pass "selftest.kvmx.$name"; else
			printf '\nKVMX-RESULT SKIP %s %s\n' "selftest.kvmx.$name" "info ($xres): $reason"
		fi
	elif [ "$cat" = xfail ]; then
		if [ "$xres" = pass ]; then
			fail "selftest.kvmx.$name" "xpass: passes on kvmx now; mark it pass in tests/kvm-selftests/tests.txt"
			note="XPASS"
		else
			printf '\nKVMX-RESULT SKIP %s %s\n' "selftest.kvmx.$name" "xfail ($xres): $reason"
			note="xfail: $reason"
		fi
	elif [ "$xres" = pass ] || { [ "$xres" = skip ] && [ "$kres" = skip ]; }; then
		[ "$xres" = pass ] && pass "selftest.kvmx.$name" ||
			printf '\nKVMX-RESULT SKIP %s %s\n' "selftest.kvmx.$name" "skipped on both"
	else
		fail "selftest.kvmx.$name" "kvmx: $xres, kvm_intel: $kres"
		note="FAIL"
	fi
	printf '%-34s %-16s %-16s %s\n' "$name" "$kres ${kt}s" "$xres ${xt}s" "$note" >>/tmp/table
done </tmp/list

echo "KVMX-SELFTESTS-BEGIN"
printf '%-34s %-16s %-16s %s\n' test kvm_intel kvmx note
cat /tmp/table
echo "KVMX-SELFTESTS-END"
dmesg_clean selftests.dmesg-clean selftests
