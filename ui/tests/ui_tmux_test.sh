#!/usr/bin/env bash
# ui_tmux_test.sh - drives ui/tests/ui_echo in a detached tmux session and
# checks what the terminal shows.
#
# Usage: ui/tests/ui_tmux_test.sh        (needs cc, tmux, ncursesw)
#   CC=clang ui/tests/ui_tmux_test.sh    to pick another compiler
#
# Uses a private tmux server (-L) and session name containing $$, and kills
# both (by name) on every exit path.  Every wait is bounded (5 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
UI_DIR=$(dirname "$HERE")
# shellcheck source=lib/require.sh
. "$HERE/lib/require.sh"
require_tool tmux tmux || exit 0
CC=${CC:-cc}
export LC_ALL=C.UTF-8 LANG=C.UTF-8

SOCK="p2pchat_ui_test_$$"
SESS="ui_test_$$"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ui_tmux_test.XXXXXX") || exit 1
PASSED=0
CURRENT="setup"

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }

SOCK_PATH=""
cleanup() {
    tm kill-session -t "$SESS" >/dev/null 2>&1
    tm kill-server >/dev/null 2>&1 # our private server only
    [ -n "$SOCK_PATH" ] && [ -S "$SOCK_PATH" ] && rm -f "$SOCK_PATH"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM HUP

capture() { tm capture-pane -p -t "$SESS" 2>/dev/null; }

fail() {
    echo "FAIL [$CURRENT]: $*" >&2
    echo "---- pane ----" >&2
    capture >&2
    echo "--------------" >&2
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok - $CURRENT"
}

# wait_for TEXT: until the pane shows TEXT (fixed string), at most 5 s
wait_for() {
    local i
    for i in $(seq 1 50); do
        capture | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

# wait_for_re REGEX: same with an extended regular expression
wait_for_re() {
    local i
    for i in $(seq 1 50); do
        capture | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

# wait_file FILE: until FILE exists and is non-empty, at most 5 s
wait_file() {
    local i
    for i in $(seq 1 50); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_size WxH: until the pane has that size, at most 5 s
wait_size() {
    local i
    for i in $(seq 1 50); do
        [ "$(tm display-message -p -t "$SESS" '#{pane_width}x#{pane_height}')" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

type_line() {
    tm send-keys -t "$SESS" -l -- "$1" || fail "send-keys failed"
    tm send-keys -t "$SESS" Enter || fail "send-keys failed"
}

# start_echo N: runs ui_echo in the pane's shell, exit status to exitN.txt
start_echo() {
    rm -f "$TMP/exit$1.txt"
    tm send-keys -t "$SESS" -l -- "clear; ./ui_echo; echo EXIT=\$? > exit$1.txt" || fail "send-keys failed"
    tm send-keys -t "$SESS" Enter
    wait_for "bot: tick 1" || fail "ui_echo did not start (no 'bot: tick 1')"
}

# check_exit N: ui_echo ended with status 0 and left a sane terminal
check_exit() {
    wait_file "$TMP/exit$1.txt" || fail "ui_echo did not exit within 5 s"
    grep -qx "EXIT=0" "$TMP/exit$1.txt" || fail "exit status: $(cat "$TMP/exit$1.txt")"
    wait_for "ui_echo: bye" || fail "no 'ui_echo: bye' on stdout after ui_run returned"
    rm -f "$TMP/stty$1.txt"
    tm send-keys -t "$SESS" -l -- "stty -a > stty$1.txt; echo AFTER_\$((40+$1))" || fail "send-keys failed"
    tm send-keys -t "$SESS" Enter
    wait_for "AFTER_$((40 + $1))" || fail "shell not usable after exit"
    capture | grep -qF "stty -a > stty$1.txt" || fail "typed command not echoed after exit"
    wait_file "$TMP/stty$1.txt" || fail "stty output missing"
    grep -qE '(^| )icanon( |;|$)' "$TMP/stty$1.txt" || fail "terminal left without icanon"
    grep -qE '(^| )echo( |;|$)' "$TMP/stty$1.txt" || fail "terminal left without echo"
    grep -qE '(^| )isig( |;|$)' "$TMP/stty$1.txt" || fail "terminal left without isig"
}

# ---------------------------------------------------------------------------
command -v tmux >/dev/null 2>&1 || { echo "FAIL: tmux not found" >&2; exit 1; }

CURRENT="build"
LIBS=$(pkg-config --libs ncursesw 2>/dev/null) || LIBS="-lncursesw"
$CC -std=c11 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
    -I"$UI_DIR" "$UI_DIR/ui.c" "$HERE/ui_echo.c" -o "$TMP/ui_echo" \
    $LIBS -pthread || fail "compilation failed"

tm new-session -d -s "$SESS" -x 80 -y 24 -c "$TMP" \
    "env TERM=screen LC_ALL=C.UTF-8 LANG=C.UTF-8 PS1='$ ' sh" ||
    fail "cannot start tmux"
SOCK_PATH=$(tm display-message -p -t "$SESS" '#{socket_path}' 2>/dev/null)
case $SOCK_PATH in */"$SOCK") ;; *) SOCK_PATH="" ;; esac
wait_size 80x24 || fail "pane is not 80x24"

# ---------------------------------------------------------------------------
CURRENT="display, input, wrap, resize, :quit"
start_echo 1
wait_for "bot: tick 5" || fail "cross-thread ui_display: no 'bot: tick 5'"
wait_for "test: héllo wörld 日本" || fail "UTF-8 line not shown correctly"
capture | grep -qF "test: esc?[31mred" || fail "ESC byte not replaced by '?'"
capture | grep -qF "test: c1?31mx" || fail "C1 control not replaced by '?'"
capture | grep -qF "test: bad��(utf8" || fail "invalid UTF-8 not replaced by U+FFFD"
capture | grep -qxF "a line without a user name" || fail "line without user name"
capture | sed -n 23p | grep -qE '^(─|-|q){80}$' || fail "no separator on row 23"

type_line "hello from tmux"
wait_for "you: hello from tmux" || fail "typed line not echoed"
type_line "ça va 日本語"
wait_for "you: ça va 日本語" || fail "UTF-8 input not echoed"

tm send-keys -t "$SESS" -l -- "typo"
tm send-keys -t "$SESS" BSpace BSpace
tm send-keys -t "$SESS" -l -- "pe!"
tm send-keys -t "$SESS" Left Left Left Left Left Home
tm send-keys -t "$SESS" -l -- "<"
tm send-keys -t "$SESS" End
tm send-keys -t "$SESS" -l -- ">"
tm send-keys -t "$SESS" Enter
wait_for "you: <type!>" || fail "editing (Backspace/Left/Home/End) went wrong"

# the input field scrolls horizontally: 100 W's, field shows "> " + 77
W100=$(printf 'W%.0s' $(seq 1 100))
tm send-keys -t "$SESS" -l -- "$W100"
wait_for_re '^> W{77} *$' || fail "input field does not scroll horizontally"
tm send-keys -t "$SESS" Enter
wait_for "you: $(printf 'W%.0s' $(seq 1 75))" || fail "long line not shown"
capture | grep -qE '^W{25} *$' || fail "long line not wrapped at 80 columns"
# the input field is empty again
capture | sed -n 24p | grep -qE '^> *$' || fail "input field not cleared after Enter"

# empty lines are not passed to the callback
before=$(capture | grep -c '^you:')
tm send-keys -t "$SESS" Enter
sleep 0.3
after=$(capture | grep -c '^you:')
[ "$before" = "$after" ] || fail "empty line was passed to the callback"

tm resize-window -t "$SESS" -x 60 -y 15 || fail "resize-window failed"
wait_size 60x15 || fail "pane did not become 60x15"
type_line "after resize"
wait_for "you: after resize" || fail "no echo after resize"
capture | grep -qE '^W{45} *$' || fail "kept lines not re-wrapped at 60 columns"
capture | sed -n 14p | grep -qE '^(─|-|q){60}$' || fail "no separator on row 14 after resize"
[ "$(capture | wc -l)" -le 15 ] || fail "more than 15 rows after resize"

tm resize-window -t "$SESS" -x 100 -y 40 || fail "resize-window failed"
wait_size 100x40 || fail "pane did not become 100x40"
wait_for "test: héllo wörld 日本" || fail "kept lines not redrawn after growing"
capture | sed -n 39p | grep -qE '^(─|-|q){100}$' || fail "no separator on row 39"
type_line "bigger"
wait_for "you: bigger" || fail "no echo after growing"

tm resize-window -t "$SESS" -x 80 -y 24
wait_size 80x24 || fail "pane did not return to 80x24"
type_line ":quit"
check_exit 1
pass

# ---------------------------------------------------------------------------
CURRENT="ui_exit from another thread"
start_echo 2
type_line ":tquit"
wait_for "you: :tquit" || fail "':tquit' not echoed"
check_exit 2
pass

# ---------------------------------------------------------------------------
CURRENT="Ctrl+C sends :quit"
start_echo 3
tm send-keys -t "$SESS" C-c
check_exit 3
pass

# ---------------------------------------------------------------------------
CURRENT="not a terminal"
( cd "$TMP" && timeout 10 ./ui_echo </dev/null >out4.txt 2>err4.txt; echo "EXIT=$?" >exit4.txt )
grep -qx "EXIT=0" "$TMP/exit4.txt" || fail "status $(cat "$TMP/exit4.txt"), stderr: $(cat "$TMP/err4.txt")"
grep -q "not a terminal" "$TMP/err4.txt" || fail "no error message on stderr"
grep -qxF "test: héllo wörld 日本" "$TMP/out4.txt" || fail "UTF-8 line not on stdout"
grep -qxF "test: esc?[31mred" "$TMP/out4.txt" || fail "ESC not sanitised on stdout"
grep -qxF "test: bad��(utf8" "$TMP/out4.txt" || fail "invalid UTF-8 not sanitised on stdout"
grep -qxF "ui_echo: bye" "$TMP/out4.txt" || fail "no 'bye' on stdout"
if LC_ALL=C grep -q "$(printf '\033')" "$TMP/out4.txt"; then
    fail "raw ESC byte on stdout"
fi
pass

echo "$PASSED passed, 0 failed"
exit 0
