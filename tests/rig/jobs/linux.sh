# Boot the rig's own Debian kernel as a kvmx guest (kvmx run -k) with a small
# initramfs whose /init prints a line and halts; then type into its shell.
. /kvmx/jobs/lib.sh
dmesg_mark linux
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
L=/kvmx/linux
uptime_s() { cut -d' ' -f1 /proc/uptime; }

t0=$(uptime_s)
timeout 1500 kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M --stats </dev/null >/tmp/linux.out 2>&1
rc=$?
t1=$(uptime_s)
cat /tmp/linux.out
echo "KVMX-LINUX-BOOT kvmx status $rc, $(awk "BEGIN { print $t1 - $t0 }") s (rig guest time)"
if [ $rc = 0 ] && grep -q '^KVMX-GUEST-UP' /tmp/linux.out; then pass linux.boots-to-init
else fail linux.boots-to-init "kvmx run -k exited $rc"; fi

# Interactive: what is typed on the terminal reaches the guest's shell.
printf 'echo typed-$((6 * 7))\nuname -s\nhalt -f\n' >/tmp/typed
params="console=ttyS0 noapic noacpi nolapic pci=conf1 reboot=k panic=-1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 quiet kvmx.shell"
timeout 1500 kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M -p "$params" </tmp/typed >/tmp/shell.out 2>&1
rc=$?
cat /tmp/shell.out
if [ $rc = 0 ] && grep -q '^typed-42' /tmp/shell.out && grep -q '^Linux' /tmp/shell.out; then
	pass linux.shell-takes-input
else
	fail linux.shell-takes-input "kvmx run -k exited $rc"
fi
dmesg_clean linux.dmesg-clean linux
