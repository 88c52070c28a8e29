//! Outbound connections: from the node's connect action to an established
//! connection the node is told about, or to a failure with a reason. A host name
//! is resolved off the loop first ([`super::resolve`]), and each of its addresses
//! is tried in turn; connects are non-blocking, with a deadline
//! ([`CONNECT_TIMEOUT`], checked by the loop's timers).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::conn::{Conn, State, still_connecting};
use super::resolve::Retry;
use super::{CONNECT_TIMEOUT, Driver, peer_of};
use crate::node::Direction;

impl Driver {
    /// Starts a non-blocking connect to one address of `attempt`.
    pub(super) fn start_connect(&mut self, attempt: u64, addr: SocketAddr, now: Instant) {
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => return self.connect_failed(attempt, &e.to_string(), now),
        };
        let token = self.conns.take_token();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut stream, token, interest) {
            return self.connect_failed(attempt, &e.to_string(), now);
        }
        let state = State::Connecting { attempt, deadline: now + CONNECT_TIMEOUT };
        self.conns.insert(token, Conn::new(stream, state, interest));
    }

    /// Resolves a host name off the loop; the answer comes back through a channel
    /// and the waker, so the loop never waits on DNS.
    pub(super) fn resolve(&mut self, attempt: u64, host: String, port: u16, now: Instant) {
        if let Err(e) = self.resolver.start(attempt, host, port, &self.waker, now + CONNECT_TIMEOUT) {
            self.connect_failed(attempt, &e, now);
        }
    }

    /// An address of an attempt could not be connected to: the next address of
    /// the same host name is tried, and the node hears of the failure only when
    /// none is left (with what went wrong at each address).
    pub(super) fn connect_failed(&mut self, attempt: u64, error: &str, now: Instant) {
        self.write_log(&format!("connect attempt {attempt} failed: {error}"));
        match self.resolver.after_failure(attempt, error, self.stop_deadline.is_none()) {
            Retry::Next(next) => {
                self.write_log(&format!("connect attempt {attempt}: trying {next}"));
                self.start_connect(attempt, next, now);
            }
            Retry::GiveUp(errors) => self.node.handle_connect_failed(attempt, &errors, now),
        }
    }

    /// Takes the answers of the lookups that came back: connects to the first
    /// address of each, or fails the attempt.
    pub(super) fn drain_resolved(&mut self, now: Instant) {
        while let Some((attempt, answer)) = self.resolver.next_answer() {
            match answer {
                Ok(first) => self.start_connect(attempt, first, now),
                Err(e) => self.connect_failed(attempt, &e, now),
            }
        }
    }

    /// A connecting socket became ready: open (the node is told), still under
    /// way, or failed (the next address is tried).
    pub(super) fn finish_connect(&mut self, token: Token, now: Instant) {
        let Some(conn) = self.conns.get_mut(token) else { return };
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
                self.resolver.connected(attempt);
                conn.state = State::Open;
                let nodelay = conn.stream.set_nodelay(true);
                let local = conn.stream.local_addr().unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                if let Err(e) = nodelay {
                    self.write_log(&format!("could not set TCP_NODELAY for {remote}: {e}"));
                }
                self.conns.backlog.insert(token);
                self.node.handle_connected(peer_of(token), Direction::Outbound { attempt }, remote, local, now);
            }
            Err(e) => {
                self.drop_conn(token);
                self.connect_failed(attempt, &e.to_string(), now);
            }
        }
    }
}
