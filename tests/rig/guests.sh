# Every test guest on /dev/kvmx and on /dev/kvm in the same boot; the test
# passes when kvmx shows what the guest shows under KVM (console bytes, exit
# status, registers where asked) and that matches what the guest promises.
# Sourced by a rig job after lib.sh; kvmx and kvm_intel must be loaded.

# guest NAME EXPECTED_STATUS EXPECTED_TEXT KVMX-RUN-ARGS...
guest() {
	name=$1 want_rc=$2 want_text=$3
	shift 3
	for dev in kvmx kvm; do
		kvmx run --device /dev/$dev --timeout 60 "$@" >/tmp/$name.$dev.out 2>/tmp/$name.$dev.err
		echo $? >/tmp/$name.$dev.rc
	done
	rc=$(cat /tmp/$name.kvmx.rc)
	krc=$(cat /tmp/$name.kvm.rc)
	why=""
	[ "$rc" = "$want_rc" ] || why="$why kvmx exit status $rc, want $want_rc;"
	[ "$krc" = "$want_rc" ] || why="$why KVM exit status $krc, want $want_rc;"
	grep -q "$want_text" /tmp/$name.kvmx.out /tmp/$name.kvmx.err ||
		why="$why kvmx output lacks '$want_text';"
	cmp -s /tmp/$name.kvmx.out /tmp/$name.kvm.out || why="$why output differs from KVM's;"
	if [ -z "$why" ]; then
		pass "guest.$name"
	else
		for dev in kvmx kvm; do
			echo "--- $name on /dev/$dev (status $(cat /tmp/$name.$dev.rc)):"
			head -c 2000 /tmp/$name.$dev.out
			head -c 2000 /tmp/$name.$dev.err
		done
		fail "guest.$name" "$why"
	fi
}

G=/kvmx/guests
guest hello16 0 "Hello from real mode" $G/hello16.bin --mode real
guest hello32 0 "Hello from protected mode" $G/hello32.bin --mode protected
guest hello_paged32 0 "Hello from 32-bit paging" $G/hello_paged32.bin --mode paged32
guest hello64 0 "Hello from long mode" $G/hello64.bin --mode long
guest cpuid 0 "cpuid ok" $G/cpuid.bin --mode long
guest mmio64 0 "mmio64 ok" $G/mmio64.bin --mode long
guest mmio32 0 "mmio32 ok" $G/mmio32.bin --mode protected
guest string_io 0 "string io ok" $G/string_io.bin --mode protected
guest hlt_loop 0 "came back from HLT 10 times" $G/hlt_loop.bin --mode real --resume-after-hlt --stats
guest triple_fault 2 "triple fault" $G/triple_fault.bin --mode protected
guest ept_stress 0 "ept stress ok" $G/ept_stress.bin --mode long --mem 64M
guest regs 0 "r15=0x00000000000013ba" $G/regs.bin --mode long --dump-regs
# The registers themselves, field by field, as KVM reports them.
check guest.regs.values sh -c 'grep -q "^rbx=0xefcdab8967452301" /tmp/regs.kvmx.out &&
	grep -q "^r9=0x00000000000013b0" /tmp/regs.kvmx.out &&
	grep -q "^r8=0x0000010000000000" /tmp/regs.kvmx.out &&
	grep -q "^rsi=0x0000000000000500" /tmp/regs.kvmx.out &&
	grep -q "^rax=0x00000000600dcafe" /tmp/regs.kvmx.out'
# HLT exits reached the tool ten times plus the final one... on both.
check guest.hlt_loop.exits sh -c 'grep -q "KVM_EXIT_HLT=10" /tmp/hlt_loop.kvmx.out'

# A minimal KVM client that has never heard of kvmx, unchanged, on both.
for mode in real protected paged long; do
	kvm-client /dev/kvmx $mode >/tmp/client.$mode.kvmx 2>&1
	rc=$?
	kvm-client /dev/kvm $mode >/tmp/client.$mode.kvm 2>&1
	krc=$?
	if [ $rc = 0 ] && [ $krc = 0 ] && cmp -s /tmp/client.$mode.kvmx /tmp/client.$mode.kvm; then
		pass "kvm-client.$mode"
	else
		cat /tmp/client.$mode.kvmx /tmp/client.$mode.kvm
		fail "kvm-client.$mode" "status kvmx $rc, KVM $krc, or different output"
	fi
done
