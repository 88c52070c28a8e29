//! Where the driver's events go: to the frontend's callback one at a time, or
//! collected over a loop turn and handed over together.
//!
//! Batches are for frontends that pay per call rather than per event: the
//! `--headless` and `--json` output writes what one turn produced with one
//! `write` (and one flush) instead of one per line, which is most of what a node
//! spends on a flood it only displays. A batch is handed over at the end of every
//! loop turn, after every [`MAX_PENDING`] events, and before a long piece of work
//! inside a turn (the driver calls [`Sink::flush`]), so a batch never waits for
//! more input and never grows without bound.

use crate::event::Event;

/// Most events held before a batch is handed over even in the middle of a turn.
pub const MAX_PENDING: usize = 1024;

/// A callback for events one at a time.
pub type EachFn = Box<dyn FnMut(&Event) + Send>;
/// A callback for batches of events.
pub type BatchFn = Box<dyn FnMut(&[Event]) + Send>;

/// The frontend's side of the event stream.
pub enum Sink {
    /// One call per event.
    Each(EachFn),
    /// One call per turn (or per [`MAX_PENDING`] events), with the events in order.
    Batched {
        /// The frontend's callback.
        deliver: BatchFn,
        /// What this turn produced so far.
        pending: Vec<Event>,
    },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Each(_) => f.write_str("Sink::Each"),
            Sink::Batched { pending, .. } => write!(f, "Sink::Batched({} pending)", pending.len()),
        }
    }
}

impl Sink {
    /// A sink that collects events over a turn.
    pub fn batched(deliver: BatchFn) -> Sink {
        Sink::Batched { deliver, pending: Vec::new() }
    }

    /// Delivers an event now, or adds it to the batch.
    pub fn emit(&mut self, event: Event) {
        match self {
            Sink::Each(f) => f(&event),
            Sink::Batched { pending, .. } => {
                pending.push(event);
                if pending.len() >= MAX_PENDING {
                    self.flush();
                }
            }
        }
    }

    /// Hands over what is batched (nothing to do for [`Sink::Each`]).
    pub fn flush(&mut self) {
        if let Sink::Batched { deliver, pending } = self
            && !pending.is_empty()
        {
            deliver(pending);
            pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn recorder() -> (Arc<Mutex<Vec<Vec<String>>>>, Sink) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = Arc::clone(&calls);
        let sink = Sink::batched(Box::new(move |evs: &[Event]| {
            let texts = evs.iter().map(|e| e.to_line().unwrap_or_default()).collect();
            c.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(texts);
        }));
        (calls, sink)
    }

    #[test]
    fn a_batch_is_handed_over_in_order_only_when_flushed() {
        let (calls, mut sink) = recorder();
        sink.emit(Event::Notice("one".into()));
        sink.emit(Event::Notice("two".into()));
        assert!(calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty());
        sink.flush();
        sink.flush();
        let calls = calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        assert_eq!(calls, [vec!["INFO: one".to_owned(), "INFO: two".to_owned()]]);
    }

    #[test]
    fn a_batch_never_holds_more_than_max_pending() {
        let (calls, mut sink) = recorder();
        for k in 0..MAX_PENDING * 2 + 1 {
            sink.emit(Event::Notice(k.to_string()));
        }
        let sizes: Vec<usize> =
            calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_PENDING, MAX_PENDING]);
    }
}
