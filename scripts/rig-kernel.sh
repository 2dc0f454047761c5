#!/usr/bin/env bash
# Fetch Debian's stock kernel for the rig without installing it: vmlinuz and
# the kvm and zram modules land in build/rig/kernel/.  Prints the kernel version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=$(rig_kver)
dest=$RIG_DIR/kernel
# kvm for comparison; zram (and zsmalloc, its allocator) for swap in the
# rig, whose root is an initramfs.
mods="virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-intel mm/zsmalloc drivers/block/zram/zram"
have_all=1
for m in $mods; do
	[ -s "$dest/modules/$(basename "$m").ko" ] || have_all=0
done
if [ ! -s "$dest/vmlinuz" ] || [ "$(cat "$dest/version" 2>/dev/null)" != "$kver" ] ||
	[ $have_all = 0 ]; then
	say "rig: fetching linux-image-$kver"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "linux-image-$kver" >/dev/null 2>&1) || {
		apt_update_once
		(cd "$tmp" && apt-get download "linux-image-$kver" >/dev/null) ||
			die "cannot download linux-image-$kver"
	}
	dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/x"
	rm -rf "$dest"
	mkdir -p "$dest/modules"
	cp "$tmp/x/boot/vmlinuz-$kver" "$dest/vmlinuz"
	for m in $mods; do
		f=$(ls "$tmp/x/lib/modules/$kver/kernel/$m".ko* | head -n1)
		case $f in
		*.xz) xz -dc "$f" >"$dest/modules/$(basename "$m").ko" ;;
		*.zst) zstd -qdc "$f" >"$dest/modules/$(basename "$m").ko" ;;
		*) cp "$f" "$dest/modules/$(basename "$m").ko" ;;
		esac
	done
	echo "$kver" >"$dest/version"
fi
echo "$kver"
