# Developer's job: load the modules and run what RIG_DEV_CMD says, e.g.
#   RIG_DEV_CMD='gtest /kvmx/kvmx-rig-tests --gtest_filter=Api.*' scripts/rig.sh dev
. /kvmx/jobs/lib.sh
dmesg_mark mmu
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod sh -c 'insmod /kvmx/modules/irqbypass.ko && insmod /kvmx/modules/kvm.ko &&
	insmod /kvmx/modules/kvm-intel.ko'
[ -f /kvmx/dev.cmd ] && . /kvmx/dev.cmd
dmesg_clean mmu.dmesg-clean mmu
