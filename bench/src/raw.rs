//! Lightweight protocol clients: the core's raw test peer
//! (`p2pchat_core::testing`, a real handshake and Noise session over a plain
//! blocking socket) used as a peer of a real node.
//!
//! [`RawPeer::connect`] completes the handshake (the node proves its identity in
//! it), then reads the node's member records and sync summary, decrypted and
//! decoded (so the start of the link is checked properly). After that the
//! benchmark only needs to count chat messages at full speed, which
//! [`ChatCounter`] does by decrypting what arrives with the session and walking
//! the length prefixes of the plaintext, looking at each body's first bytes (the
//! bincode variant tag, [`wire::CHAT_TAG`] or [`wire::BATCH_TAG`], and a batch's
//! message count) instead of decoding every frame: decoding would cost the
//! client more CPU than the relay it measures, on a machine with two cores. What
//! a client sends as an origin is signed for real ([`signed_stream`]: batch
//! frames of [`MAX_BATCH`] messages, one signature each, as a node sends a
//! burst).

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use p2pchat_core::crypto::{Keys, MAX_BATCH};
use p2pchat_core::testing::{self, Net, RawSession};
use p2pchat_core::wire::{self, Frame, LEN_PREFIX};

/// A connected, handshaken peer.
#[derive(Debug)]
pub struct RawPeer {
    /// The socket (blocking).
    pub stream: TcpStream,
    /// The Noise session.
    pub session: RawSession,
    /// Plaintext the node sent after its sync summary that was already decrypted.
    pub leftover: Vec<u8>,
}

fn proto_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Encodes a frame with its length prefix.
pub fn encode(frame: &Frame) -> io::Result<Vec<u8>> {
    frame.encode().map(|b| b.to_vec()).map_err(proto_err)
}

/// Batch frames from `keys` called `name`, numbered from `first`, of
/// [`MAX_BATCH`] texts each (the last may be shorter), each frame with its
/// length prefix.
pub fn signed_stream(keys: &Keys, first: u64, name: &str, texts: &[String]) -> Vec<Vec<u8>> {
    texts
        .chunks(MAX_BATCH)
        .enumerate()
        .map(|(i, batch)| {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            testing::signed_batch_frame(keys, first + (i * MAX_BATCH) as u64, name, &refs).to_vec()
        })
        .collect()
}

/// How many messages a batch frame's body holds, read from its first bytes:
/// the tag, the origin (a 32-byte string: its length, one byte, then the
/// bytes), the first sequence number and the length of the message list (both
/// bincode varints: one byte below 251, else a marker byte 251, 252 or 253
/// followed by 2, 4 or 8 bytes).
fn batch_len(body: &[u8]) -> Option<u64> {
    fn varint(b: &[u8]) -> Option<(u64, usize)> {
        let n = match *b.first()? {
            v @ 0..=250 => return Some((u64::from(v), 1)),
            251 => 2,
            252 => 4,
            253 => 8,
            _ => return None,
        };
        let bytes = b.get(1..1 + n)?;
        Some((bytes.iter().fold(0, |acc, &x| acc << 8 | u64::from(x)), 1 + n))
    }
    let rest = body.get(1 + 33..)?;
    let (_, used) = varint(rest)?;
    varint(rest.get(used..)?).map(|(n, _)| n)
}

impl RawPeer {
    /// Connects to `addr` and completes the handshake as `keys` called `name`,
    /// then waits (at most `timeout`) for the node's sync summary.
    pub fn connect(addr: SocketAddr, keys: &Keys, name: &str, timeout: Duration) -> io::Result<RawPeer> {
        let mut peer = testing::RawPeer::connect(addr, keys, name, &Net::open())?;
        let (frames, closed) =
            peer.read_frames(timeout, |f| matches!(f, Frame::Sync { last: true, .. } | Frame::Bye { .. }));
        match frames.last() {
            Some(Frame::Sync { last: true, .. }) => {}
            Some(Frame::Bye { reason }) => return Err(proto_err(format!("the node said goodbye: {reason}"))),
            _ if closed => return Err(proto_err("the node closed the connection during the handshake")),
            _ => return Err(io::Error::new(io::ErrorKind::TimedOut, "no sync summary from the node")),
        }
        let testing::RawPeer { stream, mut session } = peer;
        let leftover = session.take_buffered();
        Ok(RawPeer { stream, session, leftover })
    }
}

/// Counts chat frames in an encrypted stream fed in arbitrary chunks: decrypts
/// with the session, then walks the length prefixes (see the module
/// documentation).
#[derive(Debug)]
pub struct ChatCounter {
    session: RawSession,
    buf: Vec<u8>,
    plain: Vec<u8>,
}

impl ChatCounter {
    /// A counter decrypting with `session`, starting with `leftover` plaintext.
    pub fn new(session: RawSession, leftover: &[u8]) -> ChatCounter {
        ChatCounter { session, buf: vec![0u8; 1 << 20], plain: leftover.to_vec() }
    }

    /// Reads once from `r`; returns how many chat frames that completed, or `None`
    /// at end of stream.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<Option<u64>> {
        let n = r.read(&mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.session.open_into(&self.buf[..n], &mut self.plain)?;
        Ok(Some(self.scan()))
    }

    /// Counts complete frames at the front, keeps the incomplete tail.
    fn scan(&mut self) -> u64 {
        let mut pos = 0;
        let mut chats = 0;
        let len = self.plain.len();
        while len - pos > LEN_PREFIX {
            let b = &self.plain[pos..];
            let body = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if len - pos < LEN_PREFIX + body {
                break;
            }
            match b.get(LEN_PREFIX) {
                Some(&wire::CHAT_TAG) => chats += 1,
                Some(&wire::BATCH_TAG) => chats += batch_len(&b[LEN_PREFIX..LEN_PREFIX + body]).unwrap_or(0),
                _ => {}
            }
            pos += LEN_PREFIX + body;
        }
        self.plain.drain(..pos);
        chats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sessions that completed a handshake with each other.
    fn pair() -> (RawSession, RawSession) {
        let (a, b) = (Keys::from_u64(1), Keys::from_u64(2));
        let (mut i, first) = RawSession::initiator(&a, "a", &Net::open()).expect("initiator");
        let mut r = RawSession::responder(&b, "b", &Net::open()).expect("responder");
        let second = r.receive(&first).expect("first message");
        let third = i.receive(&second).expect("second message");
        assert!(r.receive(&third).expect("third message").is_empty());
        assert!(i.ready() && r.ready());
        (i, r)
    }

    #[test]
    fn counter_counts_chats_across_chunk_boundaries_after_decryption() {
        let keys = Keys::from_u64(9);
        let texts: Vec<String> = (0..150).map(|k| format!("hello there {k}")).collect();
        let mut plain = Vec::new();
        for batch in signed_stream(&keys, wire::seq_start(7), "a", &texts) {
            plain.extend(batch);
            plain.extend(encode(&Frame::Heartbeat).expect("encode"));
        }
        // A message alone counts one; a batch with a small first number too.
        plain.extend(testing::signed_chat(&keys, wire::seq_start(8), "a", "alone"));
        plain.extend(testing::signed_batch_frame(&keys, 5, "a", &["x", "y"]));
        for step in [1, 3, 7, 64, 1000] {
            let (mut sender, receiver) = pair();
            // Several transport messages, cut anywhere.
            let mut wire = Vec::new();
            for part in plain.chunks(777) {
                wire.extend(sender.seal(part).expect("seal"));
            }
            let mut c = ChatCounter::new(receiver, &[]);
            let mut total = 0;
            for part in wire.chunks(step) {
                let mut r = part;
                total += c.read_from(&mut r).expect("read").expect("bytes");
            }
            assert_eq!(total, 153, "chunks of {step}");
        }
    }
}
