//! The sans-IO protocol node.
//!
//! A [`Node`] is driven by `handle_*` calls (a connection opened or closed, bytes
//! read, a line typed, time passing) and drained with `poll_*` calls (bytes to write
//! to a peer, events for the user, connections to open or close, log lines). It
//! never touches a socket, a clock or a thread: time is always passed in, and its
//! randomness comes from a seed. That is what lets the simulator in `crate::sim` (feature `sim`)
//! run thousands of nodes deterministically and replay any failing seed.
//!
//! What the node does:
//! - the handshake (preamble and [`Frame::Hello`]), refusing what is not p2pchat;
//! - flooding: a new chat message is forwarded, as the bytes it arrived in, to every
//!   ready peer but the one it came from; duplicates are dropped ([`delivery`]);
//! - catch-up: on every new link both sides exchange per-origin high-water marks and
//!   send each other what the other misses from their history window;
//! - membership ([`members`]), unique names, heartbeats and failure detection, and
//!   repair: reconnecting to members that became unreachable.

pub mod delivery;
pub mod members;
mod private;
mod snapshot;
pub mod text;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::addr::PeerAddr;
use crate::command::{self, Input};
use crate::config::Config;
use crate::event::{Event, LeftReason, sanitize};
use crate::id::{NodeId, Rng};
use crate::wire::{
    self, Chat, Frame, FrameDecoder, Hello, MAX_LIST, MAX_NAME, MAX_TEXT, MemberState, PREAMBLE, Preamble,
};
use delivery::{Admit, Delivery, Held};
use members::{Members, Offer};

/// A connection, numbered by the driver. Numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection; report the outcome with the same `attempt` number
    /// ([`Node::handle_connected`] with [`Direction::Outbound`] or
    /// [`Node::handle_connect_failed`]).
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
    /// Write the files of a `:snapshot` into `dir` (created if needed), then tell
    /// the user where they went (or what failed).
    WriteSnapshot {
        /// Directory.
        dir: String,
        /// File names and contents.
        files: Vec<(String, String)>,
    },
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
    /// This node's id.
    pub id: NodeId,
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
    /// How long a snapshot waits for answers.
    pub snapshot_wait: Duration,
}

impl NodeConfig {
    /// Node settings from a frontend configuration.
    pub fn from_config(cfg: &Config, id: NodeId, port: u16, seed: u64, wall_ms: u64) -> Self {
        NodeConfig {
            id,
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
            snapshot_wait: cfg.peer_timeout.max(Duration::from_secs(2)),
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

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Preamble,
    Hello,
    Ready,
    /// A plain-text client (`nc`).
    Text,
}

#[derive(Debug)]
struct Peer {
    direction: Direction,
    remote: SocketAddr,
    phase: Phase,
    preamble: Vec<u8>,
    decoder: FrameDecoder,
    hello: Option<Hello>,
    opened: Instant,
    last_rx: Instant,
    last_tx: Instant,
    sync_in: Vec<wire::Mark>,
    synced: bool,
    text: Option<Box<text::TextClient>>,
    /// Opened to carry private messages to this member.
    private_for: Option<NodeId>,
    /// Opened because the user asked (`HOST PORT`, `--connect`, `:connect`).
    user: bool,
}

impl Peer {
    fn remote_id(&self) -> Option<NodeId> {
        if self.phase == Phase::Ready { self.hello.as_ref().map(|h| h.id) } else { None }
    }

    fn initiator(&self, me: NodeId) -> NodeId {
        match (self.direction, &self.hello) {
            (Direction::Outbound { .. }, _) => me,
            (Direction::Inbound, Some(h)) => h.id,
            (Direction::Inbound, None) => NodeId(u64::MAX),
        }
    }
}

#[derive(Debug)]
struct Repair {
    addr: SocketAddr,
    next_try: Instant,
    backoff: Duration,
    hops: u32,
}

#[derive(Debug)]
struct Attempt {
    target: PeerAddr,
    user: bool,
    repair_for: Option<NodeId>,
    redundancy: bool,
    private_for: Option<NodeId>,
}

/// The one sentence for a chat or private text over [`MAX_TEXT`] bytes, whoever
/// typed it (this node's user or a text client); `len` is `None` when the line was
/// too long to be kept at all.
pub(crate) fn too_long(len: Option<usize>) -> String {
    match len {
        Some(len) => format!("message not sent: it is {len} bytes long; the limit is {MAX_TEXT} bytes"),
        None => format!("message not sent: it is too long; the limit is {MAX_TEXT} bytes"),
    }
}

/// Longest [`Input::EndOfInput`] waits for joins in progress and for the first
/// exchange with each neighbour before quitting anyway.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest sync summary accepted from one peer (entries).
const MAX_SYNC_ENTRIES: usize = 64 * 1024;
/// Most origins tracked before new ones are refused.
pub const MAX_ORIGINS: usize = 1 << 20;

/// The protocol state machine. See the module documentation.
#[derive(Debug)]
pub struct Node {
    cfg: NodeConfig,
    me: MemberState,
    me_raw: Bytes,
    me_dirty: bool,
    me_flood: bool,
    started: Instant,
    next_tick: Instant,
    tick: Duration,
    rng: Rng,
    seq: u64,
    peers: BTreeMap<PeerId, Peer>,
    delivery: Delivery,
    members: Members,
    repair: BTreeMap<NodeId, Repair>,
    attempts: HashMap<u64, Attempt>,
    next_attempt: u64,
    last_link_loss: Option<Instant>,
    next_redundancy: Instant,
    stopping: bool,
    /// Set by [`Input::EndOfInput`]: quit once settled, or at this deadline.
    finishing: Option<Instant>,
    /// The highest of this node's own sequence numbers handed to a neighbour
    /// (queued to one that has told us what it has).
    handed_over: u64,
    transmits: VecDeque<(PeerId, Bytes)>,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    logs: VecDeque<String>,
    scratch: Vec<Held>,
    stats: Stats,
    text_clients: usize,
    private_seq: u64,
    pending_private: Vec<private::Pending>,
    snapshot: Option<snapshot::Snap>,
    snapshot_routes: VecDeque<((NodeId, u64), PeerId)>,
    held_joins: BTreeMap<NodeId, Instant>,
    /// Members announced lost in a "netsplit" notice and not back yet: their
    /// return is told as "netsplit over", whatever else comes back with them.
    split_off: BTreeSet<NodeId>,
    epoch: u64,
}

impl Node {
    /// A node that has not met anyone yet. Its first event is [`Event::Listening`].
    pub fn new(cfg: NodeConfig, now: Instant) -> Self {
        let me = MemberState {
            id: cfg.id,
            version: 1,
            name: cfg.name.clone(),
            claimed: cfg.wall_ms,
            addr: cfg.advertise_ip.map(|ip| SocketAddr::new(ip, cfg.port)),
            links: Vec::new(),
            leaving: false,
            host: None,
        };
        let tick = (cfg.heartbeat / 2).max(Duration::from_millis(5));
        let mut node = Node {
            rng: Rng::new(cfg.seed),
            delivery: Delivery::new(cfg.history),
            me_raw: Bytes::new(),
            me,
            me_dirty: true,
            me_flood: false,
            started: now,
            next_tick: now + tick,
            tick,
            seq: 0,
            peers: BTreeMap::new(),
            members: Members::default(),
            repair: BTreeMap::new(),
            attempts: HashMap::new(),
            next_attempt: 1,
            last_link_loss: None,
            next_redundancy: now,
            stopping: false,
            finishing: None,
            handed_over: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            logs: VecDeque::new(),
            scratch: Vec::new(),
            stats: Stats::default(),
            text_clients: 0,
            private_seq: 0,
            pending_private: Vec::new(),
            snapshot: None,
            snapshot_routes: VecDeque::new(),
            held_joins: BTreeMap::new(),
            split_off: BTreeSet::new(),
            epoch: 0,
            cfg,
        };
        node.refresh_me();
        node.events.push_back(Event::Listening { port: node.cfg.port, id: node.cfg.id, name: node.me.name.clone() });
        node
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// This node's current name (it changes if it collided with another member's).
    pub fn name(&self) -> &str {
        &self.me.name
    }

    /// The port this node listens on.
    pub fn port(&self) -> u16 {
        self.cfg.port
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// True once the user quit.
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// How many of this node's own messages no neighbour had received when it
    /// quit (0 while it runs).
    pub fn undelivered(&self) -> u64 {
        // Nothing is originated once stopping, so this stays as it was at the quit.
        if self.stopping && self.finishing.is_some() { self.seq.saturating_sub(self.handed_over) } else { 0 }
    }

    /// Grows whenever the member list, this node's links or its name may have
    /// changed: a cheap way for a frontend to know when to refresh [`Node::members`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Version of this node's own member record (grows with every change).
    pub fn record_version(&self) -> u64 {
        self.me.version
    }

    /// Ids of ready direct links, sorted.
    pub fn neighbours(&self) -> Vec<NodeId> {
        self.me.links.clone()
    }

    /// Per-origin high-water marks.
    pub fn marks(&self) -> Vec<wire::Mark> {
        self.delivery.marks()
    }

    /// Messages held back by reorder buffers.
    pub fn pending_count(&self) -> usize {
        self.delivery.pending_count()
    }

    /// Every reachable member, this node first, as of the last membership
    /// recomputation (done by the inputs that carry the time, never by a query).
    pub fn members(&self) -> Vec<MemberInfo> {
        let mut v = vec![MemberInfo {
            id: self.cfg.id,
            name: self.me.name.clone(),
            addr: self.me.addr,
            hops: 0,
            direct: false,
        }];
        v.extend(self.members.reachable().into_iter().map(|r| MemberInfo {
            id: r.state.id,
            name: r.state.name.clone(),
            addr: r.state.addr,
            hops: r.hops,
            direct: self.me.links.binary_search(&r.state.id).is_ok(),
        }));
        v
    }

    // ----- inputs -------------------------------------------------------------

    /// A connection is established (accepted, or an attempt succeeded).
    pub fn handle_connected(
        &mut self,
        peer: PeerId,
        direction: Direction,
        remote: SocketAddr,
        local: SocketAddr,
        now: Instant,
    ) {
        let (private_for, user) = match direction {
            Direction::Outbound { attempt } => {
                self.attempts.remove(&attempt).map_or((None, false), |a| (a.private_for, a.user))
            }
            Direction::Inbound => (None, false),
        };
        if self.stopping {
            self.actions.push_back(Action::Disconnect { peer, reason: "node is stopping".into() });
            return;
        }
        if self.peers.len() >= self.cfg.max_peers {
            self.log(format!("refusing connection from {remote}: {} connections already", self.peers.len()));
            self.actions.push_back(Action::Disconnect { peer, reason: "too many connections".into() });
            return;
        }
        if self.me.addr.is_none() && !local.ip().is_unspecified() {
            self.me.addr = Some(SocketAddr::new(local.ip(), self.cfg.port));
            self.me_dirty = true;
        }
        let p = Peer {
            direction,
            remote,
            phase: Phase::Preamble,
            preamble: Vec::with_capacity(PREAMBLE.len()),
            decoder: FrameDecoder::new(),
            hello: None,
            opened: now,
            last_rx: now,
            last_tx: now,
            sync_in: Vec::new(),
            synced: false,
            text: None,
            private_for,
            user,
        };
        self.peers.insert(peer, p);
        if matches!(direction, Direction::Outbound { .. }) {
            self.send_hello(peer, now);
        }
    }

    /// A connection attempt failed.
    pub fn handle_connect_failed(&mut self, attempt: u64, error: &str, now: Instant) {
        let Some(a) = self.attempts.remove(&attempt) else { return };
        if let Some(endpoint) = a.private_for {
            self.fail_private(endpoint, &format!("could not open a direct link: {error}"));
        }
        if a.user {
            self.events.push_back(Event::Error(format!("could not connect to {}: {error}", a.target)));
        } else {
            self.log(format!("connect to {} failed: {error}", a.target));
        }
        self.try_finish(now);
    }

    /// The connection closed or failed (not called for [`Action::Disconnect`]).
    pub fn handle_disconnected(&mut self, peer: PeerId, reason: &str, now: Instant) {
        if let Some(p) = self.peers.remove(&peer) {
            let dir = if p.direction == Direction::Inbound { "from" } else { "to" };
            self.log(format!("connection {} {dir} {} closed: {reason}", peer.0, p.remote));
            self.after_removal(p, reason, now);
        }
        self.try_finish(now);
    }

    /// Bytes read from a connection.
    pub fn handle_data(&mut self, peer: PeerId, mut data: &[u8], now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.last_rx = now;
        if p.phase == Phase::Text {
            self.text_data(peer, data, now);
            return;
        }
        if p.phase == Phase::Preamble {
            let take = (PREAMBLE.len() - p.preamble.len()).min(data.len());
            p.preamble.extend_from_slice(&data[..take]);
            data = &data[take..];
            match wire::check_preamble(&p.preamble) {
                Ok(Preamble::Incomplete) => return,
                Ok(Preamble::Valid) => p.phase = Phase::Hello,
                Err(wire::WireError::BadMagic) if p.direction == Direction::Inbound => {
                    // Not a p2pchat peer: a person on nc or telnet.
                    let mut first = std::mem::take(&mut p.preamble);
                    first.extend_from_slice(data);
                    self.become_text(peer, &first, now);
                    return;
                }
                Err(e) => {
                    if matches!(e, wire::WireError::BadVersion(_)) && p.direction == Direction::Inbound {
                        // Tell the other side why, in a form it can read.
                        self.transmits.push_back((peer, Bytes::from_static(&PREAMBLE)));
                    }
                    self.reject(peer, e.to_string(), now);
                    return;
                }
            }
        }
        p.decoder.extend(data);
        loop {
            let Some(p) = self.peers.get_mut(&peer) else { return };
            let ready = p.phase == Phase::Ready;
            let raw = match p.decoder.next_raw() {
                Ok(Some(raw)) => raw,
                Ok(None) => return,
                Err(e) => {
                    self.reject(peer, e.to_string(), now);
                    return;
                }
            };
            let body = &raw[wire::LEN_PREFIX..];
            // The hot path: chat messages are looked at in place, and a duplicate
            // (every message crossing a cycle arrives more than once) is dropped
            // before anything is allocated for it.
            let result = match wire::peek_chat(body) {
                Some(Ok(c)) if ready => {
                    if self.delivery.is_duplicate(c.origin, c.seq) {
                        self.stats.duplicates += 1;
                    } else {
                        let chat = c.to_owned();
                        self.on_chat(Some(peer), Held { chat, raw: raw.clone() }, now);
                    }
                    Ok(())
                }
                Some(Err(e)) => Err(e),
                _ => Frame::decode_body(body).map(|frame| self.on_frame(peer, frame, raw.clone(), now)),
            };
            if let Err(e) = result {
                self.reject(peer, e.to_string(), now);
                return;
            }
        }
    }

    /// A line typed by the user: a chat message or a command.
    pub fn handle_line(&mut self, line: &str, now: Instant) {
        match command::parse_line(line) {
            Ok(input) => self.handle_input(input, now),
            Err(e) => self.events.push_back(Event::Error(e)),
        }
    }

    /// A parsed user input.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        if self.stopping {
            return;
        }
        match input {
            Input::Nothing => {}
            Input::Chat(text) => self.send_chat(text, now),
            Input::Quit => self.quit(now),
            Input::EndOfInput => {
                self.finishing = Some(now + FINISH_TIMEOUT);
                self.try_finish(now);
            }
            Input::Help => {
                for line in command::HELP {
                    self.events.push_back(Event::Notice((*line).to_owned()));
                }
            }
            Input::Users => self.show_users(now),
            Input::Peers => self.show_peers(),
            Input::Msg { name, text } => self.send_private(private::Sender::User, &name, text, now),
            Input::Snapshot(dir) => self.start_snapshot(dir, now),
            Input::Connect(to) => self.connect(to, now),
        }
    }

    /// Opens a connection on the user's behalf (a failure is reported as an error).
    pub fn connect(&mut self, target: PeerAddr, _now: Instant) {
        self.start_attempt(target, true, None);
    }

    /// Time passed: heartbeats, failure detection, gap expiry, membership, repair.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + self.tick;
        if self.stopping {
            return;
        }
        self.try_finish(now);
        if self.stopping {
            return;
        }
        self.check_peers(now);
        self.expire_gaps(now);
        self.update_membership(now);
        if !self.held_joins.is_empty() {
            self.release_held(now, None);
        }
        self.run_repair(now);
        self.keep_redundancy(now);
        self.expire_private(now);
        self.check_snapshot(now);
    }

    // ----- outputs ------------------------------------------------------------

    /// Next bytes to write to a peer.
    pub fn poll_transmit(&mut self) -> Option<(PeerId, Bytes)> {
        let t = self.transmits.pop_front();
        if t.is_none() && self.transmits.capacity() > 64 * 1024 {
            // A burst is over: give its memory back.
            self.transmits.shrink_to(1024);
        }
        t
    }

    /// Next event for the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Next line for the log.
    pub fn poll_log(&mut self) -> Option<String> {
        self.logs.pop_front()
    }

    /// When [`Node::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.stopping).then_some(self.next_tick)
    }

    // ----- connections ----------------------------------------------------------

    fn log(&mut self, line: String) {
        if self.logs.len() < 10_000 {
            self.logs.push_back(line);
        }
    }

    fn queue(&mut self, peer: PeerId, raw: Bytes, now: Instant) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_tx = now;
        }
        self.transmits.push_back((peer, raw));
    }

    fn send_frame(&mut self, peer: PeerId, frame: &Frame, now: Instant) {
        match frame.encode() {
            Ok(raw) => self.queue(peer, raw, now),
            Err(e) => self.log(format!("could not encode a frame: {e}")),
        }
    }

    fn send_hello(&mut self, peer: PeerId, now: Instant) {
        self.queue(peer, Bytes::from_static(&PREAMBLE), now);
        let hello = Frame::Hello(Hello { id: self.cfg.id, name: self.me.name.clone(), port: self.cfg.port });
        self.send_frame(peer, &hello, now);
    }

    fn start_attempt(&mut self, target: PeerAddr, user: bool, repair_for: Option<NodeId>) {
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        self.attempts.insert(
            attempt,
            Attempt { target: target.clone(), user, repair_for, redundancy: false, private_for: None },
        );
        self.actions.push_back(Action::Connect { attempt, target });
    }

    /// Closes a connection for bad input: logged, counted, reported to the user.
    fn reject(&mut self, peer: PeerId, reason: String, now: Instant) {
        self.stats.rejected += 1;
        if let Some(p) = self.peers.get(&peer) {
            let who = p.hello.as_ref().map_or_else(|| p.remote.to_string(), |h| format!("{} ({})", h.name, p.remote));
            let dir = if p.direction == Direction::Inbound { "from" } else { "to" };
            self.events.push_back(Event::Error(format!("dropped connection {dir} {}: {reason}", sanitize(&who))));
        }
        self.close(peer, reason, true, now);
    }

    /// Closes a connection from this side.
    fn close(&mut self, peer: PeerId, reason: String, bye: bool, now: Instant) {
        if bye && self.peers.get(&peer).is_some_and(|p| matches!(p.phase, Phase::Hello | Phase::Ready)) {
            let mut r = reason.clone();
            r.truncate(wire::MAX_REASON);
            self.send_frame(peer, &Frame::Bye { reason: r }, now);
        }
        if let Some(p) = self.peers.remove(&peer) {
            self.log(format!("closing connection {} with {}: {reason}", peer.0, p.remote));
            self.after_removal(p, &reason, now);
            self.actions.push_back(Action::Disconnect { peer, reason });
        }
    }

    fn after_removal(&mut self, p: Peer, reason: &str, now: Instant) {
        if p.user && p.phase != Phase::Ready && !self.stopping {
            // The TCP connect worked but the join did not: say so, in words.
            let why = match reason {
                "connected to itself" => "that is this node's own address".to_owned(),
                "handshake timed out" => format!(
                    "it accepted the connection but did not answer within {} s (is it a p2pchat node?)",
                    self.cfg.handshake_timeout.as_secs_f32()
                ),
                r if p.phase == Phase::Preamble && r.contains("closed") => {
                    "it closed the connection before answering (it may be full: --max-peers)".to_owned()
                }
                r => r.to_owned(),
            };
            self.events.push_back(Event::Error(format!("could not join through {}: {why}", p.remote)));
        }
        if let Some(endpoint) = p.private_for
            && p.phase != Phase::Ready
        {
            // A stopped member's system still accepts the connection: its silence
            // is a timeout, not a refusal.
            let why = if reason.contains("timed out") {
                "the direct link timed out (the member did not answer)"
            } else {
                "the direct link was refused"
            };
            self.fail_private(endpoint, why);
        }
        if let Some(tc) = p.text {
            self.text_gone(*tc, now);
            return;
        }
        let Some(id) = p.remote_id() else { return };
        // Another ready link to the same member keeps it a neighbour.
        if self.peers.values().any(|q| q.remote_id() == Some(id)) {
            return;
        }
        if let Ok(i) = self.me.links.binary_search(&id) {
            self.me.links.remove(i);
            self.me_dirty = true;
            self.members.touch();
            self.last_link_loss = Some(now);
            // Tell the user (and start repair) at once rather than on the next tick,
            // so what was lost is reported before anyone has had time to reconnect.
            if !self.stopping {
                self.update_membership(now);
            }
        }
    }

    fn check_peers(&mut self, now: Instant) {
        let mut dead = Vec::new();
        let mut beat = Vec::new();
        let mut greet = Vec::new();
        let mut idle = Vec::new();
        for (id, p) in &self.peers {
            if p.phase == Phase::Text {
                if let Some(limit) = self.cfg.idle_timeout
                    && let Some(tc) = &p.text
                    && now.saturating_duration_since(tc.last_active) >= limit
                {
                    idle.push(*id);
                }
                continue;
            }
            if p.phase == Phase::Preamble
                && p.direction == Direction::Inbound
                && p.preamble.is_empty()
                && now.saturating_duration_since(p.opened) >= text::DETECT_AFTER
            {
                greet.push(*id);
                continue;
            }
            if p.phase != Phase::Ready {
                if now.saturating_duration_since(p.opened) >= self.cfg.handshake_timeout {
                    dead.push((*id, "handshake timed out".to_owned()));
                }
                continue;
            }
            let silent = now.saturating_duration_since(p.last_rx);
            if silent >= self.cfg.peer_timeout {
                dead.push((*id, format!("no heartbeat for {} ms", silent.as_millis())));
            } else if now.saturating_duration_since(p.last_tx) + self.tick / 2 >= self.cfg.heartbeat {
                beat.push(*id);
            }
        }
        for (id, reason) in dead {
            self.close(id, reason, true, now);
        }
        for id in greet {
            self.become_text(id, &[], now);
        }
        for id in idle {
            self.text_idle(id, now);
        }
        if !beat.is_empty()
            && let Ok(raw) = Frame::Heartbeat.encode()
        {
            for id in beat {
                self.queue(id, raw.clone(), now);
            }
        }
    }

    // ----- frames -------------------------------------------------------------

    fn on_frame(&mut self, peer: PeerId, frame: Frame, raw: Bytes, now: Instant) {
        let Some(p) = self.peers.get(&peer) else { return };
        let ready = p.phase == Phase::Ready;
        match frame {
            Frame::Bye { reason } => {
                if let Some(p) = self.peers.remove(&peer) {
                    self.log(format!("{} said goodbye: {}", p.remote, sanitize(&reason)));
                    self.actions.push_back(Action::Disconnect { peer, reason: "peer said goodbye".into() });
                    self.after_removal(p, &format!("it said goodbye ({})", sanitize(&reason)), now);
                }
            }
            Frame::Hello(h) if !ready => self.on_hello(peer, h, now),
            Frame::Hello(_) => self.reject(peer, "second hello on one connection".into(), now),
            _ if !ready => self.reject(peer, "expected a hello first".into(), now),
            Frame::Heartbeat => {}
            Frame::Chat(c) => self.on_chat(Some(peer), Held { chat: c, raw }, now),
            Frame::Sync { marks, last } => self.on_sync(peer, marks, last, now),
            Frame::SyncDone { floors } => self.on_sync_done(floors, now),
            Frame::State(s) => self.on_state(peer, s, raw, now),
            Frame::Private(p) => self.on_private(peer, p),
            Frame::SnapshotRequest { requester, request } => {
                self.on_snapshot_request(peer, requester, request, raw, now)
            }
            Frame::SnapshotReply(r) => self.on_snapshot_reply(r, raw, now),
        }
    }

    fn on_hello(&mut self, peer: PeerId, h: Hello, now: Instant) {
        if h.id == self.cfg.id {
            // The other end of this connection is an attempt of this node's own,
            // still in its handshake: close it too, so that attempt is reported.
            let port = self.cfg.port;
            let own: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, q)| {
                    q.direction != Direction::Inbound && q.phase != Phase::Ready && q.remote.port() == port
                })
                .map(|(id, _)| *id)
                .collect();
            for id in own.into_iter().chain([peer]) {
                self.close(id, "connected to itself".into(), false, now);
            }
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let inbound = p.direction == Direction::Inbound;
        let remote_id = h.id;
        p.hello = Some(h);
        p.phase = Phase::Ready;
        if inbound {
            self.send_hello(peer, now);
        }
        // Two links to the same member. One that is established (its first
        // exchange is done) is kept, at both ends: the new one is a `:connect` to a
        // neighbour, or a repair racing a link that just came up. Two new links
        // (both sides connected at once): keep the one opened by the smaller id, so
        // both ends choose the same one.
        let me = self.cfg.id;
        let keep = me.min(remote_id);
        let this_init = self.peers.get(&peer).map(|p| p.initiator(me));
        let twins: Vec<(PeerId, NodeId, bool)> = self
            .peers
            .iter()
            .filter(|(id, q)| **id != peer && q.remote_id() == Some(remote_id))
            .map(|(id, q)| (*id, q.initiator(me), q.synced))
            .collect();
        for (twin, twin_init, established) in twins {
            let drop_this = established
                || match (this_init == Some(keep), twin_init == keep) {
                    (true, false) => false,
                    (false, true) => true,
                    // Same initiator: it closes the newer link; the other end waits.
                    _ => this_init == Some(me),
                };
            if drop_this {
                if established && self.peers.get(&peer).is_some_and(|p| p.user) {
                    let name = self.peers.get(&twin).and_then(|q| q.hello.as_ref()).map(|h| sanitize(&h.name));
                    let name = name.unwrap_or_else(|| remote_id.to_string());
                    self.events.push_back(Event::Notice(format!("already connected to {name}")));
                }
                self.close(peer, "duplicate link".into(), true, now);
                return;
            } else if twin_init != keep || this_init == Some(me) {
                self.close(twin, "duplicate link".into(), true, now);
            }
        }
        if let Err(i) = self.me.links.binary_search(&remote_id) {
            self.me.links.insert(i, remote_id);
            self.me_dirty = true;
            self.members.touch();
        }
        self.refresh_me();
        // Tell the new neighbour everything known about the network, this node first,
        // then how far this node has delivered each origin.
        let mut raws = vec![self.me_raw.clone()];
        raws.extend(self.members.records().map(|r| r.raw.clone()));
        for raw in raws {
            self.queue(peer, raw, now);
        }
        let marks = self.delivery.marks();
        let mut chunks = marks.chunks(MAX_LIST).peekable();
        if chunks.peek().is_none() {
            self.send_frame(peer, &Frame::Sync { marks: Vec::new(), last: true }, now);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.send_frame(peer, &Frame::Sync { marks: chunk.to_vec(), last }, now);
        }
        self.flush_private(peer, remote_id, now);
    }

    fn forward(&mut self, from: Option<PeerId>, raw: &Bytes, now: Instant) -> u64 {
        let mut n = 0;
        for (id, p) in self.peers.iter_mut() {
            if Some(*id) != from && p.phase == Phase::Ready {
                p.last_tx = now;
                self.transmits.push_back((*id, raw.clone()));
                n += 1;
            }
        }
        n
    }

    fn on_chat(&mut self, from: Option<PeerId>, held: Held, now: Instant) {
        if !self.delivery.knows(held.chat.origin) && self.delivery.origin_count() >= MAX_ORIGINS {
            self.log(format!("dropping a message from unknown origin {}: too many origins", held.chat.origin));
            return;
        }
        let raw = held.raw.clone();
        let mut out = std::mem::take(&mut self.scratch);
        match self.delivery.admit(held, now, &mut out) {
            Admit::Duplicate => self.stats.duplicates += 1,
            Admit::New => {
                self.stats.forwarded += self.forward(from, &raw, now);
                self.deliver_all(&mut out);
            }
        }
        self.scratch = out;
    }

    fn deliver_all(&mut self, out: &mut Vec<Held>) {
        for h in out.drain(..) {
            if h.chat.origin != self.cfg.id {
                self.stats.received += 1;
            }
            self.delivery.remember(h.chat.origin, h.chat.seq, h.raw);
            self.publish(Event::Message {
                from: h.chat.name,
                text: h.chat.text,
                origin: h.chat.origin,
                seq: h.chat.seq,
                private: false,
                to: None,
            });
        }
    }

    fn on_sync(&mut self, peer: PeerId, marks: Vec<wire::Mark>, last: bool, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        if p.synced {
            // Each summary is answered with history: one per connection, so that a
            // peer cannot turn small frames into a flood of history.
            self.reject(peer, "a second sync summary on one connection".into(), now);
            return;
        }
        if p.sync_in.len() + marks.len() > MAX_SYNC_ENTRIES {
            self.reject(peer, "sync summary too long".into(), now);
            return;
        }
        p.sync_in.extend(marks);
        if !last {
            return;
        }
        p.synced = true;
        let theirs: HashMap<NodeId, u64> = std::mem::take(&mut p.sync_in).into_iter().collect();
        let missing: Vec<Bytes> = self
            .delivery
            .history()
            .filter(|(o, seq, _)| *seq > theirs.get(o).copied().unwrap_or(0))
            .map(|(_, _, raw)| raw.clone())
            .collect();
        if !missing.is_empty() {
            self.log(format!("sending {} messages of history to connection {}", missing.len(), peer.0));
        }
        for raw in missing {
            self.queue(peer, raw, now);
        }
        // Everything this node said is now queued to this neighbour (what the
        // history no longer holds it has had, or never will).
        self.handed_over = self.seq;
        let floors = self.delivery.floors_for(&theirs);
        for chunk in floors.chunks(MAX_LIST) {
            self.send_frame(peer, &Frame::SyncDone { floors: chunk.to_vec() }, now);
        }
    }

    fn on_sync_done(&mut self, floors: Vec<wire::Mark>, now: Instant) {
        let mut out = std::mem::take(&mut self.scratch);
        for (origin, floor) in floors {
            if origin == self.cfg.id {
                continue;
            }
            let (lost, known) = self.delivery.apply_floor(origin, floor, now, &mut out);
            self.deliver_all(&mut out);
            if lost > 0 && known {
                self.report_loss(origin, lost);
            }
        }
        self.scratch = out;
    }

    fn expire_gaps(&mut self, now: Instant) {
        let mut out = std::mem::take(&mut self.scratch);
        let mut reports = Vec::new();
        self.delivery.expire_gaps(now, self.cfg.gap_timeout, &mut out, |o, n, known| {
            if n > 0 && known {
                reports.push((o, n));
            }
        });
        self.deliver_all(&mut out);
        self.scratch = out;
        for (o, n) in reports {
            self.report_loss(o, n);
        }
    }

    fn report_loss(&mut self, origin: NodeId, lost: u64) {
        let name = self.members.get(origin).map_or_else(|| origin.to_string(), |r| r.state.name.clone());
        let what = if lost == 1 { "message" } else { "messages" };
        self.publish(Event::Notice(format!("{lost} {what} from {name} could not be recovered")));
    }

    // ----- chat from the user -------------------------------------------------

    fn send_chat(&mut self, text: String, now: Instant) {
        if text.len() > MAX_TEXT {
            self.events.push_back(Event::Error(too_long(Some(text.len()))));
            return;
        }
        let chat = Chat { origin: self.cfg.id, seq: self.seq + 1, name: self.me.name.clone(), text };
        if self.originate(chat, now) {
            self.seq += 1;
            self.stats.sent += 1;
        }
    }

    /// Sends a new message written here (by the user or a hosted text client) to
    /// every peer and delivers it locally. False if it could not be encoded.
    fn originate(&mut self, chat: Chat, now: Instant) -> bool {
        let raw = match Frame::Chat(chat.clone()).encode() {
            Ok(raw) => raw,
            Err(e) => {
                self.events.push_back(Event::Error(format!("message not sent: {e}")));
                return false;
            }
        };
        self.delivery.admit_own(chat.origin, chat.seq);
        self.forward(None, &raw, now);
        if chat.origin == self.cfg.id && self.peers.values().any(|p| p.phase == Phase::Ready && p.synced) {
            self.handed_over = chat.seq;
        }
        let mut out = vec![Held { chat, raw }];
        self.deliver_all(&mut out);
        true
    }

    /// After [`Input::EndOfInput`]: quits once no join the user asked for is in
    /// progress and every neighbour has told us what it has (so what the user typed
    /// is queued to it), or at the deadline.
    fn try_finish(&mut self, now: Instant) {
        let Some(deadline) = self.finishing else { return };
        if self.stopping {
            return;
        }
        let joining = self.attempts.values().any(|a| a.user);
        let unsettled = self.peers.values().any(|p| match p.phase {
            Phase::Preamble | Phase::Hello => p.direction != Direction::Inbound,
            Phase::Ready => !p.synced,
            Phase::Text => false,
        });
        if (joining || unsettled) && now < deadline {
            return;
        }
        self.quit(now);
    }

    fn quit(&mut self, now: Instant) {
        let undelivered = self.seq.saturating_sub(self.handed_over);
        if self.finishing.is_some() && undelivered > 0 {
            let what = crate::event::count(undelivered as usize, "message", "messages");
            self.events.push_back(Event::Error(format!("{what} could not be delivered: no neighbour received them")));
        }
        let texts: Vec<PeerId> = self.peers.iter().filter(|(_, p)| p.phase == Phase::Text).map(|(k, _)| *k).collect();
        for peer in texts {
            self.send_text(peer, "p2pchat: this node is shutting down; goodbye");
            self.close(peer, "node quit".into(), false, now);
        }
        self.me.leaving = true;
        self.me_dirty = true;
        self.refresh_me();
        let raw = self.me_raw.clone();
        self.forward(None, &raw, now);
        // Stopping from here on: closing the links is not news to announce (the
        // user would otherwise see "lost contact" with everyone on the way out).
        self.stopping = true;
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.close(id, "quit".into(), true, now);
        }
        self.actions.push_back(Action::Stop);
    }

    // ----- membership -----------------------------------------------------------

    /// Re-encodes this node's record if it changed; it is flooded on the next tick.
    fn refresh_me(&mut self) {
        if !self.me_dirty {
            return;
        }
        self.me.version += 1;
        self.epoch += 1;
        match Frame::State(self.me.clone()).encode() {
            Ok(raw) => {
                self.me_raw = raw;
                self.me_dirty = false;
                self.me_flood = true;
            }
            Err(e) => self.log(format!("could not encode own record: {e}")),
        }
    }

    fn on_state(&mut self, peer: PeerId, s: MemberState, raw: Bytes, now: Instant) {
        if s.id == self.cfg.id {
            // Echoes of this node's own record come back through cycles: ignore
            // them. A newer one can only be a stale copy from a previous life of
            // this id: outrank it.
            if s.version > self.me.version {
                self.me.version = s.version;
                self.me_dirty = true;
            }
            return;
        }
        let (id, name) = (s.id, s.name.clone());
        match self.members.offer(s, raw.clone()) {
            Offer::Stale => self.stats.stale_records += 1,
            Offer::Full => self.log(format!("ignoring member {id}: membership table full")),
            Offer::Accepted(old) => {
                self.stats.records += 1;
                self.forward(Some(peer), &raw, now);
                // A rename is news for a member known here, and for one not yet
                // announced whose old name clashed with a name known here (it
                // renamed itself because of that clash: both sides are told).
                let clash = |old: &str| self.me.name == old || self.members.holders_of(old).any(|r| r.state.id != id);
                if let Some(old) = old
                    && (self.members.get(id).is_some_and(|r| r.reachable) || clash(&old))
                {
                    self.publish(Event::Renamed { id, from: old, to: name });
                    if self.held_joins.contains_key(&id) {
                        self.release_held(now, Some(id));
                    }
                }
            }
        }
    }

    fn update_membership(&mut self, now: Instant) {
        self.refresh_me();
        if self.me_flood {
            self.me_flood = false;
            let raw = self.me_raw.clone();
            self.forward(None, &raw, now);
        }
        if !self.members.is_dirty() {
            return;
        }
        let changes = self.members.recompute(&self.me, now);
        self.epoch += 1;
        self.check_name(now);
        // A rename goes out at once, so others do not see two members with one name
        // for longer than it takes to cross the network.
        self.refresh_me();
        if self.me_flood {
            self.me_flood = false;
            let raw = self.me_raw.clone();
            self.forward(None, &raw, now);
        }
        self.announce_changes(&changes, now);
        self.members.stamp_unseen(now);
        for id in self.members.forget_before(now.checked_sub(self.cfg.forget_after).unwrap_or(self.started)) {
            self.repair.remove(&id);
            self.split_off.remove(&id);
        }
        // Members that came back need no repair.
        self.repair.retain(|id, _| !self.members.get(*id).is_some_and(|r| r.reachable));
    }

    /// Whether someone reachable (or this node) has an earlier claim on the name
    /// `r` uses: `r` is about to be renamed, so its arrival is announced then.
    fn must_yield(&self, r: &members::Record) -> bool {
        let theirs = (r.state.claimed, r.state.id);
        (self.me.name == r.state.name && (self.me.claimed, self.cfg.id) < theirs)
            || self.beaten(&r.state.name, r.state.claimed, r.state.id)
            || self.peers.values().any(|p| {
                p.text.as_ref().is_some_and(|t| t.name.as_deref() == Some(&r.state.name) && (t.claimed, t.id) < theirs)
            })
    }

    /// Announces members whose arrival was held back for a rename, once renamed
    /// (or after a while in any case, so no arrival goes unannounced).
    fn release_held(&mut self, now: Instant, renamed: Option<NodeId>) {
        let due: Vec<NodeId> = self
            .held_joins
            .iter()
            .filter(|(id, deadline)| Some(**id) == renamed || **deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.held_joins.remove(&id);
            if let Some(r) = self.members.get(id).filter(|r| r.reachable) {
                let ev = Event::Joined { name: r.state.name.clone(), id, announce: true };
                self.publish(ev);
            }
        }
    }

    fn announce_changes(&mut self, changes: &members::Changes, now: Instant) {
        let mut lost = Vec::new();
        let mut quit = Vec::new();
        for id in &changes.left {
            if self.held_joins.remove(id).is_some() {
                // Never announced as arrived: nothing to announce now either.
                continue;
            }
            if let Some(r) = self.members.get(*id) {
                if r.state.leaving { quit.push(r.clone()) } else { lost.push(r.clone()) }
            }
        }
        let split = lost.len() > 1;
        if split {
            let names: Vec<(NodeId, String)> = lost.iter().map(|r| (r.state.id, r.state.name.clone())).collect();
            self.publish_list(&names, |n| format!("netsplit: lost contact with {}", n.join(", ")));
            self.split_off.extend(lost.iter().map(|r| r.state.id));
        }
        for r in &quit {
            self.publish(Event::Left {
                name: r.state.name.clone(),
                id: r.state.id,
                reason: LeftReason::Quit,
                announce: true,
            });
        }
        for r in &lost {
            self.publish(Event::Left {
                name: r.state.name.clone(),
                id: r.state.id,
                reason: LeftReason::Lost,
                announce: !split,
            });
        }
        // Repair: reconnect to lost members if this node saw a link go down lately,
        // or if it is the smallest id of what remains (so someone always tries).
        if !lost.is_empty() {
            let recent =
                self.last_link_loss.is_some_and(|t| now.saturating_duration_since(t) <= self.cfg.peer_timeout * 4);
            for r in &lost {
                if let Some(addr) = r.state.addr {
                    let jitter = Duration::from_millis(self.rng.below(50));
                    let first = if recent { now + jitter } else { now + self.cfg.heartbeat + jitter };
                    self.repair.insert(
                        r.state.id,
                        Repair {
                            addr,
                            next_try: first,
                            backoff: self.cfg.heartbeat.max(Duration::from_millis(200)),
                            hops: r.hops,
                        },
                    );
                }
            }
        }
        let mut joined: Vec<members::Record> =
            changes.joined.iter().filter_map(|id| self.members.get(*id)).cloned().collect();
        let hold: Vec<NodeId> = joined.iter().filter(|r| self.must_yield(r)).map(|r| r.state.id).collect();
        for id in &hold {
            self.held_joins.insert(*id, now + self.cfg.peer_timeout);
        }
        joined.retain(|r| !hold.contains(&r.state.id));
        // Members back from an announced netsplit end it, in one notice; the
        // others that arrive with them are told as arrivals.
        let (back, arrived): (Vec<members::Record>, Vec<members::Record>) =
            joined.into_iter().partition(|r| self.split_off.contains(&r.state.id));
        if !back.is_empty() {
            let names: Vec<(NodeId, String)> = back.iter().map(|r| (r.state.id, r.state.name.clone())).collect();
            self.publish_list(&names, |n| {
                let verb = if n.len() == 1 { "is" } else { "are" };
                format!("netsplit over: {} {verb} back", n.join(", "))
            });
            for r in &back {
                self.split_off.remove(&r.state.id);
                self.publish(Event::Joined { name: r.state.name.clone(), id: r.state.id, announce: false });
            }
        }
        let group = arrived.len() > 1;
        if group {
            let names: Vec<(NodeId, String)> = arrived.iter().map(|r| (r.state.id, r.state.name.clone())).collect();
            self.publish_list(&names, |n| format!("now connected with {}", n.join(", ")));
        }
        for r in &arrived {
            self.publish(Event::Joined { name: r.state.name.clone(), id: r.state.id, announce: !group });
        }
    }

    /// Two reachable members may not share a name: the earlier claim (then the
    /// smaller id) keeps it, the other takes the first free `name-N`. Applied to
    /// this node and to the text clients it hosts; every node decides alike.
    fn check_name(&mut self, now: Instant) {
        if self.beaten(&self.me.name, self.me.claimed, self.cfg.id) {
            let base = self.me.name.clone();
            let new = self.free_name(&base);
            self.events.push_back(Event::Notice(format!(
                "the name {base} is already taken in this network; you are now known as {new}"
            )));
            self.me.name = new;
            self.me.claimed = self.wall_now(now);
            self.me_dirty = true;
            self.refresh_me();
        }
        let texts: Vec<(PeerId, String, u64, NodeId)> = self
            .peers
            .iter()
            .filter_map(|(k, p)| {
                let t = p.text.as_ref()?;
                Some((*k, t.name.clone()?, t.claimed, t.id))
            })
            .collect();
        for (peer, name, claimed, id) in texts {
            if !self.beaten(&name, claimed, id) {
                continue;
            }
            let new = self.free_name(&name);
            self.send_text(
                peer,
                &format!("p2pchat: the name {name} is already taken in this network; you are now known as {new}"),
            );
            let claimed = self.wall_now(now);
            if let Some(t) = self.peers.get_mut(&peer).and_then(|p| p.text.as_mut()) {
                t.name = Some(new);
                t.claimed = claimed;
            }
            self.announce_text(peer, false, now);
        }
    }

    /// Whether another reachable member has an earlier claim on `name`.
    fn beaten(&self, name: &str, claimed: u64, id: NodeId) -> bool {
        self.members.holders_of(name).any(|r| r.state.id != id && (r.state.claimed, r.state.id) < (claimed, id))
    }

    /// The first `base-N` (N from 2) nobody uses, cut to fit the name limit.
    fn free_name(&self, base: &str) -> String {
        (2u32..)
            .map(|n| {
                let suffix = format!("-{n}");
                let mut b = base.to_owned();
                while b.len() + suffix.len() > MAX_NAME {
                    b.pop();
                }
                b + &suffix
            })
            .find(|cand| !self.name_taken(cand))
            .unwrap_or_else(|| base.to_owned())
    }

    fn run_repair(&mut self, now: Instant) {
        if self.repair.is_empty() {
            return;
        }
        let in_flight: Vec<NodeId> = self.attempts.values().filter_map(|a| a.repair_for).collect();
        let connected: Vec<SocketAddr> = self.peers.values().map(|p| p.remote).collect();
        // Nearest first; among equals, an order of this node's own (its seed mixed
        // with the id), so that survivors do not all pick the same member and turn
        // it into a hub.
        let salt = self.cfg.seed;
        let mut due: Vec<(u32, u64, NodeId)> = self
            .repair
            .iter()
            .filter(|(id, r)| r.next_try <= now && !in_flight.contains(id) && !connected.contains(&r.addr))
            .map(|(id, r)| (r.hops, Rng::new(id.0 ^ salt).next_u64(), *id))
            .collect();
        due.sort_unstable();
        // Smallest id of the reachable part: it keeps trying even without a recent
        // link loss, so that two sides always find each other again.
        let smallest = self.members.reachable().iter().all(|r| r.state.id > self.cfg.id);
        let recent = self.last_link_loss.is_some_and(|t| now.saturating_duration_since(t) <= self.cfg.forget_after);
        if !(smallest || recent) {
            return;
        }
        let max_backoff = (self.cfg.peer_timeout * 4).min(Duration::from_secs(30)).max(self.cfg.heartbeat);
        // One attempt at a time: when it fails the next is tried on a later tick;
        // when it succeeds, membership usually shows the others reachable again.
        for (_, _, id) in due.into_iter().take(1) {
            // Retries are spread at random over the second half of the backoff, so
            // that the many nodes which lost the same members do not all reconnect
            // at once: the first link that gets through makes the others pointless.
            let spread = self.rng.below(1 + self.repair.get(&id).map_or(0, |r| r.backoff.as_millis() as u64 / 2));
            let Some(r) = self.repair.get_mut(&id) else { continue };
            let addr = r.addr;
            r.next_try = now + r.backoff / 2 + Duration::from_millis(spread);
            r.backoff = (r.backoff * 2).min(max_backoff);
            self.log(format!("trying to reach {id} at {addr}"));
            self.start_attempt(PeerAddr::from(addr), false, Some(id));
        }
    }

    /// With fewer than `redundancy` links, link to the farthest reachable member
    /// not linked yet: one attempt at a time, so links grow slowly and on purpose.
    fn keep_redundancy(&mut self, now: Instant) {
        let links = self.peers.values().filter(|p| p.phase == Phase::Ready).count();
        if links >= self.cfg.redundancy || now < self.next_redundancy {
            return;
        }
        if self.attempts.values().any(|a| a.redundancy) {
            return;
        }
        let connected: Vec<SocketAddr> = self.peers.values().map(|p| p.remote).collect();
        let pick = self
            .members
            .reachable()
            .into_iter()
            .filter(|r| self.me.links.binary_search(&r.state.id).is_err())
            .filter_map(|r| r.state.addr.filter(|a| !connected.contains(a)).map(|a| (r.hops, r.state.id, a)))
            .max_by_key(|(hops, id, _)| (*hops, std::cmp::Reverse(*id)));
        if let Some((_, id, addr)) = pick {
            self.next_redundancy = now + self.cfg.heartbeat * 2;
            self.log(format!("linking to {id} at {addr} for redundancy"));
            let attempt = self.next_attempt;
            self.start_attempt(PeerAddr::from(addr), false, None);
            if let Some(a) = self.attempts.get_mut(&attempt) {
                a.redundancy = true;
            }
        }
    }

    /// The lines `:users` shows to `viewer`: this node's user, or a text client
    /// hosted here (which sees itself as "you" and everyone one hop further away).
    fn users_lines(&mut self, now: Instant, viewer: NodeId) -> Vec<String> {
        self.update_membership(now);
        let list = self.members();
        let hosted = viewer != self.cfg.id;
        let mut lines = vec![format!("{}:", crate::event::count(list.len(), "member", "members"))];
        for m in list {
            let addr = match m.addr {
                Some(a) => a.to_string(),
                // This node, bound to every address and not linked yet: no one
                // address is its own, but its port is.
                None if m.id == self.cfg.id => format!("(listening on port {})", self.cfg.port),
                None => "(text client)".to_owned(),
            };
            let (hops, direct) = match (hosted, m.id) {
                (_, id) if id == viewer => (0, false),
                (true, id) if id == self.cfg.id => (1, true),
                (true, _) => (m.hops + 1, false),
                (false, _) => (m.hops, m.direct),
            };
            let line = if m.id == viewer {
                format!("  {} (you) {addr}", m.name)
            } else {
                let hops = if hops == 1 { "1 hop".to_owned() } else { format!("{hops} hops") };
                let role = match (direct, hosted && m.id == self.cfg.id) {
                    (true, true) => ", your host",
                    (true, false) => ", direct",
                    _ => "",
                };
                format!("  {} {addr} ({hops}{role})", m.name)
            };
            lines.push(sanitize(&line));
        }
        lines
    }

    fn show_users(&mut self, now: Instant) {
        for line in self.users_lines(now, self.cfg.id) {
            self.events.push_back(Event::Notice(line));
        }
    }

    fn show_peers(&mut self) {
        let lines: Vec<String> = self
            .peers
            .values()
            .filter_map(|p| {
                let dir = if p.direction == Direction::Inbound { "inbound" } else { "outbound" };
                match (&p.phase, &p.hello, &p.text) {
                    (Phase::Ready, Some(h), _) => Some(format!("  {} {} ({dir})", sanitize(&h.name), p.remote)),
                    (Phase::Text, _, Some(t)) => {
                        let name = t.name.as_deref().map_or_else(|| "(no name yet)".to_owned(), sanitize);
                        Some(format!("  {name} {} (plain-text client)", p.remote))
                    }
                    _ => None,
                }
            })
            .collect();
        self.events
            .push_back(Event::Notice(format!("{}:", crate::event::count(lines.len(), "direct link", "direct links"))));
        for l in lines {
            self.events.push_back(Event::Notice(l));
        }
    }
}
