//! Latency per hop along a line of in-process nodes.
//!
//! Nodes 0 - 1 - ... - n-1 run through the core's [`Handle`], each on its own
//! network thread, linked over 127.0.0.1. Node 0 sends one message at a time; the
//! last node's event callback stamps its arrival; the next message goes only once
//! the previous one arrived, so what is measured is latency, not queueing. The
//! clock starts just before [`Handle::send_line`] (so the command channel and the
//! waker of the first node are included) and stops in the far end's callback, where
//! a frontend would display the message. Per hop = end to end / (n - 1).
//!
//! The section first measures the floor under any per-hop figure on the machine
//! it runs on: one small write over loopback TCP from one thread to another that
//! sleeps in a blocking read (half a ping-pong's round trip). A hop costs at
//! least that wake-up, plus verifying a signature, plus the node's own work.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use p2pchat_core::{Event, Handle, NodeId};

use crate::report::{Figure, Report, Target, p50_p99_us};
use crate::util::{BenchResult, Opts, node_config, persisting_config, stop_all, wait_until};

/// Messages sent before measuring, to warm caches, allocators and TCP.
const WARMUP: usize = 50;

/// One line: the handles and the far end's arrival stamps.
fn build_line(n: usize, persist: bool) -> BenchResult<(Vec<Handle>, mpsc::Receiver<Instant>)> {
    let (tx, rx) = mpsc::channel();
    let mut handles: Vec<Handle> = Vec::with_capacity(n);
    let joined = Arc::new(AtomicUsize::new(0));
    let mut first: Option<NodeId> = None;
    for i in 0..n {
        let connect: Vec<u16> = handles.last().map(|h| vec![h.port()]).unwrap_or_default();
        let name = format!("l{i}");
        let cfg = if persist { persisting_config(&name, &connect, "latency") } else { node_config(&name, &connect) };
        let h = if i == n - 1 {
            let (tx, joined, from) = (tx.clone(), Arc::clone(&joined), first);
            Handle::start(&cfg, move |e| match e {
                Event::Message { origin, .. } if Some(*origin) == from => {
                    let _ = tx.send(Instant::now());
                }
                Event::Joined { .. } => {
                    joined.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            })
        } else {
            Handle::start(&cfg, |_| {})
        };
        let h = match h {
            Ok(h) => h,
            Err(e) => {
                stop_all(&handles);
                return Err(format!("starting node {i}: {e}"));
            }
        };
        first.get_or_insert(h.id());
        handles.push(h);
    }
    if let Err(e) = wait_until(Duration::from_secs(20), "the line to form", || joined.load(Ordering::SeqCst) >= n - 1) {
        stop_all(&handles);
        return Err(e);
    }
    Ok((handles, rx))
}

/// Sends `count` messages one at a time, each after the previous arrived.
fn ping(handles: &[Handle], rx: &mpsc::Receiver<Instant>, count: usize) -> BenchResult<Vec<Duration>> {
    let mut out = Vec::with_capacity(count);
    let first = handles.first().ok_or("empty line")?;
    for k in 0..count {
        let t0 = Instant::now();
        first.send_line(&format!("ping {k}")).map_err(|e| e.to_string())?;
        let t1 = rx.recv_timeout(Duration::from_secs(5)).map_err(|_| format!("message {k} did not arrive in 5 s"))?;
        out.push(t1.saturating_duration_since(t0));
    }
    Ok(out)
}

/// One way over loopback TCP between two threads blocked in `read`: half of
/// each of `count` round trips of a 64-byte message, after a warm-up.
fn loopback_one_way(count: usize) -> BenchResult<Vec<Duration>> {
    const SIZE: usize = 64;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("address: {e}"))?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; SIZE];
        for _ in 0..WARMUP + count {
            s.read_exact(&mut buf)?;
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let result = (|| -> std::io::Result<Vec<Duration>> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = [7u8; SIZE];
        let mut out = Vec::with_capacity(count);
        for k in 0..WARMUP + count {
            let t0 = Instant::now();
            s.write_all(&buf)?;
            s.read_exact(&mut buf)?;
            if k >= WARMUP {
                out.push(t0.elapsed() / 2);
            }
        }
        Ok(out)
    })();
    if result.is_err() {
        // If the connect failed, the echo thread still waits in accept: let it
        // accept this one, read its end of stream and finish.
        let _ = TcpStream::connect(addr);
    }
    let echoed = echo.join().map_err(|_| "the echo thread panicked".to_owned())?;
    let out = result.map_err(|e| format!("ping-pong: {e}"))?;
    echoed.map_err(|e| format!("echo: {e}"))?;
    Ok(out)
}

fn one_run(n: usize, samples: usize, persist: bool) -> BenchResult<Vec<Duration>> {
    let (handles, rx) = build_line(n, persist)?;
    let result = ping(&handles, &rx, WARMUP).and_then(|_| ping(&handles, &rx, samples));
    stop_all(&handles);
    result
}

/// Runs the section.
pub fn run(opts: Opts, report: &mut Report) -> BenchResult<()> {
    let samples = if opts.quick { 100 } else { 400 };
    let mut floor = Vec::new();
    for _ in 0..opts.runs {
        floor.push(p50_p99_us(&loopback_one_way(samples * 5)?).0);
    }
    report.add(Figure::new("latency", "floor: loopback TCP one way, thread to thread, p50", "µs", floor, None));
    for n in [2usize, 5, 10, 20] {
        let hops = (n - 1) as f64;
        let (mut e50, mut e99, mut h50, mut h99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..opts.runs {
            let lat = one_run(n, samples, false)?;
            let (p50, p99) = p50_p99_us(&lat);
            e50.push(p50);
            e99.push(p99);
            h50.push(p50 / hops);
            h99.push(p99 / hops);
        }
        let e2e_target = if n == 20 { Target::at_most(1000.0) } else { None };
        report.add(Figure::new("latency", format!("line of {n}: per hop p50"), "µs", h50, Target::at_most(50.0)));
        report.add(Figure::new("latency", format!("line of {n}: per hop p99"), "µs", h99, None));
        report.add(Figure::new("latency", format!("line of {n}: end to end p50"), "µs", e50, e2e_target));
        report.add(Figure::new("latency", format!("line of {n}: end to end p99"), "µs", e99, None));
    }
    // A line of 5 whose every node saves what it shows, against the ephemeral one.
    let mut h50 = Vec::new();
    for _ in 0..opts.runs {
        let lat = one_run(5, samples, true)?;
        h50.push(p50_p99_us(&lat).0 / 4.0);
    }
    let _ = std::fs::remove_dir_all(crate::util::scratch_dir("latency"));
    report.add(Figure::new("latency", "line of 5, persisting: per hop p50", "µs", h50, Target::at_most(50.0)));
    report.note(format!(
        "latency: in-process Handles on 127.0.0.1, one message in flight at a time, {samples} samples per run after \
         {WARMUP} warm-up messages; send_line() to the far end's event callback; per hop = end to end / (n-1)"
    ));
    Ok(())
}
