#!/usr/bin/env bash
# headless.sh - the C frontend's --headless mode under valgrind, for `make memcheck`.
#
#   VALGRIND="valgrind --leak-check=full ..." bash ffi/ctest/memcheck/headless.sh ./p2pchat
#
# Two nodes on 127.0.0.1, each `p2pchat --headless --bind 127.0.0.1 NAME` run as
# "$VALGRIND p2pchat ..." (VALGRIND empty: run plainly, a quick check of the
# script itself).  bob joins alice; they exchange chat lines (one with terminal
# escapes and one not UTF-8), a private message, alice asks :users, then each
# reaches the end of its input, which quits it.  Passes when both exit 0, i.e.
# valgrind reported nothing that its flags make an error (it exits 99 then); the
# valgrind reports are printed either way.
#
# Environment: VALGRIND (the valgrind command and flags), TIMEOUT (hard bound on
# each process, seconds, default 900), WAIT (bound on each expected line, seconds,
# default 180; valgrind makes everything 20-50x slower).
set -u

BIN=${1:-./p2pchat}
VALGRIND=${VALGRIND-valgrind --leak-check=full --error-exitcode=99}
TIMEOUT=${TIMEOUT:-900}
WAIT=${WAIT:-180}

dir=$(mktemp -d "${TMPDIR:-/tmp}/p2pchat-memcheck.XXXXXX")
pids=()

cleanup() {
    local pid
    exec 3>&- 4>&- 2>/dev/null
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT

show() {
    local name
    for name in alice bob; do
        for f in "$dir/$name.out" "$dir/$name.err" "$dir/$name.vg"; do
            if [ -s "$f" ]; then
                echo "---- $(basename "$f") ----"
                cat "$f"
            fi
        done
    done
}

fail() {
    echo "headless.sh: FAILED: $*" >&2
    show >&2
    exit 1
}

# start NAME ARGS...: runs the node in the background, reading $dir/NAME.in. It
# must not inherit fds 3 and 4 (the write ends of the input pipes), or a pipe
# would never reach its end.
start() {
    local name=$1
    shift
    mkfifo "$dir/$name.in"
    # shellcheck disable=SC2086 # VALGRIND is a command with its flags
    timeout "$TIMEOUT" $VALGRIND ${VALGRIND:+--log-file="$dir/$name.vg"} \
        "$BIN" --headless --bind 127.0.0.1 "$name" "$@" \
        <"$dir/$name.in" >"$dir/$name.out" 2>"$dir/$name.err" 3>&- 4>&- &
    pids+=($!)
}

# expect NAME REGEX: waits until NAME's output has a line matching REGEX.
expect() {
    local name=$1 regex=$2 deadline=$((SECONDS + WAIT))
    until grep -qE -- "$regex" "$dir/$name.out"; do
        ((SECONDS < deadline)) || fail "$name printed no line matching /$regex/ in ${WAIT}s"
        sleep 0.2
    done
}

# finish NAME PID: waits for the node to exit and checks its status.
finish() {
    local name=$1 pid=$2 status
    wait "$pid"
    status=$?
    case $status in
    0) ;;
    99) fail "$name: valgrind reported errors (exit 99)" ;;
    124) fail "$name: still running after ${TIMEOUT}s" ;;
    *) fail "$name exited with status $status" ;;
    esac
}

start alice
exec 3>"$dir/alice.in"
expect alice '^INFO: listening on port [0-9]+'
port=$(sed -n 's/^INFO: listening on port \([0-9][0-9]*\).*/\1/p' "$dir/alice.out" | head -n 1)

start bob 127.0.0.1 "$port"
exec 4>"$dir/bob.in"
expect bob '^INFO: alice joined$'
expect alice '^INFO: bob joined$'

echo "hello from alice" >&3
expect bob '^alice: hello from alice$'
printf 'hello from bob \033[31mred\033]0;title\007 \377 end\n' >&4
expect alice '^bob: hello from bob .*end$'
echo ":msg bob a private word" >&3
expect bob 'alice.*: a private word$'
echo ":users" >&3
expect alice 'bob'
echo ":frobnicate" >&3
expect alice '^ERROR: .*frobnicate'

# End of alice's input: alice quits, bob sees it leave; then bob's input ends.
exec 3>&-
finish alice "${pids[0]}"
expect bob '^INFO: alice left$'
exec 4>&-
finish bob "${pids[1]}"
pids=()

show
echo "headless.sh: ok: both nodes exited 0 under: ${VALGRIND:-(no valgrind)}"
