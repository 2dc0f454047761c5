#!/usr/bin/env bash
# KVM's own selftests (tools/testing/selftests/kvm) for the rig's kernel, built
# from Debian's linux-source-6.1 as static x86_64 binaries (the rig's initramfs
# has no shared libraries).  The source is not in the tree: the parts the build
# needs (tools/, and what `make headers` needs to produce the uapi headers of
# the same version) are extracted from /usr/src/linux-source-6.1.tar.xz.
#
#   scripts/build-kvm-selftests.sh [--all]
#
# Builds the tests tests/kvm-selftests/tests.txt runs (every category but
# `exclude`; --all: every x86_64 test) into build/kvm-selftests/bin, stripped.
# Quick when nothing changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

all=0
[ "${1:-}" = --all ] && all=1

ensure_pkgs linux-source-6.1 make gcc libc6-dev binutils xz-utils
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || die "$tarball is missing (package linux-source-6.1)"

# The selftests must match the rig's kernel: say so if Debian's archive moved
# one of them ahead of the other.
kver=$(rig_kver)
src_ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hdr_ver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver" 2>/dev/null || echo "?")
[ "$src_ver" = "$hdr_ver" ] ||
	say "kvm-selftests: warning: linux-source-6.1 is $src_ver, the rig kernel $kver is $hdr_ver"

top=$KVMX_BUILD/kvm-selftests
src=$top/src/linux-source-6.1
obj=$top/obj
bin=$top/bin
list=$KVMX_ROOT/tests/kvm-selftests/tests.txt
compat=$KVMX_ROOT/tests/kvm-selftests/compat.h

# --- extract once per tarball ---
stamp="$src_ver $(stat -c '%s %Y' "$tarball")"
if [ "$(cat "$top/src/.extracted" 2>/dev/null)" != "$stamp" ]; then
	say "kvm-selftests: extracting tools/ and the uapi headers' sources from $tarball"
	rm -rf "$top/src" "$obj"
	mkdir -p "$top/src"
	tar -xJf "$tarball" -C "$top/src" --wildcards \
		'linux-source-6.1/Makefile' 'linux-source-6.1/Kbuild' 'linux-source-6.1/Kconfig' \
		'linux-source-6.1/scripts/*' 'linux-source-6.1/include/*' 'linux-source-6.1/arch/x86/*' \
		'linux-source-6.1/usr/*' 'linux-source-6.1/tools/*'
	# The uapi headers the selftests include (<linux/kvm.h>, <asm/kvm.h>, ...)
	# land in usr/include, where the selftests' Makefile looks by default.
	make -s -C "$src" ARCH=x86 headers >/dev/null
	echo "$stamp" >"$top/src/.extracted"
fi

# --- the tests to build: tests.txt's names (NAME CATEGORY ...), or all ---
kdir=$src/tools/testing/selftests/kvm
targets=()
names=()
if [ $all = 1 ]; then
	mapfile -t names < <(sed -n 's/^TEST_GEN_PROGS_x86_64 +\?= \(.*\)$/\1/p' "$kdir/Makefile" |
		xargs -n1 basename)
else
	mapfile -t names < <(sed 's/#.*//' "$list" | awk 'NF >= 2 && $2 != "exclude" { print $1 }')
fi
for n in "${names[@]}"; do
	if [ -f "$kdir/x86_64/$n.c" ]; then targets+=("$obj/x86_64/$n")
	elif [ -f "$kdir/$n.c" ]; then targets+=("$obj/$n")
	else die "kvm-selftests: no test named $n in $kdir"
	fi
done

mkdir -p "$obj" "$bin"
# The selftests' own Makefile and flags, linked statically; compat.h supplies
# two helpers Debian's 6.1 backports use but lack (see the file).
make -s -C "$kdir" -j"$(nproc)" OUTPUT="$obj" LDFLAGS="-static -pthread" \
	EXTRA_CFLAGS="-include $compat" "${targets[@]}" >/dev/null

# --- install: stripped, and nothing else in bin/ ---
for t in "${targets[@]}"; do
	b=$bin/$(basename "$t")
	[ "$b" -nt "$t" ] || strip -o "$b" "$t"
done
for b in "$bin"/*; do
	[ -e "$b" ] || continue
	printf '%s\n' "${names[@]}" | grep -qxF "$(basename "$b")" || rm -f "$b"
done
say "kvm-selftests: ${#targets[@]} tests in $bin ($(du -sh "$bin" | cut -f1))"
