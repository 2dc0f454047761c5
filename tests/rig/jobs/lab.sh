# The lab guide (docs/lab-guide.md), step by step, on a running guest:
# count its exits, watch them live, read its VMCS, walk its EPT, see an MMIO
# exit in the trace, and the events of its life.  Sourced by a rig job after
# lib.sh, with kvmx loaded.  Each step is one result; its output is shown.

# lab NAME PATTERN CMD...: a guide command; passes if PATTERN is in its output.
lab() {
	name=$1 pat=$2
	shift 2
	echo "### \$ $*"
	"$@" >/tmp/lab.out 2>&1
	head -n 200 /tmp/lab.out
	if grep -q -- "$pat" /tmp/lab.out; then pass "lab.$name"; else
		fail "lab.$name" "no '$pat' in the output of: $*"; fi
}

T=/sys/kernel/tracing
[ -e $T/events ] || mount -t tracefs tracefs $T
kvmx events -n 2 >/tmp/lab-events.out 2>&1 &
events=$!
sleep 1
echo >$T/trace
echo 1 >$T/events/kvmx/kvmx_ept_fault/enable
echo 1 >$T/events/kvmx/kvmx_userspace_exit/enable
echo "### \$ kvmx run /kvmx/guests/lab.bin --mode protected --hold 8 &"
kvmx run /kvmx/guests/lab.bin --mode protected --hold 8 >/tmp/lab-guest.out 2>&1 &
guest=$!
sleep 2
echo 0 >$T/events/kvmx/kvmx_ept_fault/enable
echo 0 >$T/events/kvmx/kvmx_userspace_exit/enable
cat /tmp/lab-guest.out
lab stat "CPUID .* 1000" kvmx stat
lab top "exit CPUID" kvmx top -n 1 -d 0.5
lab vmcs "VM_EXIT_REASON .*HLT" kvmx vmcs
lab ept "rwx" kvmx ept
lab ept-walk "HPA 0x" kvmx ept --gpa 0x5000
lab trace "kvmx_ept_fault: .* mmio" grep -E "kvmx_ept_fault|KVM_EXIT 6 " $T/trace
echo >$T/trace
wait $guest
wait $events
lab events "vm-destroyed" cat /tmp/lab-events.out
