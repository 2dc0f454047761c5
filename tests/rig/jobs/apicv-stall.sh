# Not part of make check: look for the apicv SMP stall (issue 14).  Boots the
# rig's kernel as a 4-vCPU kvmx guest with apicv=1, six times; a boot still
# running after 15 s of rig time counts as stalled and each vCPU's RIP,
# RFLAGS, RVI/SVI and last exit are printed, the RIP as a symbol (the guest
# is the rig's own kernel, booted with nokaslr: its symbols are the rig's
# /proc/kallsyms less the rig's KASLR slide).  The guest's RCU stall
# detector, set to 3 s, NMIs the stuck CPUs and prints their backtraces:
# those come first, the VMCS dumps only when the guest printed none.
#   RIG_LINUX_GUEST=1 scripts/rig.sh apicv-stall
. /kvmx/jobs/lib.sh
dmesg_mark apicv-stall
check kvmx.insmod insmod /kvmx/modules/kvmx.ko apicv=1
L=/kvmx/linux
# The rig kernel's text symbols once, as offsets from _text in decimal (awk
# uses doubles: only the low 32 bits of an address are converted).
awk 'function h(x,  i, v) {
		v = 0; x = substr(tolower(x), length(x) - 7)
		for (i = 1; i <= 8; i++) v = v * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
		return v
	}
	($2 == "t" || $2 == "T") && substr($1, 1, 8) == "ffffffff" { printf "%.0f %s\n", h($1), $3 }' \
	/proc/kallsyms | sort -n >/tmp/ksyms
RT=$(awk '$2 == "_text" { print $1; exit }' /tmp/ksyms)
# gsym ADDR: the symbol of guest address ADDR (a nokaslr guest: _text at 0xffffffff81000000)
gsym() {
	off=$(( 0x$(echo "$1" | sed 's/^0x//; s/.*\(........\)$/\1/') - 0x81000000 + RT ))
	awk -v t="$off" '$1 <= t { best = $1; name = $2 } END { printf "%s+0x%x\n", name, t - best }' /tmp/ksyms
}
stalls=0
for r in 1 2 3 4 5 6; do
	kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M -c 4 --device /dev/kvmx --irqchip=kernel \
		--append "kvmx.irqs nokaslr loglevel=5 rcupdate.rcu_cpu_stall_timeout=3" </dev/null >/tmp/hb.out 2>&1 &
	pid=$!
	t=0
	while kill -0 $pid 2>/dev/null && [ $t -lt 15 ]; do sleep 1; t=$((t + 1)); done
	if kill -0 $pid 2>/dev/null; then
		stalls=$((stalls + 1))
		echo "APICV-STALL boot $r: $(grep -av 'rcu\|^ \|Call Trace\|NMI' /tmp/hb.out | tail -n 1 | tr -d '\r')"
		while ! grep -aq 'rcu.*detected stall' /tmp/hb.out && [ $t -lt 60 ]; do sleep 1; t=$((t + 1)); done
		sleep 10
		if grep -aq 'rcu.*detected stall' /tmp/hb.out; then
			sed -n '/rcu.*detected stall/,$p' /tmp/hb.out | tr -d '\r' | head -n 150 | sed 's/^/APICV-STALL guest: /'
		fi
		grep -aq 'rcu.*detected stall' /tmp/hb.out || for c in 0 1 2 3; do
			kvmx vmcs --vcpu $c --timeout 2000 >/tmp/vm.$c 2>&1
			rip=$(awk '$1=="GUEST_RIP" {print $2}' /tmp/vm.$c)
			echo "APICV-STALL vcpu $c $(gsym "$rip") $(grep -E 'GUEST_RFLAGS|INTR_STATUS|EXIT_REASON ' /tmp/vm.$c | tr -s ' ' | tr '\n' ' ')"
		done
		kill -9 $pid; wait $pid
	else
		wait $pid
		echo "APICV-STALL boot $r done: $(grep -a KVMX-GUEST-UP /tmp/hb.out | head -n 1 | tr -d '\r')"
	fi
done
echo "APICV-STALL $stalls of 6 boots stalled"
dmesg_clean apicv-stall.dmesg-clean apicv-stall
