//! Repair: reconnecting to members that became unreachable, and keeping at
//! least `--redundancy` direct links.
//!
//! [`Repair`] owns the members to reach again (their address, next try and
//! backoff), when this node last lost a link, and when it may next add a link
//! for redundancy.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Node;
use super::members::Record;
use super::peers::Purpose;
use crate::addr::PeerAddr;
use crate::id::{NodeId, Rng};

#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    next_try: Instant,
    backoff: Duration,
    hops: u32,
}

#[derive(Debug)]
pub(super) struct Repair {
    targets: BTreeMap<NodeId, Target>,
    last_link_loss: Option<Instant>,
    next_redundancy: Instant,
}

impl Repair {
    pub fn new(now: Instant) -> Self {
        Repair { targets: BTreeMap::new(), last_link_loss: None, next_redundancy: now }
    }

    pub fn link_lost(&mut self, now: Instant) {
        self.last_link_loss = Some(now);
    }

    /// Whether this node lost a link within `window`.
    fn lost_within(&self, now: Instant, window: Duration) -> bool {
        self.last_link_loss.is_some_and(|t| now.saturating_duration_since(t) <= window)
    }

    pub fn forget(&mut self, id: NodeId) {
        self.targets.remove(&id);
    }

    pub fn retain(&mut self, mut keep: impl FnMut(NodeId) -> bool) {
        self.targets.retain(|id, _| keep(*id));
    }
}

impl Node {
    /// Reconnect to lost members: soon if this node saw a link go down lately,
    /// after a heartbeat otherwise (when only the smallest id keeps trying).
    pub(super) fn schedule_repair(&mut self, lost: &[Record], now: Instant) {
        if lost.is_empty() {
            return;
        }
        let recent = self.repair.lost_within(now, self.cfg.peer_timeout * 4);
        for r in lost {
            if let Some(addr) = r.state.addr {
                let jitter = Duration::from_millis(self.rng.below(50));
                let first = if recent { now + jitter } else { now + self.cfg.heartbeat + jitter };
                let backoff = self.cfg.heartbeat.max(Duration::from_millis(200));
                self.repair.targets.insert(r.state.id, Target { addr, next_try: first, backoff, hops: r.hops });
            }
        }
    }

    pub(super) fn run_repair(&mut self, now: Instant) {
        if self.repair.targets.is_empty() {
            return;
        }
        let in_flight = |id: NodeId| self.peers.attempting(Purpose::Repair(id));
        let connected = self.peers.remotes();
        // Nearest first; among equals, an order of this node's own (its seed mixed
        // with the id), so that survivors do not all pick the same member and turn
        // it into a hub.
        let salt = self.cfg.seed;
        let mut due: Vec<(u32, u64, NodeId)> = self
            .repair
            .targets
            .iter()
            .filter(|(id, r)| r.next_try <= now && !in_flight(**id) && !connected.contains(&r.addr))
            .map(|(id, r)| (r.hops, Rng::new(id.prefix() ^ salt).next_u64(), *id))
            .collect();
        due.sort_unstable();
        // Smallest id of the reachable part: it keeps trying even without a recent
        // link loss, so that two sides always find each other again.
        let smallest = self.members.reachable().iter().all(|r| r.state.id > self.cfg.id);
        let recent = self.repair.lost_within(now, self.cfg.forget_after);
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
            let half = self.repair.targets.get(&id).map_or(0, |r| r.backoff.as_millis() as u64 / 2);
            let spread = self.rng.below(1 + half);
            let Some(r) = self.repair.targets.get_mut(&id) else { continue };
            let addr = r.addr;
            r.next_try = now + r.backoff / 2 + Duration::from_millis(spread);
            r.backoff = (r.backoff * 2).min(max_backoff);
            self.out.log(format!("trying to reach {id} at {addr}"));
            self.peers.attempt(&mut self.out, PeerAddr::from(addr), Purpose::Repair(id));
        }
    }

    /// With fewer than `redundancy` links, link to the farthest reachable member
    /// not linked yet: one attempt at a time, so links grow slowly and on purpose.
    pub(super) fn keep_redundancy(&mut self, now: Instant) {
        if self.peers.ready_count() >= self.cfg.redundancy || now < self.repair.next_redundancy {
            return;
        }
        if self.peers.attempting(Purpose::Redundancy) {
            return;
        }
        let connected = self.peers.remotes();
        let pick = self
            .members
            .reachable()
            .into_iter()
            .filter(|r| !self.own.linked(r.state.id))
            .filter_map(|r| r.state.addr.filter(|a| !connected.contains(a)).map(|a| (r.hops, r.state.id, a)))
            .max_by_key(|(hops, id, _)| (*hops, std::cmp::Reverse(*id)));
        if let Some((_, id, addr)) = pick {
            self.repair.next_redundancy = now + self.cfg.heartbeat * 2;
            self.out.log(format!("linking to {id} at {addr} for redundancy"));
            self.peers.attempt(&mut self.out, PeerAddr::from(addr), Purpose::Redundancy);
        }
    }
}
