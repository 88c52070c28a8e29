//! The wire format: the connection preamble (magic + protocol version) and frames.
//!
//! A connection starts with the connecting side sending [`PREAMBLE`] followed by a
//! [`Frame::Hello`]; the accepting side checks both and answers in kind. After that
//! both directions carry frames: a big-endian `u32` length followed by that many bytes
//! of a bincode 2 body (a serde enum, [`Frame`]).
//!
//! Every size is checked before anything is allocated: the length prefix against
//! [`MAX_FRAME`], and bincode decodes with a limit of the same size, so a frame that
//! claims a billion-element list fails without reserving memory for it. Decoded frames
//! are then checked against the protocol's caps ([`MAX_TEXT`], [`MAX_NAME`],
//! [`MAX_LIST`]) by [`Frame::validate`].

use std::fmt;
use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::id::NodeId;

/// First bytes of every p2pchat connection. The leading DEL byte cannot be typed on
/// a terminal, so a person on `nc` never produces it by accident.
pub const MAGIC: [u8; 4] = *b"\x7fP2P";
/// Protocol version spoken by this build. A peer with another version is refused.
pub const VERSION: u16 = 1;
/// Magic followed by the big-endian version.
pub const PREAMBLE: [u8; 6] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], 0, VERSION as u8];
/// Largest frame body accepted or produced, in bytes (64 KiB).
pub const MAX_FRAME: usize = 64 * 1024;
/// Largest chat text, in bytes (4 KiB).
pub const MAX_TEXT: usize = 4096;
/// Largest member name, in bytes.
pub const MAX_NAME: usize = 32;
/// Largest number of entries in any list carried by a frame.
pub const MAX_LIST: usize = 2048;
/// Largest length of a free-form reason string.
pub const MAX_REASON: usize = 256;

/// Size of the length prefix in front of each frame body.
pub const LEN_PREFIX: usize = 4;

/// Everything that can go wrong reading or writing the wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The connection did not start with [`MAGIC`].
    BadMagic,
    /// The peer speaks another protocol version.
    BadVersion(u16),
    /// A length prefix above [`MAX_FRAME`].
    TooLarge(usize),
    /// A body that bincode could not decode (or with bytes left over).
    Malformed(String),
    /// A frame that decoded but breaks a protocol cap or rule.
    Invalid(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadMagic => write!(f, "not a p2pchat peer (wrong magic)"),
            WireError::BadVersion(v) => {
                write!(f, "protocol version {v} is not supported (this node speaks {VERSION})")
            }
            WireError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds the {MAX_FRAME}-byte cap"),
            WireError::Malformed(e) => write!(f, "malformed frame: {e}"),
            WireError::Invalid(e) => write!(f, "invalid frame: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The first frame on every connection, in both directions.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's node id, random per process start.
    pub id: NodeId,
    /// The sender's name (it may still be renamed if it collides).
    pub name: String,
    /// The port the sender listens on, so the other side can tell others.
    pub port: u16,
}

/// A chat message, flooded through the network.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// The node that wrote it.
    pub origin: NodeId,
    /// Per-origin sequence number, starting at 1, without gaps.
    pub seq: u64,
    /// The origin's name when it sent the message.
    pub name: String,
    /// The text, at most [`MAX_TEXT`] bytes.
    pub text: String,
}

/// One member's view of itself, flooded through the network (a link-state record).
///
/// A newer `version` replaces an older one. A link counts only when both of its ends
/// list each other, so the record of a dead node, which still lists its old links,
/// stops connecting anything as soon as its neighbours drop it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// The member.
    pub id: NodeId,
    /// Increases with every change the member announces.
    pub version: u64,
    /// Its current (unique) name.
    pub name: String,
    /// When it took that name (milliseconds since the Unix epoch, by its own clock):
    /// when two members share a name, the earlier claim keeps it.
    pub claimed: u64,
    /// Where others can reach it, when known.
    pub addr: Option<SocketAddr>,
    /// Its direct links.
    pub links: Vec<NodeId>,
    /// Set in the last record a member sends when it quits.
    pub leaving: bool,
    /// For a plain-text client (`nc`): the node hosting it, which sends this record
    /// on its behalf and receives its private messages.
    pub host: Option<NodeId>,
}

/// A private message, sent only over a direct link to the recipient's node.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Private {
    /// The sender (a node, or a text client hosted by the sending node).
    pub from: NodeId,
    /// The recipient (the receiving node, or a text client it hosts).
    pub to: NodeId,
    /// Sender's name.
    pub name: String,
    /// Per-sender counter of private messages.
    pub seq: u64,
    /// The text.
    pub text: String,
}

/// One member's answer to a snapshot request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Who asked.
    pub requester: NodeId,
    /// Which request.
    pub request: u64,
    /// The member described.
    pub member: NodeId,
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: Option<SocketAddr>,
    /// Its host, for a text client.
    pub host: Option<NodeId>,
    /// Its direct links.
    pub links: Vec<NodeId>,
    /// Per-origin high-water marks.
    pub marks: Vec<Mark>,
    /// Chat messages it wrote.
    pub sent: u64,
    /// Chat messages from others it delivered.
    pub received: u64,
    /// Copies it forwarded.
    pub forwarded: u64,
}

/// A per-origin mark: the origin and a sequence number.
pub type Mark = (NodeId, u64);

/// Everything that travels after the preamble.
///
/// New variants are only ever added at the end, so older peers of the same protocol
/// version still decode everything they know.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a connection, in both directions.
    Hello(Hello),
    /// A chat message.
    Chat(Chat),
    /// Keeps an otherwise idle link alive.
    Heartbeat,
    /// "This is how far I have delivered each origin": sent once after the hello so
    /// the neighbour can send what is missing. Long lists come in several frames,
    /// the last with `last` set.
    Sync {
        /// Per-origin high-water marks of the sender.
        marks: Vec<Mark>,
        /// Set on the final frame of the summary.
        last: bool,
    },
    /// Sent after the messages that answered a [`Frame::Sync`]: for each origin,
    /// the lowest sequence number the sender could offer. Anything the receiver
    /// still misses below it is not available here.
    SyncDone {
        /// Per-origin floors.
        floors: Vec<Mark>,
    },
    /// A member's link-state record.
    State(MemberState),
    /// The sender is closing the connection, and why.
    Bye {
        /// Human-readable reason.
        reason: String,
    },
    /// A private message (never forwarded).
    Private(Private),
    /// A network-wide snapshot request, flooded.
    SnapshotRequest {
        /// Who asks (answers travel back along the path the request came).
        requester: NodeId,
        /// Request number, unique per requester.
        request: u64,
    },
    /// An answer to a snapshot request, routed back to the requester.
    SnapshotReply(Report),
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_big_endian().with_limit::<MAX_FRAME>()
}

/// Checks a member name: 1 to [`MAX_NAME`] bytes, no whitespace, no control characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("name is {} bytes long; the limit is {MAX_NAME}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("name contains {:?}; whitespace and control characters are not allowed", c));
    }
    if let Some((c, what)) = name.chars().find_map(|c| invisible(c).map(|what| (c, what))) {
        return Err(format!(
            "name contains U+{:04X} {what}; invisible and direction-changing characters are not allowed",
            u32::from(c)
        ));
    }
    Ok(())
}

/// The name of `c` if it is an invisible or direction-changing character (a format
/// character, Unicode category Cf, or a filler that shows as blank), which would let
/// one name pass for another: "U+202E RIGHT-TO-LEFT OVERRIDE" turns the rest of a
/// name around, "U+200B ZERO WIDTH SPACE" makes a second "alice" look like the
/// first. Variation selectors (emoji) are allowed.
fn invisible(c: char) -> Option<&'static str> {
    let name = match u32::from(c) {
        0x00AD => "SOFT HYPHEN",
        0x034F => "COMBINING GRAPHEME JOINER",
        0x061C => "ARABIC LETTER MARK",
        0x115F => "HANGUL CHOSEONG FILLER",
        0x1160 => "HANGUL JUNGSEONG FILLER",
        0x17B4 => "KHMER VOWEL INHERENT AQ",
        0x17B5 => "KHMER VOWEL INHERENT AA",
        0x180E => "MONGOLIAN VOWEL SEPARATOR",
        0x200B => "ZERO WIDTH SPACE",
        0x200C => "ZERO WIDTH NON-JOINER",
        0x200D => "ZERO WIDTH JOINER",
        0x200E => "LEFT-TO-RIGHT MARK",
        0x200F => "RIGHT-TO-LEFT MARK",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x2060 => "WORD JOINER",
        0x2061 => "FUNCTION APPLICATION",
        0x2062 => "INVISIBLE TIMES",
        0x2063 => "INVISIBLE SEPARATOR",
        0x2064 => "INVISIBLE PLUS",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0x206A => "INHIBIT SYMMETRIC SWAPPING",
        0x206B => "ACTIVATE SYMMETRIC SWAPPING",
        0x206C => "INHIBIT ARABIC FORM SHAPING",
        0x206D => "ACTIVATE ARABIC FORM SHAPING",
        0x206E => "NATIONAL DIGIT SHAPES",
        0x206F => "NOMINAL DIGIT SHAPES",
        0x3164 => "HANGUL FILLER",
        0xFEFF => "ZERO WIDTH NO-BREAK SPACE (BYTE ORDER MARK)",
        0xFFA0 => "HALFWIDTH HANGUL FILLER",
        0xFFF9 => "INTERLINEAR ANNOTATION ANCHOR",
        0xFFFA => "INTERLINEAR ANNOTATION SEPARATOR",
        0xFFFB => "INTERLINEAR ANNOTATION TERMINATOR",
        0xE0001 => "LANGUAGE TAG",
        // The other format characters (Cf), without a name here.
        0x0600..=0x0605
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0020..=0xE007F => "(an invisible format character)",
        _ => return None,
    };
    Some(name)
}

fn check_text(what: &str, text: &str, cap: usize) -> Result<(), WireError> {
    if text.len() > cap {
        return Err(WireError::Invalid(format!("{what} of {} bytes exceeds {cap}", text.len())));
    }
    Ok(())
}

fn check_list<T>(what: &str, list: &[T]) -> Result<(), WireError> {
    if list.len() > MAX_LIST {
        return Err(WireError::Invalid(format!("{what} has {} entries; the cap is {MAX_LIST}", list.len())));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), WireError> {
    validate_name(name).map_err(WireError::Invalid)
}

impl Frame {
    /// Checks the protocol's caps and rules on a decoded frame.
    pub fn validate(&self) -> Result<(), WireError> {
        match self {
            Frame::Hello(h) => check_name(&h.name),
            Frame::Chat(c) => {
                check_name(&c.name)?;
                check_text("text", &c.text, MAX_TEXT)?;
                if c.seq == 0 {
                    return Err(WireError::Invalid("sequence number 0".into()));
                }
                Ok(())
            }
            Frame::Heartbeat => Ok(()),
            Frame::Sync { marks, .. } => check_list("sync", marks),
            Frame::SyncDone { floors } => check_list("sync-done", floors),
            Frame::State(s) => {
                check_name(&s.name)?;
                check_list("links", &s.links)
            }
            Frame::Bye { reason } => check_text("reason", reason, MAX_REASON),
            Frame::Private(p) => {
                check_name(&p.name)?;
                check_text("text", &p.text, MAX_TEXT)
            }
            Frame::SnapshotRequest { .. } => Ok(()),
            Frame::SnapshotReply(r) => {
                check_name(&r.name)?;
                check_list("links", &r.links)?;
                check_list("marks", &r.marks)
            }
        }
    }

    /// Encodes the frame with its length prefix, ready to be written.
    pub fn encode(&self) -> Result<Bytes, WireError> {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_u32(0);
        let mut writer = buf.writer();
        bincode::serde::encode_into_std_write(self, &mut writer, bincode_config())
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        let mut buf = writer.into_inner();
        let body = buf.len() - LEN_PREFIX;
        if body > MAX_FRAME {
            return Err(WireError::TooLarge(body));
        }
        buf[..LEN_PREFIX].copy_from_slice(&(body as u32).to_be_bytes());
        Ok(buf.freeze())
    }

    /// Decodes one frame body (without its length prefix) and validates it.
    pub fn decode_body(body: &[u8]) -> Result<Frame, WireError> {
        if body.len() > MAX_FRAME {
            return Err(WireError::TooLarge(body.len()));
        }
        let (frame, used): (Frame, usize) = bincode::serde::decode_from_slice(body, bincode_config())
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        if used != body.len() {
            return Err(WireError::Malformed(format!("{} trailing bytes", body.len() - used)));
        }
        frame.validate()?;
        Ok(frame)
    }
}

/// The fields of a chat frame, borrowed from the bytes it arrived in: enough to
/// drop a duplicate without allocating anything.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatRef<'a> {
    /// The node that wrote it.
    pub origin: NodeId,
    /// Per-origin sequence number.
    pub seq: u64,
    /// The origin's name.
    pub name: &'a str,
    /// The text.
    pub text: &'a str,
}

impl ChatRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Chat {
        Chat { origin: self.origin, seq: self.seq, name: self.name.to_owned(), text: self.text.to_owned() }
    }
}

/// The first body byte of every chat frame (bincode's index of the variant).
fn chat_tag() -> u8 {
    static TAG: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| {
        let sample = Frame::Chat(Chat { origin: NodeId(0), seq: 1, name: "x".into(), text: String::new() });
        sample.encode().ok().and_then(|b| b.get(LEN_PREFIX).copied()).unwrap_or(u8::MAX)
    })
}

/// If `body` (a frame without its length prefix) is a chat message, its fields,
/// borrowed and checked against the same caps as [`Frame::decode_body`]; `None`
/// for any other kind of frame.
pub fn peek_chat(body: &[u8]) -> Option<Result<ChatRef<'_>, WireError>> {
    if body.first() != Some(&chat_tag()) {
        return None;
    }
    let decoded: Result<(ChatRef<'_>, usize), _> =
        bincode::serde::borrow_decode_from_slice(&body[1..], bincode_config());
    Some(match decoded {
        Err(e) => Err(WireError::Malformed(e.to_string())),
        Ok((_, used)) if used + 1 != body.len() => {
            Err(WireError::Malformed(format!("{} trailing bytes", body.len() - used - 1)))
        }
        Ok((c, _)) => check_name(c.name)
            .and_then(|()| check_text("text", c.text, MAX_TEXT))
            .and_then(|()| if c.seq == 0 { Err(WireError::Invalid("sequence number 0".into())) } else { Ok(c) }),
    })
}

/// Result of looking at the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preamble {
    /// Too few bytes yet, and those present match the magic.
    Incomplete,
    /// A complete, valid preamble.
    Valid,
}

/// Checks the start of a connection against [`PREAMBLE`].
pub fn check_preamble(bytes: &[u8]) -> Result<Preamble, WireError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(WireError::BadMagic);
    }
    if bytes.len() < PREAMBLE.len() {
        return Ok(Preamble::Incomplete);
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(WireError::BadVersion(version));
    }
    Ok(Preamble::Valid)
}

/// Reassembles frames from a byte stream fed in arbitrary chunks.
///
/// Complete frames come out as the decoded [`Frame`] together with the exact bytes
/// they arrived as (prefix included), so a node can forward them without encoding
/// again; those bytes share the decoder's buffer instead of being copied.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Number of bytes held that do not form a complete frame yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes everything buffered out of the decoder (used when a connection turns
    /// out not to speak the protocol).
    pub fn take_buffered(&mut self) -> BytesMut {
        std::mem::take(&mut self.buf)
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    ///
    /// An error is final for the connection: the stream cannot be resynchronised.
    pub fn next_frame(&mut self) -> Result<Option<(Frame, Bytes)>, WireError> {
        let Some(raw) = self.next_raw()? else { return Ok(None) };
        let frame = Frame::decode_body(&raw[LEN_PREFIX..])?;
        Ok(Some((frame, raw)))
    }

    /// The next complete frame's bytes (length prefix included), not decoded; the
    /// length was checked against the cap.
    pub fn next_raw(&mut self) -> Result<Option<Bytes>, WireError> {
        if self.buf.len() < LEN_PREFIX {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(WireError::TooLarge(len));
        }
        if self.buf.len() < LEN_PREFIX + len {
            // Reserve at most one frame's worth: the cap was checked above.
            self.buf.reserve(LEN_PREFIX + len - self.buf.len());
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(LEN_PREFIX + len).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The samples live with the simulator, so that the randomized tests and the
    // fuzz seeds (another crate) use the same ones; this crate's tests always
    // build with the `sim` feature (see Cargo.toml's dev-dependencies).
    use crate::sim::sample_frames;

    #[test]
    fn frames_round_trip() {
        for f in sample_frames() {
            let raw = f.encode().expect("encode");
            let mut d = FrameDecoder::new();
            d.extend(&raw);
            let (g, graw) = d.next_frame().expect("decode").expect("complete");
            assert_eq!(f, g);
            assert_eq!(raw, graw);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn frames_split_at_every_byte_boundary_decode_the_same() {
        let frames = sample_frames();
        let mut stream = Vec::new();
        for f in &frames {
            stream.extend_from_slice(&f.encode().expect("encode"));
        }
        for cut in 0..=stream.len() {
            let mut d = FrameDecoder::new();
            let mut out = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                d.extend(part);
                while let Some((f, _)) = d.next_frame().expect("valid stream") {
                    out.push(f);
                }
            }
            assert_eq!(out, frames, "cut at {cut}");
        }
        // And byte by byte.
        let mut d = FrameDecoder::new();
        let mut out = Vec::new();
        for b in &stream {
            d.extend(std::slice::from_ref(b));
            while let Some((f, _)) = d.next_frame().expect("valid stream") {
                out.push(f);
            }
        }
        assert_eq!(out, frames);
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let mut d = FrameDecoder::new();
        d.extend(&u32::MAX.to_be_bytes());
        assert_eq!(d.next_frame(), Err(WireError::TooLarge(u32::MAX as usize)));
        assert!(d.buf.capacity() < 1024);
    }

    #[test]
    fn huge_list_claim_fails_without_allocation() {
        // Variant 3 (Sync) followed by a varint claiming 2^60 marks.
        let body = [3u8, 0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0];
        let err = Frame::decode_body(&body).expect_err("must fail");
        assert!(matches!(err, WireError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn caps_are_enforced_on_decode() {
        let long = Frame::Chat(Chat { origin: NodeId(1), seq: 1, name: "a".into(), text: "x".repeat(MAX_TEXT + 1) });
        let raw = long.encode().expect("encodes: the frame cap is larger than the text cap");
        assert!(matches!(Frame::decode_body(&raw[LEN_PREFIX..]), Err(WireError::Invalid(_))));
        let badname = Frame::Hello(Hello { id: NodeId(1), name: "a b".into(), port: 1 });
        let raw = badname.encode().expect("encode");
        assert!(matches!(Frame::decode_body(&raw[LEN_PREFIX..]), Err(WireError::Invalid(_))));
    }

    #[test]
    fn garbage_and_trailing_bytes_are_malformed() {
        assert!(Frame::decode_body(&[200, 1, 2, 3]).is_err());
        let mut raw = Frame::Heartbeat.encode().expect("encode").to_vec();
        raw.push(0);
        assert!(Frame::decode_body(&raw[LEN_PREFIX..]).is_err());
    }

    #[test]
    fn peeked_chats_match_the_full_decoder() {
        for f in sample_frames() {
            let raw = f.encode().expect("encode");
            let body = &raw[LEN_PREFIX..];
            match (&f, peek_chat(body)) {
                (Frame::Chat(c), Some(Ok(r))) => assert_eq!(&r.to_owned(), c),
                (Frame::Chat(_), other) => panic!("chat not peeked: {other:?}"),
                (_, None) => {}
                (_, Some(r)) => panic!("{f:?} peeked as a chat: {r:?}"),
            }
        }
        let bad = Frame::Chat(Chat { origin: NodeId(1), seq: 1, name: "a b".into(), text: "x".into() });
        let raw = bad.encode().expect("encode");
        assert!(matches!(peek_chat(&raw[LEN_PREFIX..]), Some(Err(WireError::Invalid(_)))));
        let mut raw = Frame::Chat(Chat { origin: NodeId(1), seq: 1, name: "a".into(), text: "xy".into() })
            .encode()
            .expect("encode")
            .to_vec();
        let last = raw.len() - 1;
        raw[last] = 0xff; // invalid UTF-8 in the text
        assert!(matches!(peek_chat(&raw[LEN_PREFIX..]), Some(Err(WireError::Malformed(_)))));
        assert!(Frame::decode_body(&raw[LEN_PREFIX..]).is_err());
    }

    #[test]
    fn preamble_checks() {
        assert_eq!(check_preamble(&PREAMBLE), Ok(Preamble::Valid));
        assert_eq!(check_preamble(&PREAMBLE[..3]), Ok(Preamble::Incomplete));
        assert_eq!(check_preamble(b"hello"), Err(WireError::BadMagic));
        assert_eq!(check_preamble(&[0x7f, b'P', b'2', b'P', 0, 9]), Err(WireError::BadVersion(9)));
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("alice").is_ok());
        assert!(validate_name("élodie_ü").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("a\u{1b}[31m").is_err());
        assert!(validate_name(&"x".repeat(33)).is_err());
        assert!(validate_name(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_refused_by_name() {
        let err = validate_name("ali\u{202E}ecila").expect_err("RLO");
        assert!(err.contains("U+202E RIGHT-TO-LEFT OVERRIDE"), "{err}");
        let err = validate_name("alice\u{200B}").expect_err("ZWSP");
        assert!(err.contains("U+200B ZERO WIDTH SPACE"), "{err}");
        let err = validate_name("\u{E0041}x").expect_err("tag");
        assert!(err.contains("U+E0041 "), "{err}");
        for c in (0x200B..=0x200F).chain(0x202A..=0x202E).chain(0x2060..=0x2064).chain(0x2066..=0x2069) {
            let c = char::from_u32(c).expect("a char");
            let err = validate_name(&format!("a{c}b")).expect_err("refused");
            assert!(err.contains(&format!("U+{:04X} ", u32::from(c))), "{err}");
        }
        for c in ['\u{FEFF}', '\u{00AD}', '\u{061C}', '\u{180E}', '\u{3164}', '\u{FFF9}'] {
            assert!(validate_name(&format!("a{c}")).is_err(), "U+{:04X}", u32::from(c));
        }
        // Emoji with a variation selector, and other scripts, are fine.
        assert!(validate_name("\u{2764}\u{FE0F}").is_ok());
        assert!(validate_name("ناصر").is_ok());
        // The wire refuses them too.
        let hello = Frame::Hello(Hello { id: NodeId(7), name: "bob\u{2066}".into(), port: 4000 });
        assert!(hello.validate().is_err());
    }
}
