//! Membership, failure detection, self-healing and catch-up, in the simulator:
//! crashes, silent links, partitions, heals and late joins.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is a test failure

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use p2pchat_core::id::Rng;
use p2pchat_core::sim::{Sim, default_config, topology};
use p2pchat_core::{Event, LeftReason, NodeId};

const MAX_STEPS: u64 = 50_000_000;

fn build(n: usize, edges: &[(usize, usize)], seed: u64) -> Sim {
    Sim::linked(n, edges, seed, MAX_STEPS)
}

fn settle(sim: &mut Sim, secs: u64) {
    sim.run_for(Duration::from_secs(secs), MAX_STEPS);
}

fn ids(sim: &Sim, idx: &[usize]) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = idx.iter().map(|i| sim.nodes[*i].id).collect();
    v.sort_unstable();
    v
}

fn texts_from(sim: &Sim, at: usize, from: usize) -> Vec<String> {
    let origin = sim.nodes[from].id;
    sim.nodes[at].seen.iter().filter(|s| s.origin == origin).map(|s| s.text.clone()).collect()
}

/// Per sender: displayed sequence numbers strictly increase (no duplicate, no reordering).
fn assert_once_in_order(sim: &Sim, i: usize) {
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    for s in &sim.nodes[i].seen {
        let prev = last.insert(s.origin, s.seq).unwrap_or(0);
        assert!(s.seq > prev, "node {i}: message {} from {} shown after {prev}", s.seq, s.origin);
    }
}

fn notices(sim: &Sim, i: usize) -> Vec<String> {
    sim.notices(i)
}

#[test]
fn line_of_three_heals_when_the_middle_crashes() {
    let mut sim = build(3, &topology::line(3), 1);
    assert_eq!(sim.member_ids(0), ids(&sim, &[0, 1, 2]));
    sim.crash(1);
    settle(&mut sim, 10);
    assert_eq!(sim.member_ids(0), ids(&sim, &[0, 2]));
    assert_eq!(sim.member_ids(2), ids(&sim, &[0, 2]));
    assert_eq!(sim.node(0).neighbours(), vec![sim.nodes[2].id], "A and C linked directly");
    sim.type_line(0, "after the crash");
    settle(&mut sim, 2);
    assert_eq!(texts_from(&sim, 2, 0), ["after the crash"]);
    // Both ends were told the middle was lost.
    for i in [0, 2] {
        assert!(
            sim.nodes[i]
                .events
                .iter()
                .any(|e| matches!(e, Event::Left { reason: LeftReason::Lost, id, .. } if *id == sim.nodes[1].id)),
            "node {i} did not report the crash"
        );
    }
}

#[test]
fn silent_neighbour_is_declared_lost_within_three_seconds() {
    let mut sim = build(2, &topology::line(2), 2);
    let start = sim.now;
    sim.cut(0, 1);
    let mut lost_at = None;
    for _ in 0..40 {
        sim.run_for(Duration::from_millis(100), MAX_STEPS);
        if sim.nodes[0].events.iter().any(|e| matches!(e, Event::Left { reason: LeftReason::Lost, .. })) {
            lost_at = Some(sim.now - start);
            break;
        }
    }
    let lost_at = lost_at.expect("silent neighbour was never declared lost");
    assert!(lost_at <= Duration::from_secs(3), "took {lost_at:?}");
}

/// What node `i` showed its user (as `Event::display` words it) since its
/// `from`-th event.
fn shown_since(sim: &Sim, i: usize, from: usize) -> Vec<String> {
    sim.nodes[i].events[from..].iter().filter_map(|e| e.display().map(|(_, m)| m)).collect()
}

/// The names in a notice "PREFIX a, b, c SUFFIX", sorted.
fn names_in(notice: &str, prefix: &str, suffix: &str) -> Option<Vec<String>> {
    let list = notice.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let mut names: Vec<String> = list.split(", ").map(str::to_owned).collect();
    names.sort();
    Some(names)
}

#[test]
fn netsplit_is_one_notice_and_its_end_another() {
    // A line 0-1-2-3-4-5 whose link 2-3 goes silent: {0,1,2} lose {3,4,5} at
    // once, and repair later joins the halves again.
    let mut sim = build(6, &topology::line(6), 3);
    let before: Vec<usize> = sim.nodes.iter().map(|n| n.events.len()).collect();
    sim.cut(2, 3);
    settle(&mut sim, 4);
    for (i, &from) in before.iter().enumerate() {
        let shown: Vec<String> = shown_since(&sim, i, from);
        assert!(
            shown.iter().any(|t| t.starts_with("netsplit: lost contact with")),
            "node {i}: no netsplit notice within 4 s: {shown:?}"
        );
    }
    // Repair reconnects the halves.
    settle(&mut sim, 20);
    let all = ids(&sim, &[0, 1, 2, 3, 4, 5]);
    for i in 0..6 {
        assert_eq!(sim.member_ids(i), all, "node {i}");
    }
    let names = |idx: &[usize]| -> Vec<String> {
        let mut v: Vec<String> = idx.iter().map(|j| format!("n{j}")).collect();
        v.sort();
        v
    };
    for (i, &from) in before.iter().enumerate() {
        let other_side = if i < 3 { names(&[3, 4, 5]) } else { names(&[0, 1, 2]) };
        // Everything shown to the user since the cut: the split in one line
        // (no "lost contact with" per member), its end in another (no "joined"
        // per member), and nothing else.
        let shown: Vec<String> = shown_since(&sim, i, from);
        assert_eq!(shown.len(), 2, "node {i}: expected two notices since the cut, got {shown:?}");
        assert_eq!(
            names_in(&shown[0], "netsplit: lost contact with ", ""),
            Some(other_side.clone()),
            "node {i}: first notice: {shown:?}"
        );
        assert_eq!(
            names_in(&shown[1], "netsplit over: ", " are back"),
            Some(other_side),
            "node {i}: second notice: {shown:?}"
        );
    }
}

#[test]
fn partition_heal_delivers_missed_messages() {
    let mut rng = Rng::new(4);
    let edges = topology::random_connected(12, 6, &mut rng);
    let mut sim = build(12, &edges, 4);
    sim.type_line(0, "before");
    settle(&mut sim, 1);
    let groups: Vec<u32> = (0..12).map(|i| u32::from(i >= 6)).collect();
    sim.partition(&groups);
    settle(&mut sim, 5);
    for i in 0..12 {
        sim.type_line(i, &format!("during from {i}"));
    }
    settle(&mut sim, 5);
    // Each side sees only its own side's messages.
    assert!(texts_from(&sim, 0, 11).is_empty());
    sim.heal();
    settle(&mut sim, 60);
    let all = ids(&sim, &(0..12).collect::<Vec<_>>());
    for i in 0..12 {
        assert_once_in_order(&sim, i);
        assert_eq!(sim.member_ids(i), all, "node {i} members");
        for j in 0..12 {
            let want: Vec<String> =
                if j == 0 { vec!["before".into(), "during from 0".into()] } else { vec![format!("during from {j}")] };
            assert_eq!(texts_from(&sim, i, j), want, "node {i} from {j}");
        }
    }
}

#[test]
fn late_joiner_receives_the_backlog_in_order() {
    let mut sim = build(4, &topology::ring(4), 5);
    for k in 0..30 {
        sim.type_line(k % 4, &format!("old {k}"));
        sim.deliver_some(3);
    }
    settle(&mut sim, 2);
    let late = sim.add_node("late");
    sim.connect(late, 2);
    settle(&mut sim, 3);
    assert_once_in_order(&sim, late);
    assert_eq!(sim.nodes[late].seen.len(), 30, "backlog");
    for from in 0..4 {
        let want: Vec<String> = (0..30).filter(|k| k % 4 == from).map(|k| format!("old {k}")).collect();
        assert_eq!(texts_from(&sim, late, from), want);
    }
    // And the others see it join.
    assert!(sim.nodes[0].events.iter().any(|e| matches!(e, Event::Joined { name, .. } if name == "late")));
}

#[test]
fn late_joiner_gets_only_the_history_window() {
    let mut cfg = default_config();
    cfg.history = 10;
    let mut sim = Sim::new(6, cfg);
    let a = sim.add_node("a");
    let b = sim.add_node("b");
    sim.connect(b, a);
    settle(&mut sim, 1);
    for k in 0..25 {
        sim.type_line(a, &format!("m{k}"));
    }
    settle(&mut sim, 1);
    let c = sim.add_node("c");
    sim.connect(c, b);
    settle(&mut sim, 3);
    let want: Vec<String> = (15..25).map(|k| format!("m{k}")).collect();
    assert_eq!(texts_from(&sim, c, a), want);
    // Live messages after the catch-up still arrive.
    sim.type_line(a, "live");
    settle(&mut sim, 1);
    assert_eq!(texts_from(&sim, c, a).last().map(String::as_str), Some("live"));
    assert!(
        notices(&sim, c).iter().all(|n| !n.contains("could not be recovered")),
        "a newcomer is not told about history it never had"
    );
}

#[test]
fn gap_beyond_every_history_is_reported_and_delivery_moves_on() {
    let mut cfg = default_config();
    cfg.history = 5;
    let mut sim = Sim::new(7, cfg);
    let a = sim.add_node("a");
    let b = sim.add_node("b");
    sim.connect(b, a);
    settle(&mut sim, 1);
    sim.type_line(a, "first");
    settle(&mut sim, 1);
    sim.partition(&[0, 1]);
    for k in 0..20 {
        sim.type_line(a, &format!("apart {k}"));
    }
    settle(&mut sim, 5);
    sim.heal();
    settle(&mut sim, 30);
    let got = texts_from(&sim, b, a);
    assert_eq!(got.first().map(String::as_str), Some("first"));
    let tail: Vec<String> = (15..20).map(|k| format!("apart {k}")).collect();
    assert_eq!(got[1..], tail[..]);
    assert!(
        notices(&sim, b).iter().any(|n| n == "15 messages from a could not be recovered"),
        "{:?}",
        notices(&sim, b)
    );
    assert_once_in_order(&sim, b);
}

#[test]
fn two_members_with_one_name_end_with_distinct_names() {
    let mut sim = Sim::new(8, default_config());
    let a = sim.add_node("bob");
    let b = sim.add_node("alice");
    sim.run_for(Duration::from_millis(10), MAX_STEPS);
    let c = sim.add_node("bob");
    sim.connect(b, a);
    sim.connect(c, b);
    settle(&mut sim, 3);
    let names: BTreeSet<String> = (0..3).map(|i| sim.node(i).name().to_owned()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // The earlier claim keeps the name; the later one is suffixed and told.
    assert_eq!(sim.node(a).name(), "bob");
    assert_eq!(sim.node(c).name(), "bob-2");
    assert!(notices(&sim, c).iter().any(|n| n.contains("you are now known as bob-2")));
    let c_id = sim.nodes[c].id;
    let renamed = sim.nodes[a]
        .events
        .iter()
        .any(|e| matches!(e, Event::Renamed { id, from, to, .. } if *id == c_id && from == "bob" && to == "bob-2"));
    assert!(renamed, "{:?}", sim.nodes[a].events);
    // Every node agrees on the names.
    for i in 0..3 {
        let mut seen: Vec<String> = sim.node(i).members().into_iter().map(|m| m.name).collect();
        seen.sort();
        assert_eq!(seen, ["alice", "bob", "bob-2"]);
    }
}

#[test]
fn simultaneous_reconnects_leave_one_link() {
    let mut sim = build(3, &topology::line(3), 9);
    sim.crash(1);
    settle(&mut sim, 15);
    assert_eq!(sim.node(0).neighbours(), vec![sim.nodes[2].id]);
    assert_eq!(sim.node(2).neighbours(), vec![sim.nodes[0].id]);
    // Exactly one connection each (the neighbour list is by id; check the peers too).
    let peers = sim.node(0).members().into_iter().filter(|m| m.direct).count();
    assert_eq!(peers, 1);
}

#[test]
fn redundancy_keeps_k_links() {
    let mut cfg = default_config();
    cfg.redundancy = 2;
    let mut sim = Sim::new(10, cfg);
    for i in 0..6 {
        sim.add_node(&format!("r{i}"));
    }
    for (a, b) in topology::line(6) {
        sim.connect(a, b);
    }
    settle(&mut sim, 20);
    for i in 0..6 {
        assert!(sim.node(i).neighbours().len() >= 2, "node {i} has {:?}", sim.node(i).neighbours());
    }
    // With two links each, one crash does not split the rest.
    sim.crash(2);
    settle(&mut sim, 5);
    let rest = ids(&sim, &[0, 1, 3, 4, 5]);
    for i in [0, 1, 3, 4, 5] {
        assert_eq!(sim.member_ids(i), rest);
    }
}

/// Random crash / cut / partition / heal / join schedules with chat in between.
/// After the last heal and quiescence: every live node has every message any live
/// node sent, exactly once, in per-sender order; the same member list; unique names.
fn random_schedule(n: usize, seed: u64) {
    let mut cfg = default_config();
    cfg.history = 2000;
    let mut sim = Sim::new(seed, cfg);
    let mut rng = Rng::new(seed.wrapping_mul(31));
    for i in 0..n {
        sim.add_node(&format!("p{i}"));
    }
    for (a, b) in topology::random_connected(n, n / 2, &mut rng) {
        sim.connect(a, b);
    }
    settle(&mut sim, 2);
    let mut sent: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut crashed = 0;
    for round in 0..12 {
        let live = sim.live();
        for _ in 0..3 {
            let i = live[rng.below(live.len() as u64) as usize];
            let text = format!("r{round} from {i}");
            sim.type_line(i, &text);
            sent.entry(i).or_default().push(text);
            sim.deliver_some(rng.below(50));
        }
        match rng.below(6) {
            0 if crashed < n / 10 => {
                let i = live[rng.below(live.len() as u64) as usize];
                sim.crash(i);
                crashed += 1;
            }
            1 => {
                let i = live[rng.below(live.len() as u64) as usize];
                let nb = sim.node(i).neighbours();
                if let Some(id) = nb.first() {
                    let j = (0..sim.nodes.len()).find(|j| sim.nodes[*j].id == *id).expect("known node");
                    sim.cut(i, j);
                }
            }
            2 => {
                let groups: Vec<u32> = (0..sim.nodes.len()).map(|_| rng.below(2) as u32).collect();
                sim.partition(&groups);
            }
            3 => sim.heal(),
            4 => {
                // A newcomer joins through a node it can reach.
                let j = sim.add_node(&format!("late{round}"));
                let reachable: Vec<usize> = sim.live().into_iter().filter(|k| *k != j && sim.group(*k) == 0).collect();
                if !reachable.is_empty() {
                    let k = reachable[rng.below(reachable.len() as u64) as usize];
                    sim.connect(j, k);
                }
            }
            _ => {}
        }
        settle(&mut sim, 1 + rng.below(4));
    }
    sim.heal();
    settle(&mut sim, 120);
    let live = sim.live();
    let want_members = ids(&sim, &live);
    for &i in &live {
        assert_once_in_order(&sim, i);
        assert_eq!(sim.member_ids(i), want_members, "seed {seed}: node {i} member list");
        for (&from, texts) in &sent {
            if sim.nodes[from].node.is_some() {
                assert_eq!(&texts_from(&sim, i, from), texts, "seed {seed}: node {i} messages from {from}");
            }
        }
    }
    let names: BTreeSet<String> = live.iter().map(|i| sim.node(*i).name().to_owned()).collect();
    assert_eq!(names.len(), live.len(), "seed {seed}: duplicate names");
    // Repair restores connectivity without meshing everything: the random graph
    // starts with a mean degree of about 3.
    let degrees: Vec<usize> = live.iter().map(|i| sim.node(*i).neighbours().len()).collect();
    let mean = degrees.iter().sum::<usize>() as f64 / degrees.len() as f64;
    assert!(mean < 8.0, "seed {seed}: repair left a mean of {mean:.1} links per node");
}

#[test]
fn random_fault_schedules_on_50_nodes_converge() {
    for seed in 100..112 {
        random_schedule(50, seed);
    }
}

#[test]
fn random_fault_schedules_on_200_nodes_converge() {
    for seed in 200..203 {
        random_schedule(200, seed);
    }
}

/// `:connect` to a member that is already a neighbour, from either end and for many
/// id orders: the established link stays (no loss, no netsplit, no rejoin
/// anywhere), the user who typed it is told "already connected to NAME", and chat
/// still flows over the one link.
#[test]
fn connect_to_an_existing_neighbour_keeps_the_established_link() {
    for seed in 0..20 {
        for from in [0usize, 1] {
            let mut sim = Sim::with_nodes(3, seed);
            sim.connect(0, 1);
            sim.connect(1, 2);
            sim.run_for(Duration::from_secs(2), MAX_STEPS);
            let to = 1 - from;
            let before: Vec<usize> = (0..3).map(|i| sim.nodes[i].events.len()).collect();
            let addr = sim.nodes[to].addr;
            sim.type_line(from, &format!(":connect {} {}", addr.ip(), addr.port()));
            sim.run_for(Duration::from_secs(3), MAX_STEPS);
            for (i, start) in before.iter().enumerate() {
                for e in &sim.nodes[i].events[*start..] {
                    let bad = match e {
                        Event::Left { .. } | Event::Joined { .. } => true,
                        Event::Notice(t) => t.contains("netsplit") || t.contains("lost contact"),
                        _ => false,
                    };
                    assert!(!bad, "seed {seed}, :connect from {from}: node {i} saw {e:?}");
                }
            }
            let to_name = format!("n{to}");
            let told = sim.nodes[from].events[before[from]..]
                .iter()
                .any(|e| matches!(e, Event::Notice(t) if *t == format!("already connected to {to_name}")));
            assert!(told, "seed {seed}: node {from} was not told: {:?}", &sim.nodes[from].events[before[from]..]);
            sim.type_line(2, "still one network");
            sim.run_for(Duration::from_secs(1), MAX_STEPS);
            for i in 0..3 {
                assert_eq!(sim.nodes[i].seen.iter().filter(|s| s.text == "still one network").count(), 1, "node {i}");
            }
        }
    }
}

/// The middle of a line of five crashes: each end is told "netsplit: lost contact
/// with" the crashed node and the two beyond it, and, once repair has linked the
/// survivors, "netsplit over" for the two that came back, never a bare "joined"
/// for them; the crashed node is never said to be back. Many seeds, so that the
/// survivors come back together or one at a time.
#[test]
fn a_netsplit_healed_by_repair_ends_with_netsplit_over() {
    for seed in 0..20 {
        let mut sim = build(5, &topology::line(5), seed);
        let before: Vec<usize> = sim.nodes.iter().map(|n| n.events.len()).collect();
        sim.crash(2);
        settle(&mut sim, 20);
        for (i, far) in [(0usize, [3usize, 4]), (4, [0, 1])] {
            let shown = shown_since(&sim, i, before[i]);
            let split = shown.iter().position(|t| t.starts_with("netsplit: lost contact with"));
            let Some(split) = split else { panic!("seed {seed}, node {i}: no netsplit notice: {shown:?}") };
            let mut back = Vec::new();
            for t in &shown[split + 1..] {
                assert!(!t.ends_with(" joined"), "seed {seed}, node {i}: a return told as an arrival: {shown:?}");
                if let Some(rest) = t.strip_prefix("netsplit over: ") {
                    let names = rest.trim_end_matches(" is back").trim_end_matches(" are back");
                    back.extend(names.split(", ").map(str::to_owned));
                }
            }
            back.sort();
            let want: Vec<String> = far.iter().map(|j| format!("n{j}")).collect();
            assert_eq!(back, want, "seed {seed}, node {i}: {shown:?}");
        }
    }
}

/// What a node showed of `from`'s messages and arrival, in order: `M name text`
/// for a message, `R old new` for its rename, `J name` for its arrival.
fn story_of(sim: &Sim, at: usize, from: usize) -> Vec<String> {
    let id = sim.nodes[from].id;
    let node = &sim.nodes[at];
    let mut messages = node.seen.iter().filter(|s| s.origin == id).peekable();
    let mut story = Vec::new();
    for (i, e) in node.events.iter().enumerate() {
        while let Some(m) = messages.next_if(|m| m.after <= i) {
            story.push(format!("M {} {}", m.from, m.text));
        }
        match e {
            Event::Renamed { id: r, from, to, newcomer } if *r == id => {
                story.push(format!("R {from} {to}{}", if *newcomer { " (newcomer)" } else { "" }))
            }
            Event::Joined { id: j, name, announce: true } if *j == id => story.push(format!("J {name}")),
            _ => {}
        }
    }
    story.extend(messages.map(|m| format!("M {} {}", m.from, m.text)));
    story
}

#[test]
fn a_newcomer_with_a_taken_name_has_its_history_shown_under_its_new_name() {
    for seed in 0..10 {
        let mut sim = Sim::new(100 + seed, default_config());
        let alice = sim.add_node("alice");
        let bob = sim.add_node("bob");
        sim.connect(bob, alice);
        settle(&mut sim, 2);
        // A second alice, later, chats alone and then joins, through the first
        // alice or through bob.
        let second = sim.add_node("alice");
        sim.type_line(second, "hello from the second alice");
        sim.type_line(second, "still me");
        settle(&mut sim, 1);
        sim.connect(second, if seed % 2 == 0 { alice } else { bob });
        settle(&mut sim, 5);
        assert_eq!(sim.node(second).name(), "alice-2", "seed {seed}");
        for at in [alice, bob] {
            let story = story_of(&sim, at, second);
            assert_eq!(
                story,
                [
                    "R alice alice-2 (newcomer)",
                    "M alice-2 hello from the second alice",
                    "M alice-2 still me",
                    "J alice-2"
                ],
                "seed {seed}, node {at}"
            );
        }
    }
}

#[test]
fn a_node_cut_off_from_all_its_neighbours_at_once_tells_one_netsplit_story() {
    // The middle of a line 0-1-2 goes silent on both links at once (as a node
    // stopped with SIGSTOP, then resumed, finds): it loses both neighbours in one
    // check, which is one netsplit, and their return is its end.
    for seed in 0..5 {
        let mut sim = build(3, &topology::line(3), 40 + seed);
        let from = sim.nodes[1].events.len();
        sim.partition(&[0, 1, 0]);
        settle(&mut sim, 4);
        sim.heal();
        settle(&mut sim, 20);
        assert_eq!(sim.member_ids(1), ids(&sim, &[0, 1, 2]), "seed {seed}");
        let shown = shown_since(&sim, 1, from);
        assert_eq!(shown.len(), 2, "seed {seed}: {shown:?}");
        assert_eq!(names_in(&shown[0], "netsplit: lost contact with ", ""), Some(vec!["n0".into(), "n2".into()]));
        assert_eq!(names_in(&shown[1], "netsplit over: ", " are back"), Some(vec!["n0".into(), "n2".into()]));
    }
}
