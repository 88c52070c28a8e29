//! Scale in the simulator: a 1000-node network where every node sends one message,
//! after one run each of 250 and 500 nodes to show how the cost grows (and what
//! 10,000 nodes would take: the note says).
//!
//! Each run is a child process (this program, with the hidden `__sim-child`
//! argument), so that its peak resident size (VmHWM) belongs to that run alone.
//! The child builds a random connected graph (a random spanning tree plus n/2 extra
//! edges, so with cycles) with [`Sim`], lets handshakes and membership settle (2 s
//! of virtual time), then has every node type one line and delivers everything in
//! flight. The timed part is from the first line typed to the last delivery; the
//! child checks that every node displayed every message. It prints one JSON line.

use std::process::Command;
use std::time::{Duration, Instant};

use p2pchat_core::id::Rng;
use p2pchat_core::sim::{Sim, topology};
use serde_json::{Value, json};

use crate::report::{Figure, Report, Target};
use crate::util::{BenchResult, Opts, status_kib};

/// Bound on deliveries in one simulated run (a forwarding loop fails fast).
const MAX_STEPS: u64 = 200_000_000;

/// The child's work: returns its JSON line.
pub fn child(n: usize, seed: u64) -> BenchResult<Value> {
    let t_setup = Instant::now();
    let mut rng = Rng::new(seed);
    let edges = topology::random_connected(n, n / 2, &mut rng);
    let mut sim = Sim::with_nodes(n, seed);
    for &(a, b) in &edges {
        sim.connect(a, b);
    }
    sim.run_for(Duration::from_secs(2), MAX_STEPS);
    let setup_s = t_setup.elapsed().as_secs_f64();
    let rss_before = status_kib("self", "VmRSS").unwrap_or(0);
    let steps_before = sim.steps;
    let t0 = Instant::now();
    for i in sim.live() {
        sim.type_line(i, &format!("hello from n{i}"));
    }
    sim.deliver_all(MAX_STEPS);
    let deliver_s = t0.elapsed().as_secs_f64();
    let hwm = status_kib("self", "VmHWM").unwrap_or(0);
    let short = sim.live().into_iter().filter(|&i| sim.nodes[i].seen.len() != n).count();
    if short > 0 {
        return Err(format!("{short} of {n} simulated nodes did not display all {n} messages"));
    }
    Ok(json!({
        "nodes": n,
        "edges": edges.len(),
        "setup_s": setup_s,
        "deliver_s": deliver_s,
        "chunks": sim.steps - steps_before,
        "rss_before_kib": rss_before,
        "hwm_kib": hwm,
    }))
}

/// One child run: its JSON line.
fn child_run(exe: &std::path::Path, n: usize, seed: u64) -> BenchResult<Value> {
    let out = Command::new(exe)
        .args(["__sim-child", &n.to_string(), &seed.to_string()])
        .output()
        .map_err(|e| format!("cannot run the simulator child: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|_| {
        format!("simulator child failed (seed {seed}): {}{}", text.trim(), String::from_utf8_lossy(&out.stderr))
    })
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report) -> BenchResult<()> {
    let n = 1000;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng::new(Rng::seed_from_env());
    // How the cost grows: one run each of smaller networks.
    let mut scale = Vec::new();
    for small in [250, 500] {
        let v = child_run(&exe, small, rng.next_u64())?;
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let per_node = f("rss_before_kib") / small as f64;
        report.add(Figure::new("sim", format!("{small} nodes: build and settle"), "s", vec![f("setup_s")], None));
        report.add(Figure::new(
            "sim",
            format!("{small} nodes: resident per node, settled"),
            "KiB",
            vec![per_node],
            None,
        ));
        scale.push((small, f("setup_s"), per_node));
    }
    let (mut deliver, mut setup, mut hwm, mut growth, mut chunks) = (vec![], vec![], vec![], vec![], vec![]);
    let mut per_node = Vec::new();
    for _ in 0..opts.runs {
        let v = child_run(&exe, n, rng.next_u64())?;
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        per_node.push(f("rss_before_kib") / n as f64);
        deliver.push(f("deliver_s"));
        setup.push(f("setup_s"));
        hwm.push(f("hwm_kib") / 1024.0);
        growth.push((f("hwm_kib") - f("rss_before_kib")) / 1024.0);
        chunks.push(f("chunks"));
    }
    report.add(Figure::new(
        "sim",
        format!("{n} nodes: every node's message everywhere"),
        "s",
        deliver,
        Target::below(10.0),
    ));
    let setup_n = crate::report::median(&setup);
    report.add(Figure::new("sim", format!("{n} nodes: build and settle first"), "s", setup, None));
    report.add(Figure::new("sim", format!("{n} nodes: peak resident (VmHWM)"), "MiB", hwm, None));
    report.add(Figure::new("sim", format!("{n} nodes: peak growth while delivering"), "MiB", growth, None));
    report.add(Figure::new("sim", format!("{n} nodes: chunks delivered"), "chunks", chunks, None));
    let per_node_n = crate::report::median(&per_node);
    report.add(Figure::new("sim", format!("{n} nodes: resident per node, settled"), "KiB", per_node, None));
    // Every node holds every member's record and checks every record once: the
    // settling work grows with n * n, and so does the memory of the whole run.
    let growth: Vec<String> =
        scale.iter().map(|(k, s, m)| format!("{k} nodes {s:.1} s and {m:.0} KiB a node")).collect();
    let (big, factor) = (10_000.0_f64, (10_000.0 / n as f64).powi(2));
    report.note(format!(
        "sim scaling: {}, {n} nodes {setup_n:.1} s and {per_node_n:.0} KiB a node: settling grows with n^2 (every \
         member record reaches every node) and so does memory (each node keeps every member); 10,000 nodes would \
         take about {:.0} s to settle and {:.0} GiB in one process: the wall is full membership on every node, not \
         chat delivery (partial views would be the design change)",
        growth.join(", "),
        setup_n * factor,
        per_node_n * big * (big / n as f64) / 1024.0 / 1024.0,
    ));
    report.note(format!(
        "sim: {n} simulated nodes, random spanning tree + {} extra edges, one child process per run; the timed part \
         is typing one line on every node and delivering everything; peak resident is the whole child process \
         (network, {n} nodes, and the simulator's record of every displayed message)",
        n / 2
    ));
    Ok(())
}
