//! The frame decoder fed arbitrary bytes in arbitrary chunks.
//!
//! Input: one seed byte (how to cut the stream into chunks), then the stream.
//! Checks: no panic; the same frames (and the same error) whether the stream comes
//! at once or in chunks; every frame that comes out is valid, at most one frame's
//! worth of bytes, and survives encode/decode unchanged; the decoder never holds
//! more than it was given; `peek_chat` and `peek_batch` (the node's zero-copy
//! paths for chat messages) agree with `Frame::decode_body` on every frame body, and on the raw stream
//! taken as one body; `read_preamble` and `Hello::decode` do not panic, and a
//! preamble read encodes back to the bytes it was read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2pchat_core::wire::{self, Frame, FrameDecoder, LEN_PREFIX, MAX_FRAME, WireError, peek_batch, peek_chat};
use p2pchat_fuzz::Splitter;

/// `peek_chat` says what `decode_body` says: the same chat, an error for the
/// same bodies, and `None` for every other kind of frame.
fn peek_agrees(body: &[u8]) {
    match (peek_chat(body), Frame::decode_body(body)) {
        (None, Ok(Frame::Chat(c))) => panic!("peek_chat missed a chat: {c:?}"),
        (None, _) => {}
        (Some(Ok(peeked)), Ok(Frame::Chat(c))) => assert_eq!(peeked.to_owned(), c),
        (Some(Ok(peeked)), other) => panic!("peek_chat accepted {peeked:?}; decode_body says {other:?}"),
        (Some(Err(e)), Ok(f)) => panic!("peek_chat refused ({e}) what decode_body accepts: {f:?}"),
        (Some(Err(_)), Err(_)) => {}
    }
    match (peek_batch(body), Frame::decode_body(body)) {
        (None, Ok(Frame::Batch(b))) => panic!("peek_batch missed a batch: {b:?}"),
        (None, _) => {}
        (Some(Ok(peeked)), Ok(Frame::Batch(b))) => assert_eq!(peeked.to_owned(), b),
        (Some(Ok(peeked)), other) => panic!("peek_batch accepted {peeked:?}; decode_body says {other:?}"),
        (Some(Err(e)), Ok(f)) => panic!("peek_batch refused ({e}) what decode_body accepts: {f:?}"),
        (Some(Err(_)), Err(_)) => {}
    }
}

/// The frames (and the final error) of a stream fed in `chunks`, through
/// `next_frame()` or through `next_raw()` as the node does.
fn decode(chunks: &[&[u8]], use_next_frame: bool) -> (Vec<Frame>, Option<WireError>) {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut given = 0;
    for chunk in chunks {
        decoder.extend(chunk);
        given += chunk.len();
        loop {
            let next = if use_next_frame {
                decoder.next_frame()
            } else {
                decoder.next_raw().and_then(|raw| match raw {
                    Some(raw) => {
                        peek_agrees(&raw[LEN_PREFIX..]);
                        Frame::decode_body(&raw[LEN_PREFIX..]).map(|frame| Some((frame, raw)))
                    }
                    None => Ok(None),
                })
            };
            match next {
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
    let whole = decode(&[stream], true);
    let chunks = Splitter::new(seed).chunks(stream);
    let chunked = decode(&chunks, false);
    assert_eq!(whole, chunked, "chunking changed what was decoded");

    if let Ok(frame) = Frame::decode_body(stream) {
        frame.validate().expect("decode_body validates");
    }
    peek_agrees(stream);
    // The cleartext start of a connection: a preamble read back is the bytes
    // it came as; a handshake payload (a hello) decodes or fails, never panics.
    if let Ok(wire::PreambleRead::Complete(p, used)) = wire::read_preamble(stream) {
        assert_eq!(p.encode(), stream[..used], "preamble round trip");
    }
    let _ = wire::Hello::decode(stream);
});
