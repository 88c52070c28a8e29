//! Exactly-once, per-sender-ordered delivery, and the history kept for catch-up.
//!
//! For each origin the node keeps a high-water mark `delivered` (every sequence
//! number up to it was shown, or declared lost) and a small reorder buffer of
//! messages that arrived ahead of a gap. A message is new exactly when its number
//! is above the mark and not already buffered, so duplicates are recognised forever
//! with 16 bytes per origin, and nothing is let back in because a cache expired.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::id::NodeId;
use crate::wire::{Chat, Mark, SEQ_LOW, incarnation};

/// Most messages held back per origin waiting for a gap to fill. Past this the
/// gap is declared lost so memory stays bounded.
pub const MAX_PENDING: usize = 1024;

/// Whether `seq` is the message right after `delivered`: the next number, or
/// the first of a later incarnation (the origin restarted: whatever it had not
/// sent of its previous life will not come).
fn follows(delivered: u64, seq: u64) -> bool {
    seq == delivered + 1 || (seq & SEQ_LOW == 1 && incarnation(seq) > incarnation(delivered))
}

/// How many messages lie in `(from, to]`: within one incarnation, the
/// difference; across incarnations, those of `to`'s incarnation up to it (what
/// the earlier one still had is not known).
fn span(from: u64, to: u64) -> u64 {
    if incarnation(from) == incarnation(to) { to - from } else { to & SEQ_LOW }
}

/// A message with the exact bytes it travels as.
#[derive(Debug, Clone)]
pub struct Held {
    /// The decoded message.
    pub chat: Chat,
    /// Its frame, length prefix included.
    pub raw: Bytes,
}

/// Per-origin delivery state.
#[derive(Debug, Default)]
pub struct Origin {
    /// Every sequence number up to this one was delivered or declared lost.
    pub delivered: u64,
    /// Messages above `delivered + 1`, waiting for the gap below them.
    pub pending: BTreeMap<u64, Held>,
    /// Since when the oldest gap has been open.
    pub gap_since: Option<Instant>,
    /// For an origin nothing was seen of yet: where a neighbour's floor says its
    /// messages start here. It takes effect only when a message numbered at or
    /// above it arrives (then everything below counts as before this node's
    /// time), so a lying floor can delay an origin, never mute it.
    pub start: Option<u64>,
}

/// What happened to an incoming message.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Seen before: drop it.
    Duplicate,
    /// New: forward it (it may or may not be deliverable yet).
    New,
}

/// Delivery state for every origin, plus the history window.
#[derive(Debug, Default)]
pub struct Delivery {
    origins: BTreeMap<NodeId, Origin>,
    history: VecDeque<(NodeId, u64, Bytes)>,
    history_cap: usize,
    /// Messages ever added to the history: the position after its newest.
    pushed: u64,
}

impl Delivery {
    /// Keeps the last `history_cap` delivered messages for catch-up.
    pub fn new(history_cap: usize) -> Self {
        Delivery { origins: BTreeMap::new(), history: VecDeque::new(), history_cap, pushed: 0 }
    }

    /// Starts from what a restarted node saved: its marks, and its last messages
    /// (oldest first) as the history window.
    pub fn restore(&mut self, marks: &[Mark], history: Vec<(NodeId, u64, Bytes)>) {
        for &(id, delivered) in marks {
            let o = self.origins.entry(id).or_default();
            o.delivered = o.delivered.max(delivered);
        }
        let skip = history.len().saturating_sub(self.history_cap);
        self.history.extend(history.into_iter().skip(skip));
        self.pushed = self.history.len() as u64;
    }

    /// The high-water mark of one origin.
    pub fn delivered(&self, origin: NodeId) -> u64 {
        self.origins.get(&origin).map_or(0, |o| o.delivered)
    }

    /// Whether a message was seen already (delivered, declared lost, or held).
    pub fn is_duplicate(&self, origin: NodeId, seq: u64) -> bool {
        self.origins.get(&origin).is_some_and(|o| seq <= o.delivered || o.pending.contains_key(&seq))
    }

    /// Number of origins tracked.
    pub fn origin_count(&self) -> usize {
        self.origins.len()
    }

    /// Whether an origin is tracked at all.
    pub fn knows(&self, origin: NodeId) -> bool {
        self.origins.contains_key(&origin)
    }

    /// Every origin's high-water mark (origins with something delivered).
    pub fn marks(&self) -> Vec<Mark> {
        let mut v: Vec<Mark> =
            self.origins.iter().filter(|(_, o)| o.delivered > 0).map(|(id, o)| (*id, o.delivered)).collect();
        v.sort_unstable();
        v
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &(NodeId, u64, Bytes)> {
        self.history.iter()
    }

    /// The position after the newest message of the history: every message
    /// delivered gets the next one, so positions compare across calls.
    pub fn history_end(&self) -> u64 {
        self.pushed
    }

    /// The position of the oldest message of the history.
    pub fn history_start(&self) -> u64 {
        self.pushed - self.history.len() as u64
    }

    /// The history from position `from` on (or from its oldest message, when
    /// `from` was dropped already), each with its position.
    pub fn history_from(&self, from: u64) -> impl Iterator<Item = (u64, &(NodeId, u64, Bytes))> {
        let start = self.history_start();
        let skip = from.saturating_sub(start);
        self.history
            .iter()
            .enumerate()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .map(move |(i, m)| (start + i as u64, m))
    }

    /// The messages held in reorder buffers, with their frames.
    pub fn held(&self) -> impl Iterator<Item = &Held> {
        self.origins.values().flat_map(|o| o.pending.values())
    }

    /// Number of messages held in reorder buffers.
    pub fn pending_count(&self) -> usize {
        self.origins.values().map(|o| o.pending.len()).sum()
    }

    /// Classifies an incoming message, and if it is new, buffers it. Returns the
    /// messages that became deliverable, in order, through `out`.
    pub fn admit(&mut self, held: Held, now: Instant, out: &mut Vec<Held>) -> Admit {
        let origin = self.origins.entry(held.chat.origin).or_default();
        let seq = held.chat.seq;
        if let Some(start) = origin.start
            && origin.delivered == 0
            && origin.pending.is_empty()
            && seq >= start
        {
            origin.delivered = start - 1;
            origin.start = None;
        }
        if seq <= origin.delivered || origin.pending.contains_key(&seq) {
            return Admit::Duplicate;
        }
        if follows(origin.delivered, seq) {
            origin.delivered = seq;
            out.push(held);
            Self::drain(origin, out);
        } else {
            origin.pending.insert(seq, held);
            origin.gap_since.get_or_insert(now);
            if origin.pending.len() > MAX_PENDING {
                // Give up on the oldest gap rather than grow without bound.
                if let Some(first) = origin.pending.keys().next().copied() {
                    Self::skip(origin, first - 1, now, out);
                }
            }
        }
        Admit::New
    }

    /// Records a message this node wrote itself (always the next in sequence).
    pub fn admit_own(&mut self, origin: NodeId, seq: u64) {
        let o = self.origins.entry(origin).or_default();
        o.delivered = o.delivered.max(seq);
    }

    /// Adds a delivered message to the history window: the frame it came in (a
    /// chat, or the batch it was part of, shared by the batch's messages), which
    /// must not be a slice of a larger read buffer (it would keep that alive).
    pub fn remember(&mut self, origin: NodeId, seq: u64, raw: Bytes) {
        self.pushed += 1;
        if self.history_cap == 0 {
            return;
        }
        if self.history.len() >= self.history_cap {
            self.history.pop_front();
        }
        self.history.push_back((origin, seq, raw));
    }

    fn drain(origin: &mut Origin, out: &mut Vec<Held>) {
        while let Some(entry) = origin.pending.first_entry() {
            if !follows(origin.delivered, *entry.key()) {
                break;
            }
            origin.delivered = *entry.key();
            out.push(entry.remove());
        }
        if origin.pending.is_empty() {
            origin.gap_since = None;
        }
    }

    /// Declares everything up to `target` delivered or lost, delivering what is
    /// buffered. Returns how many messages were lost.
    fn skip(origin: &mut Origin, target: u64, now: Instant, out: &mut Vec<Held>) -> u64 {
        if target <= origin.delivered {
            return 0;
        }
        let mut lost = span(origin.delivered, target);
        while let Some(entry) = origin.pending.first_entry() {
            if *entry.key() > target {
                break;
            }
            lost = lost.saturating_sub(1);
            out.push(entry.remove());
        }
        origin.delivered = target;
        Self::drain(origin, out);
        // A gap still open above is a new one: its clock starts now.
        origin.gap_since = (!origin.pending.is_empty()).then_some(now);
        lost
    }

    /// A neighbour's floor for an origin: it has nothing older than `floor` to
    /// offer. Skips the part of a gap below it that nobody will fill.
    ///
    /// Returns `(lost, was_known)`: how many were declared lost and whether this
    /// node had delivered anything of that origin before (so the loss is news to
    /// the user rather than history from before it joined).
    pub fn apply_floor(&mut self, origin_id: NodeId, floor: u64, now: Instant, out: &mut Vec<Held>) -> (u64, bool) {
        let fresh = self.origins.get(&origin_id).is_none_or(|o| o.delivered == 0 && o.pending.is_empty());
        if fresh {
            // Nothing of this origin here (a newcomer): its messages start at
            // the floor, once one at or above it arrives. Not a mark: a floor is
            // not signed, and one far ahead must not make every later message of
            // the origin look old.
            if !self.origins.contains_key(&origin_id) && self.origins.len() >= super::MAX_ORIGINS {
                return (0, false);
            }
            let o = self.origins.entry(origin_id).or_default();
            if floor > 1 {
                o.start = Some(o.start.map_or(floor, |s| s.min(floor)));
            }
            return (0, false);
        }
        let Some(origin) = self.origins.get_mut(&origin_id) else { return (0, false) };
        let target = floor.saturating_sub(1);
        if target <= origin.delivered {
            return (0, origin.delivered > 0);
        }
        let was_known = origin.delivered > 0;
        // Only skip up to what is held back: a floor can release a stalled buffer
        // but never jump an origin far ahead of anything seen.
        let limit = origin.pending.keys().next_back().map_or(origin.delivered, |last| *last);
        if origin.pending.is_empty() && was_known {
            return (0, true);
        }
        let target = if origin.pending.is_empty() { target } else { target.min(limit) };
        let lost = Self::skip(origin, target, now, out);
        (lost, was_known)
    }

    /// Gaps that have been open for at least `after`: skip them. Calls `report`
    /// with (origin, lost, was_known) for each.
    pub fn expire_gaps(
        &mut self,
        now: Instant,
        after: std::time::Duration,
        out: &mut Vec<Held>,
        mut report: impl FnMut(NodeId, u64, bool),
    ) {
        for (id, origin) in self.origins.iter_mut() {
            let Some(since) = origin.gap_since else { continue };
            if now.saturating_duration_since(since) < after {
                continue;
            }
            let was_known = origin.delivered > 0;
            if let Some(first) = origin.pending.keys().next().copied() {
                let lost = Self::skip(origin, first - 1, now, out);
                report(*id, lost, was_known);
            } else {
                origin.gap_since = None;
            }
        }
    }

    /// For each origin this node has delivered beyond `theirs`, the lowest sequence
    /// number it can offer from its history (or the next one it will see, when the
    /// history holds nothing of that origin).
    pub fn floors_for(&self, theirs: &HashMap<NodeId, u64>) -> Vec<Mark> {
        let mut lowest: HashMap<NodeId, u64> = HashMap::new();
        for (o, seq, _) in &self.history {
            lowest.entry(*o).or_insert(*seq);
        }
        let mut v: Vec<Mark> = self
            .origins
            .iter()
            .filter_map(|(id, o)| {
                let their = theirs.get(id).copied().unwrap_or(0);
                if o.delivered <= their {
                    return None;
                }
                let floor = lowest.get(id).copied().unwrap_or(o.delivered + 1);
                (floor > their + 1).then_some((*id, floor))
            })
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Frame;

    fn held(origin: u64, seq: u64) -> Held {
        let chat = Chat {
            origin: NodeId::from_u64(origin),
            seq,
            name: "n".into(),
            text: format!("{seq}"),
            auth: Default::default(),
        };
        let raw = Frame::Chat(chat.clone()).encode().expect("encode");
        Held { chat, raw }
    }

    fn seqs(v: &[Held]) -> Vec<u64> {
        v.iter().map(|h| h.chat.seq).collect()
    }

    #[test]
    fn out_of_order_messages_are_held_until_the_gap_fills() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        assert_eq!(d.admit(held(1, 2), now, &mut out), Admit::New);
        assert_eq!(d.admit(held(1, 3), now, &mut out), Admit::New);
        assert!(out.is_empty());
        assert_eq!(d.admit(held(1, 3), now, &mut out), Admit::Duplicate);
        assert_eq!(d.admit(held(1, 1), now, &mut out), Admit::New);
        assert_eq!(seqs(&out), [1, 2, 3]);
        assert_eq!(d.admit(held(1, 2), now, &mut out), Admit::Duplicate);
        assert_eq!(d.delivered(NodeId::from_u64(1)), 3);
    }

    #[test]
    fn expired_gap_is_skipped_and_counted() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        d.admit(held(1, 1), now, &mut out);
        d.admit(held(1, 5), now, &mut out);
        out.clear();
        let mut reports = Vec::new();
        d.expire_gaps(
            now + std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(5),
            &mut out,
            |o, n, k| reports.push((o, n, k)),
        );
        assert_eq!(seqs(&out), [5]);
        assert_eq!(reports, [(NodeId::from_u64(1), 3, true)]);
        assert_eq!(d.admit(held(1, 3), now, &mut out), Admit::Duplicate);
    }

    #[test]
    fn floor_releases_a_late_joiners_buffer_silently() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        for s in [50, 51, 52] {
            d.admit(held(1, s), now, &mut out);
        }
        assert!(out.is_empty());
        assert_eq!(d.apply_floor(NodeId::from_u64(1), 50, now, &mut out), (49, false));
        assert_eq!(seqs(&out), [50, 51, 52]);
    }

    #[test]
    fn floor_cannot_jump_a_known_origin_past_what_was_seen() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        d.admit(held(1, 1), now, &mut out);
        assert_eq!(d.apply_floor(NodeId::from_u64(1), u64::MAX, now, &mut out), (0, true));
        assert_eq!(d.delivered(NodeId::from_u64(1)), 1);
        d.admit(held(1, 2), now, &mut out);
        assert_eq!(d.delivered(NodeId::from_u64(1)), 2);
    }

    #[test]
    fn a_floor_for_an_unseen_origin_starts_it_there_once_a_message_at_or_above_arrives() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        assert_eq!(d.apply_floor(NodeId::from_u64(1), 40, now, &mut out), (0, false));
        assert_eq!(d.admit(held(1, 40), now, &mut out), Admit::New);
        assert_eq!(seqs(&out), [40], "shown at once: nothing below the floor is waited for");
        assert_eq!(d.admit(held(1, 39), now, &mut out), Admit::Duplicate);
    }

    #[test]
    fn a_floor_far_ahead_cannot_mute_an_unseen_origin() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        let liar = u64::MAX / 2;
        assert_eq!(d.apply_floor(NodeId::from_u64(1), liar, now, &mut out), (0, false));
        assert_eq!(d.delivered(NodeId::from_u64(1)), 0, "no mark from an unsigned floor");
        assert!(!d.is_duplicate(NodeId::from_u64(1), 1));
        // The origin's real messages still come through.
        assert_eq!(d.admit(held(1, 1), now, &mut out), Admit::New);
        assert_eq!(d.admit(held(1, 2), now, &mut out), Admit::New);
        assert_eq!(seqs(&out), [1, 2]);
    }

    #[test]
    fn reorder_buffer_is_bounded() {
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        for s in 2..(MAX_PENDING as u64 + 10) {
            d.admit(held(1, s), now, &mut out);
        }
        assert!(d.pending_count() <= MAX_PENDING);
        assert!(!out.is_empty());
    }

    #[test]
    fn floors_describe_what_history_cannot_offer() {
        let now = Instant::now();
        let mut d = Delivery::new(3);
        let mut out = Vec::new();
        for s in 1..=5 {
            d.admit(held(1, s), now, &mut out);
        }
        for h in &out {
            d.remember(h.chat.origin, h.chat.seq, h.raw.clone());
        }
        let theirs = HashMap::from([(NodeId::from_u64(1), 1)]);
        assert_eq!(d.floors_for(&theirs), [(NodeId::from_u64(1), 3)]);
        let theirs = HashMap::from([(NodeId::from_u64(1), 2)]);
        assert!(d.floors_for(&theirs).is_empty());
    }

    #[test]
    fn a_restarted_origin_is_delivered_from_its_new_incarnation_and_its_old_numbers_stay_duplicates() {
        use crate::wire::seq_start;
        let now = Instant::now();
        let mut d = Delivery::new(10);
        let mut out = Vec::new();
        let (old, new) = (seq_start(1000), seq_start(2000));
        for s in old..old + 3 {
            d.admit(held(1, s), now, &mut out);
        }
        assert_eq!(seqs(&out), [old, old + 1, old + 2]);
        out.clear();
        // The restarted origin numbers from its new incarnation: shown at once.
        assert_eq!(d.admit(held(1, new), now, &mut out), Admit::New);
        assert_eq!(d.admit(held(1, new + 1), now, &mut out), Admit::New);
        assert_eq!(seqs(&out), [new, new + 1]);
        assert_eq!(d.admit(held(1, old + 3), now, &mut out), Admit::Duplicate, "its previous life is over");
        assert_eq!(d.admit(held(1, new), now, &mut out), Admit::Duplicate);
        // A gap at the start of a new incarnation counts only its own messages.
        let mut out = Vec::new();
        let newer = seq_start(3000);
        d.admit(held(1, newer + 2), now, &mut out);
        let mut lost = Vec::new();
        d.expire_gaps(
            now + std::time::Duration::from_secs(9),
            std::time::Duration::from_secs(1),
            &mut out,
            |_, n, _| lost.push(n),
        );
        assert_eq!(lost, [2]);
        assert_eq!(seqs(&out), [newer + 2]);
    }
}
