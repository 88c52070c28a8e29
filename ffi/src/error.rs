//! What every export shares: errors mapped to status codes, the thread's last
//! error message, the panic boundary, C string arguments, and SIGPIPE.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};

use crate::status::p2pchat_status;

/// A failed call: the status returned to C and a message for `p2pchat_last_error()`.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) status: p2pchat_status,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: p2pchat_status, message: impl Into<String>) -> Self {
        Error { status, message: message.into() }
    }

    /// A NULL pointer where one was required; `what` names the argument.
    pub(crate) fn null(what: &str) -> Self {
        Error::new(p2pchat_status::NullArgument, format!("{what} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(p2pchat_status::InvalidArgument, message)
    }
}

impl From<p2pchat_core::HandleError> for Error {
    fn from(e: p2pchat_core::HandleError) -> Self {
        let status = match e {
            p2pchat_core::HandleError::Stopped => p2pchat_status::Stopped,
            p2pchat_core::HandleError::TooLong { .. } => p2pchat_status::TooLong,
        };
        Error::new(status, e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let status = match e.kind() {
            std::io::ErrorKind::InvalidInput => p2pchat_status::InvalidArgument,
            _ => p2pchat_status::IoError,
        };
        Error::new(status, e.to_string())
    }
}

thread_local! {
    /// The message of the last failed call on this thread ("" after a success).
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records the outcome of a call for `p2pchat_last_error()` and returns its status.
/// This is the one place where results become status codes.
pub(crate) fn finish(result: Result<(), Error>) -> p2pchat_status {
    match result {
        Ok(()) => {
            let _ = LAST_ERROR.try_with(|cell| cell.try_borrow_mut().map(|mut slot| *slot = None));
            p2pchat_status::Ok
        }
        Err(e) => {
            set_last_error(&e.message);
            e.status
        }
    }
}

/// Stores `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    let message = to_cstring(message);
    // `try_with`: the thread-local may already be gone while the thread exits.
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(message);
        }
    });
}

/// A pointer to this thread's last error message, valid until the next call into
/// the library on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|cell| match cell.try_borrow() {
            // The CString lives in the thread-local, which outlives the borrow: the
            // pointer stays valid until the slot is replaced by a later call.
            Ok(slot) => slot.as_deref().unwrap_or(c"").as_ptr(),
            Err(_) => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The message a panic carried, for `p2pchat_last_error()`.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    format!("internal error: a panic was caught at the C boundary: {detail}")
}

/// Runs the body of an export that returns a status, inside a panic boundary: the
/// body evaluates to `Result<(), Error>`; a panic becomes `P2PCHAT_STATUS_PANIC`.
macro_rules! status_boundary {
    ($body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> Result<(), $crate::error::Error> {
            $body
        })) {
            Ok(result) => $crate::error::finish(result),
            Err(payload) => {
                $crate::error::set_last_error(&$crate::error::panic_message(&*payload));
                $crate::status::p2pchat_status::Panic
            }
        }
    }};
}
pub(crate) use status_boundary;

/// Runs the body of an export that returns a plain value inside a panic boundary:
/// a panic returns `$fallback` (NULL, 0, -1, nothing).
macro_rules! value_boundary {
    ($fallback:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::error::set_last_error(&$crate::error::panic_message(&*payload));
                $fallback
            }
        }
    }};
}
pub(crate) use value_boundary;

/// A C string argument as `&str`. `what` names the argument in error messages.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string valid for 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        Error::new(p2pchat_status::InvalidUtf8, format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to()))
    })
}

/// `s` as a C string; interior NULs (which sanitised text never has) become U+FFFD
/// rather than truncating the string or failing.
pub(crate) fn to_cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        let cleaned = s.replace('\0', "\u{FFFD}");
        // No NUL is left, so this cannot fail; an empty string is the fallback anyway.
        CString::new(cleaned).unwrap_or_default()
    })
}

/// Ignores SIGPIPE, once per process, if its disposition is still the default.
///
/// The program's `main` is C, so Rust's own start-up (which ignores SIGPIPE) never
/// ran, and a write to a socket whose peer went away would kill the process with
/// status 141. A handler the program installed itself is left alone.
pub(crate) fn ignore_sigpipe() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: a zeroed `sigaction` is a valid value to be overwritten by the
            // query; `sigaction` with a NULL new action only reads the current one;
            // `signal` with SIG_IGN installs no Rust code as a handler.
            unsafe {
                let mut current: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut current) == 0
                    && current.sa_sigaction == libc::SIG_DFL
                {
                    libc::signal(libc::SIGPIPE, libc::SIG_IGN);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nuls_become_replacement_characters() {
        assert_eq!(to_cstring("a\0b").to_str().expect("utf-8"), "a\u{FFFD}b");
        assert_eq!(to_cstring("plain").to_str().expect("utf-8"), "plain");
    }

    #[test]
    fn a_panic_in_a_boundary_becomes_the_panic_status() {
        let status = status_boundary!({
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        });
        assert_eq!(status, p2pchat_status::Panic);
        // SAFETY: the pointer is this thread's last error, valid until the next call.
        let message = unsafe { CStr::from_ptr(last_error_ptr()) }.to_str().expect("utf-8").to_owned();
        assert!(message.contains("boom"), "{message}");
        assert_eq!(finish(Ok(())), p2pchat_status::Ok);
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(last_error_ptr()) }.to_bytes(), b"");
    }
}
