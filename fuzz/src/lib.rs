//! Helpers shared by the fuzz targets: cutting a byte stream into chunks (the
//! same way for the same seed), a node with one well-behaved neighbour to feed a
//! hostile connection into (both through real handshakes, with the core's raw
//! test peer), and the checks made on everything a node emits. The frames it
//! builds by hand and the raw peers of a sans-IO node come from the core tests'
//! `common/frames.rs`, included here by path, so that the fuzz seeds and the core
//! tests spell them out once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use p2pchat_core::Event;
use p2pchat_core::crypto::Keys;
use p2pchat_core::node::{Action, Direction, Node, PeerId};
use p2pchat_core::sim::default_config;
use p2pchat_core::testing::{Net, RawSession};

/// The hand-built frames and raw peers shared with the core's tests.
#[path = "../../core/tests/common/frames.rs"]
pub mod frames;
use frames::RawPeers;

/// Cuts a stream into chunks and picks delays, from a one-byte seed.
#[derive(Debug)]
pub struct Splitter {
    state: u32,
    whole: bool,
}

impl Splitter {
    /// Seed 0 hands the stream over in one piece.
    pub fn new(seed: u8) -> Self {
        Splitter { state: u32::from(seed).wrapping_mul(0x9E37_79B9) | 1, whole: seed == 0 }
    }

    fn next(&mut self) -> u32 {
        // xorshift32
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        x
    }

    /// The stream in chunks: mostly small ones (1 to 16 bytes), sometimes the rest.
    pub fn chunks<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let n = if self.whole {
                data.len()
            } else {
                let r = self.next();
                if r & 0xf00 == 0 { data.len() } else { 1 + (r as usize % 16).min(data.len() - 1) }
            };
            let (chunk, rest) = data.split_at(n);
            out.push(chunk);
            data = rest;
        }
        out
    }

    /// A delay before the next chunk: usually none, sometimes up to about 1.3 s.
    pub fn delay(&mut self) -> Duration {
        let r = self.next();
        match r & 3 {
            0 => Duration::from_millis(u64::from((r >> 2) % 1300)),
            _ => Duration::ZERO,
        }
    }
}

/// The key of the well-behaved neighbour (`Keys::from_u64` of this).
pub const GOOD_KEY: u64 = 0x600d_600d_600d_600d;
/// The key the fuzzer's connection speaks as, when it completes a handshake.
pub const FUZZ_KEY: u64 = 0xf022;
/// The node's key.
pub const TARGET_KEY: u64 = 99;
/// Its connection.
pub const GOOD_PEER: PeerId = PeerId(1);
/// The connection the fuzzer's bytes arrive on.
pub const FUZZ_PEER: PeerId = PeerId(2);
/// The most a node may write while one hostile input of at most a few KiB is fed
/// to it (everything it writes is caused by that input, its history and records).
pub const MAX_OUTPUT: usize = 4 << 20;

/// A node named "target" with one established neighbour, "good".
#[derive(Debug)]
pub struct Harness {
    /// The node.
    pub node: Node,
    /// Its clock.
    pub now: Instant,
    /// Bytes it wrote to the fuzzer's connection and to the neighbour.
    pub written: usize,
    /// The raw sessions: the neighbour's, and the fuzzer's once it completed a
    /// handshake.
    pub peers: RawPeers,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// The node, with "good" connected and through its handshake.
    pub fn new() -> Self {
        let mut cfg = default_config();
        frames::with_keys(&mut cfg, TARGET_KEY);
        cfg.name = "target".into();
        cfg.port = 5000;
        let now = Instant::now();
        let mut h = Harness { node: Node::new(cfg, now), now, written: 0, peers: RawPeers::new() };
        h.connect(GOOD_PEER, Direction::Inbound);
        h.peers.handshake_inbound(&mut h.node, GOOD_PEER, &Keys::from_u64(GOOD_KEY), "good", now);
        h.peers.send(&mut h.node, GOOD_PEER, &frames::empty_sync(), now);
        h.drain();
        h
    }

    /// A new connection `peer` in `direction`, and a real handshake on it as
    /// [`FUZZ_KEY`] called "fuzzer"; false if the node did not complete it.
    pub fn connect_with_handshake(&mut self, peer: PeerId, direction: Direction) -> bool {
        let remote: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 40000 + peer.0 as u16));
        let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5000));
        // Not drained before the session exists: an outbound connection starts
        // with the node's preamble and first handshake message.
        self.node.handle_connected(peer, direction, remote, local, self.now);
        let keys = Keys::from_u64(FUZZ_KEY);
        let (session, first) = match direction {
            Direction::Inbound => RawSession::initiator(&keys, "fuzzer", &Net::open()).expect("a session"),
            Direction::Outbound { .. } => {
                (RawSession::responder(&keys, "fuzzer", &Net::open()).expect("a session"), Vec::new())
            }
        };
        let done = self.peers.handshake(&mut self.node, peer, session, first, self.now).is_ok();
        self.drain();
        done
    }

    /// The connection `peer` closed (from the other side).
    pub fn disconnect(&mut self, peer: PeerId) {
        self.node.handle_disconnected(peer, "fuzz input over", self.now);
        self.drain();
        self.peers.forget(peer);
    }

    /// `plain` sent inside `peer`'s session.
    pub fn feed_sealed(&mut self, peer: PeerId, plain: &[u8]) {
        let sealed = self.peers.seal(peer, plain);
        self.feed(peer, &sealed);
    }

    /// A new connection.
    pub fn connect(&mut self, peer: PeerId, direction: Direction) {
        let remote: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 40000 + peer.0 as u16));
        let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5000));
        self.node.handle_connected(peer, direction, remote, local, self.now);
        self.drain();
    }

    /// Bytes arriving on `peer`.
    pub fn feed(&mut self, peer: PeerId, data: &[u8]) {
        self.node.handle_data(peer, data, self.now);
        self.drain();
    }

    /// Time passes; the node's timers run when due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.node.poll_timeout().is_some_and(|t| t <= self.now) {
            self.node.handle_timeout(self.now);
        }
        self.drain();
    }

    /// Takes everything the node emitted, checking it.
    pub fn drain(&mut self) {
        // The sessions decrypt what the node writes them (a node writes nothing a
        // session of its own cannot read).
        self.written += self.peers.pump(&mut self.node).values().sum::<usize>();
        for f in self.peers.take_frames(GOOD_PEER).iter().chain(&self.peers.take_frames(FUZZ_PEER)) {
            f.validate().expect("the node writes valid frames");
        }
        assert!(self.written <= MAX_OUTPUT, "the node wrote {} bytes for one input", self.written);
        while let Some(ev) = self.node.poll_event() {
            check_event(&ev);
        }
        while let Some(action) = self.node.poll_action() {
            if let Action::Disconnect { peer, .. } = action {
                self.peers.forget(peer);
            }
        }
        while self.node.poll_log().is_some() {}
        assert!(self.node.pending_count() <= 4096, "reorder buffers hold {}", self.node.pending_count());
    }

    /// The node still works: a line typed by its user comes back as a message.
    pub fn assert_alive(&mut self) {
        self.drain();
        let text = "still alive after the fuzz input";
        self.node.handle_line(text, self.now);
        let mut seen = false;
        while let Some(ev) = self.node.poll_event() {
            check_event(&ev);
            if let Event::Message { text: t, .. } = &ev {
                seen |= t == text;
            }
        }
        assert!(seen, "the node no longer delivers its own user's messages");
        self.drain();
    }
}

/// What a user sees of an event has no control characters (escape sequences from
/// the network are neutralised), and its JSON has none unescaped.
pub fn check_event(ev: &Event) {
    if let Some((who, what)) = ev.display() {
        assert!(!who.chars().any(char::is_control), "control character in {who:?} ({ev:?})");
        assert!(!what.chars().any(char::is_control), "control character in {what:?} ({ev:?})");
    }
    if let Some(json) = ev.to_json() {
        assert!(!json.chars().any(char::is_control), "unescaped control character in {json:?}");
    }
}
