//! Writes a small seed corpus for the fuzz targets into `corpus/TARGET/` (valid
//! frames of every kind, a full handshake, a text client's session), so that the
//! fuzzer starts from inputs that get deep into each parser.
//!
//!   cargo run --example seeds        (from fuzz/)

use std::fs;
use std::path::Path;

use p2pchat_core::NodeId;
use p2pchat_core::sim::sample_frames;
use p2pchat_core::wire::{Frame, PREAMBLE, Private};
use p2pchat_fuzz::frames::chat;
use p2pchat_fuzz::{GOOD_ID, hello};

/// The shared sample frames of `p2pchat_core::sim` (one of every kind), then
/// frames that only make sense to this harness: they come from the fuzzer's own
/// id (a message, a gap, a private message, a snapshot request) or name the
/// harness's well-behaved neighbour.
fn frames() -> Vec<Vec<u8>> {
    let mut list = sample_frames();
    list.extend([
        chat(NodeId::from_u64(0xf022), 1, "fuzzer", "hello"),
        chat(NodeId::from_u64(0xf022), 3, "fuzzer", "gap"),
        Frame::Sync { marks: vec![(NodeId::from_u64(2), 1), (GOOD_ID, 9)], last: true },
        Frame::Private(Private {
            from: NodeId::from_u64(0xf022),
            to: NodeId::from_u64(99),
            name: "fuzzer".into(),
            seq: 1,
            text: "psst".into(),
        }),
        Frame::SnapshotRequest { requester: NodeId::from_u64(0xf022), request: 1 },
    ]);
    list.iter().map(|f| f.encode().expect("a seed frame encodes").to_vec()).collect()
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    fs::write(dir.join(name), data).expect("write a seed");
}

fn main() {
    let corpus = Path::new("corpus");
    let frames = frames();
    let all: Vec<u8> = frames.concat();
    let hello = hello(NodeId::from_u64(0xf022), "fuzzer", 4002);

    let dir = corpus.join("frame_decoder");
    for (i, f) in frames.iter().enumerate() {
        write(&dir, &format!("seed-frame-{i}"), &[[0u8].as_slice(), f].concat());
    }
    write(&dir, "seed-all-whole", &[[0u8].as_slice(), &hello, &all].concat());
    write(&dir, "seed-all-chunked", &[[7u8].as_slice(), &hello, &all].concat());

    let dir = corpus.join("handshake");
    // mode 3: the harness puts the preamble and the hello in front
    for (i, f) in frames.iter().enumerate() {
        write(&dir, &format!("seed-frame-{i}"), &[[3u8].as_slice(), f].concat());
    }
    write(&dir, "seed-all", &[[3u8 | 5 << 3].as_slice(), &all].concat());
    write(&dir, "seed-handshake-raw", &[[0u8].as_slice(), &PREAMBLE, &hello, &all].concat());
    write(&dir, "seed-outbound", &[[4u8 | 9 << 3].as_slice(), &PREAMBLE, &hello, &all].concat());
    write(&dir, "seed-bad-version", &[0u8, 0x7f, b'P', b'2', b'P', 0, 2]);

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
