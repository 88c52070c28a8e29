//! Exactly-once, in-order delivery on every topology, in the deterministic simulator.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::collections::BTreeMap;
use std::time::Duration;

use p2pchat_core::NodeId;
use p2pchat_core::id::Rng;
use p2pchat_core::sim::{Sim, topology};

const MAX_STEPS: u64 = 50_000_000;

fn build(n: usize, edges: &[(usize, usize)], seed: u64) -> Sim {
    Sim::linked(n, edges, seed, MAX_STEPS)
}

/// Every live node sends `per_node` messages, interleaved with partial delivery;
/// then the network settles. Returns what each origin sent.
fn chat(sim: &mut Sim, per_node: usize, seed: u64) -> BTreeMap<NodeId, Vec<String>> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut sent: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
    for round in 0..per_node {
        for i in sim.live() {
            let text = format!("m{round} from {i}");
            sim.type_line(i, &text);
            sent.entry(sim.nodes[i].id).or_default().push(text);
            sim.deliver_some(rng.below(20));
        }
    }
    sim.run_for(Duration::from_secs(3), MAX_STEPS);
    sent
}

/// Every live node displayed every message in `sent` exactly once, in per-sender
/// order, and nothing else.
fn assert_exactly_once_in_order(sim: &Sim, sent: &BTreeMap<NodeId, Vec<String>>) {
    let total: usize = sent.values().map(Vec::len).sum();
    for i in sim.live() {
        let n = &sim.nodes[i];
        let mut by_origin: BTreeMap<NodeId, Vec<(u64, String)>> = BTreeMap::new();
        for s in &n.seen {
            by_origin.entry(s.origin).or_default().push((s.seq & p2pchat_core::wire::SEQ_LOW, s.text.clone()));
        }
        assert_eq!(n.seen.len(), total, "node {i} displayed {} messages, expected {total}", n.seen.len());
        for (origin, texts) in sent {
            let got = by_origin.get(origin).cloned().unwrap_or_default();
            let want: Vec<(u64, String)> = texts.iter().cloned().enumerate().map(|(k, t)| (k as u64 + 1, t)).collect();
            assert_eq!(got, want, "node {i}: messages from {origin} wrong (missing, duplicated or out of order)");
        }
    }
    assert_eq!(sim.in_flight(), 0, "frames left in flight");
}

fn assert_same_members(sim: &mut Sim) {
    let live = sim.live();
    let mut want: Vec<NodeId> = live.iter().map(|i| sim.nodes[*i].id).collect();
    want.sort_unstable();
    for i in live {
        assert_eq!(sim.member_ids(i), want, "node {i} has a different member list");
    }
}

fn run_topology(n: usize, edges: Vec<(usize, usize)>, per_node: usize, seed: u64) {
    let mut sim = build(n, &edges, seed);
    assert_same_members(&mut sim);
    let sent = chat(&mut sim, per_node, seed);
    assert_exactly_once_in_order(&sim, &sent);
}

#[test]
fn star_of_one_hub_and_twenty_delivers_once_in_order() {
    run_topology(21, topology::star(21), 5, 1);
}

#[test]
fn binary_tree_of_31_delivers_once_in_order() {
    run_topology(31, topology::binary_tree(31), 4, 2);
}

#[test]
fn line_of_50_delivers_once_in_order() {
    run_topology(50, topology::line(50), 3, 3);
}

/// Chat frames on the wire, summed over the live nodes: copies of its own
/// messages each node queued to its neighbours, copies it forwarded for others,
/// and copies it dropped as duplicates.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Flood {
    /// Messages written (`Stats::sent`).
    messages: u64,
    /// Copies forwarded on behalf of others (`Stats::forwarded`).
    forwarded: u64,
    /// Copies that arrived a second time and were dropped (`Stats::duplicates`).
    duplicates: u64,
    /// Messages from others delivered (`Stats::received`).
    received: u64,
}

fn flood(sim: &mut Sim) -> Flood {
    let mut f = Flood::default();
    for i in sim.live() {
        let s = sim.node(i).stats();
        f.messages += s.sent;
        f.forwarded += s.forwarded;
        f.duplicates += s.duplicates;
        f.received += s.received;
    }
    f
}

#[test]
fn ring_of_20_does_not_reflood_and_delivers_once_in_order() {
    const N: u64 = 20;
    const LINKS: u64 = N; // a ring of N has N links
    const DEGREE: u64 = 2;
    let mut sim = build(N as usize, &topology::ring(N as usize), 4);
    assert_same_members(&mut sim);
    let before = flood(&mut sim);
    assert_eq!(before, Flood::default(), "chat frames counted before anyone chatted");
    let sent = chat(&mut sim, 5, 4);
    assert_exactly_once_in_order(&sim, &sent);

    let f = flood(&mut sim);
    let m = sent.values().map(Vec::len).sum::<usize>() as u64;
    assert_eq!(f.messages, m, "messages written");
    // Flooding without reflood: the origin queues a message to both its
    // neighbours, every other node forwards it once, on first arrival, to the
    // one neighbour it did not come from, and never again.
    assert_eq!(f.forwarded, m * (N - 1) * (DEGREE - 1), "copies forwarded: a message was forwarded twice by a node");
    let frames = m * DEGREE + f.forwarded;
    assert_eq!(frames, m * (LINKS + 1), "chat frames sent per message");
    assert!(frames <= m * 2 * LINKS, "more than two crossings per link per message");
    // Of the LINKS + 1 copies of each message, N - 1 are first arrivals
    // (delivered) and exactly 2 arrive where the message already was: the two
    // flood fronts meeting.
    assert_eq!(f.received, m * (N - 1), "deliveries");
    assert_eq!(f.duplicates, m * (LINKS + 1 - (N - 1)), "duplicate copies");
    assert_eq!(f.duplicates, m * 2);
}

#[test]
fn complete_graph_of_10_delivers_once_in_order() {
    run_topology(10, topology::complete(10), 6, 5);
}

#[test]
fn random_graphs_of_200_with_cycles_deliver_once_in_order() {
    for seed in [11, 12, 13, 14] {
        let mut rng = Rng::new(seed);
        let edges = topology::random_connected(200, 100, &mut rng);
        run_topology(200, edges, 2, seed);
    }
}

#[test]
fn random_graph_of_1000_delivers_once_in_order() {
    let mut rng = Rng::new(1000);
    let edges = topology::random_connected(1000, 500, &mut rng);
    run_topology(1000, edges, 1, 1000);
}

#[test]
fn same_seed_replays_the_same_run() {
    let run = |seed| {
        let mut rng = Rng::new(seed);
        let edges = topology::random_connected(30, 15, &mut rng);
        let mut sim = build(30, &edges, seed);
        chat(&mut sim, 2, seed);
        (sim.steps, sim.nodes.iter().map(|n| n.seen.clone()).collect::<Vec<_>>())
    };
    assert_eq!(run(77), run(77));
}
