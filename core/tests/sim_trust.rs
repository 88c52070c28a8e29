//! Trust in the simulator: names bound to keys (guarantee 11) and the signed
//! traffic of a whole network (every message checked by every node).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::time::Duration;

use p2pchat_core::sim::{Sim, topology};

const MAX_STEPS: u64 = 5_000_000;

fn errors(sim: &Sim, i: usize) -> Vec<String> {
    sim.errors(i)
}

#[test]
fn a_known_name_that_comes_back_with_another_key_is_shown_with_a_warning_and_its_fingerprint() {
    let mut sim = Sim::linked(2, &topology::line(2), 7, MAX_STEPS);
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
    let mut sim = Sim::linked(3, &topology::line(3), 8, MAX_STEPS);
    sim.cut(1, 2);
    sim.run_for(Duration::from_secs(5), MAX_STEPS);
    sim.connect(2, 0);
    sim.run_for(Duration::from_secs(3), MAX_STEPS);
    assert!(errors(&sim, 0).iter().all(|e| !e.contains("new key")), "{:?}", errors(&sim, 0));
}

#[test]
fn a_newcomer_claiming_a_present_members_name_with_an_earlier_clock_is_the_one_renamed_on_every_node() {
    for seed in 0..6 {
        let mut sim = Sim::linked(3, &topology::line(3), 20 + seed, MAX_STEPS);
        // The newcomer's clock says it took the name a day before anyone started.
        let liar = sim.add_node_with_clock("n1", -86_400_000);
        sim.connect(liar, (seed % 3) as usize);
        sim.run_for(Duration::from_secs(4), MAX_STEPS);
        assert_eq!(sim.node(1).name(), "n1", "seed {seed}: the member who was there keeps its name");
        assert_eq!(sim.node(liar).name(), "n1-2", "seed {seed}");
        let liar_id = sim.nodes[liar].id;
        for i in 0..4 {
            let names: Vec<(String, bool)> =
                sim.node(i).members().into_iter().map(|m| (m.name, m.id == liar_id)).collect();
            assert!(names.contains(&("n1-2".to_owned(), true)), "seed {seed}, node {i}: {names:?}");
            assert_eq!(names.iter().filter(|(n, _)| n == "n1").count(), 1, "seed {seed}, node {i}: {names:?}");
        }
    }
}

#[test]
fn a_burst_typed_in_one_turn_is_signed_as_batches_and_delivered_everywhere_in_order() {
    let mut sim = Sim::linked(4, &topology::ring(4), 11, MAX_STEPS);
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

#[test]
fn whois_shows_a_members_fingerprint_address_hops_and_links() {
    let mut sim = Sim::linked(3, &topology::line(3), 31, MAX_STEPS);
    sim.type_line(0, ":whois n2");
    sim.run_for(Duration::from_millis(100), MAX_STEPS);
    let n2 = sim.nodes[2].id;
    let notices = sim.notices(0);
    let at = notices.iter().position(|n| n == "n2:").expect("the whois header");
    assert_eq!(notices[at + 1], format!("  key {n2} (fingerprint {})", n2.short()));
    assert_eq!(notices[at + 2], "  address 127.0.0.1:10002");
    assert_eq!(notices[at + 3], "  2 hops away");
    assert_eq!(notices[at + 4], "  links: n1");
    assert!(notices[at + 5].starts_with("  accepted into the network "), "{:?}", &notices[at..]);
    sim.type_line(0, ":whois nobody");
    sim.run_for(Duration::from_millis(100), MAX_STEPS);
    assert!(errors(&sim, 0).iter().any(|e| e.starts_with("no member is called nobody")));
}
