#!/usr/bin/env bash
# Install what kvmx needs from Debian's archive, only what is missing.
#   setup.sh build   compilers, libraries, the rig kernel's headers
#   setup.sh rig     + Bochs, BIOS images, ISO tools, busybox, the rig kernel
#   setup.sh all     both (default)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

what=${1:-all}

BUILD_PKGS=(build-essential cmake pkg-config nasm kmod
	libgtest-dev libcli11-dev libfmt-dev libnl-genl-3-dev libnl-3-dev
	nlohmann-json3-dev)
RIG_PKGS=(bochs bochsbios vgabios isolinux syslinux-common xorriso
	busybox-static cpio gzip qemu-system-x86)

case $what in
build|rig|all) ;;
*) die "usage: setup.sh [build|rig|all]" ;;
esac

ensure_pkgs "${BUILD_PKGS[@]}"
kver=$(rig_kver)
# kbuild for the rig kernel (and the running one's, if Debian ships it).
ensure_pkgs "linux-headers-$kver"
[ "$what" = build ] && exit 0

ensure_pkgs "${RIG_PKGS[@]}"
"$KVMX_ROOT/scripts/rig-kernel.sh" >/dev/null
