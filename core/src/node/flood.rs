//! Flooding: frames in, chat messages forwarded to every ready peer but the one
//! they came from, as the bytes they arrived in, and delivered here exactly once
//! and in order by [`Delivery`](super::delivery::Delivery).

use std::time::Instant;

use bytes::Bytes;

use super::delivery::{Admit, Held};
use super::noise::{self, Session};
use super::peers::{Phase, Start};
use super::{MAX_ORIGINS, Node, PeerId, too_long};
use crate::crypto;
use crate::event::Event;
use crate::wire::{self, Chat, Frame, MAX_TEXT, WireError};

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
            Some(Start::Handshaking) => {}
            Some(Start::Peer(theirs)) => {
                if !self.on_preamble(peer, &theirs, now) {
                    return;
                }
            }
            Some(Start::Person(first)) => {
                // Not a p2pchat peer: a person on nc or telnet.
                self.become_netcat(peer, &first, now);
                return;
            }
            Some(Start::Refused(e)) => {
                if matches!(e, WireError::BadVersion(_))
                    && self.peers.get(peer).is_some_and(|p| p.direction == super::Direction::Inbound)
                {
                    // Tell the other side why, in a form it can read: its
                    // preamble check reports the version this node speaks.
                    self.out.send(peer, Bytes::from(self.preamble.encode()));
                }
                self.reject(peer, e.to_string(), now);
                return;
            }
        }
        self.peers.extend_session(peer, data);
        let handshaking = |node: &Self| node.peers.get(peer).is_some_and(|p| p.phase == Phase::Handshake);
        let hello = if handshaking(self) {
            match noise::own_hello(&self.cfg.keys, self.own.name(), self.cfg.port) {
                Ok(h) => h,
                Err(e) => {
                    self.close(peer, format!("could not encode the hello: {e}"), false, now);
                    return;
                }
            }
        } else {
            Vec::new()
        };
        while handshaking(self) {
            match self.peers.handshake(peer, &hello) {
                Ok(None) => return,
                Ok(Some(step)) => {
                    if let Some(reply) = step.reply {
                        self.out.send(peer, Bytes::from(reply));
                    }
                    if let Some(h) = step.hello {
                        self.on_hello(peer, h, now);
                    }
                }
                Err(e) => {
                    self.refuse(peer, e, now);
                    return;
                }
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch_bytes);
        let decrypted = self.peers.decrypt(peer, &mut scratch);
        self.scratch_bytes = scratch;
        if let Err(e) = decrypted {
            self.reject(peer, e, now);
            return;
        }
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
            // before anything is allocated for it or any signature is checked.
            if let Some(batch) = wire::peek_batch(body) {
                let result = match batch {
                    Ok(b) if ready => self.on_batch(peer, b, &raw, now),
                    Ok(_) => Err("a frame before the handshake ended".into()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = result {
                    self.reject(peer, e, now);
                    return;
                }
                continue;
            }
            let result = match wire::peek_chat(body) {
                Some(Ok(c)) if ready => {
                    if self.delivery.is_duplicate(c.origin, c.seq) {
                        self.stats.duplicates += 1;
                        Ok(())
                    } else if !self.verifier.check(&c.origin, c.seq, c.content, &c.auth) {
                        Err(format!("a message from {} whose signature is not its origin's", c.origin.short()))
                    } else {
                        // A copy: the bytes as received share (and would keep
                        // alive, in history) the whole read buffer.
                        let chat = c.to_owned();
                        self.on_chat(Some(peer), Held { chat, raw: Bytes::copy_from_slice(&raw) }, now);
                        Ok(())
                    }
                }
                Some(Err(e)) => Err(e.to_string()),
                _ => match Frame::decode_body(body) {
                    Ok(frame) => self.on_frame(peer, frame, raw.clone(), now),
                    Err(e) => Err(e.to_string()),
                },
            };
            if let Err(e) = result {
                self.reject(peer, e, now);
                return;
            }
        }
    }

    /// The other side's preamble arrived: answer with this node's (if it
    /// connected to this one) and start the handshake, or refuse it, saying why.
    fn on_preamble(&mut self, peer: PeerId, theirs: &wire::Preamble, now: Instant) -> bool {
        let inbound = self.peers.get(peer).is_some_and(|p| p.direction == super::Direction::Inbound);
        if inbound {
            // Sent even to a node that is refused: its own check then says why.
            self.out.send(peer, Bytes::from(self.preamble.encode()));
        }
        if let Some(why) = self.preamble.mismatch(theirs) {
            self.refuse(peer, why, now);
            return false;
        }
        if inbound {
            match Session::responder(&self.cfg.keys, &self.network) {
                Ok(session) => self.peers.start_session(&mut self.out, peer, session, None),
                Err(e) => {
                    self.close(peer, e, false, now);
                    return false;
                }
            }
        }
        true
    }

    /// A frame other than a chat message checked in place. Err: the frame proves
    /// the link is not an honest relay (a signature that is not its signer's).
    fn on_frame(&mut self, peer: PeerId, frame: Frame, raw: Bytes, now: Instant) -> Result<(), String> {
        let Some(p) = self.peers.get(peer) else { return Ok(()) };
        if p.phase != Phase::Ready {
            return Err("a frame before the handshake ended".into());
        }
        let signed = wire::signed_part(&raw[wire::LEN_PREFIX..]);
        let check = |id: &crate::id::NodeId, domain: &[u8], sig: &crate::crypto::Sig, what: &str| {
            if crypto::verify_bytes(id, domain, signed, sig) {
                Ok(())
            } else {
                Err(format!("{what} from {} whose signature is not its signer's", id.short()))
            }
        };
        match frame {
            Frame::Bye { reason } => self.on_bye(peer, &reason, now),
            Frame::Heartbeat => {}
            Frame::Chat(wire::Chat { origin, .. }) | Frame::Batch(wire::Batch { origin, .. }) => {
                // Chats are taken in place (`read`); this is only reached by one
                // that did not peek, which cannot be valid.
                return Err(format!("a message from {} that could not be read in place", origin.short()));
            }
            Frame::Sync { marks, last } => self.on_sync(peer, marks, last, now),
            Frame::SyncDone { floors } => self.on_sync_done(floors, now),
            Frame::CaughtUp { messages, members } => self.on_caught_up(peer, messages, members),
            Frame::State(mut s, sig) => {
                // An old record (a replay, or a copy through a cycle) is dropped
                // before its signature is checked.
                if s.id != self.cfg.id && self.members.is_stale(s.id, s.version) {
                    self.stats.stale_records += 1;
                } else {
                    check(&s.id, crypto::domain::STATE, &sig, "a member record")?;
                    // An endorsement the member gave itself, or that is not its
                    // endorser's, counts for nothing (the record is forwarded as
                    // it is: every node judges it alike). One already checked in
                    // the record held here is not checked again.
                    let checked = self.members.get(s.id).is_some_and(|r| r.state.endorsed == s.endorsed);
                    if !checked && s.endorsed.is_some_and(|e| e.by == s.id || !crypto::verify_endorsement(&s.id, &e)) {
                        s.endorsed = None;
                    }
                    self.on_state(peer, s, raw, now);
                }
            }
            Frame::Endorse(e) => {
                let remote = self.peers.get(peer).and_then(|p| p.remote_id());
                if Some(e.by) != remote || !crypto::verify_endorsement(&self.cfg.id, &e) {
                    return Err("an endorsement that is not its sender's".into());
                }
                if self.own.endorse(e) {
                    self.members.touch();
                    self.refresh_own();
                }
            }
            Frame::Private(p, sig) => {
                check(&p.from, crypto::domain::PRIVATE, &sig, "a private message")?;
                self.on_private(peer, p);
            }
            Frame::SnapshotRequest { requester, request } => {
                self.on_snapshot_request(peer, requester, request, raw, now)
            }
            Frame::SnapshotReply(r, sig) => {
                check(&r.member, crypto::domain::REPORT, &sig, "a snapshot answer")?;
                self.on_snapshot_reply(r, raw, now);
            }
        }
        Ok(())
    }

    /// Closes a link whose handshake or preamble failed: a join the user asked
    /// for is reported as such (`after_removal`), anything else as a dropped
    /// connection.
    pub(super) fn refuse(&mut self, peer: PeerId, why: String, now: Instant) {
        if self.peers.get(peer).is_some_and(|p| p.purpose == Some(super::peers::Purpose::User)) {
            self.stats.rejected += 1;
            self.close(peer, why, false, now);
        } else {
            self.reject(peer, why, now);
        }
    }

    /// Queues `raw` to every ready peer but `from`; returns how many.
    pub(super) fn forward(&mut self, from: Option<PeerId>, raw: &Bytes, now: Instant) -> u64 {
        self.peers.forward(&mut self.out, from, raw, now)
    }

    /// Queues a chat frame (messages of `origin` numbered from `first`) to every
    /// ready peer but `from`, except those lagging, which note it as needed
    /// (see `lag`); returns how many.
    pub(super) fn forward_chat(
        &mut self,
        from: Option<PeerId>,
        raw: &Bytes,
        (origin, first): (crate::id::NodeId, u64),
        now: Instant,
    ) -> u64 {
        if self.lagging.is_empty() {
            return self.peers.forward(&mut self.out, from, raw, now);
        }
        let lagging = &mut self.lagging;
        self.peers.forward_where(&mut self.out, from, raw, now, |p| !lagging.holds_back(p, origin, first))
    }

    /// Whether a message from `origin` may be taken: not when it would be one
    /// origin too many (logged).
    fn room_for(&mut self, origin: crate::id::NodeId) -> bool {
        if !self.delivery.knows(origin) && self.delivery.origin_count() >= MAX_ORIGINS {
            self.out.log(format!("dropping a message from unknown origin {origin}: too many origins"));
            return false;
        }
        true
    }

    /// A batch of chat messages from a peer. Dropped unopened when every message
    /// in it is known (it came around a cycle); otherwise its signature is
    /// checked over all of it, its new messages are delivered, and it is
    /// forwarded whole, as the bytes it came in (a neighbour drops what it
    /// knows). Err: the signature is not its origin's.
    fn on_batch(&mut self, peer: PeerId, b: wire::BatchRef<'_>, raw: &Bytes, now: Instant) -> Result<(), String> {
        let fresh = b.seqs().filter(|&seq| !self.delivery.is_duplicate(b.origin, seq)).count();
        if fresh == 0 {
            self.stats.duplicates += b.items.len() as u64;
            return Ok(());
        }
        let mut content = std::mem::take(&mut self.scratch_bytes);
        let leaves = wire::batch_leaves(&mut content, &b.origin, b.first, b.items.iter().copied());
        self.scratch_bytes = content;
        let leaves = leaves.map_err(|e| e.to_string())?;
        if !self.verifier.check_batch(&b.origin, b.first, leaves, &b.sig) {
            return Err(format!("a batch of messages from {} whose signature is not its origin's", b.origin.short()));
        }
        if !self.room_for(b.origin) {
            return Ok(());
        }
        // One copy for the history, shared by the batch's messages: the bytes as
        // received share (and would keep alive) the whole read buffer.
        let raw = Bytes::copy_from_slice(raw);
        let mut out = std::mem::take(&mut self.scratch);
        let mut new = false;
        for (seq, (name, text)) in b.seqs().zip(&b.items) {
            let chat = wire::Chat {
                origin: b.origin,
                seq,
                name: (*name).into(),
                text: (*text).into(),
                auth: Default::default(),
            };
            match self.delivery.admit(Held { chat, raw: raw.clone() }, now, &mut out) {
                Admit::Duplicate => self.stats.duplicates += 1,
                Admit::New => new = true,
            }
        }
        if new {
            self.stats.forwarded += self.forward_chat(Some(peer), &raw, (b.origin, b.first), now);
        }
        self.deliver_all(&mut out);
        self.scratch = out;
        Ok(())
    }

    fn on_chat(&mut self, from: Option<PeerId>, held: Held, now: Instant) {
        if !self.room_for(held.chat.origin) {
            return;
        }
        let raw = held.raw.clone();
        let at = (held.chat.origin, held.chat.seq);
        let mut out = std::mem::take(&mut self.scratch);
        match self.delivery.admit(held, now, &mut out) {
            Admit::Duplicate => self.stats.duplicates += 1,
            Admit::New => {
                self.stats.forwarded += self.forward_chat(from, &raw, at, now);
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
            let from = self.display_name(origin, h.chat.name);
            if self.cfg.persist {
                self.out.store_chat(origin, h.chat.seq, &from, &h.raw);
            }
            self.delivery.remember(origin, h.chat.seq, h.raw);
            let ev = Event::Message { from, text: h.chat.text, origin, seq: h.chat.seq, private: false, to: None };
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
        let chat = Chat {
            origin: self.cfg.id,
            seq: self.seq + 1,
            name: self.own.name().to_owned(),
            text,
            auth: Default::default(),
        };
        if self.originate(chat, now) {
            self.seq += 1;
            self.stats.sent += 1;
        }
    }

    /// A new message written here (by the user or a hosted text client): it
    /// joins the batch being written this turn, which is signed once and sent
    /// by [`Node::seal_batch`] before the node's next output is read (or at once
    /// when it is full). Always true (kept for the callers' accounting).
    pub(super) fn originate(&mut self, chat: Chat, now: Instant) -> bool {
        self.batch_now = now;
        let full = self.batch.iter().filter(|c| c.origin == chat.origin).count() + 1 >= crypto::MAX_BATCH;
        self.batch.push(chat);
        if full {
            self.seal_batch();
        }
        true
    }

    /// Signs the messages written since the last call, one signature per run of
    /// messages from one origin, then sends them to every peer and delivers them
    /// here.
    pub(super) fn seal_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let now = self.batch_now;
        let mut chats = std::mem::take(&mut self.batch);
        let mut start = 0;
        while start < chats.len() {
            // A run: messages of one origin, at most BATCH_BYTES of them.
            let origin = chats[start].origin;
            let mut bytes = 0;
            let end = chats[start..]
                .iter()
                .position(|c| {
                    bytes += c.name.len() + c.text.len();
                    c.origin != origin || (bytes > wire::BATCH_BYTES && bytes > c.name.len() + c.text.len())
                })
                .map_or(chats.len(), |n| start + n);
            self.send_run(&chats[start..end], now);
            start = end;
        }
        chats.clear();
        self.batch = chats;
    }

    /// Signs, sends and delivers a run of messages from one origin (consecutive
    /// sequence numbers), as one [`Frame::Batch`].
    fn send_run(&mut self, run: &[Chat], now: Instant) {
        let Some(keys) = self.keys_of(run[0].origin) else { return };
        let items = run.iter().map(|c| wire::BatchItem { name: c.name.clone(), text: c.text.clone() }).collect();
        let raw = match wire::Batch::signed(&keys, run[0].seq, items).and_then(|b| Frame::Batch(b).encode()) {
            Ok(raw) => raw,
            Err(e) => {
                self.out.error(format!("message not sent: {e}"));
                return;
            }
        };
        self.forward_chat(None, &raw, (run[0].origin, run[0].seq), now);
        let mut out = std::mem::take(&mut self.scratch);
        for chat in run {
            self.delivery.admit_own(chat.origin, chat.seq);
            if chat.origin == self.cfg.id && self.peers.any_synced() {
                self.catchup.handed(chat.seq);
            }
            out.push(Held { chat: chat.clone(), raw: raw.clone() });
        }
        self.deliver_all(&mut out);
        self.scratch = out;
    }

    /// The keys this node signs with for `id`: its own, or a hosted text client's.
    pub(super) fn keys_of(&self, id: crate::id::NodeId) -> Option<crypto::Keys> {
        if id == self.cfg.id { Some(self.cfg.keys.clone()) } else { self.netcats.keys_of(id).cloned() }
    }
}
