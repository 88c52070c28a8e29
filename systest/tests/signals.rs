//! SIGTERM, SIGHUP and SIGINT sent to a `--json` / `--headless` node, a real
//! process on 127.0.0.1: it quits like `:quit` (its peer sees it leave with reason
//! `quit`, not lose contact) and exits with status 0, whatever the frontend (the
//! handlers are the core's, `p2pchat_core::signals`). The C UI's curses mode is
//! tested the same way in `ui/tests/p2pchat_tmux_test.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p2pchat_systest::{Proc, TIMEOUT, kind};

#[test]
fn a_signalled_node_says_goodbye_and_exits_0() {
    for (sig, headless) in [("TERM", false), ("HUP", true), ("INT", false), ("TERM", true)] {
        let mut alice = Proc::node("alice", &[], &[]);
        let mode = if headless { "--headless" } else { "--json" };
        let port = format!("127.0.0.1:{}", alice.port);
        let mut bob = Proc::spawn("bob", &[mode, "--bind", "127.0.0.1", "--connect", &port, "bob"], !headless);
        bob.wait_listening();
        alice.wait_for(|e| kind(e) == "joined" && e["name"] == "bob", TIMEOUT);
        if headless {
            bob.wait_line(|l| l.contains("alice joined"), TIMEOUT);
        } else {
            bob.wait_for(|e| kind(e) == "joined" && e["name"] == "alice", TIMEOUT);
        }

        bob.signal(sig);
        let status = bob.wait_exit(TIMEOUT);
        if status.code() != Some(0) {
            bob.fail(&format!("SIG{sig} ({mode}): exited with {status}, expected 0"));
        }
        let left = alice.wait_for(|e| kind(e) == "left" && e["name"] == "bob", TIMEOUT);
        if left["reason"] != "quit" {
            alice.fail(&format!("SIG{sig} ({mode}): bob left with {left}, expected reason \"quit\""));
        }
        alice.quit(TIMEOUT);
    }
}
