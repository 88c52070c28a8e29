//! The wire format: the connection preamble, the handshake payload and frames.
//!
//! A connection starts with a cleartext [`Preamble`] from each side (magic,
//! protocol version, network name, whether the network is closed and which
//! secret it uses), then a Noise handshake (`node::noise`) whose payloads carry
//! each side's [`Hello`], then Noise transport messages only. Inside them flows
//! a byte stream of frames: a big-endian `u32` length followed by that many bytes
//! of a bincode 2 body (a serde enum, [`Frame`]).
//!
//! Every size is checked before anything is allocated: the length prefix against
//! [`MAX_FRAME`], and bincode decodes with a limit of the same size, so a frame that
//! claims a billion-element list fails without reserving memory for it. Decoded frames
//! are then checked against the protocol's caps ([`MAX_TEXT`], [`MAX_NAME`],
//! [`MAX_LIST`]) by [`Frame::validate`].
//!
//! Signed frames ([`Frame::State`], [`Frame::Private`], [`Frame::SnapshotReply`])
//! end with a 64-byte signature over the bytes between the variant tag and the
//! signature ([`signed_part`]). Chat messages travel live as a [`Frame::Batch`]:
//! what one origin wrote in one turn, with one signature over the root of a hash
//! tree of the messages. One message alone, with its path in that tree
//! ([`crate::crypto::BatchAuth`]), is a [`Frame::Chat`]: the same signature
//! covers both forms, so either can be checked wherever it arrives.

use std::fmt;
use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::crypto::{BatchAuth, BatchAuthRef, MAX_BATCH, MAX_PROOF, Sig};
use crate::id::NodeId;

/// First bytes of every p2pchat connection. The leading DEL byte cannot be typed on
/// a terminal, so a person on `nc` never produces it by accident.
pub const MAGIC: [u8; 4] = *b"\x7fP2P";
/// Protocol version spoken by this build. A peer with another version is refused.
/// Version 1 had no handshake encryption or signatures.
pub const VERSION: u16 = 2;
/// Magic followed by the big-endian version: the start of every [`Preamble`].
pub const HEAD: [u8; 6] = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], (VERSION >> 8) as u8, VERSION as u8];
/// Longest network name.
pub const MAX_NETWORK: usize = 64;
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

/// Bits of a sequence number (and of a record version) that count within one
/// incarnation; the bits above hold the incarnation (see [`seq_start`]).
pub const SEQ_BITS: u32 = 24;
/// The mask of the counting bits.
pub const SEQ_LOW: u64 = (1 << SEQ_BITS) - 1;

/// The first sequence number of an incarnation. A member's sequence numbers
/// (and record versions) are `incarnation << 24 | n`, n counting from 1; the
/// incarnation is the time the member started counting (milliseconds since
/// 2025-01-01), so a member restarted with the same key but without its saved
/// counters numbers its messages above everything it said before, and nobody
/// drops them as old duplicates.
pub fn seq_start(incarnation: u64) -> u64 {
    (incarnation << SEQ_BITS) | 1
}

/// The incarnation of a sequence number.
pub fn incarnation(seq: u64) -> u64 {
    seq >> SEQ_BITS
}

/// The incarnation for a member starting now: milliseconds since 2025-01-01.
pub fn incarnation_at(wall_ms: u64) -> u64 {
    const EPOCH_2025_MS: u64 = 1_735_689_600_000;
    wall_ms.saturating_sub(EPOCH_2025_MS).min((1 << (64 - SEQ_BITS)) - 1)
}

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
    /// A preamble that is not well formed.
    BadPreamble(String),
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
            WireError::BadPreamble(e) => write!(f, "bad preamble: {e}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Who is at the other end of a link: the payload of each side's last
/// handshake message (inside the Noise handshake, so encrypted).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's identity (its public key).
    pub id: NodeId,
    /// The sender's name (it may still be renamed if it collides).
    pub name: String,
    /// The port the sender listens on, so the other side can tell others.
    pub port: u16,
    /// The sender's signature over its Noise static key: the proof that the
    /// party that completed the handshake holds `id`'s key.
    pub proof: Sig,
}

impl Hello {
    /// Encodes the hello as a handshake payload.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        bincode::serde::encode_to_vec(self, bincode_config()).map_err(|e| WireError::Malformed(e.to_string()))
    }

    /// Decodes and checks a handshake payload.
    pub fn decode(bytes: &[u8]) -> Result<Hello, WireError> {
        let (h, used): (Hello, usize) = bincode::serde::decode_from_slice(bytes, bincode_config())
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        if used != bytes.len() {
            return Err(WireError::Malformed(format!("{} trailing bytes", bytes.len() - used)));
        }
        check_name(&h.name)?;
        Ok(h)
    }
}

/// The cleartext start of a connection, sent by both sides: which protocol and
/// which network. Two nodes whose preambles do not match refuse each other, each
/// able to say why, before any handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preamble {
    /// The network's name (`--network`).
    pub network: String,
    /// For a closed network, the tag of its secret
    /// ([`crate::secret::NetworkSecret::tag`]); None for an open one.
    pub secret_tag: Option<[u8; 8]>,
}

impl Preamble {
    /// The bytes to send: [`HEAD`], the network name (a length byte and the
    /// name), then 0 (open) or 1 and the 8-byte secret tag (closed).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = HEAD.to_vec();
        let name = &self.network.as_bytes()[..self.network.len().min(MAX_NETWORK)];
        v.push(name.len() as u8);
        v.extend_from_slice(name);
        match self.secret_tag {
            None => v.push(0),
            Some(tag) => {
                v.push(1);
                v.extend_from_slice(&tag);
            }
        }
        v
    }

    /// Why a node with this preamble (`self`) and one with `theirs` cannot talk,
    /// in words for this node's user; None when they can.
    pub fn mismatch(&self, theirs: &Preamble) -> Option<String> {
        if self.network != theirs.network {
            return Some(format!(
                "it is on the network {:?} and this node on {:?} (--network)",
                theirs.network, self.network
            ));
        }
        match (self.secret_tag, theirs.secret_tag) {
            (None, None) => None,
            (None, Some(_)) => Some("this network needs a secret (--secret-file FILE or P2PCHAT_SECRET)".to_owned()),
            (Some(_), None) => Some("it is on an open network, and this node has a secret".to_owned()),
            (Some(a), Some(b)) if a != b => Some("wrong network secret".to_owned()),
            _ => None,
        }
    }
}

/// What the first bytes of a connection are, so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreambleRead {
    /// Too few bytes yet, and those present match.
    Incomplete,
    /// A complete preamble, and how many bytes it took.
    Complete(Preamble, usize),
}

/// Reads a preamble from the start of `bytes`.
pub fn read_preamble(bytes: &[u8]) -> Result<PreambleRead, WireError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(WireError::BadMagic);
    }
    if bytes.len() < HEAD.len() {
        return Ok(PreambleRead::Incomplete);
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(WireError::BadVersion(version));
    }
    let Some(&len) = bytes.get(HEAD.len()) else { return Ok(PreambleRead::Incomplete) };
    let len = usize::from(len);
    if len == 0 || len > MAX_NETWORK {
        return Err(WireError::BadPreamble(format!("a network name of {len} bytes")));
    }
    let flag_at = HEAD.len() + 1 + len;
    let Some(&flag) = bytes.get(flag_at) else { return Ok(PreambleRead::Incomplete) };
    let network = std::str::from_utf8(&bytes[HEAD.len() + 1..flag_at])
        .map_err(|_| WireError::BadPreamble("a network name that is not UTF-8".into()))?
        .to_owned();
    match flag {
        0 => Ok(PreambleRead::Complete(Preamble { network, secret_tag: None }, flag_at + 1)),
        1 => {
            let Some(tag) = bytes.get(flag_at + 1..flag_at + 9) else { return Ok(PreambleRead::Incomplete) };
            let mut t = [0u8; 8];
            t.copy_from_slice(tag);
            Ok(PreambleRead::Complete(Preamble { network, secret_tag: Some(t) }, flag_at + 9))
        }
        f => Err(WireError::BadPreamble(format!("an unknown network flag {f}"))),
    }
}

/// Longest possible preamble.
pub const MAX_PREAMBLE: usize = HEAD.len() + 1 + MAX_NETWORK + 1 + 8;

/// A chat message, flooded through the network.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    /// The member that wrote it.
    pub origin: NodeId,
    /// Per-origin sequence number, without gaps within an incarnation
    /// ([`seq_start`]).
    pub seq: u64,
    /// The origin's name when it sent the message.
    pub name: String,
    /// The text, at most [`MAX_TEXT`] bytes.
    pub text: String,
    /// The origin's signature (for the batch the message was written in).
    pub auth: BatchAuth,
}

/// The signed content of a chat message: the fields before its `auth`, encoded.
pub fn chat_content(origin: &NodeId, seq: u64, name: &str, text: &str) -> Result<Vec<u8>, WireError> {
    let mut buf = Vec::new();
    chat_content_into(&mut buf, origin, seq, name, text)?;
    Ok(buf)
}

/// [`chat_content`] into `buf` (cleared first), so a batch's messages are hashed
/// without an allocation each.
pub fn chat_content_into(
    buf: &mut Vec<u8>,
    origin: &NodeId,
    seq: u64,
    name: &str,
    text: &str,
) -> Result<(), WireError> {
    buf.clear();
    bincode::serde::encode_into_std_write((origin, seq, name, text), buf, bincode_config())
        .map(|_| ())
        .map_err(|e| WireError::Malformed(e.to_string()))
}

/// The leaf hashes of the messages (name, text) from `origin` numbered from
/// `first`; `buf` is scratch space for their contents.
pub fn batch_leaves<'a>(
    buf: &mut Vec<u8>,
    origin: &NodeId,
    first: u64,
    items: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<crate::crypto::Hash>, WireError> {
    let mut leaves = Vec::with_capacity(items.len());
    for (seq, (name, text)) in (first..).zip(items) {
        chat_content_into(buf, origin, seq, name, text)?;
        leaves.push(crate::crypto::leaf(buf));
    }
    Ok(leaves)
}

/// One message of a [`Batch`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    /// The origin's name when it wrote the message.
    pub name: String,
    /// The text, at most [`MAX_TEXT`] bytes.
    pub text: String,
}

/// The messages one origin wrote in one turn, numbered from `first` without a
/// gap, under one signature: how chat messages travel live. The signature is
/// over the root of the hash tree of the messages (`crypto::batch_root`), the
/// same one each message's [`BatchAuth`] leads to, so a batch can also be
/// handed on one message at a time ([`Batch::to_chats`]). Forwarded as the
/// bytes it arrived in; dropped unopened when every message in it is known.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The member that wrote the messages.
    pub origin: NodeId,
    /// Sequence number of the first message.
    pub first: u64,
    /// The messages, 1 to [`MAX_BATCH`].
    pub items: Vec<BatchItem>,
    /// The origin's signature over the batch's root.
    pub sig: Sig,
}

/// Most bytes of names and texts a node puts in one [`Batch`] (more messages
/// are split into several batches), so that a batch frame stays well under
/// [`MAX_FRAME`].
pub const BATCH_BYTES: usize = 48 * 1024;

impl Batch {
    /// The batch of these messages written by `keys`' id, numbered from
    /// `first`, signed.
    pub fn signed(keys: &crate::crypto::Keys, first: u64, items: Vec<BatchItem>) -> Result<Batch, WireError> {
        let origin = keys.id();
        let leaves = batch_leaves(&mut Vec::new(), &origin, first, items.iter().map(|i| (&*i.name, &*i.text)))?;
        let sig = crate::crypto::sign_root(keys, first, items.len(), &crate::crypto::batch_root(leaves));
        Ok(Batch { origin, first, items, sig })
    }

    /// The batch's messages as individual chat messages, each with its path to
    /// the signed root.
    pub fn to_chats(&self) -> Result<Vec<Chat>, WireError> {
        let items = self.items.iter().map(|i| (&*i.name, &*i.text));
        let leaves = batch_leaves(&mut Vec::new(), &self.origin, self.first, items)?;
        let auths = crate::crypto::batch_auths(self.first, leaves, self.sig);
        Ok((self.first..)
            .zip(&self.items)
            .zip(auths)
            .map(|((seq, item), auth)| Chat {
                origin: self.origin,
                seq,
                name: item.name.clone(),
                text: item.text.clone(),
                auth,
            })
            .collect())
    }
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
    /// Increases with every change the member announces (numbered like sequence
    /// numbers, [`seq_start`], so a restarted member's records outrank its old ones
    /// and a replayed old record changes nothing).
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
    /// When the network first accepted this member, as signed by the neighbour
    /// that did ([`Endorsement`]); None until then. It bounds the member's claim on
    /// its name (`node::names`).
    pub endorsed: Option<Endorsement>,
}

/// A neighbour's signed statement that it accepted `member` into the network at
/// `at` (milliseconds since the Unix epoch, by the neighbour's clock). The
/// signed text is [`crate::crypto::domain::ENDORSE`], the member's id and `at`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endorsement {
    /// Who accepted the member.
    pub by: NodeId,
    /// When.
    pub at: u64,
    /// `by`'s signature.
    pub sig: Sig,
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

/// Everything that travels after the handshake.
///
/// New variants are only ever added at the end, so older peers of the same protocol
/// version still decode everything they know.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Frame {
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
    /// A member's link-state record, signed by the member.
    State(MemberState, Sig),
    /// The sender is closing the connection, and why.
    Bye {
        /// Human-readable reason.
        reason: String,
    },
    /// A private message (never forwarded), signed by its sender.
    Private(Private, Sig),
    /// A network-wide snapshot request, flooded.
    SnapshotRequest {
        /// Who asks (answers travel back along the path the request came).
        requester: NodeId,
        /// Request number, unique per requester.
        request: u64,
    },
    /// An answer to a snapshot request, routed back to the requester, signed by
    /// the member it describes.
    SnapshotReply(Report, Sig),
    /// To a neighbour whose record has no endorsement: this node's endorsement of
    /// it (never forwarded; the neighbour puts it in its record).
    Endorse(Endorsement),
    /// Chat messages: what one origin wrote in one turn, signed once.
    Batch(Batch),
    /// To a neighbour that read more slowly than the chat came in: everything
    /// held back from it has now been sent, and how much that was (never
    /// forwarded; the neighbour tells its user).
    CaughtUp {
        /// Messages sent to it from the store or the history window.
        messages: u64,
        /// From how many origins.
        members: u32,
    },
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

fn check_seq(seq: u64) -> Result<(), WireError> {
    if seq & SEQ_LOW == 0 {
        return Err(WireError::Invalid(format!("sequence number {seq} counts 0 in its incarnation")));
    }
    Ok(())
}

fn check_batch(first: u64, items: usize) -> Result<(), WireError> {
    check_seq(first)?;
    if items == 0 || items > MAX_BATCH {
        return Err(WireError::Invalid(format!("a batch of {items} messages")));
    }
    // Every message of a batch belongs to the incarnation of the first.
    if (first & SEQ_LOW) + items as u64 - 1 > SEQ_LOW {
        return Err(WireError::Invalid(format!("a batch of {items} from {first} crosses an incarnation")));
    }
    Ok(())
}

fn check_auth(count: u32, proof: usize) -> Result<(), WireError> {
    if count == 0 || count as usize > MAX_BATCH || proof > MAX_PROOF * 32 {
        return Err(WireError::Invalid(format!("a batch of {count} with a proof of {proof} bytes")));
    }
    Ok(())
}

/// The part of a signed frame's body (without its length prefix) that its
/// trailing signature covers: everything between the variant tag and the
/// signature.
pub fn signed_part(body: &[u8]) -> &[u8] {
    body.get(1..body.len().saturating_sub(64)).unwrap_or_default()
}

impl Frame {
    /// Checks the protocol's caps and rules on a decoded frame.
    pub fn validate(&self) -> Result<(), WireError> {
        match self {
            Frame::Chat(c) => {
                check_name(&c.name)?;
                check_text("text", &c.text, MAX_TEXT)?;
                check_seq(c.seq)?;
                check_auth(c.auth.count, c.auth.proof.len())
            }
            Frame::Heartbeat => Ok(()),
            Frame::Sync { marks, .. } => check_list("sync", marks),
            Frame::SyncDone { floors } => check_list("sync-done", floors),
            Frame::State(s, _) => {
                check_name(&s.name)?;
                check_list("links", &s.links)
            }
            Frame::Bye { reason } => check_text("reason", reason, MAX_REASON),
            Frame::Private(p, _) => {
                check_name(&p.name)?;
                check_text("text", &p.text, MAX_TEXT)
            }
            Frame::SnapshotRequest { .. } | Frame::Endorse(_) | Frame::CaughtUp { .. } => Ok(()),
            Frame::Batch(b) => {
                check_batch(b.first, b.items.len())?;
                b.items.iter().try_for_each(|i| {
                    check_name(&i.name)?;
                    check_text("text", &i.text, MAX_TEXT)
                })
            }
            Frame::SnapshotReply(r, _) => {
                check_name(&r.name)?;
                check_list("links", &r.links)?;
                check_list("marks", &r.marks)
            }
        }
    }

    /// The chat messages in the frame, one by one with their proofs: the one of
    /// a [`Frame::Chat`], those of a [`Frame::Batch`], none for other frames.
    pub fn chats(&self) -> Vec<Chat> {
        match self {
            Frame::Chat(c) => vec![c.clone()],
            Frame::Batch(b) => b.to_chats().unwrap_or_default(),
            _ => Vec::new(),
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

    /// Encodes a signed frame (its signature field is ignored) and signs it:
    /// `sign` gets the bytes the signature covers ([`signed_part`]) and returns the
    /// signature, which becomes the frame's last 64 bytes.
    pub fn encode_signed(&self, sign: impl FnOnce(&[u8]) -> Sig) -> Result<Bytes, WireError> {
        let raw = self.encode()?;
        let mut buf = BytesMut::from(&raw[..]);
        let sig = sign(signed_part(&raw[LEN_PREFIX..]));
        let at = buf.len() - 64;
        buf[at..].copy_from_slice(&sig.0);
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
/// drop a duplicate, and to check the signature, without allocating anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatRef<'a> {
    /// The member that wrote it.
    pub origin: NodeId,
    /// Per-origin sequence number.
    pub seq: u64,
    /// The origin's name.
    pub name: &'a str,
    /// The text.
    pub text: &'a str,
    /// The signed content ([`chat_content`]) as it arrived.
    pub content: &'a [u8],
    /// The signature.
    pub auth: BatchAuthRef<'a>,
}

impl ChatRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Chat {
        Chat {
            origin: self.origin,
            seq: self.seq,
            name: self.name.to_owned(),
            text: self.text.to_owned(),
            auth: self.auth.to_owned(),
        }
    }
}

/// The first body byte of every chat frame (bincode's index of the variant).
pub const CHAT_TAG: u8 = 0;

/// If `body` (a frame without its length prefix) is a chat message, its fields,
/// borrowed and checked against the same caps as [`Frame::decode_body`]; `None`
/// for any other kind of frame.
pub fn peek_chat(body: &[u8]) -> Option<Result<ChatRef<'_>, WireError>> {
    if body.first() != Some(&CHAT_TAG) {
        return None;
    }
    Some(peek_chat_fields(&body[1..]))
}

fn peek_chat_fields(rest: &[u8]) -> Result<ChatRef<'_>, WireError> {
    let malformed = |e: bincode::error::DecodeError| WireError::Malformed(e.to_string());
    let ((origin, seq, name, text), used): ((NodeId, u64, &str, &str), usize) =
        bincode::serde::borrow_decode_from_slice(rest, bincode_config()).map_err(malformed)?;
    let (auth, used2): (BatchAuthRef<'_>, usize) =
        bincode::serde::borrow_decode_from_slice(&rest[used..], bincode_config()).map_err(malformed)?;
    if used + used2 != rest.len() {
        return Err(WireError::Malformed(format!("{} trailing bytes", rest.len() - used - used2)));
    }
    check_name(name)?;
    check_text("text", text, MAX_TEXT)?;
    check_seq(seq)?;
    check_auth(auth.count, auth.proof.len())?;
    Ok(ChatRef { origin, seq, name, text, content: &rest[..used], auth })
}

/// The fields of a batch frame, borrowed from the bytes it arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef<'a> {
    /// The member that wrote the messages.
    pub origin: NodeId,
    /// Sequence number of the first message.
    pub first: u64,
    /// Name and text of each message.
    pub items: Vec<(&'a str, &'a str)>,
    /// The origin's signature over the batch's root.
    pub sig: Sig,
}

impl BatchRef<'_> {
    /// The sequence numbers of the messages, in order.
    pub fn seqs(&self) -> std::ops::Range<u64> {
        self.first..self.first + self.items.len() as u64
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Batch {
        Batch {
            origin: self.origin,
            first: self.first,
            items: self.items.iter().map(|(n, t)| BatchItem { name: (*n).into(), text: (*t).into() }).collect(),
            sig: self.sig,
        }
    }
}

/// The first body byte of every batch frame (bincode's index of the variant).
pub const BATCH_TAG: u8 = 10;

/// If `body` is a batch of chat messages, its fields, borrowed and checked
/// against the same caps as [`Frame::decode_body`]; `None` for any other kind.
pub fn peek_batch(body: &[u8]) -> Option<Result<BatchRef<'_>, WireError>> {
    if body.first() != Some(&BATCH_TAG) {
        return None;
    }
    let rest = &body[1..];
    type Fields<'a> = (NodeId, u64, Vec<(&'a str, &'a str)>, Sig);
    let peeked = bincode::serde::borrow_decode_from_slice(rest, bincode_config())
        .map_err(|e| WireError::Malformed(e.to_string()))
        .and_then(|((origin, first, items, sig), used): (Fields<'_>, usize)| {
            if used != rest.len() {
                return Err(WireError::Malformed(format!("{} trailing bytes", rest.len() - used)));
            }
            check_batch(first, items.len())?;
            for (name, text) in &items {
                check_name(name)?;
                check_text("text", text, MAX_TEXT)?;
            }
            Ok(BatchRef { origin, first, items, sig })
        });
    Some(peeked)
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
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            // Everything was taken: let the buffer go, so an idle connection
            // holds none (what was taken keeps only its own part alive).
            self.buf = BytesMut::new();
        }
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

    fn chat(origin: u64, name: &str, text: &str) -> Chat {
        Chat {
            origin: NodeId::from_u64(origin),
            seq: 1,
            name: name.into(),
            text: text.into(),
            auth: BatchAuth { first: 1, count: 1, proof: Vec::new(), sig: Sig::default() },
        }
    }

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
        // Variant 2 (Sync) followed by a varint claiming 2^60 marks.
        let body = [2u8, 0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0];
        let err = Frame::decode_body(&body).expect_err("must fail");
        assert!(matches!(err, WireError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn caps_are_enforced_on_decode() {
        let long = Frame::Chat(chat(1, "a", &"x".repeat(MAX_TEXT + 1)));
        let raw = long.encode().expect("encodes: the frame cap is larger than the text cap");
        assert!(matches!(Frame::decode_body(&raw[LEN_PREFIX..]), Err(WireError::Invalid(_))));
        let badname = Hello { id: NodeId::from_u64(1), name: "a b".into(), port: 1, proof: Sig::default() };
        let raw = badname.encode().expect("encode");
        assert!(matches!(Hello::decode(&raw), Err(WireError::Invalid(_))));
        let mut zero = chat(1, "a", "x");
        zero.seq = 5 << SEQ_BITS;
        assert!(matches!(Frame::Chat(zero).validate(), Err(WireError::Invalid(_))));
        let mut big = chat(1, "a", "x");
        big.auth.count = MAX_BATCH as u32 + 1;
        assert!(matches!(Frame::Chat(big).validate(), Err(WireError::Invalid(_))));
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
        let bad = Frame::Chat(chat(1, "a b", "x"));
        let raw = bad.encode().expect("encode");
        assert!(matches!(peek_chat(&raw[LEN_PREFIX..]), Some(Err(WireError::Invalid(_)))));
        let good = chat(1, "a", "xy");
        let mut raw = Frame::Chat(good.clone()).encode().expect("encode").to_vec();
        let content = chat_content(&good.origin, good.seq, &good.name, &good.text).expect("encodes");
        let peeked = peek_chat(&raw[LEN_PREFIX..]).and_then(Result::ok).map(|c| c.content.to_vec());
        assert_eq!(peeked, Some(content), "the signed content is the bytes after the tag");
        let last =
            LEN_PREFIX + 1 + chat_content(&good.origin, good.seq, &good.name, &good.text).map_or(0, |c| c.len()) - 1;
        raw[last] = 0xff; // invalid UTF-8 in the text
        assert!(matches!(peek_chat(&raw[LEN_PREFIX..]), Some(Err(WireError::Malformed(_)))));
        assert!(Frame::decode_body(&raw[LEN_PREFIX..]).is_err());
    }

    #[test]
    fn peeked_batches_match_the_full_decoder_and_the_same_caps_hold() {
        let mut batches = 0;
        for f in sample_frames() {
            let raw = f.encode().expect("encode");
            match (&f, peek_batch(&raw[LEN_PREFIX..])) {
                (Frame::Batch(b), Some(Ok(r))) => {
                    assert_eq!(&r.to_owned(), b);
                    batches += 1;
                }
                (Frame::Batch(_), other) => panic!("batch not peeked: {other:?}"),
                (_, None) => {}
                (_, Some(r)) => panic!("{f:?} peeked as a batch: {r:?}"),
            }
        }
        assert!(batches >= 2, "the samples hold batches");
        let item = |name: &str, text: &str| BatchItem { name: name.into(), text: text.into() };
        let batch = |first: u64, items: Vec<BatchItem>| {
            Frame::Batch(Batch { origin: NodeId::from_u64(1), first, items, sig: Sig::default() })
        };
        let last_of_incarnation = seq_start(3) + SEQ_LOW - 1;
        for bad in [
            batch(seq_start(3), vec![]),
            batch(seq_start(3), vec![item("a", "x"); MAX_BATCH + 1]),
            batch(seq_start(3), vec![item("a b", "x")]),
            batch(seq_start(3), vec![item("a", "x"), item("a", &"x".repeat(MAX_TEXT + 1))]),
            batch(seq_start(3) - 1, vec![item("a", "x")]),
            batch(last_of_incarnation, vec![item("a", "x"), item("a", "y")]),
        ] {
            let raw = bad.encode().expect("encode");
            assert!(matches!(peek_batch(&raw[LEN_PREFIX..]), Some(Err(WireError::Invalid(_)))), "{bad:?}");
            assert!(Frame::decode_body(&raw[LEN_PREFIX..]).is_err(), "{bad:?}");
        }
        let edge = batch(last_of_incarnation, vec![item("a", "x")]);
        assert!(peek_batch(&edge.encode().expect("encode")[LEN_PREFIX..]).is_some_and(|r| r.is_ok()));
    }

    #[test]
    fn every_message_of_a_batch_is_checked_alone_under_the_batch_signature() {
        let keys = crate::crypto::Keys::from_u64(4);
        let items: Vec<BatchItem> =
            (0..7).map(|i| BatchItem { name: "d".into(), text: format!("message {i}") }).collect();
        let b = Batch::signed(&keys, seq_start(2), items).expect("signs");
        let chats = Frame::Batch(b.clone()).chats();
        assert_eq!(chats.len(), 7);
        let mut v = crate::crypto::Verifier::default();
        for c in chats.iter().rev() {
            let content = chat_content(&c.origin, c.seq, &c.name, &c.text).expect("encodes");
            let raw = Frame::Chat(c.clone()).encode().expect("encode");
            let peeked = peek_chat(&raw[LEN_PREFIX..]).and_then(Result::ok).expect("peeks");
            assert!(v.check(&c.origin, c.seq, &content, &peeked.auth), "message {} alone", c.seq);
        }
        assert_eq!(v.signatures, 1, "one signature for the batch");
        let leaves = |b: &Batch| {
            batch_leaves(&mut Vec::new(), &b.origin, b.first, b.items.iter().map(|i| (&*i.name, &*i.text)))
                .expect("hashes")
        };
        let mut fresh = crate::crypto::Verifier::default();
        assert!(fresh.check_batch(&b.origin, b.first, leaves(&b), &b.sig));
        let mut altered = b.clone();
        altered.items[3].text.push('!');
        assert!(!crate::crypto::Verifier::default().check_batch(&b.origin, b.first, leaves(&altered), &b.sig));
        assert!(!crate::crypto::Verifier::default().check_batch(&b.origin, b.first + 1, leaves(&b), &b.sig));
        let other = crate::crypto::Keys::from_u64(5).id();
        assert!(!crate::crypto::Verifier::default().check_batch(&other, b.first, leaves(&b), &b.sig));
    }

    #[test]
    fn preambles_round_trip_and_are_checked() {
        for p in [
            Preamble { network: "p2pchat".into(), secret_tag: None },
            Preamble { network: "lab-3".into(), secret_tag: Some([1, 2, 3, 4, 5, 6, 7, 8]) },
        ] {
            let bytes = p.encode();
            for cut in 0..bytes.len() {
                assert_eq!(read_preamble(&bytes[..cut]), Ok(PreambleRead::Incomplete), "cut {cut}");
            }
            let mut more = bytes.clone();
            more.extend_from_slice(b"rest");
            assert_eq!(read_preamble(&more), Ok(PreambleRead::Complete(p.clone(), bytes.len())));
        }
        assert_eq!(read_preamble(b"hello"), Err(WireError::BadMagic));
        assert_eq!(read_preamble(&[0x7f, b'P', b'2', b'P', 0, 1]), Err(WireError::BadVersion(1)));
        assert!(matches!(read_preamble(&[0x7f, b'P', b'2', b'P', 0, 2, 0]), Err(WireError::BadPreamble(_))));
        assert!(matches!(read_preamble(&[0x7f, b'P', b'2', b'P', 0, 2, 1, b'x', 7]), Err(WireError::BadPreamble(_))));
    }

    #[test]
    fn preamble_mismatches_are_said_in_words() {
        let open = |n: &str| Preamble { network: n.into(), secret_tag: None };
        let closed = |t: u8| Preamble { network: "p2pchat".into(), secret_tag: Some([t; 8]) };
        assert_eq!(open("p2pchat").mismatch(&open("p2pchat")), None);
        assert_eq!(closed(1).mismatch(&closed(1)), None);
        assert!(open("a").mismatch(&open("b")).is_some_and(|m| m.contains("network \"b\"")));
        assert!(open("p2pchat").mismatch(&closed(1)).is_some_and(|m| m.contains("needs a secret")));
        assert!(closed(1).mismatch(&open("p2pchat")).is_some_and(|m| m.contains("open network")));
        assert_eq!(closed(1).mismatch(&closed(2)).as_deref(), Some("wrong network secret"));
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
        let hello = Hello { id: NodeId::from_u64(7), name: "bob\u{2066}".into(), port: 4000, proof: Sig::default() };
        assert!(Hello::decode(&hello.encode().expect("encodes")).is_err());
    }
}
