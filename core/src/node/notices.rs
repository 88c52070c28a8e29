//! What the user is told when membership changes: arrivals and departures, one
//! "netsplit" notice when several members are lost at once and "netsplit over"
//! when they come back, and arrivals held back while a name collision resolves
//! (so a newcomer is announced under the name it ends up with, and the messages
//! it brings along are shown under that name too, before its arrival).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::Node;
use super::members::{Changes, Record};
use crate::event::{Event, LeftReason};
use crate::id::NodeId;

#[derive(Debug, Default)]
pub(super) struct Notices {
    /// Arrivals not announced yet because the member is about to be renamed,
    /// announced when it is or at the deadline.
    held: BTreeMap<NodeId, Instant>,
    /// Messages from held members, shown once they are renamed (or at the deadline).
    deferred: BTreeMap<NodeId, Vec<Event>>,
    deferred_count: usize,
    /// Members announced lost in a "netsplit" notice and not back yet: their
    /// return is told as "netsplit over", whatever else comes back with them.
    split_off: BTreeSet<NodeId>,
    /// The key each name was first seen with (guarantee 11): a known name that
    /// comes back with another key is shown with a warning.
    keys: std::collections::HashMap<String, NodeId>,
    /// Members announced gone (quit or lost) and not back yet: their return
    /// (a restart with the same key, or a link again) is told as "NAME is back".
    departed: BTreeSet<NodeId>,
}

/// Most (name, key) pairs remembered.
const MAX_KEYS: usize = 4096;

impl Notices {
    /// Remembers that `name` belongs to `id`; returns the key the name had
    /// before when it was another.
    pub fn key_seen(&mut self, name: &str, id: NodeId) -> Option<NodeId> {
        match self.keys.get(name) {
            Some(old) if *old != id => Some(*old),
            Some(_) => None,
            None => {
                if self.keys.len() < MAX_KEYS {
                    self.keys.insert(name.to_owned(), id);
                }
                None
            }
        }
    }
}

/// Most messages deferred at once; beyond it they are shown at once, under the
/// name they were sent with.
const MAX_DEFERRED: usize = 10_000;

impl Notices {
    pub fn forget(&mut self, id: NodeId) {
        // Not `departed`: a member back after it was forgotten is still back.
        self.split_off.remove(&id);
    }

    pub fn holds(&self, id: NodeId) -> bool {
        self.held.contains_key(&id)
    }

    /// Holds `id` (its arrival and its messages) until it is renamed or until
    /// `deadline`.
    pub fn hold(&mut self, id: NodeId, deadline: Instant) {
        self.held.insert(id, deadline);
    }

    /// Keeps a message from a held member for when it is released; `Err` gives
    /// it back when too many are kept already.
    pub fn defer(&mut self, id: NodeId, ev: Event) -> Result<(), Event> {
        if self.deferred_count >= MAX_DEFERRED {
            return Err(ev);
        }
        self.deferred.entry(id).or_default().push(ev);
        self.deferred_count += 1;
        Ok(())
    }

    fn take_deferred(&mut self, id: NodeId) -> Vec<Event> {
        let evs = self.deferred.remove(&id).unwrap_or_default();
        self.deferred_count -= evs.len();
        evs
    }

    pub fn holds_any(&self) -> bool {
        !self.held.is_empty()
    }

    /// Held arrivals due: the one renamed, and those past their deadline.
    fn due(&mut self, now: Instant, renamed: Option<NodeId>) -> Vec<NodeId> {
        let due: Vec<NodeId> =
            self.held.iter().filter(|(id, d)| Some(**id) == renamed || **d <= now).map(|(id, _)| *id).collect();
        for id in &due {
            self.held.remove(id);
        }
        due
    }
}

fn names(records: &[Record]) -> Vec<(NodeId, String)> {
    records.iter().map(|r| (r.state.id, r.state.name.clone())).collect()
}

impl Node {
    /// Shows the messages deferred for `id`, under the name it has now.
    fn show_deferred(&mut self, id: NodeId) {
        let name = self.members.get(id).map(|r| r.state.name.clone());
        for mut ev in self.notices.take_deferred(id) {
            if let (Event::Message { from, .. }, Some(name)) = (&mut ev, &name) {
                from.clone_from(name);
            }
            self.publish(ev);
        }
    }

    /// Announces members whose arrival was held back for a rename, once renamed
    /// (or after a while in any case, so no arrival goes unannounced): first the
    /// messages they brought, then the arrival.
    pub(super) fn release_held(&mut self, now: Instant, renamed: Option<NodeId>) {
        for id in self.notices.due(now, renamed) {
            self.show_deferred(id);
            if let Some(r) = self.members.get(id).filter(|r| r.reachable) {
                let ev = Event::Joined { name: r.state.name.clone(), id, announce: true };
                self.publish(ev);
            }
        }
    }

    pub(super) fn announce_changes(&mut self, changes: &Changes, now: Instant) {
        let mut lost = Vec::new();
        let mut quit = Vec::new();
        for id in &changes.left {
            if self.notices.held.remove(id).is_some() {
                // Never announced as arrived: nothing to announce now either, but
                // what it said is shown.
                self.show_deferred(*id);
                continue;
            }
            if let Some(r) = self.members.get(*id) {
                if r.state.leaving { quit.push(r.clone()) } else { lost.push(r.clone()) }
            }
        }
        let split = lost.len() > 1;
        if split {
            self.publish_list(&names(&lost), |n| format!("netsplit: lost contact with {}", n.join(", ")));
            self.notices.split_off.extend(lost.iter().map(|r| r.state.id));
        }
        for (r, reason) in quit.iter().map(|r| (r, LeftReason::Quit)).chain(lost.iter().map(|r| (r, LeftReason::Lost)))
        {
            let announce = reason == LeftReason::Quit || !split;
            if announce && self.notices.departed.len() < MAX_KEYS {
                self.notices.departed.insert(r.state.id);
            }
            self.publish(Event::Left { name: r.state.name.clone(), id: r.state.id, reason, announce });
        }
        self.schedule_repair(&lost, now);
        let mut joined: Vec<Record> = changes.joined.iter().filter_map(|id| self.members.get(*id)).cloned().collect();
        let hold: Vec<NodeId> = joined.iter().filter(|r| self.must_yield(r)).map(|r| r.state.id).collect();
        for id in &hold {
            self.notices.hold(*id, now + self.cfg.peer_timeout);
        }
        joined.retain(|r| !hold.contains(&r.state.id));
        // Members back from an announced netsplit end it, in one notice; members
        // seen leaving before are back, not new; the others are told as arrivals.
        let (back, arrived): (Vec<Record>, Vec<Record>) =
            joined.into_iter().partition(|r| self.notices.split_off.contains(&r.state.id));
        self.announce_back(&back, "netsplit over: ");
        let (returned, arrived): (Vec<Record>, Vec<Record>) =
            arrived.into_iter().partition(|r| self.notices.departed.contains(&r.state.id));
        self.announce_back(&returned, "");
        let group = arrived.len() > 1;
        if group {
            self.publish_list(&names(&arrived), |n| format!("now connected with {}", n.join(", ")));
        }
        for r in &arrived {
            self.publish(Event::Joined { name: r.state.name.clone(), id: r.state.id, announce: !group });
        }
    }

    /// "PREFIXalice, bob are back", in one notice, for members that return.
    fn announce_back(&mut self, back: &[Record], prefix: &str) {
        if back.is_empty() {
            return;
        }
        self.publish_list(&names(back), |n| {
            let verb = if n.len() == 1 { "is" } else { "are" };
            format!("{prefix}{} {verb} back", n.join(", "))
        });
        for r in back {
            self.notices.split_off.remove(&r.state.id);
            self.notices.departed.remove(&r.state.id);
            self.publish(Event::Joined { name: r.state.name.clone(), id: r.state.id, announce: false });
        }
    }
}
