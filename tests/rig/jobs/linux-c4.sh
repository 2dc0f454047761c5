# The linux job's 4-vCPU boot on kvmx (smp_boot in lib.sh), a job of its
# own so that make check can run it in the lane with time left (after qemu,
# which leaves kvmx loaded).
. /kvmx/jobs/lib.sh
dmesg_mark linux-c4
[ -d /sys/module/kvmx ] || check kvmx.insmod insmod /kvmx/modules/kvmx.ko
smp_boot kvmx /dev/kvmx 4
dmesg_clean linux-c4.dmesg-clean linux-c4
