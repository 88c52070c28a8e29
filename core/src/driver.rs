//! The network driver: the only code in p2pchat that does I/O.
//!
//! One thread runs one [`mio::Poll`] holding the listener, every peer socket and a
//! [`Waker`]. Each turn of the loop feeds what happened (accepted and established
//! connections, bytes read, closed sockets, commands from other threads, the time)
//! into the sans-IO [`Node`], then drains its outputs: bytes go to per-peer output
//! queues that are written with vectored writes (so writes are batched per peer per
//! turn), actions open and close connections, events go to the user's callback and
//! log lines to the log file.
//!
//! Tokens: [`LISTENER`] and [`WAKER`] are fixed, connections count up from 2 and are
//! never reused, so a connection's token doubles as its [`PeerId`]. Events for
//! unknown tokens (a socket closed earlier in the same turn) are ignored.
//!
//! Nothing here blocks: host names are resolved on short-lived threads that report
//! back through a channel and the waker, connects are non-blocking with a deadline,
//! and a closing connection gets a bounded time to flush what is queued for it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::command::Input;
use crate::config::Config;
use crate::event::{Event, sanitize};
use crate::handle::Status;
use crate::id::{NodeId, Rng};
use crate::node::{Action, Direction, Node, NodeConfig, PeerId};

/// Token of the listening socket.
pub const LISTENER: Token = Token(0);
/// Token of the [`Waker`] that commands from other threads ring.
pub const WAKER: Token = Token(1);
/// First token handed to a connection.
const FIRST_CONN: usize = 2;

/// Time allowed for a TCP connect (and, separately, for resolving a host name).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a connection closed by the node gets to flush its queue.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Time the whole node gets to flush every queue when the user quits.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// Delay before accepting again after an accept error such as EMFILE.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Size of the one read buffer shared by every connection.
const READ_BUF: usize = 64 * 1024;
/// Reads of one peer per loop turn before the others get their turn.
const READS_PER_TURN: usize = 16;
/// Buffers per vectored write.
const MAX_IOV: usize = 64;
/// Frames up to this size are copied into a per-connection buffer rather than
/// queued as shared buffers of their own.
const COALESCE_MAX: usize = 1024;
/// Size of one such buffer.
const COALESCE_BUF: usize = 64 * 1024;
/// Rounds of "drain the node, write, report failures" per turn.
const PUMP_ROUNDS: usize = 64;

/// Answers a host-name lookup in place of the system resolver, or returns `None`
/// to let the system resolve it. See [`set_lookup_hook`].
#[doc(hidden)]
pub type LookupHook = fn(&str, u16) -> Option<io::Result<Vec<SocketAddr>>>;

static LOOKUP_HOOK: std::sync::OnceLock<LookupHook> = std::sync::OnceLock::new();

/// For tests only: installs, once per process, a hook that every host-name
/// lookup passes through first, on the lookup's own thread. A test uses it to
/// make one name's lookup hang (which no resolver does on demand) and shows the
/// loop keeps serving meanwhile. False if a hook was installed already.
#[doc(hidden)]
pub fn set_lookup_hook(hook: LookupHook) -> bool {
    LOOKUP_HOOK.set(hook).is_ok()
}

/// A request from another thread (see [`crate::handle::Handle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A line typed by the user: chat or a `:command`.
    Line(String),
    /// An already parsed input.
    Input(Input),
    /// Quit, as `:quit` does: say goodbye, flush (bounded), stop.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A non-blocking connect in progress.
    Connecting { attempt: u64, deadline: Instant },
    /// Established and known to the node.
    Open,
    /// The node is done with it: flush the queue, then half-close and discard input
    /// until the peer closes too (closing with unread input would reset the
    /// connection and could destroy the goodbye), all before `deadline`.
    Closing { deadline: Instant, shut: bool },
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    state: State,
    /// Buffers waiting to be written, in order; `small` holds the newest ones.
    out: VecDeque<Bytes>,
    /// Small frames queued after everything in `out`, copied into one buffer: for a
    /// frame of a hundred bytes a copy costs less than sharing it (a reference count
    /// taken and dropped, and an iovec entry of its own), and writes get bigger.
    small: BytesMut,
    queued: usize,
    interest: Interest,
}

impl Conn {
    fn new(stream: TcpStream, state: State, interest: Interest) -> Self {
        Conn { stream, state, out: VecDeque::new(), small: BytesMut::new(), queued: 0, interest }
    }

    /// Queues bytes for writing (the caller counts them in `queued`).
    fn push(&mut self, bytes: Bytes) {
        if bytes.len() <= COALESCE_MAX {
            if self.small.len() + bytes.len() > COALESCE_BUF {
                self.seal();
            }
            if self.small.capacity() == 0 {
                self.small.reserve(COALESCE_BUF);
            }
            self.small.extend_from_slice(&bytes);
        } else {
            self.seal();
            self.out.push_back(bytes);
        }
    }

    /// Moves the small-frame buffer to the end of `out`.
    fn seal(&mut self) {
        if !self.small.is_empty() {
            self.out.push_back(self.small.split().freeze());
        }
    }

    fn wanted_interest(&self) -> Interest {
        if matches!(self.state, State::Connecting { .. }) || self.queued > 0 {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }
}

#[derive(Debug)]
struct Resolved {
    attempt: u64,
    result: Result<Vec<SocketAddr>, String>,
}

/// Most addresses of one host name tried, in the resolver's order.
const MAX_CANDIDATES: usize = 16;

/// The addresses of a resolved host name for one attempt: the one being tried,
/// those left, and what went wrong with those tried (`localhost` may resolve to
/// `::1` first while the peer listens on 127.0.0.1 only).
#[derive(Debug)]
struct Candidates {
    current: SocketAddr,
    left: VecDeque<SocketAddr>,
    errors: Vec<String>,
}

/// What a read pass over one connection ended with.
enum ReadEnd {
    /// Read until `WouldBlock`.
    Drained,
    /// Stopped at the per-turn bound: more may be waiting.
    MoreLeft,
    /// End of stream or an error.
    Closed(String),
}

/// The event loop. Build it with [`Driver::new`] (which binds), then call
/// [`Driver::run`] on the thread that should do the I/O.
pub struct Driver {
    poll: Poll,
    events: Events,
    ready: Vec<(Token, bool)>,
    listener: Option<TcpListener>,
    waker: Arc<Waker>,
    node: Node,
    port: u16,
    conns: BTreeMap<Token, Conn>,
    next_token: usize,
    commands: Receiver<Command>,
    commands_open: bool,
    dns_tx: Sender<Resolved>,
    dns_rx: Receiver<Resolved>,
    resolving: HashMap<u64, Instant>,
    candidates: HashMap<u64, Candidates>,
    backlog: BTreeSet<Token>,
    accept_retry: Option<Instant>,
    stop_deadline: Option<Instant>,
    queue_cap: usize,
    buf: Vec<u8>,
    log: Option<File>,
    on_event: Box<dyn FnMut(&Event) + Send>,
    status: Arc<Mutex<Status>>,
    status_epoch: u64,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("id", &self.node.id())
            .field("port", &self.port)
            .field("conns", &self.conns.len())
            .field("stopping", &self.stop_deadline.is_some())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Binds the listener (`config.bind`, `config.port`), opens the log file, creates
    /// the node and asks it to connect to every `config.connect` entry. Commands are
    /// read from `commands`; whoever sends them must ring [`Driver::waker`] after
    /// each send. Events go to `on_event`, on the thread that calls [`Driver::run`].
    pub fn new(
        config: &Config,
        commands: Receiver<Command>,
        on_event: Box<dyn FnMut(&Event) + Send>,
    ) -> io::Result<Driver> {
        crate::wire::validate_name(&config.name)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, format!("invalid name: {e}")))?;
        let log =
            match &config.log {
                Some(path) => Some(OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open the log file {}: {e}", path.display()))
                })?),
                None => None,
            };
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let bind = SocketAddr::new(config.bind, config.port);
        let mut listener =
            TcpListener::bind(bind).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {bind}: {e}")))?;
        let port = listener.local_addr()?.port();
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;

        // The id and the node's own generator come from one seed, but must not be
        // the same stream: the node's first draw names its first text client, which
        // would otherwise get the node's own id.
        let mut rng = Rng::new(config.seed.unwrap_or_else(Rng::seed_from_env));
        let id = NodeId(rng.next_u64());
        let seed = rng.next_u64();
        let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let now = Instant::now();
        let mut node = Node::new(NodeConfig::from_config(config, id, port, seed, wall_ms), now);
        for peer in &config.connect {
            node.connect(peer.clone(), now);
        }
        let (dns_tx, dns_rx) = mpsc::channel();
        Ok(Driver {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            listener: Some(listener),
            waker,
            node,
            port,
            conns: BTreeMap::new(),
            next_token: FIRST_CONN,
            commands,
            commands_open: true,
            dns_tx,
            dns_rx,
            resolving: HashMap::new(),
            candidates: HashMap::new(),
            backlog: BTreeSet::new(),
            accept_retry: None,
            stop_deadline: None,
            queue_cap: config.queue_cap,
            buf: vec![0; READ_BUF],
            log,
            on_event,
            status: Arc::new(Mutex::new(Status::default())),
            status_epoch: u64::MAX,
        })
    }

    /// The shared status the loop keeps current.
    pub fn status(&self) -> Arc<Mutex<Status>> {
        Arc::clone(&self.status)
    }

    fn refresh_status(&mut self) {
        if self.node.epoch() == self.status_epoch {
            return;
        }
        self.status_epoch = self.node.epoch();
        let members = self.node.members();
        let links = members.iter().filter(|m| m.direct && m.addr.is_some()).count();
        let status = Status {
            name: self.node.name().to_owned(),
            port: self.port,
            id: self.node.id(),
            links,
            members,
            undelivered: self.node.undelivered(),
        };
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }

    /// The waker to ring after sending a [`Command`].
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// The actual listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// Runs the loop until the user quits (flushing queues for at most
    /// [`STOP_TIMEOUT`]) or the command channel closes, then emits
    /// [`Event::Stopped`] as the very last event.
    pub fn run(mut self) {
        let now = Instant::now();
        self.after_turn(now);
        while !self.finished(Instant::now()) {
            let now = Instant::now();
            let timeout = if self.backlog.is_empty() {
                self.next_deadline().map(|d| d.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    self.write_log(&format!("poll failed: {e}; stopping"));
                    (self.on_event)(&Event::Error(format!("network loop failed: {e}")));
                    break;
                }
            }
            let now = Instant::now();
            self.ready.clear();
            let mut wake = false;
            let mut accept = false;
            for ev in self.events.iter() {
                match ev.token() {
                    LISTENER => accept = true,
                    WAKER => wake = true,
                    t => self.ready.push((t, ev.is_readable() || ev.is_read_closed() || ev.is_error())),
                }
            }
            if accept {
                self.accept_all(now);
            }
            if wake {
                self.drain_commands(now);
                self.drain_resolved(now);
            }
            let ready = std::mem::take(&mut self.ready);
            for &(token, readable) in &ready {
                match self.conns.get(&token).map(|c| c.state) {
                    None => {}
                    Some(State::Connecting { .. }) => self.finish_connect(token, now),
                    Some(_) if readable => {
                        self.backlog.insert(token);
                    }
                    // Writable only: the flush below writes every peer with output.
                    Some(_) => {}
                }
            }
            self.ready = ready;
            self.read_backlog(now);
            self.handle_timers(now);
            self.after_turn(now);
        }
        self.close_all();
        // Whatever the node said last (its goodbye notices, log lines) goes out
        // before the final event.
        while let Some(ev) = self.node.poll_event() {
            (self.on_event)(&ev);
        }
        while let Some(line) = self.node.poll_log() {
            self.write_log(&line);
        }
        self.write_log("stopped");
        self.status_epoch = u64::MAX;
        self.refresh_status();
        (self.on_event)(&Event::Stopped);
    }

    fn finished(&self, now: Instant) -> bool {
        self.stop_deadline.is_some_and(|d| self.conns.is_empty() || now >= d)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.node.poll_timeout();
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for c in self.conns.values() {
            match c.state {
                State::Connecting { deadline, .. } | State::Closing { deadline, .. } => consider(deadline),
                State::Open => {}
            }
        }
        self.resolving.values().for_each(|&d| consider(d));
        if let Some(t) = self.accept_retry {
            consider(t);
        }
        if let Some(t) = self.stop_deadline {
            consider(t);
        }
        next
    }

    // ----- inputs -------------------------------------------------------------

    fn accept_all(&mut self, now: Instant) {
        self.accept_retry = None;
        loop {
            let Some(listener) = &self.listener else { return };
            match listener.accept() {
                Ok((mut stream, remote)) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        self.write_log(&format!("could not set TCP_NODELAY for {remote}: {e}"));
                    }
                    let local = stream.local_addr().unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                    let token = self.take_token();
                    if let Err(e) = self.poll.registry().register(&mut stream, token, Interest::READABLE) {
                        self.write_log(&format!("could not register the connection from {remote}: {e}"));
                        continue;
                    }
                    self.conns.insert(token, Conn::new(stream, State::Open, Interest::READABLE));
                    // Data may already be waiting, and its edge may have passed.
                    self.backlog.insert(token);
                    self.node.handle_connected(peer_of(token), Direction::Inbound, remote, local, now);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    // EMFILE and friends: the pending connection stays in the backlog;
                    // try again shortly rather than spin.
                    self.write_log(&format!("accept failed: {e}; retrying shortly"));
                    self.accept_retry = Some(now + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    fn drain_commands(&mut self, now: Instant) {
        while self.commands_open {
            match self.commands.try_recv() {
                Ok(Command::Line(line)) => self.node.handle_line(&line, now),
                Ok(Command::Input(input)) => self.node.handle_input(input, now),
                Ok(Command::Stop) => {
                    self.node.handle_input(Input::Quit, now);
                    self.begin_stop(now);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    // Every handle is gone: nobody can ever stop this node otherwise.
                    self.commands_open = false;
                    self.write_log("command channel closed; quitting");
                    self.node.handle_input(Input::Quit, now);
                    self.begin_stop(now);
                }
            }
        }
    }

    fn drain_resolved(&mut self, now: Instant) {
        while let Ok(Resolved { attempt, result }) = self.dns_rx.try_recv() {
            if self.resolving.remove(&attempt).is_none() {
                continue; // timed out already, or the node is stopping
            }
            let mut addrs: VecDeque<SocketAddr> = match result {
                Ok(addrs) => addrs.into_iter().take(MAX_CANDIDATES).collect(),
                Err(e) => {
                    self.connect_failed(attempt, &e, now);
                    continue;
                }
            };
            let Some(first) = addrs.pop_front() else { continue };
            if !addrs.is_empty() {
                self.candidates.insert(attempt, Candidates { current: first, left: addrs, errors: Vec::new() });
            }
            self.start_connect(attempt, first, now);
        }
    }

    fn finish_connect(&mut self, token: Token, now: Instant) {
        let Some(conn) = self.conns.get_mut(&token) else { return };
        let State::Connecting { attempt, .. } = conn.state else { return };
        let outcome = match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match conn.stream.peer_addr() {
                Ok(remote) => Ok(remote),
                Err(e) if still_connecting(&e) => return,
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(remote) => {
                self.candidates.remove(&attempt);
                conn.state = State::Open;
                let nodelay = conn.stream.set_nodelay(true);
                let local = conn.stream.local_addr().unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                if let Err(e) = nodelay {
                    self.write_log(&format!("could not set TCP_NODELAY for {remote}: {e}"));
                }
                self.backlog.insert(token);
                self.node.handle_connected(peer_of(token), Direction::Outbound { attempt }, remote, local, now);
            }
            Err(e) => {
                self.drop_conn(token);
                self.connect_failed(attempt, &e.to_string(), now);
            }
        }
    }

    fn read_backlog(&mut self, now: Instant) {
        let tokens: Vec<Token> = self.backlog.iter().copied().collect();
        for token in tokens {
            match self.read_conn(token, now) {
                ReadEnd::MoreLeft => {}
                ReadEnd::Drained => {
                    self.backlog.remove(&token);
                }
                ReadEnd::Closed(reason) => {
                    self.backlog.remove(&token);
                    self.lose(token, &reason, now);
                }
            }
        }
    }

    /// Reads a connection until `WouldBlock`, at most [`READS_PER_TURN`] times.
    /// An open connection's bytes go to the node; a closing one's are discarded.
    fn read_conn(&mut self, token: Token, now: Instant) -> ReadEnd {
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.conns.get_mut(&token) else { return ReadEnd::Drained };
            let open = match conn.state {
                State::Connecting { .. } => return ReadEnd::Drained,
                State::Open => true,
                State::Closing { .. } => false,
            };
            match conn.stream.read(&mut self.buf) {
                Ok(0) => return ReadEnd::Closed("connection closed by the peer".into()),
                Ok(n) => {
                    if open {
                        self.node.handle_data(peer_of(token), &self.buf[..n], now);
                        self.pump(now);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadEnd::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return ReadEnd::Closed(format!("read failed: {e}")),
            }
        }
        ReadEnd::MoreLeft
    }

    fn handle_timers(&mut self, now: Instant) {
        let expired: Vec<(Token, State)> = self
            .conns
            .iter()
            .filter(|(_, c)| match c.state {
                State::Connecting { deadline, .. } | State::Closing { deadline, .. } => deadline <= now,
                State::Open => false,
            })
            .map(|(t, c)| (*t, c.state))
            .collect();
        for (token, state) in expired {
            self.drop_conn(token);
            match state {
                State::Connecting { attempt, .. } => {
                    let secs = CONNECT_TIMEOUT.as_secs();
                    self.connect_failed(attempt, &format!("timed out after {secs} s"), now);
                }
                State::Closing { .. } => {
                    self.write_log(&format!("peer {}: gave up flushing before closing", token.0));
                }
                State::Open => {}
            }
        }
        let late: Vec<u64> = self.resolving.iter().filter(|(_, d)| **d <= now).map(|(a, _)| *a).collect();
        for attempt in late {
            self.resolving.remove(&attempt);
            let secs = CONNECT_TIMEOUT.as_secs();
            self.connect_failed(attempt, &format!("resolving the host name timed out after {secs} s"), now);
        }
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_all(now);
        }
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
    }

    // ----- outputs ------------------------------------------------------------

    /// Drains the node and writes, until neither produces anything new.
    fn after_turn(&mut self, now: Instant) {
        for _ in 0..PUMP_ROUNDS {
            let mut progress = self.pump(now);
            progress |= self.flush_all(now);
            if !progress {
                break;
            }
        }
        self.update_interests();
        self.refresh_status();
    }

    /// Drains every output of the node once. True if there was any. Called after
    /// every read too, so that what a flood makes (a transmit per frame per peer,
    /// an event per frame) never piles up in the node.
    fn pump(&mut self, now: Instant) -> bool {
        let mut progress = self.file_transmits(now);
        while let Some(action) = self.node.poll_action() {
            progress = true;
            self.act(action, now);
        }
        while let Some(ev) = self.node.poll_event() {
            progress = true;
            (self.on_event)(&ev);
        }
        while let Some(line) = self.node.poll_log() {
            progress = true;
            self.write_log(&line);
        }
        progress
    }

    /// Moves what the node wrote into the connections' queues, where the queue
    /// cap applies. True if there was anything.
    fn file_transmits(&mut self, now: Instant) -> bool {
        let mut progress = false;
        let mut overfull = Vec::new();
        while let Some((peer, bytes)) = self.node.poll_transmit() {
            progress = true;
            let token = Token(peer.0 as usize);
            let Some(conn) = self.conns.get_mut(&token) else { continue };
            // The node never writes to a connection it has not been told about or
            // has closed; a half-closed socket could not take the bytes anyway.
            if bytes.is_empty() || matches!(conn.state, State::Connecting { .. } | State::Closing { shut: true, .. }) {
                continue;
            }
            conn.queued += bytes.len();
            conn.push(bytes);
            if conn.queued > self.queue_cap {
                // Write what the socket takes before judging: a burst larger than
                // the cap is not a peer that does not read.
                match write_queue(conn) {
                    Ok(()) if conn.queued <= self.queue_cap => {}
                    Ok(()) => {
                        self.drop_conn(token);
                        overfull.push(token);
                    }
                    Err(e) => self.lose(token, &format!("write failed: {e}"), now),
                }
            }
        }
        for token in overfull {
            let cap = self.queue_cap;
            self.write_log(&format!("peer {}: output queue exceeded {cap} bytes (not reading); disconnected", token.0));
            let reason = format!("output queue exceeded {cap} bytes (not reading)");
            self.node.handle_disconnected(peer_of(token), &reason, now);
        }
        progress
    }

    fn act(&mut self, action: Action, now: Instant) {
        match action {
            Action::Connect { attempt, target } => {
                if self.stop_deadline.is_some() {
                    return;
                }
                match target.ip() {
                    Some(addr) => self.start_connect(attempt, addr, now),
                    None => self.resolve(attempt, target.host, target.port, now),
                }
            }
            Action::Disconnect { peer, reason } => {
                let token = Token(peer.0 as usize);
                let Some(conn) = self.conns.get_mut(&token) else { return };
                let deadline = now + CLOSE_TIMEOUT;
                let deadline = self.stop_deadline.map_or(deadline, |d| d.min(deadline));
                match conn.state {
                    State::Connecting { .. } => {
                        self.drop_conn(token);
                    }
                    State::Open => conn.state = State::Closing { deadline, shut: false },
                    State::Closing { .. } => {}
                }
                self.write_log(&format!("peer {}: closing ({})", token.0, reason));
            }
            Action::Stop => self.begin_stop(now),
            Action::WriteSnapshot { dir, files } => {
                let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
                let ev = match write_files(&dir, &files) {
                    Ok(()) => Event::Notice(format!("snapshot written to {dir} ({})", names.join(", "))),
                    Err(e) => Event::Error(format!("could not write the snapshot to {dir}: {e}")),
                };
                self.write_log(&format!("snapshot: {ev:?}"));
                (self.on_event)(&ev);
            }
        }
    }

    /// Writes every connection with queued output; half-closes closing ones whose
    /// queue emptied. True if a connection failed (the node has news to react to).
    fn flush_all(&mut self, now: Instant) -> bool {
        let mut failed = Vec::new();
        for (token, conn) in self.conns.iter_mut() {
            match conn.state {
                State::Connecting { .. } => continue,
                State::Closing { shut: true, .. } => continue,
                State::Open | State::Closing { shut: false, .. } => {}
            }
            if conn.queued > 0
                && let Err(e) = write_queue(conn)
            {
                failed.push((*token, format!("write failed: {e}")));
                continue;
            }
            if let State::Closing { deadline, shut: false } = conn.state
                && conn.queued == 0
            {
                // FIN after the last byte; then wait (bounded) for the peer's.
                let _ = conn.stream.shutdown(Shutdown::Write);
                conn.state = State::Closing { deadline, shut: true };
                // Its end of stream may already be waiting.
                self.backlog.insert(*token);
            }
        }
        let any = !failed.is_empty();
        for (token, reason) in failed {
            self.lose(token, &reason, now);
        }
        any
    }

    fn update_interests(&mut self) {
        let registry = self.poll.registry();
        for (token, conn) in self.conns.iter_mut() {
            let want = conn.wanted_interest();
            if want != conn.interest {
                match registry.reregister(&mut conn.stream, *token, want) {
                    Ok(()) => conn.interest = want,
                    Err(e) => {
                        // Leave it: the connection's deadline or heartbeat timeout
                        // will end it if it can no longer make progress.
                        let _ = e;
                    }
                }
            }
        }
    }

    // ----- connections --------------------------------------------------------

    fn take_token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    fn start_connect(&mut self, attempt: u64, addr: SocketAddr, now: Instant) {
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => return self.connect_failed(attempt, &e.to_string(), now),
        };
        let token = self.take_token();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut stream, token, interest) {
            return self.connect_failed(attempt, &e.to_string(), now);
        }
        let state = State::Connecting { attempt, deadline: now + CONNECT_TIMEOUT };
        self.conns.insert(token, Conn::new(stream, state, interest));
    }

    /// Resolves a host name on a short-lived thread; the answer comes back through
    /// a channel and the waker, so the loop never waits on DNS.
    fn resolve(&mut self, attempt: u64, host: String, port: u16, now: Instant) {
        let tx = self.dns_tx.clone();
        let waker = Arc::clone(&self.waker);
        let spawned = std::thread::Builder::new().name("p2pchat-dns".into()).spawn(move || {
            let looked_up = match LOOKUP_HOOK.get().and_then(|hook| hook(&host, port)) {
                Some(answer) => answer,
                None => (host.as_str(), port).to_socket_addrs().map(Iterator::collect),
            };
            let result = match looked_up {
                Ok(addrs) => {
                    if addrs.is_empty() {
                        Err(format!("no address found for {host}"))
                    } else {
                        Ok(addrs)
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            // The loop may be gone; then nobody needs the answer.
            if tx.send(Resolved { attempt, result }).is_ok() {
                let _ = waker.wake();
            }
        });
        match spawned {
            Ok(_) => {
                self.resolving.insert(attempt, now + CONNECT_TIMEOUT);
            }
            Err(e) => self.connect_failed(attempt, &format!("could not start resolving: {e}"), now),
        }
    }

    /// An address of an attempt could not be connected to: the next address of
    /// the same host name is tried, and the node hears of the failure only when
    /// none is left (with what went wrong at each address).
    fn connect_failed(&mut self, attempt: u64, error: &str, now: Instant) {
        self.write_log(&format!("connect attempt {attempt} failed: {error}"));
        let Some(c) = self.candidates.get_mut(&attempt) else {
            self.node.handle_connect_failed(attempt, error, now);
            return;
        };
        c.errors.push(format!("{}: {error}", c.current));
        if let Some(next) = c.left.pop_front()
            && self.stop_deadline.is_none()
        {
            c.current = next;
            self.write_log(&format!("connect attempt {attempt}: trying {next}"));
            self.start_connect(attempt, next, now);
            return;
        }
        let errors = self.candidates.remove(&attempt).map(|c| c.errors.join("; ")).unwrap_or_default();
        self.node.handle_connect_failed(attempt, &errors, now);
    }

    /// Deregisters and drops a connection without telling the node.
    fn drop_conn(&mut self, token: Token) -> Option<State> {
        let mut conn = self.conns.remove(&token)?;
        self.backlog.remove(&token);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        Some(conn.state)
    }

    /// A connection failed or ended by itself: drop it, and tell the node if it
    /// still counted on it.
    fn lose(&mut self, token: Token, reason: &str, now: Instant) {
        if let Some(State::Open) = self.drop_conn(token) {
            self.node.handle_disconnected(peer_of(token), reason, now);
        }
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stop_deadline.is_some() {
            return;
        }
        self.stop_deadline = Some(now + STOP_TIMEOUT);
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.accept_retry = None;
        self.resolving.clear();
        self.candidates.clear();
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            let Some(conn) = self.conns.get_mut(&token) else { continue };
            match conn.state {
                State::Connecting { .. } => {
                    self.drop_conn(token);
                }
                State::Open => conn.state = State::Closing { deadline: now + STOP_TIMEOUT, shut: false },
                State::Closing { deadline, shut } => {
                    conn.state = State::Closing { deadline: deadline.min(now + STOP_TIMEOUT), shut }
                }
            }
        }
    }

    fn close_all(&mut self) {
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            self.drop_conn(token);
        }
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
    }

    fn write_log(&mut self, line: &str) {
        let Some(file) = &mut self.log else { return };
        if let Err(e) = writeln!(file, "{} {}", timestamp(), sanitize(line)) {
            self.log = None;
            (self.on_event)(&Event::Error(format!("could not write to the log file: {e}; logging stopped")));
        }
    }
}

fn peer_of(token: Token) -> PeerId {
    PeerId(token.0 as u64)
}

/// Writes a connection's queue until it is empty or the socket would block, up to
/// [`MAX_IOV`] buffers per call; a partly written buffer is advanced in place.
fn write_queue(conn: &mut Conn) -> io::Result<()> {
    conn.seal();
    while !conn.out.is_empty() {
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let mut n = 0;
        for (slot, b) in iov.iter_mut().zip(conn.out.iter()) {
            *slot = IoSlice::new(b);
            n += 1;
        }
        match conn.stream.write_vectored(&iov[..n]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "the socket accepted no bytes")),
            Ok(mut written) => {
                conn.queued -= written;
                while written > 0 {
                    let Some(front) = conn.out.front_mut() else { break };
                    if front.len() <= written {
                        written -= front.len();
                        conn.out.pop_front();
                    } else {
                        front.advance(written);
                        written = 0;
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `peer_addr` failing means a non-blocking connect is still under way
/// (mio's documented check: `NotConnected`, or `EINPROGRESS` on some systems).
fn still_connecting(e: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ))]
    const EINPROGRESS: i32 = 36;
    #[cfg(windows)]
    const EINPROGRESS: i32 = 10036;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly",
        windows
    )))]
    const EINPROGRESS: i32 = i32::MIN;
    matches!(e.kind(), ErrorKind::NotConnected | ErrorKind::WouldBlock) || e.raw_os_error() == Some(EINPROGRESS)
}

/// The current time as ISO 8601 UTC with milliseconds, for log lines.
fn timestamp() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(d.as_secs(), d.subsec_millis())
}

fn format_utc(secs: u64, millis: u32) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// Writes the files of a snapshot into `dir`, creating it if needed.
fn write_files(dir: &str, files: &[(String, String)]) -> io::Result<()> {
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir)?;
    for (name, contents) in files {
        std::fs::write(dir.join(name), contents)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_are_iso_8601_utc() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_704_067_200 + 3_723, 45), "2024-01-01T01:02:03.045Z");
        assert_eq!(format_utc(951_782_400, 999), "2000-02-29T00:00:00.999Z");
        assert_eq!(format_utc(4_102_444_799, 0), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn a_connection_in_progress_is_recognised() {
        assert!(still_connecting(&io::Error::from(ErrorKind::NotConnected)));
        assert!(!still_connecting(&io::Error::from(ErrorKind::ConnectionRefused)));
    }
}
