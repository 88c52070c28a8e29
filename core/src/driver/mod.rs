//! The network driver: the only code in p2pchat that does I/O.
//!
//! One thread runs one [`mio::Poll`] holding the listener, every peer socket and a
//! [`Waker`]. Each turn of the loop feeds what happened (accepted and established
//! connections, bytes read, closed sockets, requests from other threads, the time)
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
//!
//! The parts: `conn` (the connection table and its write queues), `resolve` (the
//! off-loop host-name lookups and the addresses left to try), `log` (the log
//! file) and `snapshot` (where a `:snapshot` goes on disk, and writing it there
//! without writing over another) each own their state; `connect` is the life of
//! an outbound connection, from the node's connect action to the node told it is
//! up or failed. This file
//! is the loop that ties them to the node. What the user reads is worded in
//! [`crate::event`]; the driver only reports what happened.
//!
//! With the `sim` feature (tests only; it never ships in libp2pchat) there is a
//! test seam, `set_lookup_hook`, that answers host-name lookups in place of the
//! system resolver.

mod conn;
mod connect;
mod log;
mod memory;
mod resolve;
mod sink;
mod snapshot;
pub(crate) mod store;

use std::io::{self, ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::command::Input;
use crate::config::{Config, Watermarks};
use crate::event::Event;
use crate::handle::Status;
use crate::id::{NodeId, Rng};
use crate::memory::FramePage;
use crate::node::{Action, Backlog, Direction, Node, NodeConfig, PeerId};

use conn::{Conn, Conns, State};
use log::LogFile;
use resolve::Resolver;
#[cfg(feature = "sim")]
pub use resolve::{LookupHook, set_lookup_hook};
pub(crate) use sink::{MAX_PENDING, Sink};
use snapshot::SnapshotDirs;

/// Token of the listening socket.
pub const LISTENER: Token = Token(0);
/// Token of the [`Waker`] that requests from other threads ring.
pub const WAKER: Token = Token(1);

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
/// Rounds of "drain the node, write, report failures" per turn.
const PUMP_ROUNDS: usize = 64;

/// What another thread asks of the network thread (see [`crate::handle::Handle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A line typed by the user: chat or a `:command`, parsed by the node.
    Line(String),
    /// An already parsed input.
    Input(Input),
    /// A line the frontend parsed and found wrong: this message is told to the user
    /// as an [`Event::Error`], in order with the node's other events.
    Mistake(String),
    /// Quit, as `:quit` does: say goodbye, flush (bounded), stop.
    Stop,
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
    /// The identity the node runs as; holds its lock while the driver runs.
    _identity: crate::identity::Acquired,
    /// Its store (None: nothing is saved in this run).
    memory: Option<memory::Memory>,
    port: u16,
    conns: Conns,
    requests: Receiver<Request>,
    requests_open: bool,
    resolver: Resolver,
    snapshot_dirs: SnapshotDirs,
    accept_retry: Option<Instant>,
    stop_deadline: Option<Instant>,
    queue_cap: usize,
    /// Flow control thresholds (from the queue cap).
    marks: Watermarks,
    /// Some connection is watched for draining (`Conn::over`).
    watching: bool,
    /// A peer whose output queue does not drain at all for this long stopped
    /// reading, and is cut off (`--peer-timeout`).
    stall: Duration,
    buf: Vec<u8>,
    log: LogFile,
    sink: Sink,
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
    /// the node and asks it to connect to every `config.connect` entry. Requests are
    /// read from `requests`; whoever sends them must ring [`Driver::waker`] after
    /// each send. Events go to `sink`, on the thread that calls [`Driver::run`].
    pub fn new(config: &Config, requests: Receiver<Request>, sink: Sink) -> io::Result<Driver> {
        crate::wire::validate_name(&config.name)
            .map_err(|e| io::Error::new(ErrorKind::InvalidInput, format!("invalid name: {e}")))?;
        let log = LogFile::open(config.log.as_deref())?;
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let bind = SocketAddr::new(config.bind, config.port);
        let mut listener =
            TcpListener::bind(bind).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {bind}: {e}")))?;
        let port = listener.local_addr()?.port();
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;

        let mut rng = Rng::new(config.seed.unwrap_or_else(Rng::seed_from_env));
        // The member's key: from its key file, or fresh (`--ephemeral`, or the
        // saved one is in use by another process). Kept (with its lock) for as
        // long as the driver runs.
        let identity = crate::identity::acquire(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let keys = crate::crypto::Keys::from_seed(&identity.seed);
        let seed = rng.next_u64();
        let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let now = Instant::now();
        let opened = memory::open(config, &identity, &waker);
        let mut node_config = NodeConfig::from_config(config, keys, port, seed, wall_ms);
        node_config.persist = opened.memory.is_some();
        let marks = Watermarks::of(config.queue_cap, node_config.persist);
        node_config.catch_up_step = marks.step();
        let mut node = Node::with_saved(node_config, opened.saved, now);
        for notice in identity.notice.iter().chain(&opened.notices) {
            node.notice(notice.clone());
        }
        for peer in &config.connect {
            node.connect(peer.clone(), now);
        }
        Ok(Driver {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            listener: Some(listener),
            waker,
            node,
            _identity: identity,
            memory: opened.memory,
            port,
            conns: Conns::new(),
            requests,
            requests_open: true,
            resolver: Resolver::new(),
            snapshot_dirs: SnapshotDirs::default(),
            accept_retry: None,
            stop_deadline: None,
            queue_cap: config.queue_cap,
            marks,
            watching: false,
            stall: config.peer_timeout,
            buf: vec![0; READ_BUF],
            log,
            sink,
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

    /// The waker to ring after sending a [`Request`].
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
            let timeout = if self.conns.backlog.is_empty() {
                self.next_deadline().map(|d| d.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                self.write_log(&format!("poll failed: {e}; stopping"));
                self.sink.emit(Event::loop_failed(&e));
                break;
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
                self.drain_requests(now);
                self.drain_resolved(now);
                if let Some(memory) = &mut self.memory {
                    memory.drain(&mut self.node, now);
                }
            }
            let ready = std::mem::take(&mut self.ready);
            for &(token, readable) in &ready {
                match self.conns.get(token).map(|c| c.state) {
                    None => {}
                    Some(State::Connecting { .. }) => self.finish_connect(token, now),
                    Some(_) if readable => {
                        self.conns.backlog.insert(token);
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
        if let Some(memory) = &mut self.memory {
            memory.close(&mut self.node);
        }
        // Whatever the node said last (its goodbye notices, log lines) goes out
        // before the final event.
        while let Some(ev) = self.node.poll_event() {
            self.sink.emit(ev);
        }
        while let Some(line) = self.node.poll_log() {
            self.write_log(&line);
        }
        self.write_log("stopped");
        self.status_epoch = u64::MAX;
        self.refresh_status();
        self.sink.emit(Event::Stopped);
        self.sink.flush();
    }

    fn finished(&self, now: Instant) -> bool {
        self.stop_deadline.is_some_and(|d| self.conns.is_empty() || now >= d)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.node.poll_timeout();
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        self.conns.deadlines().for_each(&mut consider);
        self.resolver.deadlines().for_each(&mut consider);
        if let Some(t) = self.accept_retry {
            consider(t);
        }
        if let Some(t) = self.stop_deadline {
            consider(t);
        }
        if let Some(t) = self.memory.as_ref().and_then(memory::Memory::deadline) {
            // Records wait to be handed to the store's writer.
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
                    let token = self.conns.take_token();
                    if let Err(e) = self.poll.registry().register(&mut stream, token, Interest::READABLE) {
                        self.write_log(&format!("could not register the connection from {remote}: {e}"));
                        continue;
                    }
                    self.conns.insert(token, Conn::new(stream, State::Open, Interest::READABLE));
                    // Data may already be waiting, and its edge may have passed.
                    self.conns.backlog.insert(token);
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

    fn drain_requests(&mut self, now: Instant) {
        let mut taken = 0usize;
        while self.requests_open {
            taken += 1;
            if taken.is_multiple_of(crate::crypto::MAX_BATCH) {
                // Lines piped in faster than a neighbour reads: what they made
                // goes out (and fills queues) before more is taken, so that a
                // queue passing the high watermark is held back from in time
                // (flow control), not cut off at the cap.
                self.pump(now);
                self.flush_all(now);
                self.sink.flush();
            }
            match self.requests.try_recv() {
                Ok(Request::Line(line)) => match crate::command::parse_line(&line) {
                    Ok(input) => self.handle_input(input, now),
                    // The node words the mistake, in order with its other events.
                    Err(_) => self.node.handle_line(&line, now),
                },
                Ok(Request::Input(input)) => self.handle_input(input, now),
                Ok(Request::Mistake(message)) => {
                    // After what the requests before it made the node say.
                    self.pump(now);
                    self.sink.emit(Event::Error(message));
                }
                Ok(Request::Stop) => {
                    self.node.handle_input(Input::Quit, now);
                    self.begin_stop(now);
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    // Every handle is gone: nobody can ever stop this node otherwise.
                    self.requests_open = false;
                    self.write_log("command channel closed; quitting");
                    self.node.handle_input(Input::Quit, now);
                    self.begin_stop(now);
                }
            }
        }
    }

    /// A parsed input from the user, for the node; a `:snapshot` is checked
    /// against the disk first ([`snapshot`]).
    fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Snapshot(dir) => self.start_snapshot(dir, now),
            input => self.node.handle_input(input, now),
        }
    }

    fn read_backlog(&mut self, now: Instant) {
        let tokens: Vec<Token> = self.conns.backlog.iter().copied().collect();
        for token in tokens {
            match self.read_conn(token, now) {
                ReadEnd::MoreLeft => {}
                ReadEnd::Drained => {
                    self.conns.backlog.remove(&token);
                }
                ReadEnd::Closed(reason) => {
                    self.conns.backlog.remove(&token);
                    self.lose(token, &reason, now);
                }
            }
        }
    }

    /// Reads a connection until `WouldBlock`, at most [`READS_PER_TURN`] times.
    /// An open connection's bytes go to the node; a closing one's are discarded.
    fn read_conn(&mut self, token: Token, now: Instant) -> ReadEnd {
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.conns.get_mut(token) else { return ReadEnd::Drained };
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
        for token in self.conns.stalled(now, self.stall) {
            self.drop_conn(token);
            let secs = self.stall.as_secs_f64();
            self.cut_off(token, &format!("output queue not drained for {secs:.1} s (not reading)"), now);
        }
        for (token, state) in self.conns.expired(now) {
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
        for attempt in self.resolver.take_expired(now) {
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
        if let Some(memory) = &mut self.memory {
            memory.save(&mut self.node, now);
        }
        self.conns.update_interests(self.poll.registry());
        self.refresh_status();
        // What the turn produced goes to a batching frontend now, before the
        // loop may sleep.
        self.sink.flush();
    }

    /// Drains every output of the node once. True if there was any. Called after
    /// every read too, so that what a flood makes (a transmit per frame per peer,
    /// an event per frame) never piles up in the node.
    ///
    /// The node keeps its events and its actions in separate queues, so the order
    /// between the two is lost by the time they are drained: an action's outcome
    /// that the driver reports (a snapshot written) must not overtake the events
    /// the node had queued when it asked for the action ("snapshot: asking ...",
    /// queued just before its write on a lone node). So actions are carried out
    /// first, as before, but what they report waits until the node's events of
    /// this drain have been delivered.
    fn pump(&mut self, now: Instant) -> bool {
        let mut progress = self.file_transmits(now);
        let mut reports = Vec::new();
        while let Some(action) = self.node.poll_action() {
            progress = true;
            reports.extend(self.act(action, now));
        }
        while let Some(ev) = self.node.poll_event() {
            progress = true;
            self.sink.emit(ev);
        }
        for ev in reports {
            self.sink.emit(ev);
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
        let mut full = Vec::new();
        while let Some((peer, bytes)) = self.node.poll_transmit() {
            progress = true;
            let token = Token(peer.0 as usize);
            let Some(conn) = self.conns.get_mut(token) else { continue };
            // The node never writes to a connection it has not been told about or
            // has closed; a half-closed socket could not take the bytes anyway.
            if bytes.is_empty() || matches!(conn.state, State::Connecting { .. } | State::Closing { shut: true, .. }) {
                continue;
            }
            conn.push(bytes);
            if conn.queued > self.marks.high && !conn.over && conn.state == State::Open {
                conn.over = true;
                self.watching = true;
                full.push(peer);
            }
            if conn.queued > self.queue_cap {
                // Write what the socket takes before judging: a burst larger than
                // the cap is not a peer that does not read.
                match conn.write_queue() {
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
            self.cut_off(token, &format!("output queue exceeded {} bytes (not reading)", self.queue_cap), now);
        }
        for peer in full {
            self.node.handle_backlog(peer, Backlog::Full, now);
        }
        progress
    }

    /// Carries out an action; returns what the user is to be told of its outcome
    /// (see [`Driver::pump`] for when that is delivered).
    fn act(&mut self, action: Action, now: Instant) -> Option<Event> {
        match action {
            Action::Connect { attempt, target } => {
                if self.stop_deadline.is_none() {
                    match target.ip() {
                        Some(addr) => self.start_connect(attempt, addr, now),
                        None => self.resolve(attempt, target.host, target.port, now),
                    }
                }
                None
            }
            Action::Disconnect { peer, reason } => {
                let token = Token(peer.0 as usize);
                let conn = self.conns.get_mut(token)?;
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
                None
            }
            Action::Stop => {
                self.begin_stop(now);
                None
            }
            Action::WriteSnapshot { dir, files } => Some(self.write_snapshot(dir, &files)),
            Action::Frames(query) => {
                match &mut self.memory {
                    Some(memory) => memory.frames(query, &mut self.node),
                    // Nothing is saved: an empty last page, and the node goes on
                    // from its history window.
                    None => self.node.handle_frames(
                        FramePage { peer: query.peer, frames: Vec::new(), last: query.after, end: true },
                        now,
                    ),
                }
                None
            }
            Action::WatchDrain { peer } => {
                if let Some(conn) = self.conns.get_mut(Token(peer.0 as usize)) {
                    conn.over = true;
                    self.watching = true;
                }
                None
            }
            Action::Query(query) => {
                match &mut self.memory {
                    Some(memory) => memory.ask(query, &mut self.node),
                    None => self.node.show_saved(&query, Err("nothing is saved in this run".to_owned())),
                }
                None
            }
        }
    }

    /// Writes every connection with queued output; half-closes closing ones whose
    /// queue emptied. True if a connection failed (the node has news to react to).
    fn flush_all(&mut self, now: Instant) -> bool {
        let failed = self.conns.flush();
        let mut any = !failed.is_empty();
        for (token, reason) in failed {
            self.lose(token, &reason, now);
        }
        if self.watching {
            let (drained, watching) = self.conns.drained(self.marks.low);
            self.watching = watching;
            any |= !drained.is_empty();
            for token in drained {
                self.node.handle_backlog(peer_of(token), Backlog::Drained, now);
            }
        }
        any
    }

    // ----- connections --------------------------------------------------------

    /// Deregisters and drops a connection without telling the node.
    fn drop_conn(&mut self, token: Token) -> Option<State> {
        self.conns.remove(token, self.poll.registry())
    }

    /// Tells the log and the node that a dropped connection's peer was cut off.
    fn cut_off(&mut self, token: Token, reason: &str, now: Instant) {
        self.write_log(&format!("peer {}: {reason}; disconnected", token.0));
        self.node.handle_disconnected(peer_of(token), reason, now);
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
        self.resolver.clear();
        for token in self.conns.tokens() {
            let Some(conn) = self.conns.get_mut(token) else { continue };
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
        for token in self.conns.tokens() {
            self.drop_conn(token);
        }
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
    }

    fn write_log(&mut self, line: &str) {
        if let Err(e) = self.log.write(line) {
            self.sink.emit(Event::log_failed(&e));
        }
    }
}

fn peer_of(token: Token) -> PeerId {
    PeerId(token.0 as u64)
}
