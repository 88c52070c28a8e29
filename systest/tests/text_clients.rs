//! What plain-text clients (`nc HOST PORT`, here raw sockets) are told when they
//! join together: counts that include everyone else, and notices that never list
//! the client itself. Real processes on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{FAST, RawClient};
use p2pchat_systest::{Proc, TIMEOUT};

/// Two clients that give their names at the same moment: the second is told that
/// two others (the host and the first) are here, and neither is ever told it is
/// "now connected with" itself.
#[test]
fn text_clients_joining_together_are_told_about_the_others_only() {
    let host = Proc::node("host", &[], FAST);
    let mut kept = Vec::new();
    for round in 0..3 {
        let names = [format!("one{round}"), format!("two{round}")];
        let mut clients: Vec<RawClient> = names.iter().map(|n| RawClient::connect(n, host.port)).collect();
        for c in &mut clients {
            c.wait_line(|l| l.starts_with("Welcome to p2pchat (node of "), TIMEOUT);
        }
        clients[0].send(&names[0]);
        clients[0].wait_line(|l| l.starts_with(&format!("Welcome, {}!", names[0])), TIMEOUT);
        clients[1].send(&names[1]);
        let welcome = clients[1].wait_line(|l| l.starts_with(&format!("Welcome, {}!", names[1])), TIMEOUT);
        let others = 2 + 2 * round; // the host, the first client, and earlier rounds' clients
        assert!(welcome.contains(&format!("{others} other members are here")), "{welcome}");
        std::thread::sleep(Duration::from_millis(500));
        for (c, name) in clients.iter_mut().zip(&names) {
            c.poll();
            for line in &c.lines {
                let line = String::from_utf8_lossy(line);
                if let Some(list) = line.strip_prefix("INFO: now connected with ") {
                    assert!(!list.split(", ").any(|n| n == name), "{name} was told: {line}");
                }
            }
        }
        // They stay connected: the next round counts them.
        kept.extend(clients);
    }
}

/// `--text-clients off`: a plain-text client is told in words that this node
/// takes none, and closed; `--text-clients loopback` (the default of a closed
/// network) welcomes one from this machine.
#[test]
fn text_clients_refused_by_policy_are_told_why_and_loopback_ones_are_welcome() {
    let off = Proc::node("off", &[], &["--text-clients", "off"]);
    let mut refused = RawClient::connect("refused", off.port);
    let line = refused.wait_line(|l| l.starts_with("p2pchat: "), TIMEOUT);
    assert_eq!(line, "p2pchat: this node does not accept plain-text clients; join with p2pchat");
    refused.wait_eof(TIMEOUT);
    let loopback = Proc::node("lo", &[], &["--text-clients", "loopback"]);
    let mut welcome = RawClient::connect("welcome", loopback.port);
    welcome.wait_line(|l| l.starts_with("Welcome to p2pchat (node of lo)"), TIMEOUT);
    welcome.send("dora");
    welcome.wait_line(|l| l.starts_with("Welcome, dora!"), TIMEOUT);
}
