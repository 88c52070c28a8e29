//! The C ABI of p2pchat: a thin shim over [`p2pchat_core::Handle`].
//!
//! C sees opaque handles (`p2pchat_config`, `p2pchat_node`), numbered status codes
//! ([`p2pchat_status`]), and event callbacks that take `userdata` first. All chat
//! logic stays in the core; this crate only converts between C and Rust values,
//! keeps panics from crossing the boundary and enforces the callback rules.
//!
//! The header `include/p2pchat.h` is generated from this crate by cbindgen (see
//! `cbindgen.toml`); `tests/header.rs` fails when it drifts from the code, and
//! `UPDATE_HEADER=1 cargo test -p p2pchat-ffi --test header` rewrites it. The doc
//! comments of the exported items are copied into the header, so they are written
//! for C programmers.
//!
//! Every `unsafe` block of the project lives in this crate.

// The exported types carry their C names (`p2pchat_node`), as cbindgen copies them.
#![allow(non_camel_case_types)]
// Every unsafe block says why it is sound; every unsafe export says what it needs.
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod config;
mod error;
mod event;
mod node;
mod status;

pub use config::{p2pchat_config, p2pchat_mode, p2pchat_text_clients};
pub use event::{p2pchat_event, p2pchat_event_cb, p2pchat_event_kind};
pub use node::p2pchat_node;
pub use status::p2pchat_status;

use std::ffi::{c_char, c_int};

use crate::error::{last_error_ptr, set_last_error, value_boundary};

/// The library's version, such as "0.1.0": a static NUL-terminated string, never NULL.
/// Never fails; may be called at any time from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn p2pchat_version() -> *const c_char {
    const VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// A short English description of the status `code`, as a static NUL-terminated
/// string (never NULL, never to be freed). `code` is a plain int so that any value
/// may be passed: numbers that are not a `p2pchat_status` give "unknown status code".
/// Never fails; may be called at any time from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn p2pchat_status_text(code: c_int) -> *const c_char {
    match p2pchat_status::from_code(code) {
        Some(status) => status.text().as_ptr(),
        None => c"unknown status code".as_ptr(),
    }
}

/// The message of the last call into the library on this thread that failed, as a
/// NUL-terminated UTF-8 string; "" if the last status-returning call succeeded.
/// For example "cannot listen on 0.0.0.0:4000: Address in use (os error 98)".
///
/// The string belongs to the library and stays valid until the next call into the
/// library on the same thread; copy it to keep it. Never NULL. Each thread has its
/// own last error, so calls on other threads do not change it.
#[unsafe(no_mangle)]
pub extern "C" fn p2pchat_last_error() -> *const c_char {
    value_boundary!(c"".as_ptr(), { last_error_ptr() })
}

/// The message a terminal frontend prints on stderr, after "p2pchat: ", when it
/// cannot drive the terminal; it says why and ends with a hint to use --headless or
/// --json. Print it and exit with status 1 rather than start a node. For example
/// "TERM is not set, so the terminal cannot be driven; use --headless or --json
/// otherwise".
///
/// `is_terminal` false: standard input or output is not a terminal (`term` is then
/// not read). Otherwise `term` is the value of TERM: NULL or "" when TERM is unset,
/// else a terminal type that the terminal database does not know (setupterm()
/// failed for it).
///
/// The string is kept like p2pchat_last_error()'s (it becomes the thread's last
/// error): valid until the next call into the library on this thread. Never NULL.
///
/// # Safety
/// `term` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_terminal_error(is_terminal: bool, term: *const c_char) -> *const c_char {
    use p2pchat_core::cli::{TerminalProblem, terminal_error};
    value_boundary!(c"".as_ptr(), {
        let problem = if !is_terminal {
            TerminalProblem::NotATerminal
        } else if term.is_null() {
            TerminalProblem::TermUnset
        } else {
            // SAFETY: not NULL, and the caller promises a NUL-terminated string.
            let bytes = unsafe { std::ffi::CStr::from_ptr(term) }.to_string_lossy();
            if bytes.is_empty() {
                TerminalProblem::TermUnset
            } else {
                set_last_error(&terminal_error(TerminalProblem::UnknownTerm(&bytes)));
                return last_error_ptr();
            }
        };
        set_last_error(&terminal_error(problem));
        last_error_ptr()
    })
}

/// Makes SIGTERM, SIGHUP and SIGINT quit every node of the process like ":quit":
/// each node says goodbye (its peers see it leave rather than lose contact) and
/// stops, and its P2PCHAT_EVENT_KIND_STOPPED event arrives as after ":quit", so the
/// program leaves the usual way (restoring its terminal) and exits normally. Nodes
/// created later are watched too; one created after a signal quits at once.
///
/// Call it once, early: before curses starts (ui_init()), because curses installs
/// handlers of its own for signals still at their default. Calling it again does
/// nothing. p2pchat_run_headless() calls it itself. The handlers run no code of the
/// program's: a thread of the library waits for the signals.
///
/// Returns P2PCHAT_STATUS_OK, or P2PCHAT_STATUS_IO_ERROR if the handlers could not
/// be installed (see p2pchat_last_error()).
#[unsafe(no_mangle)]
pub extern "C" fn p2pchat_quit_on_signals() -> p2pchat_status {
    error::status_boundary!({ p2pchat_core::signals::quit_on_signals().map_err(error::Error::from) })
}
