//! A thread-safe handle to a running node, for frontends.
//!
//! [`Handle::start`] binds, spawns the network thread (named `p2pchat-net`, running
//! the driver) and returns once the node is listening. Requests go in through
//! a channel and the driver's waker, so no call that feeds the node ever blocks;
//! events come out through a callback that runs on the network thread, one call at
//! a time, or through a channel ([`Handle::start_with_channel`]).
//!
//! Shutdown: [`Handle::stop`] quits like `:quit` (goodbyes are flushed for at most
//! about a second) and waits for the thread; [`Event::Stopped`] is always the last
//! event, and once `stop` or `join` has returned no callback runs any more. Both may
//! be called from the callback itself: on the network thread they only request the
//! stop and return. Dropping the last clone of a handle quits the node too.
//!
//! Do not call `stop` or `join` while holding a lock that the callback also takes:
//! the network thread may be waiting for that lock inside the callback.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};

use mio::Waker;

use crate::addr::PeerAddr;
use crate::command::Input;
use crate::config::Config;
use crate::driver::{Driver, Request, Sink};
use crate::event::Event;
use crate::id::NodeId;
use crate::node::MemberInfo;
use crate::wire::MAX_FRAME;

/// What a frontend shows about the node besides events: its current name, port,
/// direct links and the reachable members. Kept up to date by the network thread
/// and read without disturbing it ([`crate::Handle::status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// This node's current name (it changes after a collision).
    pub name: String,
    /// Listening port.
    pub port: u16,
    /// This node's id.
    pub id: NodeId,
    /// Number of direct p2pchat links.
    pub links: usize,
    /// Every reachable member, this node first.
    pub members: Vec<MemberInfo>,
    /// After a stop at end of input: this node's own messages that no neighbour
    /// had received (the headless frontend then exits non-zero).
    pub undelivered: u64,
}

/// Longest line accepted by [`Handle::send_line`], in bytes. Chat texts have a
/// smaller limit ([`crate::wire::MAX_TEXT`]), which the node reports as an
/// [`Event::Error`] like every other mistake in what the user typed; this one only
/// keeps a runaway caller from queueing unbounded memory in one call.
pub const MAX_LINE: usize = MAX_FRAME;

/// Most events in one batch of [`Handle::start_batched`].
pub const MAX_BATCH_EVENTS: usize = crate::driver::MAX_PENDING;

/// Why a [`Handle`] call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleError {
    /// The node has stopped or is stopping.
    Stopped,
    /// The line is longer than [`MAX_LINE`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Stopped => write!(f, "the node has stopped"),
            HandleError::TooLong { len } => {
                write!(f, "the line is {len} bytes long; the limit is {MAX_LINE}")
            }
        }
    }
}

impl std::error::Error for HandleError {}

/// A running node. Cheap to clone; every clone controls the same node.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` only while dropping: dropping it is how the thread learns that every
    /// handle is gone.
    tx: Option<Sender<Request>>,
    waker: Arc<Waker>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
    running: Arc<AtomicBool>,
    stop_requested: AtomicBool,
    port: u16,
    id: NodeId,
    status: Arc<Mutex<Status>>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.inner.id)
            .field("port", &self.inner.port)
            .field("running", &self.is_running())
            .finish()
    }
}

/// Marks the node stopped when the network thread ends, even by a panic in the
/// callback.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Handle {
    /// Binds, spawns the network thread (named `p2pchat-net`) and returns once the
    /// node is listening. Bind errors (and an invalid name, or a log file that
    /// cannot be opened) are returned. `on_event` runs on the network thread, one
    /// call at a time; [`Event::Stopped`] is the last call.
    pub fn start(config: &Config, on_event: impl FnMut(&Event) + Send + 'static) -> io::Result<Handle> {
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        let mut on_event = on_event;
        let callback = Box::new(move |e: &Event| {
            if matches!(e, Event::Stopped) {
                // Calls made from here on are refused.
                flag.store(false, Ordering::SeqCst);
            }
            on_event(e);
        });
        Handle::spawn(config, Sink::Each(callback), running)
    }

    /// Like [`Handle::start`], with the events of one turn of the network loop
    /// handed over in one call, in order (at most
    /// [`MAX_BATCH_EVENTS`] at a time, never empty): for frontends that pay per
    /// call, such as one that writes every event to a pipe and can then write a
    /// whole batch at once. A batch is handed over before the loop waits for more
    /// input, so nothing waits in it for long. [`Event::Stopped`] is the last
    /// event of the last batch.
    pub fn start_batched(config: &Config, on_events: impl FnMut(&[Event]) + Send + 'static) -> io::Result<Handle> {
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        let mut on_events = on_events;
        let callback = Box::new(move |evs: &[Event]| {
            if evs.iter().any(|e| matches!(e, Event::Stopped)) {
                flag.store(false, Ordering::SeqCst);
            }
            on_events(evs);
        });
        Handle::spawn(config, Sink::batched(callback), running)
    }

    fn spawn(config: &Config, sink: Sink, running: Arc<AtomicBool>) -> io::Result<Handle> {
        let (tx, rx) = mpsc::channel();
        let driver = Driver::new(config, rx, sink)?;
        let (waker, port, id, status) = (driver.waker(), driver.port(), driver.id(), driver.status());
        let guard = RunningGuard(Arc::clone(&running));
        let thread = std::thread::Builder::new().name("p2pchat-net".into()).spawn(move || {
            let _guard = guard;
            driver.run();
        })?;
        let handle = Handle {
            inner: Arc::new(Inner {
                tx: Some(tx),
                waker,
                thread_id: thread.thread().id(),
                thread: Mutex::new(Some(thread)),
                running,
                stop_requested: AtomicBool::new(false),
                port,
                id,
                status,
            }),
        };
        // Quit on SIGTERM, SIGHUP and SIGINT if the frontend asked for that.
        crate::signals::watch(&handle);
        Ok(handle)
    }

    /// Like [`Handle::start`], with events delivered to a channel for frontends that
    /// prefer to poll. The channel ends after [`Event::Stopped`].
    pub fn start_with_channel(config: &Config) -> io::Result<(Handle, Receiver<Event>)> {
        let (tx, rx) = mpsc::channel();
        let handle = Handle::start(config, move |e| {
            // The receiver may be gone; the node runs on regardless.
            let _ = tx.send(e.clone());
        })?;
        Ok((handle, rx))
    }

    /// The actual listening port.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The node's current name, links and reachable members, as last published by
    /// the network thread (never blocks on it for more than a copy).
    pub fn status(&self) -> Status {
        self.inner.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every reachable member, this node first.
    pub fn members(&self) -> Vec<MemberInfo> {
        self.inner.status.lock().map(|s| s.members.clone()).unwrap_or_default()
    }

    /// Sends a line as if typed by the user: chat, or a `:command`. Never blocks.
    /// Mistakes in the line (an unknown command, a text over the limit) come back
    /// as [`Event::Error`].
    pub fn send_line(&self, line: &str) -> Result<(), HandleError> {
        if line.len() > MAX_LINE {
            return Err(HandleError::TooLong { len: line.len() });
        }
        self.send(Request::Line(line.to_owned()))
    }

    /// Sends an already parsed input ([`crate::command::parse_line`]), as a
    /// frontend that looks at what the user typed before the node does. Never
    /// blocks. A chat or private text longer than [`MAX_LINE`] is refused like a
    /// line that long.
    pub fn send_input(&self, input: Input) -> Result<(), HandleError> {
        if let Input::Chat(text) | Input::Msg { text, .. } = &input
            && text.len() > MAX_LINE
        {
            return Err(HandleError::TooLong { len: text.len() });
        }
        self.send(Request::Input(input))
    }

    /// Sends what [`crate::command::parse_line`] (or
    /// [`crate::command::parse_command`]) made of a line: the input, as
    /// [`Handle::send_input`] does, or the mistake, which comes back as
    /// [`Event::Error`] in order with the node's other events, as it would from
    /// [`Handle::send_line`]. Never blocks.
    pub fn send_parsed(&self, parsed: Result<Input, String>) -> Result<(), HandleError> {
        match parsed {
            Ok(input) => self.send_input(input),
            Err(mistake) => self.send(Request::Mistake(mistake)),
        }
    }

    /// Opens a link to another node, like `:connect HOST PORT`; a failure comes
    /// back as [`Event::Error`]. Never blocks (host names are resolved off the
    /// network thread's loop).
    pub fn connect(&self, to: PeerAddr) -> Result<(), HandleError> {
        self.send(Request::Input(Input::Connect(to)))
    }

    /// Quits like `:quit` (queued messages and goodbyes are flushed, for at most
    /// about a second) and waits for the network thread to end. Idempotent. Called
    /// on the network thread (from the callback), it only requests the stop.
    pub fn stop(&self) {
        self.inner.request_stop();
        self.join();
    }

    /// A reference that does not keep the node alive ([`crate::signals`] keeps
    /// these).
    pub(crate) fn downgrade(&self) -> WeakHandle {
        WeakHandle(Arc::downgrade(&self.inner))
    }

    /// Waits for the network thread to end (after the user typed `:quit`, say).
    /// Idempotent. Called on the network thread, it returns at once.
    pub fn join(&self) {
        if std::thread::current().id() == self.inner.thread_id {
            return;
        }
        // Holding the lock while joining makes concurrent callers wait too.
        let mut thread = self.inner.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
    }

    /// True until the node has stopped (it is false from [`Event::Stopped`] on).
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::SeqCst)
    }

    fn send(&self, request: Request) -> Result<(), HandleError> {
        if self.inner.stop_requested.load(Ordering::SeqCst) || !self.is_running() {
            return Err(HandleError::Stopped);
        }
        let tx = self.inner.tx.as_ref().ok_or(HandleError::Stopped)?;
        tx.send(request).map_err(|_| HandleError::Stopped)?;
        // If the wake fails, the request still runs at the node's next tick.
        let _ = self.inner.waker.wake();
        Ok(())
    }
}

impl Inner {
    /// Asks the network thread to quit like `:quit`, without waiting. Idempotent.
    fn request_stop(&self) {
        if !self.stop_requested.swap(true, Ordering::SeqCst)
            && let Some(tx) = &self.tx
            && tx.send(Request::Stop).is_ok()
        {
            let _ = self.waker.wake();
        }
    }
}

/// A [`Handle`] that does not keep its node alive.
#[derive(Clone)]
pub(crate) struct WeakHandle(std::sync::Weak<Inner>);

impl WeakHandle {
    /// Asks the node to quit like `:quit`, without waiting; false if it is gone.
    pub(crate) fn request_stop(&self) -> bool {
        match self.0.upgrade() {
            Some(inner) => {
                inner.request_stop();
                true
            }
            None => false,
        }
    }

    /// True while some [`Handle`] of the node exists.
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel tells the thread that nobody can stop it any more.
        drop(self.tx.take());
        let _ = self.waker.wake();
        if std::thread::current().id() != self.thread_id {
            let thread = self.thread.get_mut().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_can_be_shared_between_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Handle>();
        assert_eq!(HandleError::Stopped.to_string(), "the node has stopped");
        assert_eq!(HandleError::TooLong { len: 70000 }.to_string(), "the line is 70000 bytes long; the limit is 65536");
    }

    #[test]
    fn a_mistake_found_by_the_frontend_comes_back_in_order() {
        let mut config = Config::new("alice");
        config.bind = std::net::Ipv4Addr::LOCALHOST.into();
        config.port = 0;
        config.identity = crate::IdentitySource::Ephemeral;
        let (handle, events) = Handle::start_with_channel(&config).expect("the node starts");
        handle.send_parsed(Ok(Input::Help)).expect("running");
        handle.send_parsed(Err("that was wrong".into())).expect("running");
        handle.send_input(Input::Help).expect("running");
        let long = Input::Msg { name: "bob".into(), text: "x".repeat(MAX_LINE + 1) };
        assert_eq!(handle.send_input(long), Err(HandleError::TooLong { len: MAX_LINE + 1 }));
        handle.stop();
        let said: Vec<Event> = events
            .iter()
            .filter(|e| matches!(e, Event::Error(_)) || matches!(e, Event::Notice(t) if t.starts_with(":help")))
            .collect();
        let help = Event::Notice(crate::command::HELP[1].to_owned());
        assert_eq!(said, [help.clone(), Event::Error("that was wrong".into()), help]);
    }
}
