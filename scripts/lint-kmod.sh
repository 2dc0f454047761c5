#!/usr/bin/env bash
# Kernel-side lint: checkpatch (no errors, no warnings) and sparse (nothing
# reported in kvmx's own files) over kmod/ and uapi/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KVMX_ROOT"

ensure_pkgs sparse xz-utils
kver=$(rig_kver)

# checkpatch.pl is not in the headers package: take it from Debian's kernel
# source package once (scripts/ only) and keep it in build/tools.
cp_dir=$KVMX_BUILD/tools/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	major=$(echo "$kver" | cut -d. -f1-2)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	say "lint: fetching checkpatch.pl from linux-source-$major"
	(cd "$tmp" && apt-get download "linux-source-$major" >/dev/null 2>&1) || {
		apt_update_once
		(cd "$tmp" && apt-get download "linux-source-$major" >/dev/null)
	}
	mkdir -p "$cp_dir"
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-*.deb |
		tar -xO "./usr/src/linux-source-$major.tar.xz" |
		tar -xJ -C "$cp_dir" --strip-components=1 \
			"linux-source-$major/scripts/checkpatch.pl" \
			"linux-source-$major/scripts/spelling.txt" \
			"linux-source-$major/scripts/const_structs.checkpatch"
fi

status=0
echo "== checkpatch"
if ! "$cp_dir/scripts/checkpatch.pl" --no-tree --terse --show-types -f \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE \
	$(ls kmod/*.c kmod/*.h common/*.c common/*.h uapi/linux/*.h |
	  grep -v '^common/vmcs_fields.h$'); then
	status=1
fi
# vmcs_fields.h makes its enums from the field and exit-reason tables: a
# macro that expands to "NAME = (value)," is what checkpatch's COMPLEX_MACRO
# rule cannot tell from a bare expression.  Everything else still applies.
if ! "$cp_dir/scripts/checkpatch.pl" --no-tree --terse --show-types -f \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,COMPLEX_MACRO \
	common/vmcs_fields.h; then
	status=1
fi

echo "== sparse"
tmp_build=$KVMX_BUILD/lint/kmod
rm -rf "$KVMX_BUILD/lint"
"$KVMX_ROOT/scripts/stage-kmod.sh" "$KVMX_BUILD/lint"
make -s -C "/usr/src/linux-headers-$kver" M="$tmp_build" C=2 CHECK=sparse modules \
	>"$KVMX_BUILD/lint/sparse.log" 2>&1 || { cat "$KVMX_BUILD/lint/sparse.log"; status=1; }
# Debian's headers trip sparse themselves; kvmx's own files must be clean.
if grep -E "^$KVMX_BUILD/lint/(kmod|common)/[^ ]*:[0-9]+:[0-9]+: (warning|error)" \
	"$KVMX_BUILD/lint/sparse.log"; then
	status=1
fi
[ $status = 0 ] && echo "lint: checkpatch and sparse clean"
exit $status
