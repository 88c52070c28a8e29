//! Helpers shared by the fuzz targets: cutting a byte stream into chunks (the
//! same way for the same seed), a node with one well-behaved neighbour to feed a
//! hostile connection into, and the checks made on everything a node emits. The
//! frames it builds by hand come from the core tests' `common/frames.rs`, included
//! here by path, so that the fuzz seeds and the core tests spell them out once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use p2pchat_core::node::{Direction, Node, PeerId};
use p2pchat_core::sim::default_config;
use p2pchat_core::wire::PREAMBLE;
use p2pchat_core::{Event, NodeId};

/// The hand-built frames shared with the core's tests.
#[path = "../../core/tests/common/frames.rs"]
pub mod frames;
pub use frames::hello;

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

/// The id of the well-behaved neighbour.
pub const GOOD_ID: NodeId = NodeId::from_u64(0x600d_600d_600d_600d);
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
        cfg.id = NodeId::from_u64(99);
        cfg.name = "target".into();
        cfg.port = 5000;
        let now = Instant::now();
        let mut h = Harness { node: Node::new(cfg, now), now, written: 0 };
        h.connect(GOOD_PEER, Direction::Inbound);
        let mut handshake = PREAMBLE.to_vec();
        handshake.extend(hello(GOOD_ID, "good", 4001));
        handshake.extend(frames::empty_sync());
        h.feed(GOOD_PEER, &handshake);
        h
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
        while let Some((_, bytes)) = self.node.poll_transmit() {
            self.written += bytes.len();
        }
        assert!(self.written <= MAX_OUTPUT, "the node wrote {} bytes for one input", self.written);
        while let Some(ev) = self.node.poll_event() {
            check_event(&ev);
        }
        while self.node.poll_action().is_some() {}
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
