# shellcheck shell=bash
# Common helpers for kvmx's scripts.  Source it; don't run it.
KVMX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KVMX_BUILD=${KVMX_BUILD:-$KVMX_ROOT/build}
RIG_DIR=$KVMX_BUILD/rig

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root for: $* (run as root or install sudo)"
	fi
}

apt_updated=0
apt_update_once() {
	[ $apt_updated = 1 ] && return 0
	say "setup: apt-get update"
	as_root apt-get update -qq >/dev/null || die "apt-get update failed"
	apt_updated=1
}

# ensure_pkgs PKG...: install the Debian packages that are not installed yet.
ensure_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	say "setup: installing ${missing[*]}"
	# A fresh machine has no package lists; an old list may name gone versions.
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt_update_once
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null ||
			die "could not install: ${missing[*]}"
	fi
}

# The Debian kernel version the rig boots (e.g. 6.1.0-56-amd64), resolved once
# from the archive's linux-image-amd64 and cached in build/rig/kver.
rig_kver() {
	local f=$RIG_DIR/kver v
	if [ -s "$f" ]; then cat "$f"; return; fi
	v=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
	if [ -z "$v" ]; then
		apt_update_once
		v=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
	fi
	[ -n "$v" ] || die "cannot resolve the kernel version behind linux-image-amd64"
	mkdir -p "$RIG_DIR"
	echo "$v" >"$f"
	echo "$v"
}
