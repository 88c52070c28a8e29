//! What a member keeps between runs (guarantee 12), as the node sees it: the
//! records it asks to be saved ([`Stored`]), what a restarted node starts from
//! ([`Saved`]), and the questions a user asks of the saved history ([`Query`],
//! answered with [`SavedLine`]s).
//!
//! These are plain values: the node never touches a file. The driver hands the
//! records to the store (SQLite, `driver::store`) on a writer thread, and loads a
//! [`Saved`] from it before the node starts; the simulator uses the same store in
//! memory.

use bytes::Bytes;

use crate::id::NodeId;
use crate::wire::{Endorsement, Mark};

/// Lines shown from the saved history when a frontend starts ("the last
/// screenful"): a classic terminal's height, less the input line and the status.
pub const SCREENFUL: usize = 20;

/// Lines `:history` shows when no number is given.
pub const HISTORY_LINES: usize = 20;

/// Most lines `:history N` and `:search TEXT` show at once.
pub const MAX_QUERY_LINES: usize = 1000;

/// One record for the store, in the order the node produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Chat messages shown to the user: a run of one origin's messages, numbered
    /// without a gap, that came in one frame and were shown under one name.
    Chat(SavedChat),
    /// A private message shown to the user (sent or received).
    Private(SavedPrivate),
    /// Every message of `origin` up to `delivered` was shown here or declared lost
    /// (messages also move the mark: this record is for losses, which have none).
    Mark {
        /// The origin.
        origin: NodeId,
        /// Its new high-water mark.
        delivered: u64,
    },
    /// This node's own standing on its name (saved when it changes).
    Own(OwnSaved),
}

/// Chat messages as the store keeps them: `count` messages of `origin`, numbered
/// from `first`, carried by `frame`. The texts are in the frame: the store reads
/// them from it (on its own thread), so the network thread copies nothing per
/// message to save it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedChat {
    /// Who wrote them.
    pub origin: NodeId,
    /// The sequence number of the first.
    pub first: u64,
    /// How many (at least 1).
    pub count: u32,
    /// The sender's name as it was shown.
    pub from: String,
    /// When they were shown here, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The frame they travel in (a [`crate::wire::Frame::Batch`] holding them,
    /// or a [`crate::wire::Frame::Chat`] for a run of one), length prefix
    /// included, so the store can offer it to others for catch-up.
    pub frame: Bytes,
}

impl SavedChat {
    /// The sequence number of the last message.
    pub fn last(&self) -> u64 {
        self.first.saturating_add(u64::from(self.count.saturating_sub(1)))
    }

    /// Whether the message `seq` of `origin`, shown under `from` and carried
    /// by `frame` (the same bytes, not equal ones), continues this run.
    pub fn continued_by(&self, origin: NodeId, seq: u64, from: &str, frame: &Bytes) -> bool {
        self.origin == origin
            && self.last().checked_add(1) == Some(seq)
            && self.count < u32::MAX
            && self.frame.as_ptr() == frame.as_ptr()
            && self.frame.len() == frame.len()
            && self.from == from
    }
}

/// A private message as the store keeps it (never offered to anyone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPrivate {
    /// Who wrote it.
    pub origin: NodeId,
    /// The sender's private counter.
    pub seq: u64,
    /// The sender's name as it was shown.
    pub from: String,
    /// The recipient's name.
    pub to: String,
    /// The text.
    pub text: String,
    /// When it was shown here, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

impl Stored {
    /// How many messages the record holds (0 for marks and standing).
    pub fn messages(&self) -> usize {
        match self {
            Stored::Chat(c) => c.count as usize,
            Stored::Private(_) => 1,
            Stored::Mark { .. } | Stored::Own(_) => 0,
        }
    }

    /// Stamps a message record with the time it was shown.
    pub fn stamp(&mut self, time_ms: u64) {
        match self {
            Stored::Chat(c) => c.time_ms = time_ms,
            Stored::Private(p) => p.time_ms = time_ms,
            Stored::Mark { .. } | Stored::Own(_) => {}
        }
    }
}

/// This node's own name, when it claimed it, and the endorsement that gives it
/// its standing (see `node::names`): kept so a restarted member keeps its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSaved {
    /// The name.
    pub name: String,
    /// When it was claimed, milliseconds since the Unix epoch.
    pub claimed: u64,
    /// A neighbour's signed word on when the network accepted this member.
    pub endorsed: Option<Endorsement>,
}

/// What a restarted node starts from (empty for a new member).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// Per-origin high-water marks (this node's own included: its last sequence
    /// number).
    pub marks: Vec<Mark>,
    /// Its own standing, if it was saved.
    pub own: Option<OwnSaved>,
    /// The last chat messages (at most `--history` of them), oldest first, with
    /// the frames they travel in (one `Bytes` shared by the messages of a batch),
    /// for catch-up.
    pub history: Vec<(NodeId, u64, Bytes)>,
    /// The last [`SCREENFUL`] lines shown (chat and private), oldest first.
    pub screen: Vec<SavedLine>,
}

/// A saved line, as `:history`, `:search` and the start-up screen show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedLine {
    /// Sender's name as it was shown.
    pub from: String,
    /// For a private message, the recipient's name.
    pub to: Option<String>,
    /// The text.
    pub text: String,
    /// When it was shown, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The same time in the local time zone, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
}

/// A page of saved chat for a neighbour that fell behind: the frames, oldest
/// first, that hold a message of one of `need`'s origins at or above its number
/// there, saved after line `after`, up to about `budget` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameQuery {
    /// The connection it is for (the node's number for it).
    pub peer: u64,
    /// Per origin, the first message the neighbour needs.
    pub need: Vec<Mark>,
    /// Rows up to this line number were looked at already (0: from the oldest).
    pub after: i64,
    /// Bytes of frames to return at most (at least one frame is returned).
    pub budget: usize,
}

/// The answer to a [`FrameQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePage {
    /// The connection it is for.
    pub peer: u64,
    /// The frames with which messages of which origin they hold: `(origin,
    /// first, count, frame)`, oldest first, each frame once.
    pub frames: Vec<(NodeId, u64, u32, Bytes)>,
    /// The last line number looked at: the next page starts after it.
    pub last: i64,
    /// Nothing saved after `last`: the page reached the newest saved line.
    pub end: bool,
}

/// A question about the saved history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The last `n` lines (`:history [N]`), oldest first.
    Last(usize),
    /// The last lines (at most [`MAX_QUERY_LINES`]) whose text contains this,
    /// ignoring ASCII case (`:search TEXT`), oldest first.
    Search(String),
}
