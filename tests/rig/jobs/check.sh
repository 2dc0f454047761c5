# The rig half of `make check` (1 CPU): module lifecycle, the VM API, kvmx and
# kvm_intel taking turns, unload, a clean kernel log.
. /kvmx/jobs/lib.sh
dmesg_mark check

check kvmx.insmod insmod /kvmx/modules/kvmx.ko
check kvmx.devnode-is-0660 sh -c '[ -c /dev/kvmx ] && [ "$(stat -c %a /dev/kvmx)" = 660 ]'
check kvmx.info sh -c 'kvmx info | tee /dev/console | grep -q "kvmx can run here"'
check kvmx.info-mitigations sh -c 'kvmx info | grep -Eq "Spectre v2: RSB refilled after VM exit +on"'
check kvmx.info-raw sh -c 'kvmx info --raw | tee /dev/console | grep -q "^ept_vpid_cap "'
check kvm.insmod load_kvm

gtest /kvmx/kvmx-rig-tests --gtest_filter=-Smp.*:Smp/*:KvmAfterRmmod.*
. /kvmx/jobs/guests.sh
. /kvmx/jobs/lab.sh
# Every VM is gone: the module must hold nothing any more.
check kvmx.accounting-zero sh -c 'for f in /sys/class/misc/kvmx/accounting/*; do
	[ "$(cat "$f")" = 0 ] || { echo "$f = $(cat "$f")"; exit 1; }; done'

check kvmx.rmmod rmmod kvmx
check kvmx.gone-after-rmmod sh -c '[ ! -e /dev/kvmx ] && ! grep -q "^kvmx " /proc/modules'
check kvmx.reload sh -c 'insmod /kvmx/modules/kvmx.ko && rmmod kvmx'
# With kvmx gone for good, KVM still runs a guest: no VMX state was left.
gtest /kvmx/kvmx-rig-tests --gtest_filter=KvmAfterRmmod.*
dmesg_clean kvmx.dmesg-clean check
