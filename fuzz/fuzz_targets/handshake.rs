//! A node's handshake and frame handling: an inbound (or outbound) connection fed
//! arbitrary bytes, while a well-behaved neighbour is connected.
//!
//! Input: one mode byte, then the bytes the connection sends. Mode bit 0 puts a
//! valid preamble in front, bit 1 a valid hello after it, bit 2 makes the
//! connection outbound (the node spoke first), bits 3-7 seed the chunking and the
//! delays between chunks (time passing runs the node's timers: handshake timeout,
//! text-client detection, heartbeats, failure detection).
//! Checks: no panic; bounded output and reorder buffers; every event shown
//! without control characters; afterwards the node still delivers.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use p2pchat_core::NodeId;
use p2pchat_core::node::Direction;
use p2pchat_core::wire::PREAMBLE;
use p2pchat_fuzz::{FUZZ_PEER, Harness, Splitter, hello};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else { return };
    let mut stream = Vec::with_capacity(input.len() + 64);
    if mode & 1 != 0 {
        stream.extend_from_slice(&PREAMBLE);
        if mode & 2 != 0 {
            stream.extend(hello(NodeId(0xf022), "fuzzer", 4002));
        }
    }
    stream.extend_from_slice(input);

    let mut h = Harness::new();
    let direction = if mode & 4 != 0 { Direction::Outbound { attempt: 1 } } else { Direction::Inbound };
    h.connect(FUZZ_PEER, direction);
    let mut splitter = Splitter::new(mode >> 3);
    for chunk in splitter.chunks(&stream) {
        h.feed(FUZZ_PEER, chunk);
        let delay = splitter.delay();
        if !delay.is_zero() {
            h.advance(delay);
        }
    }
    // Let every timer that the input armed run out.
    for _ in 0..8 {
        h.advance(Duration::from_secs(1));
    }
    h.assert_alive();
    h.node.handle_disconnected(FUZZ_PEER, "fuzz input over", h.now);
    h.drain();
    h.assert_alive();
});
