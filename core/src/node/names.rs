//! Unique names: two reachable members may not share a name. The member with the
//! better standing ([`rank_of`], then the smaller id) keeps it, the other takes
//! the first free `name-N`. Every node applies the same rule to the same records,
//! so all decide alike; this node applies it to itself and to the text clients it
//! hosts.
//!
//! A member's standing is not its own word: it is when the network first accepted
//! it, as signed by the neighbour that did (its [`Endorsement`]), and never earlier
//! than its own claim. A node endorses a neighbour whose record has none, with its
//! own clock's time, when it is established itself (endorsed) or accepted the
//! connection; a lone node that connects to another lone node vouches that the
//! other was there first (its own claim time minus one). So a newcomer that lies
//! about its clock gets the time its first neighbour accepted it, and loses the
//! name to a member who was there before; a member without an endorsement cannot
//! keep a name against one with an endorsement, and two without one are not
//! decided between until they have one. (A member that colludes with a newcomer
//! can still vouch for it with any time: the rule stops a lone liar, not a group.)

use std::time::Instant;

use super::members::{Members, Record};
use super::{Node, PeerId};
use crate::id::NodeId;
use crate::wire::{Endorsement, MAX_NAME, MemberState};

/// The standing of a member that has no endorsement: the worst.
pub(super) const UNENDORSED: u64 = u64::MAX;

/// A member's standing on its name: when the network accepted it, never before
/// its own claim; [`UNENDORSED`] without an endorsement.
pub(super) fn rank_of(claimed: u64, endorsed: Option<&Endorsement>) -> u64 {
    endorsed.map_or(UNENDORSED, |e| e.at.max(claimed))
}

/// A record's standing.
pub(super) fn rank(s: &MemberState) -> u64 {
    rank_of(s.claimed, s.endorsed.as_ref())
}

/// Whether a member of standing `winner` (with id `wid`) keeps a name against
/// one of standing `loser` (id `lid`): only an endorsed member wins.
fn beats(winner: u64, wid: NodeId, loser: u64, lid: NodeId) -> bool {
    winner != UNENDORSED && (winner, wid) < (loser, lid)
}

/// Whether another reachable member has a better standing on `name`.
fn beaten(members: &Members, name: &str, rank: u64, id: NodeId) -> bool {
    members.holders_of(name).any(|r| r.state.id != id && beats(self::rank(&r.state), r.state.id, rank, id))
}

/// The first `base-N` (N from 2) for which `taken` is false, cut to fit the name
/// limit.
fn free_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    (2u32..)
        .map(|n| {
            let suffix = format!("-{n}");
            let mut b = base.to_owned();
            while b.len() + suffix.len() > MAX_NAME {
                b.pop();
            }
            b + &suffix
        })
        .find(|cand| !taken(cand))
        .unwrap_or_else(|| base.to_owned())
}

/// The sentence for a name that had to change.
fn taken_notice(name: &str, new: &str) -> String {
    format!("the name {name} is already taken in this network; you are now known as {new}")
}

impl Node {
    /// Milliseconds since the Unix epoch, by the node's start time plus elapsed time.
    pub(super) fn wall_now(&self, now: Instant) -> u64 {
        self.cfg.wall_ms + now.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The current name of `id` as its signed record says: this node's own, a
    /// member's, or a text client's here; None if no record of it is known.
    pub(super) fn name_of(&self, id: NodeId) -> Option<&str> {
        if id == self.cfg.id {
            return Some(self.own.name());
        }
        if let Some(r) = self.members.get(id) {
            return Some(&r.state.name);
        }
        self.netcats.named().find(|(_, t, _)| t.id == id).map(|(_, _, name)| name)
    }

    /// The name to show for what `origin` says, given the name its frame claims:
    /// [`Node::name_of`], so nobody can write under another's name; for an
    /// origin whose record is unknown here, the claimed name followed by its
    /// fingerprint.
    pub(super) fn display_name(&self, origin: NodeId, claimed: String) -> String {
        match self.name_of(origin) {
            // The usual case, on the hot path: the frame's own name, kept as is.
            Some(name) if name == claimed => claimed,
            Some(name) => name.to_owned(),
            None => format!("{claimed} ({})", origin.short()),
        }
    }

    /// Whether a name is used by a reachable member, this node, or a text client here.
    pub(super) fn name_taken(&self, name: &str) -> bool {
        self.own.name() == name || self.members.holders_of(name).next().is_some() || self.netcats.name_used(name)
    }

    /// Whether someone reachable (or this node, or a text client here) has an
    /// earlier claim on the name `r` uses: `r` is about to be renamed.
    pub(super) fn must_yield(&self, r: &Record) -> bool {
        let (theirs, tid) = (rank(&r.state), r.state.id);
        let me = self.own.state();
        (me.name == r.state.name && beats(rank(me), me.id, theirs, tid))
            || beaten(&self.members, &r.state.name, theirs, tid)
            || self.netcats.named().any(|(_, t, n)| n == r.state.name && beats(t.rank(), t.id, theirs, tid))
    }

    /// Whether `r` has no endorsement yet and another member here has its name:
    /// which of them keeps it is decided once it has one.
    pub(super) fn clash_undecided(&self, r: &Record) -> bool {
        rank(&r.state) == UNENDORSED
            && (self.own.name() == r.state.name
                || self.members.holders_of(&r.state.name).any(|o| o.state.id != r.state.id)
                || self.netcats.name_used(&r.state.name))
    }

    /// Renames this node and the text clients it hosts where they lost a claim.
    pub(super) fn resolve_name_clashes(&mut self, now: Instant) {
        let me = self.own.state();
        if beaten(&self.members, &me.name, rank(me), me.id) {
            let base = me.name.clone();
            let new = free_name(&base, |n| self.name_taken(n));
            self.out.notice(taken_notice(&base, &new));
            self.own.rename(new, self.wall_now(now));
            self.refresh_own();
        }
        let texts: Vec<(PeerId, String, u64, NodeId)> =
            self.netcats.named().map(|(k, t, n)| (k, n.to_owned(), t.rank(), t.id)).collect();
        for (peer, name, rank, id) in texts {
            if !beaten(&self.members, &name, rank, id) {
                continue;
            }
            let new = free_name(&name, |n| self.name_taken(n));
            self.send_netcat(peer, &format!("p2pchat: {}", taken_notice(&name, &new)));
            let claimed = self.wall_now(now);
            if let Some(t) = self.netcats.get_mut(peer) {
                t.name = Some(new);
                t.claimed = claimed;
            }
            self.announce_netcat(peer, false, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_name_is_the_first_unused_suffix_and_fits_the_limit() {
        assert_eq!(free_name("bob", |n| n == "bob-2"), "bob-3");
        let long = "x".repeat(MAX_NAME);
        let free = free_name(&long, |_| false);
        assert!(free.len() <= MAX_NAME && free.ends_with("-2"), "{free}");
    }
}
