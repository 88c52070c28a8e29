//! The sans-IO protocol node.
//!
//! A [`Node`] is driven by `handle_*` calls (a connection opened or closed, bytes
//! read, a line typed, time passing) and drained with `poll_*` calls (bytes to write
//! to a peer, events for the user, connections to open or close, log lines). It
//! never touches a socket, a clock or a thread: time is always passed in, and its
//! randomness comes from a seed. That is what lets the simulator in `crate::sim`
//! (feature `sim`) run thousands of nodes deterministically and replay any failing
//! seed.
//!
//! `Node` is a coordinator over parts that each own their state:
//!
//! | part | state it owns | what it does |
//! |---|---|---|
//! | `peers` | connections, handshakes, attempts in flight | the preamble and the Noise handshake (`noise`), the duplicate-link rule, timeouts, heartbeats |
//! | [`delivery`] | per-origin marks, reorder buffers, history | exactly-once, in-order delivery; duplicates dropped |
//! | `flood` | (none) | forwarding each new chat message to every ready peer but its sender |
//! | `catchup` | sync summaries arriving, own messages handed over | marks exchanged on every new link, history and floors in answer, gaps expired |
//! | [`members`] | member records, reachability | who is reachable, by the links both ends list |
//! | `own` | this node's record | its name, address, links; versioned and flooded on change |
//! | `names` | (rules) | unique names: the earlier claim keeps a name |
//! | `notices` | held arrivals, members cut off by a netsplit | what the user is told when membership changes |
//! | `repair` | members to reach again, backoff | reconnecting after losses; `--redundancy` links |
//! | [`netcat`] | the plain-text (netcat) clients hosted here | `nc` users: names, lines, rate limits |
//! | `private` | private counter, messages waiting for a link | `:msg` over direct links only |
//! | `snapshot` | the snapshot being taken, request routes | `:snapshot` |
//! | `outbox` | bytes, events, actions, log lines | what the `poll_*` calls drain |

mod catchup;
pub mod delivery;
mod flood;
mod lag;
pub mod members;
mod membership;
mod names;
pub mod netcat;
pub(crate) mod noise;
mod notices;
mod outbox;
mod own;
mod peers;
mod private;
mod repair;
pub mod snapshot;
mod types;
mod views;

use std::time::{Duration, Instant};

use bytes::Bytes;

pub use types::too_long;
pub use types::{
    Action, Backlog, Direction, FINISH_TIMEOUT, LinkInfo, LinkKind, MAX_ORIGINS, MemberInfo, NodeConfig, PeerId, Stats,
};

use crate::addr::PeerAddr;
use crate::command::{self, Input};
use crate::event::{Event, count};
use crate::id::{NodeId, Rng};
use crate::memory::{MAX_QUERY_LINES, Query, Saved, SavedLine, Stored};
use crate::wire;
use catchup::CatchUp;
use delivery::{Delivery, Held};
use lag::Lagging;
use members::Members;
use netcat::NetcatClients;
use notices::Notices;
use outbox::Outbox;
use own::Own;
use peers::{Peers, Phase, Purpose};
use private::Privates;
use repair::Repair;
use snapshot::Snapshots;

/// The protocol state machine. See the module documentation.
#[derive(Debug)]
pub struct Node {
    cfg: NodeConfig,
    started: Instant,
    next_tick: Instant,
    tick: Duration,
    rng: Rng,
    /// This node's own chat sequence numbers.
    seq: u64,
    stats: Stats,
    /// Grows whenever what [`Node::members`] shows may have changed.
    epoch: u64,
    stopping: bool,
    /// Links to members were lost during this call: see `Node::report_losses`.
    links_lost: bool,
    /// Set by [`Input::EndOfInput`]: quit once settled, or at this deadline.
    finishing: Option<Instant>,
    /// Messages written this turn, not signed yet (`Node::seal_batch`).
    batch: Vec<wire::Chat>,
    /// When the last of them was written.
    batch_now: Instant,
    /// This node's preamble, sent on every link.
    preamble: wire::Preamble,
    /// What every handshake requires.
    network: noise::Network,
    /// Batch signatures already checked.
    verifier: crate::crypto::Verifier,
    /// Reused buffer for encryption and decryption.
    scratch_bytes: Vec<u8>,
    out: Outbox,
    own: Own,
    peers: Peers,
    delivery: Delivery,
    /// Reused buffer for messages released by [`Delivery`].
    scratch: Vec<Held>,
    catchup: CatchUp,
    lagging: Lagging,
    members: Members,
    notices: Notices,
    repair: Repair,
    netcats: NetcatClients,
    private: Privates,
    snapshots: Snapshots,
}

impl Node {
    /// A node that has not met anyone yet. Its first event is [`Event::Listening`].
    pub fn new(cfg: NodeConfig, now: Instant) -> Self {
        Self::with_saved(cfg, Saved::default(), now)
    }

    /// A node that starts from what it saved in an earlier run (guarantee 12):
    /// its marks (so neighbours send exactly what it missed), its last messages
    /// as the history it offers, its standing on its name, and sequence numbers
    /// above every one it used before. After [`Event::Listening`] it shows the
    /// saved screenful ([`Event::History`], then [`Event::HISTORY_END`]).
    pub fn with_saved(mut cfg: NodeConfig, saved: Saved, now: Instant) -> Self {
        if let Some(&(_, last)) = saved.marks.iter().find(|(id, _)| *id == cfg.id)
            && last >= cfg.first_seq
        {
            // The clock went back since the last run: count on from its incarnation.
            cfg.first_seq = wire::seq_start(wire::incarnation(last) + 1);
        }
        let tick = (cfg.heartbeat / 2).max(Duration::from_millis(5));
        let mut node = Node {
            rng: Rng::new(cfg.seed),
            started: now,
            next_tick: now + tick,
            tick,
            seq: cfg.first_seq - 1,
            stats: Stats::default(),
            epoch: 0,
            stopping: false,
            links_lost: false,
            finishing: None,
            batch: Vec::new(),
            batch_now: now,
            preamble: wire::Preamble { network: cfg.network.clone(), secret_tag: cfg.secret.map(|(_, tag)| tag) },
            network: noise::Network { name: cfg.network.clone(), psk: cfg.secret.map(|(psk, _)| psk) },
            verifier: crate::crypto::Verifier::default(),
            scratch_bytes: Vec::new(),
            out: Outbox::default(),
            own: Own::new(&cfg),
            peers: Peers::new(),
            delivery: Delivery::new(cfg.history),
            scratch: Vec::new(),
            catchup: CatchUp::new(cfg.first_seq - 1),
            lagging: Lagging::default(),
            members: Members::default(),
            notices: Notices::default(),
            repair: Repair::new(now),
            netcats: NetcatClients::default(),
            private: Privates::default(),
            snapshots: Snapshots::default(),
            cfg,
        };
        node.delivery.restore(&saved.marks, saved.history);
        if let Some(own) = &saved.own {
            node.own.restore(own);
        }
        node.refresh_own();
        node.out.event(Event::Listening { port: node.cfg.port, id: node.cfg.id, name: node.own.name().to_owned() });
        if !saved.screen.is_empty() {
            for line in saved.screen {
                node.out.event(Event::History(line));
            }
            node.out.notice(Event::HISTORY_END.to_owned());
        }
        node
    }

    /// Moves the records this node produced for its store into `into` (nothing
    /// unless [`NodeConfig::persist`]). The driver stamps each message's time.
    pub fn take_stored(&mut self, into: &mut Vec<Stored>) {
        self.seal_batch();
        self.out.take_stored(into);
    }

    /// The store's answer to a [`Action::Query`]: the lines, or what went wrong.
    pub fn show_saved(&mut self, query: &Query, answer: Result<Vec<SavedLine>, String>) {
        let lines = match answer {
            Ok(lines) => lines,
            Err(e) => {
                self.out.error(format!("could not read the saved history: {e}"));
                return;
            }
        };
        let header = match (query, lines.len()) {
            (Query::Last(_), 0) => "nothing is saved yet".to_owned(),
            (Query::Last(_), n) => format!("the last {}:", count(n, "saved line", "saved lines")),
            (Query::Search(t), 0) => format!("no saved line contains \"{t}\""),
            (Query::Search(t), n) => {
                let verb = if n == 1 { "contains" } else { "contain" };
                let more = if n >= MAX_QUERY_LINES { " (the last ones)" } else { "" };
                format!("{} {verb} \"{t}\"{more}:", count(n, "saved line", "saved lines"))
            }
        };
        self.out.notice(header);
        for line in lines {
            self.out.event(Event::History(line));
        }
    }

    /// `:history` and `:search`: asked of the store, or refused when nothing is saved.
    fn query_saved(&mut self, query: Query) {
        if self.cfg.persist {
            self.out.act(Action::Query(query));
        } else {
            self.out.error(
                "no history is saved in this run (--ephemeral, a temporary member, or a store that could not be opened)"
                    .to_owned(),
            );
        }
    }

    /// Shows the user a notice (for what the driver learned before the node
    /// existed, such as a temporary identity).
    pub fn notice(&mut self, text: String) {
        self.out.notice(text);
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// This node's current name (it changes if it collided with another member's).
    pub fn name(&self) -> &str {
        self.own.name()
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
        if self.stopping && self.finishing.is_some() { self.unhanded() } else { 0 }
    }

    /// This node's own messages not yet queued to a neighbour that will have them.
    fn unhanded(&self) -> u64 {
        self.seq.saturating_sub(self.catchup.handed_over())
    }

    /// Grows whenever the member list, this node's links or its name may have
    /// changed: a cheap way for a frontend to know when to refresh [`Node::members`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Version of this node's own member record (grows with every change).
    pub fn record_version(&self) -> u64 {
        self.own.state().version
    }

    /// Ids of ready direct links, sorted.
    pub fn neighbours(&self) -> Vec<NodeId> {
        self.own.links().to_vec()
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
        let me = self.own.state();
        let mut v = vec![MemberInfo { id: me.id, name: me.name.clone(), addr: me.addr, hops: 0, direct: false }];
        v.extend(self.members.reachable().into_iter().map(|r| MemberInfo {
            id: r.state.id,
            name: r.state.name.clone(),
            addr: r.state.addr,
            hops: r.hops,
            direct: self.own.linked(r.state.id),
        }));
        v
    }

    // ----- inputs -------------------------------------------------------------

    /// A line typed by the user: a chat message or a command.
    pub fn handle_line(&mut self, line: &str, now: Instant) {
        match command::parse_line(line) {
            Ok(input) => self.handle_input(input, now),
            Err(e) => self.out.error(e),
        }
    }

    /// A parsed user input.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        if self.stopping {
            return;
        }
        if !matches!(input, Input::Chat(_)) {
            // Whatever was typed before this is sent before it is carried out.
            self.seal_batch();
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
                    self.out.notice((*line).to_owned());
                }
            }
            Input::Users => self.show_users(now),
            Input::Peers => self.show_peers(),
            Input::Whois(name) => self.show_whois(&name, now),
            Input::Msg { name, text } => self.send_private(private::Sender::User, &name, text, now),
            Input::Snapshot(dir) => self.start_snapshot(dir, now),
            Input::Connect(to) => self.connect(to, now),
            Input::History(n) => self.query_saved(Query::Last(n)),
            Input::Search(text) => self.query_saved(Query::Search(text)),
        }
    }

    /// Opens a connection on the user's behalf (a failure is reported as an error).
    pub fn connect(&mut self, target: PeerAddr, _now: Instant) {
        self.peers.attempt(&mut self.out, target, Purpose::User);
    }

    /// Time passed: heartbeats, failure detection, gap expiry, membership, repair.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.seal_batch();
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
        self.report_losses(now);
        self.expire_gaps(now);
        self.update_membership(now);
        if self.notices.holds_any() {
            self.release_held(now, None);
        }
        self.run_repair(now);
        self.keep_redundancy(now);
        self.expire_private(now);
        self.check_snapshot(now);
    }

    // ----- outputs ------------------------------------------------------------

    /// Next bytes to write to a peer. The frames queued for each link since
    /// the last call are encrypted together here, in as few Noise messages as
    /// fit.
    pub fn poll_transmit(&mut self) -> Option<(PeerId, Bytes)> {
        self.seal_batch();
        if let Some(t) = self.out.pop_transmit() {
            return Some(t);
        }
        let mut scratch = std::mem::take(&mut self.scratch_bytes);
        for (peer, frames) in self.out.take_all_plain() {
            self.peers.seal(&mut self.out, peer, frames, &mut scratch);
        }
        if scratch.capacity() > 256 * 1024 {
            scratch = Vec::new();
        }
        self.scratch_bytes = scratch;
        self.out.pop_transmit()
    }

    /// Next event for the user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.seal_batch();
        self.out.pop_event()
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.seal_batch();
        self.out.pop_action()
    }

    /// Next line for the log.
    pub fn poll_log(&mut self) -> Option<String> {
        self.out.pop_log()
    }

    /// When [`Node::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.stopping).then_some(self.next_tick)
    }

    // ----- leaving --------------------------------------------------------------

    /// After [`Input::EndOfInput`]: quits once no join the user asked for is in
    /// progress and every neighbour has told us what it has (so what the user typed
    /// is queued to it), or at the deadline.
    fn try_finish(&mut self, now: Instant) {
        let Some(deadline) = self.finishing else { return };
        if self.stopping || (self.peers.unsettled() && now < deadline) {
            return;
        }
        self.quit(now);
    }

    fn quit(&mut self, now: Instant) {
        self.seal_batch();
        let undelivered = self.unhanded();
        if self.finishing.is_some() && undelivered > 0 {
            let what = crate::event::count(undelivered as usize, "message", "messages");
            self.out.error(format!("{what} could not be delivered: no neighbour received them"));
        }
        for peer in self.peers.in_phase(Phase::Netcat) {
            self.send_netcat(peer, "p2pchat: this node is shutting down; goodbye");
            self.close(peer, "node quit".into(), false, now);
        }
        self.own.leave();
        self.refresh_own();
        let raw = self.own.raw();
        self.forward(None, &raw, now);
        // Stopping from here on: closing the links is not news to announce (the
        // user would otherwise see "lost contact" with everyone on the way out).
        self.stopping = true;
        for id in self.peers.ids() {
            self.close(id, "quit".into(), true, now);
        }
        self.out.act(Action::Stop);
    }
}
