# The 2-CPU half of `make check`: VMX on every CPU, CPU hotplug while VMs
# exist, VMs created from both CPUs.
. /kvmx/jobs/lib.sh
dmesg_mark smp
check smp.two-cpus sh -c '[ "$(grep -c ^processor /proc/cpuinfo)" = 2 ]'
check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvm.insmod load_kvm
gtest /kvmx/kvmx-rig-tests --gtest_filter='Smp.*:Smp/*:Vmx.*:Coexistence.*'
check kvmx.rmmod rmmod kvmx
dmesg_clean kvmx.dmesg-clean smp
