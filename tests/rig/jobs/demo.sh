# make demo in the rig: load kvmx, show what it sees, run the hello guests on
# kvmx and then the same guest on kvm_intel, in the same boot.
. /kvmx/jobs/lib.sh
dmesg_mark demo
# show NAME CMD...: run CMD with its output on the console; one result.
show() {
	name=$1; shift
	"$@" 2>&1
	rc=$?
	[ $rc = 0 ] && pass "$name" || fail "$name" "($* exited $rc)"
}
echo "### insmod kvmx.ko"
check demo.insmod insmod /kvmx/modules/kvmx.ko
echo "### kvmx info"
check demo.info sh -c 'kvmx info | tee /dev/console'
G=/kvmx/guests
for spec in hello16:real hello32:protected hello_paged32:paged32 hello64:long; do
	g=${spec%%:*} mode=${spec#*:}
	echo "### kvmx run $g.bin --mode $mode"
	show "demo.run.$g" kvmx run $G/$g.bin --mode $mode --timeout 60
done
echo "### kvmx run regs.bin --mode long --dump-regs --stats"
show demo.run.regs kvmx run $G/regs.bin --mode long --dump-regs --stats --timeout 60
echo "### the same guest on kvm_intel: kvmx run hello64.bin --mode long --device /dev/kvm"
check demo.kvm.insmod load_kvm
show demo.kvm.run.hello64 kvmx run $G/hello64.bin --mode long --device /dev/kvm --timeout 60
echo "### kvmx run -k vmlinuz -i initrd.gz -m 128M   (Debian's kernel as a kvmx guest)"
if [ -e /kvmx/linux/vmlinuz ]; then
	kvmx run -k /kvmx/linux/vmlinuz -i /kvmx/linux/initrd.gz -m 128M --timeout 300 \
		-p "console=ttyS0 noapic noacpi nolapic pci=conf1 reboot=k panic=-1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1" \
		</dev/null | tee /tmp/linux.out
	grep -q '^KVMX-GUEST-UP' /tmp/linux.out && pass demo.linux || fail demo.linux "no KVMX-GUEST-UP"
fi
dmesg_clean demo.dmesg-clean demo
