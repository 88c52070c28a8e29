//! The connection table: every socket the driver holds, by token, with its state
//! and its output queue, and the set of connections whose input may be waiting.
//!
//! Output is queued as shared buffers (frames are encoded once and shared by every
//! peer they go to) and written with vectored writes, so that writes are batched
//! per peer per loop turn; small frames are copied into one buffer instead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, ErrorKind, IoSlice, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// First token handed to a connection (the fixed ones come before it).
const FIRST_CONN: usize = 2;
/// Buffers per vectored write.
const MAX_IOV: usize = 64;
/// Frames up to this size are copied into a per-connection buffer rather than
/// queued as shared buffers of their own.
const COALESCE_MAX: usize = 1024;
/// Most bytes in one such buffer.
const COALESCE_BUF: usize = 64 * 1024;
/// What such a buffer starts with; it grows (doubling) up to [`COALESCE_BUF`]
/// while frames keep coming faster than the socket takes them.
const COALESCE_START: usize = 2048;
/// Queue slots an empty queue keeps; a longer one is let go once it is empty.
const IDLE_SLOTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// A non-blocking connect in progress.
    Connecting { attempt: u64, deadline: Instant },
    /// Established and known to the node.
    Open,
    /// The node is done with it: flush the queue, then half-close and discard input
    /// until the peer closes too (closing with unread input would reset the
    /// connection and could destroy the goodbye), all before `deadline`.
    Closing { deadline: Instant, shut: bool },
}

impl State {
    /// The time this state ends by, if it has one.
    fn deadline(self) -> Option<Instant> {
        match self {
            State::Connecting { deadline, .. } | State::Closing { deadline, .. } => Some(deadline),
            State::Open => None,
        }
    }
}

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) state: State,
    /// Buffers waiting to be written, in order; `small` holds the newest ones.
    out: VecDeque<Bytes>,
    /// Small frames queued after everything in `out`, copied into one buffer: for a
    /// frame of a hundred bytes a copy costs less than sharing it (a reference count
    /// taken and dropped, and an iovec entry of its own), and writes get bigger.
    small: BytesMut,
    /// Bytes queued and not yet written.
    pub(super) queued: usize,
    /// The queue passed the high watermark (or the node asked to be told when
    /// it drains): the node hears [`crate::node::Backlog::Drained`] once it is
    /// below the low one.
    pub(super) over: bool,
    /// When the queue last got shorter (or stopped being empty): a queue that
    /// does not drain at all for a while is a peer that stopped reading.
    pub(super) progressed: Instant,
    interest: Interest,
}

impl Conn {
    pub(super) fn new(stream: TcpStream, state: State, interest: Interest) -> Self {
        Conn {
            stream,
            state,
            out: VecDeque::new(),
            small: BytesMut::new(),
            queued: 0,
            over: false,
            progressed: Instant::now(),
            interest,
        }
    }

    /// Queues bytes for writing.
    pub(super) fn push(&mut self, bytes: Bytes) {
        if self.queued == 0 {
            self.progressed = Instant::now();
        }
        self.queued += bytes.len();
        if bytes.len() <= COALESCE_MAX {
            if self.small.len() + bytes.len() > COALESCE_BUF {
                self.seal();
            }
            if self.small.capacity() == 0 {
                self.small.reserve(COALESCE_START);
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

    /// Writes the queue until it is empty or the socket would block, up to
    /// [`MAX_IOV`] buffers per call; a partly written buffer is advanced in place.
    pub(super) fn write_queue(&mut self) -> io::Result<()> {
        self.seal();
        while !self.out.is_empty() {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for (slot, b) in iov.iter_mut().zip(self.out.iter()) {
                *slot = IoSlice::new(b);
                n += 1;
            }
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "the socket accepted no bytes")),
                Ok(mut written) => {
                    self.queued -= written;
                    self.progressed = Instant::now();
                    while written > 0 {
                        let Some(front) = self.out.front_mut() else { break };
                        if front.len() <= written {
                            written -= front.len();
                            self.out.pop_front();
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
        self.release();
        Ok(())
    }

    /// Lets go of the buffers of an empty queue: an idle connection holds no
    /// output memory (a burst of member records on a new link would otherwise
    /// leave each connection a 64 KiB buffer and a long queue for good).
    fn release(&mut self) {
        if self.small.capacity() > 0 {
            self.small = BytesMut::new();
        }
        if self.out.capacity() > IDLE_SLOTS {
            self.out = VecDeque::new();
        }
    }

    /// Bytes of output memory the connection holds (buffers, queue slots).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.small.capacity()
            + self.out.capacity() * std::mem::size_of::<Bytes>()
            + self.out.iter().map(Bytes::len).sum::<usize>()
    }
}

/// Every connection, by token. Tokens count up from [`FIRST_CONN`] and are never
/// reused, so a token names one connection for the life of the driver.
#[derive(Debug)]
pub(super) struct Conns {
    map: BTreeMap<Token, Conn>,
    next_token: usize,
    /// Connections whose input may be waiting: readable, or not read to the end
    /// within the per-turn bound.
    pub(super) backlog: BTreeSet<Token>,
}

impl Conns {
    pub(super) fn new() -> Self {
        Conns { map: BTreeMap::new(), next_token: FIRST_CONN, backlog: BTreeSet::new() }
    }

    /// A token no connection has had.
    pub(super) fn take_token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        t
    }

    pub(super) fn insert(&mut self, token: Token, conn: Conn) {
        self.map.insert(token, conn);
    }

    pub(super) fn get(&self, token: Token) -> Option<&Conn> {
        self.map.get(&token)
    }

    pub(super) fn get_mut(&mut self, token: Token) -> Option<&mut Conn> {
        self.map.get_mut(&token)
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every token, in order.
    pub(super) fn tokens(&self) -> Vec<Token> {
        self.map.keys().copied().collect()
    }

    /// The deadlines of connecting and closing connections.
    pub(super) fn deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        self.map.values().filter_map(|c| c.state.deadline())
    }

    /// Connections whose connect or close deadline has passed, with their state.
    pub(super) fn expired(&self, now: Instant) -> Vec<(Token, State)> {
        self.map
            .iter()
            .filter(|(_, c)| c.state.deadline().is_some_and(|d| d <= now))
            .map(|(t, c)| (*t, c.state))
            .collect()
    }

    /// Deregisters and drops a connection; its state, if it was there.
    pub(super) fn remove(&mut self, token: Token, registry: &Registry) -> Option<State> {
        let mut conn = self.map.remove(&token)?;
        self.backlog.remove(&token);
        let _ = registry.deregister(&mut conn.stream);
        Some(conn.state)
    }

    /// Writes every connection with queued output; half-closes closing ones whose
    /// queue emptied. Returns the connections whose write failed, with why.
    pub(super) fn flush(&mut self) -> Vec<(Token, String)> {
        let mut failed = Vec::new();
        for (token, conn) in self.map.iter_mut() {
            match conn.state {
                State::Connecting { .. } => continue,
                State::Closing { shut: true, .. } => continue,
                State::Open | State::Closing { shut: false, .. } => {}
            }
            if conn.queued > 0
                && let Err(e) = conn.write_queue()
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
        failed
    }

    /// The open connections with output queued whose queue has not drained at
    /// all for `limit`: their peers stopped reading.
    pub(super) fn stalled(&self, now: Instant, limit: Duration) -> Vec<Token> {
        self.map
            .iter()
            .filter(|(_, c)| {
                c.state == State::Open && c.queued > 0 && now.saturating_duration_since(c.progressed) > limit
            })
            .map(|(t, _)| *t)
            .collect()
    }

    /// The open connections watched for draining whose queue is at most `low`
    /// bytes now (each reported once: its watch ends); and whether any is still
    /// watched.
    pub(super) fn drained(&mut self, low: usize) -> (Vec<Token>, bool) {
        let mut drained = Vec::new();
        let mut watched = false;
        for (token, conn) in self.map.iter_mut() {
            if conn.over && conn.state == State::Open && conn.queued <= low {
                conn.over = false;
                drained.push(*token);
            }
            watched |= conn.over;
        }
        (drained, watched)
    }

    /// Asks for WRITABLE only while output is queued (or a connect is under way),
    /// reregistering only the connections whose interest changed.
    pub(super) fn update_interests(&mut self, registry: &Registry) {
        for (token, conn) in self.map.iter_mut() {
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
}

/// Whether `peer_addr` failing means a non-blocking connect is still under way
/// (mio's documented check: `NotConnected`, or `EINPROGRESS` on some systems).
pub(super) fn still_connecting(e: &io::Error) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_queue_holds_no_buffers_and_the_bytes_arrive_in_order() -> io::Result<()> {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let client = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (mut server, _) = listener.accept()?;
        client.set_nonblocking(true)?;
        let mut conn = Conn::new(TcpStream::from_std(client), State::Open, Interest::READABLE);
        let mut sent = Vec::new();
        for k in 0..2000u32 {
            // Small frames (coalesced) and big ones (queued as they are).
            let len = if k % 100 == 0 { 3000 } else { 40 + (k % 7) as usize };
            let frame: Vec<u8> = (0..len).map(|i| (k as usize + i) as u8).collect();
            sent.extend_from_slice(&frame);
            conn.push(Bytes::from(frame));
        }
        assert!(conn.held() >= sent.len());
        let mut got = vec![0; sent.len()];
        let mut filled = 0;
        let end = Instant::now() + Duration::from_secs(10);
        server.set_read_timeout(Some(Duration::from_millis(10)))?;
        while filled < sent.len() && Instant::now() < end {
            conn.write_queue()?;
            match server.read(&mut got[filled..]) {
                Ok(n) => filled += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        assert_eq!(filled, sent.len());
        assert!(got == sent, "the bytes arrived in order");
        assert_eq!(conn.queued, 0);
        assert!(conn.held() <= IDLE_SLOTS * std::mem::size_of::<Bytes>(), "an empty queue keeps no buffer");
        assert_eq!(conn.small.capacity(), 0);
        Ok(())
    }

    #[test]
    fn a_connection_in_progress_is_recognised() {
        assert!(still_connecting(&io::Error::from(ErrorKind::NotConnected)));
        assert!(!still_connecting(&io::Error::from(ErrorKind::ConnectionRefused)));
    }
}
