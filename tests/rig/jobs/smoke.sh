# Boot smoke test: the rig boots and VMX is there.
. /kvmx/jobs/lib.sh
check rig.cpuinfo.vmx grep -qw vmx /proc/cpuinfo
check rig.insmod.kvmx insmod /kvmx/modules/kvmx.ko
