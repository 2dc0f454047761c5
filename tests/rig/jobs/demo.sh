# make demo in the rig: load kvmx and show what it sees.
. /kvmx/jobs/lib.sh
dmesg_mark demo
echo "### insmod kvmx.ko"
check demo.insmod insmod /kvmx/modules/kvmx.ko
echo "### kvmx info"
check demo.info sh -c 'kvmx info | tee /dev/console'
for g in /kvmx/guests/*.bin; do
	[ -e "$g" ] || continue
	if kvmx help run >/dev/null 2>&1 || kvmx run --help >/dev/null 2>&1; then
		echo "### kvmx run $(basename "$g")"
		check "demo.run.$(basename "$g" .bin)" kvmx run "$g"
	fi
done
dmesg_clean demo.dmesg-clean demo
