//! Private messages (`:msg NAME TEXT`) with real processes on 127.0.0.1: they go
//! over a direct link to the recipient (opened for the occasion when needed) and
//! are never relayed through a third node, or the sender is told that it could
//! not be sent. See DESIGN.md §2, guarantee 6 ("Private messages reach only their
//! recipient").
//!
//! "B never sees it" is checked on B's raw stdout, after a settle that is bounded
//! by events rather than by time: A and C each send a public marker after the
//! private message, and B must display both. Links are FIFO, so anything A or C
//! had sent to B before its marker would have reached B before the marker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    FAST, assert_never_printed, is_error, is_message, is_notice, line, mark, messages_with, peers, wait_after,
};
use p2pchat_systest::{Proc, TIMEOUT, kind};

/// Every node displays `text` (a public marker), so whatever was sent before it
/// over the same links has arrived.
fn settle(nodes: &mut [Proc], from: usize, text: &str) {
    nodes[from].send(text);
    for node in nodes.iter_mut() {
        node.wait_message(text, TIMEOUT);
    }
}

#[test]
fn a_private_message_goes_straight_to_its_recipient_and_back() {
    let t0 = Instant::now();
    let mut n = line(&["a", "b", "c"], FAST);
    let (a_id, c_id) = (n[0].id.clone(), n[2].id.clone());
    let secret = "the eagle lands at noon";
    let reply = "roger: noon it is";

    // A and C are not linked: A opens a direct link to C for the message.
    assert!(peers(&mut n[0]).iter().all(|l| !l.trim_start().starts_with("c ")), "A starts linked to B only");
    let ma = mark(&mut n[0]);
    n[0].send(&format!(":msg c {secret}"));
    let got = n[2].wait_message(secret, TIMEOUT);
    assert_eq!(got["private"], true, "{got}");
    assert_eq!(got["from"], "a", "{got}");
    assert_eq!(got["origin"], a_id.as_str(), "{got}");
    assert!(got.get("to").is_none(), "the recipient's copy has no `to`: {got}");
    let own = n[0].wait_message(secret, TIMEOUT);
    assert_eq!(own["private"], true, "{own}");
    assert_eq!(own["to"], "c", "{own}");
    assert_eq!(own["from"], "a", "{own}");
    let said = n[0].events()[ma..].to_vec();
    assert!(said.iter().any(|e| is_notice(e, "opening a direct link to c")), "A says it opens a direct link: {said:?}");

    // A and C now have a direct link.
    let a_links = peers(&mut n[0]);
    assert!(a_links.iter().any(|l| l.trim_start().starts_with("c ")), "A's :peers lists c: {a_links:?}");

    // C replies: it already has the link, only A gets it.
    n[2].send(&format!(":msg a {reply}"));
    let back = n[0].wait_message(reply, TIMEOUT);
    assert_eq!(back["private"], true, "{back}");
    assert_eq!(back["from"], "c", "{back}");
    assert_eq!(back["origin"], c_id.as_str(), "{back}");
    let own_reply = n[2].wait_message(reply, TIMEOUT);
    assert_eq!(own_reply["to"], "a", "{own_reply}");

    // Both senders' later public messages reach B over their links to it.
    settle(&mut n, 0, "public marker from a");
    settle(&mut n, 2, "public marker from c");
    for text in [secret, reply] {
        assert_never_printed(&mut n[1], text);
        assert_eq!(messages_with(&mut n[0], text).len(), 1, "A shows {text:?} exactly once");
        assert_eq!(messages_with(&mut n[2], text).len(), 1, "C shows {text:?} exactly once");
    }
    // Private messages are not chat: no sequence number of the public stream is
    // taken (A's marker is its first public message).
    let marker = n[1].wait_message("public marker from a", TIMEOUT);
    assert_eq!(marker["seq"], 1, "{marker}");
    assert_eq!(marker["private"], false, "{marker}");
    for p in &mut n {
        let errors = p.events_of("error");
        assert!(errors.is_empty(), "{}: {errors:?}", p.label);
    }
    eprintln!("private round trip in a line of three: {:?}", t0.elapsed());
}

#[test]
fn unknown_names_and_oneself_are_errors_and_nothing_is_sent() {
    let mut n = line(&["a", "b", "c"], FAST);
    let ma = mark(&mut n[0]);
    n[0].send(":msg nobody is this thing on");
    let e = wait_after(&mut n[0], ma, |e| kind(e) == "error", TIMEOUT);
    assert!(is_error(&e, "no member named nobody"), "{e}");

    let ma = mark(&mut n[0]);
    n[0].send(":msg a talking to myself");
    let e = wait_after(&mut n[0], ma, |e| kind(e) == "error", TIMEOUT);
    assert!(is_error(&e, "that is you"), "{e}");

    // A name is never guessed: a prefix or another case is not a match.
    let ma = mark(&mut n[0]);
    n[0].send(":msg C shouting");
    let e = wait_after(&mut n[0], ma, |e| kind(e) == "error", TIMEOUT);
    assert!(is_error(&e, "no member named C"), "{e}");

    // Usage errors.
    let ma = mark(&mut n[0]);
    n[0].send(":msg c");
    let e = wait_after(&mut n[0], ma, |e| kind(e) == "error", TIMEOUT);
    assert!(is_error(&e, "usage"), "{e}");

    settle(&mut n, 0, "marker after the errors");
    for p in &mut n {
        for text in ["is this thing on", "talking to myself", "shouting"] {
            assert!(messages_with(p, text).is_empty(), "{} shows {text:?}", p.label);
            if p.label != "a" {
                assert_never_printed(p, text);
            }
        }
    }
    // A opened no link for any of them.
    let a_links = peers(&mut n[0]);
    assert_eq!(a_links.len(), 1, "A is still linked to B only: {a_links:?}");
}

#[test]
fn when_no_direct_link_can_be_made_the_sender_is_told_and_nothing_is_sent() {
    // C accepts one connection only (its link to B): it stays a member, reachable
    // through B, but it refuses the direct link A opens for the private message.
    let t0 = Instant::now();
    let a = Proc::node("a", &[], FAST);
    let b = Proc::node("b", &[a.port], FAST);
    let c = Proc::node("c", &[b.port], &["--heartbeat", "100", "--peer-timeout", "600", "--max-peers", "1"]);
    let mut n = vec![a, b, c];
    common::wait_all_joined(&mut n);
    let secret = "for c only, if it can be done";
    let ma = mark(&mut n[0]);
    let sent = Instant::now();
    n[0].send(&format!(":msg c {secret}"));
    let e = wait_after(&mut n[0], ma, |e| kind(e) == "error", Duration::from_secs(20));
    let told = sent.elapsed();
    let text = e["text"].as_str().unwrap_or("").to_owned();
    assert!(text.contains("private message to c not sent"), "{e}");
    let said = n[0].events()[ma..].to_vec();
    assert!(said.iter().any(|e| is_notice(e, "opening a direct link to c")), "{said:?}");
    assert!(said.iter().all(|e| !is_message(e, secret)), "A shows no copy of a message that was not sent: {said:?}");
    // C is still a member (the failure was the link, not the membership), and
    // nothing reached anyone.
    settle(&mut n, 0, "marker after the failure");
    for p in &mut n[1..] {
        assert_never_printed(p, secret);
    }
    assert!(n[0].events_of("left").is_empty(), "nobody left");
    let on_a = common::users(&mut n[0]);
    assert!(on_a.iter().any(|l| l.starts_with("  c ")), "{on_a:?}");
    eprintln!("sender told after {told:?} ({text}) (test {:?})", t0.elapsed());
}

/// A private message to a member that is frozen (SIGSTOP: its system still accepts
/// connections, but nothing answers) fails as a timeout, never as a refusal.
#[test]
fn a_private_message_to_a_stopped_member_is_reported_as_timed_out() {
    let mut n = line(&["pa", "pb", "pc"], &["--heartbeat", "200", "--peer-timeout", "3000"]);
    let from = mark(&mut n[0]);
    n[2].signal("STOP");
    n[0].send(":msg pc are you there?");
    let err = wait_after(&mut n[0], from, |e| kind(e) == "error", Duration::from_secs(20));
    n[2].signal("CONT");
    let text = err["text"].as_str().unwrap_or("").to_owned();
    assert!(!text.contains("refused"), "a silent member is not a refusal: {text}");
    assert!(text.contains("time"), "expected a timeout: {text}");
}
