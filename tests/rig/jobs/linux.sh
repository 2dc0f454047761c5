# Boot the rig's own Debian kernel as a kvmx guest (kvmx run -k) with a small
# initramfs whose /init prints a line and halts; then type into its shell.
. /kvmx/jobs/lib.sh
dmesg_mark linux
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
L=/kvmx/linux
uptime_s() { cut -d' ' -f1 /proc/uptime; }

t0=$(uptime_s)
# The guest's console streams to the rig's console as it boots.
{ timeout 300 kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M --stats </dev/null 2>&1
  echo $? >/tmp/linux.rc; } | tee /tmp/linux.out
rc=$(cat /tmp/linux.rc)
t1=$(uptime_s)
echo "KVMX-LINUX-BOOT kvmx status $rc, $(awk "BEGIN { print $t1 - $t0 }") s (rig guest time)"
if [ $rc = 0 ] && grep -q '^KVMX-GUEST-UP' /tmp/linux.out; then pass linux.boots-to-init
else fail linux.boots-to-init "kvmx run -k exited $rc"; fi

# Interactive: what is typed on the terminal reaches the guest's shell.  The
# "typing" waits for the shell, as a person would (a UART drops what arrives
# before the driver set it up).
params="console=ttyS0 noapic noacpi nolapic pci=conf1 reboot=k panic=-1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 quiet kvmx.shell"
rm -f /tmp/in && mkfifo /tmp/in
timeout 300 kvmx run -k $L/vmlinuz -i $L/initrd.gz -m 128M -p "$params" </tmp/in >/tmp/shell.out 2>&1 &
pid=$!
exec 3>/tmp/in
i=0
while ! grep -q '^KVMX-GUEST-SHELL' /tmp/shell.out && [ $i -lt 300 ]; do sleep 1; i=$((i + 1)); done
for line in 'echo typed-$((6 * 7))' 'uname -s' 'halt -f'; do
	sleep 1
	echo "$line" >&3
done
wait $pid
rc=$?
exec 3>&-
cat /tmp/shell.out
if [ $rc = 0 ] && grep -q '^typed-42' /tmp/shell.out && grep -q '^Linux' /tmp/shell.out; then
	pass linux.shell-takes-input
else
	fail linux.shell-takes-input "kvmx run -k exited $rc"
fi

dmesg_clean linux.dmesg-clean linux
