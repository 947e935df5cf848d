#!/bin/sh
# A sysroot for a cross build: Debian's packages of pinshim's other
# libraries (libevent and inih, linked statically by check-cross and
# dynamically by check-openwrt, so their shared objects too; cmocka for
# the unit tests) for the target's architecture, unpacked under DIR. apt checks the
# archive's signature; the system's apt configuration is never touched
# (private sources list, lists and cache under DIR.apt/).
#   mk/sysroot.sh DIR TRIPLET
set -eu
mkdir -p "$(dirname "$1")"
dir=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")	# apt wants it absolute
triplet=$2
case $triplet in
aarch64-linux-gnu)	arch=arm64 ;;
arm-linux-gnueabihf)	arch=armhf ;;
i686-linux-gnu)		arch=i386 ;;
x86_64-linux-gnu)	arch=amd64 ;;
riscv64-linux-gnu)	arch=riscv64 ;;
*)	echo "mk/sysroot.sh: no Debian architecture for $triplet" >&2
	exit 1 ;;
esac
pkgs="libevent-dev libevent-2.1-7 libinih-dev libinih1 libcmocka-dev libcmocka0"
work=$dir.apt

mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/etc" \
    "$work/debs"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$work/etc/sources.list" <<LIST
deb [arch=$arch signed-by=$key] http://deb.debian.org/debian bookworm main
deb [arch=$arch signed-by=$key] http://deb.debian.org/debian-security bookworm-security main
LIST
set -- -o Dir::Etc::SourceList="$work/etc/sources.list" \
    -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$work/lists" \
    -o Dir::Cache::Archives="$work/archives" \
    -o APT::Architecture="$arch" -o APT::Architectures="$arch" \
    -o APT::Sandbox::User=root
echo "mk/sysroot.sh: fetching $pkgs for $arch"
if ! apt-get "$@" -qq update ||
    ! (cd "$work/debs" && apt-get "$@" -qq download $pkgs); then
	echo "mk/sysroot.sh: cannot fetch the $arch packages from" \
	    "deb.debian.org (needs debian-archive-keyring and the network)" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir"
for deb in "$work"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir"
done
for f in usr/include/event2/event.h usr/include/ini.h \
    "usr/lib/$triplet/libevent.a" "usr/lib/$triplet/libinih.a" \
    "usr/lib/$triplet/libevent-2.1.so.7" "usr/lib/$triplet/libinih.so.1" \
    "usr/lib/$triplet/libcmocka.so"; do
	if [ ! -e "$dir/$f" ]; then
		echo "mk/sysroot.sh: $dir/$f missing after unpacking" >&2
		exit 1
	fi
done
touch "$dir/.done"
echo "mk/sysroot.sh: sysroot for $triplet in $dir"
