//! Connections and the handshake.
//!
//! [`Peers`] owns every connection the driver reported open (its handshake phase,
//! its decoder, when it last spoke and was spoken to, whether its first exchange
//! is done) and the connection attempts in flight, with why each was made. The
//! node's side of a link's life (accept, hello, the duplicate-link rule, timeouts,
//! close) is the `impl Node` block at the end.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::noise::{self, Session};
use super::outbox::Outbox;
use super::{Action, Direction, Node, PeerId, netcat};
use crate::addr::PeerAddr;
use crate::event::sanitize;
use crate::id::NodeId;
use crate::wire::{self, Frame, FrameDecoder, Hello, MAX_LIST, MAX_PREAMBLE, Preamble, PreambleRead, WireError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the other side's preamble.
    Preamble,
    /// The Noise handshake.
    Handshake,
    /// Past the handshake: frames, encrypted.
    Ready,
    /// A plain-text client (`nc`); its state is in [`netcat::NetcatClients`].
    Netcat,
}

/// Why this node opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// The user asked (`HOST PORT`, `--connect`, `:connect`).
    User,
    /// To reach a member that became unreachable.
    Repair(NodeId),
    /// To keep `--redundancy` links.
    Redundancy,
    /// To carry private messages to this member.
    Private(NodeId),
}

#[derive(Debug)]
pub(super) struct Peer {
    pub direction: Direction,
    pub remote: SocketAddr,
    pub phase: Phase,
    pub hello: Option<Hello>,
    /// The first exchange (sync summary) from the other side is complete.
    pub synced: bool,
    /// Why this node opened it (None: accepted).
    pub purpose: Option<Purpose>,
    /// This node sent the other end its endorsement (`Node::endorse`).
    pub endorse_sent: bool,
    preamble: Vec<u8>,
    /// The Noise session (None until the preambles matched, for an accepted
    /// connection).
    session: Option<Session>,
    decoder: FrameDecoder,
    opened: Instant,
    last_rx: Instant,
    last_tx: Instant,
}

impl Peer {
    /// The member at the other end, once its hello arrived.
    pub fn remote_id(&self) -> Option<NodeId> {
        if self.phase == Phase::Ready { self.hello.as_ref().map(|h| h.id) } else { None }
    }

    /// Who opened the link.
    fn initiator(&self, me: NodeId) -> NodeId {
        match (self.direction, &self.hello) {
            (Direction::Outbound { .. }, _) => me,
            (Direction::Inbound, Some(h)) => h.id,
            (Direction::Inbound, None) => NodeId([0xff; 32]),
        }
    }

    fn user(&self) -> bool {
        self.purpose == Some(Purpose::User)
    }

    fn dir(&self) -> &'static str {
        if self.direction == Direction::Inbound { "from" } else { "to" }
    }
}

/// What the start of a connection turned out to be.
pub(super) enum Start {
    /// More bytes are needed.
    Incomplete,
    /// A p2pchat peer's preamble, just completed.
    Peer(Preamble),
    /// Past the preamble already.
    Handshaking,
    /// Not p2pchat: a person on `nc`, who sent these bytes so far.
    Person(Vec<u8>),
    /// Bad magic from a node this one called, or a version this one cannot speak.
    Refused(WireError),
}

/// What the periodic check found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Connections to close, and why.
    pub dead: Vec<(PeerId, String)>,
    /// Inbound connections silent since they opened: people, to greet.
    pub greet: Vec<PeerId>,
    /// Ready links that are due a heartbeat.
    pub beat: Vec<PeerId>,
}

#[derive(Debug)]
struct Attempt {
    target: PeerAddr,
    purpose: Purpose,
}

/// Every connection and every attempt in flight.
#[derive(Debug)]
pub(super) struct Peers {
    map: BTreeMap<PeerId, Peer>,
    attempts: HashMap<u64, Attempt>,
    next_attempt: u64,
}

impl Peers {
    pub fn new() -> Self {
        Peers { map: BTreeMap::new(), attempts: HashMap::new(), next_attempt: 1 }
    }

    pub fn get(&self, peer: PeerId) -> Option<&Peer> {
        self.map.get(&peer)
    }

    pub fn get_mut(&mut self, peer: PeerId) -> Option<&mut Peer> {
        self.map.get_mut(&peer)
    }

    pub fn remove(&mut self, peer: PeerId) -> Option<Peer> {
        self.map.remove(&peer)
    }

    pub fn contains(&self, peer: PeerId) -> bool {
        self.map.contains_key(&peer)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (PeerId, &Peer)> {
        self.map.iter().map(|(k, p)| (*k, p))
    }

    pub fn ids(&self) -> Vec<PeerId> {
        self.map.keys().copied().collect()
    }

    pub fn in_phase(&self, phase: Phase) -> Vec<PeerId> {
        self.iter().filter(|(_, p)| p.phase == phase).map(|(k, _)| k).collect()
    }

    /// A ready link to the member `id`.
    pub fn ready_to(&self, id: NodeId) -> Option<PeerId> {
        self.iter().find(|(_, p)| p.remote_id() == Some(id)).map(|(k, _)| k)
    }

    pub fn ready_count(&self) -> usize {
        self.map.values().filter(|p| p.phase == Phase::Ready).count()
    }

    /// A ready link whose first exchange is done: what is sent now reaches someone.
    pub fn any_synced(&self) -> bool {
        self.map.values().any(|p| p.phase == Phase::Ready && p.synced)
    }

    /// Addresses of every connection (to avoid opening a second one).
    pub fn remotes(&self) -> Vec<SocketAddr> {
        self.map.values().map(|p| p.remote).collect()
    }

    /// A join this node started and has not finished: its handshake, or the first
    /// exchange on a link it opened or accepted.
    pub fn unsettled(&self) -> bool {
        self.attempts.values().any(|a| a.purpose == Purpose::User)
            || self.map.values().any(|p| match p.phase {
                Phase::Preamble | Phase::Handshake => p.direction != Direction::Inbound,
                Phase::Ready => !p.synced,
                Phase::Netcat => false,
            })
    }

    /// Whether an attempt for this purpose is in flight.
    pub fn attempting(&self, purpose: Purpose) -> bool {
        self.attempts.values().any(|a| a.purpose == purpose)
    }

    /// Asks the driver to open a connection.
    pub fn attempt(&mut self, out: &mut Outbox, target: PeerAddr, purpose: Purpose) {
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        self.attempts.insert(attempt, Attempt { target: target.clone(), purpose });
        out.act(Action::Connect { attempt, target });
    }

    /// An attempt ended (connected or failed): where it went and why it was made.
    fn attempt_done(&mut self, attempt: u64) -> Option<(PeerAddr, Purpose)> {
        self.attempts.remove(&attempt).map(|a| (a.target, a.purpose))
    }

    fn open(&mut self, peer: PeerId, direction: Direction, remote: SocketAddr, purpose: Option<Purpose>, now: Instant) {
        let p = Peer {
            direction,
            remote,
            phase: Phase::Preamble,
            hello: None,
            synced: false,
            purpose,
            endorse_sent: false,
            preamble: Vec::new(),
            session: None,
            decoder: FrameDecoder::new(),
            opened: now,
            last_rx: now,
            last_tx: now,
        };
        self.map.insert(peer, p);
    }

    /// A frame for a ready peer (encrypted when the turn's output is collected),
    /// counted as this node speaking to it.
    pub fn queue(&mut self, out: &mut Outbox, peer: PeerId, raw: Bytes, now: Instant) {
        if let Some(p) = self.map.get_mut(&peer) {
            p.last_tx = now;
        }
        out.send_plain(peer, raw);
    }

    /// Encrypts the frames waiting for `peer` (one batch), for the driver to
    /// write; false if the link has no session to encrypt with.
    pub fn seal(&mut self, out: &mut Outbox, peer: PeerId, frames: Vec<Bytes>, scratch: &mut Vec<u8>) {
        let Some(session) = self.map.get_mut(&peer).and_then(|p| p.session.as_mut()).filter(|s| s.ready()) else {
            return;
        };
        scratch.clear();
        for f in &frames {
            scratch.extend_from_slice(f);
        }
        let mut sealed = Vec::with_capacity(scratch.len() + 2 * (scratch.len() / noise::MAX_PLAIN + 1) + 16);
        match session.seal(scratch, &mut sealed) {
            Ok(()) => out.send(peer, Bytes::from(sealed)),
            Err(e) => out.log(format!("could not encrypt for connection {}: {e}", peer.0)),
        }
    }

    /// Starts the handshake on a link this node opened, or accepted and whose
    /// preamble matched: the session, and for the initiator its first message.
    pub fn start_session(&mut self, out: &mut Outbox, peer: PeerId, session: Session, first: Option<Vec<u8>>) {
        if let Some(p) = self.map.get_mut(&peer) {
            p.session = Some(session);
            if let Some(first) = first {
                out.send(peer, Bytes::from(first));
            }
        }
    }

    /// Feeds bytes past the preamble to a link's session.
    pub fn extend_session(&mut self, peer: PeerId, data: &[u8]) {
        if let Some(s) = self.map.get_mut(&peer).and_then(|p| p.session.as_mut()) {
            s.extend(data);
        }
    }

    /// The next handshake step of a link, given this node's encoded hello.
    pub fn handshake(&mut self, peer: PeerId, own_hello: &[u8]) -> Result<Option<noise::Step>, String> {
        match self.map.get_mut(&peer).and_then(|p| p.session.as_mut()) {
            Some(s) => s.handshake(own_hello),
            None => Ok(None),
        }
    }

    /// Decrypts every whole transport message received on a ready link into its
    /// frame decoder.
    pub fn decrypt(&mut self, peer: PeerId, scratch: &mut Vec<u8>) -> Result<(), String> {
        let Some(p) = self.map.get_mut(&peer) else { return Ok(()) };
        let Some(s) = p.session.as_mut().filter(|s| s.ready()) else { return Ok(()) };
        scratch.clear();
        while s.open(scratch)? {
            if scratch.len() >= noise::MAX_MESSAGE {
                p.decoder.extend(scratch);
                scratch.clear();
            }
        }
        p.decoder.extend(scratch);
        Ok(())
    }

    pub fn send_frame(&mut self, out: &mut Outbox, peer: PeerId, frame: &Frame, now: Instant) {
        match frame.encode() {
            Ok(raw) => self.queue(out, peer, raw, now),
            Err(e) => out.log(format!("could not encode a frame: {e}")),
        }
    }

    /// Queues `raw` to every ready peer but `from`; returns how many.
    pub fn forward(&mut self, out: &mut Outbox, from: Option<PeerId>, raw: &Bytes, now: Instant) -> u64 {
        self.forward_where(out, from, raw, now, |_| true)
    }

    /// Queues `raw` to every ready peer but `from` for which `to` says yes;
    /// returns how many.
    pub fn forward_where(
        &mut self,
        out: &mut Outbox,
        from: Option<PeerId>,
        raw: &Bytes,
        now: Instant,
        mut to: impl FnMut(PeerId) -> bool,
    ) -> u64 {
        let mut n = 0;
        for (id, p) in self.map.iter_mut() {
            if Some(*id) != from && p.phase == Phase::Ready && to(*id) {
                p.last_tx = now;
                out.send_plain(*id, raw.clone());
                n += 1;
            }
        }
        n
    }

    /// Takes the preamble from the start of `data` (advancing it).
    pub fn read_start(&mut self, peer: PeerId, data: &mut &[u8], now: Instant) -> Option<Start> {
        let p = self.map.get_mut(&peer)?;
        p.last_rx = now;
        if p.phase != Phase::Preamble {
            return Some(Start::Handshaking);
        }
        let had = p.preamble.len();
        let take = (MAX_PREAMBLE - had).min(data.len());
        p.preamble.extend_from_slice(&data[..take]);
        Some(match wire::read_preamble(&p.preamble) {
            Ok(PreambleRead::Incomplete) => {
                *data = &data[take..];
                Start::Incomplete
            }
            Ok(PreambleRead::Complete(theirs, used)) => {
                // Whatever followed the preamble in this read is the handshake's.
                *data = &data[used - had..];
                p.preamble = Vec::new();
                p.phase = Phase::Handshake;
                Start::Peer(theirs)
            }
            Err(WireError::BadMagic) if p.direction == Direction::Inbound => {
                let mut first = std::mem::take(&mut p.preamble);
                first.extend_from_slice(&data[take..]);
                *data = &[];
                Start::Person(first)
            }
            Err(e) => Start::Refused(e),
        })
    }

    /// The next whole frame (length prefix included) from a peer, and whether the
    /// peer is past its handshake.
    pub fn next_frame(&mut self, peer: PeerId) -> Option<Result<(Bytes, bool), WireError>> {
        let p = self.map.get_mut(&peer)?;
        let ready = p.phase == Phase::Ready;
        p.decoder.next_raw().map(|raw| raw.map(|r| (r, ready))).transpose()
    }

    /// Handshakes that timed out, silent ready links, links due a heartbeat, and
    /// inbound connections that are people (silent since they opened).
    pub fn scan(
        &self,
        now: Instant,
        handshake_timeout: Duration,
        peer_timeout: Duration,
        beat_after: Duration,
    ) -> Scan {
        let mut scan = Scan::default();
        for (id, p) in self.iter() {
            match p.phase {
                Phase::Netcat => {}
                Phase::Preamble
                    if p.direction == Direction::Inbound
                        && p.preamble.is_empty()
                        && now.saturating_duration_since(p.opened) >= netcat::DETECT_AFTER =>
                {
                    scan.greet.push(id)
                }
                Phase::Preamble | Phase::Handshake => {
                    if now.saturating_duration_since(p.opened) >= handshake_timeout {
                        scan.dead.push((id, "handshake timed out".to_owned()));
                    }
                }
                Phase::Ready => {
                    let silent = now.saturating_duration_since(p.last_rx);
                    if silent >= peer_timeout {
                        scan.dead.push((id, format!("no heartbeat for {} ms", silent.as_millis())));
                    } else if now.saturating_duration_since(p.last_tx) >= beat_after {
                        scan.beat.push(id);
                    }
                }
            }
        }
        scan
    }

    /// The duplicate-link rule, for a link to `remote` that just became ready:
    /// whether to drop it (and the link it duplicates, if the user asked for it),
    /// or else which older links to `remote` to drop.
    ///
    /// A link whose first exchange is done is kept, at both ends: the new one is a
    /// `:connect` to a neighbour, or a repair racing a link that just came up. Of
    /// two new links (both sides connected at once) the one opened by the smaller
    /// id is kept, so both ends choose the same one.
    fn duplicates(&self, peer: PeerId, remote: NodeId, me: NodeId) -> Duplicates {
        let keep = me.min(remote);
        let this_init = self.map.get(&peer).map(|p| p.initiator(me));
        let mut older = Vec::new();
        for (twin, q) in self.iter().filter(|(id, q)| *id != peer && q.remote_id() == Some(remote)) {
            let twin_init = q.initiator(me);
            let drop_this = q.synced
                || match (this_init == Some(keep), twin_init == keep) {
                    (true, false) => false,
                    (false, true) => true,
                    // Same initiator: it closes the newer link; the other end waits.
                    _ => this_init == Some(me),
                };
            if drop_this {
                return Duplicates::DropThis { established: q.synced.then_some(twin) };
            } else if twin_init != keep || this_init == Some(me) {
                older.push(twin);
            }
        }
        Duplicates::DropOlder(older)
    }
}

enum Duplicates {
    /// Close the new link; `established` is the link kept, when it was already up.
    DropThis { established: Option<PeerId> },
    /// Keep the new link and close these.
    DropOlder(Vec<PeerId>),
}

/// Why a join the user asked for failed, in words.
fn join_failure(p: &Peer, reason: &str, handshake_timeout: Duration) -> String {
    match reason {
        "connected to itself" => "that is this node's own address".to_owned(),
        "handshake timed out" => format!(
            "it accepted the connection but did not answer within {} s (is it a p2pchat node?)",
            handshake_timeout.as_secs_f32()
        ),
        r if p.phase == Phase::Preamble && r.contains("closed") => {
            "it closed the connection before answering (it may be full: --max-peers)".to_owned()
        }
        r => r.to_owned(),
    }
}

// ----- the node's side of a link's life ---------------------------------------

impl Node {
    /// A connection is established (accepted, or an attempt succeeded).
    pub fn handle_connected(
        &mut self,
        peer: PeerId,
        direction: Direction,
        remote: SocketAddr,
        local: SocketAddr,
        now: Instant,
    ) {
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: they are IPv4.
        let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let (remote, local) = (canonical(remote), canonical(local));
        let purpose = match direction {
            Direction::Outbound { attempt } => self.peers.attempt_done(attempt).map(|(_, p)| p),
            Direction::Inbound => None,
        };
        if self.stopping {
            self.out.act(Action::Disconnect { peer, reason: "node is stopping".into() });
            return;
        }
        if self.peers.len() >= self.cfg.max_peers {
            self.out.log(format!("refusing connection from {remote}: {} connections already", self.peers.len()));
            self.out.act(Action::Disconnect { peer, reason: "too many connections".into() });
            return;
        }
        self.own.learn_addr(local.ip(), self.cfg.port);
        self.peers.open(peer, direction, remote, purpose, now);
        if matches!(direction, Direction::Outbound { .. }) {
            // The connecting side speaks first: its preamble and the first
            // handshake message, before it knows what it reached.
            self.out.send(peer, Bytes::from(self.preamble.encode()));
            match Session::initiator(&self.cfg.keys, &self.network) {
                Ok((session, first)) => self.peers.start_session(&mut self.out, peer, session, Some(first)),
                Err(e) => self.close(peer, e, false, now),
            }
        }
    }

    /// A connection attempt failed.
    pub fn handle_connect_failed(&mut self, attempt: u64, error: &str, now: Instant) {
        let Some((target, purpose)) = self.peers.attempt_done(attempt) else { return };
        match purpose {
            Purpose::Private(endpoint) => {
                self.fail_private(endpoint, &format!("could not open a direct link: {error}"))
            }
            Purpose::User => self.out.error(format!("could not connect to {target}: {error}")),
            _ => {}
        }
        if purpose != Purpose::User {
            self.out.log(format!("connect to {target} failed: {error}"));
        }
        self.try_finish(now);
    }

    /// The connection closed or failed (not called for [`Action::Disconnect`]).
    pub fn handle_disconnected(&mut self, peer: PeerId, reason: &str, now: Instant) {
        if let Some(p) = self.peers.remove(peer) {
            self.out.log(format!("connection {} {} {} closed: {reason}", peer.0, p.dir(), p.remote));
            self.after_removal(peer, p, reason, now);
        }
        self.report_losses(now);
        self.try_finish(now);
    }

    /// Closes a connection for bad input: logged, counted, reported to the user.
    pub(super) fn reject(&mut self, peer: PeerId, reason: String, now: Instant) {
        self.stats.rejected += 1;
        if let Some(p) = self.peers.get(peer) {
            let who = p.hello.as_ref().map_or_else(|| p.remote.to_string(), |h| format!("{} ({})", h.name, p.remote));
            self.out.error(format!("dropped connection {} {}: {reason}", p.dir(), sanitize(&who)));
        }
        self.close(peer, reason, true, now);
    }

    /// Closes a connection from this side (with a goodbye frame if `bye`).
    pub(super) fn close(&mut self, peer: PeerId, reason: String, bye: bool, now: Instant) {
        if bye && self.peers.get(peer).is_some_and(|p| p.phase == Phase::Ready) {
            let mut r = reason.clone();
            r.truncate(wire::MAX_REASON);
            self.peers.send_frame(&mut self.out, peer, &Frame::Bye { reason: r }, now);
        }
        // What is queued for it goes out before the driver closes it.
        if let Some(frames) = self.out.take_plain(peer) {
            self.peers.seal(&mut self.out, peer, frames, &mut self.scratch_bytes);
        }
        if let Some(p) = self.peers.remove(peer) {
            self.out.log(format!("closing connection {} with {}: {reason}", peer.0, p.remote));
            self.after_removal(peer, p, &reason, now);
            self.out.act(Action::Disconnect { peer, reason });
        }
    }

    /// The other end said goodbye.
    pub(super) fn on_bye(&mut self, peer: PeerId, reason: &str, now: Instant) {
        if let Some(p) = self.peers.remove(peer) {
            self.out.log(format!("{} said goodbye: {}", p.remote, sanitize(reason)));
            self.out.act(Action::Disconnect { peer, reason: "peer said goodbye".into() });
            self.after_removal(peer, p, &format!("it said goodbye ({})", sanitize(reason)), now);
        }
    }

    /// What a connection's end means: a failed join or private link to report, a
    /// text client leaving, a neighbour lost.
    fn after_removal(&mut self, peer: PeerId, p: Peer, reason: &str, now: Instant) {
        self.catchup.forget(peer);
        self.lagging.forget(peer);
        if p.user() && p.phase != Phase::Ready && !self.stopping {
            // The TCP connect worked but the join did not: say so, in words.
            let why = join_failure(&p, reason, self.cfg.handshake_timeout);
            self.out.error(format!("could not join through {}: {why}", p.remote));
        }
        if let Some(Purpose::Private(endpoint)) = p.purpose
            && p.phase != Phase::Ready
        {
            // A stopped member's system still accepts the connection: its silence
            // is a timeout, not a refusal.
            let why = if reason.contains("timed out") {
                "the direct link timed out (the member did not answer)"
            } else {
                "the direct link was refused"
            };
            self.fail_private(endpoint, why);
        }
        if p.phase == Phase::Netcat {
            self.netcat_gone(peer, now);
            return;
        }
        let Some(id) = p.remote_id() else { return };
        // Another ready link to the same member keeps it a neighbour.
        if self.peers.ready_to(id).is_some() {
            return;
        }
        if self.own.unlink(id) {
            self.members.touch();
            self.repair.link_lost(now);
            self.links_lost = true;
        }
    }

    /// After links were lost: tells the user (and starts repair) before the call
    /// that lost them returns, rather than on the next tick, so what was lost is
    /// reported before anyone has had time to reconnect; and once per call, so
    /// neighbours lost together (a node resumed after a stop finds them all
    /// silent) are one netsplit, not one notice each.
    pub(super) fn report_losses(&mut self, now: Instant) {
        if std::mem::take(&mut self.links_lost) && !self.stopping {
            self.update_membership(now);
        }
    }

    /// Handshake timeouts, silent neighbours, heartbeats, idle text clients.
    pub(super) fn check_peers(&mut self, now: Instant) {
        let beat_after = self.cfg.heartbeat.saturating_sub(self.tick / 2);
        let scan = self.peers.scan(now, self.cfg.handshake_timeout, self.cfg.peer_timeout, beat_after);
        for (id, reason) in scan.dead {
            self.close(id, reason, true, now);
        }
        for id in scan.greet {
            self.become_netcat(id, &[], now);
        }
        if let Some(limit) = self.cfg.idle_timeout {
            for id in self.netcats.idle(now, limit) {
                self.netcat_idle(id, now);
            }
        }
        if !scan.beat.is_empty()
            && let Ok(raw) = Frame::Heartbeat.encode()
        {
            for id in scan.beat {
                self.peers.queue(&mut self.out, id, raw.clone(), now);
            }
        }
    }

    pub(super) fn on_hello(&mut self, peer: PeerId, h: Hello, now: Instant) {
        if h.id == self.cfg.id {
            // The other end of this connection is an attempt of this node's own,
            // still in its handshake: close it too, so that attempt is reported.
            let port = self.cfg.port;
            let own: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, q)| {
                    q.direction != Direction::Inbound && q.phase != Phase::Ready && q.remote.port() == port
                })
                .map(|(id, _)| id)
                .collect();
            for id in own.into_iter().chain([peer]) {
                self.close(id, "connected to itself".into(), false, now);
            }
            return;
        }
        let Some(p) = self.peers.get_mut(peer) else { return };
        let remote_id = h.id;
        p.hello = Some(h);
        p.phase = Phase::Ready;
        match self.peers.duplicates(peer, remote_id, self.cfg.id) {
            Duplicates::DropThis { established } => {
                if let Some(kept) = established
                    && self.peers.get(peer).is_some_and(|p| p.user())
                {
                    let name = self.peers.get(kept).and_then(|q| q.hello.as_ref()).map(|h| sanitize(&h.name));
                    let name = name.unwrap_or_else(|| remote_id.to_string());
                    self.out.notice(format!("already connected to {name}"));
                }
                self.close(peer, "duplicate link".into(), true, now);
                return;
            }
            Duplicates::DropOlder(older) => {
                for twin in older {
                    self.close(twin, "duplicate link".into(), true, now);
                }
            }
        }
        if self.own.link(remote_id) {
            self.members.touch();
        }
        self.refresh_own();
        // Tell the new neighbour everything known about the network, this node first,
        // then how far this node has delivered each origin.
        let mut raws = vec![self.own.raw()];
        raws.extend(self.members.records().map(|r| r.raw.clone()));
        for raw in raws {
            self.peers.queue(&mut self.out, peer, raw, now);
        }
        for frame in super::catchup::summary(&self.delivery.marks(), MAX_LIST) {
            self.peers.send_frame(&mut self.out, peer, &frame, now);
        }
        self.flush_private(peer, remote_id, now);
    }
}
