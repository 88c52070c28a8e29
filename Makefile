# p2pchat - build, test and install.
#
#   make                 the Rust libraries (release) and ./p2pchat (the lab UI)
#   make test            everything: fmt, clippy, cargo tests (with the C tests and
#                        the header check), the curses tests in tmux (ui.c alone,
#                        then ./p2pchat), the install test, the missing-tools
#                        test, then $(TEST_EXTRA); last, a summary of the skips
#   make bench           the benchmark table (bench.mk)
#   make memcheck        the C tests (ffi/ctest/c, as one program) and the C
#                        frontend's --headless mode (two nodes on loopback,
#                        ffi/ctest/memcheck/headless.sh) under valgrind: fails on
#                        any invalid access or definite/indirect leak (needs
#                        valgrind; MEMCHECK_TIMEOUT bounds each run, 900 s)
#   make header          regenerate include/p2pchat.h from ffi/src (cbindgen)
#   make install         PREFIX=/usr/local (default), DESTDIR supported
#   make native-libs     print the system libraries the static library needs
#   make clean
#
# Variables: CC, CFLAGS, LDFLAGS, CARGO, PREFIX, DESTDIR, NATIVE_LIBS, TEST_EXTRA,
#            VALGRIND, VALGRIND_FLAGS, MEMCHECK_TIMEOUT, SKIP_LOG.
#
# Optional tools: `make test` needs only Rust, cc and ncursesw. A test that needs
# a program the machine lacks (nc, tmux, pkg-config) passes, skipping, with one
# line "SKIPPED: TEST needs TOOL (apt-get install PACKAGE)" (systest's
# require_tool for the Rust tests, ui/tests/lib/require.sh for the shell tests),
# also appended to $(SKIP_LOG) (given to the tests as P2PCHAT_SKIP_LOG), which
# `make test` empties at its start and prints at its end. With CI=true or
# P2PCHAT_REQUIRE_ALL=1 a missing tool is a failure instead (.ci/run installs
# them all). systest/tests/missing_tools_test.sh checks both, with those programs
# hidden from PATH. valgrind serves only `make memcheck`, which requires it.

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
        uninstall native-libs clean memcheck memcheck-ctests memcheck-headless

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

# Where the tests record what they skipped (see the header).
SKIP_LOG ?= $(CURDIR)/target/skipped-tests.txt

test: export P2PCHAT_SKIP_LOG = $(abspath $(SKIP_LOG))
# Nodes the tests start keep their identity keys here, not in the user's home.
test: export XDG_DATA_HOME = $(CURDIR)/target/test-data
test: all
	@mkdir -p $(dir $(SKIP_LOG)) && rm -f $(SKIP_LOG)
	@rm -rf $(CURDIR)/target/test-data && mkdir -p $(CURDIR)/target/test-data
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	bash ui/tests/ui_tmux_test.sh
	bash ui/tests/p2pchat_tmux_test.sh
	P2PCHAT_BIN=$(CURDIR)/p2pchat-tui $(CARGO) test -p p2pchat-systest --test topologies --test cli
	bash ui/tui/tests/tui_tmux_test.sh
	bash ffi/ctest/install_test.sh
	CARGO="$(CARGO)" bash systest/tests/missing_tools_test.sh
	$(if $(strip $(TEST_EXTRA)),$(MAKE) $(TEST_EXTRA))
	@if [ -s $(SKIP_LOG) ]; then \
	    echo "make test: passed, but $$(wc -l < $(SKIP_LOG)) test(s) skipped for a missing tool:"; \
	    cat $(SKIP_LOG); \
	else \
	    echo "make test: passed, nothing skipped"; \
	fi

# ---- make memcheck: the C tests and ./p2pchat --headless under valgrind ----
#
# Fails (valgrind exits 99) on any invalid access or use of uninitialised memory,
# and on any definitely or indirectly lost block. "Still reachable" blocks (Rust's
# and glibc's process-wide statics, alive at exit by design) and "possibly lost"
# ones are not errors; ffi/ctest/valgrind.supp documents what else is suppressed.
VALGRIND       ?= valgrind
VALGRIND_FLAGS ?= --leak-check=full --show-leak-kinds=definite,indirect \
                  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
                  --suppressions=ffi/ctest/valgrind.supp --num-callers=40 --quiet
# Hard bounds on each run under valgrind (everything is 20-50x slower there).
MEMCHECK_TIMEOUT ?= 900
MEMCHECK_DIR   := target/memcheck
CTEST_MAIN     := $(MEMCHECK_DIR)/ctest_main
CTEST_SOURCES  := $(wildcard ffi/ctest/c/*.c) ffi/ctest/memcheck/ctest_main.c

memcheck: all
	@command -v $(firstword $(VALGRIND)) >/dev/null || \
	    { echo "make memcheck needs valgrind (apt-get install valgrind)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(CTEST_MAIN)
	@$(MAKE) --no-print-directory memcheck-ctests memcheck-headless

memcheck-ctests: $(CTEST_MAIN)
	timeout $(MEMCHECK_TIMEOUT) $(VALGRIND) $(VALGRIND_FLAGS) $(CTEST_MAIN)

memcheck-headless: p2pchat
	VALGRIND="$(VALGRIND) $(VALGRIND_FLAGS)" TIMEOUT=$(MEMCHECK_TIMEOUT) \
	    bash ffi/ctest/memcheck/headless.sh ./p2pchat

# The C tests' list, from the c_tests! list of ffi/ctest/tests/c.rs.
$(MEMCHECK_DIR)/ctest_list.h: ffi/ctest/tests/c.rs
	@mkdir -p $(MEMCHECK_DIR)
	sed -n '/^c_tests!(/,/^);/p' $< | \
	    sed -n 's/^[[:space:]]*\(ctest_[A-Za-z0-9_]*\),\{0,1\}[[:space:]]*$$/CTEST(\1)/p' > $@.tmp
	@test -s $@.tmp || { echo "no test found in $<" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

# The C tests as one standalone program, linked with the static library.
$(CTEST_MAIN): $(CTEST_SOURCES) ffi/ctest/c/ctest.h $(MEMCHECK_DIR)/ctest_list.h $(HEADER) $(LIB_A)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude -Iffi/ctest/c \
	    -I$(MEMCHECK_DIR) -o $@ $(CTEST_SOURCES) $(LIB_A) $(LDFLAGS) $(NATIVE_LIBS)

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
