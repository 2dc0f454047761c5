# Developer's job: load the modules and run what RIG_DEV_CMD says, e.g.
#   RIG_DEV_CMD='gtest /kvmx/kvmx-rig-tests --gtest_filter=Api.*' scripts/rig.sh dev
. /kvmx/jobs/lib.sh
dmesg_mark dev
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod load_kvm
[ -f /kvmx/dev.cmd ] && . /kvmx/dev.cmd
dmesg_clean dev.dmesg-clean dev
