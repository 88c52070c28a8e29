#!/usr/bin/env bash
# tui_tmux_test.sh - drives ./p2pchat-tui (the Rust ncurses window, ui/tui) in
# detached tmux sessions: two nodes on 127.0.0.1 chat, the member pane and the
# status line (its unread counts kept at 40 columns), Tab completion, F2's key
# fingerprints in the member pane (the ones :whois gives), the input line's
# editing keys, scrollback with PageUp and the unseen-lines indicator, private
# sessions kept out of the public pane, resizes (at 20x4 the prompt kept whole),
# :q and Ctrl+C with exit status 0 and a sane terminal afterwards, a port in use,
# no terminal, a bad command line.
#
# Usage: make && bash ui/tui/tests/tui_tmux_test.sh   (needs tmux; `make test` runs it)
#   P2PCHAT_TUI=path/to/p2pchat-tui to test another build.
#
# The harness is ui/tests/lib/tmux.sh: a private tmux server (-L, a name with $$
# in it), session names with $$ in them, killed on every exit path with the
# programs it started (by the pid each one wrote). Every wait is bounded (10 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../tests/lib/require.sh
. "$ROOT/ui/tests/lib/require.sh"
require_tool tmux tmux || exit 0
BIN=${P2PCHAT_TUI:-$ROOT/p2pchat-tui}
export LC_ALL=C.UTF-8 LANG=C.UTF-8

# shellcheck source=../../tests/lib/tmux.sh
. "$ROOT/ui/tests/lib/tmux.sh"
tmux_setup tui_test 10
# Each run's members keep their keys and stores here, apart from other tests'.
export XDG_DATA_HOME="$TMP/data"
A="alice_$$"
B="bob_$$"
C="carol_$$"

# The message pane only: every row but the last two (status and input lines),
# without the member pane (right of the separator).
messages() { capture "$1" | head -n -2 | sed 's/│.*//'; }
shows_message() { messages "$1" | grep -qF -- "$2"; }

# wait_messages PANE TEXT: until the message pane shows TEXT
wait_messages() { wait_until shows_message "$1" "$2"; }

# run PANE ARGS...: p2pchat-tui in the pane (see start in lib/tmux.sh)
run() { start "$1" "$BIN" "${@:2}"; }

# ---------------------------------------------------------------------------
[ -x "$BIN" ] || { echo "FAIL: $BIN not built (run make)" >&2; exit 1; }

for pane in "$A" "$B" "$C"; do
    new_pane "$pane" 100 24
done

# ---------------------------------------------------------------------------
CURRENT="the window starts: listening port, status line, member pane"
run "$A" --bind 127.0.0.1 alice
wait_for "$A" "INFO: listening on port" || fail "alice shows no listening port"
PORT=$(listening_port "$A")
[ -n "$PORT" ] || fail "no port number"
wait_re "$A" "^ alice \| port $PORT \| 0 links \| 1 member \| \[0 public\]" || fail "no status line"
wait_re "$A" "│ Members \(1\)" || fail "no member pane"
wait_re "$A" "│ alice +you *$" || fail "alice is not in her member pane"
capture "$A" | tail -n 1 | grep -q '^\[public\] *$' || fail "no input line"
pass

CURRENT="two nodes chat"
run "$B" --bind 127.0.0.1 bob 127.0.0.1 "$PORT"
wait_messages "$B" "INFO: alice joined" || fail "bob does not see alice join"
wait_messages "$A" "INFO: bob joined" || fail "alice does not see bob join"
type_line "$B" "hi alice, ça va? 日本語"
wait_messages "$A" "bob: hi alice, ça va? 日本語" || fail "alice did not receive bob's line"
wait_messages "$B" "bob: hi alice, ça va? 日本語" || fail "bob's own line is not echoed"
type_line "$A" "hello bob"
wait_messages "$B" "alice: hello bob" || fail "bob did not receive alice's line"
pass

CURRENT="the member pane and status line show the other node"
wait_re "$A" "│ bob +direct *$" || fail "alice's member pane does not list bob as direct"
wait_re "$A" "│ Members \(2\)" || fail "alice's member pane does not count 2"
wait_re "$A" "^ alice \| port $PORT \| 1 link \| 2 members \|" || fail "alice's status line"
wait_re "$B" "│ alice +direct *$" || fail "bob's member pane does not list alice"
pass

CURRENT="Tab completes a name, and pressed again cycles through the names that fit"
run "$C" --bind 127.0.0.1 bob-2 127.0.0.1 "$PORT"
wait_re "$A" "│ bob-2 +direct *$" || fail "alice's member pane does not list bob-2"
literal "$A" "hi b"
keys "$A" Tab
wait_re "$A" '^\[public\] hi bob *$' || fail "Tab does not complete as far as bob and bob-2 agree"
keys "$A" Tab Tab
wait_re "$A" '^\[public\] hi bob-2 *$' || fail "Tab again does not reach bob-2"
keys "$A" Tab
wait_re "$A" '^\[public\] hi bob *$' || fail "Tab after the last name does not come back to bob"
literal "$A" "!"
keys "$A" Enter
wait_messages "$B" "alice: hi bob !" || fail "the completed line"
type_line "$C" ":q"
check_exit "$C" 0
wait_re "$A" "│ Members \(2\)" || fail "alice's member pane still lists bob-2"
wait_re "$B" "│ Members \(2\)" || fail "bob's member pane still lists bob-2"
pass

CURRENT="commands run in the core; unknown ones are not chat"
type_line "$A" ":users"
wait_messages "$A" "bob 127.0.0.1" || fail ":users does not list bob"
type_line "$A" ":nope"
wait_messages "$A" "ERROR: unknown command :nope" || fail "unknown command not reported"
capture "$B" | grep -qF ":nope" && fail "the unknown command was sent as chat"
pass

CURRENT="F2 shows each member's key fingerprint in the member pane, the one :whois gives"
wait_re "$A" "│ bob +direct *$" || fail "alice's member pane does not list bob before F2"
keys "$A" F2
wait_re "$A" "│ bob [0-9a-f]{8} +direct *$" || fail "F2 does not show bob's fingerprint"
wait_re "$A" "│ alice [0-9a-f]{8} +you *$" || fail "F2 does not show alice's own fingerprint"
FP=$(capture "$A" | sed -n 's/.*│ bob \([0-9a-f]\{8\}\) .*/\1/p' | head -n 1)
[ -n "$FP" ] || fail "no fingerprint read from the pane"
type_line "$A" ":whois bob"
wait_messages "$A" "(fingerprint $FP)" || fail ":whois bob does not give the fingerprint $FP the pane shows"
keys "$A" F2
wait_re "$A" "│ bob +direct *$" || fail "F2 again does not hide the fingerprints"
pass

CURRENT="the input line edits like a shell's"
literal "$B" "abc def"
keys "$B" C-w
literal "$B" "xyz"
keys "$B" Home
literal "$B" ">"
keys "$B" End
literal "$B" "!"
keys "$B" Left BSpace
keys "$B" Enter
wait_messages "$A" "bob: >abc xy!" || fail "Ctrl+W, Home, End, Left, Backspace"
literal "$B" "garbage"
keys "$B" C-u
literal "$B" "éè日本"
keys "$B" Left Left DC Enter
wait_messages "$A" "bob: éè本" || fail "Ctrl+U, wide characters, Delete"
type_line "$B" "history-one"
type_line "$B" "history-two"
wait_messages "$A" "bob: history-two" || fail "history lines"
keys "$B" Up Up
literal "$B" "-again"
keys "$B" Enter
wait_messages "$A" "bob: history-one-again" || fail "Up does not recall the history"
LONG="start-$(printf 'x%.0s' $(seq 1 150))-日本語-end"
literal "$B" "$LONG"
wait_re "$B" "^\[public\] x+-日本語-end *$" || fail "the input line does not scroll to its end"
keys "$B" Home
wait_re "$B" "^\[public\] start-x+$" || fail "Home does not scroll back to the start"
keys "$B" Enter
wait_messages "$A" "日本語-end" || fail "a line longer than the window"
wait_re "$B" '^\[public\] *$' || fail "input line not emptied"
pass

CURRENT="scrollback: PageUp shows older lines, new ones are counted"
for i in $(seq -w 1 40); do
    type_line "$A" "old-$i"
done
wait_messages "$B" "alice: old-40" || fail "bob did not get 40 lines"
messages "$B" | grep -qF "alice: old-01" && fail "old-01 still visible before scrolling"
for i in 1 2 3 4 5 6; do
    messages "$B" | grep -qF "alice: old-01" && break
    keys "$B" PPage
    sleep 0.2
done
wait_messages "$B" "alice: old-01" || fail "PageUp does not show old lines"
wait_messages "$B" "-- scrolled up, PageDown to return --" || fail "no scrolled-up indicator"
type_line "$A" "arrived while scrolled"
wait_messages "$B" "-- 1 new line below, PageDown --" || fail "no unseen indicator"
messages "$B" | grep -qF "arrived while scrolled" && fail "the view moved while scrolled up"
for i in 1 2 3 4 5 6; do
    messages "$B" | grep -qF "PageDown" || break
    keys "$B" NPage
    sleep 0.2
done
wait_messages "$B" "alice: arrived while scrolled" || fail "PageDown does not come back"
messages "$B" | grep -qF "PageDown" && fail "indicator still shown at the bottom"
pass

CURRENT="a private session opens and its messages stay out of the public pane"
type_line "$A" ":query bob"
wait_re "$A" "\| 0 public \[1 bob\]" || fail "alice's status line does not show the bob session"
capture "$A" | tail -n 1 | grep -q '^\[bob\] *$' || fail "prompt does not name bob"
type_line "$A" "top secret 42"
wait_messages "$A" "alice: top secret 42" || fail "alice's session does not show her message"
wait_re "$B" "\[0 public\] 1 alice \(1\)" || fail "bob has no unread private message"
# At 40 columns the unread count stays on the status line (the port and the
# member count give way).
tm resize-window -t "$B" -x 40 -y 12 || fail "resize-window 40 12"
wait_size "$B" 40x12 || fail "bob's pane is not 40x12"
wait_re "$B" "^ bob \| 1 link \| \[0 public\] 1 alice \(1\) *$" ||
    fail "at 40 columns bob's status line hides the unread count"
tm resize-window -t "$B" -x 100 -y 24 || fail "resize-window 100 24"
wait_size "$B" 100x24 || fail "bob's pane is not 100x24 again"
wait_re "$B" "^ bob \| port [0-9]+ \| 1 link \| 2 members \| \[0 public\] 1 alice \(1\)" ||
    fail "bob's status line is not whole again at 100 columns"
messages "$B" | grep -qF "top secret" && fail "the private message is in bob's public pane"
keys "$B" M-1
wait_messages "$B" "alice: top secret 42" || fail "bob's session 1 does not show it"
wait_re "$B" "\| 0 public \[1 alice\]" || fail "Alt+1 did not switch"
keys "$A" M-0
wait_re "$A" "\| \[0 public\] 1 bob" || fail "Alt+0 did not switch alice back"
messages "$A" | grep -qF "top secret" && fail "the private message is in alice's public pane"
type_line "$B" ":msg alice reply 7"
wait_re "$A" "\[0 public\] 1 bob \(1\)" || fail "alice has no unread reply"
messages "$A" | grep -qF "reply 7" && fail "the reply is in alice's public pane"
type_line "$A" ":switch 1"
wait_messages "$A" "bob: reply 7" || fail ":switch 1 does not show the reply"
type_line "$A" ":sessions"
wait_messages "$A" "INFO:   1: bob (shown)" || fail ":sessions"
type_line "$A" ":close"
wait_re "$A" "\| \[0 public\] *$" || fail ":close"
# Public chat still public.
type_line "$B" ":switch 0"
type_line "$B" "back in public"
wait_messages "$A" "bob: back in public" || fail "public chat after private"
pass

CURRENT="resizes do not crash, and the window still works"
for size in "60 15" "30 8" "10 3" "4 2" "1 1" "200 50" "80 24" "100 24"; do
    set -- $size
    tm resize-window -t "$B" -x "$1" -y "$2" || fail "resize-window $size"
    sleep 0.2
done
wait_re "$B" "^ bob \| port [0-9]+ \| 1 link \| 2 members" || fail "bob's window not redrawn"
type_line "$B" "still alive after resizing"
wait_messages "$A" "bob: still alive after resizing" || fail "bob's line after resizing"
wait_messages "$B" "bob: still alive after resizing" || fail "bob's pane after resizing"
wait_re "$B" "│ alice +direct *$" || fail "bob's member pane after resizing"
pass

CURRENT="at 20x4 the prompt stays whole and the input line scrolls after it"
tm resize-window -t "$B" -x 20 -y 4 || fail "resize-window 20 4"
wait_size "$B" 20x4 || fail "bob's pane is not 20x4"
wait_re "$B" '^\[public\] *$' || fail "the prompt is not whole at 20 columns"
wait_re "$B" '^ bob \| \[0 public\] *$' || fail "bob's status line at 20 columns"
literal "$B" "hello world this is long"
wait_re "$B" '^\[public\] s is long *$' || fail "the input line does not scroll after the prompt"
keys "$B" Home
wait_re "$B" '^\[public\] hello worl *$' || fail "Home does not scroll back after the prompt"
keys "$B" Enter
wait_messages "$A" "bob: hello world this is long" || fail "the line typed at 20x4"
tm resize-window -t "$B" -x 100 -y 24 || fail "resize-window 100 24"
wait_size "$B" 100x24 || fail "bob's pane is not 100x24 again"
wait_re "$B" "^ bob \| port [0-9]+ \| 1 link \| 2 members" || fail "bob's window not redrawn at 100x24"
pass

CURRENT="a port in use is reported and the terminal restored"
run "$C" --bind 127.0.0.1 --port "$PORT" carol
check_exit "$C" 1
capture "$C" | grep -qF "p2pchat: cannot listen on 127.0.0.1:$PORT" || fail "no reason given"
pass

CURRENT=":q exits with status 0 and the terminal is usable"
type_line "$B" ":q"
check_exit "$B" 0
wait_messages "$A" "INFO: bob left" || fail "alice was not told that bob left"
wait_re "$A" "│ Members \(1\)" || fail "alice's member pane still lists bob"
pass

CURRENT="Ctrl+C quits too"
keys "$A" C-c
check_exit "$A" 0
pass

CURRENT="SIGTERM quits like :quit"
run "$C" --bind 127.0.0.1 carol
wait_for "$C" "INFO: listening on port" || fail "carol did not start"
kill -TERM "$(cat "$TMP/$C.pid")" || fail "cannot signal carol"
check_exit "$C" 0
pass

CURRENT="a panic restores the terminal before its message is printed"
RUN_ENV=P2PCHAT_TUI_TEST_PANIC=1
run "$C" --bind 127.0.0.1 carol
RUN_ENV=
check_exit "$C" 101
capture "$C" | grep -qF "a deliberate panic on the UI thread" || fail "no panic message on the terminal"
pass

CURRENT="TERM unset or unknown: status 1 and a hint, before any node starts"
for RUN_ENV in "-u TERM" "TERM=nosuchterm"; do
    run "$C" --bind 127.0.0.1 carol
    check_exit "$C" 1
    # -J: the message is longer than the pane is wide
    tm capture-pane -pJ -t "$C" | grep -qF "use --headless" || fail "$RUN_ENV: no hint: $(capture "$C")"
    capture "$C" | grep -qF "listening on port" && fail "$RUN_ENV: a node was started"
done
RUN_ENV=
tm capture-pane -pJ -t "$C" | grep -qF 'terminal type "nosuchterm"' || fail "the unknown type is not named"
pass

CURRENT="not a terminal"
run_plain nt "$BIN" alice
grep -qx "EXIT=1" "$TMP/nt.exit" || fail "status $(cat "$TMP/nt.exit")"
grep -q "must be a terminal" "$TMP/nt.err" || fail "no message: $(cat "$TMP/nt.err")"
pass

CURRENT="bad command line, --version, --help"
run_plain bad "$BIN" "two words"
grep -qx "EXIT=2" "$TMP/bad.exit" || fail "status $(cat "$TMP/bad.exit")"
grep -q '^p2pchat: invalid NAME' "$TMP/bad.err" || fail "no message: $(cat "$TMP/bad.err")"
run_plain v "$BIN" --version
grep -qx "EXIT=0" "$TMP/v.exit" && grep -q '^p2pchat ' "$TMP/v.out" || fail "--version: $(cat "$TMP/v.out" "$TMP/v.err")"
run_plain h "$BIN" --help
grep -qx "EXIT=0" "$TMP/h.exit" && grep -q '^Usage: ' "$TMP/h.out" || fail "--help: $(cat "$TMP/h.out" "$TMP/h.err")"
for item in ":query NAME" ":sessions" ":switch N" ":close [N]" "Tab completes" "F2"; do
    grep -qF -- "$item" "$TMP/h.out" || fail "--help does not name $item: $(cat "$TMP/h.out")"
done
pass

tmux_done
