#!/usr/bin/env bash
# Copy what kbuild needs for kvmx.ko into DEST (DEST/kmod, DEST/common,
# DEST/uapi/linux), so a build there never writes into the source tree:
#   stage-kmod.sh DEST
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dest=${1:?usage: stage-kmod.sh DEST}
# Fresh each time: a file that moved must not linger and shadow its new home.
rm -rf "$dest/kmod" "$dest/common" "$dest/uapi"
mkdir -p "$dest/kmod" "$dest/common" "$dest/uapi/linux"
cp "$KVMX_ROOT"/kmod/*.[chS] "$KVMX_ROOT"/kmod/Kbuild "$KVMX_ROOT"/kmod/Makefile "$dest/kmod/"
cp "$KVMX_ROOT"/common/*.[ch] "$dest/common/"
cp "$KVMX_ROOT"/uapi/linux/*.h "$dest/uapi/linux/"
