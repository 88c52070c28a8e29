//! Trust in the simulator: names bound to keys (guarantee 11) and the signed
//! traffic of a whole network (every message checked by every node).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::time::Duration;

use p2pchat_core::Event;
use p2pchat_core::sim::{Sim, topology};

const MAX_STEPS: u64 = 5_000_000;

fn errors(sim: &Sim, i: usize) -> Vec<String> {
    sim.nodes[i]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Error(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_known_name_that_comes_back_with_another_key_is_shown_with_a_warning_and_its_fingerprint() {
    let mut sim = Sim::with_nodes(2, 7);
    for (a, b) in topology::line(2) {
        sim.connect(a, b);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    // n1 quits; another member (another key) named n1 joins through n0.
    sim.type_line(1, ":quit");
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    assert!(errors(&sim, 0).is_empty(), "{:?}", errors(&sim, 0));
    let impostor = sim.add_node("n1");
    sim.connect(impostor, 0);
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    let key = sim.node(impostor).id().short();
    let warnings: Vec<String> = errors(&sim, 0).into_iter().filter(|e| e.contains("new key")).collect();
    assert_eq!(warnings, [format!("warning: n1 (new key {key} — not the n1 seen before)")]);
    // The same member coming back with its own key is not news.
    let mut sim = Sim::with_nodes(3, 8);
    for (a, b) in topology::line(3) {
        sim.connect(a, b);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    sim.cut(1, 2);
    sim.run_for(Duration::from_secs(5), MAX_STEPS);
    sim.connect(2, 0);
    sim.run_for(Duration::from_secs(3), MAX_STEPS);
    assert!(errors(&sim, 0).iter().all(|e| !e.contains("new key")), "{:?}", errors(&sim, 0));
}

#[test]
fn a_burst_typed_in_one_turn_is_signed_as_batches_and_delivered_everywhere_in_order() {
    let mut sim = Sim::with_nodes(4, 11);
    for (a, b) in topology::ring(4) {
        sim.connect(a, b);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    let origin = sim.node(0).id();
    for k in 0..50 {
        let now = sim.now;
        sim.node(0).handle_line(&format!("burst {k}"), now);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    for i in 1..4 {
        let got: Vec<String> =
            sim.nodes[i].seen.iter().filter(|s| s.origin == origin).map(|s| s.text.clone()).collect();
        assert_eq!(got, (0..50).map(|k| format!("burst {k}")).collect::<Vec<_>>(), "node {i}");
    }
}
