//! What the tests that play a p2pchat peer send, built on the core's raw test
//! peer (`p2pchat_core::testing`): signed chat frames numbered in an incarnation
//! of their own, the open network's preamble (and a version-1 one), an empty sync
//! summary, and [`RawPeers`], the raw peers of one sans-IO [`Node`] (real
//! handshakes, then anything inside or outside the encrypted sessions). The core's
//! tests use it through `common` (`common::frames`, re-exported there), the fuzz
//! harness includes this file by path (`fuzz/src/lib.rs`), so it depends on
//! nothing but the core (with its `testing` feature). The sample of one frame of
//! every kind (for round trips, random inputs and the fuzz seeds) is
//! `p2pchat_core::sim::sample_frames`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use p2pchat_core::crypto::Keys;
use p2pchat_core::node::{Direction, Node, NodeConfig, PeerId};
use p2pchat_core::testing::{self, Net, RawSession};
use p2pchat_core::wire::{self, Frame, Preamble};

/// The incarnation the raw peers of these tests number their messages in (any
/// will do above 0: a first message of an incarnation above the last one seen is
/// in order).
pub const INCARNATION: u64 = 1000;

/// The `n`-th sequence number (from 1) of a raw peer: [`wire::seq_start`] of
/// [`INCARNATION`], plus `n - 1`.
pub fn nth_seq(n: u64) -> u64 {
    wire::seq_start(INCARNATION) + n - 1
}

/// Gives a node's settings the key pair `Keys::from_u64(n)` (and its id).
pub fn with_keys(cfg: &mut NodeConfig, n: u64) {
    cfg.keys = Keys::from_u64(n);
    cfg.id = cfg.keys.id();
}

/// The preamble of a node of the default open network (`p2pchat`), version 2:
/// what a node answers any peer first.
pub fn preamble() -> Vec<u8> {
    Preamble { network: "p2pchat".into(), secret_tag: None }.encode()
}

/// The start of a version-1 peer's connection: the magic and version 1 (which
/// was followed by a cleartext hello frame).
pub const V1_START: [u8; 6] = *b"\x7fP2P\x00\x01";

/// A chat message from `keys`, its sequence number `seq`, signed alone, decoded.
pub fn chat(keys: &Keys, seq: u64, name: &str, text: &str) -> Frame {
    let raw = testing::signed_chat(keys, seq, name, text);
    Frame::decode_body(&raw[wire::LEN_PREFIX..]).expect("a signed chat decodes")
}

/// [`chat`], encoded with its length prefix.
pub fn chat_frame(keys: &Keys, seq: u64, name: &str, text: &str) -> Vec<u8> {
    testing::signed_chat(keys, seq, name, text).to_vec()
}

/// The last (and only) frame of an empty sync summary: what a peer that has seen
/// nothing sends after its handshake.
pub fn empty_sync() -> Vec<u8> {
    testing::encode(&Frame::Sync { marks: Vec::new(), last: true }).to_vec()
}

/// A heartbeat frame.
pub fn heartbeat() -> Vec<u8> {
    testing::encode(&Frame::Heartbeat).to_vec()
}

/// The raw peers of one sans-IO [`Node`], by connection: each a [`RawSession`]
/// that completed a real handshake with the node. Every byte the node writes is
/// taken by [`RawPeers::pump`] (to a session's connection: decrypted into its
/// frames; to any other: only counted), so no session ever misses a transport
/// message of its own.
#[derive(Debug, Default)]
pub struct RawPeers {
    sessions: BTreeMap<PeerId, RawSession>,
    /// Frames each connection received from the node and nobody took yet.
    pub received: BTreeMap<PeerId, Vec<Frame>>,
}

impl RawPeers {
    /// No peers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A raw peer connects to `node` (the node sees connection `peer` arrive from
    /// 127.0.0.1, port 40000 + `peer`) and completes the handshake as `keys`
    /// called `name`.
    pub fn connect(&mut self, node: &mut Node, peer: PeerId, keys: &Keys, name: &str, now: Instant) {
        let remote = SocketAddr::from(([127, 0, 0, 1], 40000u16.wrapping_add(peer.0 as u16)));
        let local = SocketAddr::from(([127, 0, 0, 1], node.port()));
        node.handle_connected(peer, Direction::Inbound, remote, local, now);
        self.handshake_inbound(node, peer, keys, name, now);
    }

    /// Completes a handshake as `keys` called `name` on `peer`, a connection
    /// already reported to `node` as inbound.
    pub fn handshake_inbound(&mut self, node: &mut Node, peer: PeerId, keys: &Keys, name: &str, now: Instant) {
        let (session, first) = RawSession::initiator(keys, name, &Net::open()).expect("a raw session starts");
        self.handshake(node, peer, session, first, now).expect("the handshake completes");
    }

    /// Completes the handshake of `session` (whose first bytes to send are
    /// `first`: empty for a responder) with `node` on `peer`, a connection it
    /// knows (inbound, or outbound for a responder), by shuttling bytes both ways
    /// until neither side has anything more to say. Err if the session is not
    /// ready then, or refused what the node sent.
    pub fn handshake(
        &mut self,
        node: &mut Node,
        peer: PeerId,
        session: RawSession,
        first: Vec<u8>,
        now: Instant,
    ) -> Result<(), String> {
        self.sessions.insert(peer, session);
        let mut to_node = first;
        // Three handshake messages, then the node's first frames: a few rounds.
        for _ in 0..16 {
            if !to_node.is_empty() {
                node.handle_data(peer, &std::mem::take(&mut to_node), now);
            }
            let mut from_node = Vec::new();
            self.pump_into(node, Some((peer, &mut from_node)));
            let session = self.sessions.get_mut(&peer).ok_or("no session")?;
            if from_node.is_empty() {
                return if session.ready() { Ok(()) } else { Err("the handshake stalled".into()) };
            }
            to_node = session.receive(&from_node).map_err(|e| format!("the node's handshake: {e}"))?;
            self.take_decrypted(peer)?;
        }
        Err("the handshake did not settle".into())
    }

    /// The session of `peer`.
    pub fn session(&mut self, peer: PeerId) -> &mut RawSession {
        self.sessions.get_mut(&peer).expect("a raw peer on that connection")
    }

    /// Whether `peer` has a session here.
    pub fn has(&self, peer: PeerId) -> bool {
        self.sessions.contains_key(&peer)
    }

    /// Encrypts `plain` (frames, or any bytes of the frame stream) in `peer`'s
    /// session, into transport messages to hand to the node.
    pub fn seal(&mut self, peer: PeerId, plain: &[u8]) -> Vec<u8> {
        self.session(peer).seal(plain).expect("the session is ready")
    }

    /// Sends `plain` to `node` inside `peer`'s session.
    pub fn send(&mut self, node: &mut Node, peer: PeerId, plain: &[u8], now: Instant) {
        let sealed = self.seal(peer, plain);
        node.handle_data(peer, &sealed, now);
    }

    /// Takes everything the node wrote: to raw peers here, decrypted into
    /// [`RawPeers::received`]. Returns the bytes it wrote to each connection (here
    /// or not). Panics if a session cannot read what the node wrote to it.
    pub fn pump(&mut self, node: &mut Node) -> BTreeMap<PeerId, usize> {
        self.pump_into(node, None)
    }

    fn pump_into(&mut self, node: &mut Node, mut keep: Option<(PeerId, &mut Vec<u8>)>) -> BTreeMap<PeerId, usize> {
        let mut written = BTreeMap::new();
        while let Some((p, bytes)) = node.poll_transmit() {
            *written.entry(p).or_insert(0) += bytes.len();
            match &mut keep {
                Some((k, buf)) if *k == p => buf.extend_from_slice(&bytes),
                _ => {
                    if let Some(s) = self.sessions.get_mut(&p) {
                        let back = s.receive(&bytes).unwrap_or_else(|e| panic!("connection {}: {e}", p.0));
                        assert!(back.is_empty(), "connection {}: a handshake answer after the handshake", p.0);
                        if let Err(e) = self.take_decrypted(p) {
                            panic!("connection {}: {e}", p.0);
                        }
                    }
                }
            }
        }
        written
    }

    fn take_decrypted(&mut self, peer: PeerId) -> Result<(), String> {
        let Some(s) = self.sessions.get_mut(&peer) else { return Ok(()) };
        let got = self.received.entry(peer).or_default();
        while let Some(f) = s.next_frame().map_err(|e| format!("the node's frames: {e}"))? {
            got.push(f);
        }
        Ok(())
    }

    /// The frames `peer` received so far, taken.
    pub fn take_frames(&mut self, peer: PeerId) -> Vec<Frame> {
        self.received.remove(&peer).unwrap_or_default()
    }

    /// Forgets `peer` (its connection closed).
    pub fn forget(&mut self, peer: PeerId) {
        self.sessions.remove(&peer);
        self.received.remove(&peer);
    }
}
