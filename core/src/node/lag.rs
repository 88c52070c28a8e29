//! Flow control: a neighbour that reads more slowly than the chat comes in is
//! *lagging*. Live chat is no longer queued for it (so this node's memory stays
//! bounded and the writer is never blocked); once its queue drains, what it
//! missed is sent in steps — from the store when this node keeps one (all it
//! still keeps, not only the `--history` window), then from the history
//! window — and live forwarding resumes once it has everything. It is cut off
//! only if it stops reading altogether (`--peer-timeout`, as before).
//!
//! The driver watches the queues ([`Backlog`], [`crate::config::Watermarks`]);
//! [`Lagging`] owns what each lagging neighbour still needs.
//!
//! What it needs is kept per origin as the first message held back from it:
//! everything of that origin from there on is sent again, in the order this
//! node delivered it. A message the neighbour already has (it came another way,
//! or was in the queue) is dropped there as a duplicate, so sending too much is
//! harmless, and nothing is ever sent out of order to it: while it catches up,
//! new chat for it is held back too, and sent from the same sources.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;

use super::{Action, Backlog, Node, PeerId};
use crate::event::Event;
use crate::id::NodeId;
use crate::memory::{FramePage, FrameQuery};
use crate::wire::{Frame, Mark};

/// Where the next step of a catch-up comes from.
#[derive(Debug)]
enum Source {
    /// The store, after line `after`; `asked` holds the history position when
    /// a page was asked for and has not come back yet.
    Store { after: i64, asked: Option<u64> },
    /// The history window, from this position on.
    Window { next: u64 },
}

/// One lagging neighbour.
#[derive(Debug)]
struct Lag {
    /// Per origin, the first message held back from it.
    need: HashMap<NodeId, u64>,
    source: Source,
    since: Instant,
    /// Messages sent to it again, and from which origins.
    sent: u64,
    from: HashSet<NodeId>,
}

/// Every lagging neighbour.
#[derive(Debug, Default)]
pub(super) struct Lagging {
    map: HashMap<PeerId, Lag>,
}

impl Lagging {
    pub fn forget(&mut self, peer: PeerId) {
        self.map.remove(&peer);
    }

    /// Whether a chat message of `origin` numbered from `first` is held back
    /// from `peer` (then it is noted as needed).
    pub fn holds_back(&mut self, peer: PeerId, origin: NodeId, first: u64) -> bool {
        match self.map.get_mut(&peer) {
            Some(lag) => {
                lag.need.entry(origin).or_insert(first);
                true
            }
            None => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Lag {
    /// Whether a frame holding `count` messages of `origin` from `first` has one
    /// this neighbour needs; counts those it has not been sent yet as sent.
    fn wants(&mut self, origin: NodeId, first: u64, count: u64) -> bool {
        let Some(need) = self.need.get_mut(&origin) else { return false };
        let end = first.saturating_add(count);
        if end <= *need {
            return false;
        }
        self.sent += end - first.max(*need);
        self.from.insert(origin);
        // The same messages again (a later page, a held message) are not counted twice.
        *need = end;
        true
    }
}

impl Node {
    /// The driver's report on a connection's output queue.
    pub fn handle_backlog(&mut self, peer: PeerId, backlog: Backlog, now: Instant) {
        match backlog {
            Backlog::Full => {
                if self.lagging.map.contains_key(&peer) || self.peers.get(peer).and_then(|p| p.remote_id()).is_none() {
                    return;
                }
                let source =
                    if self.cfg.persist { Source::Store { after: 0, asked: None } } else { Source::Window { next: 0 } };
                self.out.log(format!(
                    "connection {} reads more slowly than chat comes in: holding live chat back from it until it \
                     drains, then sending what it missed",
                    peer.0
                ));
                let lag = Lag { need: HashMap::new(), source, since: now, sent: 0, from: HashSet::new() };
                self.lagging.map.insert(peer, lag);
            }
            Backlog::Drained => self.catch_up_step(peer, now),
        }
    }

    /// A neighbour's summary on a new link says it is behind what the history
    /// window holds for some origins (`need`: the first message it lacks of
    /// each): it is treated as lagging from the start, and gets what it missed
    /// from the store in steps, then live chat again.
    pub(super) fn resend_from_store(&mut self, peer: PeerId, need: Vec<Mark>, now: Instant) {
        if self.lagging.map.contains_key(&peer) {
            return;
        }
        self.out.log(format!(
            "connection {} is behind the history window for {}: sending what it missed from the store",
            peer.0,
            crate::event::count(need.len(), "member", "members"),
        ));
        let lag = Lag {
            need: need.into_iter().collect(),
            source: Source::Store { after: 0, asked: None },
            since: now,
            sent: 0,
            from: HashSet::new(),
        };
        self.lagging.map.insert(peer, lag);
        self.catch_up_step(peer, now);
    }

    /// The store's answer to an [`Action::Frames`].
    pub fn handle_frames(&mut self, page: FramePage, now: Instant) {
        let peer = PeerId(page.peer);
        let Some(lag) = self.lagging.map.get_mut(&peer) else { return };
        let Source::Store { asked: Some(asked), .. } = lag.source else { return };
        let mut frames = Vec::new();
        for (origin, first, count, raw) in page.frames {
            if lag.wants(origin, first, u64::from(count)) {
                frames.push(raw);
            }
        }
        // The history window holds everything delivered since the question was
        // asked, unless it has moved past it: then the store does.
        let covered = asked >= self.delivery.history_start();
        lag.source = if page.end && covered {
            Source::Window { next: asked }
        } else {
            Source::Store { after: page.last, asked: None }
        };
        let step = !frames.is_empty();
        for raw in frames {
            self.peers.queue(&mut self.out, peer, raw, now);
        }
        if step {
            self.out.act(Action::WatchDrain { peer });
        } else {
            self.catch_up_step(peer, now);
        }
    }

    /// The queue of a lagging neighbour drained: the next step of what it missed,
    /// or live forwarding again when there is nothing left.
    fn catch_up_step(&mut self, peer: PeerId, now: Instant) {
        let Some(lag) = self.lagging.map.get_mut(&peer) else { return };
        if lag.need.is_empty() {
            // Nothing was held back: the queue drained in time.
            self.resume(peer, now);
            return;
        }
        match lag.source {
            Source::Store { asked: Some(_), .. } => {}
            Source::Store { after, asked: None } => {
                lag.source = Source::Store { after, asked: Some(self.delivery.history_end()) };
                let need: Vec<Mark> = lag.need.iter().map(|(o, n)| (*o, *n)).collect();
                let query = FrameQuery { peer: peer.0, need, after, budget: self.cfg.catch_up_step };
                self.out.act(Action::Frames(query));
            }
            Source::Window { next } => {
                let (mut bytes, mut last) = (0, None::<*const u8>);
                let mut frames = Vec::new();
                let mut reached = self.delivery.history_end();
                for (at, (origin, seq, raw)) in self.delivery.history_from(next) {
                    if bytes >= self.cfg.catch_up_step {
                        reached = at;
                        break;
                    }
                    // A batch's messages share their frame: it goes once.
                    if lag.wants(*origin, *seq, 1) && last != Some(raw.as_ptr()) {
                        last = Some(raw.as_ptr());
                        bytes += raw.len();
                        frames.push(raw.clone());
                    }
                }
                lag.source = Source::Window { next: reached };
                let done = reached == self.delivery.history_end();
                for raw in frames {
                    self.peers.queue(&mut self.out, peer, raw, now);
                }
                if done {
                    self.resume(peer, now);
                } else {
                    self.out.act(Action::WatchDrain { peer });
                }
            }
        }
    }

    /// A lagging neighbour has everything: what waits in the reorder buffers
    /// goes to it too (it was held back from it when it came), and from now on
    /// it gets live chat again.
    fn resume(&mut self, peer: PeerId, now: Instant) {
        let Some(mut lag) = self.lagging.map.remove(&peer) else { return };
        let mut held = Vec::new();
        for h in self.delivery.held() {
            if lag.wants(h.chat.origin, h.chat.seq, 1)
                && held.last().is_none_or(|r: &Bytes| r.as_ptr() != h.raw.as_ptr())
            {
                held.push(h.raw.clone());
            }
        }
        for raw in held {
            self.peers.queue(&mut self.out, peer, raw, now);
        }
        let took = now.saturating_duration_since(lag.since).as_secs_f64();
        if lag.sent == 0 {
            self.out.log(format!("connection {} drained in time ({took:.1} s): forwarding live chat again", peer.0));
            return;
        }
        let members = u32::try_from(lag.from.len()).unwrap_or(u32::MAX);
        self.out.log(format!(
            "connection {} caught up: {} sent again from {} in {took:.1} s; forwarding live chat again",
            peer.0,
            crate::event::count(usize::try_from(lag.sent).unwrap_or(usize::MAX), "message", "messages"),
            crate::event::count(members as usize, "member", "members"),
        ));
        self.peers.send_frame(&mut self.out, peer, &Frame::CaughtUp { messages: lag.sent, members }, now);
    }

    /// A neighbour sent what this node had missed because it read too slowly.
    pub(super) fn on_caught_up(&mut self, peer: PeerId, messages: u64, members: u32) {
        let through = self
            .peers
            .get(peer)
            .and_then(|p| p.remote_id())
            .and_then(|id| self.members.get(id))
            .map_or_else(String::new, |r| format!(" (from {})", r.state.name));
        let what = crate::event::count(usize::try_from(messages).unwrap_or(usize::MAX), "message", "messages");
        let whom = crate::event::count(members as usize, "member", "members");
        self.publish(Event::Notice(format!("caught up: {} from {whom}{through}", grouped(&what))));
    }
}

/// Digits of the leading number of `text` grouped by thousands ("48112
/// messages" becomes "48,112 messages").
fn grouped(text: &str) -> String {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at(digits);
    let mut out = String::with_capacity(text.len() + digits / 3);
    for (i, c) in number.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped("48112 messages"), "48,112 messages");
        assert_eq!(grouped("1 message"), "1 message");
        assert_eq!(grouped("999 messages"), "999 messages");
        assert_eq!(grouped("1000 messages"), "1,000 messages");
        assert_eq!(grouped("1234567 messages"), "1,234,567 messages");
    }
}
