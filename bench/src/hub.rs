//! Fan-out of a hub: one hub and many leaves, every leaf sending.
//!
//! Hub and leaves are in-process [`Handle`]s on 127.0.0.1 (500 leaves are 500
//! network threads; that works, and is part of what is measured). The sending
//! thread goes in rounds: in each round every leaf sends one message, stamped with
//! the time it was handed to `send_line`; a round starts only once the round
//! [`WINDOW`] rounds before it has been delivered everywhere, so queues stay bounded
//! and the latencies are those of a loaded network, not of an unbounded backlog.
//!
//! Deliveries are counted at the leaves only (each message reaches the other n-1
//! leaves; a leaf's own echo is not counted). Deliveries per second = all of them /
//! (last delivery - first send). Latency = send to the receiving leaf's callback.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use p2pchat_core::{Event, Handle};

use crate::report::{Figure, Report, quantile};
use crate::util::{BenchResult, Opts, node_config, stop_all, wait_until};

/// Rounds allowed in flight beyond the one being sent.
const WINDOW: u64 = 1;

struct Shared {
    epoch: Instant,
    delivered: AtomicU64,
    last_ns: AtomicU64,
    joined: AtomicUsize,
}

fn one_run(n: usize, rounds: u64) -> BenchResult<(f64, Vec<f64>)> {
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        delivered: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
        joined: AtomicUsize::new(0),
    });
    let hub_joined = Arc::new(AtomicUsize::new(0));
    let mut hub_cfg = node_config("hub", &[]);
    hub_cfg.max_peers = n + 16;
    let hj = Arc::clone(&hub_joined);
    let hub = Handle::start(&hub_cfg, move |e| {
        if let Event::Joined { .. } = e {
            hj.fetch_add(1, Ordering::Relaxed);
        }
    })
    .map_err(|e| format!("starting the hub: {e}"))?;
    let mut leaves: Vec<Handle> = Vec::with_capacity(n);
    let mut lat_bufs: Vec<Arc<Mutex<Vec<u64>>>> = Vec::with_capacity(n);
    let result = (|| {
        for k in 0..n {
            let buf = Arc::new(Mutex::new(Vec::with_capacity((rounds as usize) * n)));
            lat_bufs.push(Arc::clone(&buf));
            let sh = Arc::clone(&shared);
            let me = k.to_string();
            let h = Handle::start(&node_config(&format!("leaf{k}"), &[hub.port()]), move |e| match e {
                Event::Message { text, .. } => {
                    let now = sh.epoch.elapsed().as_nanos() as u64;
                    let Some((from, stamp)) = text.split_once(' ') else { return };
                    if from == me {
                        return;
                    }
                    if let Ok(stamp) = stamp.parse::<u64>() {
                        buf.lock().unwrap_or_else(PoisonError::into_inner).push(now.saturating_sub(stamp));
                    }
                    sh.last_ns.fetch_max(now, Ordering::Relaxed);
                    sh.delivered.fetch_add(1, Ordering::Release);
                }
                Event::Joined { .. } => {
                    sh.joined.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            })
            .map_err(|e| format!("starting leaf {k}: {e}"))?;
            leaves.push(h);
        }
        let settle = Duration::from_secs(30 + n as u64 / 10);
        wait_until(settle, "the hub to see every leaf", || hub_joined.load(Ordering::Relaxed) >= n)?;
        // Every leaf knows the hub and every other leaf: membership has settled and
        // its floods no longer compete with the measurement.
        wait_until(settle, "membership to settle", || shared.joined.load(Ordering::Relaxed) >= n * n)?;
        let per_round = (n * (n - 1)) as u64;
        let t0 = shared.epoch.elapsed().as_nanos() as u64;
        for r in 0..rounds {
            let need = r.saturating_sub(WINDOW) * per_round;
            wait_until(Duration::from_secs(60), "a round to be delivered", || {
                shared.delivered.load(Ordering::Acquire) >= need
            })?;
            for (k, leaf) in leaves.iter().enumerate() {
                let stamp = shared.epoch.elapsed().as_nanos() as u64;
                leaf.send_line(&format!("{k} {stamp}")).map_err(|e| e.to_string())?;
            }
        }
        let total = rounds * per_round;
        wait_until(Duration::from_secs(120), "every delivery", || shared.delivered.load(Ordering::Acquire) >= total)?;
        let elapsed = (shared.last_ns.load(Ordering::Relaxed).saturating_sub(t0)) as f64 / 1e9;
        let mut lat: Vec<f64> = Vec::with_capacity(total as usize);
        for b in &lat_bufs {
            lat.extend(b.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|ns| *ns as f64 / 1e3));
        }
        lat.sort_by(f64::total_cmp);
        Ok((total as f64 / elapsed, lat))
    })();
    stop_all(&leaves);
    hub.stop();
    result
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report) -> BenchResult<()> {
    let sizes: &[(usize, u64)] =
        if opts.quick { &[(10, 300), (100, 6), (500, 1)] } else { &[(10, 3000), (100, 30), (500, 3)] };
    for &(n, rounds) in sizes {
        let (mut rate, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..opts.runs {
            let (r, lat) = one_run(n, rounds)?;
            rate.push(r);
            p50.push(quantile(&lat, 0.5) / 1e3);
            p99.push(quantile(&lat, 0.99) / 1e3);
        }
        report.add(Figure::new("hub", format!("{n} leaves: deliveries"), "msgs/s", rate, None));
        report.add(Figure::new("hub", format!("{n} leaves: latency p50"), "ms", p50, None));
        report.add(Figure::new("hub", format!("{n} leaves: latency p99"), "ms", p99, None));
    }
    let plan: Vec<String> = sizes.iter().map(|(n, r)| format!("{n} leaves x {r} rounds")).collect();
    report.note(format!(
        "hub: hub and leaves are in-process Handles (one network thread each, 500 leaves work); every leaf sends \
         one message per round, at most {} rounds in flight; {}; latency from send_line to the receiving leaf's \
         callback, under that load (a round of 500 leaves is 249,500 deliveries, so there latency is mostly the time to \
         drain the round before)",
        WINDOW + 1,
        plan.join(", ")
    ));
    Ok(())
}
