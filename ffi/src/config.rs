//! `p2pchat_config`: what a node starts with, built from a name and setters or from
//! the command line (the core's parser, shared by every frontend).

use std::ffi::{CStr, OsString, c_char, c_int};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use p2pchat_core::cli::{self, CliError};
use p2pchat_core::config::{Config, IdentitySource, Mode, PeerAddr, TextClients, validate_network};
use p2pchat_core::secret;
use p2pchat_core::wire::validate_name;

use crate::error::{Error, ignore_sigpipe, status_boundary, str_arg, value_boundary};
use crate::status::p2pchat_status;

/// The program name used in messages printed for the command line.
const PROGRAM: &str = "p2pchat";

/// A node's configuration (opaque). Create it with `p2pchat_config_new()` or
/// `p2pchat_config_from_args()`, adjust it with the `p2pchat_config_set_*()`
/// functions, pass it to `p2pchat_node_new()` or `p2pchat_run_headless()`, and free
/// it with `p2pchat_config_free()`. A configuration is not locked: do not change it
/// on one thread while another thread uses it.
pub struct p2pchat_config {
    pub(crate) config: Config,
}

impl std::fmt::Debug for p2pchat_config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.config.fmt(f)
    }
}

/// How the program presents the node, as returned by `p2pchat_config_mode()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2pchat_mode {
    /// The interactive terminal UI (the default).
    Ui = 0,
    /// `--headless`: lines on stdin, `NAME: TEXT` lines on stdout.
    Headless = 1,
    /// `--json`: lines on stdin, one JSON object per line on stdout.
    Json = 2,
}

impl From<Mode> for p2pchat_mode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Ui => p2pchat_mode::Ui,
            Mode::Headless => p2pchat_mode::Headless,
            Mode::Json => p2pchat_mode::Json,
        }
    }
}

/// Stores a new configuration in `*out`.
///
/// # Safety
/// `out` is NULL or valid for a write of a pointer.
unsafe fn store(out: *mut *mut p2pchat_config, config: Config) {
    let raw = Box::into_raw(Box::new(p2pchat_config { config }));
    // SAFETY: the caller checked that `out` is not NULL and promises it is writable.
    unsafe { out.write(raw) };
}

/// The configuration behind `cfg`, for changing it.
///
/// # Safety
/// `cfg` is NULL or a live configuration not used by another thread meanwhile.
unsafe fn config_mut<'a>(cfg: *mut p2pchat_config) -> Result<&'a mut Config, Error> {
    // SAFETY: the caller promises NULL or a live configuration, not shared meanwhile.
    unsafe { cfg.as_mut() }.map(|c| &mut c.config).ok_or_else(|| Error::null("cfg"))
}

/// Creates a configuration with every default (listen on all interfaces, on a port
/// chosen by the system; UI mode; no peers) and the member name `name`.
///
/// `name` must be 1 to 32 bytes of UTF-8 without whitespace or control characters:
/// otherwise `P2PCHAT_STATUS_INVALID_NAME` (or `P2PCHAT_STATUS_INVALID_UTF8`).
/// On success `*out` receives a configuration owned by the caller, to be freed with
/// `p2pchat_config_free()`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_new(name: *const c_char, out: *mut *mut p2pchat_config) -> p2pchat_status {
    status_boundary!({
        ignore_sigpipe();
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        validate_name(name).map_err(|e| Error::new(p2pchat_status::InvalidName, format!("invalid name: {e}")))?;
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { store(out, Config::new(name)) };
        Ok(())
    })
}

/// Parses a command line (`p2pchat [OPTIONS] NAME [HOST PORT]`, the same for every
/// p2pchat frontend) into a configuration.
///
/// `argv[0]` is the program name and is skipped; `argv[1]` to `argv[argc - 1]` are
/// parsed (`argv[argc]` is not read). On success `*out` receives a configuration
/// owned by the caller. Otherwise nothing is stored and:
/// - `--help`: the help is printed to stdout; returns `P2PCHAT_STATUS_HELP` (exit 0);
/// - `--version`: the version is printed to stdout; returns `P2PCHAT_STATUS_VERSION`
///   (exit 0);
/// - a bad command line (unknown option, bad name or port, an argument that is not
///   UTF-8, ...): `p2pchat: MESSAGE` and a hint are printed to stderr; returns
///   `P2PCHAT_STATUS_USAGE` (exit 2);
/// - `out` NULL, or `argv` or one of `argv[1..argc)` NULL: `P2PCHAT_STATUS_NULL_ARGUMENT`,
///   nothing printed; `argc` negative: `P2PCHAT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `argv` is NULL or points to `argc` pointers, each NULL or a NUL-terminated string;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_from_args(
    argc: c_int,
    argv: *const *const c_char,
    out: *mut *mut p2pchat_config,
) -> p2pchat_status {
    status_boundary!({
        ignore_sigpipe();
        if out.is_null() {
            return Err(Error::null("out"));
        }
        let count = usize::try_from(argc).map_err(|_| Error::invalid(format!("argc is negative ({argc})")))?;
        if count > 0 && argv.is_null() {
            return Err(Error::null("argv"));
        }
        let mut args = Vec::with_capacity(count.saturating_sub(1));
        for i in 1..count {
            // SAFETY: `argv` is not NULL and the caller promises `argc` readable pointers.
            let arg = unsafe { argv.add(i).read() };
            if arg.is_null() {
                return Err(Error::null(&format!("argv[{i}]")));
            }
            // SAFETY: not NULL, and the caller promises a NUL-terminated string.
            args.push(os_arg(unsafe { CStr::from_ptr(arg) }, i).map_err(reported)?);
        }
        let config = cli::parse_args(PROGRAM, args).map_err(reported)?;
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { store(out, config) };
        Ok(())
    })
}

/// Prints `e` the way every frontend does (help or version on stdout, a usage
/// error and the hint on stderr); the status to return.
fn reported(e: CliError) -> Error {
    e.report(PROGRAM);
    match e {
        CliError::Usage(message) => Error::new(p2pchat_status::Usage, message),
        CliError::Help(_) => Error::new(p2pchat_status::Help, "the help was printed"),
        CliError::Version(_) => Error::new(p2pchat_status::Version, "the version was printed"),
    }
}

/// Argument `i` as the OS gave it, for the core's parser, which refuses one that is
/// not UTF-8 and says which.
#[cfg(unix)]
fn os_arg(arg: &CStr, _i: usize) -> Result<OsString, CliError> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::ffi::OsStr::from_bytes(arg.to_bytes()).to_owned())
}

/// Argument `i`, which off Unix must be UTF-8 to become an `OsString`.
#[cfg(not(unix))]
fn os_arg(arg: &CStr, i: usize) -> Result<OsString, CliError> {
    arg.to_str().map(OsString::from).map_err(|_| CliError::Usage(format!("argument {i} is not valid UTF-8")))
}

/// Sets the port to listen on; 0 (the default) lets the system choose one.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_port(cfg: *mut p2pchat_config, port: u16) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        unsafe { config_mut(cfg) }?.port = port;
        Ok(())
    })
}

/// Sets the IP address to listen on, such as "127.0.0.1", "0.0.0.0" (the default),
/// "::" or "[::1]". Host names are refused (`P2PCHAT_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `address` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_bind(cfg: *mut p2pchat_config, address: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        let address = unsafe { str_arg(address, "address") }?;
        let bare = address.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(address);
        config.bind = bare.parse::<IpAddr>().map_err(|_| {
            Error::invalid(format!("invalid bind address {address:?}: expected an IP address such as 127.0.0.1 or ::"))
        })?;
        Ok(())
    })
}

/// Adds a peer to join through at start-up (like `HOST PORT` or `--connect`); may be
/// called several times. `host` is a host name or an IP address (IPv6 with or
/// without brackets); `port` is 1 to 65535. A peer that cannot be reached is
/// reported later as an ERROR event, not here.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `host` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_add_connect(
    cfg: *mut p2pchat_config,
    host: *const c_char,
    port: u16,
) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        let to = peer_addr(unsafe { str_arg(host, "host") }?, port)?;
        config.connect.push(to);
        Ok(())
    })
}

/// A peer's host (bracketed or not) and port, checked by the core's one parser.
pub(crate) fn peer_addr(host: &str, port: u16) -> Result<PeerAddr, Error> {
    PeerAddr::new(host, &port.to_string()).map_err(Error::invalid)
}

/// Makes the node write a log to the file at `path` (like `--log`); the file is
/// opened when the node starts. `path` must not be empty. On Unix it may be any
/// bytes; elsewhere it must be UTF-8.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_log(cfg: *mut p2pchat_config, path: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        config.log = Some(unsafe { path_arg(path, "log file") }?);
        Ok(())
    })
}

/// A file or directory name argument: not NULL, not empty; on Unix any bytes,
/// elsewhere UTF-8. `what` names it in messages ("log file").
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn path_arg(path: *const c_char, what: &str) -> Result<PathBuf, Error> {
    if path.is_null() {
        return Err(Error::null("path"));
    }
    // SAFETY: not NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(format!("the {what} name is empty")));
    }
    path_from_bytes(bytes, what)
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8], _what: &str) -> Result<PathBuf, Error> {
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8], what: &str) -> Result<PathBuf, Error> {
    std::str::from_utf8(bytes)
        .map(PathBuf::from)
        .map_err(|_| Error::new(p2pchat_status::InvalidUtf8, format!("the {what} name is not valid UTF-8")))
}

/// Makes the member's identity (its key) the key file at `path`, like
/// `--identity FILE`, instead of the default `DATA_DIR/identity.key`. The file is
/// read when the node starts, or created there (mode 0600) if it does not exist;
/// its directory must exist. It is refused then if it is not a p2pchat key file or,
/// on Unix, if its group or others may read or write it. This replaces
/// `p2pchat_config_set_ephemeral(cfg, true)`: the last of the two calls wins.
///
/// `path` must not be NULL (`P2PCHAT_STATUS_NULL_ARGUMENT`) or empty
/// (`P2PCHAT_STATUS_INVALID_ARGUMENT`). On Unix it may be any bytes; elsewhere it
/// must be UTF-8.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_identity_file(
    cfg: *mut p2pchat_config,
    path: *const c_char,
) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        config.identity = IdentitySource::File(unsafe { path_arg(path, "identity file") }?);
        Ok(())
    })
}

/// `ephemeral` true: the node runs with a fresh key, as a temporary member, and
/// reads or writes no key file (like `--ephemeral`); this replaces an identity file
/// set with `p2pchat_config_set_identity_file()`. false: if the configuration is
/// ephemeral, back to the default identity, `DATA_DIR/identity.key`; otherwise
/// nothing changes.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_ephemeral(cfg: *mut p2pchat_config, ephemeral: bool) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        if ephemeral {
            config.identity = IdentitySource::Ephemeral;
        } else if config.identity == IdentitySource::Ephemeral {
            config.identity = IdentitySource::Default;
        }
        Ok(())
    })
}

/// Sets the member's data directory, like `--data-dir DIR` (default
/// `$XDG_DATA_HOME/p2pchat/NAME`, else `$HOME/.local/share/p2pchat/NAME`), where
/// its key file `identity.key` is kept. It is created (mode 0700) when the node
/// starts, if needed.
///
/// `path` must not be NULL (`P2PCHAT_STATUS_NULL_ARGUMENT`) or empty
/// (`P2PCHAT_STATUS_INVALID_ARGUMENT`). On Unix it may be any bytes; elsewhere it
/// must be UTF-8.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_data_dir(cfg: *mut p2pchat_config, path: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        config.data_dir = Some(unsafe { path_arg(path, "data directory") }?);
        Ok(())
    })
}

/// Makes the network a closed one, like `--secret-file FILE`: only nodes that hold
/// the same passphrase are admitted. The passphrase is the content of the file at
/// `path`, one final line ending removed. The network's key is derived from it at
/// once, for the configuration's network name (call
/// `p2pchat_config_set_network()` first), which takes a few tens of milliseconds on
/// purpose: do not call this from an event callback.
///
/// Returns `P2PCHAT_STATUS_BAD_FILE` if the file cannot be read, is empty, or (on
/// Unix) its group or others may read or write it; `p2pchat_last_error()` names
/// the file and says why (for example "secret file /x/s is readable by others
/// (mode 0644); run chmod 600 /x/s"). The configuration is then unchanged. `path`
/// NULL: `P2PCHAT_STATUS_NULL_ARGUMENT`; empty: `P2PCHAT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_secret_file(
    cfg: *mut p2pchat_config,
    path: *const c_char,
) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        let path = unsafe { path_arg(path, "secret file") }?;
        let secret = secret::from_file(&path, &config.network).map_err(|e| Error::new(p2pchat_status::BadFile, e))?;
        config.secret = Some(secret);
        Ok(())
    })
}

/// Sets the network's name, like `--network NAME` (default "p2pchat"): nodes of
/// other networks refuse each other. `name` is 1 to 64 ASCII letters, digits, '-',
/// '_' and '.'; otherwise `P2PCHAT_STATUS_INVALID_ARGUMENT` (or
/// `P2PCHAT_STATUS_INVALID_UTF8`). A secret set with
/// `p2pchat_config_set_secret_file()` (or taken from `P2PCHAT_SECRET` by
/// `p2pchat_config_from_args()`) was derived for the network named then: changing
/// the name afterwards is refused with `P2PCHAT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile;
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_network(cfg: *mut p2pchat_config, name: *const c_char) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        // SAFETY: forwarded from the caller's promise.
        let name = unsafe { str_arg(name, "name") }?;
        validate_network(name).map_err(|e| Error::invalid(format!("invalid network name {name:?}: {e}")))?;
        if let Some(secret) = config.secret.as_ref().filter(|s| s.network() != name) {
            return Err(Error::invalid(format!(
                "the network secret was derived for the network {:?}: set the network before the secret file",
                secret.network()
            )));
        }
        config.network = name.to_owned();
        Ok(())
    })
}

/// Which plain-text (netcat) clients a node accepts on its port, for
/// `p2pchat_config_set_text_clients()` and `p2pchat_config_text_clients()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2pchat_text_clients {
    /// The default for the network: ANY on an open network, LOOPBACK on a closed one
    /// (with a secret). Only set, never returned by `p2pchat_config_text_clients()`.
    Auto = 0,
    /// From anywhere (`--text-clients any`).
    Any = 1,
    /// Only from this machine, a loopback address (`--text-clients loopback`).
    Loopback = 2,
    /// None (`--text-clients off`).
    Off = 3,
}

/// Sets which plain-text clients the node accepts (a `p2pchat_text_clients` value,
/// passed as an int), like `--text-clients any|loopback|off`;
/// `P2PCHAT_TEXT_CLIENTS_AUTO` (the default) leaves it to the network. Unknown
/// numbers give `P2PCHAT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_text_clients(cfg: *mut p2pchat_config, policy: c_int) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        config.text_clients = match policy {
            0 => None,
            1 => Some(TextClients::Any),
            2 => Some(TextClients::Loopback),
            3 => Some(TextClients::Off),
            other => return Err(Error::invalid(format!("unknown text-client policy {other}"))),
        };
        Ok(())
    })
}

/// The plain-text client policy in force as a `p2pchat_text_clients` value:
/// `P2PCHAT_TEXT_CLIENTS_ANY`, `_LOOPBACK` or `_OFF` (AUTO resolved for the
/// network), or -1 if `cfg` is NULL.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_text_clients(cfg: *const p2pchat_config) -> c_int {
    value_boundary!(-1, {
        // SAFETY: the caller promises NULL or a live configuration.
        match unsafe { cfg.as_ref() } {
            Some(cfg) => match cfg.config.text_clients() {
                TextClients::Any => p2pchat_text_clients::Any as c_int,
                TextClients::Loopback => p2pchat_text_clients::Loopback as c_int,
                TextClients::Off => p2pchat_text_clients::Off as c_int,
            },
            None => -1,
        }
    })
}

/// Sets the mode (a `p2pchat_mode` value, passed as an int): it decides what
/// `p2pchat_run_headless()` prints. Unknown numbers give
/// `P2PCHAT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live configuration that no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_set_mode(cfg: *mut p2pchat_config, mode: c_int) -> p2pchat_status {
    status_boundary!({
        // SAFETY: forwarded from the caller's promise.
        let config = unsafe { config_mut(cfg) }?;
        config.mode = match mode {
            0 => Mode::Ui,
            1 => Mode::Headless,
            2 => Mode::Json,
            other => return Err(Error::invalid(format!("unknown mode {other}"))),
        };
        Ok(())
    })
}

/// The configuration's mode as a `p2pchat_mode` value (`P2PCHAT_MODE_UI`,
/// `P2PCHAT_MODE_HEADLESS` or `P2PCHAT_MODE_JSON`), or -1 if `cfg` is NULL.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_mode(cfg: *const p2pchat_config) -> c_int {
    value_boundary!(-1, {
        // SAFETY: the caller promises NULL or a live configuration.
        match unsafe { cfg.as_ref() } {
            Some(cfg) => p2pchat_mode::from(cfg.config.mode) as c_int,
            None => -1,
        }
    })
}

/// Frees a configuration. NULL is a no-op. Must not be called twice on the same
/// configuration. Nodes started from it do not need it any more: it may be freed
/// while they run (the usual order is still `p2pchat_node_free()` first).
///
/// # Safety
/// `cfg` is NULL or a configuration from this library, not yet freed and not in use
/// by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_config_free(cfg: *mut p2pchat_config) {
    value_boundary!((), {
        if !cfg.is_null() {
            // SAFETY: the caller promises a configuration made by this library
            // (Box::into_raw) and not freed yet.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// Runs a node in `--headless` or `--json` mode (UI mode counts as `--headless`)
/// until the user types `:quit` or standard input ends, and returns the process exit
/// status: 0 on a normal quit; 1 if the node could not start (the reason is printed
/// to stderr) or stdout could not be written, or if `cfg` is NULL.
///
/// Lines read from stdin are typed into the chat (a `:command` or a message); every
/// event shown is printed to stdout, one line each, flushed at once: `NAME: TEXT`
/// in headless mode, one JSON object in JSON mode. Blocks the calling thread. Do
/// not read stdin after it returns.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn p2pchat_run_headless(cfg: *const p2pchat_config) -> c_int {
    value_boundary!(1, {
        ignore_sigpipe();
        // SAFETY: the caller promises NULL or a live configuration.
        match unsafe { cfg.as_ref() } {
            Some(cfg) => p2pchat_core::headless::run(&cfg.config),
            None => {
                let _ = writeln!(std::io::stderr(), "{PROGRAM}: p2pchat_run_headless: cfg is NULL");
                1
            }
        }
    })
}
