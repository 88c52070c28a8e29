//! Helpers shared by the real-socket tests (`sockets.rs`, `adversary.rs`): nodes
//! started through [`Handle`] with everything they reported recorded, a transcript
//! of what each node said to check deliveries against (exactly once, in per-sender
//! order), raw `TcpStream`s to play broken or hostile clients and raw p2pchat
//! peers ([`raw_peer`]: `p2pchat_core::testing::RawPeer`, a real handshake, then
//! anything inside or outside the session), a line of three nodes that keeps
//! chatting while one of them is attacked ([`Net`]), and probes of this process
//! (memory, descriptors) and of a node's sockets; and, in [`frames`], the frames
//! that tests send as a peer and the raw peers of a sans-IO node (also used by
//! `node_rules.rs`, `random_inputs.rs` and the fuzz harness). Every wait is
//! bounded by [`DEADLINE`] and waits for an event or a socket state rather than
//! sleeping.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod frames;
// Not every test binary uses the frames through this re-export.
#[allow(unused_imports)]
pub use frames::*;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use p2pchat_core::crypto::Keys;
use p2pchat_core::testing::{self, RawPeer};
use p2pchat_core::wire::{Frame, SEQ_LOW};
use p2pchat_core::{Config, Event, Handle, NodeId};

/// Upper bound for any single wait in these tests.
pub const DEADLINE: Duration = Duration::from_secs(20);
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A node on 127.0.0.1 that saves nothing (`--ephemeral`): tests start many
/// members of one name, and none should share another's key or store.
pub fn config(name: &str) -> Config {
    let mut c = Config::new(name);
    c.bind = LOCALHOST;
    c.port = 0;
    c.identity = p2pchat_core::IdentitySource::Ephemeral;
    c
}

/// Texts longer than this are recorded as a [`digest`], so that floods of long
/// messages do not make the test itself the biggest user of memory.
pub const LONG_TEXT: usize = 256;

/// A text as recorded: itself if short, else its start, length and hash (short
/// enough that a digest is its own digest).
pub fn digest(text: &str) -> String {
    if text.len() <= LONG_TEXT {
        return text.to_owned();
    }
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    let start: String = text.chars().take(32).collect();
    format!("{start}... ({} bytes, hash {:016x})", text.len(), h.finish())
}

/// Messages of the origins a node only counts (a flood of hundreds of thousands),
/// counted on the node's thread as they are delivered: they never queue up as
/// events for the test to read.
#[derive(Debug, Default)]
pub struct Counter {
    /// The origins counted.
    pub only: BTreeSet<NodeId>,
    /// Messages delivered per origin.
    pub counted: BTreeMap<NodeId, u64>,
    /// The last sequence number counted per origin.
    pub last: BTreeMap<NodeId, u64>,
    /// The first few messages that did not come with the next sequence number
    /// (the first of an origin must be the first of its incarnation).
    pub disorder: Vec<String>,
    /// Time the node's thread spends on each counted message (a slow machine).
    pub slow: Duration,
}

/// A node under test with every event it reported so far.
pub struct TestNode {
    pub name: String,
    pub handle: Handle,
    pub rx: Receiver<Event>,
    /// Every event but the messages of counted origins; texts longer than
    /// [`LONG_TEXT`] are kept as a [`digest`].
    pub seen: Vec<Event>,
    /// Chat messages received, per origin, as (seq, digest of the text) in arrival
    /// order.
    pub received: BTreeMap<NodeId, Vec<(u64, String)>>,
    pub counter: Arc<Mutex<Counter>>,
}

impl TestNode {
    pub fn start(cfg: Config) -> TestNode {
        let name = cfg.name.clone();
        let counter = Arc::new(Mutex::new(Counter::default()));
        let counting = Arc::clone(&counter);
        let (tx, rx) = mpsc::channel();
        let handle = Handle::start(&cfg, move |e| {
            if let Event::Message { origin, seq, private: false, .. } = e {
                let mut c = counting.lock().unwrap_or_else(PoisonError::into_inner);
                if c.only.contains(origin) {
                    let n = c.counted.get(origin).copied().unwrap_or(0);
                    let in_order = match c.last.get(origin) {
                        Some(last) => *seq == last + 1,
                        None => *seq & SEQ_LOW == 1,
                    };
                    if !in_order && c.disorder.len() < 10 {
                        let last = c.last.get(origin).copied();
                        c.disorder.push(format!("{origin}: seq {seq} after {n} messages (the last {last:?})"));
                    }
                    c.counted.insert(*origin, n + 1);
                    c.last.insert(*origin, *seq);
                    if !c.slow.is_zero() {
                        std::thread::sleep(c.slow);
                    }
                    return;
                }
            }
            // The receiver may be gone; the node runs on regardless.
            let _ = tx.send(e.clone());
        })
        .expect("node starts");
        TestNode { name, handle, rx, seen: Vec::new(), received: BTreeMap::new(), counter }
    }

    pub fn record(&mut self, mut e: Event) {
        if let Event::Message { origin, seq, text, private: false, .. } = &mut e {
            if text.len() > LONG_TEXT {
                *text = digest(text);
            }
            self.received.entry(*origin).or_default().push((*seq, text.clone()));
        }
        self.seen.push(e);
    }

    fn counter(&self) -> MutexGuard<'_, Counter> {
        self.counter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on, messages from `origin` are only counted.
    pub fn count_only(&self, origin: NodeId) {
        self.counter().only.insert(origin);
    }

    /// Messages from a counted origin so far.
    pub fn counted(&self, origin: NodeId) -> u64 {
        self.counter().counted.get(&origin).copied().unwrap_or(0)
    }

    /// Waits until `origin` has `n` messages counted, all in order, and no more.
    pub fn wait_counted(&mut self, origin: NodeId, n: u64) {
        let deadline = Instant::now() + DEADLINE;
        while self.counted(origin) < n {
            assert!(Instant::now() < deadline, "{}: {} of {n} messages from {origin}", self.name, self.counted(origin));
            std::thread::sleep(Duration::from_millis(5));
        }
        let c = self.counter();
        assert!(c.disorder.is_empty(), "{}: out of order: {:?}", self.name, c.disorder);
        assert_eq!(c.counted.get(&origin).copied(), Some(n), "{}: more from {origin} than sent", self.name);
    }

    pub fn id(&self) -> NodeId {
        self.handle.id()
    }

    pub fn port(&self) -> u16 {
        self.handle.port()
    }

    /// Receives events until `done` holds for everything seen so far.
    pub fn wait_for(&mut self, what: &str, mut done: impl FnMut(&[Event]) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !done(&self.seen) {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(e) => self.record(e),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: timed out waiting for {what}; events: {:#?}", self.name, self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: stopped while waiting for {what}; events: {:#?}", self.name, self.seen)
                }
            }
        }
    }

    /// Waits for the next event matching `pred` that arrives from now on.
    pub fn wait_next(&mut self, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
        let from = self.seen.len();
        self.wait_for(what, |seen| seen[from..].iter().any(&mut pred));
        self.seen[from..].iter().find(|e| pred(e)).cloned().expect("just seen")
    }

    pub fn wait_joined(&mut self, ids: &[NodeId]) {
        let ids = ids.to_vec();
        self.wait_for(&format!("{ids:?} to join"), |seen| {
            ids.iter().all(|id| seen.iter().any(|e| matches!(e, Event::Joined { id: j, .. } if j == id)))
        });
    }

    pub fn wait_error(&mut self, what: &str, needle: &str) -> String {
        match self.wait_next(what, |e| matches!(e, Event::Error(t) if t.contains(needle))) {
            Event::Error(t) => t,
            _ => unreachable!(),
        }
    }

    /// Asks `:peers` until the node reports `n` direct links.
    pub fn wait_direct_links(&mut self, n: usize) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.handle.send_line(":peers").expect("running");
            let Event::Notice(t) = self.wait_next(
                "the :peers answer",
                |e| matches!(e, Event::Notice(t) if t.ends_with("direct links:") || t.ends_with("direct link:")),
            ) else {
                unreachable!()
            };
            if t == format!("{}:", p2pchat_core::event::count(n, "direct link", "direct links")) {
                return;
            }
            assert!(Instant::now() < deadline, "{}: never reached {n} direct links (last: {t})", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What each node said, in order, to check deliveries against.
#[derive(Default)]
pub struct Transcript {
    pub sent: BTreeMap<NodeId, Vec<String>>,
}

impl Transcript {
    pub fn say(&mut self, node: &TestNode, text: &str) {
        node.handle.send_line(text).expect("node running");
        self.sent.entry(node.id()).or_default().push(digest(text));
    }

    /// Waits until every node has every message said so far, then checks that each
    /// came exactly once and, per sender, in order with consecutive sequence
    /// numbers from the first of the sender's incarnation
    /// (`wire::seq_start(incarnation)`, `+ 1`, ...).
    pub fn check(&self, nodes: &mut [TestNode]) {
        for node in nodes.iter_mut() {
            let want: BTreeMap<NodeId, usize> = self.sent.iter().map(|(id, v)| (*id, v.len())).collect();
            let deadline = Instant::now() + DEADLINE;
            loop {
                let got = &node.received;
                if want.iter().all(|(id, n)| got.get(id).map_or(0, Vec::len) >= *n) {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                match node.rx.recv_timeout(left) {
                    Ok(e) => node.record(e),
                    Err(e) => panic!(
                        "{}: missing messages ({e:?}); want {want:?}, got {:?}",
                        node.name,
                        got.iter().map(|(id, v)| (*id, v.len())).collect::<BTreeMap<_, _>>()
                    ),
                }
            }
            let got = &node.received;
            for (origin, texts) in &self.sent {
                let first = got.get(origin).and_then(|v| v.first()).map_or(1, |(seq, _)| *seq);
                assert_eq!(first & SEQ_LOW, 1, "{}: the first message from {origin} starts an incarnation", node.name);
                let expected: Vec<(u64, String)> =
                    texts.iter().enumerate().map(|(i, t)| (first + i as u64, digest(t))).collect();
                assert_eq!(got.get(origin), Some(&expected), "{}: messages from {origin}", node.name);
            }
            assert_eq!(got.len(), self.sent.len(), "{}: messages from unexpected origins", node.name);
        }
    }

    /// One more message from every node, checked everywhere: a duplicate of an
    /// earlier message still in flight would show up before these.
    pub fn settle(&mut self, nodes: &mut [TestNode]) {
        for node in nodes.iter() {
            self.say(node, &format!("last word from {}", node.name));
        }
        self.check(nodes);
    }
}

pub fn start_all(names: &[&str]) -> Vec<TestNode> {
    names.iter().map(|n| TestNode::start(config(n))).collect()
}

pub fn link(from: &TestNode, to: &TestNode) {
    from.handle.connect(p2pchat_core::PeerAddr { host: "127.0.0.1".into(), port: to.port() }).expect("node running");
}

/// Waits until every node has seen every other one join.
pub fn wait_all_joined(nodes: &mut [TestNode]) {
    let ids: Vec<NodeId> = nodes.iter().map(TestNode::id).collect();
    for node in nodes.iter_mut() {
        let others: Vec<NodeId> = ids.iter().copied().filter(|id| *id != node.id()).collect();
        node.wait_joined(&others);
    }
}

/// a - b - c, all joined.
pub fn line_of_three() -> Vec<TestNode> {
    let mut nodes = start_all(&["a", "b", "c"]);
    link(&nodes[0], &nodes[1]);
    link(&nodes[2], &nodes[1]);
    wait_all_joined(&mut nodes);
    nodes
}

pub fn stop_all(nodes: &[TestNode]) {
    for n in nodes {
        n.handle.stop();
    }
}

/// A port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind((LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn raw_connect(port: u16) -> TcpStream {
    let s = TcpStream::connect((LOCALHOST, port)).expect("raw connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    s
}

/// Reads until the node closes the connection; returns what it sent. Panics if
/// it stays open past the deadline.
pub fn read_until_closed(s: &mut TcpStream, limit: usize) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                assert!(got.len() <= limit, "read more than {limit} bytes without the connection closing");
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            // A reset also means the node closed it.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("unexpected read error: {e}"),
        }
        assert!(Instant::now() < deadline, "the node did not close the connection; got {} bytes", got.len());
    }
}

/// Runs a line of three nodes, lets `attack` abuse the middle one (given its
/// port) through raw sockets, and checks that the good nodes keep chatting,
/// exactly once, before and after.
pub fn survives(attack: impl FnOnce(&mut TestNode, u16)) {
    let mut nodes = line_of_three();
    let mut t = Transcript::default();
    t.say(&nodes[0], "before, from a");
    t.say(&nodes[2], "before, from c");
    t.check(&mut nodes);
    let port = nodes[1].port();
    attack(&mut nodes[1], port);
    for k in 1..=3 {
        for i in [0, 1, 2] {
            let text = format!("after {k}, from {}", nodes[i].name);
            t.say(&nodes[i], &text);
        }
    }
    t.check(&mut nodes);
    // Nobody lost anybody.
    for n in &nodes {
        assert!(!n.seen.iter().any(|e| matches!(e, Event::Left { .. })), "{}: {:?}", n.name, n.seen);
    }
    t.settle(&mut nodes);
    stop_all(&nodes);
}

/// The node reports the raw socket by its address in an error containing `needle`.
pub fn expect_dropped(node: &mut TestNode, raw: &TcpStream, needle: &str) {
    let me = raw.local_addr().expect("addr");
    let err = node.wait_error("the dropped connection", &me.to_string());
    assert!(err.starts_with("dropped connection from"), "{err}");
    assert!(err.contains(needle), "{err}");
}

/// Reads until `needle` shows up in what the node sent (bounded); returns it all.
pub fn read_until_text(s: &mut TcpStream, needle: &str) -> String {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while !String::from_utf8_lossy(&got).contains(needle) {
        assert!(Instant::now() < deadline, "never got {needle:?}; got {:?}", String::from_utf8_lossy(&got));
        match s.read(&mut buf) {
            Ok(0) => panic!("closed before {needle:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

pub fn temp_log(name: &str) -> PathBuf {
    let mut p = std::env::temp_dir();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    p.push(format!("p2pchat-test-{name}-{}-{nanos}.log", std::process::id()));
    p
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ----- a line of three under attack, and raw peers (used by `adversary.rs`) ----------

/// Index of the node under attack in [`Net::nodes`]; `a` and `c` are its neighbours.
pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;

/// How often the chatter thread makes every node say something during an attack.
pub const CHAT_EVERY: Duration = Duration::from_millis(20);
/// Bound on the chatter's rounds (with [`CHAT_EVERY`], about a minute).
pub const CHAT_ROUNDS: usize = 3000;

/// A line of three nodes, `a - b - c`, and what they said.
pub struct Net {
    pub nodes: Vec<TestNode>,
    pub t: Transcript,
}

/// Sets a flag when dropped, so a chatter thread stops even if the attack panics.
pub struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Net {
    /// Starts `a - b - c` with `tweak(name, config)` applied to each, waits until
    /// all know each other and checks a first round of chat.
    pub fn start(mut tweak: impl FnMut(&str, &mut Config)) -> Net {
        let mut nodes: Vec<TestNode> = ["a", "b", "c"]
            .iter()
            .map(|name| {
                let mut cfg = config(name);
                tweak(name, &mut cfg);
                TestNode::start(cfg)
            })
            .collect();
        link(&nodes[A], &nodes[B]);
        link(&nodes[C], &nodes[B]);
        wait_all_joined(&mut nodes);
        let mut net = Net { nodes, t: Transcript::default() };
        net.round("before");
        net.t.check(&mut net.nodes);
        net
    }

    pub fn port(&self) -> u16 {
        self.nodes[B].port()
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(TestNode::id).collect()
    }

    /// Every node says one line.
    pub fn round(&mut self, label: &str) {
        for node in &self.nodes {
            self.t.say(node, &format!("{label}, from {}", node.name));
        }
    }

    /// Runs `attack` against `b` while another thread makes every node say a line
    /// every [`CHAT_EVERY`]; what they said joins the transcript.
    pub fn during<R>(&mut self, attack: impl FnOnce(&mut TestNode) -> R) -> R {
        let stop = Arc::new(AtomicBool::new(false));
        let guard = StopOnDrop(Arc::clone(&stop));
        let speakers: Vec<(NodeId, String, Handle)> =
            self.nodes.iter().map(|n| (n.id(), n.name.clone(), n.handle.clone())).collect();
        let chatter = thread::spawn(move || {
            let mut said = Vec::new();
            let end = Instant::now() + DEADLINE * 3;
            for k in 1..=CHAT_ROUNDS {
                if stop.load(Ordering::SeqCst) || Instant::now() > end {
                    break;
                }
                for (id, name, handle) in &speakers {
                    let text = format!("meanwhile {k}, from {name}");
                    if handle.send_line(&text).is_ok() {
                        said.push((*id, text));
                    }
                }
                thread::sleep(CHAT_EVERY);
            }
            said
        });
        let result = attack(&mut self.nodes[B]);
        drop(guard);
        let said = chatter.join().expect("the chatter thread");
        for (id, text) in said {
            self.t.sent.entry(id).or_default().push(text);
        }
        result
    }

    /// A new node `d` that joined through `b`: it says hello and hears everyone
    /// (a newcomer gets only the history window of what was said before it came,
    /// so it is not held to the whole transcript), then it leaves.
    pub fn welcome(&mut self, mut d: TestNode) {
        self.t.say(&d, "hello from the newcomer");
        self.round("welcome");
        self.t.check(&mut self.nodes);
        for n in &self.nodes {
            let text = format!("welcome, from {}", n.name);
            d.wait_for(&text, |seen| seen.iter().any(|e| matches!(e, Event::Message { text: t, .. } if *t == text)));
        }
        d.handle.stop();
    }

    /// A last round of chat, checked everywhere (exactly once, in order, nothing
    /// from anyone unexpected), then: nobody lost contact with any node of the
    /// network; then stops every node.
    pub fn finish(mut self) {
        self.round("after");
        self.t.check(&mut self.nodes);
        self.t.settle(&mut self.nodes);
        let ids = self.ids();
        for n in &self.nodes {
            let lost: Vec<&Event> =
                n.seen.iter().filter(|e| matches!(e, Event::Left { id, .. } if ids.contains(id))).collect();
            assert!(lost.is_empty(), "{}: {lost:?}", n.name);
        }
        stop_all(&self.nodes);
    }
}

/// A raw p2pchat peer that completed the handshake with the node on `port` as
/// `keys` called `name` (the node proved its identity in the handshake), and the
/// frames the node sent it so far.
pub fn raw_peer(port: u16, keys: &Keys, name: &str) -> (RawPeer, Vec<Frame>) {
    let addr = SocketAddr::from((LOCALHOST, port));
    let mut peer = RawPeer::connect(addr, keys, name, &testing::Net::open())
        .unwrap_or_else(|e| panic!("raw peer {name}: the handshake failed: {e}"));
    assert!(peer.session.remote().is_some(), "the node's hello came in the handshake");
    let mut got = Vec::new();
    while let Some(f) = peer.session.next_frame().expect("the node sends valid frames") {
        got.push(f);
    }
    (peer, got)
}

/// The frames a raw peer receives until the node closes the connection (which
/// must happen before [`DEADLINE`]).
pub fn frames_until_closed(peer: &mut RawPeer) -> Vec<Frame> {
    let (frames, closed) = peer.read_frames(DEADLINE, |_| false);
    assert!(closed, "the node did not close the connection; got {frames:?}");
    frames
}

/// A plain-text client (what `nc` is) that gave its name and was welcomed.
pub fn text_client(port: u16, name: &str) -> TcpStream {
    let mut s = raw_connect(port);
    s.write_all(format!("{name}\r\n").as_bytes()).expect("write the name");
    let back = read_until_text(&mut s, &format!("Welcome, {name}!"));
    assert!(back.starts_with("Welcome to p2pchat"), "{back:?}");
    s
}

/// Connects to 127.0.0.1:`port` as fast as the node accepts. When a listener's
/// backlog (128 connections) is full, the kernel drops SYNs and each connect waits
/// a second for a retransmission, so a loop that outruns the node mostly waits:
/// this one looks at the accept queue every 32 connects and lets it drain.
pub struct Connector {
    pub port: u16,
    pub count: usize,
    /// Connects that still took a SYN retransmission.
    pub retried: usize,
}

impl Connector {
    pub fn new(port: u16) -> Self {
        Connector { port, count: 0, retried: 0 }
    }

    pub fn connect(&mut self) -> TcpStream {
        if self.count.is_multiple_of(32) {
            wait_until("room in the accept queue", || accept_queue(self.port) < 64);
        }
        self.count += 1;
        let connecting = Instant::now();
        let s = TcpStream::connect_timeout(&SocketAddr::from((LOCALHOST, self.port)), Duration::from_secs(5))
            .expect("connect");
        if connecting.elapsed() > Duration::from_millis(900) {
            self.retried += 1;
        }
        s
    }
}

/// Starts a node that joins through `b` and waits until it knows `b` and `others`.
pub fn newcomer(b: &TestNode, others: &[NodeId]) -> TestNode {
    let mut d = TestNode::start(config("d"));
    link(&d, b);
    d.wait_joined(&[&[b.id()], others].concat());
    d
}

/// Whether the node closed `s` (which must be non-blocking); reads and discards
/// whatever else is there.
pub fn closed_by_node(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

pub fn assert_bye(frames: &[Frame], needle: &str) {
    assert!(
        matches!(frames.last(), Some(Frame::Bye { reason }) if reason.contains(needle)),
        "expected a goodbye with {needle:?} last; got {frames:?}"
    );
}

pub fn log_count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).map_or(0, |s| s.matches(needle).count())
}

/// The origin of the messages a node delivered from its plain-text client `from`
/// (a member of its own, with an id of its own).
pub fn text_client_origin(host: &mut TestNode, from: &str) -> NodeId {
    let Event::Message { origin, .. } = host.wait_next(
        &format!("a message from {from}"),
        |e| matches!(e, Event::Message { from: f, private: false, .. } if f == from),
    ) else {
        unreachable!()
    };
    assert_ne!(origin, host.id(), "the text client {from} speaks with its host's id");
    origin
}

pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

// ----- probes of this process and of a node's sockets ------------------------------

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`, ...).
pub fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// This process's resident memory, in KiB.
pub fn rss_kib() -> u64 {
    proc_status_kib("VmRSS")
}

/// The soft limit on open files of this process (from `/proc/self/limits`).
pub fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files")?.split_whitespace().next()?.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Descriptors this process has open.
pub fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Connections waiting in the accept queue of the listener on 127.0.0.1:`port`
/// (for a listening socket, `/proc/net/tcp` shows that queue's length as rx_queue).
pub fn accept_queue(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[1] == local && f[3] == "0A")
        .and_then(|f| usize::from_str_radix(f[4].split(':').nth(1)?, 16).ok())
        .unwrap_or(0)
}

/// Connections a node holds on its listening port: sockets in `/proc/net/tcp` on
/// 127.0.0.1:`port` that are not the listener and still belong to a process (a
/// socket the node closed shows inode 0 while the kernel finishes with it).
pub fn sockets_on_port(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 9 && f[1] == local && f[3] != "0A" && f[9] != "0"
        })
        .count()
}
