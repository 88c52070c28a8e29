#!/usr/bin/env bash
# p2pchat_tmux_test.sh - drives the lab program ./p2pchat (ui/p2pchat.c over
# ui.c and libp2pchat) in a detached tmux session: two nodes on 127.0.0.1 chat,
# a command error, a port in use, Ctrl+C and :quit, no terminal, bad arguments.
#
# Usage: make && bash ui/tests/p2pchat_tmux_test.sh   (needs tmux; `make test` runs it)
#   P2PCHAT=path/to/p2pchat to test another build.
#
# Uses a private tmux server (-L) whose name contains $$ and kills it on every
# exit path. Every wait is bounded (10 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib/require.sh
. "$HERE/lib/require.sh"
require_tool tmux tmux || exit 0
BIN=${P2PCHAT:-$ROOT/p2pchat}
export LC_ALL=C.UTF-8 LANG=C.UTF-8

SOCK="p2pchat_lab_test_$$"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/p2pchat_tmux_test.XXXXXX") || exit 1
PASSED=0
CURRENT="setup"

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }

cleanup() {
    tm kill-server >/dev/null 2>&1 # our private server only
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM HUP

capture() { tm capture-pane -p -t "$1" 2>/dev/null; }

fail() {
    echo "FAIL [$CURRENT]: $*" >&2
    for s in alice bob carol; do
        echo "---- pane $s ----" >&2
        capture "$s" >&2
    done
    echo "-----------------" >&2
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok - $CURRENT"
}

# wait_for PANE TEXT: until the pane shows TEXT (fixed string), at most 10 s
wait_for() {
    local i
    for i in $(seq 1 100); do
        capture "$1" | grep -qF -- "$2" && return 0
        sleep 0.1
    done
    return 1
}

# wait_file FILE: until FILE exists and is non-empty, at most 10 s
wait_file() {
    local i
    for i in $(seq 1 100); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

type_line() {
    tm send-keys -t "$1" -l -- "$2" || fail "send-keys failed"
    tm send-keys -t "$1" Enter || fail "send-keys failed"
}

# run PANE ARGS...: runs p2pchat in the pane's shell; its exit status goes to PANE.exit
run() {
    local pane=$1
    shift
    rm -f "$TMP/$pane.exit"
    tm send-keys -t "$pane" -l -- "clear; '$BIN' $*; echo EXIT=\$? > $pane.exit" || fail "send-keys failed"
    tm send-keys -t "$pane" Enter
}

# check_exit PANE STATUS: p2pchat ended with STATUS and left a sane terminal
check_exit() {
    wait_file "$TMP/$1.exit" || fail "$1: p2pchat did not exit within 10 s"
    grep -qx "EXIT=$2" "$TMP/$1.exit" || fail "$1: exit status $(cat "$TMP/$1.exit"), expected $2"
    rm -f "$TMP/$1.stty"
    tm send-keys -t "$1" -l -- "stty -a > $1.stty; echo SANE_$1" || fail "send-keys failed"
    tm send-keys -t "$1" Enter
    wait_for "$1" "SANE_$1" || fail "$1: shell not usable after exit"
    wait_file "$TMP/$1.stty" || fail "$1: stty output missing"
    grep -qE '(^| )icanon( |;|$)' "$TMP/$1.stty" || fail "$1: terminal left without icanon"
    grep -qE '(^| )echo( |;|$)' "$TMP/$1.stty" || fail "$1: terminal left without echo"
}

# ---------------------------------------------------------------------------
command -v tmux >/dev/null 2>&1 || { echo "FAIL: tmux not found" >&2; exit 1; }
[ -x "$BIN" ] || { echo "FAIL: $BIN not built (run make)" >&2; exit 1; }

for pane in alice bob carol; do
    tm new-session -d -s "$pane" -x 80 -y 24 -c "$TMP" \
        "env TERM=screen LC_ALL=C.UTF-8 LANG=C.UTF-8 PS1='$ ' sh" || fail "cannot start tmux"
done

# ---------------------------------------------------------------------------
CURRENT="the listening port is the first line"
run alice --bind 127.0.0.1 alice
wait_for alice "INFO: listening on port" || fail "alice shows no listening port"
capture alice | sed -n 1p | grep -qE '^INFO: listening on port [0-9]+ *$' || fail "first line is not the port"
PORT=$(capture alice | sed -n 's/^INFO: listening on port \([0-9]*\).*/\1/p' | head -n 1)
[ -n "$PORT" ] || fail "no port number"
pass

CURRENT="a second node joins and both chat"
run bob --bind 127.0.0.1 bob 127.0.0.1 "$PORT"
wait_for bob "INFO: alice joined" || fail "bob does not see alice join"
wait_for alice "INFO: bob joined" || fail "alice does not see bob join"
type_line bob "hi alice, ça va?"
wait_for alice "bob: hi alice, ça va?" || fail "alice did not receive bob's line"
wait_for bob "bob: hi alice, ça va?" || fail "bob's own line is not echoed"
type_line alice "hello bob"
wait_for bob "alice: hello bob" || fail "bob did not receive alice's line"
pass

CURRENT="commands run in the core"
type_line alice ":users"
wait_for alice "bob 127.0.0.1" || fail ":users does not list bob"
type_line alice ":nope"
wait_for alice "ERROR: unknown command :nope" || fail "unknown command not reported"
capture bob | grep -qF ":nope" && fail "the unknown command was sent as chat"
pass

CURRENT="a port in use is reported and the terminal restored"
run carol --bind 127.0.0.1 --port "$PORT" carol
check_exit carol 1
capture carol | grep -qF "p2pchat: cannot start: cannot listen on 127.0.0.1:$PORT" || fail "no reason given"
pass

CURRENT="Ctrl+C quits, the others are told"
tm send-keys -t alice C-c
check_exit alice 0
wait_for bob "INFO: alice left" || fail "bob was not told that alice left"
pass

CURRENT=":quit quits"
type_line bob ":quit"
check_exit bob 0
pass

CURRENT="SIGTERM, SIGHUP and SIGINT quit like :quit: goodbye, status 0, terminal restored"
rm -f "$TMP/carol.exit" "$TMP/watcher.out"
tm send-keys -t carol -l -- "clear; '$BIN' --json --bind 127.0.0.1 watcher > watcher.out; echo EXIT=\$? > carol.exit" ||
    fail "send-keys failed"
tm send-keys -t carol Enter
wait_file "$TMP/watcher.out" || fail "the --json watcher did not start"
WPORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$TMP/watcher.out" | head -n 1)
[ -n "$WPORT" ] || fail "no port in: $(cat "$TMP/watcher.out")"
n=0
for sig in TERM HUP INT; do
    n=$((n + 1))
    rm -f "$TMP/bob.exit" "$TMP/bob.pid"
    tm send-keys -t bob -l -- "clear; sh -c 'echo \$\$ > bob.pid; exec \"\$0\" \"\$@\"' '$BIN' --bind 127.0.0.1 bob 127.0.0.1 $WPORT; echo EXIT=\$? > bob.exit" ||
        fail "send-keys failed"
    tm send-keys -t bob Enter
    wait_for bob "INFO: watcher joined" || fail "SIG$sig: bob did not join the watcher"
    wait_file "$TMP/bob.pid" || fail "SIG$sig: no pid"
    kill "-$sig" "$(cat "$TMP/bob.pid")" || fail "cannot send SIG$sig"
    check_exit bob 0
    capture bob | grep -qF "INFO: watcher joined" && fail "SIG$sig: the curses screen was left behind"
    ok=
    for i in $(seq 1 100); do
        [ "$(grep -c '"event":"left".*"name":"bob".*"reason":"quit"' "$TMP/watcher.out")" -ge "$n" ] && ok=1 && break
        sleep 0.1
    done
    [ -n "$ok" ] || fail "SIG$sig: the watcher did not see bob leave with reason quit: $(grep '"left"' "$TMP/watcher.out")"
done
type_line carol ":quit"
check_exit carol 0
pass

CURRENT="not a terminal"
( cd "$TMP" && timeout 10 "$BIN" alice </dev/null >nt.out 2>nt.err; echo "EXIT=$?" >nt.exit )
grep -qx "EXIT=1" "$TMP/nt.exit" || fail "status $(cat "$TMP/nt.exit")"
grep -q "must be a terminal" "$TMP/nt.err" || fail "no message: $(cat "$TMP/nt.err")"
pass

CURRENT="TERM unset or unknown: status 1 and a hint, before any node starts"
for env_args in "-u TERM" "TERM=nosuchterm"; do
    rm -f "$TMP/carol.exit"
    tm send-keys -t carol -l -- "clear; env $env_args '$BIN' --bind 127.0.0.1 carol 2>carol.err; echo EXIT=\$? > carol.exit" ||
        fail "send-keys failed"
    tm send-keys -t carol Enter
    check_exit carol 1
    grep -q "use --headless" "$TMP/carol.err" || fail "$env_args: no hint: $(cat "$TMP/carol.err")"
    capture carol | grep -qF "listening on port" && fail "$env_args: a node was started"
done
grep -qF 'terminal type "nosuchterm"' "$TMP/carol.err" || fail "the unknown type is not named: $(cat "$TMP/carol.err")"
pass

CURRENT="bad command line"
( cd "$TMP" && timeout 10 "$BIN" "two words" </dev/null >bad.out 2>bad.err; echo "EXIT=$?" >bad.exit )
grep -qx "EXIT=2" "$TMP/bad.exit" || fail "status $(cat "$TMP/bad.exit")"
grep -q '^p2pchat: invalid NAME' "$TMP/bad.err" || fail "no message: $(cat "$TMP/bad.err")"
( cd "$TMP" && timeout 10 "$BIN" --version </dev/null >v.out 2>&1; echo "EXIT=$?" >v.exit )
grep -qx "EXIT=0" "$TMP/v.exit" && grep -q '^p2pchat ' "$TMP/v.out" || fail "--version: $(cat "$TMP/v.out")"
pass

echo "$PASSED passed, 0 failed"
exit 0
