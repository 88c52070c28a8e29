//! Configuration of a node: what the command line sets, with defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// How a frontend presents the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The interactive terminal UI.
    #[default]
    Ui,
    /// Lines on stdin, `NAME: TEXT` lines on stdout.
    Headless,
    /// Lines on stdin, one JSON object per line on stdout.
    Json,
}

pub use crate::addr::PeerAddr;

/// Everything a node and its frontend need to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// This member's name (validated by [`crate::wire::validate_name`]).
    pub name: String,
    /// Address to listen on (`--bind`, default all interfaces).
    pub bind: IpAddr,
    /// Port to listen on (`--port`, 0: the system chooses).
    pub port: u16,
    /// Peers to join through (`HOST PORT`, `--connect`).
    pub connect: Vec<PeerAddr>,
    /// Frontend mode.
    pub mode: Mode,
    /// Log file (`--log`).
    pub log: Option<PathBuf>,
    /// Keep at least this many direct links when enough members are known (`--redundancy`).
    pub redundancy: usize,
    /// Interval between heartbeats on an idle link (`--heartbeat MS`).
    pub heartbeat: Duration,
    /// Silence after which a neighbour is declared lost (`--peer-timeout MS`).
    pub peer_timeout: Duration,
    /// Messages kept for catch-up (`--history N`).
    pub history: usize,
    /// Bytes queued for one peer before it is disconnected (`--queue-cap BYTES`).
    pub queue_cap: usize,
    /// Most direct connections at once (`--max-peers N`).
    pub max_peers: usize,
    /// Seed for the node's random choices (None: from the environment).
    pub seed: Option<u64>,
    /// Plain-text clients silent this long are disconnected (`--idle-timeout SECS`; zero: never).
    pub idle_timeout: Duration,
    /// Most plain-text clients at once (`--max-text-clients N`).
    pub max_text_clients: usize,
}

/// Default idle timeout for plain-text clients.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Default maximum number of plain-text clients.
pub const DEFAULT_MAX_TEXT_CLIENTS: usize = 64;

/// Default interval between heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(500);
/// Default silence before a neighbour is declared lost (detection within 3 s).
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_millis(2500);
/// Default history size.
pub const DEFAULT_HISTORY: usize = 200;
/// Default per-peer output queue cap.
pub const DEFAULT_QUEUE_CAP: usize = 8 * 1024 * 1024;
/// Default maximum number of direct connections.
pub const DEFAULT_MAX_PEERS: usize = 256;

impl Config {
    /// A configuration with every default and the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Config {
            name: name.into(),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            connect: Vec::new(),
            mode: Mode::Ui,
            log: None,
            redundancy: 1,
            heartbeat: DEFAULT_HEARTBEAT,
            peer_timeout: DEFAULT_PEER_TIMEOUT,
            history: DEFAULT_HISTORY,
            queue_cap: DEFAULT_QUEUE_CAP,
            max_peers: DEFAULT_MAX_PEERS,
            seed: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_text_clients: DEFAULT_MAX_TEXT_CLIENTS,
        }
    }
}
