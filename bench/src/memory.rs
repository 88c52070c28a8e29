//! Resident memory of a real node process: idle, and per idle connection.
//!
//! The node binary runs `--json --bind 127.0.0.1 --max-peers 2000` with its other
//! defaults. Its VmRSS (from `/proc/PID/status`) is read once it is idle, then after
//! raw protocol clients have opened 100 and then 1000 connections that completed
//! the handshake and stay idle: the clients read what the node sends (member
//! records, heartbeats) and send a heartbeat every 500 ms, like a real peer, so the
//! node's default failure detector keeps them. Each reading waits until the resident
//! size has settled. Growth per connection = (RSS with N - idle RSS) / N. The
//! first 100 connections are also timed, from the TCP connect to the node's
//! first sync summary: preambles, the Noise handshake and the node's records.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use p2pchat_core::crypto::Keys;
use p2pchat_core::id::Rng;
use p2pchat_core::wire::Frame;

use crate::procs::{Binary, NodeProc, events, quit_all, wait_listening};
use crate::raw::{self, RawPeer};
use crate::report::{Figure, Report, Target};
use crate::util::{BenchResult, Opts, local, open_files_limit, status_kib};

const HEARTBEAT: Duration = Duration::from_millis(500);

/// The idle connections, kept alive (each its own Noise session).
struct Clients {
    peers: Vec<RawPeer>,
    heartbeat: Vec<u8>,
    last_beat: Instant,
    buf: Vec<u8>,
    /// How long each of the first connections took, from the TCP connect to the
    /// node's first sync summary (preambles, the Noise handshake with its two
    /// identity checks, the node's records).
    handshakes: Vec<Duration>,
}

impl Clients {
    /// Reads whatever the node sent; sends heartbeats when due.
    fn service(&mut self) {
        let beat = self.last_beat.elapsed() >= HEARTBEAT;
        for p in &mut self.peers {
            loop {
                // Read and discarded, not decrypted: only what the clients send
                // must be in their sessions.
                match p.stream.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if beat && let Ok(sealed) = p.session.seal(&self.heartbeat) {
                // A tiny write to an idle socket: it goes whole (a part would
                // break the session, and the node would close the connection).
                let _ = p.stream.write(&sealed);
            }
        }
        if beat {
            self.last_beat = Instant::now();
        }
    }

    /// Opens connections (with handshakes) until there are `n`.
    fn grow(&mut self, port: u16, n: usize, rng: &mut Rng) -> BenchResult<()> {
        while self.peers.len() < n {
            let k = self.peers.len();
            let keys = Keys::from_u64(rng.next_u64());
            let started = Instant::now();
            let peer = RawPeer::connect(local(port), &keys, &format!("idle{k}"), Duration::from_secs(5))
                .map_err(|e| format!("idle connection {k}: {e}"))?;
            if k < 100 {
                self.handshakes.push(started.elapsed());
            }
            peer.stream.set_nonblocking(true).map_err(|e| e.to_string())?;
            self.peers.push(peer);
            if k % 100 == 99 {
                self.service();
            }
        }
        Ok(())
    }
}

/// Waits until the resident size stops moving (at least `min`, at most `max`), keeping
/// the clients serviced; returns it in KiB.
fn settled_rss(pid: &str, clients: &mut Clients, min: Duration, max: Duration) -> BenchResult<u64> {
    let start = Instant::now();
    let mut prev = 0u64;
    let mut steady = 0;
    loop {
        clients.service();
        std::thread::sleep(Duration::from_millis(100));
        let rss = status_kib(pid, "VmRSS").ok_or("cannot read the node's VmRSS")?;
        steady = if rss.abs_diff(prev) <= 16 { steady + 1 } else { 0 };
        prev = rss;
        let t = start.elapsed();
        if (t >= min && steady >= 3) || t >= max {
            return Ok(rss);
        }
    }
}

struct RunResult {
    idle_kib: u64,
    per_conn: Vec<(usize, f64)>,
    /// Median of the first 100 handshakes, in ms.
    handshake_ms: f64,
}

fn one_run(bin: &Binary, counts: &[usize], rng: &mut Rng) -> BenchResult<RunResult> {
    let (tx, rx) = events();
    let extra = vec!["--max-peers".to_owned(), "2000".to_owned()];
    let mut node = vec![NodeProc::spawn(&bin.path, 0, "mem", &extra, tx)?];
    let result = (|| {
        let (port, _) = wait_listening(&rx, 0, Duration::from_secs(10), &mut Vec::new())?;
        // The reader thread drains the node's stdout; nothing here needs it.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let pid = node[0].pid().to_string();
        let mut clients = Clients {
            peers: Vec::new(),
            heartbeat: raw::encode(&Frame::Heartbeat).map_err(|e| e.to_string())?,
            last_beat: Instant::now(),
            buf: vec![0u8; 64 * 1024],
            handshakes: Vec::new(),
        };
        let idle_kib = settled_rss(&pid, &mut clients, Duration::from_millis(1000), Duration::from_secs(3))?;
        let mut per_conn = Vec::new();
        for &n in counts {
            clients.grow(port, n, rng)?;
            let rss = settled_rss(&pid, &mut clients, Duration::from_millis(1500), Duration::from_secs(5))?;
            per_conn.push((n, (rss as f64 - idle_kib as f64) / n as f64));
        }
        let mut h = clients.handshakes.clone();
        h.sort();
        let handshake_ms = h.get(h.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        Ok(RunResult { idle_kib, per_conn, handshake_ms })
    })();
    quit_all(&mut node, Duration::from_secs(3));
    result
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report, bin: &Binary) -> BenchResult<()> {
    let counts = [100usize, 1000];
    let limit = open_files_limit();
    if let Some(l) = limit
        && l < 2200
    {
        report.note(format!(
            "memory: the open-file limit is {l}; 1000 connections need about 1000 descriptors on each side \
             (raise it with `ulimit -n 4096`)"
        ));
    }
    let mut rng = Rng::new(Rng::seed_from_env());
    let mut idle = Vec::new();
    let mut growth: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    let mut handshakes = Vec::new();
    for _ in 0..opts.runs {
        let r = one_run(bin, &counts, &mut rng)?;
        idle.push(r.idle_kib as f64 / 1024.0);
        handshakes.push(r.handshake_ms);
        for (i, (_, g)) in r.per_conn.iter().enumerate() {
            growth[i].push(*g);
        }
    }
    report.add(Figure::new("memory", "idle node resident (VmRSS)", "MiB", idle, Target::at_most(8.0)));
    report.add(Figure::new(
        "memory",
        "handshake: connect to the node's first records, p50",
        "ms",
        handshakes,
        Target::at_most(2.0),
    ));
    for (n, g) in counts.iter().zip(growth) {
        report.add(Figure::new(
            "memory",
            format!("growth per idle connection, {n} conns"),
            "KiB",
            g,
            Target::at_most(16.0),
        ));
    }
    report.note(format!(
        "memory: node process {}, --max-peers 2000, otherwise defaults; idle raw-protocol peers that send heartbeats; \
         open-file limit {}",
        bin.how,
        limit.map_or_else(|| "unknown".to_owned(), |l| l.to_string())
    ));
    Ok(())
}
