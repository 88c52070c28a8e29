//! Private messages: sent only over a direct link to the recipient's node, never
//! relayed. When there is no such link the sender opens one (the address is known
//! from membership) and holds the message until it is up, or reports failure.

use crate::crypto::{self, Sig};
use std::time::Instant;

use super::peers::Purpose;
use super::{Node, PeerId};
use crate::addr::PeerAddr;
use crate::event::{Event, sanitize};
use crate::id::NodeId;
use crate::memory::{SavedPrivate, Stored};
use crate::wire::{Frame, MAX_TEXT, Private};

/// Most private messages waiting for links at once.
const MAX_WAITING: usize = 256;

/// Who is sending a private message from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sender {
    /// The node's own user.
    User,
    /// A text client hosted here.
    Text(PeerId),
}

/// A private message waiting for its direct link.
#[derive(Debug)]
struct Pending {
    endpoint: NodeId,
    to: NodeId,
    to_name: String,
    sender: Sender,
    text: String,
    deadline: Instant,
}

/// Private messages sent from this node: their counter, and those waiting for a
/// direct link to open.
#[derive(Debug, Default)]
pub(super) struct Privates {
    seq: u64,
    waiting: Vec<Pending>,
}

impl Privates {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Takes the messages waiting for `endpoint`.
    fn take_for(&mut self, endpoint: NodeId) -> Vec<Pending> {
        let (taken, rest) = std::mem::take(&mut self.waiting).into_iter().partition(|p| p.endpoint == endpoint);
        self.waiting = rest;
        taken
    }
}

/// A private message as a text client sees it.
fn netcat_line(from: NodeId, from_name: &str, to: Option<&str>, seq: u64, text: String) -> Option<String> {
    let to = to.map(str::to_owned);
    Event::Message { from: from_name.to_owned(), text, origin: from, seq, private: true, to }.to_line()
}

impl Node {
    fn sender_identity(&self, sender: Sender) -> Option<(NodeId, String)> {
        match sender {
            Sender::User => Some((self.cfg.id, self.own.name().to_owned())),
            Sender::Text(peer) => {
                let tc = self.netcats.get(peer)?;
                Some((tc.id, tc.name.clone()?))
            }
        }
    }

    fn tell(&mut self, sender: Sender, text: String, error: bool) {
        match sender {
            Sender::User if error => self.out.error(text),
            Sender::User => self.out.notice(text),
            Sender::Text(peer) => self.send_netcat(peer, &format!("p2pchat: {}", sanitize(&text))),
        }
    }

    /// `:msg NAME TEXT`.
    pub(super) fn send_private(&mut self, sender: Sender, name: &str, text: String, now: Instant) {
        if text.len() > MAX_TEXT {
            self.tell(sender, super::too_long(Some(text.len())), true);
            return;
        }
        let Some((from, _)) = self.sender_identity(sender) else { return };
        // Every member using this name: (member, its host when it is a text client).
        let mut found: Vec<(NodeId, Option<NodeId>)> = Vec::new();
        if self.own.name() == name {
            found.push((self.cfg.id, None));
        }
        found.extend(self.members.holders_of(name).map(|r| (r.state.id, r.state.host)));
        for (_, t, n) in self.netcats.named() {
            if n == name && !found.iter().any(|(id, _)| *id == t.id) {
                found.push((t.id, Some(self.cfg.id)));
            }
        }
        let (to, host) = match found.as_slice() {
            [] => {
                self.tell(sender, format!("no member named {name}; :users lists them"), true);
                return;
            }
            [one] => *one,
            _ => {
                self.tell(
                    sender,
                    format!("{name} is ambiguous right now (a name collision is being resolved); try again"),
                    true,
                );
                return;
            }
        };
        if to == from {
            self.tell(sender, "that is you: a private message needs another member".into(), true);
            return;
        }
        let endpoint = host.unwrap_or(to);
        let to_name = name.to_owned();
        if endpoint == self.cfg.id {
            self.deliver_private_here(sender, to, &to_name, text);
            return;
        }
        if let Some(peer) = self.peers.ready_to(endpoint) {
            self.send_private_frame(peer, sender, to, &to_name, text, now);
            return;
        }
        let Some(addr) = self.members.get(endpoint).and_then(|r| r.state.addr) else {
            self.tell(
                sender,
                format!("cannot open a direct link to {name} (its address is unknown); private message not sent"),
                true,
            );
            return;
        };
        if !self.peers.attempting(Purpose::Private(endpoint)) {
            self.peers.attempt(&mut self.out, PeerAddr::from(addr), Purpose::Private(endpoint));
            self.tell(sender, format!("opening a direct link to {name} for a private message"), false);
        }
        if self.private.waiting.len() >= MAX_WAITING {
            self.tell(sender, "too many private messages are waiting for a link; this one was not sent".into(), true);
            return;
        }
        let deadline = now + self.cfg.handshake_timeout;
        self.private.waiting.push(Pending { endpoint, to, to_name, sender, text, deadline });
    }

    fn send_private_frame(
        &mut self,
        peer: PeerId,
        sender: Sender,
        to: NodeId,
        to_name: &str,
        text: String,
        now: Instant,
    ) {
        let Some((from, from_name)) = self.sender_identity(sender) else { return };
        let seq = self.private.next_seq();
        let Some(keys) = self.keys_of(from) else { return };
        let frame =
            Frame::Private(Private { from, to, name: from_name.clone(), seq, text: text.clone() }, Sig::default());
        match frame.encode_signed(|b| crypto::sign_bytes(&keys, crypto::domain::PRIVATE, b)) {
            Ok(raw) => self.peers.queue(&mut self.out, peer, raw, now),
            Err(e) => self.out.log(format!("could not encode a private message: {e}")),
        }
        self.echo_private(sender, from, &from_name, to_name, seq, text);
    }

    /// The sender's own copy, shown once.
    fn echo_private(&mut self, sender: Sender, from: NodeId, from_name: &str, to_name: &str, seq: u64, text: String) {
        match sender {
            Sender::User => {
                self.save_private(from, seq, from_name, to_name, &text);
                self.out.event(Event::Message {
                    from: from_name.to_owned(),
                    text,
                    origin: from,
                    seq,
                    private: true,
                    to: Some(to_name.to_owned()),
                })
            }
            Sender::Text(peer) => {
                if let Some(line) = netcat_line(from, from_name, Some(to_name), seq, text) {
                    self.send_netcat(peer, &line);
                }
            }
        }
    }

    /// A private message shown to this node's user, for the store (never offered
    /// to anyone: it has no frame).
    fn save_private(&mut self, origin: NodeId, seq: u64, from: &str, to: &str, text: &str) {
        if self.cfg.persist {
            self.out.store(Stored::Private(SavedPrivate {
                origin,
                seq,
                from: from.to_owned(),
                to: to.to_owned(),
                text: text.to_owned(),
                time_ms: 0,
            }));
        }
    }

    /// Both ends on this node (the user and a text client, or two text clients).
    fn deliver_private_here(&mut self, sender: Sender, to: NodeId, to_name: &str, text: String) {
        let Some((from, from_name)) = self.sender_identity(sender) else { return };
        let seq = self.private.next_seq();
        self.receive_private(Private { from, to, name: from_name.clone(), seq, text: text.clone() });
        self.echo_private(sender, from, &from_name, to_name, seq, text);
    }

    fn receive_private(&mut self, mut p: Private) {
        p.name = self.display_name(p.from, p.name);
        if p.to == self.cfg.id {
            let me = self.own.name().to_owned();
            self.save_private(p.from, p.seq, &p.name, &me, &p.text);
            self.out.event(Event::Message {
                from: p.name,
                text: p.text,
                origin: p.from,
                seq: p.seq,
                private: true,
                to: None,
            });
        } else if let Some(peer) = self.netcats.peer_of(p.to) {
            if let Some(line) = netcat_line(p.from, &p.name, None, p.seq, p.text) {
                self.send_netcat(peer, &line);
            }
        } else {
            self.out.log(format!("dropping a private message for {}: not here", p.to));
        }
    }

    /// A private message from a neighbour: accepted only from the sender's own node.
    pub(super) fn on_private(&mut self, peer: PeerId, p: Private) {
        let Some(remote) = self.peers.get(peer).and_then(|p| p.remote_id()) else { return };
        let hosted_by_remote = self.members.get(p.from).is_some_and(|r| r.state.host == Some(remote));
        if p.from != remote && !hosted_by_remote {
            self.out
                .log(format!("dropping a private message claiming to be from {} over the link to {remote}", p.from));
            return;
        }
        self.receive_private(p);
    }

    /// A link to `endpoint` is up: send what was waiting for it.
    pub(super) fn flush_private(&mut self, peer: PeerId, endpoint: NodeId, now: Instant) {
        for p in self.private.take_for(endpoint) {
            self.send_private_frame(peer, p.sender, p.to, &p.to_name, p.text, now);
        }
    }

    /// Gives up on private messages waiting for a link to `endpoint`.
    pub(super) fn fail_private(&mut self, endpoint: NodeId, why: &str) {
        for p in self.private.take_for(endpoint) {
            self.tell(p.sender, format!("private message to {} not sent: {why}", p.to_name), true);
        }
    }

    pub(super) fn expire_private(&mut self, now: Instant) {
        let expired: Vec<NodeId> =
            self.private.waiting.iter().filter(|p| p.deadline <= now).map(|p| p.endpoint).collect();
        for endpoint in expired {
            self.fail_private(endpoint, "no direct link could be opened in time");
        }
    }
}
