//! Flooding: frames in, chat messages forwarded to every ready peer but the one
//! they came from, as the bytes they arrived in, and delivered here exactly once
//! and in order by [`Delivery`](super::delivery::Delivery).

use std::time::Instant;

use bytes::Bytes;

use super::delivery::{Admit, Held};
use super::peers::{Phase, Start};
use super::{MAX_ORIGINS, Node, PeerId, too_long};
use crate::event::Event;
use crate::wire::{self, Chat, Frame, MAX_TEXT, PREAMBLE, WireError};

impl Node {
    /// Bytes read from a connection.
    pub fn handle_data(&mut self, peer: PeerId, data: &[u8], now: Instant) {
        self.read(peer, data, now);
        self.report_losses(now);
    }

    fn read(&mut self, peer: PeerId, mut data: &[u8], now: Instant) {
        if self.peers.get(peer).is_some_and(|p| p.phase == Phase::Netcat) {
            self.netcat_data(peer, data, now);
            return;
        }
        match self.peers.read_start(peer, &mut data, now) {
            None | Some(Start::Incomplete) => return,
            Some(Start::Peer) => {}
            Some(Start::Person(first)) => {
                // Not a p2pchat peer: a person on nc or telnet.
                self.become_netcat(peer, &first, now);
                return;
            }
            Some(Start::Refused(e)) => {
                if matches!(e, WireError::BadVersion(_))
                    && self.peers.get(peer).is_some_and(|p| p.direction == super::Direction::Inbound)
                {
                    // Tell the other side why, in a form it can read.
                    self.out.send(peer, Bytes::from_static(&PREAMBLE));
                }
                self.reject(peer, e.to_string(), now);
                return;
            }
        }
        self.peers.extend(peer, data);
        loop {
            let (raw, ready) = match self.peers.next_frame(peer) {
                None => return,
                Some(Ok(next)) => next,
                Some(Err(e)) => {
                    self.reject(peer, e.to_string(), now);
                    return;
                }
            };
            let body = &raw[wire::LEN_PREFIX..];
            // The hot path: chat messages are looked at in place, and a duplicate
            // (every message crossing a cycle arrives more than once) is dropped
            // before anything is allocated for it.
            let result = match wire::peek_chat(body) {
                Some(Ok(c)) if ready => {
                    if self.delivery.is_duplicate(c.origin, c.seq) {
                        self.stats.duplicates += 1;
                    } else {
                        let chat = c.to_owned();
                        self.on_chat(Some(peer), Held { chat, raw: raw.clone() }, now);
                    }
                    Ok(())
                }
                Some(Err(e)) => Err(e),
                _ => Frame::decode_body(body).map(|frame| self.on_frame(peer, frame, raw.clone(), now)),
            };
            if let Err(e) = result {
                self.reject(peer, e.to_string(), now);
                return;
            }
        }
    }

    fn on_frame(&mut self, peer: PeerId, frame: Frame, raw: Bytes, now: Instant) {
        let Some(p) = self.peers.get(peer) else { return };
        let ready = p.phase == Phase::Ready;
        match frame {
            Frame::Bye { reason } => self.on_bye(peer, &reason, now),
            Frame::Hello(h) if !ready => self.on_hello(peer, h, now),
            Frame::Hello(_) => self.reject(peer, "second hello on one connection".into(), now),
            _ if !ready => self.reject(peer, "expected a hello first".into(), now),
            Frame::Heartbeat => {}
            Frame::Chat(c) => self.on_chat(Some(peer), Held { chat: c, raw }, now),
            Frame::Sync { marks, last } => self.on_sync(peer, marks, last, now),
            Frame::SyncDone { floors } => self.on_sync_done(floors, now),
            Frame::State(s) => self.on_state(peer, s, raw, now),
            Frame::Private(p) => self.on_private(peer, p),
            Frame::SnapshotRequest { requester, request } => {
                self.on_snapshot_request(peer, requester, request, raw, now)
            }
            Frame::SnapshotReply(r) => self.on_snapshot_reply(r, raw, now),
        }
    }

    /// Queues `raw` to every ready peer but `from`; returns how many.
    pub(super) fn forward(&mut self, from: Option<PeerId>, raw: &Bytes, now: Instant) -> u64 {
        self.peers.forward(&mut self.out, from, raw, now)
    }

    fn on_chat(&mut self, from: Option<PeerId>, held: Held, now: Instant) {
        if !self.delivery.knows(held.chat.origin) && self.delivery.origin_count() >= MAX_ORIGINS {
            self.out.log(format!("dropping a message from unknown origin {}: too many origins", held.chat.origin));
            return;
        }
        let raw = held.raw.clone();
        let mut out = std::mem::take(&mut self.scratch);
        match self.delivery.admit(held, now, &mut out) {
            Admit::Duplicate => self.stats.duplicates += 1,
            Admit::New => {
                self.stats.forwarded += self.forward(from, &raw, now);
                self.deliver_all(&mut out);
            }
        }
        self.scratch = out;
    }

    /// Delivers messages released in order: to the user and the text clients here.
    /// Those from a member held for a rename (a newcomer with a name already
    /// taken, bringing its history along: see `Node::on_state`) wait until it is
    /// renamed, so they are shown under the name it will have.
    pub(super) fn deliver_all(&mut self, out: &mut Vec<Held>) {
        for h in out.drain(..) {
            let origin = h.chat.origin;
            if origin != self.cfg.id {
                self.stats.received += 1;
            }
            self.delivery.remember(origin, h.chat.seq, h.raw);
            let ev = Event::Message {
                from: h.chat.name,
                text: h.chat.text,
                origin,
                seq: h.chat.seq,
                private: false,
                to: None,
            };
            if self.notices.holds(origin) {
                self.notices.defer(origin, ev).unwrap_or_else(|ev| self.publish(ev));
            } else {
                self.publish(ev);
            }
        }
    }

    /// A chat line typed by this node's user.
    pub(super) fn send_chat(&mut self, text: String, now: Instant) {
        if text.len() > MAX_TEXT {
            self.out.error(too_long(Some(text.len())));
            return;
        }
        let chat = Chat { origin: self.cfg.id, seq: self.seq + 1, name: self.own.name().to_owned(), text };
        if self.originate(chat, now) {
            self.seq += 1;
            self.stats.sent += 1;
        }
    }

    /// Sends a new message written here (by the user or a hosted text client) to
    /// every peer and delivers it locally. False if it could not be encoded.
    pub(super) fn originate(&mut self, chat: Chat, now: Instant) -> bool {
        let raw = match Frame::Chat(chat.clone()).encode() {
            Ok(raw) => raw,
            Err(e) => {
                self.out.error(format!("message not sent: {e}"));
                return false;
            }
        };
        self.delivery.admit_own(chat.origin, chat.seq);
        self.forward(None, &raw, now);
        if chat.origin == self.cfg.id && self.peers.any_synced() {
            self.catchup.handed(chat.seq);
        }
        let mut out = vec![Held { chat, raw }];
        self.deliver_all(&mut out);
        true
    }
}
