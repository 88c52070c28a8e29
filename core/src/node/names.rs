//! Unique names: two reachable members may not share a name. The earlier claim
//! (then the smaller id) keeps it, the other takes the first free `name-N`. Every
//! node applies the same rule to the same records, so all decide alike; this
//! node applies it to itself and to the text clients it hosts.

use std::time::Instant;

use super::members::{Members, Record};
use super::{Node, PeerId};
use crate::id::NodeId;
use crate::wire::MAX_NAME;

/// Whether another reachable member has an earlier claim on `name`.
fn beaten(members: &Members, name: &str, claimed: u64, id: NodeId) -> bool {
    members.holders_of(name).any(|r| r.state.id != id && (r.state.claimed, r.state.id) < (claimed, id))
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

    /// Whether a name is used by a reachable member, this node, or a text client here.
    pub(super) fn name_taken(&self, name: &str) -> bool {
        self.own.name() == name || self.members.holders_of(name).next().is_some() || self.netcats.name_used(name)
    }

    /// Whether someone reachable (or this node, or a text client here) has an
    /// earlier claim on the name `r` uses: `r` is about to be renamed.
    pub(super) fn must_yield(&self, r: &Record) -> bool {
        let theirs = (r.state.claimed, r.state.id);
        let me = self.own.state();
        (me.name == r.state.name && (me.claimed, me.id) < theirs)
            || beaten(&self.members, &r.state.name, r.state.claimed, r.state.id)
            || self.netcats.named().any(|(_, t, n)| n == r.state.name && (t.claimed, t.id) < theirs)
    }

    /// Renames this node and the text clients it hosts where they lost a claim.
    pub(super) fn resolve_name_clashes(&mut self, now: Instant) {
        let me = self.own.state();
        if beaten(&self.members, &me.name, me.claimed, me.id) {
            let base = me.name.clone();
            let new = free_name(&base, |n| self.name_taken(n));
            self.out.notice(taken_notice(&base, &new));
            self.own.rename(new, self.wall_now(now));
            self.refresh_own();
        }
        let texts: Vec<(PeerId, String, u64, NodeId)> =
            self.netcats.named().map(|(k, t, n)| (k, n.to_owned(), t.claimed, t.id)).collect();
        for (peer, name, claimed, id) in texts {
            if !beaten(&self.members, &name, claimed, id) {
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
