//! Private messages: sent only over a direct link to the recipient's node, never
//! relayed. When there is no such link the sender opens one (the address is known
//! from membership) and holds the message until it is up, or reports failure.

use std::time::Instant;

use super::{Node, PeerId};
use crate::addr::PeerAddr;
use crate::event::{Event, sanitize};
use crate::id::NodeId;
use crate::wire::{Frame, MAX_TEXT, Private};

/// Most private messages waiting for links at once.
const MAX_PENDING: usize = 256;

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
pub(super) struct Pending {
    endpoint: NodeId,
    to: NodeId,
    to_name: String,
    sender: Sender,
    text: String,
    deadline: Instant,
}

impl Node {
    fn sender_identity(&self, sender: Sender) -> Option<(NodeId, String)> {
        match sender {
            Sender::User => Some((self.cfg.id, self.me.name.clone())),
            Sender::Text(peer) => {
                let tc = self.peers.get(&peer)?.text.as_ref()?;
                Some((tc.id, tc.name.clone()?))
            }
        }
    }

    fn tell(&mut self, sender: Sender, text: String, error: bool) {
        match sender {
            Sender::User if error => self.events.push_back(Event::Error(text)),
            Sender::User => self.events.push_back(Event::Notice(text)),
            Sender::Text(peer) => self.send_text(peer, &format!("p2pchat: {}", sanitize(&text))),
        }
    }

    /// The peer that hosts a local text client with this id.
    fn local_text(&self, id: NodeId) -> Option<PeerId> {
        self.peers
            .iter()
            .find(|(_, p)| p.text.as_ref().is_some_and(|t| t.id == id && t.name.is_some()))
            .map(|(k, _)| *k)
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
        if self.me.name == name {
            found.push((self.cfg.id, None));
        }
        found.extend(self.members.holders_of(name).map(|r| (r.state.id, r.state.host)));
        for p in self.peers.values() {
            if let Some(t) = &p.text
                && t.name.as_deref() == Some(name)
                && !found.iter().any(|(id, _)| *id == t.id)
            {
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
        if let Some(peer) = self.ready_peer(endpoint) {
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
        if !self.attempts.values().any(|a| a.private_for == Some(endpoint)) {
            let attempt = self.next_attempt;
            self.start_attempt(PeerAddr::from(addr), false, None);
            if let Some(a) = self.attempts.get_mut(&attempt) {
                a.private_for = Some(endpoint);
            }
            self.tell(sender, format!("opening a direct link to {name} for a private message"), false);
        }
        if self.pending_private.len() >= MAX_PENDING {
            self.tell(sender, "too many private messages are waiting for a link; this one was not sent".into(), true);
            return;
        }
        let deadline = now + self.cfg.handshake_timeout;
        self.pending_private.push(Pending { endpoint, to, to_name, sender, text, deadline });
    }

    fn ready_peer(&self, id: NodeId) -> Option<PeerId> {
        self.peers.iter().find(|(_, p)| p.remote_id() == Some(id)).map(|(k, _)| *k)
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
        self.private_seq += 1;
        let seq = self.private_seq;
        let frame = Frame::Private(Private { from, to, name: from_name.clone(), seq, text: text.clone() });
        self.send_frame(peer, &frame, now);
        self.echo_private(sender, from, &from_name, to_name, seq, text);
    }

    /// The sender's own copy, shown once.
    fn echo_private(&mut self, sender: Sender, from: NodeId, from_name: &str, to_name: &str, seq: u64, text: String) {
        match sender {
            Sender::User => self.events.push_back(Event::Message {
                from: from_name.to_owned(),
                text,
                origin: from,
                seq,
                private: true,
                to: Some(to_name.to_owned()),
            }),
            Sender::Text(peer) => {
                let line = format!("[private to {}] {}: {}", sanitize(to_name), sanitize(from_name), sanitize(&text));
                self.send_text(peer, &line);
            }
        }
    }

    /// Both ends on this node (the user and a text client, or two text clients).
    fn deliver_private_here(&mut self, sender: Sender, to: NodeId, to_name: &str, text: String) {
        let Some((from, from_name)) = self.sender_identity(sender) else { return };
        self.private_seq += 1;
        let seq = self.private_seq;
        self.receive_private(Private { from, to, name: from_name.clone(), seq, text: text.clone() });
        self.echo_private(sender, from, &from_name, to_name, seq, text);
    }

    fn receive_private(&mut self, p: Private) {
        if p.to == self.cfg.id {
            self.events.push_back(Event::Message {
                from: p.name,
                text: p.text,
                origin: p.from,
                seq: p.seq,
                private: true,
                to: None,
            });
        } else if let Some(peer) = self.local_text(p.to) {
            let line = format!("[private] {}: {}", sanitize(&p.name), sanitize(&p.text));
            self.send_text(peer, &line);
        } else {
            self.log(format!("dropping a private message for {}: not here", p.to));
        }
    }

    /// A private message from a neighbour: accepted only from the sender's own node.
    pub(super) fn on_private(&mut self, peer: PeerId, p: Private) {
        let Some(remote) = self.peers.get(&peer).and_then(super::Peer::remote_id) else { return };
        let hosted_by_remote = self.members.get(p.from).is_some_and(|r| r.state.host == Some(remote));
        if p.from != remote && !hosted_by_remote {
            self.log(format!("dropping a private message claiming to be from {} over the link to {remote}", p.from));
            return;
        }
        self.receive_private(p);
    }

    /// A link to `endpoint` is up: send what was waiting for it.
    pub(super) fn flush_private(&mut self, peer: PeerId, endpoint: NodeId, now: Instant) {
        if self.pending_private.is_empty() {
            return;
        }
        let (ready, rest): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending_private).into_iter().partition(|p| p.endpoint == endpoint);
        self.pending_private = rest;
        for p in ready {
            self.send_private_frame(peer, p.sender, p.to, &p.to_name, p.text, now);
        }
    }

    /// Gives up on private messages waiting for a link to `endpoint`.
    pub(super) fn fail_private(&mut self, endpoint: NodeId, why: &str) {
        let (failed, rest): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending_private).into_iter().partition(|p| p.endpoint == endpoint);
        self.pending_private = rest;
        for p in failed {
            self.tell(p.sender, format!("private message to {} not sent: {why}", p.to_name), true);
        }
    }

    pub(super) fn expire_private(&mut self, now: Instant) {
        let expired: Vec<NodeId> =
            self.pending_private.iter().filter(|p| p.deadline <= now).map(|p| p.endpoint).collect();
        for endpoint in expired {
            self.fail_private(endpoint, "no direct link could be opened in time");
        }
    }
}
