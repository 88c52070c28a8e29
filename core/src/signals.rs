//! SIGTERM, SIGHUP and SIGINT quit the node like `:quit`, for every frontend.
//!
//! A signal that would otherwise kill the program mid-way (peers would see "lost
//! contact" instead of "left", and a curses screen would be left behind) becomes a
//! normal quit: the node says goodbye and stops, its [`Event::Stopped`] reaches the
//! frontend, which leaves as after `:quit` (restoring the terminal) with status 0.
//!
//! A frontend calls [`quit_on_signals`] once, early: before curses starts, since
//! curses installs handlers of its own for signals still at their default (and
//! leaves alone those already handled). From then on every node started by
//! [`Handle::start`] in the process is asked to quit when one of the signals
//! arrives; a node started after a signal quits at once. The handlers are
//! signal-hook's (no unsafe code here): a thread of its own, `p2pchat-signals`,
//! waits for the signals and asks each node to stop, without blocking on it.
//!
//! On platforms other than Unix, [`quit_on_signals`] does nothing.
//!
//! [`Event::Stopped`]: crate::Event::Stopped

use std::io;
use std::sync::{Mutex, PoisonError};

use crate::handle::{Handle, WeakHandle};

/// The nodes to stop on a signal, and whether one arrived.
struct Watched {
    nodes: Vec<WeakHandle>,
    signalled: bool,
}

static WATCHED: Mutex<Watched> = Mutex::new(Watched { nodes: Vec::new(), signalled: false });

/// Whether the handlers are installed (or why they could not be).
static INSTALLED: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Makes SIGTERM, SIGHUP and SIGINT quit every node of the process like `:quit`
/// (see the [module documentation](self)). Idempotent; an error (the thread or the
/// handlers could not be set up) is returned by every call.
pub fn quit_on_signals() -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    let result = installed.get_or_insert_with(|| install().map_err(|e| e.to_string()));
    result.clone().map_err(|e| io::Error::other(format!("cannot handle SIGTERM, SIGHUP and SIGINT: {e}")))
}

#[cfg(unix)]
fn install() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new().name("p2pchat-signals".into()).spawn(move || {
        // Lives as long as the process; each signal asks every node to quit.
        for _ in signals.forever() {
            signalled();
        }
    })?;
    Ok(())
}

#[cfg(not(unix))]
fn install() -> io::Result<()> {
    Ok(())
}

/// A signal arrived: every node quits, and so will any started later.
fn signalled() {
    let mut watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
    watched.signalled = true;
    watched.nodes.retain(WeakHandle::request_stop);
}

/// Called by [`Handle::start`]: `handle`'s node quits on the next signal (at once
/// if one has already arrived).
pub(crate) fn watch(handle: &Handle) {
    let weak = handle.downgrade();
    let mut watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
    if watched.signalled {
        weak.request_stop();
        return;
    }
    // Nodes already dropped are forgotten here, so the list stays short.
    watched.nodes.retain(WeakHandle::is_alive);
    watched.nodes.push(weak);
}
