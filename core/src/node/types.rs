//! The node's public vocabulary: what it is told, what it asks the driver to do,
//! its settings and its counters.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::addr::PeerAddr;
use crate::config::{Config, TextClients};
use crate::crypto::Keys;
use crate::id::NodeId;
use crate::wire::{MAX_TEXT, incarnation_at, seq_start};

/// A connection, numbered by the driver. Numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection; report the outcome with the same `attempt` number
    /// ([`Node::handle_connected`](super::Node::handle_connected) with [`Direction::Outbound`] or
    /// [`Node::handle_connect_failed`](super::Node::handle_connect_failed)).
    Connect {
        /// Identifies this attempt.
        attempt: u64,
        /// Where to connect.
        target: PeerAddr,
    },
    /// Write what is queued for the peer (bounded wait), then close it. The node has
    /// already forgotten it: do not report it down.
    Disconnect {
        /// The connection.
        peer: PeerId,
        /// Why (for the log).
        reason: String,
    },
    /// The user quit: flush every queue (bounded wait) and stop.
    Stop,
    /// Ask the store a question about the saved history (`:history`, `:search`);
    /// give the answer to [`Node::show_saved`](super::Node::show_saved).
    Query(crate::memory::Query),
    /// Ask the store for a page of saved chat for a neighbour that fell behind;
    /// give the answer to [`Node::handle_frames`](super::Node::handle_frames).
    Frames(crate::memory::FrameQuery),
    /// Report [`Backlog::Drained`] for this connection as soon as its output
    /// queue is below the low watermark (at once if it is already).
    WatchDrain {
        /// The connection.
        peer: PeerId,
    },
    /// Write the files of a `:snapshot` into `dir` (created if needed), then tell
    /// the user where they went (or what failed).
    WriteSnapshot {
        /// Directory.
        dir: String,
        /// File names and contents.
        files: Vec<(String, String)>,
    },
}

/// What the driver reports of a connection's output queue
/// ([`Node::handle_backlog`](super::Node::handle_backlog)); the thresholds are
/// [`crate::config::Watermarks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// It passed the high watermark: the neighbour reads more slowly than this
    /// node writes to it.
    Full,
    /// It is below the low watermark again (after a [`Backlog::Full`] or an
    /// [`Action::WatchDrain`]).
    Drained,
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Accepted by this node's listener.
    Inbound,
    /// Opened by this node for the given [`Action::Connect`] attempt.
    Outbound {
        /// The attempt number.
        attempt: u64,
    },
}

/// Node settings, derived from [`Config`] plus what the driver learned at start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id: its public key (`keys.id()`).
    pub id: NodeId,
    /// Its key pair.
    pub keys: Keys,
    /// Its first sequence number (and record version): [`crate::wire::seq_start`]
    /// of its incarnation.
    pub first_seq: u64,
    /// The network's name (`--network`).
    pub network: String,
    /// A closed network's key and tag (`--secret-file`, `P2PCHAT_SECRET`).
    pub secret: Option<([u8; 32], [u8; 8])>,
    /// Which plain-text clients are accepted.
    pub text_clients: TextClients,
    /// Requested name.
    pub name: String,
    /// The port this node listens on.
    pub port: u16,
    /// The address others should use, when the bind address is specific.
    pub advertise_ip: Option<IpAddr>,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Silence before a neighbour is lost.
    pub peer_timeout: Duration,
    /// Time allowed to complete a handshake.
    pub handshake_timeout: Duration,
    /// How long a gap in one sender's messages may stall delivery.
    pub gap_timeout: Duration,
    /// History window.
    pub history: usize,
    /// Minimum number of links to keep.
    pub redundancy: usize,
    /// Maximum number of connections.
    pub max_peers: usize,
    /// How long to keep trying to reach lost members.
    pub forget_after: Duration,
    /// Seed for random choices.
    pub seed: u64,
    /// Wall-clock time at start, milliseconds since the Unix epoch (for name claims).
    pub wall_ms: u64,
    /// Plain-text clients silent this long are disconnected (None: never).
    pub idle_timeout: Option<Duration>,
    /// Most plain-text clients at once.
    pub max_text_clients: usize,
    /// Each plain-text client's line budget.
    pub text_rate: crate::config::TextRate,
    /// How long a snapshot waits for answers.
    pub snapshot_wait: Duration,
    /// A store keeps what this node shows: it produces records for it
    /// ([`Node::take_stored`](super::Node::take_stored)) and answers `:history`
    /// and `:search` through it. False for `--ephemeral` and temporary members.
    pub persist: bool,
    /// Bytes of missed chat queued to a lagging neighbour per step
    /// ([`crate::config::Watermarks::step`]).
    pub catch_up_step: usize,
}

impl NodeConfig {
    /// Node settings from a frontend configuration.
    pub fn from_config(cfg: &Config, keys: Keys, port: u16, seed: u64, wall_ms: u64) -> Self {
        NodeConfig {
            id: keys.id(),
            keys,
            first_seq: seq_start(incarnation_at(wall_ms)),
            network: cfg.network.clone(),
            secret: cfg.secret.as_ref().map(|s| (*s.psk(), *s.tag())),
            text_clients: cfg.text_clients(),
            name: cfg.name.clone(),
            port,
            advertise_ip: (!cfg.bind.is_unspecified()).then_some(cfg.bind),
            heartbeat: cfg.heartbeat,
            peer_timeout: cfg.peer_timeout,
            handshake_timeout: cfg.peer_timeout.max(Duration::from_secs(5)),
            gap_timeout: cfg.peer_timeout * 2,
            history: cfg.history,
            redundancy: cfg.redundancy,
            max_peers: cfg.max_peers,
            forget_after: Duration::from_secs(600),
            seed,
            wall_ms,
            idle_timeout: (!cfg.idle_timeout.is_zero()).then_some(cfg.idle_timeout),
            max_text_clients: cfg.max_text_clients,
            text_rate: cfg.text_rate,
            snapshot_wait: cfg.peer_timeout.max(Duration::from_secs(2)),
            persist: false,
            catch_up_step: crate::config::Watermarks::of(cfg.queue_cap, false).step(),
        }
    }
}

/// Counters, for `:snapshot`, benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Chat messages this node wrote.
    pub sent: u64,
    /// Chat messages from others delivered here.
    pub received: u64,
    /// Copies of chat messages queued to peers on behalf of others.
    pub forwarded: u64,
    /// Duplicate chat messages dropped.
    pub duplicates: u64,
    /// Connections closed for bad input.
    pub rejected: u64,
    /// Newer member records accepted.
    pub records: u64,
    /// Member records received that were not newer.
    pub stale_records: u64,
}

/// What kind of direct link `:peers` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A p2pchat node that connected to this one.
    Inbound,
    /// A p2pchat node this one connected to.
    Outbound,
    /// A person on `nc` hosted here.
    Netcat,
}

impl LinkKind {
    /// The word `:peers` and `--json` use.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Inbound => "inbound",
            LinkKind::Outbound => "outbound",
            LinkKind::Netcat => "netcat",
        }
    }
}

/// A direct link, as `:peers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The member at the other end (`None`: a netcat client that gave no name yet).
    pub name: Option<String>,
    /// Its address.
    pub addr: SocketAddr,
    /// What kind of link.
    pub kind: LinkKind,
}

/// A reachable member, as `:users` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Member id.
    pub id: NodeId,
    /// Unique name.
    pub name: String,
    /// Address, when known.
    pub addr: Option<SocketAddr>,
    /// Hop distance (0 for this node).
    pub hops: u32,
    /// Directly linked to this node.
    pub direct: bool,
}

/// The one sentence for a chat or private text over [`MAX_TEXT`] bytes, whoever
/// typed it (this node's user or a text client); `len` is `None` when the line was
/// too long to be kept at all.
pub fn too_long(len: Option<usize>) -> String {
    match len {
        Some(len) => format!("message not sent: it is {len} bytes long; the limit is {MAX_TEXT} bytes"),
        None => format!("message not sent: it is too long; the limit is {MAX_TEXT} bytes"),
    }
}

/// Longest [`Input::EndOfInput`](crate::command::Input::EndOfInput) waits for joins in progress and for the first
/// exchange with each neighbour before quitting anyway.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Most origins tracked before new ones are refused.
pub const MAX_ORIGINS: usize = 1 << 20;
