#!/usr/bin/env bash
# Build kvmx through dkms against the rig kernel's headers, as a user's
# machine would (dkms add/build), then remove it again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"

ensure_pkgs dkms openssl
kver=$(rig_kver)
ensure_pkgs "linux-headers-$kver"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
src=/usr/src/kvmx-$ver

cleanup() {
	as_root dkms remove -m kvmx -v "$ver" --all >/dev/null 2>&1 || true
	as_root rm -rf "$src"
}
cleanup
trap cleanup EXIT

as_root mkdir -p "$src/scripts"
as_root cp dkms.conf "$src/"
as_root scripts/stage-kmod.sh "$src"
as_root cp kmod/99-kvmx.rules "$src/kmod/"
as_root cp scripts/kdir.sh scripts/lib.sh "$src/scripts/"

as_root dkms add -m kvmx -v "$ver"
as_root dkms build -m kvmx -v "$ver" -k "$kver"
ko=$(find "/var/lib/dkms/kvmx/$ver/$kver" -name 'kvmx.ko*' | head -n1)
[ -n "$ko" ] || die "dkms build left no kvmx.ko"
modinfo "$ko" | grep -q "^vermagic: *$kver " || die "$ko is not built for $kver"
echo "dkms: built $ko for $kver"
