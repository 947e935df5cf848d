#!/bin/sh
# Build pinshim's own wolfSSL, once: the wolfssl source package of Debian's
# newest release (release= below, with its security archive, so Debian's
# security patches come along; apt checks the archive's signature against
# Debian's keyring), plus pinshim's three patches (mk/wolfssl-*.patch: a
# speed fix, an ALPN security fix, a smaller session), configured lean and
# accelerated for the target, installed as a static library under PREFIX.
#   mk/wolfssl.sh PREFIX [CC]
# WOLFSSL_SRC=DIR uses an unpacked source tree instead of fetching one.
# The archive is the one this machine's apt configuration uses for Debian
# (a local mirror stays in use); fetching never touches that
# configuration: a private sources list, lists and cache under PREFIX.src/.
# A tree fetched for another release is fetched and built afresh.
set -eu
prefix=$1
cc=${2:-cc}
work=$prefix.src
here=$(cd "$(dirname "$0")" && pwd)
src=${WOLFSSL_SRC:-$work/wolfssl}
# Debian 13: wolfSSL 5.7.2 with Debian's security fixes (Debian 12's 5.5.4
# lacks later advisories' fixes; docs/wolfssl.md has the table). A new
# release here, or a tree fetched by an older script, starts afresh.
release=trixie
key=/usr/share/keyrings/debian-archive-keyring.gpg

# The downloaded source package, unpacked into a fresh tree. apt checked
# the archive's signature and the files' hashes; the uploader's inline
# signature needs debian-keyring, so its "cannot verify" warning goes to
# the log.
unpack() {
	rm -rf "$src"
	dpkg-source -x "$work"/wolfssl_*.dsc "$src" >"$work/dpkg-source.log" 2>&1
}

# Debian's archive and its security archive as this machine's apt
# configuration names them (sources.list, sources.list.d/, one-line or
# deb822): the sites serving SUITE-security main and SUITE main, whatever
# SUITE the machine runs. Two lines, the archive first; none if apt names
# no such pair. Any mirror will do: apt checks what it serves against
# $key.
archives() {
	# shellcheck disable=SC2016
	apt-get indextargets --no-release-info \
	    --format '$(RELEASE) $(COMPONENT) $(SITE)' | awk '
	$2 == "main" && !($1 in site) { site[$1] = $3; order[n++] = $1 }
	END {
		for (i = 0; i < n; i++) {
			s = order[i]
			if (s !~ /-security$/)
				continue
			base = substr(s, 1, length(s) - length("-security"))
			if (base in site) {
				print site[base]
				print site[s]
				exit
			}
		}
	}'
}

# Called as "if ! fetch", where set -e does not apply: each step says
# itself that a failure ends it, and the release is recorded last.
fetch() {
	sites=$(archives) || return 1
	if [ "$(echo "$sites" | wc -w)" -ne 2 ]; then
		echo "mk/wolfssl.sh: the apt configuration names no Debian" \
		    "archive with its security archive (SUITE main and" \
		    "SUITE-security main)" >&2
		return 1
	fi
	main=$(echo "$sites" | sed -n 1p)
	security=$(echo "$sites" | sed -n 2p)
	echo "mk/wolfssl.sh: fetching wolfssl from Debian $release" \
	    "($main, $security)"
	rm -rf "$work"
	mkdir -p "$work/lists/partial" "$work/archives/partial" \
	    "$work/etc" || return 1
	cat > "$work/etc/sources.list" <<LIST || return 1
deb-src [signed-by=$key] $main $release main
deb-src [signed-by=$key] $security $release-security main
LIST
	set -- -o Dir::Etc::SourceList="$work/etc/sources.list" \
	    -o Dir::Etc::SourceParts=/dev/null \
	    -o Dir::State::Lists="$work/lists" \
	    -o Dir::Cache::Archives="$work/archives" \
	    -o APT::Sandbox::User=root
	apt-get "$@" -qq update || return 1
	(cd "$work" && apt-get "$@" -qq source --download-only wolfssl) ||
	    return 1
	unpack || return 1
	echo "$release" >"$work/release"
}

if [ -z "${WOLFSSL_SRC:-}" ] &&
    { [ ! -f "$src/configure.ac" ] ||
      [ "$(cat "$work/release" 2>/dev/null)" != "$release" ]; }; then
	if ! fetch; then
		echo "mk/wolfssl.sh: cannot fetch wolfssl from Debian $release;" \
		    "build against the system's wolfSSL with: make WOLFSSL=system" >&2
		exit 1
	fi
elif [ ! -f "$src/configure.ac" ]; then
	echo "mk/wolfssl.sh: WOLFSSL_SRC=$src holds no wolfSSL source tree" >&2
	exit 1
fi

# What pinshim uses, and nothing else (see docs/wolfssl.md for each flag).
target=$($cc -dumpmachine)
flags="--enable-static --disable-shared --disable-examples \
	--disable-crypttests --disable-benchmark \
	--enable-tls13 --disable-oldtls --enable-sni --enable-supportedcurves \
	--enable-session-ticket --enable-opensslextra \
	--enable-curve25519 --enable-ed25519 --enable-certgen --enable-certext \
	--enable-keygen --enable-ip-alt-name --enable-pkcs8 --enable-base64encode \
	--enable-alpn --enable-pkcallbacks \
	--disable-dh --disable-fpecc --disable-sha3"
defines="-DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_ALT_NAMES -DKEEP_OUR_CERT -DHAVE_EX_DATA"
# Assembly for the hot path: AES-GCM, SHA-2, X25519 and, of the SP
# (single-precision) code, P-256 only. P-384, P-521 and RSA use the
# generic sp_int math: their SP code and tables were 1.3 MB of the binary.
# x86-64's SP assembly file guards its RSA code only by WOLFSSL_SP_NO_*.
case $target in
x86_64-*)	flags="$flags --enable-aesni --enable-intelasm --enable-sp=256 \
		    --enable-sp-asm"
		defines="$defines -DWOLFSSL_SP_NO_2048 -DWOLFSSL_SP_NO_3072" ;;
aarch64-*)	flags="$flags --enable-armasm --enable-sp=256 --enable-sp-asm" ;;
*)		flags="$flags --enable-sp" ;;
esac
host=""
if [ "$target" != "$(cc -dumpmachine 2>/dev/null)" ]; then
	host="--host=$target"
	# the target's own ar and ranlib, where installed beside its compiler
	command -v "$target-ar" >/dev/null && export AR="$target-ar"
	command -v "$target-ranlib" >/dev/null && export RANLIB="$target-ranlib"
fi

# pinshim's changes to wolfSSL (each patch says why). The tree records
# which version of the patches it carries; one patched by another version
# (or half-patched) is unpacked afresh first, and a patch that does not
# apply exactly (no fuzz: the code it changes moved or changed) is refused
# before it touches a file.
patches="$here/wolfssl-forcezero.patch $here/wolfssl-alpn-list.patch $here/wolfssl-peercert.patch"
# shellcheck disable=SC2086
sum=$(cat $patches | sha256sum | cut -d' ' -f1)
stamp=$src/.pinshim-patch
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
	if [ -f "$stamp" ] || grep -q "/\* pinshim:" "$src/wolfcrypt/src/misc.c" \
	    "$src/src/tls.c"; then
		if [ -n "${WOLFSSL_SRC:-}" ] || ! ls "$work"/wolfssl_*.dsc >/dev/null 2>&1; then
			echo "mk/wolfssl.sh: $src carries another version of" \
			    "pinshim's patches: unpack it afresh" >&2
			exit 1
		fi
		unpack
	fi
	for patchfile in $patches; do
		if ! patch -s -F0 -d "$src" -p1 --dry-run <"$patchfile" >/dev/null; then
			echo "mk/wolfssl.sh: $patchfile does not apply to $src" >&2
			exit 1
		fi
		patch -s -F0 -d "$src" -p1 <"$patchfile"
	done
	echo "$sum" >"$stamp"
fi
cd "$src"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
# a tree built before (WOLFSSL_SRC, another target) starts clean
[ -f config.status ] && make -s distclean >/dev/null 2>&1
# an option this wolfSSL does not know stops the build (autoconf would
# only warn, and the feature would be missing)
# shellcheck disable=SC2086
./configure -q --enable-option-checking=fatal --prefix="$prefix" $host \
    $flags CC="$cc" \
    CFLAGS="-O2 -g -ffunction-sections -fdata-sections \
    -fno-asynchronous-unwind-tables -fno-unwind-tables $defines" >/dev/null
jobs=$(nproc 2>/dev/null || echo 2)
# Code off the relay's and the handshake's crypto path is built for size
# (-Os, added last to the configured CFLAGS so it wins): the OpenSSL
# compatibility layer and session cache, certificate parsing and making,
# TLS extensions, RSA's padding, Ed25519, encodings, errors. The record
# layer (internal.c, tls13.c), I/O, AES-GCM, SHA-2, ChaCha20-Poly1305,
# X25519, the P-256 SP code, and the generic math that P-384, P-521 and
# RSA use (ecc.c, sp_int.c: at -Os a P-384 chain's handshake took 10%
# more CPU, for 16 KiB) keep -O2. No unwind tables anywhere (C, nothing
# unwinds through wolfSSL; gdb reads .debug_frame).
cold=""
for o in src/libwolfssl_la-ssl src/libwolfssl_la-tls \
    wolfcrypt/src/src_libwolfssl_la-asn \
    wolfcrypt/src/src_libwolfssl_la-rsa \
    wolfcrypt/src/src_libwolfssl_la-ed25519 \
    wolfcrypt/src/src_libwolfssl_la-ge_operations \
    wolfcrypt/src/src_libwolfssl_la-pkcs12 wolfcrypt/src/src_libwolfssl_la-pwdbased \
    wolfcrypt/src/src_libwolfssl_la-coding wolfcrypt/src/src_libwolfssl_la-error \
    wolfcrypt/src/src_libwolfssl_la-logging wolfcrypt/src/src_libwolfssl_la-signature \
    wolfcrypt/src/src_libwolfssl_la-wc_encrypt wolfcrypt/src/src_libwolfssl_la-md5 \
    wolfcrypt/src/src_libwolfssl_la-sha wolfcrypt/src/src_libwolfssl_la-wolfmath; do
	grep -q "^$o.lo:" Makefile && cold="$cold $o.lo"
done
# shellcheck disable=SC2086
make -s -j"$jobs" CFLAGS="$(sed -n 's/^CFLAGS = //p' Makefile) -Os" \
    $cold >/dev/null
make -s -j"$jobs" >/dev/null
# no header of another version left behind in PREFIX
rm -rf "$prefix/include/wolfssl"
make -s install >/dev/null
echo "mk/wolfssl.sh: wolfSSL $(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' \
    "$prefix/include/wolfssl/version.h") for $target in $prefix"
