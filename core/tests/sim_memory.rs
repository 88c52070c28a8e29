//! Guarantee 12 in the simulator: members crash and restart with what their store
//! (the driver's SQLite store, in memory) kept; every message is shown exactly
//! once per node across restarts, in per-sender order, and a restarted member is
//! the same member.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::collections::BTreeMap;
use std::time::Duration;

use p2pchat_core::id::Rng;
use p2pchat_core::memory::{Query, SCREENFUL};
use p2pchat_core::node::NodeConfig;
use p2pchat_core::sim::{Sim, default_config, topology};
use p2pchat_core::{Event, NodeId};

const MAX_STEPS: u64 = 50_000_000;

fn persisting() -> NodeConfig {
    let mut cfg = default_config();
    cfg.persist = true;
    cfg.history = 2000;
    cfg
}

fn network(n: usize, edges: &[(usize, usize)], seed: u64) -> Sim {
    let mut sim = Sim::new(seed, persisting());
    for i in 0..n {
        sim.add_node(&format!("n{i}"));
    }
    for &(a, b) in edges {
        sim.connect(a, b);
    }
    settle(&mut sim, 2);
    sim
}

fn settle(sim: &mut Sim, secs: u64) {
    sim.run_for(Duration::from_secs(secs), MAX_STEPS);
}

fn texts_from(sim: &Sim, at: usize, from: usize) -> Vec<String> {
    let origin = sim.nodes[from].id;
    sim.nodes[at].seen.iter().filter(|s| s.origin == origin).map(|s| s.text.clone()).collect()
}

/// Per sender: displayed sequence numbers strictly increase, across every life
/// of the node (no message shown twice, none out of order).
fn assert_once_in_order(sim: &Sim, i: usize, what: &str) {
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    for s in &sim.nodes[i].seen {
        let prev = last.insert(s.origin, s.seq).unwrap_or(0);
        assert!(s.seq > prev, "{what}: node {i} showed message {} from {} after {prev}", s.seq, s.origin);
    }
}

fn history_lines(sim: &Sim, i: usize) -> Vec<String> {
    sim.nodes[i]
        .events
        .iter()
        .filter_map(|e| if let Event::History(l) = e { Some(l.text.clone()) } else { None })
        .collect()
}

#[test]
fn a_restarted_member_is_shown_back_and_gets_exactly_what_it_missed() {
    let mut sim = network(3, &topology::line(3), 1);
    sim.type_line(0, "before");
    settle(&mut sim, 1);
    let id = sim.nodes[1].id;
    sim.crash(1);
    settle(&mut sim, 8);
    for k in 0..5 {
        sim.type_line(0, &format!("while down {k}"));
        sim.type_line(2, &format!("also while down {k}"));
    }
    settle(&mut sim, 1);
    sim.restart(1);
    assert_eq!(sim.node(1).id(), id, "the same key, the same member");
    sim.connect(1, 0);
    settle(&mut sim, 5);
    let want: Vec<String> =
        std::iter::once("before".to_owned()).chain((0..5).map(|k| format!("while down {k}"))).collect();
    assert_eq!(texts_from(&sim, 1, 0), want, "what n0 said, once, across both lives");
    let want: Vec<String> = (0..5).map(|k| format!("also while down {k}")).collect();
    assert_eq!(texts_from(&sim, 1, 2), want);
    assert_once_in_order(&sim, 1, "restart");
    for i in [0, 2] {
        let notices = sim.notices(i);
        assert!(notices.iter().any(|n| n.contains("n1 is back")), "node {i} says n1 is back: {notices:?}");
        let joined_again = sim.nodes[i]
            .events
            .iter()
            .filter(|e| matches!(e, Event::Joined { id: j, announce: true, .. } if *j == id))
            .count();
        assert!(joined_again <= 1, "node {i} announced n1 as a newcomer after its restart");
        assert!(!notices.iter().any(|n| n.contains("n1-")), "no name collision with its own old record: {notices:?}");
    }
    assert_eq!(sim.node(1).name(), "n1");
    // Its screen started with what it had shown before the crash.
    assert_eq!(history_lines(&sim, 1), ["before"]);
    assert!(sim.notices(1).iter().any(|n| n == Event::HISTORY_END));
}

#[test]
fn a_restarted_member_gets_from_the_stores_more_than_the_history_window_holds() {
    const WINDOW: usize = 20;
    const MISSED: usize = 300;
    let mut cfg = persisting();
    cfg.history = WINDOW;
    let mut sim = Sim::new(7, cfg);
    for i in 0..3 {
        sim.add_node(&format!("n{i}"));
    }
    for (a, b) in topology::line(3) {
        sim.connect(a, b);
    }
    settle(&mut sim, 2);
    sim.type_line(0, "before");
    settle(&mut sim, 1);
    sim.crash(1);
    settle(&mut sim, 8);
    for k in 0..MISSED {
        sim.type_line(0, &format!("while down {k}"));
        if k % 50 == 49 {
            settle(&mut sim, 1);
        }
    }
    settle(&mut sim, 1);
    sim.restart(1);
    sim.connect(1, 0);
    settle(&mut sim, 10);
    let want: Vec<String> =
        std::iter::once("before".to_owned()).chain((0..MISSED).map(|k| format!("while down {k}"))).collect();
    assert_eq!(texts_from(&sim, 1, 0), want, "all it missed, {MISSED} messages against a window of {WINDOW}");
    assert_once_in_order(&sim, 1, "restart beyond the window");
    let notices = sim.notices(1);
    assert!(!notices.iter().any(|n| n.contains("could not be recovered")), "{notices:?}");
    assert!(notices.iter().any(|n| n.starts_with("caught up: ") && n.contains("(from n0)")), "{notices:?}");
    // Chat goes on normally afterwards, both ways.
    sim.type_line(1, "n1 again");
    sim.type_line(0, "after");
    settle(&mut sim, 2);
    assert_eq!(texts_from(&sim, 2, 1), ["n1 again"]);
    assert_eq!(texts_from(&sim, 1, 0).last().map(String::as_str), Some("after"));
}

#[test]
fn the_restart_screen_is_the_last_screenful_and_history_and_search_ask_the_store() {
    let mut sim = network(2, &topology::line(2), 2);
    for k in 0..(SCREENFUL + 5) {
        sim.type_line(0, &format!("line {k}"));
    }
    sim.type_line(1, "Needle in a haystack");
    settle(&mut sim, 1);
    sim.crash(0);
    sim.restart(0);
    let shown = history_lines(&sim, 0);
    assert_eq!(shown.len(), SCREENFUL);
    assert_eq!(shown.last().map(String::as_str), Some("Needle in a haystack"));
    assert_eq!(shown[0], "line 6");
    sim.type_line(0, ":search NEEDLE");
    let found: Vec<String> = history_lines(&sim, 0).split_off(SCREENFUL);
    assert_eq!(found, ["Needle in a haystack"]);
    assert!(sim.notices(0).iter().any(|n| n.starts_with("1 saved line contains")));
    sim.type_line(0, ":history 3");
    let last: Vec<String> = history_lines(&sim, 0).split_off(SCREENFUL + 1);
    assert_eq!(last, ["line 23", "line 24", "Needle in a haystack"]);
    let store = sim.nodes[0].store.as_ref().expect("a store");
    assert_eq!(store.query(&Query::Search("line 2".into())).unwrap().len(), 6, "line 2, line 20 .. line 24");
}

#[test]
fn a_member_restarted_without_its_store_is_not_taken_for_a_duplicate() {
    let mut sim = network(3, &topology::line(3), 3);
    for k in 0..10 {
        sim.type_line(1, &format!("first life {k}"));
    }
    settle(&mut sim, 1);
    sim.crash(1);
    settle(&mut sim, 8);
    sim.nodes[1].store = None;
    sim.restart(1);
    sim.connect(1, 0);
    settle(&mut sim, 3);
    sim.type_line(1, "second life");
    settle(&mut sim, 2);
    for i in [0, 2] {
        let got = texts_from(&sim, i, 1);
        assert_eq!(got.last().map(String::as_str), Some("second life"), "node {i}: {got:?}");
        assert_eq!(got.len(), 11, "node {i}");
        assert_once_in_order(&sim, i, "storeless restart");
    }
}

/// Random crashes, restarts (with the store), cuts, partitions, heals and late
/// joins; at the end every running node has shown every message of every sender
/// exactly once, in order, across its restarts.
fn random_schedule_with_restarts(n: usize, seed: u64) {
    let mut sim = Sim::new(seed, persisting());
    let mut rng = Rng::new(seed.wrapping_mul(37));
    for i in 0..n {
        sim.add_node(&format!("p{i}"));
    }
    for (a, b) in topology::random_connected(n, n / 2, &mut rng) {
        sim.connect(a, b);
    }
    settle(&mut sim, 2);
    let mut sent: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut down: Vec<usize> = Vec::new();
    let mut restarts = 0;
    for round in 0..14 {
        let live = sim.live();
        for _ in 0..3 {
            let i = live[rng.below(live.len() as u64) as usize];
            let text = format!("r{round} from {i}");
            sim.type_line(i, &text);
            sent.entry(i).or_default().push(text);
            sim.deliver_some(rng.below(50));
        }
        match rng.below(6) {
            0 | 1 if down.len() < n / 5 => {
                let i = live[rng.below(live.len() as u64) as usize];
                sim.crash(i);
                down.push(i);
            }
            2 if !down.is_empty() => {
                let i = down.remove(rng.below(down.len() as u64) as usize);
                sim.restart(i);
                restarts += 1;
                let others: Vec<usize> =
                    sim.live().into_iter().filter(|k| *k != i && sim.group(*k) == sim.group(i)).collect();
                if !others.is_empty() {
                    let k = others[rng.below(others.len() as u64) as usize];
                    sim.connect(i, k);
                }
            }
            3 => {
                let groups: Vec<u32> = (0..sim.nodes.len()).map(|_| rng.below(2) as u32).collect();
                sim.partition(&groups);
            }
            4 => sim.heal(),
            _ => {
                let i = live[rng.below(live.len() as u64) as usize];
                let nb = sim.node(i).neighbours();
                if let Some(id) = nb.first() {
                    let j = (0..sim.nodes.len()).find(|j| sim.nodes[*j].id == *id).expect("known node");
                    sim.cut(i, j);
                }
            }
        }
        settle(&mut sim, 1 + rng.below(4));
    }
    // Everyone still down comes back, and the network heals.
    sim.heal();
    for i in std::mem::take(&mut down) {
        sim.restart(i);
        restarts += 1;
        let k = (0..sim.nodes.len()).find(|k| *k != i && sim.nodes[*k].node.is_some()).expect("a live node");
        sim.connect(i, k);
    }
    settle(&mut sim, 120);
    assert!(restarts > 0, "seed {seed}: the schedule restarted nobody");
    let live = sim.live();
    assert_eq!(live.len(), n, "seed {seed}: every node runs again");
    for &i in &live {
        assert_once_in_order(&sim, i, &format!("seed {seed}"));
        for (&from, texts) in &sent {
            assert_eq!(&texts_from(&sim, i, from), texts, "seed {seed}: node {i}, messages from {from}");
        }
    }
}

#[test]
fn random_fault_schedules_with_restarts_show_every_message_once_in_order() {
    for seed in 500..508 {
        random_schedule_with_restarts(20, seed);
    }
}
