//! `star`: a star of real processes, one per node, against a naive star.
//!
//! Each run starts a hub and `n` leaves, every leaf a process of its own joined to
//! the hub, on 127.0.0.1. [`SENDERS`] leaves have lines typed into their stdin as
//! fast as a window of [`WINDOW`] messages in flight allows; every leaf's stdout
//! is read by a thread of this program, which counts the lines that carry a
//! payload (a leaf's echo of its own line is not counted). Deliveries per second
//! = messages × (n - 1) / (last delivery - first line typed).
//!
//! - **p2pchat**: the node binary, hub `--json` (its output discarded), leaves
//!   `--headless`, each `--ephemeral` or saving to a data directory of its own.
//! - **naive**: what a first lab solution looks like, built into this program
//!   (hidden subcommands `__naive-hub` and `__naive-leaf`): the hub runs one
//!   thread per connection and writes every line it reads to every other
//!   connection under one lock; a leaf prints every line it reads with one write
//!   and flush each. No ids, no signatures, no encryption, no store.
//!
//! Encryption and signatures cannot be switched off in p2pchat: its figures are
//! always with both.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::hubtext::{SENDERS, Shared, payload, receive, spawn_thread};
use crate::procs::Binary;
use crate::report::{Figure, Report};
use crate::util::{BenchResult, Opts, scratch_dir, wait_until};

/// Messages in flight: enough that a leaf gets its lines faster than one turn
/// of its loop handles them (so it signs them in batches, as it would a paste or
/// a pipe); the naive star is no faster with a smaller window (it is bound by
/// its writes: measured at 200 and 1000).
const WINDOW: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    P2p { ephemeral: bool },
    Naive,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::P2p { ephemeral } => crate::hubtext::p2p_label(ephemeral),
            Kind::Naive => "naive thread-per-peer star",
        }
    }
}

/// A process of the star, killed by its pid when dropped.
struct Member {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mut cmd: Command) -> BenchResult<Member> {
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut m = Member { child, stdin: None };
    m.stdin = m.child.stdin.take();
    Ok(m)
}

fn self_exe() -> BenchResult<std::path::PathBuf> {
    std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))
}

/// Starts the hub; returns it with its port (the first line it prints: a JSON
/// `listening` event, or the naive hub's bare port number).
fn start_hub(kind: Kind, bin: &Binary, n: usize, dir: &std::path::Path) -> BenchResult<(Member, u16)> {
    let cmd = match kind {
        Kind::P2p { ephemeral } => p2p_command(bin, "--json", ephemeral, dir, "hub", &n.to_string(), None),
        Kind::Naive => {
            let mut c = Command::new(self_exe()?);
            c.arg("__naive-hub");
            c
        }
    };
    let mut hub = spawn(cmd)?;
    let stdout = hub.child.stdout.take().ok_or("no stdout pipe")?;
    let (tx, rx) = std::sync::mpsc::channel();
    spawn_thread("star-hub-out", move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        if r.read_line(&mut line).is_ok() {
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let port = json["port"].as_u64().map(|p| p as u16).or_else(|| line.trim().parse().ok());
            let _ = tx.send(port.unwrap_or(0));
        }
        let mut sink = Vec::new();
        while matches!(r.read_until(b'\n', &mut sink), Ok(k) if k > 0) {
            sink.clear();
        }
    })?;
    let port = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "the hub did not report its port")?;
    if port == 0 {
        return Err("the hub's first line did not give its port".into());
    }
    Ok((hub, port))
}

fn p2p_command(
    bin: &Binary,
    mode: &str,
    ephemeral: bool,
    dir: &std::path::Path,
    name: &str,
    n: &str,
    hub: Option<u16>,
) -> Command {
    let mut c = Command::new(&bin.path);
    c.args([mode, "--bind", "127.0.0.1", "--peer-timeout", "30000"]);
    if hub.is_none() {
        c.args(["--max-peers", &(n.parse::<usize>().unwrap_or(100) + 16).to_string()]);
    }
    if ephemeral {
        c.arg("--ephemeral");
    } else {
        c.arg("--data-dir").arg(dir.join(name));
    }
    c.arg(name);
    if let Some(port) = hub {
        c.args(["127.0.0.1", &port.to_string()]);
    }
    c
}

fn one_run(kind: Kind, bin: &Binary, n: usize, messages: u64) -> BenchResult<f64> {
    let dir = scratch_dir("star");
    let _ = std::fs::remove_dir_all(&dir);
    let (_hub, port) = start_hub(kind, bin, n, &dir)?;
    let sh = Shared::new();
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut leaves = Vec::with_capacity(n);
    let mut threads = Vec::with_capacity(n);
    let result = (|| {
        for k in 0..n {
            let name = format!("l{k}");
            let cmd = match kind {
                Kind::P2p { ephemeral } => p2p_command(bin, "--headless", ephemeral, &dir, &name, "", Some(port)),
                Kind::Naive => {
                    let mut c = Command::new(self_exe()?);
                    c.args(["__naive-leaf", &port.to_string(), &name]);
                    c
                }
            };
            let mut leaf = spawn(cmd)?;
            let out = leaf.child.stdout.take().ok_or("no stdout pipe")?;
            let (sh, lat) = (Arc::clone(&sh), Arc::clone(&lat));
            let skip = format!("{name}: ").into_bytes();
            threads.push(spawn_thread("star-leaf-out", move || receive(out, Some(skip), sh, lat))?);
            leaves.push(leaf);
        }
        let others = (n - 1) as u64;
        // Warm-up: one line from each sender, once every leaf had a moment to
        // connect; a leaf that joins later gets them through catch-up (p2pchat)
        // or not at all (naive: then the run fails rather than measure a
        // smaller star).
        std::thread::sleep(Duration::from_secs(1));
        for leaf in leaves.iter_mut().take(SENDERS) {
            let stdin = leaf.stdin.as_mut().ok_or("stdin closed")?;
            stdin.write_all(&payload(0)).map_err(|e| e.to_string())?;
        }
        wait_until(Duration::from_secs(60), "the star to carry a first line everywhere", || {
            sh.delivered.load(Ordering::Acquire) >= SENDERS as u64 * others
        })?;
        // The warm-up lines still in flight land before the measurement starts.
        let mut last = u64::MAX;
        wait_until(Duration::from_secs(30), "the warm-up to drain", || {
            std::thread::sleep(Duration::from_millis(300));
            let now = sh.delivered.load(Ordering::Acquire);
            std::mem::replace(&mut last, now) == now
        })?;
        let base = sh.delivered.load(Ordering::Acquire);
        let sent = AtomicU64::new(0);
        let t0 = sh.now_ns();
        std::thread::scope(|s| -> BenchResult<()> {
            let handles: Vec<_> = leaves
                .iter_mut()
                .take(SENDERS)
                .map(|leaf| {
                    let (sh, sent) = (&sh, &sent);
                    s.spawn(move || -> BenchResult<()> {
                        let stdin = leaf.stdin.as_mut().ok_or("stdin closed")?;
                        let end = Instant::now() + Duration::from_secs(180);
                        loop {
                            let g = sent.fetch_add(1, Ordering::Relaxed);
                            if g >= messages {
                                return Ok(());
                            }
                            while sh.delivered.load(Ordering::Acquire) < base + g.saturating_sub(WINDOW) * others {
                                if Instant::now() > end {
                                    return Err("deliveries stalled".to_owned());
                                }
                                std::thread::sleep(Duration::from_micros(20));
                            }
                            stdin.write_all(&payload(sh.now_ns())).map_err(|e| e.to_string())?;
                        }
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| h.join().unwrap_or(Err("a sender panicked".into())))
        })?;
        let total = base + messages * others;
        wait_until(Duration::from_secs(180), "every delivery", || sh.delivered.load(Ordering::Acquire) >= total)?;
        let elapsed = (sh.last_ns.load(Ordering::Relaxed).saturating_sub(t0)) as f64 / 1e9;
        Ok((messages * others) as f64 / elapsed)
    })();
    sh.stop.store(true, Ordering::Relaxed);
    drop(leaves); // killed: their stdouts end, and so do the readers
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report, bin: &Binary) -> BenchResult<()> {
    let (n, messages) = if opts.quick { (20, 2_000) } else { (100, 10_000) };
    let mut medians = Vec::new();
    for kind in [Kind::P2p { ephemeral: true }, Kind::P2p { ephemeral: false }, Kind::Naive] {
        let mut rate = Vec::new();
        for _ in 0..opts.runs {
            rate.push(one_run(kind, bin, n, messages)?);
        }
        let f = Figure::new("star", format!("{}, {n} processes: deliveries", kind.label()), "msgs/s", rate, None);
        medians.push(f.median());
        report.add(f);
    }
    report.add(Figure::new(
        "star",
        format!("p2pchat --ephemeral / naive, {n} processes"),
        "x",
        vec![medians[0] / medians[2]],
        crate::report::Target::at_least(3.0),
    ));
    report.note(format!(
        "star: a hub and {n} leaf processes on 127.0.0.1, {SENDERS} leaves typed into as fast as {WINDOW} messages \
         in flight allow, {messages} messages of 64 bytes; deliveries counted on the leaves' stdout; the naive star \
         is one thread per peer in the hub and a write and flush per line in each leaf"
    ));
    Ok(())
}

/// `__naive-hub`: listens on 127.0.0.1, prints its port, and copies every line
/// it reads from a connection to every other connection, one thread each.
pub fn naive_hub() -> i32 {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("naive hub: {e}");
            return 1;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("{port}");
    let clients: Arc<Mutex<Vec<(usize, TcpStream)>>> = Arc::default();
    for (id, conn) in listener.incoming().enumerate() {
        let Ok(conn) = conn else { continue };
        let Ok(copy) = conn.try_clone() else { continue };
        clients.lock().unwrap_or_else(PoisonError::into_inner).push((id, copy));
        let clients = Arc::clone(&clients);
        let _ = std::thread::Builder::new().stack_size(128 * 1024).spawn(move || {
            let mut r = BufReader::new(conn);
            let mut line = Vec::new();
            while matches!(r.read_until(b'\n', &mut line), Ok(k) if k > 0) {
                for (other, c) in clients.lock().unwrap_or_else(PoisonError::into_inner).iter() {
                    if *other != id {
                        let _ = (&*c).write_all(&line);
                    }
                }
                line.clear();
            }
        });
    }
    0
}

/// `__naive-leaf PORT NAME`: connects to the naive hub; prints every line it
/// reads (one write and flush each); sends every stdin line as `NAME: LINE`,
/// echoing it.
pub fn naive_leaf(port: &str, name: &str) -> i32 {
    let conn = match TcpStream::connect(format!("127.0.0.1:{port}")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("naive leaf: {e}");
            return 1;
        }
    };
    let Ok(read_side) = conn.try_clone() else { return 1 };
    let _ = std::thread::Builder::new().spawn(move || {
        let mut r = BufReader::new(read_side);
        let mut line = Vec::new();
        while matches!(r.read_until(b'\n', &mut line), Ok(k) if k > 0) {
            let mut out = std::io::stdout().lock();
            if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                std::process::exit(0);
            }
            line.clear();
        }
        std::process::exit(0);
    });
    let mut conn = conn;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let text = format!("{name}: {line}\n");
        if conn.write_all(text.as_bytes()).is_err() {
            break;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    0
}
