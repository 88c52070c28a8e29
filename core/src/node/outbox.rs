//! What the node has for the driver and the user: bytes to write, events, actions
//! and log lines, drained by the `poll_*` calls. Every part of the node writes
//! here; none keeps a queue of its own.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::{Action, PeerId};
use crate::event::Event;
use crate::id::NodeId;
use crate::memory::{SavedChat, Stored};

/// Log lines kept before the driver drains them; beyond it lines are dropped
/// (a peer must not grow the node's memory by making it log).
const MAX_LOGS: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Bytes to write as they are: preambles, handshake messages, lines for
    /// text clients, and frames once encrypted.
    transmits: VecDeque<(PeerId, Bytes)>,
    /// Frames for links past their handshake, in order, waiting to be encrypted
    /// together (`Node::poll_transmit`).
    plain: BTreeMap<PeerId, Vec<Bytes>>,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    logs: VecDeque<String>,
    /// Records for the store (only when the node persists).
    stored: Vec<Stored>,
}

impl Outbox {
    /// Bytes for a connection (no bookkeeping: see `Peers::queue`).
    pub fn send(&mut self, peer: PeerId, raw: Bytes) {
        self.transmits.push_back((peer, raw));
    }

    /// A frame for a link past its handshake, to be encrypted before it is written
    /// (no bookkeeping: see `Peers::queue`).
    pub fn send_plain(&mut self, peer: PeerId, raw: Bytes) {
        self.plain.entry(peer).or_default().push(raw);
    }

    /// Takes the frames waiting for one link.
    pub fn take_plain(&mut self, peer: PeerId) -> Option<Vec<Bytes>> {
        self.plain.remove(&peer)
    }

    /// Takes the frames waiting for every link.
    pub fn take_all_plain(&mut self) -> BTreeMap<PeerId, Vec<Bytes>> {
        std::mem::take(&mut self.plain)
    }

    /// A line for a plain-text client, CRLF added.
    pub fn send_line(&mut self, peer: PeerId, line: &str) {
        let mut s = String::with_capacity(line.len() + 2);
        s.push_str(line);
        s.push_str("\r\n");
        self.send(peer, Bytes::from(s));
    }

    pub fn event(&mut self, ev: Event) {
        self.events.push_back(ev);
    }

    pub fn notice(&mut self, text: String) {
        self.event(Event::Notice(text));
    }

    pub fn error(&mut self, text: String) {
        self.event(Event::Error(text));
    }

    pub fn act(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    pub fn log(&mut self, line: String) {
        if self.logs.len() < MAX_LOGS {
            self.logs.push_back(line);
        }
    }

    /// A record for the store.
    pub fn store(&mut self, record: Stored) {
        self.stored.push(record);
    }

    /// A chat message shown to the user, for the store: it joins the last record
    /// when it continues that run (the next message of the same frame, shown
    /// under the same name), so a batch costs one record, not one per message.
    pub fn store_chat(&mut self, origin: NodeId, seq: u64, from: &str, frame: &Bytes) {
        if let Some(Stored::Chat(run)) = self.stored.last_mut()
            && run.continued_by(origin, seq, from, frame)
        {
            run.count += 1;
            return;
        }
        self.stored.push(Stored::Chat(SavedChat {
            origin,
            first: seq,
            count: 1,
            from: from.to_owned(),
            time_ms: 0,
            frame: frame.clone(),
        }));
    }

    /// Moves the records for the store into `into`.
    pub fn take_stored(&mut self, into: &mut Vec<Stored>) {
        into.append(&mut self.stored);
    }

    pub fn pop_transmit(&mut self) -> Option<(PeerId, Bytes)> {
        let t = self.transmits.pop_front();
        if t.is_none() && self.transmits.capacity() > 64 * 1024 {
            // A burst is over: give its memory back.
            self.transmits.shrink_to(1024);
        }
        t
    }

    pub fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn pop_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn pop_log(&mut self) -> Option<String> {
        self.logs.pop_front()
    }
}
