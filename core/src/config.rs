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
pub use crate::identity::IdentitySource;
pub use crate::secret::NetworkSecret;

/// Which plain-text (netcat) clients a node accepts on its port (`--text-clients`).
///
/// A plain-text client has no key: its host speaks for it (guarantee 9), so on a
/// closed network only clients on the host itself are let in unless told otherwise
/// ([`Config::text_clients`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextClients {
    /// From anywhere (the default on an open network).
    Any,
    /// Only from a loopback address, 127.0.0.0/8 or ::1 (the default with a secret).
    Loopback,
    /// None: the port speaks only the node protocol.
    Off,
}

impl TextClients {
    /// The word the command line uses for it: `any`, `loopback` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            TextClients::Any => "any",
            TextClients::Loopback => "loopback",
            TextClients::Off => "off",
        }
    }

    /// The policy named by `word` (`any`, `loopback` or `off`, as written).
    pub fn parse(word: &str) -> Result<Self, String> {
        match word {
            "any" => Ok(TextClients::Any),
            "loopback" => Ok(TextClients::Loopback),
            "off" => Ok(TextClients::Off),
            _ => Err("expected any, loopback or off".to_owned()),
        }
    }
}

impl std::fmt::Display for TextClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The network joined when none is named (`--network`).
pub const DEFAULT_NETWORK: &str = "p2pchat";
/// The longest network name, in bytes.
pub const MAX_NETWORK: usize = 64;

/// Checks a network name (`--network`): 1 to [`MAX_NETWORK`] bytes of ASCII
/// letters, digits, `-`, `_` and `.`. The name goes into the secret's key
/// derivation and, later, into announcements on the LAN, so it is kept plain.
pub fn validate_network(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a network name may not be empty".to_owned());
    }
    if name.len() > MAX_NETWORK {
        return Err(format!("a network name is at most {MAX_NETWORK} bytes; this one is {}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("{c:?} is not allowed in a network name: use ASCII letters, digits, '-', '_' and '.'"));
    }
    Ok(())
}

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
    /// Messages offered for catch-up (`--history N`), from the store when there
    /// is one.
    pub history: usize,
    /// Messages kept on disk (`--keep N`); the oldest are dropped first.
    pub keep: usize,
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
    /// How fast each plain-text client may send lines (`--text-rate`,
    /// `--text-burst`).
    pub text_rate: TextRate,
    /// Where this member's key comes from (`--identity FILE`, `--ephemeral`);
    /// read with [`crate::identity::acquire`].
    pub identity: IdentitySource,
    /// The member's data directory (`--data-dir DIR`; None: the default,
    /// [`crate::identity::data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// The network's name (`--network NAME`, checked by [`validate_network`]).
    pub network: String,
    /// A closed network's key (`--secret-file FILE` or `P2PCHAT_SECRET`), derived
    /// for [`network`](Self::network); None: an open network.
    pub secret: Option<NetworkSecret>,
    /// Which plain-text clients are accepted (`--text-clients`); None: the
    /// default for the network, see [`Config::text_clients`].
    pub text_clients: Option<TextClients>,
}

/// Default idle timeout for plain-text clients.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Default maximum number of plain-text clients.
pub const DEFAULT_MAX_TEXT_CLIENTS: usize = 64;

/// The line budget of each plain-text client: a token bucket that holds `burst`
/// lines and refills at `per_sec` lines a second (like ngircd's flood control).
/// Lines over the budget are dropped, with a warning at most once a second.
/// Either number 0 means no limit at all (`--text-rate 0` or `--text-burst 0`):
/// for a hub that serves trusted clients, or a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRate {
    /// Lines a second, on average (`--text-rate LINES`; default 10).
    pub per_sec: u32,
    /// Lines at once after a pause (`--text-burst LINES`; default 20).
    pub burst: u32,
}

impl TextRate {
    /// No limit.
    pub const UNLIMITED: TextRate = TextRate { per_sec: 0, burst: 0 };

    /// Whether lines are limited at all.
    pub fn limited(&self) -> bool {
        self.per_sec > 0 && self.burst > 0
    }
}

impl Default for TextRate {
    fn default() -> Self {
        TextRate { per_sec: 10, burst: 20 }
    }
}

/// Default interval between heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(500);
/// Default silence before a neighbour is declared lost (detection within 3 s).
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_millis(2500);
/// Default history size (messages offered for catch-up).
pub const DEFAULT_HISTORY: usize = 1000;
/// Default number of messages kept on disk.
pub const DEFAULT_KEEP: usize = 100_000;
/// Default per-peer output queue cap.
pub const DEFAULT_QUEUE_CAP: usize = 8 * 1024 * 1024;
/// Default maximum number of direct connections.
pub const DEFAULT_MAX_PEERS: usize = 256;

/// Flow control on a link, from its queue cap (`--queue-cap`): a neighbour whose
/// output queue passes `high` bytes is *lagging*, and live chat is no longer
/// queued for it; once the queue drains below `low`, what it missed is sent in
/// steps of `high - low` bytes (from the store, else the history window), each
/// step when the queue is below `low` again, and then live chat resumes. So chat
/// never holds more than about `high` plus one step for a neighbour, below the
/// cap, which only frames other than chat could still reach.
///
/// With a store, everything it keeps can be sent again, so a neighbour lags
/// early (a quarter of the cap). Without one (`--ephemeral`) only the history
/// window can, so the queue itself is the better buffer: a neighbour lags only
/// near the cap (seven eighths), where it used to be cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    /// A queue above this many bytes marks its neighbour lagging.
    pub high: usize,
    /// A lagging neighbour's queue below this many bytes takes the next step.
    pub low: usize,
}

impl Watermarks {
    /// The thresholds for a queue cap, with a store (`persist`) or without.
    pub fn of(queue_cap: usize, persist: bool) -> Self {
        let high = if persist { queue_cap / 4 } else { queue_cap - queue_cap / 8 };
        Watermarks { high, low: queue_cap / 16 }
    }

    /// Bytes of missed chat queued in one catch-up step (at least one frame is).
    pub fn step(self) -> usize {
        self.high - self.low
    }
}

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
            keep: DEFAULT_KEEP,
            queue_cap: DEFAULT_QUEUE_CAP,
            max_peers: DEFAULT_MAX_PEERS,
            seed: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_text_clients: DEFAULT_MAX_TEXT_CLIENTS,
            text_rate: TextRate::default(),
            identity: IdentitySource::Default,
            data_dir: None,
            network: DEFAULT_NETWORK.to_owned(),
            secret: None,
            text_clients: None,
        }
    }

    /// The plain-text client policy in force: the one given, else
    /// [`TextClients::Any`] on an open network and [`TextClients::Loopback`] on a
    /// closed one (a secret is set).
    pub fn text_clients(&self) -> TextClients {
        match (self.text_clients, &self.secret) {
            (Some(policy), _) => policy,
            (None, None) => TextClients::Any,
            (None, Some(_)) => TextClients::Loopback,
        }
    }
}
