//! The frame decoder fed arbitrary bytes in arbitrary chunks.
//!
//! Input: one seed byte (how to cut the stream into chunks), then the stream.
//! Checks: no panic; the same frames (and the same error) whether the stream comes
//! at once or in chunks; every frame that comes out is valid, at most one frame's
//! worth of bytes, and survives encode/decode unchanged; the decoder never holds
//! more than it was given; `Frame::decode_body` and `check_preamble` on the raw
//! bytes do not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pchat_core::wire::{self, Frame, FrameDecoder, LEN_PREFIX, MAX_FRAME, WireError};
use p2pchat_fuzz::Splitter;

fn decode(chunks: &[&[u8]]) -> (Vec<Frame>, Option<WireError>) {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut given = 0;
    for chunk in chunks {
        decoder.extend(chunk);
        given += chunk.len();
        loop {
            match decoder.next_frame() {
                Ok(Some((frame, raw))) => {
                    assert!(raw.len() <= LEN_PREFIX + MAX_FRAME);
                    let len = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
                    assert_eq!(raw.len(), LEN_PREFIX + len, "raw bytes are the whole frame");
                    frame.validate().expect("a decoded frame is valid");
                    let encoded = frame.encode().expect("a decoded frame encodes");
                    let again = Frame::decode_body(&encoded[LEN_PREFIX..]).expect("and decodes again");
                    assert_eq!(again, frame, "encode/decode round trip");
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
            assert!(decoder.buffered() <= given);
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let whole = decode(&[stream]);
    let chunks = Splitter::new(seed).chunks(stream);
    let chunked = decode(&chunks);
    assert_eq!(whole, chunked, "chunking changed what was decoded");

    if let Ok(frame) = Frame::decode_body(stream) {
        frame.validate().expect("decode_body validates");
    }
    let _ = wire::check_preamble(&stream[..stream.len().min(wire::PREAMBLE.len())]);
});
