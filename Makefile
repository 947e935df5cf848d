# pinshim - certificate-pinning shim.
#
#   make                 build ./build/pinshim
#   make check           unit + integration tests (installs test packages as root)
#   make demo            self-contained demo on a built-in configuration
#   make sanitize        build with ASan+UBSan into build-san/ (make check SAN=1 runs the suite on it)
#   make fuzz            libFuzzer harnesses into build-fuzz/ (clang); make
#                        fuzz-run FUZZ_SECONDS=60 runs each, fails on a crash
#   make STATIC=1        one fully static binary into build-static/ (also
#                        cross: make STATIC=1 CC=aarch64-linux-gnu-gcc)
#   make install         PREFIX=/usr/local DESTDIR= (stripped with STRIP;
#                        make install-unstripped, or STRIP=, keeps symbols)
#   make deps            install the Debian build packages (as root)
#
# wolfSSL: built from Debian's source package on first use (mk/wolfssl.sh);
#   make WOLFSSL=system                  the installed one (pkg-config)
#   make WOLFSSL_PREFIX=/opt/wolfssl     another one (its lib/pkgconfig, rpath)
#
# Layers, bottom first (tests/layers.py checks that includes only point
# down): base/ -> pins/ -> tls/, conf/ -> shim/.

CC		?= cc
PKG_CONFIG	?= pkg-config
PREFIX		?= /usr/local
DESTDIR		?=
# Where make install puts things. SYSCONFDIR is where the unit looks for
# pinshim/pinshim.ini: /etc, as the built-in default (-c's) is
# /etc/pinshim/pinshim.ini, whatever PREFIX is.
BINDIR		?= $(PREFIX)/bin
SYSCONFDIR	?= /etc
MANDIR		?= $(PREFIX)/share/man
DOCDIR		?= $(PREFIX)/share/doc/pinshim
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR	?= $(PREFIX)/lib/tmpfiles.d
SAN		?=

# A cross build when CC makes code for another machine:
#   make CC=aarch64-linux-gnu-gcc          (or arm-linux-gnueabihf-gcc, ...)
# into build-TRIPLET/; see "Cross builds" below.
TARGET		:= $(shell $(CC) -dumpmachine 2>/dev/null)
HOST		:= $(shell cc -dumpmachine 2>/dev/null)
ifneq ($(TARGET),$(HOST))
CROSS		= $(TARGET)
endif

# STATIC=1: pinshim as one static binary with no runtime library at all
# (rooted devices, adb shell, embedded Linux without a package manager):
# glibc, libevent, inih and pinshim's own wolfSSL linked in. Names are
# resolved by libevent's evdns, never NSS; [shim] user is looked up in
# /etc/passwd directly (shim/proc/privdrop.c).
ifeq ($(STATIC),1)
ifneq ($(SAN)$(filter system,$(WOLFSSL)),)
$(error STATIC=1 links pinshim's own wolfSSL, without sanitizers)
endif
BUILD		?= build-static$(if $(CROSS),-$(CROSS))
STATIC_LDFLAGS	= -static
STATIC_CFLAGS	= -DPINSHIM_STATIC
endif

ifeq ($(SAN),1)
BUILD		?= build-san
SANFLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifneq ($(CROSS),)
BUILD		?= build-$(CROSS)
SANFLAGS	=
else
BUILD		?= build
SANFLAGS	=
endif

# wolfSSL: by default pinshim's own build (mk/wolfssl.sh: Debian's source
# package, lean and accelerated for the target, linked statically, built
# once per target under build/); WOLFSSL=system uses the installed one
# through pkg-config, WOLFSSL_PREFIX=DIR another installed one.
WOLFSSL		?= bundled
ifneq ($(WOLFSSL_PREFIX),)
WOLFSSL		= system
export PKG_CONFIG_PATH := $(WOLFSSL_PREFIX)/lib/pkgconfig:$(PKG_CONFIG_PATH)
WOLFSSL_RPATH	= -Wl,-rpath,$(WOLFSSL_PREFIX)/lib
endif
ifeq ($(WOLFSSL),bundled)
WOLFSSL_DIR	= build/wolfssl-$(shell $(CC) -dumpmachine)
WOLFSSL_LIB	= $(WOLFSSL_DIR)/lib/libwolfssl.a
WOLFSSL_CFLAGS	= -I$(WOLFSSL_DIR)/include
WOLFSSL_LIBS	= $(WOLFSSL_LIB) -lm
# wolfSSL is built with a section per function: only what pinshim calls
# is linked (a smaller binary, fewer pages touched)
WOLFSSL_LDFLAGS	= -Wl,--gc-sections
else
WOLFSSL_LIB	=
WOLFSSL_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags wolfssl)
WOLFSSL_LIBS	?= $(shell $(PKG_CONFIG) --libs wolfssl) $(WOLFSSL_RPATH)
endif
# DEPS: where libevent, inih (and, with WOLFSSL=system, wolfSSL) come from.
# pkg-config: the native default, and what an SDK provides for a cross
# build (OpenWrt's: conf/openwrt/Makefile passes DEPS=pkg-config with the
# SDK's pkg-config); sysroot: the cross default, Debian's packages for the
# target (mk/sysroot.sh).
ifeq ($(CROSS),)
DEPS		?= pkg-config
else
DEPS		?= sysroot
endif
ifeq ($(DEPS),pkg-config)
EVENT_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags libevent)
INIH_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags inih)
ifeq ($(STATIC),1)
EVENT_LIBS	?= $(shell $(CC) -print-file-name=libevent.a)
INIH_LIBS	?= $(shell $(CC) -print-file-name=libinih.a)
else
EVENT_LIBS	?= $(shell $(PKG_CONFIG) --libs libevent)
INIH_LIBS	?= $(shell $(PKG_CONFIG) --libs inih)
endif
CMOCKA_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS	?= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
DEPS_READY	= $(BUILD)/.deps
else ifeq ($(DEPS),sysroot)
# Cross builds: libevent, inih and cmocka are Debian's packages for the
# target's architecture, unpacked into a sysroot by mk/sysroot.sh (fetched
# once; the host's pkg-config and headers are never used), libevent and
# inih linked statically. Debian's libwolfssl-dev is not Multi-Arch, so
# wolfSSL is always pinshim's own build, configured for the target.
ifneq ($(WOLFSSL),bundled)
$(error a cross build ($(CROSS)) uses pinshim's own wolfSSL; drop WOLFSSL=$(WOLFSSL))
endif
SYSROOT		?= build/sysroot-$(CROSS)
SYSROOT_LIB	= $(SYSROOT)/usr/lib/$(CROSS)
EVENT_CFLAGS	= -I$(SYSROOT)/usr/include
EVENT_LIBS	= $(SYSROOT_LIB)/libevent.a
INIH_CFLAGS	=
INIH_LIBS	= $(SYSROOT_LIB)/libinih.a
CMOCKA_CFLAGS	=
CMOCKA_LIBS	= -L$(SYSROOT_LIB) -lcmocka -Wl,-rpath,$(abspath $(SYSROOT_LIB))
DEPS_READY	= $(SYSROOT)/.done
else
$(error DEPS=$(DEPS): want pkg-config or sysroot)
endif

CFLAGS		?= -O2 -g
WARN		= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		  -Wpointer-arith -Wformat=2
ifeq ($(WERROR),1)
WARN		+= -Werror
endif
# Size (issue 25's budget: 1.5 MiB x86-64, 1.3 MiB arm64, test_size.py):
# each function and object in its own section, so --gc-sections drops
# what nothing calls; and no unwind tables, as for wolfSSL: pinshim is C
# that nothing unwinds through (no C++, no backtrace(3)), and a debugger
# reads the unstripped binary's .debug_frame. A sanitizer build keeps them.
SIZEFLAGS	= -ffunction-sections -fdata-sections
ifneq ($(SAN),1)
SIZEFLAGS	+= -fno-asynchronous-unwind-tables -fno-unwind-tables
endif
ALL_CFLAGS	= -std=c11 -D_GNU_SOURCE -I. -MMD -MP $(WARN) $(CFLAGS) \
		  $(SIZEFLAGS) $(SANFLAGS) $(STATIC_CFLAGS) $(WOLFSSL_CFLAGS) \
		  $(EVENT_CFLAGS) $(INIH_CFLAGS)
ALL_LDFLAGS	= $(LDFLAGS) $(SANFLAGS) $(WOLFSSL_LDFLAGS)
LIBS		= $(WOLFSSL_LIBS) $(EVENT_LIBS) $(INIH_LIBS)

# Each layer's sources, bottom first.
BASE_SRCS	= base/mem.c base/parse.c base/addr.c base/file.c base/log.c \
		  base/sock.c base/strmap.c base/clock.c base/unixsock.c \
		  base/cursor.c base/list.c base/url.c base/ini.c base/json.c
PINS_SRCS	= pins/pin.c pins/pinset.c pins/host.c pins/policy.c \
		  pins/rule.c pins/feed_body.c pins/feed_file.c pins/feed_keys.c pins/feed_accept.c \
		  pins/tofu.c
TLS_SRCS	= tls/tls_client.c tls/tls_verify.c tls/tls_anchors.c \
		  tls/tls_resume.c tls/tls_ca.c tls/tls_ca_key.c tls/tls_ident.c \
		  base/clock.c base/log.c \
		  base/parse.c
TLS_SRCS	+= tls/tls_alpn.c
CONF_SRCS	= conf/conf.c
SHIM_SRCS	= shim/net/upstream.c shim/net/relay.c shim/net/http1.c \
		  shim/net/origdst.c shim/net/dial.c shim/net/proxy.c \
		  shim/conn/conn.c shim/conn/tunnel.c shim/conn/forward.c \
		  shim/conn/transparent.c shim/conn/intercept.c \
		  shim/conn/clienthello.c shim/conn/front.c \
		  shim/listen/listener.c shim/listen/gate.c shim/listen/quota.c \
		  shim/remote/feedsync.c shim/remote/report.c shim/remote/web.c \
		  shim/remote/httpc.c shim/remote/report_queue.c \
		  shim/status/status.c shim/status/status_render.c \
		  shim/status/metrics.c \
		  shim/keeper/keeper_answer.c shim/keeper/keeper_client.c \
		  shim/keeper/keeper_proc.c shim/keeper/keeper_wire.c \
		  shim/keeper/keeper_trust.c \
		  shim/proc/daemon.c shim/proc/inforce.c shim/proc/tofusync.c \
		  shim/proc/sandbox.c shim/proc/privdrop.c shim/proc/notify.c \
		  shim/cmd/cmd_pin.c shim/cmd/cmd_feed.c shim/cmd/cmd_ca.c \
		  shim/cmd/cmd_status.c shim/cmd/cmd_tofu.c \
		  shim/cmd/cmd_monitor.c shim/cmd/probe.c \
		  shim/cmd/feedwatch.c shim/cmd/cmd_body.c \
		  shim/cmd/cmd_usage.c shim/main.c
SRCS		= $(sort $(BASE_SRCS) $(PINS_SRCS) $(TLS_SRCS) $(CONF_SRCS) \
		  $(SHIM_SRCS))

# Unit tests link only the modules they test (and what those use).
PINS_DEPS	= base/mem.c base/list.c base/parse.c base/ini.c base/url.c \
		  base/cursor.c base/file.c base/strmap.c base/clock.c base/log.c \
		  $(PINS_SRCS)
test_pin_SRCS	= $(PINS_DEPS) $(TLS_SRCS)
test_host_SRCS	= pins/host.c
test_policy_SRCS = $(PINS_DEPS)
test_conf_SRCS	= $(PINS_DEPS) base/addr.c \
		  base/log.c $(CONF_SRCS)
test_feed_SRCS	= $(PINS_DEPS)
test_feed_accept_SRCS = $(PINS_DEPS)
test_tofu_SRCS	= $(PINS_DEPS) $(TLS_SRCS)
test_ca_SRCS	= $(TLS_SRCS) pins/pin.c pins/pinset.c pins/host.c pins/policy.c \
		  base/mem.c base/list.c base/file.c base/strmap.c
test_base_SRCS	= base/mem.c base/cursor.c base/list.c base/parse.c \
		  base/url.c base/strmap.c base/clock.c base/file.c base/log.c \
		  base/json.c
test_http1_SRCS	= base/cursor.c base/parse.c shim/net/http1.c
test_proxy_SRCS	= base/cursor.c base/parse.c base/mem.c shim/net/http1.c \
		  shim/net/proxy.c
test_relay_SRCS	= $(test_ca_SRCS) base/log.c shim/net/relay.c
test_clienthello_SRCS = base/cursor.c shim/conn/clienthello.c \
		  tls/tls_alpn.c base/mem.c
# test_unixsock includes base/unixsock.c itself, with a hook in it
test_unixsock_SRCS = base/file.c base/mem.c
test_keeper_SRCS = $(PINS_DEPS) $(TLS_SRCS) base/log.c shim/keeper/keeper_answer.c \
		  shim/keeper/keeper_wire.c shim/keeper/keeper_trust.c \
		  shim/proc/sandbox.c shim/proc/privdrop.c
test_quota_SRCS	= base/mem.c shim/listen/quota.c
test_gate_SRCS	= base/addr.c base/parse.c base/log.c shim/listen/gate.c
test_status_SRCS = $(PINS_DEPS) base/json.c shim/status/metrics.c \
		  shim/status/status_render.c
test_report_queue_SRCS = shim/remote/report_queue.c
test_dial_SRCS	= base/mem.c base/addr.c base/parse.c base/log.c base/sock.c \
		  shim/net/dial.c
UNIT_TESTS	= test_pin test_host test_policy test_conf test_feed \
		  test_feed_accept test_tofu test_ca \
		  test_base test_http1 test_relay test_clienthello test_keeper \
		  test_unixsock test_quota test_gate test_status \
		  test_dial test_proxy test_report_queue

OBJS		= $(SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS	= $(UNIT_TESTS:%=$(BUILD)/tests/%)

# The 2038 test needs a 32-bit time_t: Debian's i686 cross compiler,
# linked statically so it runs on an amd64 kernel as it is (tests/deps.sh
# installs gcc-i686-linux-gnu there: unlike gcc-multilib it coexists with
# the ARM cross compilers), else $(CC) -m32. Not in cross builds.
ifeq ($(CROSS),)
CC32		?= $(shell command -v i686-linux-gnu-gcc >/dev/null 2>&1 && \
		     echo 'i686-linux-gnu-gcc -static' || echo '$(CC) -m32')
M32		:= $(shell echo 'int main(void){return 0;}' | \
		     $(CC32) -x c -o /dev/null - 2>/dev/null && echo yes)
endif
ifeq ($(M32),yes)
UNIT_BINS	+= $(BUILD)/tests/test_time32
endif

# libFuzzer harnesses (fuzz/), clang with ASan + UBSan, in build-fuzz/.
FUZZ_CC		?= clang
FUZZ_BUILD	= build-fuzz
FUZZ_SECONDS	?= 60
FUZZ_FLAGS	= -std=c11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer \
		  -fsanitize=address,undefined -fno-sanitize-recover=undefined
fuzz_clienthello_SRCS = base/cursor.c shim/conn/clienthello.c
fuzz_http1_SRCS	= base/cursor.c base/parse.c base/mem.c shim/net/http1.c \
		  shim/net/proxy.c
fuzz_feed_SRCS	= $(PINS_DEPS)
fuzz_ini_SRCS	= $(test_conf_SRCS)
fuzz_pins_SRCS	= base/mem.c base/list.c pins/pin.c pins/pinset.c
fuzz_host_SRCS	= pins/host.c
fuzz_keeper_SRCS = base/cursor.c base/file.c base/mem.c base/parse.c \
		   shim/keeper/keeper_wire.c
fuzz_weaken_SRCS = $(PINS_DEPS)
FUZZERS		= fuzz_clienthello fuzz_http1 fuzz_feed fuzz_ini fuzz_pins \
		  fuzz_host fuzz_keeper fuzz_weaken

.PHONY: all check check-cross check-static check-openwrt unit demo sanitize install \
	install-unstripped uninstall clean \
	deps bench fuzz fuzz-run

all: $(BUILD)/pinshim

# A rebuilt libwolfssl.a relinks (LIBS names it; $(WOLFSSL_LIB) is empty
# for WOLFSSL=system)
$(BUILD)/pinshim: $(OBJS) $(WOLFSSL_LIB)
	$(CC) $(ALL_LDFLAGS) $(STATIC_LDFLAGS) -o $@ $(OBJS) $(LIBS)

# The clock's floor: the date of this source (its last commit, or
# SOURCE_DATE_EPOCH; 0 when neither is known).
BUILD_TIME	?= $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct \
		     2>/dev/null),0)
$(BUILD)/base/clock.o: ALL_CFLAGS += -DPINSHIM_BUILD_TIME=$(BUILD_TIME)

# A rebuilt wolfSSL (mk/wolfssl.sh changed) recompiles every object: its
# new options.h can change the size of the keys and contexts pinshim
# embeds, and make has already judged the headers by then, so as an
# order-only prerequisite the first make after a change linked stale objects
$(BUILD)/%.o: %.c $(WOLFSSL_LIB) | $(DEPS_READY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/unit/%.c $(WOLFSSL_LIB) | $(DEPS_READY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -c -o $@ $<

define unit_test
$(BUILD)/tests/$(1): $(BUILD)/tests/$(1).o $$(sort $$($(1)_SRCS:%.c=$(BUILD)/%.o)) $(WOLFSSL_LIB)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LIBS) $$(CMOCKA_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test,$(t))))

$(BUILD)/tests/test_time32: tests/unit/time32.c base/parse.c base/parse.h
	@mkdir -p $(dir $@)
	$(CC32) -std=c11 -D_GNU_SOURCE -I. $(WARN) $(CFLAGS) -o $@ \
		tests/unit/time32.c base/parse.c

$(FUZZ_BUILD)/%.o: %.c $(WOLFSSL_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		$(WOLFSSL_CFLAGS) $(EVENT_CFLAGS) $(INIH_CFLAGS) -c -o $@ $<

define fuzzer
$(FUZZ_BUILD)/$(1): $(FUZZ_BUILD)/fuzz/$(1).o $$(sort $$($(1)_SRCS:%.c=$(FUZZ_BUILD)/%.o)) $(WOLFSSL_LIB)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -fsanitize=fuzzer -o $$@ $$(filter %.o,$$^) $$(LIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzzer,$(f))))

-include $(OBJS:.o=.d) $(UNIT_TESTS:%=$(BUILD)/tests/%.d) \
	$(wildcard $(FUZZ_BUILD)/*/*.d $(FUZZ_BUILD)/*/*/*.d)

ifneq ($(WOLFSSL_LIB),)
$(WOLFSSL_LIB): mk/wolfssl.sh mk/wolfssl-forcezero.patch mk/wolfssl-alpn-list.patch mk/wolfssl-peercert.patch
	@tests/deps.sh build
	mk/wolfssl.sh $(abspath $(WOLFSSL_DIR)) $(CC)
endif

# Fail loudly, naming the package, instead of compiling against whatever
# headers happen to be there.
$(BUILD)/.deps:
	@for p in libevent inih $(if $(filter bundled,$(WOLFSSL)),,wolfssl); do \
		$(PKG_CONFIG) --exists $$p || { echo "pinshim: $(PKG_CONFIG)" \
		    "cannot find $$p (Debian: tests/deps.sh build installs it)" >&2; \
		    exit 1; }; done
	@mkdir -p $(dir $@) && touch $@

ifeq ($(DEPS),sysroot)
$(SYSROOT)/.done: mk/sysroot.sh
	@tests/deps.sh build
	mk/sysroot.sh $(SYSROOT) $(CROSS)
endif

unit: $(UNIT_BINS)

# A cross build, run under qemu-user (Debian's qemu-user-static): the unit
# tests, then the binary itself against real peers on the host: a pinned
# tunnel, a refusal, a resumed session, run -t and pin, and the stripped
# size within its budget (test_size.py). One summary line.
#   make check-cross CC=aarch64-linux-gnu-gcc
QEMU		?= qemu-$(patsubst armv%,arm,$(patsubst arm%,arm,$(firstword \
		     $(subst -, ,$(CROSS)))))-static
CROSS_TESTS	= test_leaf_pin_passes_bytes_both_ways \
		  test_wrong_pin_refuses_with_zero_bytes_either_way \
		  test_tls13_ticket_resumed_and_judged_again \
		  test_config_check_ok_and_errors test_pin_command_matches_openssl \
		  test_stripped_binary_within_budget \
		  test_hot_path_in_assembly_and_no_big_curve_tables
check-cross:
ifeq ($(CROSS),)
	@echo "check-cross: name a cross compiler:" \
	    "make check-cross CC=aarch64-linux-gnu-gcc" >&2; exit 2
else
	@tests/deps.sh cross
	@$(MAKE) --no-print-directory CC=$(CC) all unit
	@EMU="$(QEMU) -L /usr/$(CROSS)" BUILD=$(BUILD) tests/run \
	    $(CROSS_TESTS:%=-k %)
endif

# The static binary (make STATIC=1; cross too, then run under qemu-user
# with no sysroot at all): proven to have no program interpreter and no
# shared library, then pin, run -t and live tunnels against real peers.
#   make check-static [CC=aarch64-linux-gnu-gcc]
STATIC_BUILD	= build-static$(if $(CROSS),-$(CROSS))
STATIC_TESTS	= test_leaf_pin_passes_bytes_both_ways \
		  test_wrong_pin_refuses_with_zero_bytes_either_way \
		  test_config_check_ok_and_errors test_pin_command_matches_openssl
check-static:
	@tests/deps.sh $(if $(CROSS),cross,test)
	@$(MAKE) --no-print-directory STATIC=1 CC=$(CC) all
	@if readelf -ld $(STATIC_BUILD)/pinshim | grep -E "INTERP|NEEDED"; then \
	    echo "check-static: $(STATIC_BUILD)/pinshim is not static" >&2; exit 1; \
	else echo "$(STATIC_BUILD)/pinshim: static, no interpreter, no shared library"; fi
	@NO_UNIT=1 EMU="$(if $(CROSS),$(QEMU))" BUILD=$(STATIC_BUILD) tests/run \
	    $(STATIC_TESTS:%=-k %)

# What of conf/openwrt/ can be tested without OpenWrt's SDK: how the
# package builds pinshim, a cross build with DEPS=pkg-config, here against
# Debian's arm64 libevent and inih through pkg-config with a sysroot (as
# the SDK's pkg-config would), linked to their shared objects dynamically
# (readelf must show them NEEDED), then run under qemu-user with them.
# wolfSSL is the one difference: the package links the SDK's libwolfssl
# dynamically (WOLFSSL=system), this check pinshim's own, statically, as
# Debian's libwolfssl-dev is not Multi-Arch and lacks options pinshim
# needs. The init script is tested by test_openwrt.py in make check.
PKGCONF_SYSROOT	= $(abspath build/sysroot-aarch64-linux-gnu)
PKGCONF_LIBDIR	= $(PKGCONF_SYSROOT)/usr/lib/aarch64-linux-gnu
PKGCONF_BUILD	= build-pkgconfig-aarch64
check-openwrt:
	@tests/deps.sh cross
	@$(MAKE) --no-print-directory CC=aarch64-linux-gnu-gcc \
	    build/sysroot-aarch64-linux-gnu/.done
	@env PKG_CONFIG_LIBDIR=$(PKGCONF_LIBDIR)/pkgconfig \
	    PKG_CONFIG_SYSROOT_DIR=$(PKGCONF_SYSROOT) $(MAKE) --no-print-directory \
	    CC=aarch64-linux-gnu-gcc DEPS=pkg-config BUILD=$(PKGCONF_BUILD) all
	@env PKG_CONFIG_LIBDIR=$(PKGCONF_LIBDIR)/pkgconfig \
	    PKG_CONFIG_SYSROOT_DIR=$(PKGCONF_SYSROOT) $(MAKE) -s --no-print-directory \
	    CC=aarch64-linux-gnu-gcc DEPS=pkg-config print-LIBS | \
	    grep -- "-L$(PKGCONF_LIBDIR) -levent .*-linih" || \
	    { echo "check-openwrt: not linked with pkg-config's flags" >&2; exit 1; }
	@for lib in libevent-2.1.so.7 libinih.so.1; do \
	    readelf -d $(PKGCONF_BUILD)/pinshim | grep -q "NEEDED.*\[$$lib\]" || \
	    { echo "check-openwrt: $$lib not linked dynamically" >&2; exit 1; }; \
	done; echo "$(PKGCONF_BUILD)/pinshim: libevent and libinih linked dynamically"
	qemu-aarch64-static -L /usr/aarch64-linux-gnu \
	    -E LD_LIBRARY_PATH=$(PKGCONF_LIBDIR) $(PKGCONF_BUILD)/pinshim version

print-%:
	@echo '$($*)'

# The one test command (README, CI): unit and integration, one summary line.
check:
	@tests/deps.sh test
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) tests/run

sanitize:
	@$(MAKE) --no-print-directory SAN=1 all unit

demo:
	@tests/deps.sh demo
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/demo.sh

deps:
	@tests/deps.sh build

# Build the fuzzers; fuzz-run also runs each for FUZZ_SECONDS (and its
# regression inputs first), failing on any crash.
fuzz:
	@tests/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZERS:%=$(FUZZ_BUILD)/%)

fuzz-run: fuzz
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# install: as a package would lay it out, the binary stripped (STRIP=
# empty, or install-unstripped, for a packager that strips into a debug
# package itself); the unit with every path substituted, a sysusers.d
# entry for the pinshim user the INI's "user = pinshim" names, and a
# tmpfiles.d entry for its state directory (what `run -t` checks before
# the unit's StateDirectory= ever ran).
STRIP		?= $(if $(CROSS),$(CROSS)-strip,strip)
UNIT_SUBST	= -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		  -e 's|@DOCDIR@|$(DOCDIR)|g'

install: install-unstripped
	$(if $(STRIP),$(STRIP) $(DESTDIR)$(BINDIR)/pinshim)

install-unstripped: $(BUILD)/pinshim
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)/docs \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(BUILD)/pinshim $(DESTDIR)$(BINDIR)/pinshim
	install -m 0644 man/pinshim.8 $(DESTDIR)$(MANDIR)/man8/pinshim.8
	install -m 0644 man/pinshim.ini.5 $(DESTDIR)$(MANDIR)/man5/pinshim.ini.5
	install -m 0644 conf/pinshim.ini.example README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	sed $(UNIT_SUBST) conf/pinshim.service > \
		$(DESTDIR)$(UNITDIR)/pinshim.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pinshim.service
	install -m 0644 conf/pinshim.sysusers $(DESTDIR)$(SYSUSERSDIR)/pinshim.conf
	install -m 0644 conf/pinshim.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pinshim.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pinshim \
		$(DESTDIR)$(UNITDIR)/pinshim.service \
		$(DESTDIR)$(MANDIR)/man8/pinshim.8 \
		$(DESTDIR)$(MANDIR)/man5/pinshim.ini.5 \
		$(DESTDIR)$(SYSUSERSDIR)/pinshim.conf \
		$(DESTDIR)$(TMPFILESDIR)/pinshim.conf
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-san build-fuzz build-system build-*-linux-gnu*

# Numbers, not tests: the tunnel beside direct TLS, nginx stream, HAProxy and
# stunnel; interception (transparent and forward) beside HAProxy, Squid
# ssl_bump and mitmproxy in network namespaces (as root); forward mode's
# time to first byte; a feed refresh on the wire.
bench:
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@rm -f $(BUILD)/bench-tunnel.json
	@BUILD=$(BUILD) BENCH_JSON=$(BUILD)/bench-tunnel.json \
	    /usr/bin/python3 bench/bench.py
	@BUILD=$(BUILD) BENCH_JSON=$(BUILD)/bench-tunnel.json \
	    /usr/bin/python3 bench/intercept_bench.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/intercept.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/feed_refresh.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/scrape.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/handshake.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/mint.py
	@BUILD=$(BUILD) /usr/bin/python3 bench/idle_intercept.py
