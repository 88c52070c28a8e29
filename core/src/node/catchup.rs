//! Catch-up: on every new link both sides send a summary of how far they have
//! delivered each origin ([`Frame::Sync`], in chunks); each answers the other's
//! summary once with what it misses from the history window, then with floors
//! ([`Frame::SyncDone`]) for what history can no longer offer, so the other side
//! stops waiting for it. Gaps that nobody fills expire and are reported.
//!
//! [`CatchUp`] owns the summaries still arriving and how much of this node's own
//! writing has been handed to a neighbour.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;

use super::{Node, PeerId};
use crate::event::{Event, count};
use crate::id::NodeId;
use crate::wire::{Frame, MAX_LIST, Mark};

/// Longest sync summary accepted from one peer (entries).
const MAX_SYNC_ENTRIES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(super) struct CatchUp {
    /// Summaries whose last chunk has not arrived.
    partial: HashMap<PeerId, Vec<Mark>>,
    /// The highest of this node's own sequence numbers handed to a neighbour
    /// (queued to one that has told us what it has).
    handed_over: u64,
}

/// The summary this node sends on a new link: its marks, in chunks of `chunk`.
pub(super) fn summary(marks: &[Mark], chunk: usize) -> Vec<Frame> {
    if marks.is_empty() {
        return vec![Frame::Sync { marks: Vec::new(), last: true }];
    }
    let n = marks.chunks(chunk).count();
    marks.chunks(chunk).enumerate().map(|(i, c)| Frame::Sync { marks: c.to_vec(), last: i + 1 == n }).collect()
}

impl CatchUp {
    pub fn forget(&mut self, peer: PeerId) {
        self.partial.remove(&peer);
    }

    /// Nothing handed over yet; this node's sequence numbers start after `base`.
    pub fn new(base: u64) -> Self {
        CatchUp { handed_over: base, ..Default::default() }
    }

    pub fn handed_over(&self) -> u64 {
        self.handed_over
    }

    /// This node's own messages up to `seq` are queued to a neighbour that will
    /// have them.
    pub fn handed(&mut self, seq: u64) {
        self.handed_over = seq;
    }

    /// A chunk of a peer's summary; the whole summary once its last chunk came.
    fn receive(&mut self, peer: PeerId, marks: Vec<Mark>, last: bool) -> Result<Option<Vec<Mark>>, &'static str> {
        let got = self.partial.entry(peer).or_default();
        if got.len() + marks.len() > MAX_SYNC_ENTRIES {
            self.partial.remove(&peer);
            return Err("sync summary too long");
        }
        got.extend(marks);
        Ok(if last { self.partial.remove(&peer) } else { None })
    }
}

impl Node {
    pub(super) fn on_sync(&mut self, peer: PeerId, marks: Vec<Mark>, last: bool, now: Instant) {
        if self.peers.get(peer).is_some_and(|p| p.synced) {
            // Each summary is answered with history: one per connection, so that a
            // peer cannot turn small frames into a flood of history.
            self.reject(peer, "a second sync summary on one connection".into(), now);
            return;
        }
        let theirs = match self.catchup.receive(peer, marks, last) {
            Ok(Some(theirs)) => theirs,
            Ok(None) => return,
            Err(e) => {
                self.reject(peer, e.into(), now);
                return;
            }
        };
        let Some(p) = self.peers.get_mut(peer) else { return };
        p.synced = true;
        let theirs: HashMap<NodeId, u64> = theirs.into_iter().collect();
        let floors = self.delivery.floors_for(&theirs);
        // A member that has delivered some of an origin but is behind what the
        // history window still holds (it was down, cut off, or read too slowly):
        // with a store here it gets all of it, in order and in steps, like a
        // lagging neighbour (lag.rs), instead of a floor over what it missed.
        // A newcomer (nothing of that origin yet) gets the window, as ever.
        let (resend, floors): (Vec<Mark>, Vec<Mark>) = if self.cfg.persist {
            floors.into_iter().partition(|(o, _)| theirs.get(o).is_some_and(|t| *t > 0))
        } else {
            (Vec::new(), floors)
        };
        let resent: HashSet<NodeId> = resend.iter().map(|(o, _)| *o).collect();
        // A batch is sent once, whole, however many of its messages are missing
        // (the peer drops those it has).
        let mut sent = HashSet::new();
        let missing: Vec<Bytes> = self
            .delivery
            .history()
            .filter(|(o, seq, raw)| {
                !resent.contains(o) && *seq > theirs.get(o).copied().unwrap_or(0) && sent.insert(raw.as_ptr())
            })
            .map(|(_, _, raw)| raw.clone())
            .collect();
        if !missing.is_empty() {
            self.out.log(format!("sending {} frames of history to connection {}", missing.len(), peer.0));
        }
        for raw in missing {
            self.peers.queue(&mut self.out, peer, raw, now);
        }
        // Everything this node said is now queued to this neighbour (what the
        // history no longer holds it has had, or never will).
        self.catchup.handed(self.seq);
        for chunk in floors.chunks(MAX_LIST) {
            self.peers.send_frame(&mut self.out, peer, &Frame::SyncDone { floors: chunk.to_vec() }, now);
        }
        if !resend.is_empty() {
            let need = resend.iter().map(|(o, _)| (*o, theirs.get(o).copied().unwrap_or(0) + 1)).collect();
            self.resend_from_store(peer, need, now);
        }
    }

    pub(super) fn on_sync_done(&mut self, floors: Vec<Mark>, now: Instant) {
        let mut out = std::mem::take(&mut self.scratch);
        for (origin, floor) in floors {
            if origin == self.cfg.id {
                continue;
            }
            let (lost, known) = self.delivery.apply_floor(origin, floor, now, &mut out);
            self.deliver_all(&mut out);
            self.save_mark(origin);
            if lost > 0 && known {
                self.report_loss(origin, lost);
            }
        }
        self.scratch = out;
    }

    pub(super) fn expire_gaps(&mut self, now: Instant) {
        let mut out = std::mem::take(&mut self.scratch);
        let mut reports = Vec::new();
        self.delivery.expire_gaps(now, self.cfg.gap_timeout, &mut out, |o, n, known| {
            reports.push((o, n, known));
        });
        self.deliver_all(&mut out);
        self.scratch = out;
        for (o, n, known) in reports {
            self.save_mark(o);
            if n > 0 && known {
                self.report_loss(o, n);
            }
        }
    }

    /// An origin's mark moved past messages that will never come (a floor, an
    /// expired gap): the store keeps the mark, so a restart does not wait for
    /// them again.
    fn save_mark(&mut self, origin: NodeId) {
        let delivered = self.delivery.delivered(origin);
        if self.cfg.persist && delivered > 0 {
            self.out.store(crate::memory::Stored::Mark { origin, delivered });
        }
    }

    fn report_loss(&mut self, origin: NodeId, lost: u64) {
        let name = self.members.get(origin).map_or_else(|| origin.to_string(), |r| r.state.name.clone());
        let what = count(lost as usize, "message", "messages");
        self.publish(Event::Notice(format!("{what} from {name} could not be recovered")));
    }
}
