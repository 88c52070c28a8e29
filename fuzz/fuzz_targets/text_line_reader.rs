//! Plain-text clients (a person on nc): the line reader alone, then a node's text
//! client fed arbitrary bytes.
//!
//! Input: one seed byte (chunking and delays), then the bytes the client types;
//! a stream that starts with the magic's first byte gets '#' in front, so the
//! connection is always a text client.
//! Checks, line reader: no panic; the same lines whether the bytes come at once
//! or in chunks; no line longer than the cap (after invalid UTF-8 is replaced).
//! Checks, node: no panic; bounded output; every event shown without control
//! characters; afterwards the node still delivers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pchat_core::node::Direction;
use p2pchat_core::node::netcat::{Line, LineReader, MAX_NETCAT_LINE};
use p2pchat_core::wire::MAGIC;
use p2pchat_fuzz::{FUZZ_PEER, Harness, Splitter};

fn lines(chunks: &[&[u8]]) -> Vec<Line> {
    let mut reader = LineReader::default();
    let mut out = Vec::new();
    for chunk in chunks {
        reader.feed(chunk, |line| {
            if let Line::Text(text) = &line {
                // U+FFFD (3 bytes) replaces each invalid byte at worst.
                assert!(text.len() <= 3 * MAX_NETCAT_LINE, "a line of {} bytes came out", text.len());
                assert!(!text.contains('\n'));
            }
            out.push(line);
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };

    let whole = lines(&[input]);
    let chunks = Splitter::new(seed).chunks(input);
    assert_eq!(whole, lines(&chunks), "chunking changed the lines");

    let mut stream = Vec::with_capacity(input.len() + 1);
    if input.first() == Some(&MAGIC[0]) {
        stream.push(b'#');
    }
    stream.extend_from_slice(input);
    let mut h = Harness::new();
    h.connect(FUZZ_PEER, Direction::Inbound);
    let mut splitter = Splitter::new(seed);
    for chunk in splitter.chunks(&stream) {
        h.feed(FUZZ_PEER, chunk);
        let delay = splitter.delay();
        if !delay.is_zero() {
            h.advance(delay);
        }
    }
    h.assert_alive();
    h.node.handle_disconnected(FUZZ_PEER, "fuzz input over", h.now);
    h.drain();
    h.assert_alive();
});
