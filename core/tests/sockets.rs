//! Real sockets on 127.0.0.1: nodes started through [`Handle`], raw `TcpStream`s
//! playing broken or hostile clients, and raw p2pchat peers (`common::raw_peer`: a
//! real handshake, then anything inside or outside the encrypted session). Every wait is bounded by a deadline and waits
//! for an event (or a socket state) rather than sleeping and hoping.

// Test helpers panic with a description on purpose; clippy's test exemption only
// covers `#[test]` functions themselves.
#![allow(clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Write};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use p2pchat_core::crypto::Keys;
use p2pchat_core::testing;
use p2pchat_core::wire::{Frame, HEAD, MAGIC};
use p2pchat_core::{Event, Handle, HandleError, LeftReason, PeerAddr};

// ----- delivery ---------------------------------------------------------------

#[test]
fn ring_of_five_delivers_every_message_exactly_once() {
    let mut nodes = start_all(&["n0", "n1", "n2", "n3", "n4"]);
    for i in 0..5 {
        link(&nodes[i], &nodes[(i + 1) % 5]);
    }
    wait_all_joined(&mut nodes);
    let mut t = Transcript::default();
    for k in 1..=5 {
        for node in &nodes {
            t.say(node, &format!("message {k} from {}", node.name));
        }
    }
    t.check(&mut nodes);
    for node in &nodes {
        assert_eq!(node.received.values().map(Vec::len).sum::<usize>(), 25, "{}", node.name);
    }
    t.settle(&mut nodes);
    stop_all(&nodes);
}

#[test]
fn start_up_connects_are_made_through_the_config() {
    let mut a = TestNode::start(config("a"));
    let mut cfg = config("b");
    cfg.connect.push(PeerAddr { host: "127.0.0.1".into(), port: a.port() });
    let mut b = TestNode::start(cfg);
    a.wait_joined(&[b.id()]);
    b.wait_joined(&[a.id()]);
    let mut nodes = vec![a, b];
    let mut t = Transcript::default();
    t.say(&nodes[0], "hello b");
    t.say(&nodes[1], "hello a");
    t.check(&mut nodes);
    stop_all(&nodes);
}

// ----- connect failures and host names ------------------------------------------

#[test]
fn start_up_connect_to_a_closed_port_reports_an_error_and_keeps_running() {
    let port = closed_port();
    let mut cfg = config("lonely");
    cfg.connect.push(PeerAddr { host: "127.0.0.1".into(), port });
    let a = TestNode::start(cfg);
    let mut nodes = vec![a, TestNode::start(config("friend"))];
    let err = nodes[0].wait_error("the connect failure", "could not connect");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(nodes[0].handle.is_running());
    link(&nodes[1], &nodes[0]);
    wait_all_joined(&mut nodes);
    let mut t = Transcript::default();
    t.say(&nodes[0], "still here");
    t.say(&nodes[1], "welcome");
    t.check(&mut nodes);
    stop_all(&nodes);
}

#[test]
fn host_names_are_resolved_and_connected_to() {
    // Bind where "localhost" leads first, so the test holds whatever this machine's
    // resolver prefers.
    let ip = ("localhost", 1).to_socket_addrs().expect("localhost resolves").next().expect("an address").ip();
    let mut cfg = config("named");
    cfg.bind = ip;
    let mut nodes = vec![TestNode::start(cfg), TestNode::start(config("seeker"))];
    let closed = closed_port();
    nodes[1].handle.connect(PeerAddr { host: "localhost".into(), port: closed }).expect("running");
    let err = nodes[1].wait_error("the connect failure", "could not connect");
    assert!(err.contains(&format!("localhost:{closed}")), "{err}");
    nodes[1].handle.connect(PeerAddr { host: "localhost".into(), port: nodes[0].port() }).expect("running");
    wait_all_joined(&mut nodes);
    let mut t = Transcript::default();
    t.say(&nodes[1], "found you by name");
    t.check(&mut nodes);
    stop_all(&nodes);
}

/// The one host name whose lookup hangs: no resolver hangs on demand (and these
/// tests use no network), so a lookup hook holds this name's lookup, on the
/// driver's lookup thread, until the test lets it go.
const HANGING_HOST: &str = "lookup-hangs.invalid";

/// (lookups of [`HANGING_HOST`] started, released)
static HANGING: Mutex<(u32, bool)> = Mutex::new((0, false));
static HANGING_CV: std::sync::Condvar = std::sync::Condvar::new();

fn hanging_lookup(host: &str, _port: u16) -> Option<std::io::Result<Vec<std::net::SocketAddr>>> {
    if host != HANGING_HOST {
        return None; // every other name goes to the system resolver
    }
    let mut state = HANGING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    state.0 += 1;
    HANGING_CV.notify_all();
    while !state.1 {
        state = HANGING_CV.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    Some(Err(std::io::Error::other("released by the test")))
}

fn hanging_state() -> (u32, bool) {
    *HANGING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn host_names_are_resolved_off_the_loop() {
    assert!(p2pchat_core::sim::set_lookup_hook(hanging_lookup), "only this test installs a lookup hook");
    let mut nodes = start_all(&["waiting", "talker"]);
    link(&nodes[1], &nodes[0]);
    wait_all_joined(&mut nodes);
    let asked = Instant::now();
    nodes[0].handle.connect(PeerAddr { host: HANGING_HOST.into(), port: 4242 }).expect("running");
    wait_until("the lookup to start", || hanging_state().0 == 1);

    // While the lookup hangs, the node that asked for it keeps serving: chat
    // both ways, and commands (`:peers`, answered by its loop).
    let mut t = Transcript::default();
    for k in 1..=3 {
        t.say(&nodes[0], &format!("while resolving {k}"));
        t.say(&nodes[1], &format!("answer {k}"));
    }
    t.check(&mut nodes);
    nodes[0].wait_direct_links(1);
    assert_eq!(hanging_state(), (1, false), "the lookup was still hanging while the chat flowed");

    // Its timers too: the attempt is given up while the lookup still hangs.
    let err = nodes[0].wait_error("the lookup to time out", "resolving the host name timed out");
    assert!(err.contains(&format!("{HANGING_HOST}:4242")), "{err}");
    assert!(asked.elapsed() >= p2pchat_core::CONNECT_TIMEOUT, "gave up after {:?}", asked.elapsed());
    assert_eq!(hanging_state(), (1, false), "the time-out did not wait for the lookup");

    // The late answer is ignored; the node goes on.
    {
        let mut state = HANGING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.1 = true;
        HANGING_CV.notify_all();
    }
    t.say(&nodes[1], "after the lookup ended");
    t.check(&mut nodes);
    t.settle(&mut nodes);
    assert!(
        !nodes[0].seen.iter().any(|e| matches!(e, Event::Error(m) if m.contains("released by the test"))),
        "an answer that came after the time-out was reported"
    );
    stop_all(&nodes);
}

// ----- bad input --------------------------------------------------------------

// Bytes that are not the magic mean a person on nc or telnet: the node answers in
// plain text and asks for a name; it never speaks frames to it, and nobody else
// notices anything.
#[test]
fn garbage_bytes_are_a_text_client_that_harms_nobody() {
    survives(|_node, port| {
        let mut raw = raw_connect(port);
        let garbage: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(97) ^ 0xA5) as u8).filter(|b| *b != b'\n').collect();
        raw.write_all(&garbage).expect("write");
        raw.write_all(b"\n").expect("write");
        let back = read_until_text(&mut raw, "cannot be used");
        assert!(back.starts_with("Welcome to p2pchat"), "{back:?}");
        assert!(!back.contains('\u{1b}'), "no control characters are echoed back");
    });
}

#[test]
fn wrong_magic_is_a_text_client_that_harms_nobody() {
    survives(|_node, port| {
        let mut raw = raw_connect(port);
        raw.write_all(b"\x7fXYZ\x00\x01\r\n").expect("write");
        let back = read_until_text(&mut raw, "What is your name?");
        assert!(back.starts_with("Welcome to p2pchat"), "{back:?}");
    });
}

// `:quit` (or `:q`) at the name prompt leaves; it is not taken as a name.
#[test]
fn quit_at_the_name_prompt_leaves() {
    for quit in [":quit", ":q"] {
        survives(|_node, port| {
            let mut raw = raw_connect(port);
            read_until_text(&mut raw, "What is your name?");
            raw.write_all(format!("{quit}\r\n").as_bytes()).expect("write");
            let back = String::from_utf8_lossy(&read_until_closed(&mut raw, 1 << 16)).into_owned();
            assert!(back.contains("goodbye"), "{quit}: {back:?}");
            assert!(!back.contains("Welcome,"), "{quit} was taken as a name: {back:?}");
        });
    }
}

// A peer of another protocol version gets this node's preamble (which says the
// version it speaks) and is closed; the node's user is told which version it was.
// Version 1 sent a cleartext hello frame after its magic and version.
#[test]
fn a_version_1_peer_is_answered_with_our_preamble_and_closed() {
    survives(|node, port| {
        let mut raw = raw_connect(port);
        let mut v1 = V1_START.to_vec();
        v1.extend_from_slice(&[0, 0, 0, 12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 3, b'r', b'a']);
        raw.write_all(&v1).expect("write");
        let back = read_until_closed(&mut raw, 1 << 20);
        assert!(back.starts_with(&HEAD), "the node answers with magic and version 2: {back:?}");
        assert_eq!(back, preamble(), "the node tells which version it speaks, and nothing else");
        let err = node.wait_error("the dropped connection", &raw.local_addr().expect("addr").to_string());
        assert!(err.contains("protocol version 1 is not supported"), "{err}");
        assert!(err.contains("speaks 2"), "{err}");

        let mut raw = raw_connect(port);
        let mut pre = MAGIC.to_vec();
        pre.extend_from_slice(&999u16.to_be_bytes());
        raw.write_all(&pre).expect("write");
        assert_eq!(read_until_closed(&mut raw, 1 << 20), preamble());
        expect_dropped(node, &raw, "version 999");
    });
}

// A handshake message that is not one (after a valid preamble) closes the
// connection before any session exists: the node answered the preamble, and
// says nothing else.
#[test]
fn a_garbled_handshake_message_closes_the_connection() {
    survives(|node, port| {
        let mut raw = raw_connect(port);
        let mut bytes = preamble();
        bytes.extend_from_slice(&[0, 8, 200, 1, 2, 3, 4, 5, 6, 7]);
        raw.write_all(&bytes).expect("write");
        assert_eq!(read_until_closed(&mut raw, 1 << 20), preamble());
        expect_dropped(node, &raw, "handshake");
    });
}

#[test]
fn oversized_length_prefix_closes_the_connection() {
    survives(|node, port| {
        let (mut raw, _) = raw_peer(port, &Keys::from_u64(0x0517E), "raw");
        raw.send(&u32::MAX.to_be_bytes()).expect("write");
        let frames = frames_until_closed(&mut raw);
        assert_bye(&frames, "exceeds");
        expect_dropped(node, &raw.stream, "exceeds");
    });
}

#[test]
fn a_frame_cut_off_by_the_peer_closing_hurts_nobody() {
    survives(|node, port| {
        // The node proved its identity in the handshake: it is complete.
        let (mut raw, _) = raw_peer(port, &Keys::from_u64(12345), "raw");
        node.wait_direct_links(3);
        let mut cut = Frame::Bye { reason: "x".repeat(100) }.encode().expect("encode").to_vec();
        cut.truncate(50);
        raw.send(&[heartbeat(), cut].concat()).expect("write");
        drop(raw);
        node.wait_direct_links(2);
    });
}

#[test]
fn undecodable_frame_body_closes_the_connection() {
    survives(|node, port| {
        let (mut raw, _) = raw_peer(port, &Keys::from_u64(0xBAD0), "raw");
        raw.send(&[0, 0, 0, 4, 200, 1, 2, 3]).expect("write");
        let frames = frames_until_closed(&mut raw);
        assert_bye(&frames, "malformed");
        expect_dropped(node, &raw.stream, "malformed");
    });
}

// Bytes after the handshake that are not a transport message of the session (a
// ciphertext tampered with, or frames in the clear) close the connection.
#[test]
fn ciphertext_tampered_with_or_frames_in_the_clear_close_the_connection() {
    survives(|node, port| {
        let (mut raw, _) = raw_peer(port, &Keys::from_u64(0x7A3), "raw");
        let mut sealed = raw.session.seal(&heartbeat()).expect("seal");
        sealed[4] ^= 0x20;
        raw.send_raw(&sealed).expect("write");
        assert_bye(&frames_until_closed(&mut raw), "could not decrypt");
        expect_dropped(node, &raw.stream, "could not decrypt");

        let (mut raw, _) = raw_peer(port, &Keys::from_u64(0x7A4), "raw");
        raw.send_raw(&chat_frame(&Keys::from_u64(0x7A4), nth_seq(1), "raw", "in the clear")).expect("write");
        // Its length prefix (0, 0, ...) reads as an empty transport message.
        assert_bye(&frames_until_closed(&mut raw), "shorter than its tag");
        expect_dropped(node, &raw.stream, "shorter than its tag");
        let shown = node.seen.iter().any(|e| matches!(e, Event::Message { text, .. } if text == "in the clear"));
        assert!(!shown, "a chat in the clear was delivered");
    });
}

// ----- slow readers -----------------------------------------------------------

#[test]
fn a_peer_that_never_reads_is_cut_off() {
    let log = temp_log("flood");
    let mut cfg = config("flooder");
    cfg.queue_cap = 64 * 1024;
    cfg.log = Some(log.clone());
    // A queue that does not drain at all for this long is cut off.
    cfg.peer_timeout = Duration::from_secs(2);
    let mut nodes = vec![TestNode::start(cfg), TestNode::start(config("reader"))];
    link(&nodes[1], &nodes[0]);
    wait_all_joined(&mut nodes);

    // It reads the handshake, then nothing; it stays alive with a heartbeat
    // every 200 ms, so only its not reading can get it cut off.
    let (raw, _) = raw_peer(nodes[0].port(), &Keys::from_u64(12345), "raw");
    nodes[0].wait_direct_links(2);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = StopOnDrop(Arc::clone(&stop));
    let beating = std::thread::spawn(move || {
        let mut raw = raw;
        let beat = heartbeat();
        let end = Instant::now() + DEADLINE * 3;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < end {
            let _ = raw.send(&beat);
            std::thread::sleep(Duration::from_millis(200));
        }
        raw
    });

    let text = "x".repeat(4000);
    let mut t = Transcript::default();
    let cut = |log: &PathBuf| std::fs::read_to_string(log).is_ok_and(|s| s.contains("(not reading); disconnected"));
    let start = Instant::now();
    let mut sent = 0;
    while !cut(&log) {
        assert!(start.elapsed() < DEADLINE * 2, "{sent} messages of 4000 bytes and the silent peer is still connected");
        for i in 0..16 {
            t.say(&nodes[0], &format!("{sent}.{i} {text}"));
        }
        sent += 16;
        // The reader keeps up: wait for it before sending more.
        t.check(&mut nodes[1..]);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(guard);
    let mut raw = beating.join().expect("the heartbeat thread");
    let log_text = std::fs::read_to_string(&log).expect("log");
    // At the cap, or (chat being held back from it) when its queue has not
    // drained at all for --peer-timeout.
    assert!(log_text.contains("(not reading); disconnected"), "{log_text}");

    // The raw peer now finds the connection closed once it reads what got through.
    read_until_closed(&mut raw.stream, 1 << 30);
    t.settle(&mut nodes);
    nodes[0].wait_direct_links(1);
    stop_all(&nodes);
    let _ = std::fs::remove_file(&log);
}

// ----- stopping ---------------------------------------------------------------

fn recording(name: &str) -> (Handle, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let h = Handle::start(&config(name), move |e| sink.lock().expect("lock").push(e.clone())).expect("start");
    (h, events)
}

#[test]
fn stop_is_idempotent_and_stopped_is_the_last_event() {
    let (h, events) = recording("solo");
    h.send_line("talking to myself").expect("running");
    wait_until("the echo", || {
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, Event::Message { text, .. } if text == "talking to myself"))
    });
    assert!(h.is_running());
    h.stop();
    assert!(!h.is_running());
    let after = events.lock().expect("lock").clone();
    assert_eq!(after.last(), Some(&Event::Stopped));
    assert_eq!(after.iter().filter(|e| **e == Event::Stopped).count(), 1);
    h.stop();
    h.join();
    h.clone().stop();
    assert_eq!(h.send_line("anyone?"), Err(HandleError::Stopped));
    assert_eq!(h.connect(PeerAddr { host: "127.0.0.1".into(), port: 1 }), Err(HandleError::Stopped));
    // Nothing runs after stop() returned.
    assert_eq!(*events.lock().expect("lock"), after);
}

#[test]
fn stop_flushes_the_last_message_and_the_goodbye() {
    let mut nodes = start_all(&["leaver", "stayer"]);
    link(&nodes[0], &nodes[1]);
    wait_all_joined(&mut nodes);
    let leaver = nodes[0].id();
    nodes[0].handle.send_line("goodbye, all").expect("running");
    nodes[0].handle.stop();
    nodes[1].wait_for("the last message", |seen| {
        seen.iter()
            .any(|e| matches!(e, Event::Message { text, origin, .. } if text == "goodbye, all" && *origin == leaver))
    });
    nodes[1].wait_for("a quit notice", |seen| {
        seen.iter().any(|e| matches!(e, Event::Left { id, reason: LeftReason::Quit, .. } if *id == leaver))
    });
    let last: Vec<Event> = nodes[0].rx.try_iter().collect();
    assert_eq!(last.last(), Some(&Event::Stopped));
    nodes[1].handle.stop();
}

#[test]
fn stop_from_inside_the_callback_does_not_deadlock() {
    let slot: Arc<OnceLock<Handle>> = Arc::new(OnceLock::new());
    let inside = Arc::clone(&slot);
    let (tx, rx) = std::sync::mpsc::channel();
    let h = Handle::start(&config("selfstop"), move |e| {
        if let Event::Message { text, .. } = e
            && text == "stop now"
            && let Some(h) = inside.get()
        {
            h.stop();
            h.join();
            h.stop();
            let _ = tx.send(Event::Notice("stop returned inside".into()));
        }
        let _ = tx.send(e.clone());
    })
    .expect("start");
    slot.set(h.clone()).expect("set once");
    h.send_line("stop now").expect("running");
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    while seen.last() != Some(&Event::Stopped) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) => seen.push(e),
            Err(e) => panic!("no Stopped event ({e:?}); saw {seen:?}"),
        }
    }
    assert!(seen.contains(&Event::Notice("stop returned inside".into())));
    h.join();
    assert!(!h.is_running());
    assert_eq!(h.send_line("x"), Err(HandleError::Stopped));
}

#[test]
fn dropping_the_last_handle_stops_the_node() {
    let (h, rx) = Handle::start_with_channel(&config("dropped")).expect("start");
    let clone = h.clone();
    drop(h);
    assert!(clone.is_running(), "a clone keeps it running");
    drop(clone);
    // Dropping the last handle waited for the thread: everything is in the channel.
    let events: Vec<Event> = rx.try_iter().collect();
    assert_eq!(events.last(), Some(&Event::Stopped), "{events:?}");
    assert!(matches!(events.first(), Some(Event::Listening { .. })));
}

#[test]
fn bind_errors_are_returned() {
    let taken = std::net::TcpListener::bind((LOCALHOST, 0)).expect("bind");
    let mut cfg = config("late");
    cfg.port = taken.local_addr().expect("addr").port();
    let err = Handle::start(&cfg, |_| {}).expect_err("the port is taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let bad = Handle::start(&config("two words"), |_| {}).expect_err("invalid name");
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_burst_larger_than_one_turn_of_reads_is_read_completely() {
    // Several MiB arrive at once; the driver reads at most 1 MiB per peer per turn
    // and must come back for the rest without waiting for a new readiness event.
    let mut nodes = start_all(&["target", "witness"]);
    link(&nodes[1], &nodes[0]);
    wait_all_joined(&mut nodes);
    let keys = Keys::from_u64(777);
    let origin = keys.id();
    let (mut raw, _) = raw_peer(nodes[0].port(), &keys, "burst");
    let text = "y".repeat(4000);
    const N: u64 = 1000;
    let texts: Vec<String> = (1..=N).map(|n| format!("{} {text}", nth_seq(n))).collect();
    let mut burst = Vec::new();
    for (i, batch) in texts.chunks(p2pchat_core::crypto::MAX_BATCH).enumerate() {
        let first = nth_seq(1 + (i * p2pchat_core::crypto::MAX_BATCH) as u64);
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        burst.extend(testing::signed_batch(&keys, first, "burst", &refs).concat());
    }
    // One write of about 4 MB, encrypted.
    raw.send(&burst).expect("write");
    for node in nodes.iter_mut() {
        let deadline = Instant::now() + DEADLINE;
        while node.received.get(&origin).map_or(0, Vec::len) < N as usize {
            match node.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(e) => node.record(e),
                Err(e) => panic!("{}: burst incomplete ({e:?})", node.name),
            }
        }
        let got = &node.received[&origin];
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, (seq, t))| *seq == nth_seq(i as u64 + 1) && t.starts_with(&format!("{seq} ")))
        );
    }
    let mut t = Transcript::default();
    t.sent.insert(origin, texts);
    t.settle(&mut nodes);
    drop(raw);
    stop_all(&nodes);
}

#[test]
fn a_closed_peer_that_never_reads_is_dropped_after_a_bounded_wait() {
    let log = temp_log("closing");
    let mut cfg = config("closer");
    cfg.log = Some(log.clone());
    let mut nodes = vec![TestNode::start(cfg), TestNode::start(config("reader"))];
    link(&nodes[1], &nodes[0]);
    wait_all_joined(&mut nodes);
    // It reads the handshake, then nothing.
    let (mut raw, _) = raw_peer(nodes[0].port(), &Keys::from_u64(12345), "raw");
    nodes[0].wait_direct_links(2);
    // Back the silent peer's queue up well beyond what the kernel buffers hold
    // (but under the default cap).
    let text = "z".repeat(4000);
    let mut t = Transcript::default();
    for i in 0..1500 {
        t.say(&nodes[0], &format!("{i} {text}"));
    }
    t.check(&mut nodes[1..]);
    // A protocol error makes the node close the connection, with output pending.
    raw.send(&[0, 0, 0, 2, 200, 0]).expect("write");
    nodes[0].wait_error("the rejection", "malformed");
    wait_until("the driver to give up flushing", || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("gave up flushing"))
    });
    read_until_closed(&mut raw.stream, 1 << 30);
    t.settle(&mut nodes);
    stop_all(&nodes);
    let _ = std::fs::remove_file(&log);
}
