#!/bin/sh
# Build pinshim's own wolfSSL, once: Debian's wolfssl source package (so
# Debian's security patches come along; the archive signature is checked
# by apt), plus one speed patch of pinshim's (mk/wolfssl-forcezero.patch),
# configured lean and accelerated for the target, installed as a static
# library under PREFIX.
#   mk/wolfssl.sh PREFIX [CC]
# WOLFSSL_SRC=DIR uses an unpacked source tree instead of fetching one.
# Fetching never touches the system's apt configuration: a private sources
# list, lists and cache under PREFIX.src/.
set -eu
prefix=$1
cc=${2:-cc}
work=$prefix.src
here=$(cd "$(dirname "$0")" && pwd)
src=${WOLFSSL_SRC:-$work/wolfssl}

# The downloaded source package, unpacked into a fresh tree. apt checked
# the archive's signature and the files' hashes; the uploader's inline
# signature needs debian-keyring, so its "cannot verify" warning goes to
# the log.
unpack() {
	rm -rf "$src"
	dpkg-source -x "$work"/wolfssl_*.dsc "$src" >"$work/dpkg-source.log" 2>&1
}

fetch() {
	mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc"
	cat > "$work/etc/sources.list" <<LIST
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
	set -- -o Dir::Etc::SourceList="$work/etc/sources.list" \
	    -o Dir::Etc::SourceParts=/dev/null \
	    -o Dir::State::Lists="$work/lists" \
	    -o Dir::Cache::Archives="$work/archives" \
	    -o APT::Sandbox::User=root
	apt-get "$@" -qq update
	(cd "$work" && apt-get "$@" -qq source --download-only wolfssl)
	unpack
}

if [ ! -f "$src/configure.ac" ]; then
	echo "mk/wolfssl.sh: fetching Debian's wolfssl source package"
	if ! fetch; then
		echo "mk/wolfssl.sh: cannot fetch the wolfssl source package;" \
		    "build against the system's wolfSSL with: make WOLFSSL=system" >&2
		exit 1
	fi
fi

# What pinshim uses, and nothing else (see the README for each flag).
target=$($cc -dumpmachine)
flags="--enable-static --disable-shared --disable-examples \
	--disable-crypttests --disable-benchmark \
	--enable-tls13 --disable-oldtls --enable-sni --enable-supportedcurves \
	--enable-session-ticket --enable-opensslextra \
	--enable-curve25519 --enable-ed25519 --enable-certgen --enable-certext \
	--enable-keygen --enable-ip-alt-name --enable-pkcs8 --enable-base64encode \
	--disable-dh --disable-fpecc"
defines="-DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_ALT_NAMES -DKEEP_OUR_CERT -DHAVE_EX_DATA"
case $target in
x86_64-*)	flags="$flags --enable-aesni --enable-intelasm --enable-sp \
		    --enable-sp-asm" ;;
aarch64-*)	flags="$flags --enable-armasm --enable-sp --enable-sp-asm" ;;
*)		flags="$flags --enable-sp" ;;
esac
host=""
if [ "$target" != "$(cc -dumpmachine 2>/dev/null)" ]; then
	host="--host=$target"
	# the target's own ar and ranlib, where installed beside its compiler
	command -v "$target-ar" >/dev/null && export AR="$target-ar"
	command -v "$target-ranlib" >/dev/null && export RANLIB="$target-ranlib"
fi

# pinshim's one change to wolfSSL (the patch says why). The tree records
# which version of the patch it carries; one patched by another version
# (or half-patched) is unpacked afresh first, and a patch that does not
# apply is refused before it touches a file.
patchfile=$here/wolfssl-forcezero.patch
sum=$(sha256sum "$patchfile" | cut -d' ' -f1)
stamp=$src/.pinshim-patch
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
	if [ -f "$stamp" ] || grep -q "/\* pinshim:" "$src/wolfcrypt/src/misc.c"; then
		if [ -n "${WOLFSSL_SRC:-}" ] || ! ls "$work"/wolfssl_*.dsc >/dev/null 2>&1; then
			echo "mk/wolfssl.sh: $src carries another version of" \
			    "pinshim's patch: unpack it afresh" >&2
			exit 1
		fi
		unpack
	fi
	if ! patch -s -d "$src" -p1 --dry-run <"$patchfile" >/dev/null; then
		echo "mk/wolfssl.sh: $patchfile does not apply to $src" >&2
		exit 1
	fi
	patch -s -d "$src" -p1 <"$patchfile"
	echo "$sum" >"$stamp"
fi
cd "$src"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
# a tree built before (WOLFSSL_SRC, another target) starts clean
[ -f config.status ] && make -s distclean >/dev/null 2>&1
# shellcheck disable=SC2086
./configure -q --prefix="$prefix" $host $flags CC="$cc" \
    CFLAGS="-O2 -g -ffunction-sections -fdata-sections $defines" >/dev/null
make -s -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
make -s install >/dev/null
echo "mk/wolfssl.sh: wolfSSL $(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' \
    "$prefix/include/wolfssl/version.h") for $target in $prefix"
