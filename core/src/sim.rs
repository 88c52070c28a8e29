//! A deterministic in-memory network of [`Node`]s, for tests and benchmarks.
//!
//! Links are pairs of in-memory byte queues, one per direction, delivered in FIFO
//! order per direction (like TCP) but in a random order across links, chosen by a
//! seeded generator: the same seed replays the same run exactly. Time is virtual
//! and only moves when nothing is in flight, to the next deadline some node asked
//! for. Every run loop is bounded in steps, so a forwarding loop fails fast instead
//! of hanging.
//!
//! Faults: [`Sim::crash`] (the process dies, its sockets close), [`Sim::cut`] (a
//! link silently drops everything until the endpoints time out), [`Sim::partition`]
//! and [`Sim::heal`] (links across groups go silent, and new connections across
//! fail), [`Sim::add_node`] for late joins.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::addr::PeerAddr;
use crate::event::Event;
use crate::id::{NodeId, Rng};
use crate::node::{Action, Direction, Node, NodeConfig, PeerId};
use crate::wire::{Chat, Frame, MAX_TEXT, MemberState, Private, Report};

/// Test seam: replaces the driver's host-name lookups (see `set_lookup_hook`).
pub use crate::driver::{LookupHook, set_lookup_hook};

/// A message as a node displayed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Sender.
    pub origin: NodeId,
    /// Sender's sequence number.
    pub seq: u64,
    /// Text.
    pub text: String,
    /// The name it was shown under.
    pub from: String,
    /// How many other events the node had shown before it (its place among them).
    pub after: usize,
}

/// One simulated process.
#[derive(Debug)]
pub struct SimNode {
    /// The node, `None` once crashed or stopped.
    pub node: Option<Node>,
    /// Its id.
    pub id: NodeId,
    /// Its listening address.
    pub addr: SocketAddr,
    /// Messages displayed, in display order.
    pub seen: Vec<Seen>,
    /// Every other event, in order.
    pub events: Vec<Event>,
    /// Partition group: connections only work within a group.
    pub group: u32,
    /// The node's log lines, when [`Sim::keep_logs`] is set.
    pub log: Vec<String>,
    /// Snapshots the node asked to write: directory and files.
    pub snapshots: Vec<(String, Vec<(String, String)>)>,
    /// Its store (the driver's SQLite store, in memory) when the template
    /// persists ([`NodeConfig::persist`]): what [`Sim::restart`] starts it from.
    pub store: Option<SimStore>,
    /// Its settings, for a restart.
    cfg: NodeConfig,
}

/// A simulated node's store: the real one, in memory.
pub struct SimStore(crate::driver::store::Db);

impl std::fmt::Debug for SimStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimStore")
    }
}

impl SimStore {
    /// The lines it answers a query with.
    pub fn query(&self, q: &crate::memory::Query) -> Result<Vec<crate::memory::SavedLine>, String> {
        self.0.query(q)
    }
}

#[derive(Debug)]
struct Link {
    ends: [(usize, PeerId); 2],
    queues: [VecDeque<Bytes>; 2],
    queued: [bool; 2],
    /// End `i` closed: once queue `i` drains, the other end learns it.
    closed: [bool; 2],
    /// Silently dropping everything (cut or partitioned).
    dead: bool,
}

/// The simulated network.
#[derive(Debug)]
pub struct Sim {
    /// Every node ever created, by index.
    pub nodes: Vec<SimNode>,
    links: HashMap<u64, Link>,
    by_peer: HashMap<(usize, PeerId), u64>,
    by_addr: HashMap<SocketAddr, usize>,
    ready: Vec<(u64, usize)>,
    pending_connects: VecDeque<(usize, u64, PeerAddr)>,
    next_link: u64,
    next_peer: u64,
    /// Virtual time now.
    pub now: Instant,
    start: Instant,
    rng: Rng,
    template: NodeConfig,
    /// Chunks delivered so far.
    pub steps: u64,
    /// Split chunks at random byte boundaries before delivery.
    pub split_chunks: bool,
    /// Keep every node's log lines (for debugging a seed).
    pub keep_logs: bool,
}

/// When the simulated clocks start (2026-01-01), milliseconds since the Unix
/// epoch: after the incarnations' epoch, so that a node restarted later starts
/// a later incarnation, as a real one does.
pub const SIM_EPOCH_MS: u64 = 1_767_225_600_000;

/// Default settings for simulated nodes: fast timers, default history.
pub fn default_config() -> NodeConfig {
    let keys = crate::crypto::Keys::from_u64(0);
    NodeConfig {
        id: keys.id(),
        keys,
        first_seq: crate::wire::seq_start(crate::wire::incarnation_at(SIM_EPOCH_MS)),
        network: "p2pchat".to_owned(),
        secret: None,
        text_clients: crate::config::TextClients::Any,
        name: String::new(),
        port: 0,
        advertise_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        heartbeat: Duration::from_millis(500),
        peer_timeout: Duration::from_millis(2500),
        handshake_timeout: Duration::from_secs(5),
        gap_timeout: Duration::from_secs(5),
        history: 200,
        redundancy: 1,
        max_peers: 4096,
        forget_after: Duration::from_secs(600),
        seed: 0,
        wall_ms: SIM_EPOCH_MS,
        idle_timeout: Some(Duration::from_secs(600)),
        max_text_clients: 64,
        text_rate: crate::config::TextRate::default(),
        snapshot_wait: Duration::from_secs(2),
        persist: false,
        catch_up_step: crate::config::Watermarks::of(crate::config::DEFAULT_QUEUE_CAP, false).step(),
    }
}

impl Sim {
    /// An empty network with the given seed and node template.
    pub fn new(seed: u64, template: NodeConfig) -> Self {
        crate::crypto::sim_memo::enable();
        let now = Instant::now();
        Sim {
            nodes: Vec::new(),
            links: HashMap::new(),
            by_peer: HashMap::new(),
            by_addr: HashMap::new(),
            ready: Vec::new(),
            pending_connects: VecDeque::new(),
            next_link: 1,
            next_peer: 1,
            now,
            start: now,
            rng: Rng::new(seed),
            template,
            steps: 0,
            split_chunks: true,
            keep_logs: false,
        }
    }

    /// A network of `n` nodes named `n0`, `n1`, ... with no links yet.
    pub fn with_nodes(n: usize, seed: u64) -> Self {
        let mut sim = Sim::new(seed, default_config());
        for i in 0..n {
            sim.add_node(&format!("n{i}"));
        }
        sim
    }

    /// A network of `n` nodes linked by `edges` (each `(a, b)`: `a` dials `b`),
    /// run for two virtual seconds so that links and membership settle.
    pub fn linked(n: usize, edges: &[(usize, usize)], seed: u64, max_steps: u64) -> Self {
        let mut sim = Sim::with_nodes(n, seed);
        for &(a, b) in edges {
            sim.connect(a, b);
        }
        sim.run_for(Duration::from_secs(2), max_steps);
        sim
    }

    /// Adds a node (not linked to anything) and returns its index.
    pub fn add_node(&mut self, name: &str) -> usize {
        self.add_node_with_clock(name, 0)
    }

    /// Adds a node whose wall clock is `skew_ms` off the others' (negative: behind,
    /// as a node would claim to be to win a name).
    pub fn add_node_with_clock(&mut self, name: &str, skew_ms: i64) -> usize {
        let i = self.nodes.len();
        let mut cfg = self.template.clone();
        cfg.keys = crate::crypto::Keys::from_u64(self.rng.next_u64());
        cfg.id = cfg.keys.id();
        cfg.name = name.to_owned();
        cfg.port = 10_000 + i as u16;
        cfg.seed = self.rng.next_u64();
        cfg.wall_ms =
            (self.template.wall_ms + (self.now - self.start).as_millis() as u64).saturating_add_signed(skew_ms);
        // Numbered from its start, as a real node is (`NodeConfig::from_config`).
        cfg.first_seq = crate::wire::seq_start(crate::wire::incarnation_at(cfg.wall_ms));
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), cfg.port);
        let id = cfg.id;
        let store = if cfg.persist {
            match crate::driver::store::Db::open_in_memory(crate::config::DEFAULT_KEEP) {
                Ok(db) => Some(SimStore(db)),
                Err(e) => panic!("an in-memory store: {e}"),
            }
        } else {
            None
        };
        let node = Node::new(cfg.clone(), self.now);
        self.by_addr.insert(addr, i);
        self.nodes.push(SimNode {
            node: Some(node),
            id,
            addr,
            seen: Vec::new(),
            events: Vec::new(),
            group: 0,
            log: Vec::new(),
            snapshots: Vec::new(),
            store,
            cfg,
        });
        self.drain(i);
        i
    }

    /// Virtual wall-clock time now, milliseconds since the Unix epoch.
    fn wall_ms(&self) -> u64 {
        self.template.wall_ms + (self.now - self.start).as_millis() as u64
    }

    /// Starts node `i` again after a crash (or crashes it first), as the same
    /// member: same key and address, a new incarnation, and whatever its store
    /// kept (nothing without one). Its displayed messages accumulate across lives.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].node.is_some() {
            self.crash(i);
        }
        let mut cfg = self.nodes[i].cfg.clone();
        cfg.wall_ms = self.wall_ms().max(cfg.wall_ms + 1);
        cfg.first_seq = crate::wire::seq_start(crate::wire::incarnation_at(cfg.wall_ms));
        cfg.seed = self.rng.next_u64();
        let saved = match &self.nodes[i].store {
            Some(store) => match store.0.load(cfg.history, crate::memory::SCREENFUL) {
                Ok(saved) => saved,
                Err(e) => panic!("node {i}'s store: {e}"),
            },
            None => crate::memory::Saved::default(),
        };
        self.nodes[i].cfg = cfg.clone();
        self.nodes[i].node = Some(Node::with_saved(cfg, saved, self.now));
        self.drain(i);
    }

    /// The texts of the notices node `i` showed, in order.
    pub fn notices(&self, i: usize) -> Vec<String> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|e| if let Event::Notice(t) = e { Some(t.clone()) } else { None })
            .collect()
    }

    /// The texts of the errors node `i` showed, in order.
    pub fn errors(&self, i: usize) -> Vec<String> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|e| if let Event::Error(t) = e { Some(t.clone()) } else { None })
            .collect()
    }

    /// Indices of nodes still running.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].node.is_some()).collect()
    }

    /// The node at `i` (panics if it crashed: for tests).
    pub fn node(&mut self, i: usize) -> &mut Node {
        match self.nodes[i].node.as_mut() {
            Some(n) => n,
            None => panic!("node {i} is not running"),
        }
    }

    /// Opens a connection from `a` to `b` as if `a` dialled `b`'s address.
    pub fn connect(&mut self, a: usize, b: usize) {
        let target = PeerAddr::from(self.nodes[b].addr);
        self.pending_connects.push_back((a, 0, target));
        self.process_connects();
    }

    /// Partition group of node `i`.
    pub fn group(&self, i: usize) -> u32 {
        self.nodes[i].group
    }

    /// Has node `i` type a line.
    pub fn type_line(&mut self, i: usize, line: &str) {
        let now = self.now;
        if let Some(n) = self.nodes[i].node.as_mut() {
            n.handle_line(line, now);
        }
        self.drain(i);
    }

    fn new_peer(&mut self) -> PeerId {
        self.next_peer += 1;
        PeerId(self.next_peer)
    }

    fn can_reach(&self, a: usize, b: usize) -> bool {
        self.nodes[b].node.is_some() && self.nodes[a].group == self.nodes[b].group
    }

    fn process_connects(&mut self) {
        while let Some((a, attempt, target)) = self.pending_connects.pop_front() {
            let b = match target.ip() {
                Some(addr) => self.by_addr.get(&addr).copied(),
                None => None,
            };
            let now = self.now;
            match b {
                Some(b) if b != a && self.can_reach(a, b) && self.nodes[a].node.is_some() => {
                    let (pa, pb) = (self.new_peer(), self.new_peer());
                    let link = self.next_link;
                    self.next_link += 1;
                    self.links.insert(
                        link,
                        Link {
                            ends: [(a, pa), (b, pb)],
                            queues: [VecDeque::new(), VecDeque::new()],
                            queued: [false, false],
                            closed: [false, false],
                            dead: false,
                        },
                    );
                    self.by_peer.insert((a, pa), link);
                    self.by_peer.insert((b, pb), link);
                    let (addr_a, addr_b) = (self.nodes[a].addr, self.nodes[b].addr);
                    let ephemeral = SocketAddr::new(addr_a.ip(), 40_000 + (pa.0 % 20_000) as u16);
                    if let Some(n) = self.nodes[b].node.as_mut() {
                        n.handle_connected(pb, Direction::Inbound, ephemeral, addr_b, now);
                    }
                    if let Some(n) = self.nodes[a].node.as_mut() {
                        n.handle_connected(pa, Direction::Outbound { attempt }, addr_b, addr_a, now);
                    }
                    self.drain(b);
                    self.drain(a);
                }
                _ => {
                    if let Some(n) = self.nodes[a].node.as_mut() {
                        n.handle_connect_failed(attempt, "connection refused", now);
                    }
                    self.drain(a);
                }
            }
        }
    }

    /// Moves a node's outputs into the network.
    fn drain(&mut self, i: usize) {
        let Some(node) = self.nodes[i].node.as_mut() else { return };
        let mut transmits = Vec::new();
        while let Some(t) = node.poll_transmit() {
            transmits.push(t);
        }
        let mut actions = Vec::new();
        while let Some(a) = node.poll_action() {
            actions.push(a);
        }
        let mut records = Vec::new();
        node.take_stored(&mut records);
        let wall_ms = self.wall_ms();
        let keep = self.keep_logs;
        let sn = &mut self.nodes[i];
        if let Some(store) = &mut sn.store {
            for r in &mut records {
                r.stamp(wall_ms);
            }
            if let Err(e) = store.0.apply(&records) {
                panic!("node {i}'s store: {e}");
            }
        }
        while let Some(l) = sn.node.as_mut().and_then(Node::poll_log) {
            if keep {
                sn.log.push(l);
            }
        }
        while let Some(ev) = sn.node.as_mut().and_then(Node::poll_event) {
            match ev {
                Event::Message { origin, seq, text, from, .. } => {
                    let after = sn.events.len();
                    sn.seen.push(Seen { origin, seq, text, from, after });
                }
                other => sn.events.push(other),
            }
        }
        for (peer, bytes) in transmits {
            self.push(i, peer, bytes);
        }
        let mut stop = false;
        for a in actions {
            match a {
                Action::Connect { attempt, target } => self.pending_connects.push_back((i, attempt, target)),
                Action::Disconnect { peer, .. } => self.close_end(i, peer),
                Action::Stop => stop = true,
                Action::WriteSnapshot { dir, files } => self.nodes[i].snapshots.push((dir, files)),
                Action::Query(q) => {
                    let answer = match &self.nodes[i].store {
                        Some(store) => store.0.query(&q),
                        None => Err("no store".to_owned()),
                    };
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        node.show_saved(&q, answer);
                    }
                    self.drain(i);
                }
                Action::Frames(q) => {
                    let page = match &self.nodes[i].store {
                        Some(store) => store.0.frames(&q).unwrap_or_else(|e| panic!("node {i}'s store: {e}")),
                        None => crate::memory::FramePage { peer: q.peer, frames: Vec::new(), last: q.after, end: true },
                    };
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        node.handle_frames(page, self.now);
                    }
                    self.drain(i);
                }
                // Links here have no queue: it is drained as soon as it is asked.
                Action::WatchDrain { peer } => {
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        node.handle_backlog(peer, crate::node::Backlog::Drained, self.now);
                    }
                    self.drain(i);
                }
            }
        }
        if stop {
            self.nodes[i].node = None;
        }
    }

    fn push(&mut self, i: usize, peer: PeerId, bytes: Bytes) {
        let Some(&lid) = self.by_peer.get(&(i, peer)) else { return };
        let Some(link) = self.links.get_mut(&lid) else { return };
        let dir = if link.ends[0] == (i, peer) { 0 } else { 1 };
        if link.dead || link.closed[dir] {
            return;
        }
        link.queues[dir].push_back(bytes);
        if !link.queued[dir] {
            link.queued[dir] = true;
            self.ready.push((lid, dir));
        }
    }

    /// End (i, peer) closes: pending bytes still flow, then the other end is told.
    fn close_end(&mut self, i: usize, peer: PeerId) {
        let Some(lid) = self.by_peer.remove(&(i, peer)) else { return };
        let Some(link) = self.links.get_mut(&lid) else { return };
        let dir = if link.ends[0] == (i, peer) { 0 } else { 1 };
        link.closed[dir] = true;
        link.queues[1 - dir].clear();
        if link.closed[1 - dir] {
            self.links.remove(&lid);
            return;
        }
        if !link.queued[dir] {
            // Nothing pending: schedule the close notification as a delivery.
            link.queued[dir] = true;
            self.ready.push((lid, dir));
        }
    }

    /// Delivers one chunk (or a close). Returns false when nothing is in flight.
    fn step(&mut self) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        self.steps += 1;
        let k = self.rng.below(self.ready.len() as u64) as usize;
        let (lid, dir) = self.ready[k];
        let Some(link) = self.links.get_mut(&lid) else {
            self.ready.swap_remove(k);
            return true;
        };
        let (to, to_peer) = link.ends[1 - dir];
        let chunk = if link.dead { None } else { link.queues[dir].pop_front() };
        if link.dead {
            link.queues[dir].clear();
        }
        let chunk = match chunk {
            Some(mut c) if self.split_chunks && c.len() > 1 && self.rng.chance(0.2) => {
                let cut = 1 + self.rng.below(c.len() as u64 - 1) as usize;
                let rest = c.split_off(cut);
                link.queues[dir].push_front(rest);
                Some(c)
            }
            other => other,
        };
        // Keep the direction scheduled while a close still has to be delivered.
        let close_pending = link.closed[dir] && chunk.is_some() && !link.dead;
        if link.queues[dir].is_empty() && !close_pending {
            link.queued[dir] = false;
            self.ready.swap_remove(k);
        }
        let now = self.now;
        match chunk {
            Some(c) => {
                if let Some(n) = self.nodes[to].node.as_mut() {
                    n.handle_data(to_peer, &c, now);
                }
                self.drain(to);
            }
            None if link.closed[dir] && !link.dead => {
                // The sender closed and everything it sent was delivered.
                if self.by_peer.remove(&(to, to_peer)).is_some()
                    && let Some(n) = self.nodes[to].node.as_mut()
                {
                    n.handle_disconnected(to_peer, "connection closed by peer", now);
                }
                self.drain(to);
                self.links.remove(&lid);
            }
            None => {}
        }
        self.process_connects();
        true
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(|n| n.node.as_ref().and_then(Node::poll_timeout)).min()
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            let due = self.nodes[i].node.as_ref().and_then(Node::poll_timeout).is_some_and(|t| t <= now);
            if due {
                if let Some(n) = self.nodes[i].node.as_mut() {
                    n.handle_timeout(now);
                }
                self.drain(i);
            }
        }
        self.process_connects();
    }

    /// Runs for `duration` of virtual time: all traffic in flight is delivered, and
    /// timers fire as time advances. Panics after `max_steps` deliveries.
    pub fn run_for(&mut self, duration: Duration, max_steps: u64) {
        let end = self.now + duration;
        let start_steps = self.steps;
        loop {
            while self.step() {
                assert!(
                    self.steps - start_steps <= max_steps,
                    "simulation did not settle within {max_steps} steps (forwarding loop?)"
                );
            }
            match self.next_deadline() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.fire_timers();
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }

    /// Delivers everything in flight without advancing time.
    pub fn deliver_all(&mut self, max_steps: u64) {
        let start = self.steps;
        while self.step() {
            assert!(self.steps - start <= max_steps, "did not settle within {max_steps} steps");
        }
    }

    /// Delivers up to `n` chunks (to interleave sending with delivery).
    pub fn deliver_some(&mut self, n: u64) {
        for _ in 0..n {
            if !self.step() {
                break;
            }
        }
    }

    /// Bytes and close notices still in flight.
    pub fn in_flight(&self) -> usize {
        self.links.values().map(|l| l.queues[0].len() + l.queues[1].len()).sum()
    }

    /// The process at `i` dies: its connections close (the peers see EOF).
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].node = None;
        let mut ends: Vec<(usize, PeerId)> = self.by_peer.keys().filter(|(n, _)| *n == i).copied().collect();
        ends.sort_unstable();
        for (n, p) in ends {
            self.close_end(n, p);
        }
    }

    /// The link between `a` and `b` goes silent in both directions (a black hole):
    /// nothing more is delivered and neither side is told.
    pub fn cut(&mut self, a: usize, b: usize) {
        for link in self.links.values_mut() {
            let (x, y) = (link.ends[0].0, link.ends[1].0);
            if (x, y) == (a, b) || (x, y) == (b, a) {
                link.dead = true;
            }
        }
    }

    /// Splits the network: node `i` goes to group `groups[i]`. Links across groups
    /// go silent; new connections across groups fail.
    pub fn partition(&mut self, groups: &[u32]) {
        for (i, g) in groups.iter().enumerate() {
            if let Some(n) = self.nodes.get_mut(i) {
                n.group = *g;
            }
        }
        for link in self.links.values_mut() {
            if self.nodes[link.ends[0].0].group != self.nodes[link.ends[1].0].group {
                link.dead = true;
            }
        }
    }

    /// Ends every partition (links cut before stay dead until their ends time out).
    pub fn heal(&mut self) {
        for n in &mut self.nodes {
            n.group = 0;
        }
    }

    /// Ids of the members node `i` considers reachable (itself included), sorted.
    pub fn member_ids(&mut self, i: usize) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self.node(i).members().into_iter().map(|m| m.id).collect();
        v.sort_unstable();
        v
    }
}

/// Edges of common topologies over nodes `0..n`.
pub mod topology {
    use crate::id::Rng;

    /// Node 0 linked to every other.
    pub fn star(n: usize) -> Vec<(usize, usize)> {
        (1..n).map(|i| (i, 0)).collect()
    }

    /// Complete binary tree in heap order.
    pub fn binary_tree(n: usize) -> Vec<(usize, usize)> {
        (1..n).map(|i| (i, (i - 1) / 2)).collect()
    }

    /// 0 - 1 - 2 - ... - n-1.
    pub fn line(n: usize) -> Vec<(usize, usize)> {
        (1..n).map(|i| (i, i - 1)).collect()
    }

    /// A line closed into a cycle.
    pub fn ring(n: usize) -> Vec<(usize, usize)> {
        let mut e = line(n);
        if n > 2 {
            e.push((0, n - 1));
        }
        e
    }

    /// Every pair.
    pub fn complete(n: usize) -> Vec<(usize, usize)> {
        (0..n).flat_map(|i| (0..i).map(move |j| (i, j))).collect()
    }

    /// A random spanning tree plus `extra` random edges (cycles), connected.
    pub fn random_connected(n: usize, extra: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
        let mut e: Vec<(usize, usize)> = (1..n).map(|i| (i, rng.below(i as u64) as usize)).collect();
        let mut have: std::collections::HashSet<(usize, usize)> =
            e.iter().map(|&(a, b)| (a.max(b), a.min(b))).collect();
        let mut tries = 0;
        while e.len() < n - 1 + extra && tries < extra * 20 + 100 {
            tries += 1;
            let (a, b) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
            if a != b && have.insert((a.max(b), a.min(b))) {
                e.push((a, b));
            }
        }
        e
    }
}

/// One valid frame of every kind, with edge values (the largest id, multi-byte
/// and control characters, a long text, a leaving record): the one sample that
/// the wire round-trip tests, the randomized tests (`core/tests/random_inputs.rs`)
/// and the fuzz seed corpus (`fuzz/examples/seeds.rs`) start from.
pub fn sample_frames() -> Vec<Frame> {
    use crate::crypto::{Keys, Sig, domain, sign_bytes};
    let (k2, k3) = (Keys::from_u64(2), Keys::from_u64(3));
    let chat = |keys: &Keys, seq: u64, name: &str, text: String| {
        let content = crate::wire::chat_content(&keys.id(), seq, name, &text).unwrap_or_default();
        let auth = crate::crypto::sign_batch(keys, seq, vec![crate::crypto::leaf(&content)]).pop().unwrap_or_default();
        Frame::Chat(Chat { origin: keys.id(), seq, name: name.into(), text, auth })
    };
    // Signs a frame for real, then decodes it back, so the samples carry valid
    // signatures.
    let signed = |frame: Frame, keys: &Keys, domain: &[u8]| {
        frame
            .encode_signed(|b| sign_bytes(keys, domain, b))
            .ok()
            .and_then(|raw| Frame::decode_body(&raw[crate::wire::LEN_PREFIX..]).ok())
            .unwrap_or(Frame::Heartbeat)
    };
    let k9 = Keys::from_u64(9);
    let state = MemberState {
        id: k9.id(),
        version: 3,
        name: "carol".into(),
        claimed: 1_700_000_000_000,
        addr: Some(SocketAddr::from(([127, 0, 0, 1], 5000))),
        links: vec![NodeId::from_u64(1), NodeId::from_u64(2)],
        leaving: false,
        host: None,
        endorsed: Some(crate::crypto::endorse(&Keys::from_u64(1), &k9.id(), 1_700_000_000_500)),
    };
    let mut batch = {
        let texts = ["one", "two", "three"];
        let leaves = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::crypto::leaf(&crate::wire::chat_content(&k2.id(), 10 + i as u64, "bob", t).unwrap_or_default())
            })
            .collect();
        crate::crypto::sign_batch(&k2, 10, leaves)
    };
    let third = batch.pop().unwrap_or_default();
    let k1 = Keys::from_u64(1);
    let k5 = Keys::from_u64(5);
    vec![
        chat(&Keys::from_u64(7), 1, "bob", "hi ✓ there".into()),
        chat(&k2, 2, "bob", "é\u{1b}[31m".into()),
        Frame::Chat(Chat { origin: k2.id(), seq: 12, name: "bob".into(), text: "three".into(), auth: third }),
        Frame::Heartbeat,
        Frame::Sync { marks: vec![(NodeId::from_u64(1), 5), (NodeId::from_u64(2), 900)], last: true },
        Frame::SyncDone { floors: vec![(NodeId::from_u64(3), 1)] },
        Frame::CaughtUp { messages: 48_112, members: 3 },
        signed(Frame::State(state.clone(), Sig::default()), &k9, domain::STATE),
        signed(Frame::State(MemberState { leaving: true, version: 4, ..state }, Sig::default()), &k9, domain::STATE),
        signed(
            Frame::Private(
                Private { from: k1.id(), to: NodeId::from_u64(2), name: "a".into(), seq: 1, text: "psst".into() },
                Sig::default(),
            ),
            &k1,
            domain::PRIVATE,
        ),
        Frame::SnapshotRequest { requester: NodeId::from_u64(4), request: 99 },
        signed(
            Frame::SnapshotReply(
                Report {
                    requester: NodeId::from_u64(4),
                    request: 99,
                    member: k5.id(),
                    name: "e".into(),
                    addr: None,
                    host: Some(NodeId::from_u64(6)),
                    links: vec![NodeId::from_u64(6)],
                    marks: vec![(NodeId::from_u64(5), 3)],
                    sent: 3,
                    received: 4,
                    forwarded: 5,
                },
                Sig::default(),
            ),
            &k5,
            domain::REPORT,
        ),
        Frame::Bye { reason: "bye".into() },
        chat(&k3, 2, "x", "é".repeat(MAX_TEXT / 2)),
        Frame::Endorse(crate::crypto::endorse(&k1, &k9.id(), 1_700_000_000_500)),
        batch_frame(&k2, 20, &["four", "five ✓", "six"]),
        batch_frame(&k3, crate::wire::seq_start(7), &["one of one"]),
    ]
}

/// A genuine batch frame from `keys` (decoded form).
fn batch_frame(keys: &crate::crypto::Keys, first: u64, texts: &[&str]) -> Frame {
    let items = texts.iter().map(|t| crate::wire::BatchItem { name: "bob".into(), text: (*t).into() }).collect();
    crate::wire::Batch::signed(keys, first, items).map_or(Frame::Heartbeat, Frame::Batch)
}
