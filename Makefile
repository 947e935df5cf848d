# pinshim - certificate-pinning shim.
#
#   make                 build ./build/pinshim
#   make check           unit + integration tests (installs test packages as root)
#   make demo            self-contained demo on a built-in configuration
#   make sanitize        build with ASan+UBSan into build-san/ (make check SAN=1 runs the suite on it)
#   make install         PREFIX=/usr/local DESTDIR=
#   make deps            install the Debian build packages (as root)
#
# Cross-compiling: make CC=aarch64-linux-gnu-gcc PKG_CONFIG=aarch64-linux-gnu-pkg-config
# Another wolfSSL (e.g. built with --enable-aesni --enable-intelasm):
#   make WOLFSSL_PREFIX=/opt/wolfssl     (uses its lib/pkgconfig, rpath set)

CC		?= cc
PKG_CONFIG	?= pkg-config
PREFIX		?= /usr/local
DESTDIR		?=
SAN		?=

ifeq ($(SAN),1)
BUILD		?= build-san
SANFLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD		?= build
SANFLAGS	=
endif

ifneq ($(WOLFSSL_PREFIX),)
export PKG_CONFIG_PATH := $(WOLFSSL_PREFIX)/lib/pkgconfig:$(PKG_CONFIG_PATH)
WOLFSSL_RPATH	= -Wl,-rpath,$(WOLFSSL_PREFIX)/lib
endif

WOLFSSL_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags wolfssl)
WOLFSSL_LIBS	?= $(shell $(PKG_CONFIG) --libs wolfssl) $(WOLFSSL_RPATH)
EVENT_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags libevent)
EVENT_LIBS	?= $(shell $(PKG_CONFIG) --libs libevent)
INIH_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags inih)
INIH_LIBS	?= $(shell $(PKG_CONFIG) --libs inih)
CMOCKA_CFLAGS	?= $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS	?= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

CFLAGS		?= -O2 -g
WARN		= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		  -Wpointer-arith -Wformat=2
ifeq ($(WERROR),1)
WARN		+= -Werror
endif
ALL_CFLAGS	= -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
		  $(WOLFSSL_CFLAGS) $(EVENT_CFLAGS) $(INIH_CFLAGS)
ALL_LDFLAGS	= $(LDFLAGS) $(SANFLAGS)
LIBS		= $(WOLFSSL_LIBS) $(EVENT_LIBS) $(INIH_LIBS)

# Everything but main.c, so the unit tests link the real modules.
LIB_SRCS	= pins/pin.c pins/pinset.c pins/host.c pins/policy.c pins/feed.c \
		  conf/conf.c \
		  tls/tls_client.c tls/tls_verify.c tls/tls_anchors.c \
		  shim/util.c shim/log.c shim/server.c shim/upstream.c \
		  shim/relay.c shim/tunnel.c shim/privdrop.c shim/cmd_pin.c \
		  shim/cmd_feed.c shim/http.c shim/feed.c shim/cmd_ca.c tls/tls_ca.c \
		  shim/intercept.c shim/clienthello.c shim/origdst.c shim/web.c \
		  shim/report.c
MAIN_SRCS	= shim/main.c
UNIT_TESTS	= test_pin test_host test_policy test_conf test_feed test_ca

LIB_OBJS	= $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJS	= $(MAIN_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS	= $(UNIT_TESTS:%=$(BUILD)/tests/%)

.PHONY: all check unit demo sanitize install uninstall clean deps bench

all: $(BUILD)/pinshim

$(BUILD)/pinshim: $(MAIN_OBJS) $(LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJS) \
		$(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BINS)

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

install: $(BUILD)/pinshim
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/pinshim
	install -m 0755 $(BUILD)/pinshim $(DESTDIR)$(PREFIX)/bin/pinshim
	install -m 0644 conf/pinshim.ini.example README.md \
		$(DESTDIR)$(PREFIX)/share/doc/pinshim/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|g' conf/pinshim.service > \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/pinshim.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pinshim \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/pinshim.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/pinshim

clean:
	rm -rf build build-san

# Numbers, not tests: throughput and idle memory beside direct TLS, stunnel, HAProxy.
bench:
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) /usr/bin/python3 bench/bench.py
