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
                    && self.must_yield(r)
                {
                    self.notices.hold(id, now + self.cfg.peer_timeout);
                }
            }
        }
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
