//! Host names, resolved off the loop: each lookup runs on a short-lived thread
//! that sends its answer back through a channel and rings the driver's waker, so
//! the loop never waits on DNS. A lookup has a deadline; an answer that comes
//! after it (or after the node began to stop) is dropped.
//!
//! A name may resolve to several addresses (`localhost` to `::1` first while the
//! peer listens on 127.0.0.1 only): they are tried in the resolver's order, and the
//! node hears of a failure only when none is left, with what went wrong at each.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use mio::Waker;

/// Most addresses of one host name tried, in the resolver's order.
const MAX_CANDIDATES: usize = 16;

/// Answers a host-name lookup in place of the system resolver, or returns `None`
/// to let the system resolve it. See [`set_lookup_hook`].
#[cfg(feature = "sim")]
pub type LookupHook = fn(&str, u16) -> Option<io::Result<Vec<SocketAddr>>>;

#[cfg(feature = "sim")]
static LOOKUP_HOOK: std::sync::OnceLock<LookupHook> = std::sync::OnceLock::new();

/// A test seam, built only with the `sim` feature (which the crate's own tests
/// enable, and which never ships in libp2pchat): installs, once per process, a
/// hook that every host-name lookup passes through first, on the lookup's own
/// thread. `core/tests/sockets.rs` uses it to make one name's lookup hang (which
/// no resolver does on demand) and shows the loop keeps serving meanwhile. False
/// if a hook was installed already.
#[cfg(feature = "sim")]
pub fn set_lookup_hook(hook: LookupHook) -> bool {
    LOOKUP_HOOK.set(hook).is_ok()
}

/// The system resolver's addresses for `host` (or the test hook's answer).
fn look_up(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    #[cfg(feature = "sim")]
    if let Some(answer) = LOOKUP_HOOK.get().and_then(|hook| hook(host, port)) {
        return answer;
    }
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// A lookup thread's answer.
#[derive(Debug)]
struct Resolved {
    attempt: u64,
    result: Result<Vec<SocketAddr>, String>,
}

/// The addresses of a resolved host name for one attempt: the one being tried,
/// those left, and what went wrong with those tried.
#[derive(Debug)]
struct Candidates {
    current: SocketAddr,
    left: VecDeque<SocketAddr>,
    errors: Vec<String>,
}

/// What to do after an address of an attempt could not be connected to.
#[derive(Debug)]
pub(super) enum Retry {
    /// Try this address of the same host name.
    Next(SocketAddr),
    /// Tell the node the attempt failed, with this reason.
    GiveUp(String),
}

/// The lookups under way and the addresses left to try, by connect attempt.
#[derive(Debug)]
pub(super) struct Resolver {
    tx: Sender<Resolved>,
    rx: Receiver<Resolved>,
    /// Lookups awaited, with their deadlines.
    pending: HashMap<u64, Instant>,
    /// Attempts with more than one address.
    candidates: HashMap<u64, Candidates>,
}

impl Resolver {
    pub(super) fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Resolver { tx, rx, pending: HashMap::new(), candidates: HashMap::new() }
    }

    /// Starts resolving `host` on a thread of its own, awaited until `deadline`;
    /// the answer rings `waker`. Err: why no thread could be started.
    pub(super) fn start(
        &mut self,
        attempt: u64,
        host: String,
        port: u16,
        waker: &Arc<Waker>,
        deadline: Instant,
    ) -> Result<(), String> {
        let tx = self.tx.clone();
        let waker = Arc::clone(waker);
        let spawned = std::thread::Builder::new().name("p2pchat-dns".into()).spawn(move || {
            let result = match look_up(&host, port) {
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
                self.pending.insert(attempt, deadline);
                Ok(())
            }
            Err(e) => Err(format!("could not start resolving: {e}")),
        }
    }

    /// The next answer still awaited: the first address to try (the others are
    /// kept for [`Resolver::after_failure`]), or why the name did not resolve.
    pub(super) fn next_answer(&mut self) -> Option<(u64, Result<SocketAddr, String>)> {
        while let Ok(Resolved { attempt, result }) = self.rx.try_recv() {
            if self.pending.remove(&attempt).is_none() {
                continue; // timed out already, or the node is stopping
            }
            let mut addrs: VecDeque<SocketAddr> = match result {
                Ok(addrs) => addrs.into_iter().take(MAX_CANDIDATES).collect(),
                Err(e) => return Some((attempt, Err(e))),
            };
            let Some(first) = addrs.pop_front() else { continue };
            if !addrs.is_empty() {
                self.candidates.insert(attempt, Candidates { current: first, left: addrs, errors: Vec::new() });
            }
            return Some((attempt, Ok(first)));
        }
        None
    }

    /// An address of `attempt` failed with `error`: the next address of the same
    /// name if there is one and `may_retry`, else the reason to give the node
    /// (every address with its error, or `error` alone).
    pub(super) fn after_failure(&mut self, attempt: u64, error: &str, may_retry: bool) -> Retry {
        let Some(c) = self.candidates.get_mut(&attempt) else {
            return Retry::GiveUp(error.to_owned());
        };
        c.errors.push(format!("{}: {error}", c.current));
        if let Some(next) = c.left.pop_front()
            && may_retry
        {
            c.current = next;
            return Retry::Next(next);
        }
        Retry::GiveUp(self.candidates.remove(&attempt).map(|c| c.errors.join("; ")).unwrap_or_default())
    }

    /// `attempt` connected: its other addresses are not needed.
    pub(super) fn connected(&mut self, attempt: u64) {
        self.candidates.remove(&attempt);
    }

    /// The deadlines of the lookups awaited.
    pub(super) fn deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        self.pending.values().copied()
    }

    /// The lookups whose deadline has passed, no longer awaited.
    pub(super) fn take_expired(&mut self, now: Instant) -> Vec<u64> {
        let late: Vec<u64> = self.pending.iter().filter(|(_, d)| **d <= now).map(|(a, _)| *a).collect();
        for attempt in &late {
            self.pending.remove(attempt);
        }
        late
    }

    /// Forgets every lookup and address (the node is stopping).
    pub(super) fn clear(&mut self) {
        self.pending.clear();
        self.candidates.clear();
    }
}
