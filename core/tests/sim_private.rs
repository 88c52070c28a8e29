//! Private messages in the simulator: delivered over a direct link only, opened for
//! the occasion, and reported as not sent when that link cannot be made (here: a
//! partition makes new connections to the recipient fail while the sender still
//! counts it as a member).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::time::Duration;

use p2pchat_core::sim::{Sim, topology};

const MAX_STEPS: u64 = 5_000_000;

fn build_line(n: usize, seed: u64) -> Sim {
    let mut sim = Sim::with_nodes(n, seed);
    for (a, b) in topology::line(n) {
        sim.connect(a, b);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    sim
}

fn texts(sim: &Sim, i: usize) -> Vec<String> {
    sim.nodes[i].seen.iter().map(|s| s.text.clone()).collect()
}

fn errors(sim: &Sim, i: usize) -> Vec<String> {
    sim.errors(i)
}

#[test]
fn a_private_message_reaches_only_its_recipient_over_a_new_direct_link() {
    for seed in 1..=20 {
        let mut sim = build_line(4, seed);
        let (a, d) = (sim.nodes[0].id, sim.nodes[3].id);
        assert_eq!(sim.member_ids(0).len(), 4, "seed {seed}");
        sim.type_line(0, ":msg n3 psst");
        sim.run_for(Duration::from_secs(1), MAX_STEPS);
        assert_eq!(texts(&sim, 3), ["psst"], "seed {seed}: the recipient got it once");
        assert_eq!(texts(&sim, 0), ["psst"], "seed {seed}: the sender's copy, once");
        for i in [1, 2] {
            assert!(texts(&sim, i).is_empty(), "seed {seed}: node {i} saw {:?}", texts(&sim, i));
        }
        assert_eq!(sim.nodes[3].seen[0].origin, a, "seed {seed}");
        assert!(sim.node(0).neighbours().contains(&d), "seed {seed}: a direct link n0-n3 was made");
        // The reply uses the link that is there.
        sim.type_line(3, ":msg n0 got it");
        sim.run_for(Duration::from_secs(1), MAX_STEPS);
        assert_eq!(texts(&sim, 0), ["psst", "got it"], "seed {seed}");
        for i in [1, 2] {
            assert!(texts(&sim, i).is_empty(), "seed {seed}: node {i} saw {:?}", texts(&sim, i));
        }
        for i in 0..4 {
            assert!(errors(&sim, i).is_empty(), "seed {seed}: node {i}: {:?}", errors(&sim, i));
        }
    }
}

#[test]
fn when_the_direct_link_fails_the_sender_is_told_and_nothing_is_delivered() {
    for seed in 1..=20 {
        let mut sim = build_line(3, seed);
        // n2 is cut off; n0 still lists it (n1 has not timed the link out yet).
        sim.partition(&[0, 0, 1]);
        assert!(sim.member_ids(0).contains(&sim.nodes[2].id), "seed {seed}");
        sim.type_line(0, ":msg n2 are you there");
        // The simulator opens connections on its next step or timer: one tick,
        // far less than the peer timeout after which n1 would declare n2 lost.
        sim.run_for(Duration::from_millis(300), MAX_STEPS);
        assert!(sim.member_ids(0).contains(&sim.nodes[2].id), "seed {seed}: n2 is still a member");
        let errs = errors(&sim, 0);
        assert!(
            errs.iter()
                .any(|e| e.contains("private message to n2 not sent") && e.contains("could not open a direct link")),
            "seed {seed}: n0 was told at once: {errs:?}"
        );
        assert!(texts(&sim, 0).is_empty(), "seed {seed}: no copy of an unsent message: {:?}", texts(&sim, 0));
        // Healing later does not resurrect it.
        sim.heal();
        sim.run_for(Duration::from_secs(10), MAX_STEPS);
        for i in 0..3 {
            assert!(texts(&sim, i).is_empty(), "seed {seed}: node {i} saw {:?}", texts(&sim, i));
        }
        assert_eq!(errs.len(), 1, "seed {seed}: told once: {errs:?}");
    }
}

#[test]
fn a_private_message_to_oneself_or_to_nobody_is_an_error() {
    let mut sim = build_line(2, 7);
    sim.type_line(0, ":msg n0 me");
    sim.type_line(0, ":msg n9 who");
    sim.run_for(Duration::from_secs(1), MAX_STEPS);
    let errs = errors(&sim, 0);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("that is you"), "{errs:?}");
    assert!(errs[1].contains("no member named n9"), "{errs:?}");
    assert!(texts(&sim, 0).is_empty() && texts(&sim, 1).is_empty());
}
