# require.sh - sourced by the shell tests that need a program the machine may lack
# (ui/tests/ui_tmux_test.sh, ui/tests/p2pchat_tmux_test.sh,
# ui/tui/tests/tui_tmux_test.sh, ffi/ctest/install_test.sh). The shell side of
# systest's require_tool (systest/src/lib.rs), with the same rules:
#
#   require_tool TOOL PACKAGE || exit 0
#
# returns 0 if TOOL is on $PATH. Otherwise it prints one line
#   SKIPPED: SCRIPT needs TOOL (apt-get install PACKAGE)
# (SCRIPT is the test script's path from the repository root), appends it to the
# file $P2PCHAT_SKIP_LOG if that is set (`make test` sets it and prints the file
# at its end), and returns 1: the caller skips. With CI=true (or CI=1) or
# P2PCHAT_REQUIRE_ALL=1 the lack is a failure instead: it says so and exits 1.
# Call it before creating anything that needs cleaning up.

# tools_required: whether a missing tool is a failure (CI).
tools_required() {
    case "${CI:-}" in [Tt][Rr][Uu][Ee] | 1) return 0 ;; esac
    case "${P2PCHAT_REQUIRE_ALL:-}" in [Tt][Rr][Uu][Ee] | 1) return 0 ;; esac
    return 1
}

require_tool() {
    local tool=$1 package=$2 root script line
    type -P -- "$tool" >/dev/null 2>&1 && return 0
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
    script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    script=${script#"$root"/}
    line="SKIPPED: $script needs $tool (apt-get install $package)"
    if tools_required; then
        echo "FAIL: $line, and with CI=true or P2PCHAT_REQUIRE_ALL=1 a missing tool is a failure" >&2
        exit 1
    fi
    echo "$line" >&2
    if [ -n "${P2PCHAT_SKIP_LOG:-}" ]; then
        echo "$line" >>"$P2PCHAT_SKIP_LOG" || {
            echo "FAIL: cannot record the skip in P2PCHAT_SKIP_LOG=$P2PCHAT_SKIP_LOG" >&2
            exit 1
        }
    fi
    return 1
}
