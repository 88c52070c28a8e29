#!/usr/bin/env bash
# ui_tmux_test.sh - drives ui/tests/ui_echo in a detached tmux session and
# checks what the terminal shows.
#
# Usage: ui/tests/ui_tmux_test.sh        (needs cc, tmux, ncursesw)
#   CC=clang ui/tests/ui_tmux_test.sh    to pick another compiler
#
# The harness is lib/tmux.sh: a private tmux server (-L, a name with $$ in it),
# killed on every exit path with the programs it started (by pid). Every wait is
# bounded (5 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
UI_DIR=$(dirname "$HERE")
# shellcheck source=lib/require.sh
. "$HERE/lib/require.sh"
require_tool tmux tmux || exit 0
CC=${CC:-cc}
export LC_ALL=C.UTF-8 LANG=C.UTF-8

# shellcheck source=lib/tmux.sh
. "$HERE/lib/tmux.sh"
tmux_setup ui_test 5
SESS="ui_test_$$"

# start_echo: runs ui_echo in the pane's shell and waits until it shows its first line
start_echo() {
    start "$SESS" ./ui_echo
    wait_for "$SESS" "bot: tick 1" || fail "ui_echo did not start (no 'bot: tick 1')"
}

# check_echo_exit: ui_echo ended with status 0, said goodbye on stdout after
# ui_run returned, and left a sane terminal
check_echo_exit() {
    wait_exit "$SESS" 0
    wait_for "$SESS" "ui_echo: bye" || fail "no 'ui_echo: bye' on stdout after ui_run returned"
    check_sane "$SESS"
}

# ---------------------------------------------------------------------------
CURRENT="build"
LIBS=$(pkg-config --libs ncursesw 2>/dev/null) || LIBS="-lncursesw"
$CC -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
    -I"$UI_DIR" "$UI_DIR/ui.c" "$HERE/ui_echo.c" -o "$TMP/ui_echo" \
    $LIBS -pthread || fail "compilation failed"

new_pane "$SESS" 80 24
wait_size "$SESS" 80x24 || fail "pane is not 80x24"

# ---------------------------------------------------------------------------
CURRENT="display, input, wrap, resize, :quit"
start_echo
wait_for "$SESS" "bot: tick 5" || fail "cross-thread ui_display: no 'bot: tick 5'"
wait_for "$SESS" "test: héllo wörld 日本" || fail "UTF-8 line not shown correctly"
capture "$SESS" | grep -qF "test: esc?[31mred" || fail "ESC byte not replaced by '?'"
capture "$SESS" | grep -qF "test: c1?31mx" || fail "C1 control not replaced by '?'"
capture "$SESS" | grep -qF "test: bad��(utf8" || fail "invalid UTF-8 not replaced by U+FFFD"
capture "$SESS" | grep -qxF "a line without a user name" || fail "line without user name"
capture "$SESS" | sed -n 23p | grep -qE '^(─|-|q){80}$' || fail "no separator on row 23"

type_line "$SESS" "hello from tmux"
wait_for "$SESS" "you: hello from tmux" || fail "typed line not echoed"
type_line "$SESS" "ça va 日本語"
wait_for "$SESS" "you: ça va 日本語" || fail "UTF-8 input not echoed"

literal "$SESS" "typo"
keys "$SESS" BSpace BSpace
literal "$SESS" "pe!"
keys "$SESS" Left Left Left Left Left Home
literal "$SESS" "<"
keys "$SESS" End
literal "$SESS" ">"
keys "$SESS" Enter
wait_for "$SESS" "you: <type!>" || fail "editing (Backspace/Left/Home/End) went wrong"

# the input field scrolls horizontally: 100 W's, field shows "> " + 77
W100=$(printf 'W%.0s' $(seq 1 100))
literal "$SESS" "$W100"
wait_re "$SESS" '^> W{77} *$' || fail "input field does not scroll horizontally"
keys "$SESS" Enter
wait_for "$SESS" "you: $(printf 'W%.0s' $(seq 1 75))" || fail "long line not shown"
capture "$SESS" | grep -qE '^W{25} *$' || fail "long line not wrapped at 80 columns"
# the input field is empty again
capture "$SESS" | sed -n 24p | grep -qE '^> *$' || fail "input field not cleared after Enter"

# empty lines are not passed to the callback
before=$(capture "$SESS" | grep -c '^you:')
keys "$SESS" Enter
sleep 0.3
after=$(capture "$SESS" | grep -c '^you:')
[ "$before" = "$after" ] || fail "empty line was passed to the callback"

tm resize-window -t "$SESS" -x 60 -y 15 || fail "resize-window failed"
wait_size "$SESS" 60x15 || fail "pane did not become 60x15"
type_line "$SESS" "after resize"
wait_for "$SESS" "you: after resize" || fail "no echo after resize"
capture "$SESS" | grep -qE '^W{45} *$' || fail "kept lines not re-wrapped at 60 columns"
capture "$SESS" | sed -n 14p | grep -qE '^(─|-|q){60}$' || fail "no separator on row 14 after resize"
[ "$(capture "$SESS" | wc -l)" -le 15 ] || fail "more than 15 rows after resize"

tm resize-window -t "$SESS" -x 100 -y 40 || fail "resize-window failed"
wait_size "$SESS" 100x40 || fail "pane did not become 100x40"
wait_for "$SESS" "test: héllo wörld 日本" || fail "kept lines not redrawn after growing"
capture "$SESS" | sed -n 39p | grep -qE '^(─|-|q){100}$' || fail "no separator on row 39"
type_line "$SESS" "bigger"
wait_for "$SESS" "you: bigger" || fail "no echo after growing"

tm resize-window -t "$SESS" -x 80 -y 24
wait_size "$SESS" 80x24 || fail "pane did not return to 80x24"
type_line "$SESS" ":quit"
check_echo_exit
pass

# ---------------------------------------------------------------------------
CURRENT="ui_exit from another thread"
start_echo
type_line "$SESS" ":tquit"
wait_for "$SESS" "you: :tquit" || fail "':tquit' not echoed"
check_echo_exit
pass

# ---------------------------------------------------------------------------
CURRENT="Ctrl+C sends :quit"
start_echo
keys "$SESS" C-c
check_echo_exit
pass

# ---------------------------------------------------------------------------
CURRENT="not a terminal"
run_plain nt ./ui_echo
grep -qx "EXIT=0" "$TMP/nt.exit" || fail "status $(cat "$TMP/nt.exit"), stderr: $(cat "$TMP/nt.err")"
grep -q "not a terminal" "$TMP/nt.err" || fail "no error message on stderr"
grep -qxF "test: héllo wörld 日本" "$TMP/nt.out" || fail "UTF-8 line not on stdout"
grep -qxF "test: esc?[31mred" "$TMP/nt.out" || fail "ESC not sanitised on stdout"
grep -qxF "test: bad��(utf8" "$TMP/nt.out" || fail "invalid UTF-8 not sanitised on stdout"
grep -qxF "ui_echo: bye" "$TMP/nt.out" || fail "no 'bye' on stdout"
if LC_ALL=C grep -q "$(printf '\033')" "$TMP/nt.out"; then
    fail "raw ESC byte on stdout"
fi
pass

tmux_done
