//! Protocol rules of one node, driven by hand through its sans-IO interface; its
//! peers are raw sessions that completed real handshakes (`common::frames::RawPeers`).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::frames::{RawPeers, chat_frame, empty_sync, nth_seq, with_keys};
use p2pchat_core::Event;
use p2pchat_core::crypto::Keys;
use p2pchat_core::node::{Action, Direction, Node, PeerId};
use p2pchat_core::sim::default_config;
use p2pchat_core::wire::Frame;

fn node_with_history(n: u64) -> (Node, Instant) {
    let mut cfg = default_config();
    with_keys(&mut cfg, 1);
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

/// A raw peer with key `Keys::from_u64(id)` called `p{id}` connects on `peer` and
/// completes its handshake.
fn handshake(node: &mut Node, peers: &mut RawPeers, peer: PeerId, id: u64, now: Instant) {
    peers.connect(node, peer, &Keys::from_u64(id), &format!("p{id}"), now);
}

fn written(node: &mut Node, peers: &mut RawPeers, peer: PeerId) -> usize {
    peers.pump(node).get(&peer).copied().unwrap_or(0)
}

#[test]
fn a_sync_summary_is_answered_with_the_history_once_per_connection() {
    let (mut node, now) = node_with_history(50);
    let mut peers = RawPeers::new();
    let peer = PeerId(1);
    handshake(&mut node, &mut peers, peer, 2, now);
    written(&mut node, &mut peers, peer);
    peers.take_frames(peer);
    let sync = empty_sync();
    peers.send(&mut node, peer, &sync, now);
    assert!(written(&mut node, &mut peers, peer) > 50 * 20, "the history is sent");
    let history = peers.take_frames(peer).iter().flat_map(Frame::chats).count();
    assert_eq!(history, 50, "the whole history, once");
    peers.send(&mut node, peer, &sync, now);
    let closed =
        std::iter::from_fn(|| node.poll_action()).any(|a| matches!(a, Action::Disconnect { peer: p, .. } if p == peer));
    assert!(closed, "a second summary is a protocol violation");
    assert!(written(&mut node, &mut peers, peer) < 200, "no second copy of the history");
    let after = peers.take_frames(peer);
    assert!(matches!(&after[..], [Frame::Bye { .. }]), "only a goodbye: {after:?}");
}

#[test]
fn a_chat_from_a_peer_is_delivered_once_and_forwarded_to_the_others_only() {
    let (mut node, now) = node_with_history(0);
    let mut peers = RawPeers::new();
    handshake(&mut node, &mut peers, PeerId(1), 2, now);
    handshake(&mut node, &mut peers, PeerId(2), 3, now);
    peers.pump(&mut node);
    peers.take_frames(PeerId(1));
    peers.take_frames(PeerId(2));
    let far = Keys::from_u64(9);
    let chat = chat_frame(&far, nth_seq(1), "far", "hi");
    peers.send(&mut node, PeerId(1), &chat, now);
    peers.send(&mut node, PeerId(2), &chat, now);
    peers.pump(&mut node);
    let to: Vec<PeerId> = [PeerId(1), PeerId(2)]
        .into_iter()
        .flat_map(|p| {
            let frames = peers.take_frames(p);
            frames
                .into_iter()
                .filter(|f| f.chats().iter().any(|c| c.origin == far.id() && c.text == "hi"))
                .map(move |_| p)
        })
        .collect();
    assert_eq!(to, [PeerId(2)], "forwarded once, not back to where it came from, and the duplicate not at all");
    let shown = std::iter::from_fn(|| node.poll_event()).filter(|e| matches!(e, Event::Message { .. })).count();
    assert_eq!(shown, 1);
    assert_eq!(node.stats().duplicates, 1);
}

#[test]
fn ipv4_mapped_addresses_are_shown_as_ipv4() {
    let mut cfg = default_config();
    // A name: the raw peer checks the node's hello as any peer does.
    cfg.name = "target".into();
    cfg.port = 5000;
    let now = Instant::now();
    let mut node = Node::new(cfg, now);
    let mut peers = RawPeers::new();
    let remote: SocketAddr = "[::ffff:127.0.0.1]:40000".parse().expect("addr");
    let local: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
    node.handle_connected(PeerId(1), Direction::Inbound, remote, local, now);
    peers.handshake_inbound(&mut node, PeerId(1), &Keys::from_u64(9), "p9", now);
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
    let mut peers = RawPeers::new();
    handshake(&mut node, &mut peers, PeerId(1), 9, now);
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
    assert_eq!(members[0].id, Keys::from_u64(1).id());
    assert!(events[..events.len() - 1].iter().all(|e| matches!(e, Event::Notice(_))), "{events:?}");
}
