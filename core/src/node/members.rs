//! Membership: the link-state database and who is reachable from here.
//!
//! Every member floods a [`MemberState`] record (name, address, direct links) with a
//! version that grows with each change. From the records a node computes, by
//! breadth-first search from itself, who is reachable and at what hop distance.
//! A link counts only when both ends list each other, so a dead member's last
//! record, which still names its old neighbours, connects nothing once they have
//! dropped it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::id::NodeId;
use crate::wire::MemberState;

/// Most member records kept. Records past this are ignored (and logged), so a
/// peer inventing members cannot grow the table without bound.
pub const MAX_MEMBERS: usize = 8192;

/// What the node knows of one member (not itself).
#[derive(Debug, Clone)]
pub struct Record {
    /// The member's latest record, links sorted for lookups.
    pub state: MemberState,
    /// The record's frame, to forward and to send on new links.
    pub raw: Bytes,
    /// Reachable from this node now.
    pub reachable: bool,
    /// Hop distance when reachable.
    pub hops: u32,
    /// When it became unreachable (None while reachable or never seen reachable).
    pub unreachable_since: Option<Instant>,
    /// It has been reachable at some point.
    pub seen: bool,
}

/// Result of offering a record received from a peer.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Not newer than what is known: drop it.
    Stale,
    /// Newer: stored; forward it. Carries the previous name if the name changed.
    Accepted(Option<String>),
    /// The table is full.
    Full,
}

/// Changes in reachability found by [`Members::recompute`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Became reachable.
    pub joined: Vec<NodeId>,
    /// Became unreachable.
    pub left: Vec<NodeId>,
}

/// The link-state database.
#[derive(Debug, Default)]
pub struct Members {
    recs: BTreeMap<NodeId, Record>,
    /// Who has which name (every record, reachable or not), so that the name
    /// rule looks at the holders of one name instead of every record.
    by_name: std::collections::HashMap<String, Vec<NodeId>>,
    dirty: bool,
}

fn unindex(by_name: &mut std::collections::HashMap<String, Vec<NodeId>>, name: &str, id: NodeId) {
    if let Some(ids) = by_name.get_mut(name) {
        ids.retain(|x| *x != id);
        if ids.is_empty() {
            by_name.remove(name);
        }
    }
}

fn lists(state: &MemberState, id: NodeId) -> bool {
    state.links.binary_search(&id).is_ok()
}

impl Members {
    /// Stores a record if it is newer than the one known.
    /// Whether a record of this version for `id` is not newer than the one here.
    pub fn is_stale(&self, id: NodeId, version: u64) -> bool {
        self.recs.get(&id).is_some_and(|r| r.state.version >= version)
    }

    pub fn offer(&mut self, mut state: MemberState, raw: Bytes) -> Offer {
        // Kept for a long time: a copy, so as not to pin the read buffer it came in.
        let raw = Bytes::copy_from_slice(&raw);
        state.links.sort_unstable();
        state.links.dedup();
        let full = self.recs.len() >= MAX_MEMBERS;
        match self.recs.get_mut(&state.id) {
            Some(r) if r.state.version >= state.version => Offer::Stale,
            Some(r) => {
                let old = (r.state.name != state.name).then(|| r.state.name.clone());
                if let Some(old) = &old {
                    unindex(&mut self.by_name, old, state.id);
                    self.by_name.entry(state.name.clone()).or_default().push(state.id);
                }
                r.state = state;
                r.raw = raw;
                self.dirty = true;
                Offer::Accepted(old)
            }
            None if full => Offer::Full,
            None => {
                self.by_name.entry(state.name.clone()).or_default().push(state.id);
                self.recs.insert(
                    state.id,
                    Record { state, raw, reachable: false, hops: 0, unreachable_since: None, seen: false },
                );
                self.dirty = true;
                Offer::Accepted(None)
            }
        }
    }

    /// Marks the reachability as stale (the node's own links changed).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Whether a recompute is due.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// One member's record.
    pub fn get(&self, id: NodeId) -> Option<&Record> {
        self.recs.get(&id)
    }

    /// Every record.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.recs.values()
    }

    /// Reachable members, sorted by name then id.
    pub fn reachable(&self) -> Vec<&Record> {
        let mut v: Vec<&Record> = self.recs.values().filter(|r| r.reachable).collect();
        v.sort_by(|a, b| (&a.state.name, a.state.id).cmp(&(&b.state.name, b.state.id)));
        v
    }

    /// Number of reachable members (not counting this node).
    pub fn reachable_count(&self) -> usize {
        self.recs.values().filter(|r| r.reachable).count()
    }

    /// Recomputes reachability from `me` (whose links are its ready peers).
    pub fn recompute(&mut self, me: &MemberState, now: Instant) -> Changes {
        self.dirty = false;
        let mut hops: HashMap<NodeId, u32> = HashMap::with_capacity(self.recs.len());
        let mut queue: VecDeque<(NodeId, u32)> = VecDeque::new();
        for &n in &me.links {
            if let Some(r) = self.recs.get(&n)
                && !r.state.leaving
                && lists(&r.state, me.id)
                && !hops.contains_key(&n)
            {
                hops.insert(n, 1);
                queue.push_back((n, 1));
            }
        }
        while let Some((u, d)) = queue.pop_front() {
            let Some(ur) = self.recs.get(&u) else { continue };
            for &v in &ur.state.links {
                if v == me.id || hops.contains_key(&v) {
                    continue;
                }
                if let Some(vr) = self.recs.get(&v)
                    && !vr.state.leaving
                    && lists(&vr.state, u)
                {
                    hops.insert(v, d + 1);
                    queue.push_back((v, d + 1));
                }
            }
        }
        let mut changes = Changes::default();
        for (id, r) in self.recs.iter_mut() {
            match hops.get(id) {
                Some(&h) => {
                    r.hops = h;
                    if !r.reachable {
                        r.reachable = true;
                        r.seen = true;
                        r.unreachable_since = None;
                        changes.joined.push(*id);
                    }
                }
                None => {
                    if r.reachable {
                        r.reachable = false;
                        r.unreachable_since = Some(now);
                        changes.left.push(*id);
                    }
                }
            }
        }
        changes.joined.sort_unstable();
        changes.left.sort_unstable();
        changes
    }

    /// Drops records of members unreachable since before `cutoff` (and records
    /// never reachable that are that old), keeping the table small.
    pub fn forget_before(&mut self, cutoff: Instant) -> Vec<NodeId> {
        let gone: Vec<NodeId> = self
            .recs
            .iter()
            .filter(|(_, r)| !r.reachable && r.unreachable_since.is_some_and(|t| t < cutoff))
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            if let Some(r) = self.recs.remove(id) {
                unindex(&mut self.by_name, &r.state.name, *id);
            }
        }
        gone
    }

    /// Marks never-reachable records with a time so that [`Self::forget_before`]
    /// eventually drops them.
    pub fn stamp_unseen(&mut self, now: Instant) {
        for r in self.recs.values_mut() {
            if !r.reachable && r.unreachable_since.is_none() {
                r.unreachable_since = Some(now);
            }
        }
    }

    /// Reachable members (other than `me`) using `name`.
    pub fn holders_of(&self, name: &str) -> impl Iterator<Item = &Record> {
        self.by_name.get(name).into_iter().flatten().filter_map(|id| self.recs.get(id)).filter(|r| r.reachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(id: u64, version: u64, links: &[u64]) -> MemberState {
        MemberState {
            id: NodeId::from_u64(id),
            version,
            name: format!("n{id}"),
            claimed: 0,
            addr: None,
            links: links.iter().map(|l| NodeId::from_u64(*l)).collect(),
            leaving: false,
            host: None,
            endorsed: None,
        }
    }

    #[test]
    fn links_count_only_when_both_ends_list_each_other() {
        let now = Instant::now();
        let mut m = Members::default();
        let me = st(1, 1, &[2]);
        m.offer(st(2, 1, &[1, 3]), Bytes::new());
        m.offer(st(3, 1, &[2]), Bytes::new());
        let c = m.recompute(&me, now);
        assert_eq!(c.joined, [NodeId::from_u64(2), NodeId::from_u64(3)]);
        assert_eq!(m.get(NodeId::from_u64(3)).map(|r| r.hops), Some(2));
        // 2 dies: 1 drops it; 2's stale record still lists 1 and 3.
        let me = st(1, 2, &[]);
        let c = m.recompute(&me, now);
        assert_eq!(c.left, [NodeId::from_u64(2), NodeId::from_u64(3)]);
        // 3 drops 2 too and links to 1 directly.
        m.offer(st(3, 2, &[1]), Bytes::new());
        let me = st(1, 3, &[3]);
        let c = m.recompute(&me, now);
        assert_eq!(c.joined, [NodeId::from_u64(3)]);
        assert!(!m.get(NodeId::from_u64(2)).is_some_and(|r| r.reachable));
    }

    #[test]
    fn older_versions_are_stale() {
        let mut m = Members::default();
        assert_eq!(m.offer(st(2, 5, &[]), Bytes::new()), Offer::Accepted(None));
        assert_eq!(m.offer(st(2, 5, &[]), Bytes::new()), Offer::Stale);
        assert_eq!(m.offer(st(2, 4, &[]), Bytes::new()), Offer::Stale);
        let mut renamed = st(2, 6, &[]);
        renamed.name = "x".into();
        assert_eq!(m.offer(renamed, Bytes::new()), Offer::Accepted(Some("n2".into())));
    }

    #[test]
    fn a_leaving_member_is_not_reachable() {
        let now = Instant::now();
        let mut m = Members::default();
        m.offer(st(2, 1, &[1]), Bytes::new());
        m.recompute(&st(1, 1, &[2]), now);
        let mut leaving = st(2, 2, &[1]);
        leaving.leaving = true;
        m.offer(leaving, Bytes::new());
        assert_eq!(m.recompute(&st(1, 1, &[2]), now).left, [NodeId::from_u64(2)]);
    }
}
