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
    /// A message shown to the user.
    Message(SavedMessage),
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

/// A message as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMessage {
    /// Who wrote it.
    pub origin: NodeId,
    /// Its sequence number: per origin for chat messages (the message id is
    /// `(origin, seq)`), the sender's private counter for private messages.
    pub seq: u64,
    /// The sender's name as it was shown.
    pub from: String,
    /// For a private message, the recipient's name; None for chat.
    pub to: Option<String>,
    /// The text.
    pub text: String,
    /// When it was shown here, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// A chat message's frame as it travels (a [`crate::wire::Frame::Chat`], or
    /// the [`crate::wire::Frame::Batch`] it came in, shared by every message of
    /// the batch: the same `Bytes`), length prefix included, so the store can
    /// offer it to others for catch-up. None for private messages, which are
    /// never offered.
    pub frame: Option<Bytes>,
}

impl SavedMessage {
    /// Whether this is a private message.
    pub fn is_private(&self) -> bool {
        self.to.is_some()
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

/// A question about the saved history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The last `n` lines (`:history [N]`), oldest first.
    Last(usize),
    /// The last lines (at most [`MAX_QUERY_LINES`]) whose text contains this,
    /// ignoring ASCII case (`:search TEXT`), oldest first.
    Search(String),
}
