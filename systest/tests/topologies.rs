//! Every node of a network of real processes gets every message exactly once, in
//! per-sender order, whatever its shape: star, binary tree, line, ring, complete.
//!
//! Each test starts its nodes one after the other (each with `--connect` to nodes
//! already running), waits until every node has seen a `joined` event for every
//! other, has every node send [`MSGS`] messages, checks that every node displays
//! every message (its own echoes included) exactly once and in order, and nothing
//! else, and finally closes every stdin and expects every process to exit with 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{assert_no_errors, left_of, start_nodes, wait_all_joined_within};
use p2pchat_systest::{Value, kind};

/// Messages sent by each node.
const MSGS: usize = 5;
/// Bound on each phase (joining, delivery, exit) of a whole test.
const PHASE: Duration = Duration::from_secs(30);

fn check(prefix: &str, n: usize, links: impl Fn(usize) -> Vec<usize>) {
    let t0 = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut nodes = start_nodes(&names, &[], links);
    let ids: Vec<String> = nodes.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), n, "node ids are unique: {ids:?}");

    // Everyone knows everyone.
    wait_all_joined_within(&mut nodes, PHASE);
    let joined_after = t0.elapsed();

    // Everyone talks, interleaved.
    let text = |i: usize, k: usize| format!("{prefix}{i} says {k}");
    for k in 0..MSGS {
        for (i, node) in nodes.iter_mut().enumerate() {
            node.send(&text(i, k));
        }
    }
    let t = Instant::now();
    for node in &mut nodes {
        node.wait_until(|events| events.iter().filter(|e| kind(e) == "message").count() >= n * MSGS, left_of(PHASE, t));
    }
    let delivered_after = t0.elapsed();

    // Nothing went wrong before the shutdown.
    for node in &mut nodes {
        assert_no_errors(node);
    }

    // End of input everywhere: every node quits with status 0.
    for node in &mut nodes {
        node.close_stdin();
    }
    let t = Instant::now();
    for node in &mut nodes {
        let status = node.wait_exit(left_of(PHASE, t));
        if status.code() != Some(0) {
            node.fail(&format!("exited with {status}, expected 0"));
        }
    }
    let exited_after = t0.elapsed();

    // Every message exactly once, in order, nothing else: checked on the whole
    // output, so a late duplicate would be caught too. Sequence numbers are the
    // sender's own (as in its echo) on every node, and increase.
    let mut sent_seqs: Vec<Vec<u64>> = Vec::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        let own: Vec<u64> = node
            .messages()
            .iter()
            .filter(|m| m["origin"] == ids[i].as_str())
            .filter_map(|m| m["seq"].as_u64())
            .collect();
        sent_seqs.push(own);
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let messages = node.messages();
        let mut by_origin: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for m in &messages {
            let origin = m["origin"].as_str().unwrap_or_else(|| node.fail(&format!("message without origin: {m}")));
            by_origin.entry(origin).or_default().push(m);
        }
        for (j, id) in ids.iter().enumerate() {
            let got: Vec<(String, String, u64, bool)> = by_origin
                .remove(id.as_str())
                .unwrap_or_default()
                .iter()
                .map(|m| {
                    (
                        m["from"].as_str().unwrap_or("?").to_owned(),
                        m["text"].as_str().unwrap_or("?").to_owned(),
                        m["seq"].as_u64().unwrap_or(u64::MAX),
                        m["private"].as_bool().unwrap_or(true),
                    )
                })
                .collect();
            let want_texts: Vec<String> = (0..MSGS).map(|k| text(j, k)).collect();
            let got_texts: Vec<String> = got.iter().map(|g| g.1.clone()).collect();
            if got_texts != want_texts {
                node.fail(&format!(
                    "messages from {prefix}{j}: got {got_texts:?}, want {want_texts:?} (exactly once, in order)"
                ));
            }
            let seqs: Vec<u64> = got.iter().map(|g| g.2).collect();
            if seqs != sent_seqs[j] || !seqs.windows(2).all(|w| w[0] < w[1]) {
                node.fail(&format!("seqs from {prefix}{j}: got {seqs:?}, sender's own {:?}", sent_seqs[j]));
            }
            if got.iter().any(|g| g.0 != format!("{prefix}{j}") || g.3) {
                node.fail(&format!("messages from {prefix}{j} with a wrong sender name or marked private: {got:?}"));
            }
        }
        if !by_origin.is_empty() {
            node.fail(&format!("messages from unknown origins: {by_origin:?}"));
        }
        assert_eq!(messages.len(), n * MSGS, "node {i}");
    }
    eprintln!(
        "{prefix}: {n} nodes; all joined after {joined_after:?}, all messages delivered after {delivered_after:?}, \
         all exited after {exited_after:?}"
    );
}

#[test]
fn star_hub_and_seven() {
    check("star", 8, |i| if i == 0 { vec![] } else { vec![0] });
}

#[test]
fn binary_tree_of_fifteen() {
    check("tree", 15, |i| if i == 0 { vec![] } else { vec![(i - 1) / 2] });
}

#[test]
fn line_of_ten() {
    check("line", 10, |i| if i == 0 { vec![] } else { vec![i - 1] });
}

#[test]
fn ring_of_eight() {
    check("ring", 8, |i| match i {
        0 => vec![],
        7 => vec![6, 0],
        _ => vec![i - 1],
    });
}

#[test]
fn complete_graph_of_six() {
    check("complete", 6, |i| (0..i).collect());
}
