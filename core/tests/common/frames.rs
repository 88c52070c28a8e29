//! Frames built by hand for the tests that play a p2pchat peer: the one place
//! that spells out a hello, a chat message and an empty sync summary. The core's
//! tests use it through `common` (`common::frames`, re-exported there), the fuzz
//! harness includes this file by path (`fuzz/src/lib.rs`), so it depends on
//! nothing but the core's `wire`. The sample of one frame of every kind (for round
//! trips, random inputs and the fuzz seeds) is `p2pchat_core::sim::sample_frames`.

use p2pchat_core::NodeId;
use p2pchat_core::wire::{Chat, Frame, Hello, PREAMBLE};

/// A hello from `id` called `name`, listening on `port`, with its length prefix.
pub fn hello(id: NodeId, name: &str, port: u16) -> Vec<u8> {
    Frame::Hello(Hello { id, name: name.into(), port }).encode().expect("a hello encodes").to_vec()
}

/// The preamble and a hello from `id` called `name` (listening on port 1): what
/// a peer sends first.
pub fn hello_as(id: NodeId, name: &str) -> Vec<u8> {
    let mut v = PREAMBLE.to_vec();
    v.extend_from_slice(&hello(id, name, 1));
    v
}

/// The handshake of the peer that tests use when any will do: id 12345, "raw".
pub fn raw_hello() -> Vec<u8> {
    hello_as(NodeId::from_u64(12345), "raw")
}

/// A chat message from `origin` (its `seq`-th) signed `name`.
pub fn chat(origin: NodeId, seq: u64, name: &str, text: &str) -> Frame {
    Frame::Chat(Chat { origin, seq, name: name.into(), text: text.into() })
}

/// [`chat`], encoded with its length prefix.
pub fn chat_frame(origin: NodeId, seq: u64, name: &str, text: &str) -> Vec<u8> {
    chat(origin, seq, name, text).encode().expect("a chat encodes").to_vec()
}

/// The last (and only) frame of an empty sync summary: what a peer that has seen
/// nothing sends after its hello.
pub fn empty_sync() -> Vec<u8> {
    Frame::Sync { marks: Vec::new(), last: true }.encode().expect("a sync encodes").to_vec()
}
