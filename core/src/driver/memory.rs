//! The driver's side of guarantee 12: which store a node gets (if any), what it
//! starts from, and moving the node's records to the store's writer thread each
//! turn without ever blocking the loop.
//!
//! A node saves nothing when it runs with `--ephemeral` or as a temporary member
//! (its identity was in use), or when its store cannot be opened (it is told why,
//! and chats on). Otherwise its store is `DATA_DIR/history.db` ([`HISTORY_FILE`]).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::Waker;

use super::store::{Db, HISTORY_FILE, OpenError, Report, Writer};
use crate::config::Config;
use crate::identity::{self, Acquired};
use crate::memory::{FrameQuery, Query, SCREENFUL, Saved, Stored};
use crate::node::Node;

/// Messages kept in the driver while the writer's queue is full; past this the
/// newest records are dropped, and the user is told once.
const MAX_WAITING: usize = 200_000;

/// Records are handed to the writer thread at most this often (or when they
/// hold [`FLUSH_MESSAGES`]), not every loop turn: a lone message then costs the
/// network thread no wake-up of another thread, and the writer one commit per
/// interval, well within the second of guarantee 12.
pub const FLUSH_EVERY: Duration = Duration::from_millis(25);

/// Messages whose records are handed to the writer at once, without waiting
/// for [`FLUSH_EVERY`].
const FLUSH_MESSAGES: usize = 4096;

/// How long the loop waits for the writer to flush when the node stops.
pub const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// A running store: its writer thread, what it reports, and what waits for room
/// in its queue.
pub struct Memory {
    writer: Option<Writer>,
    reports: Receiver<Report>,
    waiting: Vec<Stored>,
    /// The messages in `waiting`.
    waiting_messages: usize,
    /// The user was told that records were dropped.
    told_dropped: bool,
    /// When records were last handed to the writer.
    flushed: Instant,
    /// Pages of catch-up the writer's full queue did not take yet (one per
    /// lagging neighbour at most).
    frames: Vec<FrameQuery>,
}

/// What [`open`] found: the store (None: nothing is saved in this run), what
/// the node starts from, and lines to show the user first.
pub struct Opened {
    pub memory: Option<Memory>,
    pub saved: Saved,
    pub notices: Vec<String>,
}

/// Opens the store of the member `identity` is, and loads what it saved.
pub fn open(config: &Config, identity: &Acquired, waker: &Arc<Waker>) -> Opened {
    let mut opened = Opened { memory: None, saved: Saved::default(), notices: Vec::new() };
    if !identity.is_saved() {
        // --ephemeral, or a temporary member: nothing is read or written.
        return opened;
    }
    let dir = match identity::data_dir(config).and_then(|d| identity::create_private_dir(&d).map(|()| d)) {
        Ok(dir) => dir,
        Err(e) => {
            opened.notices.push(format!("{e}; nothing is saved in this run"));
            return opened;
        }
    };
    let path = dir.join(HISTORY_FILE);
    let db = match Db::open(&path, config.keep) {
        Ok((db, notice)) => {
            opened.notices.extend(notice);
            db
        }
        Err(OpenError::InUse { pid, .. }) => {
            let by = pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}"));
            opened
                .notices
                .push(format!("the history in {} is in use by {by}; this run saves nothing", identity::shown(&dir)));
            return opened;
        }
        Err(e) => {
            opened.notices.push(format!("{e}; nothing is saved in this run (chat goes on)"));
            return opened;
        }
    };
    match db.load(config.history, SCREENFUL) {
        Ok(saved) => opened.saved = saved,
        Err(e) => opened.notices.push(format!("could not read the saved history: {e}; starting without it")),
    }
    let wake = Arc::clone(waker);
    match Writer::spawn(db, Box::new(move || drop(wake.wake()))) {
        Ok((writer, reports)) => {
            opened.memory = Some(Memory {
                writer: Some(writer),
                reports,
                waiting: Vec::new(),
                waiting_messages: 0,
                told_dropped: false,
                flushed: Instant::now(),
                frames: Vec::new(),
            })
        }
        Err(e) => opened.notices.push(format!("could not start saving history: {e}; nothing is saved in this run")),
    }
    opened
}

impl Memory {
    /// Takes the node's new records, stamped with the time they were shown, and
    /// hands what waits to the writer when [`FLUSH_EVERY`] has passed or
    /// [`FLUSH_RECORDS`] wait. Never blocks: when the writer's queue is full the
    /// records wait here (bounded) for a later turn.
    pub fn save(&mut self, node: &mut Node, now: Instant) {
        self.take(node);
        if self.waiting_messages >= FLUSH_MESSAGES
            || now.saturating_duration_since(self.flushed) >= FLUSH_EVERY
            || !self.frames.is_empty()
        {
            self.flush(now);
            self.ask_frames();
        }
    }

    /// When [`Memory::save`] next has something to hand over (None: nothing waits).
    pub fn deadline(&self) -> Option<Instant> {
        (!self.waiting.is_empty() || !self.frames.is_empty()).then(|| self.flushed + FLUSH_EVERY)
    }

    /// A page of saved chat for a lagging neighbour, asked of the writer in
    /// order with the writes (what the node showed before is in it); while the
    /// writer's queue is full it waits here, tried again each turn.
    pub fn frames(&mut self, query: FrameQuery, node: &mut Node) {
        self.take(node);
        self.flush(Instant::now());
        self.frames.push(query);
        self.ask_frames();
    }

    fn ask_frames(&mut self) {
        let Some(writer) = &self.writer else {
            self.frames.clear();
            return;
        };
        while let Some(q) = self.frames.pop() {
            if let Err(q) = writer.frames(q) {
                self.frames.push(q);
                return;
            }
        }
    }

    /// Takes the node's new records, stamped with the time they were shown.
    fn take(&mut self, node: &mut Node) {
        let before = self.waiting.len();
        node.take_stored(&mut self.waiting);
        if self.waiting.len() > before {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            for r in &mut self.waiting[before..] {
                r.stamp(now);
                self.waiting_messages += r.messages();
            }
        }
        if self.waiting_messages > MAX_WAITING {
            // The newest messages go, down to the bound; marks and the member's
            // standing stay.
            let mut extra = 0;
            let mut i = self.waiting.len();
            while self.waiting_messages > MAX_WAITING && i > 0 {
                i -= 1;
                let n = self.waiting[i].messages();
                if n > 0 {
                    self.waiting.remove(i);
                    self.waiting_messages -= n;
                    extra += n;
                }
            }
            if !self.told_dropped {
                node.notice(format!(
                    "the disk is slower than the chat: {extra} or more messages were not saved (chat goes on)"
                ));
            }
            self.told_dropped = true;
        }
    }

    /// Tries to hand what waits to the writer.
    fn flush(&mut self, now: Instant) {
        self.flushed = now;
        let Some(writer) = &self.writer else { return };
        if self.waiting.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.waiting);
        match writer.save(records) {
            Ok(()) => self.waiting_messages = 0,
            Err(back) => self.waiting = back,
        }
    }

    /// `:history` or `:search`, for the writer thread (in order with the writes).
    pub fn ask(&mut self, query: Query, node: &mut Node) {
        // What the node showed before the question is in the answer.
        self.take(node);
        self.flush(Instant::now());
        let Some(writer) = &self.writer else { return };
        if let Err(query) = writer.ask(query) {
            node.show_saved(&query, Err("the store is busy; try again in a moment".to_owned()));
        }
    }

    /// What the writer reported: answers and failures, to the node.
    pub fn drain(&mut self, node: &mut Node, now: Instant) {
        loop {
            match self.reports.try_recv() {
                Ok(Report::Frames(page)) => node.handle_frames(page, now),
                Ok(Report::Answer { query, lines }) => node.show_saved(&query, Ok(lines)),
                Ok(Report::Failed(text) | Report::Recovered(text)) => node.notice(text),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    if self.writer.take().is_some() {
                        node.notice("saving history stopped unexpectedly; chat goes on".to_owned());
                    }
                    return;
                }
            }
        }
    }

    /// Flushes everything to the writer and waits (bounded) for it to finish.
    pub fn close(&mut self, node: &mut Node) {
        self.take(node);
        self.flush(Instant::now());
        // What the full queue did not take is lost with the process.
        if let Some(writer) = self.writer.take() {
            writer.close(CLOSE_WAIT);
        }
    }
}
