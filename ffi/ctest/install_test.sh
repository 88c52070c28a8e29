#!/usr/bin/env bash
# install_test.sh - `make install` into a temporary prefix, then build
# examples/hello.c against the INSTALLED library only (through pkg-config),
# linked dynamically and statically, and run both.
#
# Usage (from anywhere): bash ffi/ctest/install_test.sh     (needs make, cc, pkg-config)
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../../ui/tests/lib/require.sh
. "$ROOT/ui/tests/lib/require.sh"
require_tool pkg-config pkg-config || exit 0
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/p2pchat_install_test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0

fail() {
    echo "FAIL: $*" >&2
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

# Always the same shape of line: "listening on port N".
check_run() {
    local out
    out=$(timeout 20 "$1") || fail "$1 exited with status $?"
    echo "$out" | grep -qE '^listening on port [1-9][0-9]*$' || fail "$1 printed: $out"
    PASSED=$((PASSED + 1))
    echo "ok - $2: $out"
}

make -C "$ROOT" --no-print-directory install PREFIX="$TMP/prefix" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; fail "make install failed"; }
for f in lib/libp2pchat.a lib/libp2pchat.so include/p2pchat.h lib/pkgconfig/p2pchat.pc; do
    [ -f "$TMP/prefix/$f" ] || fail "$f was not installed"
done
grep -qx "prefix=$TMP/prefix" "$TMP/prefix/lib/pkgconfig/p2pchat.pc" || fail "wrong prefix in p2pchat.pc"
PASSED=$((PASSED + 1))
echo "ok - make install PREFIX=$TMP/prefix"

export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
WARN="-std=c11 -Wall -Wextra -Werror"

# Shared library, as pkg-config gives it (the linker prefers the .so); rpath to run it.
# shellcheck disable=SC2046
$CC $WARN "$ROOT/examples/hello.c" -o "$TMP/hello_shared" \
    $(pkg-config --cflags --libs p2pchat) -Wl,-rpath,"$TMP/prefix/lib" || fail "shared build failed"
check_run "$TMP/hello_shared" "hello linked with the installed libp2pchat.so"

# Static library: a directory holding only the archive comes first in the search.
mkdir "$TMP/static"
ln -s "$TMP/prefix/lib/libp2pchat.a" "$TMP/static/libp2pchat.a"
# shellcheck disable=SC2046
$CC $WARN "$ROOT/examples/hello.c" -o "$TMP/hello_static" \
    $(pkg-config --cflags p2pchat) -L"$TMP/static" $(pkg-config --static --libs p2pchat) || fail "static build failed"
if command -v ldd >/dev/null 2>&1 && ldd "$TMP/hello_static" | grep -q libp2pchat; then
    fail "hello_static is linked to libp2pchat.so"
fi
check_run "$TMP/hello_static" "hello linked with the installed libp2pchat.a"

echo "$PASSED passed, 0 failed"
