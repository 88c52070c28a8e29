//! How a node leaves, with real processes on 127.0.0.1: a node that quits tells
//! nobody (and not itself) that it "lost contact", and a node whose input is piped
//! in and ends at once still joins, delivers every line, and only then quits.
//! See DESIGN.md §2, guarantee 4 (membership notices) and §3 (`--headless`: end of
//! input means `:quit`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{FAST, is_message, line};
use p2pchat_systest::{Proc, TIMEOUT, kind};

/// Quitting a middle node with two neighbours (`:q`, then end of input): its own
/// output has no "lost contact" or netsplit notice and no `left` event with reason
/// `lost`; its neighbours see it leave with reason `quit`.
#[test]
fn a_quitting_node_announces_no_loss_of_its_neighbours() {
    for how in [":q", "end of input"] {
        let mut nodes = line(&["qa", "qb", "qc"], FAST);
        let b_id = nodes[1].id.clone();
        if how == ":q" {
            nodes[1].send(":q");
        } else {
            nodes[1].close_stdin();
        }
        let status = nodes[1].wait_exit(TIMEOUT);
        assert_eq!(status.code(), Some(0), "{how}: b exited with {status}");
        for e in nodes[1].events().to_vec() {
            let text = e["text"].as_str().unwrap_or("");
            if (kind(&e) == "left" && e["reason"] == "lost")
                || text.contains("lost contact")
                || text.starts_with("netsplit")
            {
                nodes[1].fail(&format!("{how}: the quitting node reported a loss: {e}"));
            }
        }
        for i in [0, 2] {
            nodes[i].wait_for(|e| kind(e) == "left" && e["id"] == b_id.as_str() && e["reason"] == "quit", TIMEOUT);
        }
        for n in &mut nodes {
            n.kill();
        }
    }
}

/// `printf 'hi\n' | p2pchat --headless NAME HOST PORT`: input that ends before the
/// join has completed is still delivered; the program then quits with status 0.
#[test]
fn piped_input_that_ends_at_once_is_delivered_before_quitting() {
    let mut host = Proc::node("host", &[], FAST);
    for attempt in 0..3 {
        let text = format!("piped line {attempt}");
        let args = ["--headless".to_owned(), format!("piper{attempt}"), "127.0.0.1".into(), host.port.to_string()];
        let mut piper = Proc::spawn("piper", &args, false);
        piper.send(&text);
        piper.close_stdin();
        let status = piper.wait_exit(TIMEOUT);
        if status.code() != Some(0) {
            piper.fail(&format!("exited with {status}"));
        }
        host.wait_for(|e| is_message(e, &text), Duration::from_secs(10));
    }
}

/// Piped input whose peer cannot be reached: the line cannot be delivered, so the
/// program says so and exits non-zero (rather than claiming success).
#[test]
fn piped_input_that_cannot_be_delivered_exits_non_zero() {
    let port = p2pchat_systest::closed_port();
    let args = ["--headless".to_owned(), "lonely".into(), "127.0.0.1".into(), port.to_string()];
    let mut p = Proc::spawn("lonely", &args, false);
    p.send("nobody will read this");
    p.close_stdin();
    let status = p.wait_exit(TIMEOUT);
    let out = p.lines().join("\n");
    let all = format!("{out}\n{}", p.stderr());
    assert_ne!(status.code(), Some(0), "exited 0 although nothing was delivered:\n{all}");
    assert!(all.contains("could not be delivered"), "no word of the undelivered line:\n{all}");
}
