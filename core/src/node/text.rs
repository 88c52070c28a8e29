//! Plain-text clients: a person on `nc HOST PORT` or telnet.
//!
//! A connection that does not start with the p2pchat magic (or says nothing for a
//! moment after connecting) is such a client. This module owns its line reader and
//! its small state machine (asking for a name, then chatting); the node decides
//! what the lines mean.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Node, PeerId, Phase};
use crate::command::{self, Input};
use crate::event::{Event, sanitize};
use crate::id::NodeId;
use crate::wire::{Frame, MAX_TEXT, MemberState, validate_name};

/// Longest line a text client may send, in bytes: a chat text plus room for a
/// command word and a name (`:msg NAME TEXT`). Only the text's own limit,
/// [`MAX_TEXT`], is ever shown to the client: one limit, one message.
pub const MAX_TEXT_CLIENT_LINE: usize = MAX_TEXT + 64;
/// Lines per second a text client may send on average.
pub const RATE_PER_SEC: f64 = 10.0;
/// Lines a text client may send in a burst.
pub const RATE_BURST: f64 = 20.0;
/// How long an inbound connection may stay silent before it is greeted as a text
/// client (a p2pchat peer speaks first, at once).
pub const DETECT_AFTER: Duration = Duration::from_millis(400);

/// A line read from a text client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, CR/LF removed, invalid UTF-8 replaced.
    Text(String),
    /// A line longer than [`MAX_TEXT_CLIENT_LINE`]: it was discarded.
    TooLong,
}

/// Splits a byte stream into lines with a bounded buffer.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    discarding: bool,
}

impl LineReader {
    /// Bytes of memory the reader holds for a line not yet complete (its buffer's
    /// capacity): at most twice [`MAX_TEXT_CLIENT_LINE`], whatever it is fed.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// Feeds bytes; calls `out` for every complete line.
    pub fn feed(&mut self, data: &[u8], mut out: impl FnMut(Line)) {
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete { &chunk[..chunk.len() - 1] } else { chunk };
            if !self.discarding {
                if self.buf.len() + body.len() > MAX_TEXT_CLIENT_LINE {
                    self.buf.clear();
                    self.discarding = true;
                    out(Line::TooLong);
                } else {
                    self.buf.extend_from_slice(body);
                }
            }
            if complete {
                if !self.discarding {
                    let mut line = std::mem::take(&mut self.buf);
                    while line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    out(Line::Text(String::from_utf8_lossy(&line).into_owned()));
                }
                self.discarding = false;
            }
        }
    }
}

/// One connected text client.
#[derive(Debug)]
pub struct TextClient {
    /// Its member id (chosen by the host).
    pub id: NodeId,
    /// Its name, once it gave a valid one.
    pub name: Option<String>,
    /// When it took that name (ms since the epoch), for collisions.
    pub claimed: u64,
    /// Version of the member record the host sends for it.
    pub version: u64,
    /// Its chat sequence numbers.
    pub seq: u64,
    /// Its private message counter.
    pub private_seq: u64,
    /// Last line received.
    pub last_active: Instant,
    /// The line reader.
    pub reader: LineReader,
    tokens: f64,
    refilled: Instant,
    warned: Option<Instant>,
}

impl TextClient {
    /// A client that has not given its name yet.
    pub fn new(id: NodeId, now: Instant) -> Self {
        TextClient {
            id,
            name: None,
            claimed: 0,
            version: 0,
            seq: 0,
            private_seq: 0,
            last_active: now,
            reader: LineReader::default(),
            tokens: RATE_BURST,
            refilled: now,
            warned: None,
        }
    }

    /// Takes one line from the rate budget. `Err(warn)` when over the limit,
    /// `warn` being true at most once a second (so the warning is not a flood).
    pub fn take_token(&mut self, now: Instant) -> Result<(), bool> {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + dt * RATE_PER_SEC).min(RATE_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let warn = self.warned.is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if warn {
            self.warned = Some(now);
        }
        Err(warn)
    }
}

/// Help shown to text clients.
pub const HELP: &[&str] = &[
    "type a line and press Enter to send it to everyone",
    ":users           who is in the network",
    ":msg NAME TEXT   a private message",
    ":quit            leave",
];

// ----- the node's side: hosting text clients ---------------------------------

impl Node {
    /// Writes a line (CRLF added) to a text client.
    pub(super) fn send_text(&mut self, peer: PeerId, line: &str) {
        let mut s = String::with_capacity(line.len() + 2);
        s.push_str(line);
        s.push_str("\r\n");
        self.transmits.push_back((peer, Bytes::from(s)));
    }

    /// An event from the network: for the user, and as a line for every text client
    /// (except the one it is about).
    pub(super) fn publish(&mut self, ev: Event) {
        if self.text_clients > 0
            && let Some(line) = ev.to_line()
        {
            let about = match &ev {
                Event::Message { origin, .. } => Some(*origin),
                Event::Joined { id, .. } | Event::Left { id, .. } => Some(*id),
                _ => None,
            };
            let to: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.text.as_ref().is_some_and(|t| t.name.is_some() && Some(t.id) != about))
                .map(|(id, _)| *id)
                .collect();
            if !to.is_empty() {
                let bytes = Bytes::from(format!("{line}\r\n"));
                for peer in to {
                    self.transmits.push_back((peer, bytes.clone()));
                }
            }
        }
        self.events.push_back(ev);
    }

    /// Publishes a notice that lists members (`now connected with A, B`): the user
    /// gets the whole list; each text client hosted here gets it without its own
    /// name, and not at all when only its own name would be left.
    pub(super) fn publish_list(&mut self, members: &[(NodeId, String)], text: impl Fn(&[&str]) -> String) {
        if self.text_clients > 0 {
            let to: Vec<(PeerId, NodeId)> = self
                .peers
                .iter()
                .filter_map(|(k, p)| p.text.as_ref().filter(|t| t.name.is_some()).map(|t| (*k, t.id)))
                .collect();
            for (peer, own) in to {
                let names: Vec<&str> = members.iter().filter(|(id, _)| *id != own).map(|(_, n)| n.as_str()).collect();
                if names.is_empty() {
                    continue;
                }
                if let Some(line) = Event::Notice(text(&names)).to_line() {
                    self.transmits.push_back((peer, Bytes::from(format!("{line}\r\n"))));
                }
            }
        }
        let all: Vec<&str> = members.iter().map(|(_, n)| n.as_str()).collect();
        self.events.push_back(Event::Notice(text(&all)));
    }

    /// Turns an inbound connection into a text client and asks for its name.
    pub(super) fn become_text(&mut self, peer: PeerId, first: &[u8], now: Instant) {
        if self.text_clients >= self.cfg.max_text_clients {
            self.send_text(peer, "p2pchat: this node has no room for more plain-text clients; try another node");
            self.close(peer, "too many text clients".into(), false, now);
            return;
        }
        let id = NodeId(self.rng.next_u64());
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.phase = Phase::Text;
        p.text = Some(Box::new(TextClient::new(id, now)));
        let remote = p.remote;
        self.text_clients += 1;
        self.log(format!("connection {} from {remote} is a plain-text client", peer.0));
        let host = sanitize(&self.me.name);
        self.send_text(peer, &format!("Welcome to p2pchat (node of {host}). What is your name?"));
        if !first.is_empty() {
            self.text_data(peer, first, now);
        }
    }

    pub(super) fn text_data(&mut self, peer: PeerId, data: &[u8], now: Instant) {
        let mut lines = Vec::new();
        match self.peers.get_mut(&peer).and_then(|p| p.text.as_mut()) {
            Some(tc) => tc.reader.feed(data, |l| lines.push(l)),
            None => return,
        }
        for line in lines {
            if !self.peers.contains_key(&peer) {
                return;
            }
            self.text_line(peer, line, now);
        }
    }

    fn text_client(&mut self, peer: PeerId) -> Option<&mut TextClient> {
        self.peers.get_mut(&peer).and_then(|p| p.text.as_deref_mut())
    }

    fn text_line(&mut self, peer: PeerId, line: Line, now: Instant) {
        let Some(tc) = self.text_client(peer) else { return };
        tc.last_active = now;
        let named = tc.name.is_some();
        let line = match line {
            Line::TooLong => {
                self.send_text(peer, &format!("p2pchat: {}", super::too_long(None)));
                return;
            }
            Line::Text(l) => l,
        };
        if !named {
            // `:quit` leaves even before a name is given; it is never a name.
            if matches!(command::parse_line(line.trim()), Ok(Input::Quit)) {
                self.send_text(peer, "p2pchat: goodbye");
                self.close(peer, "text client quit".into(), false, now);
            } else {
                self.text_name(peer, line.trim(), now);
            }
            return;
        }
        match tc.take_token(now) {
            Ok(()) => {}
            Err(true) => {
                self.send_text(peer, "p2pchat: slow down: at most 10 lines a second; lines were dropped");
                return;
            }
            Err(false) => return,
        }
        match command::parse_line(&line) {
            Ok(Input::Nothing) => {}
            Ok(Input::Chat(text)) => self.text_chat(peer, text, now),
            Ok(Input::Quit) => {
                self.send_text(peer, "p2pchat: goodbye");
                self.close(peer, "text client quit".into(), false, now);
            }
            Ok(Input::Users) => {
                let host = self.cfg.id;
                let viewer = self.text_client(peer).map_or(host, |t| t.id);
                let lines = self.users_lines(now, viewer);
                for l in lines {
                    self.send_text(peer, &l);
                }
            }
            Ok(Input::Help) => {
                for l in HELP {
                    self.send_text(peer, l);
                }
            }
            Ok(Input::Msg { name, text }) => self.send_private(super::private::Sender::Text(peer), &name, text, now),
            Ok(_) => self.send_text(peer, "p2pchat: that command is not available here; type :help"),
            Err(e) => self.send_text(peer, &format!("p2pchat: {}", sanitize(&e))),
        }
    }

    /// Whether a name is used by a reachable member, this node, or a text client here.
    pub(super) fn name_taken(&self, name: &str) -> bool {
        self.me.name == name
            || self.members.holders_of(name).next().is_some()
            || self.peers.values().any(|p| p.text.as_ref().is_some_and(|t| t.name.as_deref() == Some(name)))
    }

    fn text_name(&mut self, peer: PeerId, name: &str, now: Instant) {
        if let Err(e) = validate_name(name) {
            self.send_text(peer, &format!("p2pchat: that name cannot be used: {}. What is your name?", sanitize(&e)));
            return;
        }
        if self.name_taken(name) {
            self.send_text(peer, &format!("p2pchat: the name {name} is taken. What is your name?"));
            return;
        }
        let claimed = self.wall_now(now);
        let Some(tc) = self.text_client(peer) else { return };
        tc.name = Some(name.to_owned());
        tc.claimed = claimed;
        let id = tc.id;
        if let Err(i) = self.me.links.binary_search(&id) {
            self.me.links.insert(i, id);
            self.me_dirty = true;
        }
        self.announce_text(peer, false, now);
        // Everyone else here: the host, the reachable members, and the other named
        // text clients of this host (whose records may not be counted reachable
        // until the next membership recomputation).
        let mut ids: std::collections::BTreeSet<NodeId> =
            self.members.reachable().into_iter().map(|r| r.state.id).collect();
        ids.insert(self.cfg.id);
        ids.extend(self.peers.values().filter_map(|p| p.text.as_ref()).filter(|t| t.name.is_some()).map(|t| t.id));
        ids.remove(&id);
        let others = ids.len();
        let here = if others == 1 { "1 other member is".to_owned() } else { format!("{others} other members are") };
        self.send_text(peer, &format!("Welcome, {name}! {here} here. Type to chat; :help lists the commands."));
    }

    /// Milliseconds since the Unix epoch, by the node's start time plus elapsed time.
    pub(super) fn wall_now(&self, now: Instant) -> u64 {
        self.cfg.wall_ms + now.saturating_duration_since(self.started).as_millis() as u64
    }

    /// Sends (and stores) the member record of a text client hosted here.
    pub(super) fn announce_text(&mut self, peer: PeerId, leaving: bool, now: Instant) {
        let host = self.cfg.id;
        let Some(tc) = self.text_client(peer) else { return };
        let Some(name) = tc.name.clone() else { return };
        tc.version += 1;
        let state = MemberState {
            id: tc.id,
            version: tc.version,
            name,
            claimed: tc.claimed,
            addr: None,
            links: vec![host],
            leaving,
            host: Some(host),
        };
        self.store_hosted(state, now);
    }

    pub(super) fn store_hosted(&mut self, state: MemberState, now: Instant) {
        match Frame::State(state.clone()).encode() {
            Ok(raw) => {
                self.members.offer(state, raw.clone());
                self.forward(None, &raw, now);
            }
            Err(e) => self.log(format!("could not encode a text client's record: {e}")),
        }
    }

    fn text_chat(&mut self, peer: PeerId, text: String, now: Instant) {
        if text.len() > crate::wire::MAX_TEXT {
            self.send_text(peer, &format!("p2pchat: {}", super::too_long(Some(text.len()))));
            return;
        }
        let Some(tc) = self.text_client(peer) else { return };
        let Some(name) = tc.name.clone() else { return };
        tc.seq += 1;
        let chat = crate::wire::Chat { origin: tc.id, seq: tc.seq, name, text };
        self.originate(chat, now);
    }

    /// Disconnects an idle text client with a goodbye line.
    pub(super) fn text_idle(&mut self, peer: PeerId, now: Instant) {
        let secs = self.cfg.idle_timeout.map_or(0, |d| d.as_secs());
        self.send_text(peer, &format!("p2pchat: disconnected after {secs} s without activity; goodbye"));
        self.close(peer, "idle text client".into(), false, now);
    }

    /// A text client's connection is gone: it leaves the network.
    pub(super) fn text_gone(&mut self, tc: TextClient, now: Instant) {
        self.text_clients = self.text_clients.saturating_sub(1);
        let Some(name) = tc.name else { return };
        if let Ok(i) = self.me.links.binary_search(&tc.id) {
            self.me.links.remove(i);
            self.me_dirty = true;
        }
        let state = MemberState {
            id: tc.id,
            version: tc.version + 1,
            name,
            claimed: tc.claimed,
            addr: None,
            links: Vec::new(),
            leaving: true,
            host: Some(self.cfg.id),
        };
        self.store_hosted(state, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<Line> {
        let mut r = LineReader::default();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, |l| out.push(l));
        }
        out
    }

    #[test]
    fn lines_are_split_and_crlf_tolerated() {
        assert_eq!(
            lines(&[b"hel", b"lo\r\nwor", b"ld\n\n"]),
            [Line::Text("hello".into()), Line::Text("world".into()), Line::Text(String::new())]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(&[b"a\xffb\n"]), [Line::Text("a\u{FFFD}b".into())]);
    }

    #[test]
    fn overlong_lines_are_discarded_with_bounded_memory() {
        let long = vec![b'x'; MAX_TEXT_CLIENT_LINE + 10];
        let mut r = LineReader::default();
        let mut out = Vec::new();
        r.feed(&long, |l| out.push(l));
        r.feed(&long, |l| out.push(l));
        assert!(r.buf.capacity() <= MAX_TEXT_CLIENT_LINE * 2);
        r.feed(b"tail\nnext\n", |l| out.push(l));
        assert_eq!(out, [Line::TooLong, Line::Text("next".into())]);
    }

    #[test]
    fn rate_limit_allows_a_burst_then_throttles() {
        let now = Instant::now();
        let mut c = TextClient::new(NodeId(1), now);
        let ok = (0..30).filter(|_| c.take_token(now).is_ok()).count();
        assert_eq!(ok, RATE_BURST as usize);
        assert!(c.take_token(now + Duration::from_secs(1)).is_ok());
    }
}
