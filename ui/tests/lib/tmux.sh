# tmux.sh - the harness of the terminal tests (ui/tests/ui_tmux_test.sh,
# ui/tests/p2pchat_tmux_test.sh, ui/tui/tests/tui_tmux_test.sh): programs run in
# the panes of detached tmux sessions and are checked by what the panes show.
#
# Sourced after require.sh, once tmux is known to be there:
#
#   . "$ROOT/ui/tests/lib/require.sh"
#   require_tool tmux tmux || exit 0
#   . "$ROOT/ui/tests/lib/tmux.sh"
#   tmux_setup NAME [WAIT_SECS]
#
# tmux_setup makes $TMP (a fresh directory: every pane's shell and every program
# runs there, and their files go there) and installs the cleanup, which runs on
# every exit path: it kills the private tmux server (-L, a name with $$ in it; never
# the user's own server) and then each program this test started that is still
# running, by the pid it wrote (never by name, and only a process whose working
# directory is still $TMP, so a pid the system has reused is left alone), and
# removes $TMP. Every wait is bounded by WAIT_SECS (10 s unless given).
#
# Then:
#   new_pane PANE W H             a session named PANE, W x H, a plain sh in $TMP
#   start PANE PROGRAM ARGS...    PROGRAM run by PANE's shell ($RUN_ENV: words for
#                                 env(1), such as VAR=value or -u VAR; $RUN_IO:
#                                 redirections, such as '2>err.txt'); its pid goes
#                                 to PANE.pid, its exit status to PANE.exit
#   capture PANE, shows PANE TEXT, shows_re PANE REGEX
#   wait_for PANE TEXT, wait_re PANE REGEX, wait_file FILE, wait_size PANE WxH,
#   wait_until COMMAND...         bounded waits; each returns 1 on timeout
#   listening_port PANE           the port of 'INFO: listening on port N' shown
#   keys PANE KEY..., literal PANE TEXT, type_line PANE TEXT
#   wait_exit PANE STATUS         the program ended with STATUS
#   check_sane PANE               the shell answers and the terminal is sane again
#   check_exit PANE STATUS        both
#   run_plain NAME PROGRAM ARGS.. PROGRAM without a terminal (stdin /dev/null, a
#                                 10 s bound): NAME.out, NAME.err, NAME.exit
#   CURRENT="what is checked"; ...; pass      one check done
#   fail "why"                    the panes, then exit 1
#   tmux_done                     the summary, exit 0

WAIT_TENTHS=100
TMUX_SOCK=
TMUX_SOCK_PATH=
TMP=
PANES=()
PASSED=0
CURRENT="setup"
RUN_ENV=
RUN_IO=
SANE_CHECKS=0

# tmux_setup NAME [WAIT_SECS]: the private server's name, $TMP, the cleanup.
tmux_setup() {
    TMUX_SOCK="p2pchat_$1_$$"
    WAIT_TENTHS=$((${2:-10} * 10))
    command -v tmux >/dev/null 2>&1 || { echo "FAIL: tmux not found" >&2; exit 1; }
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/p2pchat_$1.XXXXXX") || exit 1
    trap tmux_cleanup EXIT
    trap 'echo "interrupted" >&2; exit 130' INT TERM HUP
}

tm() { tmux -L "$TMUX_SOCK" -f /dev/null "$@"; }

tmux_cleanup() {
    [ -n "$TMUX_SOCK" ] && tm kill-server >/dev/null 2>&1 # our private server only
    [ -n "$TMUX_SOCK_PATH" ] && [ -S "$TMUX_SOCK_PATH" ] && rm -f "$TMUX_SOCK_PATH"
    [ -n "$TMP" ] && [ -d "$TMP" ] || return 0
    # The programs we started, by the pid each wrote (they quit on SIGHUP when the
    # server goes; this is for one that did not).
    local f pid
    for f in "$TMP"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        case "$pid" in '' | *[!0-9]*) continue ;; esac
        if [ -e "/proc/$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" != "$TMP" ]; then
            continue # not ours any more
        fi
        kill "$pid" >/dev/null 2>&1
    done
    rm -rf "$TMP"
}

# new_pane PANE W H
new_pane() {
    tm new-session -d -s "$1" -x "$2" -y "$3" -c "$TMP" \
        "env TERM=screen LC_ALL=C.UTF-8 LANG=C.UTF-8 PS1='$ ' sh" || fail "cannot start tmux"
    PANES+=("$1")
    if [ -z "$TMUX_SOCK_PATH" ]; then
        TMUX_SOCK_PATH=$(tm display-message -p -t "$1" '#{socket_path}' 2>/dev/null)
        case $TMUX_SOCK_PATH in */"$TMUX_SOCK") ;; *) TMUX_SOCK_PATH="" ;; esac
    fi
}

capture() { tm capture-pane -p -t "$1" 2>/dev/null; }
shows() { capture "$1" | grep -qF -- "$2"; }
shows_re() { capture "$1" | grep -qE -- "$2"; }

fail() {
    local p
    echo "FAIL [$CURRENT]: $*" >&2
    for p in "${PANES[@]}"; do
        echo "---- pane $p ----" >&2
        capture "$p" >&2
    done
    echo "-----------------" >&2
    echo "$PASSED passed, 1 failed" >&2
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "ok - $CURRENT"
}

tmux_done() {
    echo "$PASSED passed, 0 failed"
    exit 0
}

# wait_until COMMAND...: until COMMAND succeeds, at most WAIT_SECS
wait_until() {
    local i
    for ((i = 0; i < WAIT_TENTHS; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# wait_for PANE TEXT: until the pane shows TEXT (a fixed string)
wait_for() { wait_until shows "$1" "$2"; }
# wait_re PANE REGEX: until a line of the pane matches REGEX (extended)
wait_re() { wait_until shows_re "$1" "$2"; }
# wait_file FILE: until FILE exists and is not empty
wait_file() { wait_until test -s "$1"; }

pane_size_is() { [ "$(tm display-message -p -t "$1" '#{pane_width}x#{pane_height}')" = "$2" ]; }
# wait_size PANE WxH: until the pane has that size
wait_size() { wait_until pane_size_is "$1" "$2"; }

# listening_port PANE: the port in the first 'INFO: listening on port N' shown
listening_port() {
    capture "$1" | sed -n 's/^INFO: listening on port \([0-9]*\).*/\1/p' | head -n 1
}

# keys PANE KEY...: key names (Enter, PPage, M-1, C-u...)
keys() { tm send-keys -t "$1" "${@:2}" || fail "send-keys failed"; }

# literal PANE TEXT: TEXT typed as it is
literal() { tm send-keys -t "$1" -l -- "$2" || fail "send-keys failed"; }

type_line() {
    literal "$1" "$2"
    keys "$1" Enter
}

# quote WORD: WORD in single quotes, for the panes' sh
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# start PANE PROGRAM ARGS...: PROGRAM runs in the pane's shell, in $TMP, with
# $RUN_ENV in its environment and $RUN_IO applied; it writes its pid to PANE.pid
# before it starts (through a sh that execs it), the shell its exit status to
# PANE.exit. Returns once the pid is there.
start() {
    local pane=$1 cmd="" arg
    shift
    for arg in "$@"; do
        cmd="$cmd $(quote "$arg")"
    done
    rm -f "$TMP/$pane.exit" "$TMP/$pane.pid"
    literal "$pane" "clear; env $RUN_ENV sh -c 'echo \$\$ > $pane.pid; exec \"\$0\" \"\$@\"'$cmd $RUN_IO; echo EXIT=\$? > $pane.exit"
    keys "$pane" Enter
    wait_file "$TMP/$pane.pid" || fail "$pane: $1 did not start"
}

# wait_exit PANE STATUS: the program started in PANE ended with STATUS
wait_exit() {
    wait_file "$TMP/$1.exit" || fail "$1: the program did not exit within $((WAIT_TENTHS / 10)) s"
    grep -qx "EXIT=$2" "$TMP/$1.exit" || fail "$1: exit status $(cat "$TMP/$1.exit"), expected $2"
    rm -f "$TMP/$1.pid"
}

# check_sane PANE: the pane's shell runs a command typed into it, shows what was
# typed, and the terminal is back in its usual modes (line editing, echo, signal
# keys, CR read as NL).
check_sane() {
    local pane=$1 n flag
    SANE_CHECKS=$((SANE_CHECKS + 1))
    n=$SANE_CHECKS
    rm -f "$TMP/$pane.stty"
    # The shell prints SANE_<1000+n>: what was typed says $((1000+n)), so a pane
    # that shows the number shows the shell's answer, not only the typing.
    type_line "$pane" "stty -a > $pane.stty; echo SANE_\$((1000+$n))"
    wait_for "$pane" "SANE_$((1000 + n))" || fail "$pane: shell not usable after exit"
    shows "$pane" "stty -a > $pane.stty" || fail "$pane: typed command not echoed after exit"
    wait_file "$TMP/$pane.stty" || fail "$pane: stty output missing"
    for flag in icanon echo isig icrnl; do
        grep -qE "(^| )$flag( |;|\$)" "$TMP/$pane.stty" || fail "$pane: terminal left without $flag"
    done
}

# check_exit PANE STATUS: the program ended with STATUS and left a sane terminal
check_exit() {
    wait_exit "$1" "$2"
    check_sane "$1"
}

# run_plain NAME PROGRAM ARGS...: PROGRAM in $TMP with no terminal (stdin from
# /dev/null, stdout to NAME.out, stderr to NAME.err), at most 10 s; its exit
# status goes to NAME.exit as EXIT=N.
run_plain() {
    local name=$1
    shift
    (cd "$TMP" && timeout 10 "$@" </dev/null >"$name.out" 2>"$name.err"; echo "EXIT=$?" >"$name.exit")
}
