//! Seeded randomized inputs for every parser a peer can reach: the frame decoder,
//! the preamble, the handshake and the frame handling of a node (inside a real
//! encrypted session, and ciphertext outside it), and the plain-text line reader.
//! Hundreds of thousands of random and mutated inputs, under a time bound: nothing
//! may panic, and nothing may hold more memory than its cap.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::frames::{RawPeers, chat_frame, heartbeat, nth_seq, preamble, with_keys};
use p2pchat_core::crypto::Keys;
use p2pchat_core::id::Rng;
use p2pchat_core::node::netcat::{Line, LineReader, MAX_NETCAT_LINE};
use p2pchat_core::node::{Direction, Node, PeerId};
use p2pchat_core::sim::{default_config, sample_frames};
use p2pchat_core::testing::{Net, RawSession};
use p2pchat_core::wire::{self, FrameDecoder, LEN_PREFIX, MAX_FRAME};

/// Stop early (with what was done counted) if the machine is very slow.
const TIME_BOUND: Duration = Duration::from_secs(60);

/// The shared sample frames (one of every kind), encoded.
fn valid_frames() -> Vec<Vec<u8>> {
    sample_frames().iter().map(|f| f.encode().expect("encode").to_vec()).collect()
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len() as u64) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = rng.below(input.len() as u64) as usize;
                input[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(input.len() as u64 + 1) as usize;
                input.insert(i, rng.next_u64() as u8);
            }
            3 if !input.is_empty() => {
                let i = rng.below(input.len() as u64) as usize;
                input.remove(i);
            }
            4 => input.truncate(rng.below(input.len() as u64 + 1) as usize),
            _ => {
                // An interesting length prefix: huge, zero or off by one.
                if input.len() >= LEN_PREFIX {
                    let n = [u32::MAX, 0, MAX_FRAME as u32 + 1, MAX_FRAME as u32][rng.below(4) as usize];
                    input[..LEN_PREFIX].copy_from_slice(&n.to_be_bytes());
                }
            }
        }
    }
}

fn random_bytes(rng: &mut Rng, max: u64) -> Vec<u8> {
    (0..rng.below(max)).map(|_| rng.next_u64() as u8).collect()
}

/// Feeds `data` to a decoder in random chunks; returns false on a decode error.
fn decode_all(rng: &mut Rng, data: &[u8]) -> bool {
    let mut d = FrameDecoder::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(rest.len() as u64)) as usize;
        d.extend(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.next_frame() {
                Ok(Some((f, raw))) => {
                    assert!(raw.len() <= LEN_PREFIX + MAX_FRAME);
                    f.validate().expect("a decoded frame is valid");
                }
                Ok(None) => break,
                Err(_) => return false,
            }
            assert!(d.buffered() <= data.len());
        }
    }
    true
}

#[test]
fn frame_decoder_survives_random_and_mutated_input() {
    let start = Instant::now();
    let mut rng = Rng::new(0xdec0de);
    let valid = valid_frames();
    let mut runs = 0;
    for _ in 0..100_000 {
        if start.elapsed() > TIME_BOUND {
            break;
        }
        let mut input = if rng.chance(0.3) {
            random_bytes(&mut rng, 200)
        } else {
            let mut v = Vec::new();
            for _ in 0..=rng.below(3) {
                v.extend_from_slice(&valid[rng.below(valid.len() as u64) as usize]);
            }
            v
        };
        mutate(&mut rng, &mut input);
        decode_all(&mut rng, &input);
        runs += 1;
    }
    assert!(runs >= 10_000, "only {runs} inputs in the time bound");
}

/// Feeds `data` to `peer` in random chunks.
fn feed_in_chunks(rng: &mut Rng, node: &mut Node, peer: PeerId, data: &[u8], now: Instant) {
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(rest.len() as u64)) as usize;
        node.handle_data(peer, &rest[..n], now);
        rest = &rest[n..];
    }
}

/// A node receiving random and mutated handshakes and frames on inbound
/// connections: before a handshake (random bytes, a preamble and random bytes, a
/// mutated first handshake message), and after a real one (mutated frames inside
/// the encrypted session, and mutated ciphertext outside it). No panic, bounded
/// output, and it keeps working afterwards.
#[test]
fn node_survives_random_handshakes_and_frames() {
    let start = Instant::now();
    let mut rng = Rng::new(0x5eed);
    let valid = valid_frames();
    // The raw peers' identities; what they sign passes the node's checks, so
    // their mutated frames get past them too.
    let keys: Vec<Keys> = (0..8).map(|i| Keys::from_u64(0x7a0 + i)).collect();
    let mut said = vec![0u64; keys.len()];
    let mut cfg = default_config();
    with_keys(&mut cfg, 99);
    cfg.name = "target".into();
    cfg.port = 5000;
    let mut now = Instant::now();
    let mut node = Node::new(cfg, now);
    let mut peers = RawPeers::new();
    let remote: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
    let mut runs = 0u64;
    let mut handshakes = 0u64;
    for k in 0..100_000u64 {
        if start.elapsed() > TIME_BOUND {
            break;
        }
        let peer = PeerId(k + 1);
        node.handle_connected(peer, Direction::Inbound, remote, local, now);
        let who = rng.below(keys.len() as u64) as usize;
        // A real handshake costs about a millisecond here (key agreements and
        // signatures on both sides), twenty times what the other inputs cost:
        // 15% of the inputs (some 15,000) come after one.
        let mode = if rng.chance(0.15) { 3 + rng.below(3) } else { rng.below(3) };
        match mode {
            // Before the handshake: raw bytes.
            0 => {
                let mut input = random_bytes(&mut rng, 100);
                mutate(&mut rng, &mut input);
                feed_in_chunks(&mut rng, &mut node, peer, &input, now);
            }
            1 => {
                let mut input = preamble();
                input.extend(random_bytes(&mut rng, 100));
                mutate(&mut rng, &mut input);
                feed_in_chunks(&mut rng, &mut node, peer, &input, now);
            }
            2 => {
                let (_, mut input) = RawSession::initiator(&keys[who], "raw", &Net::open()).expect("session");
                if rng.chance(0.5) {
                    input.extend(random_bytes(&mut rng, 100));
                }
                mutate(&mut rng, &mut input);
                feed_in_chunks(&mut rng, &mut node, peer, &input, now);
            }
            // After a real handshake: mutated frames inside the session, each
            // chunk its own transport message.
            3 | 4 => {
                peers.handshake_inbound(&mut node, peer, &keys[who], "raw", now);
                handshakes += 1;
                let mut input = Vec::new();
                for _ in 0..=rng.below(4) {
                    if rng.chance(0.3) {
                        said[who] += 1;
                        input.extend(chat_frame(&keys[who], nth_seq(said[who]), "raw", "said"));
                    } else {
                        input.extend_from_slice(&valid[rng.below(valid.len() as u64) as usize]);
                    }
                }
                mutate(&mut rng, &mut input);
                let mut rest = input.as_slice();
                while !rest.is_empty() && peers.has(peer) {
                    let n = (1 + rng.below(rest.len() as u64)) as usize;
                    peers.send(&mut node, peer, &rest[..n], now);
                    rest = &rest[n..];
                    peers.pump(&mut node);
                }
            }
            // After a real handshake: valid frames, then the ciphertext mutated
            // (outside the session).
            _ => {
                peers.handshake_inbound(&mut node, peer, &keys[who], "raw", now);
                handshakes += 1;
                let mut plain = Vec::new();
                for _ in 0..=rng.below(3) {
                    plain.extend_from_slice(&valid[rng.below(valid.len() as u64) as usize]);
                }
                let mut sealed = peers.seal(peer, &plain);
                if rng.chance(0.2) {
                    sealed.extend(peers.seal(peer, &heartbeat()));
                }
                mutate(&mut rng, &mut sealed);
                feed_in_chunks(&mut rng, &mut node, peer, &sealed, now);
            }
        }
        node.handle_disconnected(peer, "test", now);
        // Drain outputs; what a node writes is bounded by what it was sent plus
        // its own handshake, history and records.
        let out: usize = peers.pump(&mut node).values().sum();
        peers.forget(peer);
        assert!(out < 1 << 20, "wrote {out} bytes for one bad connection");
        while node.poll_event().is_some() {}
        while node.poll_action().is_some() {}
        while node.poll_log().is_some() {}
        if k % 64 == 0 {
            now += Duration::from_millis(300);
            node.handle_timeout(now);
        }
        runs += 1;
    }
    println!("{runs} inputs, {handshakes} of them after a real handshake, in {:?}", start.elapsed());
    assert!(runs >= 10_000, "only {runs} inputs in the time bound");
    assert!(node.pending_count() <= 1024 * 4, "reorder buffers grew to {}", node.pending_count());
    // Still works: a proper peer can connect and chat. (Its key is one no
    // random input holds, so nothing could have pre-empted its message.)
    let peer = PeerId(u64::MAX - 1);
    let good = Keys::from_u64(0x600d_600d_600d_600d);
    peers.connect(&mut node, peer, &good, "good", now);
    peers.send(&mut node, peer, &chat_frame(&good, nth_seq(1), "good", "still here"), now);
    let mut got = false;
    while let Some(ev) = node.poll_event() {
        if let p2pchat_core::Event::Message { text, .. } = ev {
            got |= text == "still here";
        }
    }
    assert!(got, "the node no longer delivers after the random inputs");
}

#[test]
fn line_reader_survives_random_input_with_bounded_memory() {
    let start = Instant::now();
    let mut rng = Rng::new(0x11e5);
    let mut reader = LineReader::default();
    let mut lines = 0u64;
    let mut too_long = 0u64;
    let mut most_held = 0;
    for _ in 0..100_000 {
        if start.elapsed() > TIME_BOUND {
            break;
        }
        let mut chunk = random_bytes(&mut rng, 300);
        if rng.chance(0.01) {
            chunk.extend(std::iter::repeat_n(b'x', MAX_NETCAT_LINE + 5));
        }
        if rng.chance(0.5) {
            chunk.push(b'\n');
        }
        reader.feed(&chunk, |l| {
            match l {
                // Invalid UTF-8 is replaced by U+FFFD (3 bytes): at most 3 bytes
                // out per byte of the line, which had at most the cap.
                Line::Text(t) => assert!(t.len() <= MAX_NETCAT_LINE * 3, "a line longer than the cap came out"),
                Line::TooLong => too_long += 1,
            }
            lines += 1;
        });
        // The memory: what the reader holds for an unfinished line stays within
        // twice the line cap (a Vec's growth), even while a too-long line streams in.
        most_held = most_held.max(reader.held());
        assert!(reader.held() <= MAX_NETCAT_LINE * 2, "the reader holds {} bytes", reader.held());
    }
    assert!(lines > 10_000);
    assert!(too_long > 0, "no line over the cap was fed");
    assert!(most_held > MAX_NETCAT_LINE / 2, "the buffer never grew near the cap ({most_held} bytes)");
    let _ = wire::MAX_TEXT;
}
