#!/usr/bin/env bash
# The kernel build tree kvmx.ko is built against: the running kernel's when it
# has one, else the rig kernel's headers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

running=/lib/modules/$(uname -r)/build
if [ -d "$running" ]; then
	echo "$running"
else
	echo "/usr/src/linux-headers-$(rig_kver)"
fi
