#!/usr/bin/env bash
# p2pchat_tmux_test.sh - drives the lab program ./p2pchat (ui/p2pchat.c over
# ui.c and libp2pchat) in a detached tmux session: two nodes on 127.0.0.1 chat,
# a command error, a port in use, Ctrl+C and :quit, a restart showing its saved
# history, no terminal, bad arguments.
#
# Usage: make && bash ui/tests/p2pchat_tmux_test.sh   (needs tmux; `make test` runs it)
#   P2PCHAT=path/to/p2pchat to test another build.
#
# The harness is lib/tmux.sh: a private tmux server (-L, a name with $$ in it),
# killed on every exit path with the programs it started (by pid). Every wait is
# bounded (10 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib/require.sh
. "$HERE/lib/require.sh"
require_tool tmux tmux || exit 0
BIN=${P2PCHAT:-$ROOT/p2pchat}
export LC_ALL=C.UTF-8 LANG=C.UTF-8

# shellcheck source=lib/tmux.sh
. "$HERE/lib/tmux.sh"
tmux_setup lab_test 10
# Each run's members keep their keys and stores here, apart from other tests'.
export XDG_DATA_HOME="$TMP/data"

# watcher_saw_quits N: the watcher's output has N 'left' events of bob, reason quit
watcher_saw_quits() {
    [ "$(grep -c '"event":"left".*"name":"bob".*"reason":"quit"' "$TMP/watcher.out")" -ge "$1" ]
}

# ---------------------------------------------------------------------------
[ -x "$BIN" ] || { echo "FAIL: $BIN not built (run make)" >&2; exit 1; }

for pane in alice bob carol; do
    new_pane "$pane" 80 24
done

# ---------------------------------------------------------------------------
CURRENT="the listening port is the first line"
start alice "$BIN" --bind 127.0.0.1 alice
wait_for alice "INFO: listening on port" || fail "alice shows no listening port"
capture alice | sed -n 1p | grep -qE '^INFO: listening on port [0-9]+ *$' || fail "first line is not the port"
PORT=$(listening_port alice)
[ -n "$PORT" ] || fail "no port number"
pass

CURRENT="a second node joins and both chat"
start bob "$BIN" --bind 127.0.0.1 bob 127.0.0.1 "$PORT"
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

CURRENT="a legal 4096-byte message is shown whole; a longer one is refused and kept in the field"
LEGAL="S$(printf 'y%.0s' $(seq 1 4090))E0123"
[ "${#LEGAL}" -eq 4096 ] || fail "the test message is ${#LEGAL} bytes"
type_line bob "$LEGAL"
wait_for alice "yyyyE0123" || fail "the end of a 4096-byte message is not shown"
capture alice | grep -qF "[...]" && fail "a legal message was shown cut"
literal bob "$(printf 'z%.0s' $(seq 1 4097))"
keys bob Enter
wait_for bob "ERROR: message not sent: it is 4097 bytes long; the limit is 4096 bytes" ||
    fail "the oversize line was not refused with its length"
capture bob | tail -n 1 | grep -qF "zzzzzzzzzz" || fail "the refused text is not kept in the input field"
keys bob C-u
capture alice | grep -qF "zzzzzzzzzz" && fail "the refused line reached alice"
pass

CURRENT="a port in use is reported and the terminal restored"
start carol "$BIN" --bind 127.0.0.1 --port "$PORT" carol
check_exit carol 1
capture carol | grep -qF "p2pchat: cannot start: cannot listen on 127.0.0.1:$PORT" || fail "no reason given"
pass

CURRENT="Ctrl+C quits, the others are told"
keys alice C-c
check_exit alice 0
wait_for bob "INFO: alice left" || fail "bob was not told that alice left"
pass

CURRENT=":quit quits"
type_line bob ":quit"
check_exit bob 0
pass

CURRENT="SIGTERM, SIGHUP and SIGINT quit like :quit: goodbye, status 0, terminal restored"
rm -f "$TMP/watcher.out"
RUN_IO="> watcher.out"
start carol "$BIN" --json --bind 127.0.0.1 watcher
RUN_IO=
wait_file "$TMP/watcher.out" || fail "the --json watcher did not start"
WPORT=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$TMP/watcher.out" | head -n 1)
[ -n "$WPORT" ] || fail "no port in: $(cat "$TMP/watcher.out")"
n=0
for sig in TERM HUP INT; do
    n=$((n + 1))
    start bob "$BIN" --bind 127.0.0.1 bob 127.0.0.1 "$WPORT"
    wait_for bob "INFO: watcher joined" || fail "SIG$sig: bob did not join the watcher"
    kill "-$sig" "$(cat "$TMP/bob.pid")" || fail "cannot send SIG$sig"
    check_exit bob 0
    capture bob | grep -qF "INFO: watcher joined" && fail "SIG$sig: the curses screen was left behind"
    wait_until watcher_saw_quits "$n" ||
        fail "SIG$sig: the watcher did not see bob leave with reason quit: $(grep '"left"' "$TMP/watcher.out")"
done
type_line carol ":quit"
check_exit carol 0
pass

CURRENT="a restarted member's screen starts with its saved history, then a separator"
start alice "$BIN" --bind 127.0.0.1 --data-dir "$TMP/alice-data" alice
wait_for alice "INFO: listening on port" || fail "alice did not start"
type_line alice "remember this line"
wait_for alice "alice: remember this line" || fail "alice's line is not echoed"
type_line alice ":quit"
check_exit alice 0
start alice "$BIN" --bind 127.0.0.1 --data-dir "$TMP/alice-data" alice
wait_for alice "saved history above" || fail "no separator after the saved history"
capture alice | grep -qE '^INFO: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} alice: remember this line' ||
    fail "the saved line is not shown with its time: $(capture alice)"
type_line alice ":search REMEMBER"
wait_for alice "1 saved line contains" || fail ":search did not answer"
type_line alice ":quit"
check_exit alice 0
pass

CURRENT="not a terminal"
run_plain nt "$BIN" alice
grep -qx "EXIT=1" "$TMP/nt.exit" || fail "status $(cat "$TMP/nt.exit")"
grep -q "must be a terminal" "$TMP/nt.err" || fail "no message: $(cat "$TMP/nt.err")"
pass

CURRENT="TERM unset or unknown: status 1 and a hint, before any node starts"
RUN_IO="2>carol.err"
for RUN_ENV in "-u TERM" "TERM=nosuchterm"; do
    start carol "$BIN" --bind 127.0.0.1 carol
    check_exit carol 1
    grep -q "use --headless" "$TMP/carol.err" || fail "$RUN_ENV: no hint: $(cat "$TMP/carol.err")"
    capture carol | grep -qF "listening on port" && fail "$RUN_ENV: a node was started"
done
RUN_ENV=
RUN_IO=
grep -qF 'terminal type "nosuchterm"' "$TMP/carol.err" || fail "the unknown type is not named: $(cat "$TMP/carol.err")"
pass

CURRENT="bad command line"
run_plain bad "$BIN" "two words"
grep -qx "EXIT=2" "$TMP/bad.exit" || fail "status $(cat "$TMP/bad.exit")"
grep -q '^p2pchat: invalid NAME' "$TMP/bad.err" || fail "no message: $(cat "$TMP/bad.err")"
run_plain v "$BIN" --version
grep -qx "EXIT=0" "$TMP/v.exit" && grep -q '^p2pchat ' "$TMP/v.out" || fail "--version: $(cat "$TMP/v.out" "$TMP/v.err")"
pass

tmux_done
