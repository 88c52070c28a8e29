//! Plain-text clients: a person on `nc HOST PORT` or telnet.
//!
//! A connection that does not start with the p2pchat magic (or says nothing for a
//! moment after connecting) is such a client. This module owns its line reader and
//! its small state machine (asking for a name, then chatting); the node decides
//! what the lines mean.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::outbox::Outbox;
use super::peers::Phase;
use super::{Node, PeerId};
use crate::command::{self, Input};
use crate::config::TextRate;
use crate::event::{Event, sanitize};
use crate::id::NodeId;
use crate::wire::{Frame, MAX_TEXT, MemberState, validate_name};

/// Longest line a text client may send, in bytes: a chat text plus room for a
/// command word and a name (`:msg NAME TEXT`). Only the text's own limit,
/// [`MAX_TEXT`], is ever shown to the client: one limit, one message.
pub const MAX_NETCAT_LINE: usize = MAX_TEXT + 64;
/// How long an inbound connection may stay silent before it is greeted as a text
/// client (a p2pchat peer speaks first, at once).
pub const DETECT_AFTER: Duration = Duration::from_millis(400);

/// A line read from a text client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, CR/LF removed, invalid UTF-8 replaced.
    Text(String),
    /// A line longer than [`MAX_NETCAT_LINE`]: it was discarded.
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
    /// capacity): at most twice [`MAX_NETCAT_LINE`], whatever it is fed.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// Feeds bytes; calls `out` for every complete line.
    pub fn feed(&mut self, data: &[u8], mut out: impl FnMut(Line)) {
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete { &chunk[..chunk.len() - 1] } else { chunk };
            if !self.discarding {
                if self.buf.len() + body.len() > MAX_NETCAT_LINE {
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

/// The warning for a known name that arrives with another key.
pub fn key_warning(name: &str, id: &NodeId) -> String {
    let name = sanitize(name);
    format!("warning: {name} (new key {} — not the {name} seen before)", id.short())
}

/// One connected text client.
#[derive(Debug)]
pub struct NetcatClient {
    /// Its member id: the public key of a key pair the host derived for it
    /// from its own, with which the host signs for it.
    pub id: NodeId,
    /// That key pair.
    pub keys: crate::crypto::Keys,
    /// Its name, once it gave a valid one.
    pub name: Option<String>,
    /// When it took that name (ms since the epoch), for collisions.
    pub claimed: u64,
    /// The host's endorsement of it, made when it gave its first name.
    pub endorsed: Option<crate::wire::Endorsement>,
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
    rate: TextRate,
    tokens: f64,
    refilled: Instant,
    warned: Option<Instant>,
}

impl NetcatClient {
    /// A client that has not given its name yet.
    pub fn new(keys: crate::crypto::Keys, first_seq: u64, rate: TextRate, now: Instant) -> Self {
        NetcatClient {
            id: keys.id(),
            keys,
            name: None,
            claimed: 0,
            endorsed: None,
            version: first_seq - 1,
            seq: first_seq - 1,
            private_seq: 0,
            last_active: now,
            reader: LineReader::default(),
            rate,
            tokens: f64::from(rate.burst),
            refilled: now,
            warned: None,
        }
    }

    /// Its standing on its name (see `node::names::rank`).
    pub fn rank(&self) -> u64 {
        super::names::rank_of(self.claimed, self.endorsed.as_ref())
    }

    /// Takes one line from the rate budget ([`TextRate`]). `Err(warn)` when over
    /// the limit, `warn` being true at most once a second (so the warning is not
    /// a flood).
    pub fn take_token(&mut self, now: Instant) -> Result<(), bool> {
        if !self.rate.limited() {
            return Ok(());
        }
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + dt * f64::from(self.rate.per_sec)).min(f64::from(self.rate.burst));
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

// ----- the text clients hosted here -----------------------------------------

/// Every text client hosted by this node, by connection.
#[derive(Debug, Default)]
pub(super) struct NetcatClients {
    clients: BTreeMap<PeerId, NetcatClient>,
}

impl NetcatClients {
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn get(&self, peer: PeerId) -> Option<&NetcatClient> {
        self.clients.get(&peer)
    }

    pub fn get_mut(&mut self, peer: PeerId) -> Option<&mut NetcatClient> {
        self.clients.get_mut(&peer)
    }

    /// The clients that gave their name: connection, client, name.
    pub fn named(&self) -> impl Iterator<Item = (PeerId, &NetcatClient, &str)> {
        self.clients.iter().filter_map(|(k, t)| t.name.as_deref().map(|n| (*k, t, n)))
    }

    /// Whether a client here uses this name.
    pub fn name_used(&self, name: &str) -> bool {
        self.named().any(|(_, _, n)| n == name)
    }

    /// The connection of the named client with this member id.
    /// The keys of the hosted client `id`.
    pub fn keys_of(&self, id: NodeId) -> Option<&crate::crypto::Keys> {
        self.clients.values().find(|c| c.id == id).map(|c| &c.keys)
    }

    pub fn peer_of(&self, id: NodeId) -> Option<PeerId> {
        self.named().find(|(_, t, _)| t.id == id).map(|(k, _, _)| k)
    }

    /// Clients silent for `limit` or more.
    pub fn idle(&self, now: Instant, limit: Duration) -> Vec<PeerId> {
        let idle = |t: &&NetcatClient| now.saturating_duration_since(t.last_active) >= limit;
        self.clients.iter().filter(|(_, t)| idle(t)).map(|(k, _)| *k).collect()
    }

    /// An event from the network, as a line for every named client but the one
    /// it is about.
    fn publish(&self, out: &mut Outbox, ev: &Event) {
        if self.clients.is_empty() {
            return;
        }
        let Some(line) = ev.to_line() else { return };
        let about = match ev {
            Event::Message { origin, .. } => Some(*origin),
            Event::Joined { id, .. } | Event::Left { id, .. } => Some(*id),
            _ => None,
        };
        let bytes = Bytes::from(format!("{line}\r\n"));
        for (peer, t, _) in self.named() {
            if Some(t.id) != about {
                out.send(peer, bytes.clone());
            }
        }
    }

    /// A notice listing members, for every named client without its own name,
    /// and not at all when only its own name would be left.
    fn publish_list(&self, out: &mut Outbox, members: &[(NodeId, String)], text: &impl Fn(&[&str]) -> String) {
        for (peer, t, _) in self.named() {
            let names: Vec<&str> = members.iter().filter(|(id, _)| *id != t.id).map(|(_, n)| n.as_str()).collect();
            if names.is_empty() {
                continue;
            }
            if let Some(line) = Event::Notice(text(&names)).to_line() {
                out.send_line(peer, &line);
            }
        }
    }
}

// ----- the node's side: hosting text clients ---------------------------------

impl Node {
    /// Writes a line (CRLF added) to a text client.
    pub(super) fn send_netcat(&mut self, peer: PeerId, line: &str) {
        self.out.send_line(peer, line);
    }

    /// An event from the network: for the user, and as a line for every text client
    /// (except the one it is about).
    pub(super) fn publish(&mut self, ev: Event) {
        if let Event::Joined { name, id, .. } = &ev
            && self.notices.key_seen(name, *id).is_some()
        {
            self.out.error(key_warning(name, id));
        }
        self.netcats.publish(&mut self.out, &ev);
        self.out.event(ev);
    }

    /// Publishes a notice that lists members (`now connected with A, B`): the user
    /// gets the whole list; each text client hosted here gets it without its own
    /// name, and not at all when only its own name would be left.
    pub(super) fn publish_list(&mut self, members: &[(NodeId, String)], text: impl Fn(&[&str]) -> String) {
        self.netcats.publish_list(&mut self.out, members, &text);
        let all: Vec<&str> = members.iter().map(|(_, n)| n.as_str()).collect();
        self.out.notice(text(&all));
    }

    /// Turns an inbound connection into a text client and asks for its name.
    pub(super) fn become_netcat(&mut self, peer: PeerId, first: &[u8], now: Instant) {
        let loopback = self.peers.get(peer).is_some_and(|p| p.remote.ip().to_canonical().is_loopback());
        let refusal = match self.cfg.text_clients {
            crate::config::TextClients::Any => None,
            crate::config::TextClients::Loopback if loopback => None,
            crate::config::TextClients::Loopback => Some(format!(
                "p2pchat: this node accepts plain-text clients only from its own machine{}; \
                 run nc 127.0.0.1 {} there, or join with p2pchat",
                if self.cfg.secret.is_some() {
                    " (its network is closed, and a text line would cross it in clear)"
                } else {
                    ""
                },
                self.cfg.port
            )),
            crate::config::TextClients::Off => {
                Some("p2pchat: this node does not accept plain-text clients; join with p2pchat".to_owned())
            }
        };
        if let Some(why) = refusal {
            self.send_netcat(peer, &why);
            self.close(peer, "plain-text client refused (--text-clients)".into(), false, now);
            return;
        }
        if self.netcats.len() >= self.cfg.max_text_clients {
            self.send_netcat(peer, "p2pchat: this node has no room for more plain-text clients; try another node");
            self.close(peer, "too many text clients".into(), false, now);
            return;
        }
        let keys = crate::crypto::Keys::from_seed(&self.cfg.keys.derive_seed("text client", self.rng.next_u64()));
        let Some(p) = self.peers.get_mut(peer) else { return };
        p.phase = Phase::Netcat;
        let remote = p.remote;
        self.netcats.clients.insert(peer, NetcatClient::new(keys, self.cfg.first_seq, self.cfg.text_rate, now));
        self.out.log(format!("connection {} from {remote} is a plain-text client", peer.0));
        let host = sanitize(self.own.name());
        self.send_netcat(peer, &format!("Welcome to p2pchat (node of {host}). What is your name?"));
        if !first.is_empty() {
            self.netcat_data(peer, first, now);
        }
    }

    pub(super) fn netcat_data(&mut self, peer: PeerId, data: &[u8], now: Instant) {
        let mut lines = Vec::new();
        match self.netcats.get_mut(peer) {
            Some(tc) => tc.reader.feed(data, |l| lines.push(l)),
            None => return,
        }
        for line in lines {
            if !self.peers.contains(peer) {
                return;
            }
            self.netcat_line(peer, line, now);
        }
    }

    fn netcat_line(&mut self, peer: PeerId, line: Line, now: Instant) {
        let Some(tc) = self.netcats.get_mut(peer) else { return };
        tc.last_active = now;
        let named = tc.name.is_some();
        let line = match line {
            Line::TooLong => {
                self.send_netcat(peer, &format!("p2pchat: {}", super::too_long(None)));
                return;
            }
            Line::Text(l) => l,
        };
        if !named {
            // `:quit` leaves even before a name is given; it is never a name.
            if matches!(command::parse_line(line.trim()), Ok(Input::Quit)) {
                self.send_netcat(peer, "p2pchat: goodbye");
                self.close(peer, "text client quit".into(), false, now);
            } else {
                self.netcat_name(peer, line.trim(), now);
            }
            return;
        }
        match tc.take_token(now) {
            Ok(()) => {}
            Err(true) => {
                let per_sec = self.cfg.text_rate.per_sec;
                let lines = if per_sec == 1 { "line" } else { "lines" };
                self.send_netcat(
                    peer,
                    &format!("p2pchat: slow down: at most {per_sec} {lines} a second; lines were dropped"),
                );
                return;
            }
            Err(false) => return,
        }
        match command::parse_line(&line) {
            Ok(Input::Nothing) => {}
            Ok(Input::Chat(text)) => self.netcat_chat(peer, text, now),
            Ok(Input::Quit) => {
                self.send_netcat(peer, "p2pchat: goodbye");
                self.close(peer, "text client quit".into(), false, now);
            }
            Ok(Input::Users) => {
                let viewer = self.netcats.get(peer).map_or(self.cfg.id, |t| t.id);
                for l in self.users_lines(now, viewer) {
                    self.send_netcat(peer, &l);
                }
            }
            Ok(Input::Help) => {
                for l in HELP {
                    self.send_netcat(peer, l);
                }
            }
            Ok(Input::Msg { name, text }) => self.send_private(super::private::Sender::Text(peer), &name, text, now),
            Ok(_) => self.send_netcat(peer, "p2pchat: that command is not available here; type :help"),
            Err(e) => self.send_netcat(peer, &format!("p2pchat: {}", sanitize(&e))),
        }
    }

    fn netcat_name(&mut self, peer: PeerId, name: &str, now: Instant) {
        if let Err(e) = validate_name(name) {
            self.send_netcat(peer, &format!("p2pchat: that name cannot be used: {}. What is your name?", sanitize(&e)));
            return;
        }
        if self.name_taken(name) {
            self.send_netcat(peer, &format!("p2pchat: the name {name} is taken. What is your name?"));
            return;
        }
        let claimed = self.wall_now(now);
        let keys = self.cfg.keys.clone();
        let Some(tc) = self.netcats.get_mut(peer) else { return };
        tc.name = Some(name.to_owned());
        tc.claimed = claimed;
        // Its host accepts it into the network now.
        tc.endorsed.get_or_insert_with(|| crate::crypto::endorse(&keys, &tc.id, claimed));
        let id = tc.id;
        self.own.link(id);
        self.announce_netcat(peer, false, now);
        // Everyone else here: the host, the reachable members, and the other named
        // text clients of this host (whose records may not be counted reachable
        // until the next membership recomputation).
        let mut ids: BTreeSet<NodeId> = self.members.reachable().into_iter().map(|r| r.state.id).collect();
        ids.insert(self.cfg.id);
        ids.extend(self.netcats.named().map(|(_, t, _)| t.id));
        ids.remove(&id);
        let here = match ids.len() {
            1 => "1 other member is".to_owned(),
            n => format!("{n} other members are"),
        };
        self.send_netcat(peer, &format!("Welcome, {name}! {here} here. Type to chat; :help lists the commands."));
    }

    /// Sends (and stores) the member record of a text client hosted here.
    pub(super) fn announce_netcat(&mut self, peer: PeerId, leaving: bool, now: Instant) {
        let host = self.cfg.id;
        let Some(tc) = self.netcats.get_mut(peer) else { return };
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
            endorsed: tc.endorsed,
        };
        let keys = tc.keys.clone();
        self.store_hosted(state, &keys, now);
    }

    fn store_hosted(&mut self, state: MemberState, keys: &crate::crypto::Keys, now: Instant) {
        let frame = Frame::State(state.clone(), crate::crypto::Sig::default());
        match frame.encode_signed(|b| crate::crypto::sign_bytes(keys, crate::crypto::domain::STATE, b)) {
            Ok(raw) => {
                self.members.offer(state, raw.clone());
                self.forward(None, &raw, now);
            }
            Err(e) => self.out.log(format!("could not encode a text client's record: {e}")),
        }
    }

    fn netcat_chat(&mut self, peer: PeerId, text: String, now: Instant) {
        if text.len() > crate::wire::MAX_TEXT {
            self.send_netcat(peer, &format!("p2pchat: {}", super::too_long(Some(text.len()))));
            return;
        }
        let Some(tc) = self.netcats.get_mut(peer) else { return };
        let Some(name) = tc.name.clone() else { return };
        tc.seq += 1;
        let chat = crate::wire::Chat { origin: tc.id, seq: tc.seq, name, text, auth: Default::default() };
        self.originate(chat, now);
    }

    /// Disconnects an idle text client with a goodbye line.
    pub(super) fn netcat_idle(&mut self, peer: PeerId, now: Instant) {
        let secs = self.cfg.idle_timeout.map_or(0, |d| d.as_secs());
        self.send_netcat(peer, &format!("p2pchat: disconnected after {secs} s without activity; goodbye"));
        self.close(peer, "idle text client".into(), false, now);
    }

    /// A text client's connection is gone: it leaves the network.
    pub(super) fn netcat_gone(&mut self, peer: PeerId, now: Instant) {
        // Its last lines are signed with its key, which goes with it.
        self.seal_batch();
        let Some(tc) = self.netcats.clients.remove(&peer) else { return };
        let Some(name) = tc.name else { return };
        self.own.unlink(tc.id);
        let state = MemberState {
            id: tc.id,
            version: tc.version + 1,
            name,
            claimed: tc.claimed,
            addr: None,
            links: Vec::new(),
            leaving: true,
            host: Some(self.cfg.id),
            endorsed: tc.endorsed,
        };
        self.store_hosted(state, &tc.keys, now);
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
        let long = vec![b'x'; MAX_NETCAT_LINE + 10];
        let mut r = LineReader::default();
        let mut out = Vec::new();
        r.feed(&long, |l| out.push(l));
        r.feed(&long, |l| out.push(l));
        assert!(r.buf.capacity() <= MAX_NETCAT_LINE * 2);
        r.feed(b"tail\nnext\n", |l| out.push(l));
        assert_eq!(out, [Line::TooLong, Line::Text("next".into())]);
    }

    fn client(rate: TextRate, now: Instant) -> NetcatClient {
        NetcatClient::new(crate::crypto::Keys::from_u64(1), 1, rate, now)
    }

    #[test]
    fn rate_limit_allows_a_burst_then_throttles() {
        let now = Instant::now();
        let mut c = client(TextRate::default(), now);
        let ok = (0..30).filter(|_| c.take_token(now).is_ok()).count();
        assert_eq!(ok, 20);
        assert!(c.take_token(now + Duration::from_millis(100)).is_ok());
        assert!(c.take_token(now + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn rate_and_burst_are_the_configured_ones() {
        let now = Instant::now();
        let mut c = client(TextRate { per_sec: 2, burst: 3 }, now);
        assert_eq!((0..10).filter(|_| c.take_token(now).is_ok()).count(), 3);
        // Half a second refills one line at 2 a second.
        let later = now + Duration::from_millis(500);
        assert_eq!((0..10).filter(|_| c.take_token(later).is_ok()).count(), 1);
    }

    #[test]
    fn a_zero_rate_or_burst_means_no_limit() {
        let now = Instant::now();
        for rate in [TextRate { per_sec: 0, burst: 20 }, TextRate { per_sec: 10, burst: 0 }, TextRate::UNLIMITED] {
            let mut c = client(rate, now);
            assert!((0..10_000).all(|_| c.take_token(now).is_ok()), "{rate:?}");
        }
    }
}
