#!/bin/sh
# Install the Debian packages a target needs, if any are missing.
# As root: installs them (apt-get). Otherwise: prints the exact command.
#   tests/deps.sh build|test|demo|bench|san|fuzz|cross
set -eu

# libwolfssl-dev for WOLFSSL=system; dpkg-dev, autotools and the archive
# keyring to fetch and build pinshim's own wolfSSL (mk/wolfssl.sh), patch
# for its one change
build="gcc make pkg-config libc6-dev libwolfssl-dev libevent-dev libinih-dev
	dpkg-dev patch autoconf automake libtool debian-archive-keyring"
case "${1:-build}" in
build)	pkgs="$build" ;;
test)	pkgs="$build libcmocka-dev openssl curl nginx mitmproxy python3 iproute2 nftables
	faketime python3-prometheus-client prometheus mandoc systemd
	mosquitto mosquitto-clients python3-paho-mqtt squid-openssl nodejs
	python3-grpcio python3-httpx python3-h2 busybox"
	# busybox for its syslogd, the one OpenWrt runs (test_tunnel's syslog
	# framing test); a 32-bit compiler for the year-2038 test (tests/unit/time32.c); the
	# i686 cross compiler, since gcc-multilib conflicts with the ARM ones;
	# and the compilers and qemu-user test_sandbox_arch runs the seccomp
	# filter of every OpenWrt architecture with (MIPS both endians, ARM)
	[ "$(dpkg --print-architecture)" = amd64 ] &&
	    pkgs="$pkgs gcc-i686-linux-gnu libc6-dev-i386-cross
	    gcc-mipsel-linux-gnu libc6-dev-mipsel-cross gcc-mips-linux-gnu
	    libc6-dev-mips-cross gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static" ;;
demo)	pkgs="$build openssl curl" ;;
# the interception bench (bench/intercept_bench.py): squid-openssl for
# ssl_bump (it replaces squid, which lacks it), mitmproxy, the network
# namespaces it runs in, and OpenSSL's headers for its bench/tlsload.c
bench)	pkgs="$build openssl curl nginx libnginx-mod-stream stunnel4 haproxy
	wrk python3 squid-openssl mitmproxy iproute2 nftables libssl-dev" ;;
san)	pkgs="$build libgcc-12-dev" ;;	# libasan/libubsan come with gcc
fuzz)	pkgs="$build clang libclang-rt-14-dev" ;;	# libFuzzer
# make check-cross: the gateway targets' compilers and C libraries, qemu-user
# to run what they build, the peers of the emulated tests
cross)	pkgs="$build gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static
	openssl python3" ;;
*)	echo "usage: $0 build|test|demo|bench|san|fuzz|cross" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "pinshim: missing Debian packages:$missing" >&2
	echo "install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "pinshim: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
