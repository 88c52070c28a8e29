//! The node's side of membership: member records arriving, this node's own
//! record going out, and the recomputation of who is reachable (done only where
//! the time is passed in), followed by names, notices and repair.

use std::time::Instant;

use bytes::Bytes;

use super::members::Offer;
use super::{Node, PeerId};
use crate::event::Event;
use crate::wire::MemberState;

impl Node {
    /// Re-encodes this node's record if it changed; it is flooded on the next
    /// membership update.
    pub(super) fn refresh_own(&mut self) {
        match self.own.refresh() {
            None => {}
            Some(result) => {
                self.epoch += 1;
                if let Err(e) = result {
                    self.out.log(format!("could not encode own record: {e}"));
                }
                if self.cfg.persist
                    && let Some(saved) = self.own.unsaved()
                {
                    self.out.store(crate::memory::Stored::Own(saved));
                }
            }
        }
    }

    /// Floods this node's record if it changed since it was last flooded.
    fn flood_own(&mut self, now: Instant) {
        self.refresh_own();
        if let Some(raw) = self.own.take_flood() {
            self.forward(None, &raw, now);
        }
    }

    pub(super) fn on_state(&mut self, peer: PeerId, s: MemberState, raw: Bytes, now: Instant) {
        if s.id == self.cfg.id {
            // Echoes of this node's own record come back through cycles: ignore
            // them. A newer one can only be a stale copy from a previous life of
            // this id: outrank it.
            self.own.outrank(s.version);
            return;
        }
        let (id, name) = (s.id, s.name.clone());
        if s.endorsed.is_none() {
            self.endorse(peer, id, now);
        }
        match self.members.offer(s, raw.clone()) {
            Offer::Stale => self.stats.stale_records += 1,
            Offer::Full => self.out.log(format!("ignoring member {id}: membership table full")),
            Offer::Accepted(old) => {
                self.stats.records += 1;
                self.forward(Some(peer), &raw, now);
                // A rename is news for a member known here, and for one not yet
                // announced whose old name clashed with a name known here (it
                // renamed itself because of that clash: both sides are told).
                let clash =
                    |old: &str| self.own.name() == old || self.members.holders_of(old).any(|r| r.state.id != id);
                let reachable = self.members.get(id).is_some_and(|r| r.reachable);
                if let Some(old) = old
                    && (reachable || clash(&old))
                {
                    // Not announced yet: not reachable, or its arrival held for this.
                    let newcomer = !reachable || self.notices.holds(id);
                    self.publish(Event::Renamed { id, from: old, to: name, newcomer });
                    if self.notices.holds(id) {
                        self.release_held(now, Some(id));
                    }
                }
                // A member not reachable yet whose name is taken here will be
                // renamed: its arrival and the history it brings wait for that.
                if let Some(r) = self.members.get(id)
                    && !r.reachable
                    && (self.must_yield(r) || self.clash_undecided(r))
                {
                    self.notices.hold(id, now + self.cfg.peer_timeout);
                }
            }
        }
    }

    /// Endorses the neighbour at the other end of `peer`, once per link, if the
    /// record it just sent of itself has no endorsement (see `node::names`).
    fn endorse(&mut self, peer: PeerId, member: crate::id::NodeId, now: Instant) {
        let Some(p) = self.peers.get_mut(peer) else { return };
        if p.remote_id() != Some(member) || p.endorse_sent {
            return;
        }
        p.endorse_sent = true;
        let accepted = p.direction == super::Direction::Inbound;
        // Established, or it joined through this node: it is accepted now. A lone
        // node that connected to another vouches that the other was there first.
        let at = if self.own.state().endorsed.is_some() || accepted {
            self.wall_now(now)
        } else {
            self.own.state().claimed.saturating_sub(1)
        };
        let e = crate::crypto::endorse(&self.cfg.keys, &member, at);
        self.peers.send_frame(&mut self.out, peer, &crate::wire::Frame::Endorse(e), now);
    }

    pub(super) fn update_membership(&mut self, now: Instant) {
        self.flood_own(now);
        if !self.members.is_dirty() {
            return;
        }
        let changes = self.members.recompute(self.own.state(), now);
        self.epoch += 1;
        self.resolve_name_clashes(now);
        // A rename goes out at once, so others do not see two members with one name
        // for longer than it takes to cross the network.
        self.flood_own(now);
        self.announce_changes(&changes, now);
        self.members.stamp_unseen(now);
        for id in self.members.forget_before(now.checked_sub(self.cfg.forget_after).unwrap_or(self.started)) {
            self.repair.forget(id);
            self.notices.forget(id);
        }
        // Members that came back need no repair.
        self.repair.retain(|id| !self.members.get(id).is_some_and(|r| r.reachable));
    }
}
