//! Writes a small seed corpus for the fuzz targets into `corpus/TARGET/` (valid
//! frames of every kind, the start of a connection: preambles and handshake
//! messages, a text client's session), so that the fuzzer starts from inputs that
//! get deep into each parser.
//!
//!   cargo run --example seeds        (from fuzz/)

use std::fs;
use std::path::Path;

use p2pchat_core::crypto::{Keys, Sig};
use p2pchat_core::sim::sample_frames;
use p2pchat_core::testing::{self, Net, RawSession};
use p2pchat_core::wire::{Frame, Hello, Private};
use p2pchat_fuzz::frames::{V1_START, chat, nth_seq, preamble};
use p2pchat_fuzz::{FUZZ_KEY, GOOD_KEY, TARGET_KEY};

/// The shared sample frames of `p2pchat_core::sim` (one of every kind), then
/// frames that only make sense to this harness: they come from the fuzzer's own
/// key (a message, a gap, a private message to the node, a snapshot request) or
/// name the harness's well-behaved neighbour; all signed for real.
fn frames() -> Vec<Vec<u8>> {
    let me = Keys::from_u64(FUZZ_KEY);
    let good = Keys::from_u64(GOOD_KEY).id();
    let target = Keys::from_u64(TARGET_KEY).id();
    let mut list: Vec<Vec<u8>> =
        sample_frames().iter().map(|f| f.encode().expect("a seed frame encodes").to_vec()).collect();
    list.extend(
        [
            chat(&me, nth_seq(1), "fuzzer", "hello"),
            chat(&me, nth_seq(3), "fuzzer", "gap"),
            Frame::Sync { marks: vec![(Keys::from_u64(2).id(), 1), (good, nth_seq(9))], last: true },
            Frame::SnapshotRequest { requester: me.id(), request: 1 },
        ]
        .iter()
        .map(|f| f.encode().expect("a seed frame encodes").to_vec()),
    );
    let private = Private { from: me.id(), to: target, name: "fuzzer".into(), seq: 1, text: "psst".into() };
    list.push(testing::signed_private(&me, private).to_vec());
    list.extend(testing::signed_batch(&me, nth_seq(4), "fuzzer", &["one", "two", "three"]).iter().map(|b| b.to_vec()));
    list
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    fs::write(dir.join(name), data).expect("write a seed");
}

fn main() {
    let corpus = Path::new("corpus");
    let frames = frames();
    let all: Vec<u8> = frames.concat();
    let me = Keys::from_u64(FUZZ_KEY);
    // What an initiator sends first: its preamble and the first handshake message.
    let (_, first) = RawSession::initiator(&me, "fuzzer", &Net::open()).expect("a session");
    let hello = Hello { id: me.id(), name: "fuzzer".into(), port: 4002, proof: me.noise_proof() }
        .encode()
        .expect("a hello encodes");

    let dir = corpus.join("frame_decoder");
    for (i, f) in frames.iter().enumerate() {
        write(&dir, &format!("seed-frame-{i}"), &[[0u8].as_slice(), f].concat());
    }
    write(&dir, "seed-all-whole", &[[0u8].as_slice(), &all].concat());
    write(&dir, "seed-all-chunked", &[[7u8].as_slice(), &all].concat());
    write(&dir, "seed-preamble", &[[0u8].as_slice(), &preamble()].concat());
    let closed = p2pchat_core::wire::Preamble { network: "lab-3".into(), secret_tag: Some([7; 8]) }.encode();
    write(&dir, "seed-preamble-closed", &[[0u8].as_slice(), &closed].concat());
    write(&dir, "seed-hello", &[[0u8].as_slice(), &hello].concat());
    let liar = Hello { id: me.id(), name: "fuzzer".into(), port: 1, proof: Sig::default() }.encode().expect("encodes");
    write(&dir, "seed-hello-unproven", &[[0u8].as_slice(), &liar].concat());

    let dir = corpus.join("handshake");
    // mode 2: a real handshake, then the frames inside the session
    for (i, f) in frames.iter().enumerate() {
        write(&dir, &format!("seed-frame-{i}"), &[[2u8].as_slice(), f].concat());
    }
    write(&dir, "seed-all", &[[2u8 | 5 << 3].as_slice(), &all].concat());
    write(&dir, "seed-all-outbound", &[[2u8 | 4 | 9 << 3].as_slice(), &all].concat());
    // mode 0: the start of a connection as it comes
    write(&dir, "seed-first-message", &[[0u8].as_slice(), &first].concat());
    write(&dir, "seed-first-message-chunked", &[[3u8 << 3].as_slice(), &first].concat());
    write(&dir, "seed-version-1", &[[0u8].as_slice(), &V1_START, &[0, 0, 0, 3, 0, 1, 2]].concat());
    write(&dir, "seed-bad-version", &[0u8, 0x7f, b'P', b'2', b'P', 0, 3]);
    write(&dir, "seed-outbound", &[[4u8].as_slice(), &preamble()].concat());
    // mode 1: after a valid preamble, the first handshake message
    write(&dir, "seed-after-preamble", &[[1u8].as_slice(), &first[preamble().len()..]].concat());
    // mode 3: after a real handshake, bytes outside the session (a frame in
    // the clear, another session's ciphertext)
    write(&dir, "seed-clear-frame", &[[3u8].as_slice(), &frames[0]].concat());
    write(&dir, "seed-foreign-message", &[[3u8].as_slice(), &[0, 21], &[0x5a; 21]].concat());

    let dir = corpus.join("text_line_reader");
    write(&dir, "seed-name", b"\x00alice\n");
    write(
        &dir,
        "seed-session",
        b"\x05alice\r\nhello everyone\n:users\n:msg good hi there\n:msg target psst\n:help\n/users\n:nope\n:quit\n",
    );
    // a line over the cap (discarded, with a notice), then a good one
    let mut long = b"\x03alice\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', p2pchat_core::node::netcat::MAX_NETCAT_LINE + 10));
    long.extend_from_slice(b"\nafter the long line\n");
    write(&dir, "seed-long-line", &long);
    write(&dir, "seed-escapes", b"\x11\x1b[31mred\x1b[0m\nbob\n\x1b]0;title\x07 and \xff\xfe\n\x00nul\n");
}
