//! `hub-text`: one `p2pchat --headless` process as a chat server for plain-text
//! clients, side by side with Redis pub/sub, driven by one load generator.
//!
//! The workload is the same for every server: `n` receiving connections and
//! [`SENDERS`] sending connections on 127.0.0.1, 64-byte payloads, and every
//! receiver gets every message.
//!
//! - **p2pchat**: the node binary ([`crate::procs::find_binary`]) runs
//!   `--json --text-rate 0` (no line budget) and `--ephemeral`, or with a data
//!   directory (its store saves every line). Every connection is a text client
//!   (`nc`): it sends its name, then lines. The senders are text clients too, so
//!   the hub also writes every line to the 9 other senders (the load generator
//!   reads and discards that). Its own stdout (one JSON event per line) is read
//!   and discarded.
//! - **Redis** (when `redis-server` is installed; otherwise the figures are
//!   missing and a note says so): receivers `SUBSCRIBE room`, senders
//!   `PUBLISH room PAYLOAD` and read the replies. No persistence.
//!
//! Two phases per run:
//!
//! - **deliveries**: the senders send as fast as they can, with at most
//!   [`WINDOW`] messages in flight (a message counts as delivered once every
//!   receiver has read it); deliveries per second = messages × receivers / (last
//!   delivery - first send).
//! - **latency at a 100 msg/s room**: each sender sends 10 messages a second for
//!   [`ROOM_SECS`]; latency is from just before the write to the receiver's read
//!   of the line (the payload carries the send time); p50 and p99 over every
//!   delivery.
//!
//! Then the server's resident size with its `n + 10` idle clients (VmRSS).
//!
//! Encryption and signatures cannot be switched off in p2pchat (since the Trust
//! work every message is signed, and links between nodes are encrypted); a text
//! client's link is plain TCP by nature, and the hub signs each of its lines once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::procs::Binary;
use crate::report::{Figure, Report, Target, quantile};
use crate::util::{BenchResult, Opts, local, scratch_dir, status_kib, wait_until};

/// Sending connections.
pub const SENDERS: usize = 10;
/// Messages in flight during the deliveries phase.
const WINDOW: u64 = 200;
/// Length of the latency phase.
const ROOM_SECS: u64 = 3;
/// Payload length in bytes.
const PAYLOAD: usize = 64;
/// The marker before the send time in a payload.
const MARK: &[u8] = b"#P";

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// p2pchat, `--ephemeral` (true) or saving to a store.
    P2p {
        ephemeral: bool,
    },
    Redis,
}

/// How a p2pchat process of a run is named in the table.
pub fn p2p_label(ephemeral: bool) -> &'static str {
    if ephemeral { "p2pchat --ephemeral" } else { "p2pchat persisting" }
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::P2p { ephemeral } => p2p_label(ephemeral),
            Server::Redis => "redis pub/sub",
        }
    }
}

/// A running server process, killed (by its pid) when dropped.
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_p2p(bin: &Binary, n: usize, ephemeral: bool) -> BenchResult<Proc> {
    let cap = (n + SENDERS + 16).to_string();
    let mut cmd = Command::new(&bin.path);
    cmd.args(["--json", "--bind", "127.0.0.1", "--text-rate", "0", "--max-text-clients", &cap]);
    cmd.args(["--max-peers", &cap, "--peer-timeout", "30000"]);
    if ephemeral {
        cmd.arg("--ephemeral");
    } else {
        let dir = scratch_dir("hubtext").join(format!("hub{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        cmd.arg("--data-dir").arg(dir);
    }
    let mut child = cmd
        .arg("hub")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.path.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut proc = Proc { child, port: 0 };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hub-out".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            // The first line is `listening`; the rest is read and dropped.
            if reader.read_line(&mut line).is_ok() {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let _ = tx.send(v["port"].as_u64().unwrap_or(0) as u16);
            }
            let mut sink = [0u8; 64 * 1024];
            while matches!(reader.read(&mut sink), Ok(k) if k > 0) {}
        })
        .map_err(|e| format!("cannot start a reader thread: {e}"))?;
    proc.port = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "the hub did not report its port")?;
    if proc.port == 0 {
        return Err("the hub's first line did not give its port".into());
    }
    Ok(proc)
}

fn start_redis(n: usize) -> BenchResult<Option<Proc>> {
    let port = TcpListener::bind(local(0)).and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let spawned = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .args(["--protected-mode", "no", "--maxclients", &(n + SENDERS + 64).to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot start redis-server: {e}")),
    };
    let proc = Proc { child, port };
    wait_until(Duration::from_secs(10), "redis-server to answer PING", || {
        let Ok(mut s) = TcpStream::connect(local(port)) else { return false };
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    })?;
    Ok(Some(proc))
}

/// Connects one client and waits until it is in the room.
fn join(server: Server, port: u16, name: &str, receiver: bool) -> BenchResult<TcpStream> {
    let stream = TcpStream::connect(local(port)).map_err(|e| format!("connecting {name}: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    // What to send, and the start of the line that says the client is in.
    let (hello, ready) = match server {
        Server::P2p { .. } => (format!("{name}\r\n"), format!("Welcome, {name}!")),
        // A publisher needs no set-up; a subscriber waits for its confirmation.
        Server::Redis if !receiver => return Ok(stream),
        Server::Redis => ("SUBSCRIBE room\r\n".to_owned(), ":1".to_owned()),
    };
    w.write_all(hello.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return Err(format!("{name}: the server closed the connection while joining")),
            Ok(_) if line.starts_with(&ready) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("{name}: {e} while joining")),
        }
    }
    // Whatever else the reader buffered is of no interest (notices).
    Ok(stream)
}

/// The counters every receiver of a run adds to.
pub struct Shared {
    epoch: Instant,
    /// Payload lines read by counted receivers.
    pub delivered: AtomicU64,
    /// When the last of them was read (ns since `epoch`).
    pub last_ns: AtomicU64,
    /// Receivers stop at their next line or read timeout.
    pub stop: AtomicBool,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            epoch: Instant::now(),
            delivered: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Now, as a payload's send time.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// A payload sent at `stamp` was read at `now`: counted, and its latency (µs)
    /// kept in `mine`, which [`Shared::hand_over`] moves to the run's list.
    fn count(&self, stamp: u64, now: u64, mine: &mut Vec<u32>) {
        mine.push((now.saturating_sub(stamp) / 1000).min(u64::from(u32::MAX)) as u32);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        self.delivered.fetch_add(1, Ordering::Release);
    }

    /// Moves a receiver's latencies to the run's list, once there are many, or
    /// always (`all`: the receiver ends).
    fn hand_over(lat: &Mutex<Vec<u32>>, mine: &mut Vec<u32>, all: bool) {
        if all || mine.len() >= 4096 {
            lat.lock().unwrap_or_else(PoisonError::into_inner).append(mine);
        }
    }
}

/// A receiver: reads lines (from a socket with a read timeout, or a child's
/// stdout until it ends), counts the payloads (not those of lines starting with
/// `skip`, a node's echo of its own) and keeps their latencies (µs) in `lat`.
pub fn receive(input: impl Read, skip: Option<Vec<u8>>, sh: Arc<Shared>, lat: Arc<Mutex<Vec<u32>>>) {
    let mut r = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::with_capacity(256);
    let mut mine = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        match r.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) if line.last() == Some(&b'\n') => {
                let own = skip.as_ref().is_some_and(|p| line.starts_with(p));
                if !own && let Some(stamp) = stamp_of(&line) {
                    sh.count(stamp, sh.now_ns(), &mut mine);
                }
                line.clear();
            }
            // A partial line (timeout): keep it and read on.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        Shared::hand_over(&lat, &mut mine, false);
    }
    Shared::hand_over(&lat, &mut mine, true);
}

/// Threads that read every client socket of a run (a few threads with a poll
/// each, not a thread per socket: with hundreds of sockets, a thread each would
/// make the load generator's scheduling the biggest part of the latency).
const READ_THREADS: usize = 2;

/// Reads `streams` on [`READ_THREADS`] threads until `sh.stop`; the `counted`
/// ones count their payloads like [`receive`].
fn receive_all(
    streams: Vec<(TcpStream, bool)>,
    sh: &Arc<Shared>,
    lat: &Arc<Mutex<Vec<u32>>>,
) -> BenchResult<Vec<std::thread::JoinHandle<()>>> {
    let mut groups: Vec<Vec<(TcpStream, bool)>> = (0..READ_THREADS).map(|_| Vec::new()).collect();
    for (k, s) in streams.into_iter().enumerate() {
        groups[k % READ_THREADS].push(s);
    }
    let mut threads = Vec::new();
    for group in groups {
        let (sh, lat) = (Arc::clone(sh), Arc::clone(lat));
        let mut poll = mio::Poll::new().map_err(|e| e.to_string())?;
        let mut socks = Vec::with_capacity(group.len());
        for (k, (s, counted)) in group.into_iter().enumerate() {
            s.set_nonblocking(true).map_err(|e| e.to_string())?;
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry().register(&mut s, mio::Token(k), mio::Interest::READABLE).map_err(|e| e.to_string())?;
            socks.push((s, counted, Vec::<u8>::new()));
        }
        threads.push(spawn_thread("bench-recv", move || {
            let mut events = mio::Events::with_capacity(1024);
            let mut buf = vec![0u8; 64 * 1024];
            let mut mine = Vec::new();
            while !sh.stop.load(Ordering::Relaxed) {
                if poll.poll(&mut events, Some(Duration::from_millis(100))).is_err() {
                    break;
                }
                for ev in events.iter() {
                    let Some((s, counted, carry)) = socks.get_mut(ev.token().0) else { continue };
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                let now = sh.now_ns();
                                let mut data = &buf[..n];
                                while let Some(end) = data.iter().position(|b| *b == b'\n') {
                                    let stamp = if carry.is_empty() {
                                        stamp_of(&data[..end])
                                    } else {
                                        carry.extend_from_slice(&data[..end]);
                                        let st = stamp_of(carry);
                                        carry.clear();
                                        st
                                    };
                                    if *counted && let Some(stamp) = stamp {
                                        sh.count(stamp, now, &mut mine);
                                    }
                                    data = &data[end + 1..];
                                }
                                carry.extend_from_slice(data);
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                }
                Shared::hand_over(&lat, &mut mine, false);
            }
            Shared::hand_over(&lat, &mut mine, true);
        })?);
    }
    Ok(threads)
}

fn stamp_of(line: &[u8]) -> Option<u64> {
    let at = line.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits]).ok()?.parse().ok()
}

/// One message as the sender writes it.
/// Writes all of `bytes` to a socket the receiving threads made non-blocking
/// (the reading and the writing handle share one file description), waiting out
/// a full send buffer.
fn write_fully(mut stream: &TcpStream, mut bytes: &[u8]) -> BenchResult<()> {
    let end = Instant::now() + Duration::from_secs(60);
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err("the server stopped reading".into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => std::thread::yield_now(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("writing to the server: {e}")),
        }
    }
    Ok(())
}

/// A payload line (64 bytes and a newline) with its send time.
pub fn payload(stamp: u64) -> Vec<u8> {
    let mut payload = format!("#P{stamp:020}#").into_bytes();
    payload.resize(PAYLOAD, b'x');
    payload.push(b'\n');
    payload
}

fn message(server: Server, stamp: u64) -> Vec<u8> {
    let mut payload = payload(stamp);
    payload.pop();
    let mut out = match server {
        Server::P2p { .. } => Vec::new(),
        Server::Redis => b"PUBLISH room ".to_vec(),
    };
    out.extend_from_slice(&payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// What one run measured.
struct RunResult {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    resident_kib: Option<u64>,
    anon_kib: Option<u64>,
}

fn one_run(server: Server, proc: &Proc, n: usize, messages: u64) -> BenchResult<RunResult> {
    let sh = Shared::new();
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    let result = (|| {
        // Receivers first (in parallel: each join waits for the server's answer).
        let streams: Vec<BenchResult<TcpStream>> = std::thread::scope(|s| {
            let chunks: Vec<_> = (0..n)
                .collect::<Vec<_>>()
                .chunks(n.div_ceil(8))
                .map(|c| {
                    let c = c.to_vec();
                    s.spawn(move || {
                        c.iter().map(|k| join(server, proc.port, &format!("r{k}"), true)).collect::<Vec<_>>()
                    })
                })
                .collect();
            chunks.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        if streams.len() != n {
            return Err("a joining thread failed".to_owned());
        }
        let mut all = Vec::with_capacity(n + SENDERS);
        for s in streams {
            all.push((s?, true));
        }
        let mut senders = Vec::new();
        for k in 0..SENDERS {
            let s = join(server, proc.port, &format!("s{k}"), false)?;
            // What comes back to a sender (the other senders' lines, Redis's
            // replies) is read and not counted.
            all.push((s.try_clone().map_err(|e| e.to_string())?, false));
            senders.push(s);
        }
        threads = receive_all(all, &sh, &lat)?;
        // Let the joins' notices drain before measuring.
        std::thread::sleep(Duration::from_millis(500));
        let pid = proc.child.id().to_string();
        let (resident_kib, anon_kib) = (status_kib(&pid, "VmRSS"), status_kib(&pid, "RssAnon"));

        // Deliveries: as fast as the window allows.
        let sent = AtomicU64::new(0);
        let t0 = sh.now_ns();
        let n64 = n as u64;
        std::thread::scope(|s| -> BenchResult<()> {
            let handles: Vec<_> = senders
                .iter()
                .map(|stream| {
                    let (sh, sent) = (&sh, &sent);
                    s.spawn(move || -> BenchResult<()> {
                        let end = Instant::now() + Duration::from_secs(120);
                        loop {
                            let g = sent.fetch_add(1, Ordering::Relaxed);
                            if g >= messages {
                                return Ok(());
                            }
                            while sh.delivered.load(Ordering::Acquire) < g.saturating_sub(WINDOW) * n64 {
                                if Instant::now() > end {
                                    return Err("deliveries stalled".to_owned());
                                }
                                std::thread::yield_now();
                            }
                            write_fully(stream, &message(server, sh.now_ns()))?;
                        }
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| h.join().unwrap_or(Err("a sender panicked".into())))
        })?;
        let total = messages * n64;
        wait_until(Duration::from_secs(120), "every delivery", || sh.delivered.load(Ordering::Acquire) >= total)?;
        let elapsed = (sh.last_ns.load(Ordering::Relaxed).saturating_sub(t0)) as f64 / 1e9;
        let rate = total as f64 / elapsed;

        // Latency in a room of 100 messages a second.
        lat.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let before = sh.delivered.load(Ordering::Acquire);
        let per_sender = 10 * ROOM_SECS;
        let start = Instant::now();
        for i in 0..per_sender {
            for (k, w) in senders.iter().enumerate() {
                // Spread the 10 senders over each 100 ms.
                let due = start + Duration::from_millis(i * 100 + k as u64 * 10);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                write_fully(w, &message(server, sh.now_ns()))?;
            }
        }
        let room_total = before + per_sender * SENDERS as u64 * n64;
        wait_until(Duration::from_secs(60), "the room's deliveries", || {
            sh.delivered.load(Ordering::Acquire) >= room_total
        })?;
        // Receivers hand over what they kept in chunks: stop them to collect all.
        sh.stop.store(true, Ordering::Relaxed);
        for t in threads.drain(..) {
            let _ = t.join();
        }
        let mut v: Vec<f64> =
            lat.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|us| f64::from(*us) / 1e3).collect();
        v.sort_by(f64::total_cmp);
        Ok(RunResult { rate, p50_ms: quantile(&v, 0.5), p99_ms: quantile(&v, 0.99), resident_kib, anon_kib })
    })();
    sh.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    result
}

pub fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> BenchResult<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(128 * 1024)
        .spawn(f)
        .map_err(|e| format!("cannot start a thread: {e}"))
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report, bin: &Binary) -> BenchResult<()> {
    let sizes: &[(usize, u64)] = if opts.quick { &[(100, 2_000), (500, 400)] } else { &[(100, 20_000), (500, 4_000)] };
    let servers = [Server::P2p { ephemeral: true }, Server::P2p { ephemeral: false }, Server::Redis];
    let mut missing_redis = false;
    for &(n, messages) in sizes {
        // Medians of (deliveries, p99) per server, for the comparison.
        let mut medians: Vec<(Server, f64, f64)> = Vec::new();
        for server in servers {
            let (mut rate, mut p50, mut p99, mut rss, mut anon) = (vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..opts.runs {
                let proc = match server {
                    Server::P2p { ephemeral } => start_p2p(bin, n, ephemeral)?,
                    Server::Redis => match start_redis(n)? {
                        Some(p) => p,
                        None => {
                            missing_redis = true;
                            break;
                        }
                    },
                };
                let r = one_run(server, &proc, n, messages)?;
                rate.push(r.rate);
                p50.push(r.p50_ms);
                p99.push(r.p99_ms);
                rss.extend(r.resident_kib.map(|k| k as f64 / 1024.0));
                anon.extend(r.anon_kib.map(|k| k as f64 / 1024.0));
            }
            if rate.is_empty() {
                continue;
            }
            let label = server.label();
            let rate = Figure::new("hub-text", format!("{label}, {n} clients: deliveries"), "msgs/s", rate, None);
            let p99 = Figure::new("hub-text", format!("{label}, {n} clients: p99 at 100 msg/s"), "ms", p99, None);
            medians.push((server, rate.median(), p99.median()));
            report.add(rate);
            report.add(Figure::new("hub-text", format!("{label}, {n} clients: p50 at 100 msg/s"), "ms", p50, None));
            report.add(p99);
            let idle_target = if server != Server::Redis && n == 500 { Target::at_most(8.0) } else { None };
            if !rss.is_empty() {
                report.add(Figure::new("hub-text", format!("{label}, {n} clients: resident"), "MiB", rss, idle_target));
            }
            if !anon.is_empty() {
                let name = format!("{label}, {n} clients: resident, heap and stacks only");
                report.add(Figure::new("hub-text", name, "MiB", anon, None));
            }
        }
        // p2pchat against Redis: deliveries at least Redis's, p99 at most.
        if let Some(&(_, redis_rate, redis_p99)) = medians.iter().find(|m| m.0 == Server::Redis) {
            for &(server, rate, p99) in medians.iter().filter(|m| m.0 != Server::Redis) {
                let label = server.label();
                let name = format!("{label} / redis, {n} clients: deliveries");
                report.add(Figure::new("hub-text", name, "x", vec![rate / redis_rate], Target::at_least(1.0)));
                let name = format!("{label} / redis, {n} clients: p99");
                report.add(Figure::new("hub-text", name, "x", vec![p99 / redis_p99], Target::at_most(1.0)));
            }
        }
    }
    let _ = std::fs::remove_dir_all(scratch_dir("hubtext"));
    let plan: Vec<String> = sizes.iter().map(|(n, m)| format!("{n} clients x {m} messages")).collect();
    report.note(format!(
        "hub-text: one server process, {SENDERS} sending and N receiving connections on 127.0.0.1, {PAYLOAD}-byte \
         payloads, every receiver gets every message; {}; deliveries with at most {WINDOW} messages in flight; \
         latency in a room of 100 msg/s for {ROOM_SECS} s; resident = VmRSS with every client connected and idle \
         (heap and stacks only: RssAnon, without the program's mapped code); \
         p2pchat runs --text-rate 0 (its senders also receive each other's lines){}",
        plan.join(", "),
        if missing_redis { "; REDIS MISSING: redis-server is not installed, no Redis figures" } else { "" }
    ));
    Ok(())
}
