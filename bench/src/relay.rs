//! Forwarding throughput of one relay node.
//!
//! The relay is a real node (a [`Handle`] on 127.0.0.1). Its peers are raw protocol
//! clients ([`crate::raw`], each with its own Noise session): one sender that
//! writes chat messages signed and encrypted before the clock starts (one origin,
//! N sequence numbers from the first of an incarnation, 64-byte texts, in batch
//! frames of `MAX_BATCH` with one signature each, as a node sends a burst), [`BATCH`]
//! messages per `write`, and `fanout` receivers that decrypt what the relay
//! forwards to them and count the chat messages in it. The relay also delivers every message to its own
//! user: its callback only counts.
//!
//! The sender keeps at most [`WINDOW_BYTES`] of messages between itself and the
//! slowest receiver, so the relay's per-peer output queues stay well under their
//! cap (a peer whose queue passes the cap is cut off) and the figure is a sustained
//! rate, not the speed of filling buffers. Messages in per second = N / (time from the first
//! write until the last receiver has them all); deliveries out per second = that
//! times the fan-out (the relay's own user is not counted in it).

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use p2pchat_core::crypto::{Keys, MAX_BATCH};
use p2pchat_core::id::Rng;
use p2pchat_core::{Event, Handle, wire};

use crate::raw::{self, ChatCounter, RawPeer};
use crate::report::{Figure, Report, Target};
use crate::util::{BenchResult, Opts, local, node_config, persisting_config, secs, wait_until};

/// Messages per `write` of the sender (a multiple of `MAX_BATCH`).
const BATCH: usize = 2048;
/// Most bytes of messages in flight between the sender and the slowest receiver
/// (well below the relay's 8 MiB per-peer queue cap).
const WINDOW_BYTES: usize = 3 << 20;
/// Length of every chat text, in bytes.
pub const TEXT_LEN: usize = 64;
/// Bound on a single run.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The sender's whole stream, signed and encoded once (encrypted per run, for
/// that run's session).
struct Stream {
    origin: Keys,
    bytes: Vec<u8>,
    /// Byte offset of the start of every batch, and the end.
    cuts: Vec<usize>,
    msgs: u64,
    /// Messages in flight at most ([`WINDOW_BYTES`] of them).
    window: u64,
}

fn encode_stream(msgs: u64, origin: Keys) -> BenchResult<Stream> {
    // Any incarnation above 0: the relay has never heard of this origin.
    let first = wire::seq_start(1);
    let texts: Vec<String> = (1..=msgs).map(|k| format!("{k:0width$}", width = TEXT_LEN)).collect();
    let frames = raw::signed_stream(&origin, first, "src", &texts);
    let per_write = BATCH / MAX_BATCH;
    let mut bytes = Vec::new();
    let mut cuts = vec![0];
    for (k, f) in frames.iter().enumerate() {
        bytes.extend_from_slice(f);
        if (k + 1) % per_write == 0 || k + 1 == frames.len() {
            cuts.push(bytes.len());
        }
    }
    if frames.len() != texts.len().div_ceil(MAX_BATCH) || frames.iter().any(Vec::is_empty) {
        return Err(format!("encoded {} batches for {msgs} messages", frames.len()));
    }
    let window = (WINDOW_BYTES / (bytes.len() / texts.len().max(1)).max(1)) as u64;
    Ok(Stream { origin, bytes, cuts, msgs, window })
}

struct Receiver {
    count: Arc<AtomicU64>,
    thread: JoinHandle<Option<Instant>>,
}

/// Counts chat frames until `target`, then returns when it got there.
fn spawn_receiver(peer: RawPeer, target: u64, stop: Arc<AtomicBool>) -> BenchResult<Receiver> {
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    let mut counter = ChatCounter::new(peer.session, &peer.leftover);
    let mut stream = peer.stream;
    stream.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    let thread = std::thread::Builder::new()
        .name("bench-rx".into())
        .spawn(move || {
            let mut total = 0;
            while !stop.load(Ordering::Relaxed) {
                match counter.read_from(&mut stream) {
                    Ok(Some(n)) => {
                        total += n;
                        seen.store(total, Ordering::Release);
                        if total >= target {
                            return Some(Instant::now());
                        }
                    }
                    Ok(None) => return None,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return None,
                }
            }
            None
        })
        .map_err(|e| e.to_string())?;
    Ok(Receiver { count, thread })
}

/// Reads and discards what the relay sends the sender (member records, heartbeats).
fn spawn_drain(peer: &RawPeer, stop: Arc<AtomicBool>) -> BenchResult<JoinHandle<()>> {
    let mut s = peer.stream.try_clone().map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("bench-drain".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    }
                    Err(_) => return,
                }
            }
        })
        .map_err(|e| e.to_string())
}

/// Result of one run.
struct RunResult {
    in_rate: f64,
    out_rate: f64,
    /// CPU time of the relay's network thread per message in, nanoseconds.
    cpu_ns: Option<f64>,
    local_ok: bool,
    /// For a persisting relay: what its store did.
    store: Option<StoreResult>,
}

/// A persisting relay's store after a run.
struct StoreResult {
    /// Messages saved per second: every message of the run, from the first
    /// write until the store had flushed them all (the relay stopped).
    write_rate: f64,
    /// Messages the store holds at the end (at most `--keep`, plus the 10% it
    /// compacts beyond).
    rows: u64,
    /// Bytes of the database file and its write-ahead log.
    bytes: u64,
    /// The relay told its user that some messages were not saved.
    dropped: bool,
}

/// Reads a persisting relay's store: rows and bytes on disk.
fn read_store(dir: &std::path::Path) -> BenchResult<(u64, u64)> {
    let path = dir.join("history.db");
    let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let rows: i64 =
        db.query_row("select count(*) from lines", [], |r| r.get(0)).map_err(|e| format!("counting lines: {e}"))?;
    let size = |f: &str| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len());
    Ok((u64::try_from(rows).unwrap_or(0), size("history.db") + size("history.db-wal")))
}

/// The thread ids of this process's threads called `name`.
fn threads_named(name: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Nanoseconds a thread of this process has spent on a CPU (`/proc/self/task/TID/schedstat`).
fn thread_cpu_ns(tid: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?.split_whitespace().next()?.parse().ok()
}

fn one_run(stream: &Stream, fanout: usize, persist: bool, rng: &mut Rng) -> BenchResult<RunResult> {
    let local_count = Arc::new(AtomicU64::new(0));
    let lc = Arc::clone(&local_count);
    let dropped = Arc::new(AtomicBool::new(false));
    let dr = Arc::clone(&dropped);
    let cfg = if persist { persisting_config("relay", &[], "relay") } else { node_config("relay", &[]) };
    let relay = Handle::start(&cfg, move |e| match e {
        Event::Message { .. } => {
            lc.fetch_add(1, Ordering::Relaxed);
        }
        Event::Notice(t) if t.contains("not saved") || t.contains("no longer saved") => {
            dr.store(true, Ordering::Relaxed)
        }
        _ => {}
    })
    .map_err(|e| format!("starting the relay: {e}"))?;
    let addr = local(relay.port());
    // The relay is the only node in the process: its network thread is the only one
    // with that name (which the thread gives itself once it runs).
    let mut relay_tid = None;
    let _ = wait_until(Duration::from_millis(500), "the relay thread", || {
        relay_tid = match threads_named("p2pchat-net").as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        relay_tid.is_some()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let result = (|| {
        let timeout = Duration::from_secs(5);
        let mut receivers = Vec::new();
        for k in 0..fanout {
            let keys = Keys::from_u64(rng.next_u64());
            let peer =
                RawPeer::connect(addr, &keys, &format!("rx{k}"), timeout).map_err(|e| format!("receiver {k}: {e}"))?;
            receivers.push(spawn_receiver(peer, stream.msgs, Arc::clone(&stop))?);
        }
        let mut sender = RawPeer::connect(addr, &stream.origin, "src", timeout).map_err(|e| format!("sender: {e}"))?;
        let drain = spawn_drain(&sender, Arc::clone(&stop))?;
        // Encrypted for this session before the clock starts, like the signing:
        // the run measures the relay.
        let mut sealed = Vec::with_capacity(stream.cuts.len());
        for w in stream.cuts.windows(2) {
            sealed.push(sender.session.seal(&stream.bytes[w[0]..w[1]]).map_err(|e| format!("sealing: {e}"))?);
        }
        let mut out = &sender.stream;
        let slowest = |rx: &[Receiver]| rx.iter().map(|r| r.count.load(Ordering::Acquire)).min().unwrap_or(0);
        let cpu0 = relay_tid.as_deref().and_then(thread_cpu_ns);
        let t0 = Instant::now();
        let deadline = t0 + RUN_TIMEOUT;
        for (i, batch) in sealed.iter().enumerate() {
            let sent_after = ((i + 1) * BATCH) as u64;
            let mut nap = Duration::from_micros(20);
            while slowest(&receivers) + stream.window < sent_after {
                if Instant::now() > deadline {
                    return Err(format!("receivers stalled at {} of {} messages", slowest(&receivers), stream.msgs));
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_micros(500));
            }
            out.write_all(batch).map_err(|e| format!("sender write: {e}"))?;
        }
        let mut t1 = t0;
        for (k, r) in receivers.into_iter().enumerate() {
            match r.thread.join() {
                Ok(Some(t)) => t1 = t1.max(t),
                _ => return Err(format!("receiver {k} did not get every message (the relay cut it off?)")),
            }
        }
        let elapsed = secs(t1 - t0);
        let cpu1 = relay_tid.as_deref().and_then(thread_cpu_ns);
        let cpu_ns = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a) as f64 / stream.msgs as f64);
        let local_ok = wait_until(Duration::from_secs(5), "local deliveries", || {
            local_count.load(Ordering::Relaxed) >= stream.msgs
        })
        .is_ok();
        stop.store(true, Ordering::Relaxed);
        let _ = sender.stream.shutdown(Shutdown::Both);
        let _ = drain.join();
        let in_rate = stream.msgs as f64 / elapsed;
        Ok((t0, RunResult { in_rate, out_rate: in_rate * fanout as f64, cpu_ns, local_ok, store: None }))
    })();
    stop.store(true, Ordering::Relaxed);
    // Stopping waits for the store's writer to flush what it was given.
    relay.stop();
    let (t0, mut result) = result?;
    if let Some(dir) = cfg.data_dir.as_deref().filter(|_| persist) {
        // The store's writer may still be saving what it was given: it holds the
        // store's lock until it is done.
        let lock = std::fs::File::open(dir.join("history.db.lock")).map_err(|e| format!("the store's lock: {e}"))?;
        wait_until(Duration::from_secs(120), "the store's writer to finish", || lock.try_lock().is_ok())?;
        let write_rate = stream.msgs as f64 / secs(t0.elapsed());
        let (rows, bytes) = read_store(dir)?;
        result.store = Some(StoreResult { write_rate, rows, bytes, dropped: dropped.load(Ordering::Relaxed) });
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(result)
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report) -> BenchResult<()> {
    let msgs: u64 = if opts.quick { 200_000 } else { 1_000_000 };
    let mut rng = Rng::new(Rng::seed_from_env());
    let stream = encode_stream(msgs, Keys::from_u64(rng.next_u64()))?;
    let frame_len = stream.bytes.len() as f64 / msgs as f64;
    for fanout in [1usize, 4] {
        let (mut ins, mut outs, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..opts.runs {
            let r = one_run(&stream, fanout, false, &mut rng)?;
            if !r.local_ok {
                report.note(format!("relay: fan-out {fanout}: the relay's own user did not see every message"));
            }
            ins.push(r.in_rate);
            outs.push(r.out_rate);
            cpu.extend(r.cpu_ns);
        }
        let target = if fanout == 1 { Target::at_least(1_000_000.0) } else { None };
        report.add(Figure::new("relay", format!("fan-out {fanout}: messages in"), "msgs/s", ins, target));
        report.add(Figure::new("relay", format!("fan-out {fanout}: deliveries out"), "msgs/s", outs, None));
        if !cpu.is_empty() {
            report.add(Figure::new("relay", format!("fan-out {fanout}: relay thread CPU per msg in"), "ns", cpu, None));
        }
    }
    // The same relay saving everything it shows (guarantee 12), against the
    // ephemeral one above.
    let (mut ins, mut cpu, mut writes, mut rows, mut bytes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.runs {
        let r = one_run(&stream, 1, true, &mut rng)?;
        ins.push(r.in_rate);
        cpu.extend(r.cpu_ns);
        if let Some(s) = r.store {
            if s.dropped {
                report.note("relay: persisting: the store fell behind and some messages were not saved");
            }
            writes.push(s.write_rate);
            rows.push(s.rows as f64);
            bytes.push(s.bytes as f64 / (1 << 20) as f64);
        }
    }
    report.add(Figure::new(
        "relay",
        "fan-out 1, persisting: messages in",
        "msgs/s",
        ins,
        Target::at_least(1_000_000.0),
    ));
    if !cpu.is_empty() {
        report.add(Figure::new("relay", "fan-out 1, persisting: relay thread CPU per msg in", "ns", cpu, None));
    }
    report.add(Figure::new("relay", "store: messages saved per second (until flushed)", "msgs/s", writes, None));
    report.add(Figure::new("relay", "store: messages kept (--keep 100000)", "msgs", rows, None));
    report.add(Figure::new("relay", "store: file size with those kept", "MiB", bytes, None));
    report.note(format!(
        "relay: one Handle; raw-protocol sender and receivers in the same process; {msgs} messages per run, \
         {TEXT_LEN}-byte texts (in batch frames of {MAX_BATCH} messages, one signature each: {frame_len:.0} bytes a message), \
         signed and encrypted before the clock starts, {BATCH} messages per sender write, at most {} in flight; receivers decrypt what they count \
         (in this process, on the same cores); deliveries out = socket deliveries (the relay's own user also got each message); CPU per message = time \
         the relay's network thread spent on a CPU (schedstat, kernel included) / messages in, which depends less \
         on how the two cores are shared than the rates do",
        stream.window
    ));
    Ok(())
}
