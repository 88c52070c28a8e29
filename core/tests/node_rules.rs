//! Protocol rules of one node, driven by hand through its sans-IO interface.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::frames::{chat_frame, empty_sync, hello_as};
use p2pchat_core::node::{Action, Direction, Node, PeerId};
use p2pchat_core::sim::default_config;
use p2pchat_core::{Event, NodeId};

fn node_with_history(n: u64) -> (Node, Instant) {
    let mut cfg = default_config();
    cfg.id = NodeId::from_u64(1);
    cfg.name = "target".into();
    cfg.port = 5000;
    let now = Instant::now();
    let mut node = Node::new(cfg, now);
    for k in 0..n {
        node.handle_line(&format!("message {k}"), now);
    }
    while node.poll_event().is_some() {}
    (node, now)
}

fn handshake(node: &mut Node, peer: PeerId, id: u64, now: Instant) {
    let remote: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
    node.handle_connected(peer, Direction::Inbound, remote, local, now);
    node.handle_data(peer, &hello_as(NodeId::from_u64(id), &format!("p{id}")), now);
}

fn written(node: &mut Node, peer: PeerId) -> usize {
    let mut n = 0;
    while let Some((p, b)) = node.poll_transmit() {
        if p == peer {
            n += b.len();
        }
    }
    n
}

#[test]
fn a_sync_summary_is_answered_with_the_history_once_per_connection() {
    let (mut node, now) = node_with_history(50);
    let peer = PeerId(1);
    handshake(&mut node, peer, 2, now);
    written(&mut node, peer);
    let sync = empty_sync();
    node.handle_data(peer, &sync, now);
    assert!(written(&mut node, peer) > 50 * 20, "the history is sent");
    node.handle_data(peer, &sync, now);
    let closed =
        std::iter::from_fn(|| node.poll_action()).any(|a| matches!(a, Action::Disconnect { peer: p, .. } if p == peer));
    assert!(closed, "a second summary is a protocol violation");
    assert!(written(&mut node, peer) < 200, "no second copy of the history");
}

#[test]
fn a_chat_from_a_peer_is_delivered_once_and_forwarded_to_the_others_only() {
    let (mut node, now) = node_with_history(0);
    handshake(&mut node, PeerId(1), 2, now);
    handshake(&mut node, PeerId(2), 3, now);
    while node.poll_transmit().is_some() {}
    let chat = chat_frame(NodeId::from_u64(9), 1, "far", "hi");
    node.handle_data(PeerId(1), &chat, now);
    node.handle_data(PeerId(2), &chat, now);
    let to: Vec<PeerId> =
        std::iter::from_fn(|| node.poll_transmit()).filter(|(_, b)| *b == chat).map(|(p, _)| p).collect();
    assert_eq!(to, [PeerId(2)], "forwarded once, not back to where it came from, and the duplicate not at all");
    let shown = std::iter::from_fn(|| node.poll_event()).filter(|e| matches!(e, Event::Message { .. })).count();
    assert_eq!(shown, 1);
    assert_eq!(node.stats().duplicates, 1);
}

#[test]
fn ipv4_mapped_addresses_are_shown_as_ipv4() {
    let mut cfg = default_config();
    cfg.port = 5000;
    let now = Instant::now();
    let mut node = Node::new(cfg, now);
    let remote: SocketAddr = "[::ffff:127.0.0.1]:40000".parse().expect("addr");
    let local: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
    node.handle_connected(PeerId(1), Direction::Inbound, remote, local, now);
    node.handle_data(PeerId(1), &hello_as(NodeId::from_u64(9), "p9"), now);
    assert_eq!(node.members()[0].addr, Some("127.0.0.1:5000".parse().expect("addr")));
    while node.poll_event().is_some() {}
    node.handle_line(":peers", now);
    let mut shown = Vec::new();
    while let Some(e) = node.poll_event() {
        shown.extend(e.to_line());
    }
    assert!(shown.iter().any(|l| l.contains("p9 127.0.0.1:40000 (inbound)")), "{shown:?}");
    assert!(!shown.iter().any(|l| l.contains("ffff")), "{shown:?}");
}

#[test]
fn users_and_peers_answer_with_lines_then_the_same_as_data() {
    let (mut node, now) = node_with_history(0);
    handshake(&mut node, PeerId(1), 9, now);
    node.handle_timeout(now + std::time::Duration::from_secs(1));
    while node.poll_event().is_some() {}
    node.handle_line(":peers", now);
    let mut events = Vec::new();
    while let Some(e) = node.poll_event() {
        events.push(e);
    }
    assert!(matches!(&events[..], [Event::Notice(t), Event::Notice(_), Event::Links(l)]
        if t == "1 direct link:" && l.len() == 1 && l[0].name.as_deref() == Some("p9")));
    node.handle_line(":users", now);
    let mut events = Vec::new();
    while let Some(e) = node.poll_event() {
        events.push(e);
    }
    let Some(Event::Members(members)) = events.last() else { panic!("no members event: {events:?}") };
    assert_eq!(members[0].id, NodeId::from_u64(1));
    assert!(events[..events.len() - 1].iter().all(|e| matches!(e, Event::Notice(_))), "{events:?}");
}
