//! A node's handshake and frame handling: an inbound (or outbound) connection fed
//! arbitrary bytes, while a well-behaved neighbour is connected.
//!
//! Input: one mode byte, then the bytes the connection sends. Mode bits 0-1 say
//! where the bytes go: 0, raw from the first byte (magic, preamble, handshake:
//! anything); 1, raw after a valid preamble (the handshake messages); 2, inside
//! the encrypted session after a real handshake (the frames, each chunk its own
//! transport message); 3, raw after a real handshake (ciphertext that is not the
//! session's, or tampered with). Bit 2 makes the connection outbound (the node
//! spoke first), bits 3-7 seed the chunking and the delays between chunks (time
//! passing runs the node's timers: handshake timeout, text-client detection,
//! heartbeats, failure detection).
//! Checks: no panic; bounded output and reorder buffers; every event shown
//! without control characters; every frame the node writes to a session valid;
//! afterwards the node still delivers.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use p2pchat_core::node::Direction;
use p2pchat_fuzz::{FUZZ_PEER, Harness, Splitter, frames};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else { return };
    let mut h = Harness::new();
    let direction = if mode & 4 != 0 { Direction::Outbound { attempt: 1 } } else { Direction::Inbound };
    let mut splitter = Splitter::new(mode >> 3);
    let sealed = match mode & 3 {
        0 | 1 => {
            h.connect(FUZZ_PEER, direction);
            let mut stream = Vec::with_capacity(input.len() + 16);
            if mode & 3 == 1 {
                stream.extend(frames::preamble());
            }
            stream.extend_from_slice(input);
            for chunk in splitter.chunks(&stream) {
                h.feed(FUZZ_PEER, chunk);
                let delay = splitter.delay();
                if !delay.is_zero() {
                    h.advance(delay);
                }
            }
            false
        }
        m => {
            assert!(h.connect_with_handshake(FUZZ_PEER, direction), "a real handshake completes");
            m == 2
        }
    };
    if mode & 3 >= 2 {
        for chunk in splitter.chunks(input) {
            if !h.peers.has(FUZZ_PEER) {
                break;
            }
            if sealed {
                h.feed_sealed(FUZZ_PEER, chunk);
            } else {
                h.feed(FUZZ_PEER, chunk);
            }
            let delay = splitter.delay();
            if !delay.is_zero() {
                h.advance(delay);
            }
        }
    }
    // Let every timer that the input armed run out.
    for _ in 0..8 {
        h.advance(Duration::from_secs(1));
    }
    h.assert_alive();
    h.disconnect(FUZZ_PEER);
    h.assert_alive();
});
