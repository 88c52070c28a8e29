# p2pchat - build, test and install.
#
#   make                 the Rust libraries (release) and ./p2pchat (the lab UI)
#   make test            everything: fmt, clippy, cargo tests (with the C tests and
#                        the header check), the curses tests in tmux (ui.c alone,
#                        then ./p2pchat), the install test, then $(TEST_EXTRA)
#   make bench           the benchmark table (bench.mk)
#   make header          regenerate include/p2pchat.h from ffi/src (cbindgen)
#   make install         PREFIX=/usr/local (default), DESTDIR supported
#   make native-libs     print the system libraries the static library needs
#   make clean
#
# Variables: CC, CFLAGS, LDFLAGS, CARGO, PREFIX, DESTDIR, NATIVE_LIBS, TEST_EXTRA.

CARGO   ?= cargo
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
CFLAGS  ?= -O2 -g
LDFLAGS ?=

# What target/release/libp2pchat.a needs from the system (Linux; see
# `make native-libs` for the list on this machine, and override it elsewhere).
NATIVE_LIBS ?= -lgcc_s -lutil -lrt -lpthread -lm -ldl
CURSES_LIBS ?= $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)

# More make targets for `make test` to run after its own checks; other makefiles
# (or the command line) extend it: TEST_EXTRA += my-test
TEST_EXTRA ?=

RELEASE   := target/release
LIB_A     := $(RELEASE)/libp2pchat.a
LIB_SO    := $(RELEASE)/libp2pchat.so
HEADER    := include/p2pchat.h
VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

WARN      := -Wall -Wextra -Werror
UI_CFLAGS := -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE $(WARN) -Iui -Iinclude

.PHONY: all cargo-build bench test test-rust test-ui test-install header install \
        uninstall native-libs clean

# Always ask cargo first: it knows what is stale and does nothing quickly
# otherwise. Then a second make compares timestamps, so that ./p2pchat is relinked
# only when the library (or the C sources) changed.
all: cargo-build
	@$(MAKE) --no-print-directory p2pchat p2pchat-tui

cargo-build:
	$(CARGO) build --release -p p2pchat-ffi -p p2pchat-tui

# Only when the library is missing (`make p2pchat` straight after a clean).
$(LIB_A) $(LIB_SO):
	$(CARGO) build --release -p p2pchat-ffi

# Only when the binary is missing (`make p2pchat-tui` straight after a clean).
$(RELEASE)/p2pchat-tui:
	$(CARGO) build --release -p p2pchat-tui

# Copied then renamed, so that a running ./p2pchat-tui does not block the update.
p2pchat-tui: $(RELEASE)/p2pchat-tui
	cp $(RELEASE)/p2pchat-tui $@.tmp && mv -f $@.tmp $@

p2pchat: ui/p2pchat.c ui/ui.c ui/ui.h $(HEADER) $(LIB_A)
	$(CC) $(UI_CFLAGS) $(CFLAGS) -o $@ ui/p2pchat.c ui/ui.c $(LIB_A) \
	    $(LDFLAGS) $(CURSES_LIBS) $(NATIVE_LIBS)

test: all
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	bash ui/tests/ui_tmux_test.sh
	bash ui/tests/p2pchat_tmux_test.sh
	P2PCHAT_BIN=$(CURDIR)/p2pchat-tui $(CARGO) test -p p2pchat-systest --test topologies --test cli
	bash ui/tui/tests/tui_tmux_test.sh
	bash ffi/ctest/install_test.sh
	$(if $(strip $(TEST_EXTRA)),$(MAKE) $(TEST_EXTRA))

header:
	UPDATE_HEADER=1 $(CARGO) test -p p2pchat-ffi --test header

native-libs:
	$(CARGO) rustc --release -p p2pchat-ffi --lib --crate-type staticlib -- \
	    --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p'

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libp2pchat.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libp2pchat.so
	install -m 644 $(HEADER) $(DESTDIR)$(PREFIX)/include/p2pchat.h
	printf '%s\n' \
	    'prefix=$(PREFIX)' \
	    'libdir=$${prefix}/lib' \
	    'includedir=$${prefix}/include' \
	    '' \
	    'Name: p2pchat' \
	    'Description: serverless peer-to-peer chat (C API over a Rust core)' \
	    'Version: $(VERSION)' \
	    'Cflags: -I$${includedir}' \
	    'Libs: -L$${libdir} -lp2pchat' \
	    'Libs.private: $(NATIVE_LIBS)' \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/p2pchat.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/p2pchat.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libp2pchat.a $(DESTDIR)$(PREFIX)/lib/libp2pchat.so \
	    $(DESTDIR)$(PREFIX)/include/p2pchat.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/p2pchat.pc

clean:
	$(CARGO) clean
	rm -f p2pchat p2pchat-tui p2pchat-tui.tmp

include bench.mk
