//! Lightweight protocol clients: a plain blocking socket that speaks just enough of
//! the wire protocol to be a peer of a real node.
//!
//! [`RawPeer::connect`] sends the preamble and a hello, then reads the node's
//! preamble, hello, member records and sync summary through a
//! [`FrameDecoder`] (so the handshake is checked properly). After that the benchmark
//! only needs to count chat frames at full speed, which [`ChatCounter`] does by
//! walking the length prefixes and looking at each body's first byte (the bincode
//! variant tag) instead of decoding every frame: decoding would cost the client
//! more CPU than the relay it measures, on a machine with two cores.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use p2pchat_core::NodeId;
use p2pchat_core::wire::{self, Chat, Frame, FrameDecoder, Hello, LEN_PREFIX, Preamble};

/// A connected, handshaken peer.
#[derive(Debug)]
pub struct RawPeer {
    /// The socket (blocking).
    pub stream: TcpStream,
    /// Bytes the node sent after its sync summary that were already read.
    pub leftover: Vec<u8>,
}

fn proto_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Encodes a frame with its length prefix.
pub fn encode(frame: &Frame) -> io::Result<Vec<u8>> {
    frame.encode().map(|b| b.to_vec()).map_err(proto_err)
}

/// A chat frame with the given origin, sequence number and text.
pub fn chat(origin: NodeId, seq: u64, name: &str, text: &str) -> io::Result<Vec<u8>> {
    encode(&Frame::Chat(Chat { origin, seq, name: name.to_owned(), text: text.to_owned() }))
}

impl RawPeer {
    /// Connects to `addr` and completes the handshake as member `id` called `name`.
    /// Every read is bounded by `timeout`.
    pub fn connect(addr: SocketAddr, id: NodeId, name: &str, timeout: Duration) -> io::Result<RawPeer> {
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let mut hello = wire::PREAMBLE.to_vec();
        hello.extend_from_slice(&encode(&Frame::Hello(Hello { id, name: name.to_owned(), port: 1 }))?);
        stream.write_all(&hello)?;
        let mut pre = [0u8; wire::PREAMBLE.len()];
        stream.read_exact(&mut pre)?;
        if wire::check_preamble(&pre).map_err(proto_err)? != Preamble::Valid {
            return Err(proto_err("short preamble"));
        }
        let mut dec = FrameDecoder::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut hello_seen = false;
        loop {
            while let Some((frame, _)) = dec.next_frame().map_err(proto_err)? {
                match frame {
                    Frame::Hello(_) => hello_seen = true,
                    Frame::Sync { last: true, .. } if hello_seen => {
                        return Ok(RawPeer { stream, leftover: dec.take_buffered().to_vec() });
                    }
                    Frame::Bye { reason } => return Err(proto_err(format!("the node said goodbye: {reason}"))),
                    _ => {}
                }
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(proto_err("the node closed the connection during the handshake"));
            }
            dec.extend(&buf[..n]);
        }
    }
}

/// The first body byte of a frame of the same variant as `frame`.
pub fn tag_of(frame: &Frame) -> io::Result<u8> {
    let raw = encode(frame)?;
    raw.get(LEN_PREFIX).copied().ok_or_else(|| proto_err("empty frame body"))
}

/// Counts chat frames in a byte stream fed in arbitrary chunks, without decoding
/// them (see the module documentation).
#[derive(Debug)]
pub struct ChatCounter {
    buf: Vec<u8>,
    len: usize,
    chat_tag: u8,
}

impl ChatCounter {
    /// A counter starting with `leftover` bytes.
    pub fn new(leftover: &[u8]) -> io::Result<ChatCounter> {
        let chat_tag =
            tag_of(&Frame::Chat(Chat { origin: NodeId::from_u64(1), seq: 1, name: "x".into(), text: String::new() }))?;
        let mut buf = vec![0u8; 1 << 20];
        buf[..leftover.len()].copy_from_slice(leftover);
        Ok(ChatCounter { buf, len: leftover.len(), chat_tag })
    }

    /// Reads once from `r`; returns how many chat frames that completed, or `None`
    /// at end of stream.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<Option<u64>> {
        let n = r.read(&mut self.buf[self.len..])?;
        if n == 0 {
            return Ok(None);
        }
        self.len += n;
        Ok(Some(self.scan()))
    }

    /// Counts complete frames at the front, keeps the incomplete tail.
    fn scan(&mut self) -> u64 {
        let mut pos = 0;
        let mut chats = 0;
        while self.len - pos > LEN_PREFIX {
            let b = &self.buf[pos..];
            let body = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if self.len - pos < LEN_PREFIX + body {
                break;
            }
            if body > 0 && b[LEN_PREFIX] == self.chat_tag {
                chats += 1;
            }
            pos += LEN_PREFIX + body;
        }
        self.buf.copy_within(pos..self.len, 0);
        self.len -= pos;
        chats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_counts_chats_across_chunk_boundaries() {
        let mut stream = Vec::new();
        for seq in 1..=50 {
            stream.extend(chat(NodeId::from_u64(9), seq, "a", "hello there").expect("encode"));
            stream.extend(encode(&Frame::Heartbeat).expect("encode"));
        }
        for step in [1, 3, 7, 64, 1000] {
            let mut c = ChatCounter::new(&[]).expect("counter");
            let mut total = 0;
            for part in stream.chunks(step) {
                let mut r = part;
                total += c.read_from(&mut r).expect("read").expect("bytes");
            }
            assert_eq!(total, 50, "chunks of {step}");
        }
    }
}
