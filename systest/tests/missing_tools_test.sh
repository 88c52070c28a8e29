#!/usr/bin/env bash
# missing_tools_test.sh - the tests that need an optional program (nc, tmux,
# pkg-config; valgrind, which only `make memcheck` uses) on a machine without it:
# with those programs hidden from PATH, each such test passes, skipping, with one
# line naming the program and its Debian package, and records that line in
# $P2PCHAT_SKIP_LOG; with P2PCHAT_REQUIRE_ALL=1 or CI=true each one fails instead.
#
# Usage: make && cargo test -p p2pchat-systest --test netcat --no-run &&
#        bash systest/tests/missing_tools_test.sh            (`make test` runs it)
#
# Bounded: it runs only the test that needs nc (from the netcat test binary that
# cargo already built) and the shell tests that need tmux or pkg-config, each of
# which stops at its first line here. The hidden PATH is a temporary directory of
# symlinks to every program on PATH but the hidden ones; it is removed on exit.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CARGO=${CARGO:-cargo}
HIDDEN=" nc tmux valgrind pkg-config "
TMP=$(mktemp -d "${TMPDIR:-/tmp}/p2pchat_missing_tools.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
PASSED=0
CURRENT="setup"

fail() {
    echo "FAIL [$CURRENT]: $*" >&2
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok - $CURRENT"
}

# The netcat test binary, as cargo built it (found with the real PATH).
NETCAT=$(cd "$ROOT" && "$CARGO" test -q -p p2pchat-systest --test netcat --no-run --message-format=json 2>"$TMP/cargo.err" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -n "$NETCAT" ] && [ -x "$NETCAT" ] || fail "no netcat test binary: $(cat "$TMP/cargo.err")"

# PATH without the hidden programs: the first of each name on PATH, linked.
mkdir "$TMP/bin"
IFS=: read -ra DIRS <<<"$PATH"
for dir in "${DIRS[@]}"; do
    [ -n "$dir" ] && [ -d "$dir" ] || continue
    files=()
    for f in "$dir"/*; do
        case "$HIDDEN" in *" ${f##*/} "*) continue ;; esac
        [ -f "$f" ] && [ -x "$f" ] && files+=("$f")
    done
    # Names already linked (from an earlier directory) fail here and keep the first.
    [ ${#files[@]} -eq 0 ] || ln -s -t "$TMP/bin" -- "${files[@]}" 2>/dev/null
done
for tool in $HIDDEN; do
    env PATH="$TMP/bin" bash -c "type -P $tool" >/dev/null 2>&1 && fail "$tool is still on the hidden PATH"
done
[ -x "$TMP/bin/bash" ] || fail "no bash on the hidden PATH"

# Each test that needs a hidden program, and the line it must print when skipped.
NAMES=(netcat ui_tmux p2pchat_tmux tui_tmux install)
declare -A CMD LINE
CMD[netcat]="$NETCAT --exact a_real_nc_joins_chats_both_ways_and_leaves"
LINE[netcat]="SKIPPED: netcat::a_real_nc_joins_chats_both_ways_and_leaves needs nc (apt-get install netcat-openbsd)"
for t in ui/tests/ui_tmux_test.sh ui/tests/p2pchat_tmux_test.sh ui/tui/tests/tui_tmux_test.sh; do
    n=$(basename "$t" _test.sh)
    CMD[$n]="bash $ROOT/$t"
    LINE[$n]="SKIPPED: $t needs tmux (apt-get install tmux)"
done
CMD[install]="bash $ROOT/ffi/ctest/install_test.sh"
LINE[install]="SKIPPED: ffi/ctest/install_test.sh needs pkg-config (apt-get install pkg-config)"

# hidden LOG [VAR=VALUE...] -- COMMAND...: COMMAND with the hidden PATH, CI and
# P2PCHAT_REQUIRE_ALL unset, skips recorded in LOG; its output in $TMP/out.
hidden() {
    local log=$1
    shift
    local vars=()
    while [ "$1" != "--" ]; do
        vars+=("$1")
        shift
    done
    shift
    (cd "$TMP" && timeout 60 env -u CI -u P2PCHAT_REQUIRE_ALL PATH="$TMP/bin" P2PCHAT_SKIP_LOG="$log" \
        "${vars[@]}" "$@" >"$TMP/out" 2>&1)
}

for n in "${NAMES[@]}"; do
    CURRENT="$n without its program: passes and says what it skipped"
    # shellcheck disable=SC2086 # CMD holds a command and its arguments
    hidden "$TMP/skips" -- ${CMD[$n]} || fail "exit status $?: $(cat "$TMP/out")"
    # Not -x: with one test thread, libtest prints "test NAME ... " before it.
    grep -qF -- "${LINE[$n]}" "$TMP/out" || fail "no line '${LINE[$n]}' in: $(cat "$TMP/out")"
    [ "$(grep -c "SKIPPED: " "$TMP/out")" -eq 1 ] || fail "not one SKIPPED line: $(cat "$TMP/out")"
    pass
done

CURRENT="the skip log holds one line for each skip"
printf '%s\n' "${LINE[@]}" | sort >"$TMP/want"
sort "$TMP/skips" | diff "$TMP/want" - >"$TMP/diff" || fail "$(cat "$TMP/diff")"
pass

for strict in P2PCHAT_REQUIRE_ALL=1 CI=true; do
    for n in "${NAMES[@]}"; do
        CURRENT="$n without its program under $strict: fails, naming the program"
        # shellcheck disable=SC2086
        hidden "$TMP/strict_skips" "$strict" -- ${CMD[$n]} && fail "it passed: $(cat "$TMP/out")"
        want=${LINE[$n]#SKIPPED: }
        grep -qF -- "$want" "$TMP/out" || fail "'$want' not said: $(cat "$TMP/out")"
        grep -qF -- "a missing tool is a failure" "$TMP/out" || fail "the reason is not said: $(cat "$TMP/out")"
        [ ! -e "$TMP/strict_skips" ] || fail "a failure was recorded as a skip: $(cat "$TMP/strict_skips")"
        pass
    done
done

echo "$PASSED passed, 0 failed"
