//! Status codes: one enum with stable numbers, and their static texts.

use std::ffi::{CStr, c_int};

/// What a call did. The numbers are stable: a retired number is never reused, and
/// new codes may be added, so treat unknown numbers as errors.
///
/// Functions that return a status write their out-parameters only when they return
/// `P2PCHAT_STATUS_OK`; on any other status the out-parameters are untouched and
/// `p2pchat_last_error()` tells more.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2pchat_status {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// A name is not 1 to 32 bytes of UTF-8 without whitespace or control characters.
    InvalidName = 3,
    /// Another argument is out of range or malformed (an address, a host, a port, a mode).
    InvalidArgument = 4,
    /// An operating-system error, such as an address already in use when binding.
    IoError = 5,
    /// The node has stopped (or is stopping) and takes no more input.
    Stopped = 6,
    /// An internal error: a Rust panic was caught at the boundary. Please report it.
    Panic = 7,
    /// A string argument is longer than the library accepts.
    TooLong = 8,
    /// `p2pchat_config_from_args()` printed the help to stdout: exit with status 0.
    Help = 9,
    /// `p2pchat_config_from_args()` printed the version to stdout: exit with status 0.
    Version = 10,
    /// `p2pchat_config_from_args()` found a bad command line and printed why to
    /// stderr: exit with status 2.
    Usage = 11,
    /// A key or secret file cannot be used: it cannot be read, it is empty or not in
    /// its format, or (on Unix) its group or others may read or write it.
    /// `p2pchat_last_error()` names the file, says which, and how to fix it.
    BadFile = 12,
}

impl p2pchat_status {
    /// The status with this number, if there is one.
    pub(crate) fn from_code(code: c_int) -> Option<Self> {
        use p2pchat_status::*;
        Some(match code {
            0 => Ok,
            1 => NullArgument,
            2 => InvalidUtf8,
            3 => InvalidName,
            4 => InvalidArgument,
            5 => IoError,
            6 => Stopped,
            7 => Panic,
            8 => TooLong,
            9 => Help,
            10 => Version,
            11 => Usage,
            12 => BadFile,
            _ => return None,
        })
    }

    /// A short static description.
    pub(crate) fn text(self) -> &'static CStr {
        use p2pchat_status::*;
        match self {
            Ok => c"success",
            NullArgument => c"a required pointer argument is NULL",
            InvalidUtf8 => c"a string argument is not valid UTF-8",
            InvalidName => c"invalid name: 1 to 32 bytes of UTF-8, no whitespace or control characters",
            InvalidArgument => c"invalid argument",
            IoError => c"input/output error",
            Stopped => c"the node has stopped",
            Panic => c"internal error (a panic was caught)",
            TooLong => c"a string argument is too long",
            Help => c"the help was printed",
            Version => c"the version was printed",
            Usage => c"bad command line",
            BadFile => c"a key or secret file cannot be used",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_maps_back_to_its_status() {
        for code in 0..=12 {
            let status = p2pchat_status::from_code(code).expect("a known code");
            assert_eq!(status as c_int, code);
        }
        assert_eq!(p2pchat_status::from_code(13), None);
        assert_eq!(p2pchat_status::from_code(-1), None);
    }
}
