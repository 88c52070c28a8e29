//! `p2pchat_node`: a running node, and the rules that keep its callback safe.
//!
//! The C callback sits in a `Mutex<Option<Callback>>`. The network thread holds
//! that lock for each call, and `p2pchat_node_free` (on another thread) takes it and
//! empties it before it stops the node: once the lock is taken, the callback has
//! returned, and it is never called again.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};

use p2pchat_core::command::{self, Input, parse_command};
use p2pchat_core::handle::MAX_LINE;
use p2pchat_core::node::too_long;
use p2pchat_core::wire::MAX_TEXT;
use p2pchat_core::{Event, Handle, HandleError};

use crate::config::{p2pchat_config, peer_addr};
use crate::error::{Error, ignore_sigpipe, status_boundary, str_arg, value_boundary};
use crate::event::{EventStrings, p2pchat_event, p2pchat_event_cb};
use crate::status::p2pchat_status;

/// A running node (opaque): it listens, links to peers and relays messages on a
/// network thread of its own. Create it with `p2pchat_node_new()`, free it with
/// `p2pchat_node_free()`. Every function taking a node, except `p2pchat_node_free()`,
/// may be called from any thread, concurrently.
pub struct p2pchat_node {
    handle: Handle,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for p2pchat_node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("p2pchat_node").field("handle", &self.handle).finish_non_exhaustive()
    }
}

/// The C callback and its userdata.
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, *const p2pchat_event),
    userdata: *mut c_void,
}

// SAFETY: `p2pchat_node_new` documents that the callback is called with `userdata`
// on the network thread; by passing them, the C caller promises that this is fine.
unsafe impl Send for Callback {}

/// What the node's handle and its network thread share.
struct Shared {
    /// The callback; `None` once `p2pchat_node_free` started (or none was given).
    callback: Mutex<Option<Callback>>,
    /// The network thread, known from the first event on.
    net_thread: OnceLock<ThreadId>,
    /// Set when `p2pchat_node_free` was called from the callback itself.
    disabled: AtomicBool,
    /// The node freed from inside its own callback, dropped when that call returns.
    orphan: Mutex<Option<Box<p2pchat_node>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock changes nothing that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Passes `event` to the C callback, if there still is one. Runs on the network
    /// thread.
    fn dispatch(&self, event: &Event) {
        let _ = self.net_thread.get_or_init(|| thread::current().id());
        let (strings, fields) = EventStrings::new(event);
        let view = strings.view(&fields);
        let guard = lock(&self.callback);
        if self.disabled.load(Ordering::SeqCst) {
            return;
        }
        if let Some(callback) = guard.as_ref() {
            // SAFETY: the function and userdata are what the caller of
            // `p2pchat_node_new` gave for this; `view` and the strings it points to
            // live until the call returns; the lock keeps calls one at a time and
            // keeps `p2pchat_node_free` from returning meanwhile.
            unsafe { (callback.function)(callback.userdata, &view) };
        }
        drop(guard);
        if self.disabled.load(Ordering::SeqCst) {
            // Freed from inside the callback: release it now that the call is over.
            // Dropping the handle here does not wait for this very thread.
            let orphan = lock(&self.orphan).take();
            drop(orphan);
        }
    }
}

/// The node behind `node`.
///
/// # Safety
/// `node` is NULL or a live node.
unsafe fn node_ref<'a>(node: *const p2pchat_node) -> Result<&'a p2pchat_node, Error> {
    // SAFETY: the caller promises NULL or a live node.
    unsafe { node.as_ref() }.ok_or_else(|| Error::null("node"))
}

/// Starts a node: binds its listening socket, starts its network thread, and joins
/// the peers the configuration names (in the background: a failure there is an
/// ERROR event). Returns once the node listens. `cfg` is only read during the call.
///
/// `cb` (may be NULL: events are then dropped) is called with `userdata` for every
/// event, on the network thread, one call at a time, and never after
/// `p2pchat_node_free()` has returned; see `p2pchat_event_cb` for what it may do.
/// `userdata` is passed through untouched, so it must be usable from that thread.
/// The first event, LISTENING, may arrive before this function has returned (and
/// so before `*out` is written).
///
/// On success `*out` receives the node, owned by the caller: free it with
/// `p2pchat_node_free()`. When binding fails (the port is in use, say),
/// `P2PCHAT_STATUS_IO_ERROR`, and `p2pchat_last_error()` says why; a log file that
/// cannot be opened is an I/O error too.
///
/// # Safety
/// `cfg` is NULL or a live configuration; `out` is NULL or writable; `cb`, if not
/// NULL, is a function that may be called as described with `userdata`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_new(
    cfg: *const p2pchat_config,
    cb: p2pchat_event_cb,
    userdata: *mut c_void,
    out: *mut *mut p2pchat_node,
) -> p2pchat_status {
    status_boundary!({
        ignore_sigpipe();
        // SAFETY: the caller promises NULL or a live configuration.
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| Error::null("cfg"))?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let shared = Arc::new(Shared {
            callback: Mutex::new(cb.map(|function| Callback { function, userdata })),
            net_thread: OnceLock::new(),
            disabled: AtomicBool::new(false),
            orphan: Mutex::new(None),
        });
        let for_thread = Arc::clone(&shared);
        let handle = Handle::start(&cfg.config, move |event| {
            // A panic here would end the network thread; drop the event instead.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| for_thread.dispatch(event)));
        })?;
        let node = Box::into_raw(Box::new(p2pchat_node { handle, shared }));
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(node) };
        Ok(())
    })
}

/// Types `line` into the chat, exactly as a user would: a chat message for everyone,
/// or a command if it starts with ':' or '/' (`:quit`, `:msg NAME TEXT`, ...; a
/// doubled prefix sends the line literally). Never blocks: the line is queued for
/// the network thread, so it is safe from the lab UI's input callback and from the
/// event callback. A chat or private text over 4096 bytes is refused at once with
/// `P2PCHAT_STATUS_TOO_LONG` and nothing is sent (`p2pchat_last_error()` says
/// "message not sent: it is N bytes long; the limit is 4096 bytes"), so a UI can
/// keep the text for editing; so is a line over 64 KiB. Other mistakes in the line
/// (an unknown command, say) come back as ERROR events. `P2PCHAT_STATUS_STOPPED`
/// once the node has stopped or is stopping.
///
/// # Safety
/// `node` is NULL or a live node; `line` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_send(node: *const p2pchat_node, line: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let node = unsafe { node_ref(node) }?;
        // SAFETY: forwarded from the caller's promise.
        let line = unsafe { str_arg(line, "line") }?;
        if line.len() > MAX_LINE {
            return Err(HandleError::TooLong { len: line.len() }.into());
        }
        let parsed = command::parse_line(line);
        if let Ok(Input::Chat(text) | Input::Msg { text, .. }) = &parsed
            && text.len() > MAX_TEXT
        {
            return Err(Error::new(p2pchat_status::TooLong, too_long(Some(text.len()))));
        }
        node.handle.send_parsed(parsed)?;
        Ok(())
    })
}

/// Runs a command, such as "peers", "users" or "connect 127.0.0.1 4000": the same as
/// typing it with its ':' prefix, which may be given or left out (":peers", "/peers"
/// and "peers" are the same). A doubled prefix ("::x", ":/x") is a chat line, not a
/// command: `P2PCHAT_STATUS_INVALID_ARGUMENT`. Otherwise as `p2pchat_node_send()`:
/// never blocks, `P2PCHAT_STATUS_TOO_LONG` for a command over 64 KiB, and an unknown
/// or malformed command comes back as an ERROR event (worded with ':', whatever
/// prefix was given).
///
/// # Safety
/// `node` is NULL or a live node; `command` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_command(node: *const p2pchat_node, command: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let node = unsafe { node_ref(node) }?;
        // SAFETY: forwarded from the caller's promise.
        let command = unsafe { str_arg(command, "command") }?;
        // The same limit as for a line given to `p2pchat_node_send()`.
        if command.len() > MAX_LINE {
            return Err(HandleError::TooLong { len: command.len() }.into());
        }
        let Some(parsed) = parse_command(command) else {
            return Err(Error::invalid(format!(
                "{:?} is a chat line (doubled prefix), not a command",
                command.trim_start()
            )));
        };
        node.handle.send_parsed(parsed)?;
        Ok(())
    })
}

/// Opens a link to another node, like `:connect HOST PORT`. `host` is a host name or
/// an IP address; `port` 1 to 65535 (`P2PCHAT_STATUS_INVALID_ARGUMENT` otherwise).
/// Never blocks: names are resolved and the connection is made in the background,
/// and a failure comes back as an ERROR event.
///
/// # Safety
/// `node` is NULL or a live node; `host` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_connect(
    node: *const p2pchat_node,
    host: *const c_char,
    port: u16,
) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let node = unsafe { node_ref(node) }?;
        // SAFETY: forwarded from the caller's promise.
        let to = peer_addr(unsafe { str_arg(host, "host") }?, port)?;
        node.handle.connect(to)?;
        Ok(())
    })
}

/// Stores the port the node listens on in `*out` (also after it stopped).
///
/// # Safety
/// `node` is NULL or a live node; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_port(node: *const p2pchat_node, out: *mut u16) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let node = unsafe { node_ref(node) }?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(node.handle.port()) };
        Ok(())
    })
}

/// Stores the node's id (random for each start; shown in hex in JSON events, and
/// passed as `p2pchat_event.id`) in `*out`.
///
/// # Safety
/// `node` is NULL or a live node; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_id(node: *const p2pchat_node, out: *mut u64) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let node = unsafe { node_ref(node) }?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(node.handle.id().prefix()) };
        Ok(())
    })
}

/// True until the node has stopped (false from the STOPPED event on); false for NULL.
///
/// # Safety
/// `node` is NULL or a live node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_is_running(node: *const p2pchat_node) -> bool {
    value_boundary!(false, {
        // SAFETY: the caller promises NULL or a live node.
        unsafe { node.as_ref() }.is_some_and(|node| node.handle.is_running())
    })
}

/// Quits, like typing `:quit` (queued messages and goodbyes are sent, for at most
/// about a second), and waits until the network thread has ended; the callback
/// receives the last events, STOPPED included, before this returns. Idempotent: a
/// stopped node stays stopped. From inside the callback it only requests the stop
/// and returns at once. Do not call it while holding a lock that the callback
/// takes (the lab UI's lock, say): the callback may be waiting for it.
///
/// # Safety
/// `node` is NULL or a live node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_stop(node: *mut p2pchat_node) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        unsafe { node_ref(node) }?.handle.stop();
        Ok(())
    })
}

/// Waits until the node has stopped by itself (the user typed `:quit`, say) or was
/// stopped by `p2pchat_node_stop()` on another thread. Idempotent. From inside the
/// callback it returns at once. The same caution about locks as for
/// `p2pchat_node_stop()` applies.
///
/// # Safety
/// `node` is NULL or a live node.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_wait(node: *mut p2pchat_node) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        unsafe { node_ref(node) }?.handle.join();
        Ok(())
    })
}

/// Frees a node: no callback runs after this returns, the node is stopped if it
/// still runs (without telling the callback: call `p2pchat_node_stop()` first to
/// receive the last events), and its network thread has ended. NULL is a no-op.
/// Must not be called twice on the same node, and `node` must not be used
/// afterwards. Waits for a callback in progress to return, so do not call it while
/// holding a lock that the callback takes.
///
/// Called from inside the node's own callback (which is a mistake: the callback
/// cannot wait for itself), it does not deadlock: it requests the stop, no further
/// callback runs, and the node is released when the current callback returns.
///
/// # Safety
/// `node` is NULL or a node from `p2pchat_node_new()` not yet freed, which no other
/// thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_node_free(node: *mut p2pchat_node) {
    value_boundary!((), {
        if node.is_null() {
            return;
        }
        // SAFETY: the caller promises a node made by `p2pchat_node_new`
        // (Box::into_raw), not freed yet and not used by another thread.
        let node = unsafe { Box::from_raw(node) };
        let shared = Arc::clone(&node.shared);
        if shared.net_thread.get() == Some(&thread::current().id()) {
            // Inside the callback: its lock is held further up this very stack.
            shared.disabled.store(true, Ordering::SeqCst);
            node.handle.stop(); // on the network thread this only requests the stop
            *lock(&shared.orphan) = Some(node);
            return;
        }
        // Waits for a callback in progress; none starts after this.
        lock(&shared.callback).take();
        node.handle.stop();
        drop(node);
    })
}
