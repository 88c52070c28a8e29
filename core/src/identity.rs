//! A member's identity on disk: the 32-byte secret seed of its Ed25519 key, kept
//! in a key file that one running process at a time may use ([`acquire`]).
//!
//! Where the key comes from is [`Config::identity`]:
//! - [`IdentitySource::Default`]: `DATA_DIR/identity.key`, where DATA_DIR is
//!   [`data_dir`] (`--data-dir DIR`, else `$XDG_DATA_HOME/p2pchat/NAME`, else
//!   `$HOME/.local/share/p2pchat/NAME`). The directory is created, mode 0700, on
//!   first start.
//! - [`IdentitySource::File`]: the file given with `--identity FILE`. Its
//!   directory must exist; the file is created there on first start.
//! - [`IdentitySource::Ephemeral`] (`--ephemeral`): a fresh key, nothing written.
//!
//! The key file is text, two lines, each ending with a newline:
//! ```text
//! p2pchat-identity-v1
//! 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! ```
//! the version line [`FILE_HEADER`], then the seed as 64 hexadecimal digits (either
//! case is read; lower case is written). Anything else is refused with an error
//! naming the file, rather than replaced: a key is never thrown away silently. A
//! new file is written to a temporary file beside it (mode 0600 from its creation)
//! and renamed into place, so a crash never leaves half a key. On Unix a key file
//! that its group or others may read or write is refused, as ssh refuses such a
//! private key, with the `chmod` that fixes it.
//!
//! One identity is used by one process at a time: [`acquire`] takes an exclusive
//! lock on the sibling file `identity.key.lock` (FILE`.lock` for `--identity
//! FILE`) with [`File::try_lock`] and writes its process id there. The operating
//! system drops the lock when the process ends, however it ends, so a lock left by
//! a killed process is taken over without anyone removing a file. A process that
//! finds the lock held does not fail: it runs as a temporary member (a fresh key,
//! nothing saved) and says so in [`Acquired::notice`], so that `p2pchat alice`
//! started twice on one machine still works as in the lab.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::config::Config;

/// Where a member's key comes from (`--identity FILE`, `--ephemeral`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IdentitySource {
    /// `DATA_DIR/identity.key` ([`data_dir`]), created on first start.
    #[default]
    Default,
    /// This key file (`--identity FILE`), created on first start.
    File(PathBuf),
    /// A fresh key for this run only; nothing is read or written (`--ephemeral`).
    Ephemeral,
}

/// The key file's name in the data directory.
pub const IDENTITY_FILE: &str = "identity.key";
/// The first line of a key file: the format and its version.
pub const FILE_HEADER: &str = "p2pchat-identity-v1";
/// A key file is 85 bytes; anything much larger is not one (and `/dev/zero` is
/// not read forever).
const MAX_FILE: u64 = 1024;
/// The suffix of the lock file beside a key file.
const LOCK_SUFFIX: &str = ".lock";

/// The identity a process runs with, from [`acquire`].
///
/// A saved identity stays locked for as long as this value lives: keep it for the
/// life of the process (or of the node), and drop it to let another process use
/// the identity.
pub struct Acquired {
    /// The secret seed of the member's Ed25519 key.
    pub seed: [u8; 32],
    /// One line to show the user (as an INFO notice) before anything else, when
    /// there is something to say: that the saved identity is in use by another
    /// process and this one runs as a temporary member.
    pub notice: Option<String>,
    /// The key file the seed was read from or saved to; None for a temporary
    /// member (`--ephemeral`, or the identity was in use), whose key is not saved.
    pub path: Option<PathBuf>,
    /// The locked lock file, held open for as long as the identity is used.
    lock: Option<File>,
}

impl Acquired {
    /// A temporary identity with this seed: not saved, not locked, no notice (for
    /// tests and the simulator, which choose their keys).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Acquired { seed, notice: None, path: None, lock: None }
    }

    /// True when the identity is saved in a key file (and locked by this process).
    pub fn is_saved(&self) -> bool {
        self.path.is_some()
    }
}

impl fmt::Debug for Acquired {
    /// Everything but the seed, which is a secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquired")
            .field("seed", &"<secret>")
            .field("notice", &self.notice)
            .field("path", &self.path)
            .field("locked", &self.lock.is_some())
            .finish()
    }
}

/// The identity `cfg` asks for ([`Config::identity`]): read from its key file,
/// created there on first start, or fresh; see the module documentation.
///
/// Errors (one line, naming the file and the operating system's reason): the data
/// directory cannot be chosen or created, the key file or its lock cannot be read
/// or written, the key file is not in the format above, or (on Unix) it is
/// accessible by its group or others. A key file in use by another process is not
/// an error: the result is then a temporary member with a [`notice`](Acquired::notice).
pub fn acquire(cfg: &Config) -> Result<Acquired, String> {
    match &cfg.identity {
        IdentitySource::Ephemeral => Ok(Acquired::from_seed(fresh_seed()?)),
        IdentitySource::Default => {
            let dir = data_dir(cfg)?;
            create_private_dir(&dir)?;
            let path = dir.join(IDENTITY_FILE);
            acquire_file(&path, &format!("{}'s identity", cfg.name))
        }
        IdentitySource::File(path) => acquire_file(path, &format!("the identity {}", shown(path))),
    }
}

/// The member's data directory: `--data-dir DIR` as given, else
/// `$XDG_DATA_HOME/p2pchat/NAME` (when XDG_DATA_HOME is an absolute path, as the
/// XDG specification asks), else `$HOME/.local/share/p2pchat/NAME`. It is only
/// computed here, not created.
///
/// NAME is the name given on the command line; the characters that a directory
/// name cannot hold on some system (`/ \ : * ? " < > |`, `%` itself, and a leading
/// `.`, so that `..` stays inside) are written `%XX` (`a/b` gives `a%2Fb`).
pub fn data_dir(cfg: &Config) -> Result<PathBuf, String> {
    data_dir_from(&cfg.name, cfg.data_dir.as_deref(), std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`data_dir`] with the environment passed in.
fn data_dir_from(
    name: &str,
    given: Option<&Path>,
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, String> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    let base = match (xdg_data_home.map(PathBuf::from), home.map(PathBuf::from)) {
        (Some(xdg), _) if xdg.is_absolute() => xdg,
        (_, Some(home)) if !home.as_os_str().is_empty() => home.join(".local").join("share"),
        _ => {
            return Err(format!(
                "cannot choose a data directory for {name}: neither XDG_DATA_HOME nor HOME is set; \
                 give --data-dir DIR (or --identity FILE, or --ephemeral)"
            ));
        }
    };
    Ok(base.join("p2pchat").join(dir_name(name)))
}

/// `name` as one directory name, with the characters some system would take
/// apart written `%XX`.
fn dir_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '%') || (i == 0 && c == '.') {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Creates `dir` and its missing parents, mode 0700 on Unix (an existing
/// directory is left as it is).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| format!("cannot create data directory {}: {e}", shown(dir)))
}

/// The identity saved in `path`, locked, or created there; or, if another
/// process holds the lock, a temporary member. `whose` names the identity in the
/// notice ("alice's identity").
fn acquire_file(path: &Path, whose: &str) -> Result<Acquired, String> {
    let lock_path = sibling(path, LOCK_SUFFIX)?;
    let lock = match lock_exclusive(&lock_path) {
        Ok(lock) => lock,
        Err(LockError::Open(e)) if e.kind() == io::ErrorKind::NotFound => {
            let dir = lock_path.parent().map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
            return Err(format!(
                "cannot use identity file {}: the directory {} does not exist",
                shown(path),
                shown(&dir)
            ));
        }
        Err(LockError::Open(e)) => return Err(format!("cannot open identity lock {}: {e}", shown(&lock_path))),
        Err(LockError::Held(pid)) => {
            let holder = pid.map_or_else(|| "another process".to_owned(), |pid| format!("process {pid}"));
            let mut temporary = Acquired::from_seed(fresh_seed()?);
            temporary.notice = Some(format!(
                "{whose} is in use by {holder}; running as a temporary member (a fresh key, nothing saved)"
            ));
            return Ok(temporary);
        }
        Err(LockError::Lock(e)) => return Err(format!("cannot lock {}: {e}", shown(&lock_path))),
        Err(LockError::Write(e)) => {
            return Err(format!("cannot write to identity lock {}: {e}", shown(&lock_path)));
        }
    };
    let seed = match read_key(path)? {
        Some(seed) => seed,
        None => {
            let seed = fresh_seed()?;
            write_key(path, &seed)?;
            seed
        }
    };
    Ok(Acquired { seed, notice: None, path: Some(path.to_path_buf()), lock: Some(lock) })
}

/// Why [`lock_exclusive`] did not take a lock.
#[derive(Debug)]
pub(crate) enum LockError {
    /// The lock file could not be opened or created.
    Open(io::Error),
    /// Another open file holds the lock: a live process (this one included); the
    /// pid it wrote in the file, if that can be read.
    Held(Option<u32>),
    /// The operating system would not lock the file.
    Lock(io::Error),
    /// The lock was taken, but this process's pid could not be written in it (the
    /// lock is released again).
    Write(io::Error),
}

/// Takes the exclusive lock on `lock_path` (created, mode 0600 on Unix, if it is
/// missing) and writes this process's id in it, for the next process that finds
/// it held. The lock lasts as long as the returned file is open.
///
/// [`File::try_lock`] (Rust 1.89) is flock on Unix: the operating system
/// releases it when the process dies, however it dies, so a lock left by a killed
/// process is simply taken over, and nobody has to remove a stale file. flock
/// locks belong to an open file, so a second open in the same process is
/// refused too.
pub(crate) fn lock_exclusive(lock_path: &Path) -> Result<File, LockError> {
    let mut options = OpenOptions::new();
    // Not truncated on open: the holder's pid must stay readable until we hold it.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let (mut lock, writable) = match options.open(lock_path) {
        Ok(lock) => (lock, true),
        // A directory that cannot be written (a read-only disk, a mode that
        // forbids it): a lock file already there is still locked, read-only (a
        // lock needs no write access), so the identity can be used; only the pid
        // goes unsaid.
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) => {
            match File::open(lock_path) {
                Ok(lock) => (lock, false),
                Err(_) => return Err(LockError::Open(e)),
            }
        }
        Err(e) => return Err(LockError::Open(e)),
    };
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(LockError::Held(holder_pid(lock_path))),
        Err(TryLockError::Error(e)) => return Err(LockError::Lock(e)),
    }
    // Ours now: say who holds it.
    if writable {
        lock.set_len(0).and_then(|()| writeln!(lock, "{}", std::process::id())).map_err(LockError::Write)?;
    }
    Ok(lock)
}

/// The pid written in a lock file, if it can be read (the holder may not have
/// written it yet; on Windows the locked file cannot be read at all).
fn holder_pid(lock_path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(lock_path).ok()?.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// `path` with `suffix` added to its file name (`identity.key` -> `identity.key.lock`).
fn sibling(path: &Path, suffix: &str) -> Result<PathBuf, String> {
    let Some(name) = path.file_name() else {
        return Err(format!("identity file {} is not a file name", shown(path)));
    };
    let mut name = name.to_owned();
    name.push(suffix);
    Ok(path.with_file_name(name))
}

/// The seed saved in `path`, or None if there is no such file.
fn read_key(path: &Path) -> Result<Option<[u8; 32]>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read identity file {}: {e}", shown(path))),
    };
    let text = read_private(file, path, "identity file", MAX_FILE)?;
    parse_key(&text).map(Some).ok_or_else(|| {
        format!(
            "identity file {} is not a p2pchat identity (expected the line {FILE_HEADER:?}, then the key as \
             64 hex digits); move it away to start with a new identity, or give --identity FILE",
            shown(path)
        )
    })
}

/// The content of an open secret file (a key file, a network secret), at most
/// `max` bytes; refused if it is not a regular file or (on Unix) if its group or
/// others may read or write it. `what` names it in errors ("identity file").
pub(crate) fn read_private(file: File, path: &Path, what: &str, max: u64) -> Result<Vec<u8>, String> {
    let meta = file.metadata().map_err(|e| format!("cannot read {what} {}: {e}", shown(path)))?;
    // A pipe (`--secret-file <(pass show chat)`) is fine; a directory or a device is not.
    if meta.is_dir() {
        return Err(format!("{what} {} is a directory", shown(path)));
    }
    check_private(path, &meta, what)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {what} {}: {e}", shown(path)))?;
    if bytes.len() as u64 > max {
        return Err(format!("{what} {} is larger than {max} bytes", shown(path)));
    }
    Ok(bytes)
}

/// On Unix, refuses a file that its group or others may read or write, saying how
/// to fix it.
#[cfg(unix)]
fn check_private(path: &Path, meta: &Metadata, what: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let how = if mode & 0o044 != 0 {
        "readable"
    } else if mode & 0o022 != 0 {
        "writable"
    } else {
        "accessible"
    };
    Err(format!("{what} {} is {how} by others (mode {mode:04o}); run chmod 600 {}", shown(path), shell_word(path)))
}

/// Elsewhere, files are taken as they are (access is the ACLs' business).
#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &Metadata, _what: &str) -> Result<(), String> {
    Ok(())
}

/// The seed in a key file's text, if it is one.
fn parse_key(text: &[u8]) -> Option<[u8; 32]> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let (header, hex) = text.split_once('\n')?;
    if header.trim_end_matches('\r') != FILE_HEADER {
        return None;
    }
    let hex = hex.trim_end_matches('\r').as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    for (byte, pair) in seed.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(seed)
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The key file's text for `seed`.
fn key_text(seed: &[u8; 32]) -> String {
    let mut text = String::with_capacity(FILE_HEADER.len() + 66);
    text.push_str(FILE_HEADER);
    text.push('\n');
    for byte in seed {
        text.push_str(&format!("{byte:02x}"));
    }
    text.push('\n');
    text
}

/// Saves `seed` in `path`, atomically: a temporary file beside it, mode 0600 from
/// its creation, flushed to disk, then renamed into place.
fn write_key(path: &Path, seed: &[u8; 32]) -> Result<(), String> {
    let tmp = sibling(path, ".tmp")?;
    let failed = |e: io::Error| format!("cannot create identity file {}: {e}", shown(path));
    // Left over by a crash while we did not hold the lock: ours to replace.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(key_text(seed).as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    // The rename itself reaches the disk with the directory. If that fails the key
    // may be lost in a power cut, and the next start makes a new one: no reason to
    // refuse this start.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// 32 random bytes from the operating system.
fn fresh_seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("cannot get random bytes from the operating system: {e}"))?;
    Ok(seed)
}

/// A path as messages show it: as it is, or quoted like a Rust string if it holds
/// control characters, so that none reaches the terminal.
pub(crate) fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().any(char::is_control) { format!("{text:?}") } else { text }
}

/// A path as one word for a shell command in a hint: as it is when that is safe,
/// else in single quotes.
#[cfg(unix)]
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_alphanumeric() || "/._-+,:@%=~".contains(c);
    if !text.is_empty() && text.chars().all(plain) && !text.starts_with('~') {
        text
    } else if text.chars().any(char::is_control) {
        format!("{text:?}")
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A directory of its own under the system's temporary directory for one test,
/// removed with everything in it when dropped.
#[cfg(test)]
pub(crate) struct TestDir(PathBuf);

#[cfg(test)]
impl TestDir {
    pub(crate) fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("p2pchat-test-{}-{n}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a fresh temporary directory");
        TestDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to the file `name` in the directory, with `mode` on Unix.
    pub(crate) fn write(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = self.0.join(name);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        options.open(&path).and_then(|mut f| f.write_all(content)).expect("the test file is written");
        set_mode(&path, mode);
        path
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sets a file's permission bits (on Unix; elsewhere nothing).
#[cfg(test)]
pub(crate) fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// alice's configuration, with her data in `dir`.
    fn alice_in(dir: &Path) -> Config {
        let mut cfg = Config::new("alice");
        cfg.data_dir = Some(dir.to_path_buf());
        cfg
    }

    fn acquired(cfg: &Config) -> Acquired {
        acquire(cfg).unwrap_or_else(|e| panic!("acquire should succeed: {e}"))
    }

    fn refused(cfg: &Config) -> String {
        match acquire(cfg) {
            Err(e) => {
                assert!(!e.contains('\n'), "one line: {e}");
                e
            }
            Ok(a) => panic!("acquire should fail, got {a:?}"),
        }
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
    }

    #[test]
    fn the_first_start_creates_the_directory_and_a_key_file_in_the_documented_format() {
        let tmp = TestDir::new("create");
        let dir = tmp.path().join("data").join("alice");
        let a = acquired(&alice_in(&dir));
        let key = dir.join(IDENTITY_FILE);
        assert_eq!(a.path.as_deref(), Some(key.as_path()));
        assert!(a.is_saved());
        assert_eq!(a.notice, None);
        let text = std::fs::read_to_string(&key).expect("the key file");
        assert_eq!(text, key_text(&a.seed));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        assert_eq!(lines[0], "p2pchat-identity-v1");
        assert!(lines[1].len() == 64 && lines[1].bytes().all(|b| b.is_ascii_hexdigit()), "{text:?}");
        assert!(text.ends_with('\n'));
        assert!(!dir.join("identity.key.tmp").exists(), "no temporary file is left");
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&key), 0o600);
            assert_eq!(mode_of(&dir), 0o700);
            assert_eq!(mode_of(&tmp.path().join("data")), 0o700, "parents made too are private");
            assert_eq!(mode_of(&dir.join("identity.key.lock")), 0o600);
        }
    }

    #[test]
    fn a_restart_reads_the_same_seed() {
        let tmp = TestDir::new("reload");
        let cfg = alice_in(tmp.path());
        let first = acquired(&cfg);
        let seed = first.seed;
        drop(first);
        let second = acquired(&cfg);
        assert_eq!(second.seed, seed);
        assert_eq!(second.path, Some(tmp.path().join(IDENTITY_FILE)));
        assert_eq!(second.notice, None);
    }

    #[test]
    fn a_saved_seed_is_read_back_exactly() {
        let tmp = TestDir::new("exact");
        let seed: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7 + 1).unwrap_or(0));
        tmp.write(IDENTITY_FILE, key_text(&seed).as_bytes(), 0o600);
        assert_eq!(acquired(&alice_in(tmp.path())).seed, seed);
        // Upper case and CRLF line endings (a file edited elsewhere) read the same.
        tmp.write(
            IDENTITY_FILE,
            key_text(&seed).to_uppercase().replace("P2PCHAT-IDENTITY-V1", FILE_HEADER).as_bytes(),
            0o600,
        );
        assert_eq!(acquired(&alice_in(tmp.path())).seed, seed);
        tmp.write(IDENTITY_FILE, key_text(&seed).replace('\n', "\r\n").as_bytes(), 0o600);
        assert_eq!(acquired(&alice_in(tmp.path())).seed, seed);
        tmp.write(IDENTITY_FILE, key_text(&seed).trim_end().as_bytes(), 0o600);
        assert_eq!(acquired(&alice_in(tmp.path())).seed, seed, "the final newline is optional");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_or_write_is_refused_with_the_chmod_that_fixes_it() {
        let tmp = TestDir::new("loose");
        let cfg = alice_in(tmp.path());
        let seed = acquired(&cfg).seed;
        let key = tmp.path().join(IDENTITY_FILE);
        let shown = key.display();
        set_mode(&key, 0o644);
        assert_eq!(
            refused(&cfg),
            format!("identity file {shown} is readable by others (mode 0644); run chmod 600 {shown}")
        );
        set_mode(&key, 0o640);
        assert!(refused(&cfg).contains("readable by others (mode 0640)"));
        set_mode(&key, 0o620);
        assert!(refused(&cfg).contains("writable by others (mode 0620)"));
        set_mode(&key, 0o601);
        assert!(refused(&cfg).contains("accessible by others (mode 0601)"));
        set_mode(&key, 0o400);
        assert_eq!(acquired(&cfg).seed, seed, "read-only for its owner is fine");
        set_mode(&key, 0o600);
        assert_eq!(acquired(&cfg).seed, seed, "and the key was never replaced");
    }

    #[cfg(unix)]
    #[test]
    fn the_chmod_hint_quotes_a_path_with_spaces() {
        let tmp = TestDir::new("quote");
        let key = tmp.write("my key's file", b"", 0o644);
        let mut cfg = Config::new("alice");
        cfg.identity = IdentitySource::File(key.clone());
        let msg = refused(&cfg);
        let quoted = format!("'{}'", key.display().to_string().replace('\'', r"'\''"));
        assert!(msg.ends_with(&format!("run chmod 600 {quoted}")), "{msg}");
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_naming_it_and_left_alone() {
        let tmp = TestDir::new("garbage");
        let cfg = alice_in(tmp.path());
        let good = key_text(&[0xab; 32]);
        for garbage in [
            "hello\n".to_owned(),
            String::new(),
            good.replace("v1", "v2"),
            good.replace("abab\n", "ab\n"),
            good.replace("abab\n", "ababab\n"),
            good.replace("abab\n", "abzz\n"),
            format!("{good}extra\n"),
            format!("\n{good}"),
            good.replace('\n', " "),
        ] {
            let key = tmp.write(IDENTITY_FILE, garbage.as_bytes(), 0o600);
            let msg = refused(&cfg);
            assert!(msg.starts_with(&format!("identity file {} is not a p2pchat identity", key.display())), "{msg}");
            assert_eq!(std::fs::read_to_string(&key).expect("still there"), garbage, "never overwritten");
        }
        tmp.write(IDENTITY_FILE, b"\xff\xfe binary", 0o600);
        assert!(refused(&cfg).contains("is not a p2pchat identity"));
        tmp.write(IDENTITY_FILE, &vec![b'0'; 4096], 0o600);
        assert!(refused(&cfg).contains("is larger than"));
    }

    #[test]
    fn a_directory_in_place_of_the_key_file_is_refused() {
        let tmp = TestDir::new("isdir");
        std::fs::create_dir(tmp.path().join(IDENTITY_FILE)).expect("mkdir");
        let msg = refused(&alice_in(tmp.path()));
        assert!(msg.starts_with("identity file ") && msg.contains(IDENTITY_FILE), "{msg}");
    }

    #[test]
    fn an_identity_in_use_gives_a_temporary_member_that_names_the_process() {
        let tmp = TestDir::new("inuse");
        let cfg = alice_in(tmp.path());
        let first = acquired(&cfg);
        let lock = std::fs::read_to_string(tmp.path().join("identity.key.lock")).expect("the lock file");
        assert_eq!(lock, format!("{}\n", std::process::id()), "the holder's pid");
        // flock locks belong to an open file: a second open in this process conflicts too.
        let second = acquired(&cfg);
        assert_eq!(
            second.notice.as_deref(),
            Some(
                format!(
                    "alice's identity is in use by process {}; running as a temporary member \
                     (a fresh key, nothing saved)",
                    std::process::id()
                )
                .as_str()
            )
        );
        assert_eq!(second.path, None);
        assert!(!second.is_saved());
        assert_ne!(second.seed, first.seed, "a fresh key");
        let third = acquired(&cfg);
        assert_ne!(third.seed, second.seed, "each temporary member has its own");
        assert_eq!(std::fs::read_to_string(tmp.path().join(IDENTITY_FILE)).expect("key"), key_text(&first.seed));
        let seed = first.seed;
        drop(first);
        let again = acquired(&cfg);
        assert_eq!((again.seed, again.notice.as_deref()), (seed, None), "free again: the saved identity");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let tmp = TestDir::new("stale");
        let cfg = alice_in(tmp.path());
        let seed = acquired(&cfg).seed;
        // What a killed process leaves: its pid in a lock file that nobody holds.
        tmp.write("identity.key.lock", b"4194999\n", 0o600);
        let a = acquired(&cfg);
        assert_eq!((a.seed, a.notice.as_deref()), (seed, None));
        let lock = std::fs::read_to_string(tmp.path().join("identity.key.lock")).expect("lock");
        assert_eq!(lock, format!("{}\n", std::process::id()));
    }

    #[test]
    fn an_ephemeral_identity_writes_nothing() {
        let tmp = TestDir::new("ephemeral");
        let dir = tmp.path().join("alice");
        let mut cfg = alice_in(&dir);
        cfg.identity = IdentitySource::Ephemeral;
        let a = acquired(&cfg);
        let b = acquired(&cfg);
        assert_eq!((a.path.as_deref(), a.notice.as_deref()), (None, None));
        assert_ne!(a.seed, b.seed);
        assert!(!dir.exists(), "no data directory");
        assert_eq!(std::fs::read_dir(tmp.path()).expect("readable").count(), 0, "nothing at all");
    }

    #[test]
    fn an_identity_file_is_created_where_given_and_locked_beside_it() {
        let tmp = TestDir::new("file");
        let key = tmp.path().join("bob.key");
        let mut cfg = alice_in(&tmp.path().join("unused"));
        cfg.identity = IdentitySource::File(key.clone());
        let a = acquired(&cfg);
        assert_eq!(a.path.as_deref(), Some(key.as_path()));
        assert!(tmp.path().join("bob.key.lock").exists());
        assert!(!tmp.path().join("unused").exists(), "the data directory is not needed for it");
        #[cfg(unix)]
        assert_eq!(mode_of(&key), 0o600);
        let second = acquired(&cfg);
        let notice = second.notice.unwrap_or_default();
        assert!(notice.starts_with(&format!("the identity {} is in use by process ", key.display())), "{notice}");
        drop(a);
        assert_eq!(acquired(&cfg).path.as_deref(), Some(key.as_path()));
    }

    #[test]
    fn an_identity_file_in_a_missing_directory_is_an_error() {
        let tmp = TestDir::new("nodir");
        let mut cfg = Config::new("alice");
        let key = tmp.path().join("missing").join("alice.key");
        cfg.identity = IdentitySource::File(key.clone());
        let msg = refused(&cfg);
        assert_eq!(
            msg,
            format!(
                "cannot use identity file {}: the directory {} does not exist",
                key.display(),
                tmp.path().join("missing").display()
            )
        );
        assert!(!tmp.path().join("missing").exists());
    }

    #[test]
    fn the_data_directory_follows_the_option_then_xdg_then_home() {
        let os = |s: &str| Some(OsString::from(s));
        let given = Path::new("/given");
        assert_eq!(data_dir_from("alice", Some(given), os("/xdg"), os("/home/a")), Ok(PathBuf::from("/given")));
        assert_eq!(data_dir_from("alice", None, os("/xdg"), os("/home/a")), Ok(PathBuf::from("/xdg/p2pchat/alice")));
        let home = Ok(PathBuf::from("/home/a/.local/share/p2pchat/alice"));
        assert_eq!(data_dir_from("alice", None, None, os("/home/a")), home);
        assert_eq!(data_dir_from("alice", None, os(""), os("/home/a")), home, "empty XDG_DATA_HOME is unset");
        assert_eq!(data_dir_from("alice", None, os("rel"), os("/home/a")), home, "a relative one is ignored");
        let msg = data_dir_from("alice", None, None, os("")).expect_err("nowhere to go");
        assert!(msg.contains("--data-dir"), "{msg}");
        assert!(data_dir_from("alice", None, None, None).is_err());
    }

    #[test]
    fn a_name_becomes_one_directory_name() {
        assert_eq!(dir_name("alice"), "alice");
        assert_eq!(dir_name("élodie"), "élodie");
        assert_eq!(dir_name("a/b"), "a%2Fb");
        assert_eq!(dir_name(".."), "%2E.");
        assert_eq!(dir_name(".hidden"), "%2Ehidden");
        assert_eq!(dir_name("a.b"), "a.b");
        assert_eq!(dir_name(r"c:\x%"), "c%3A%5Cx%25");
        let dir = data_dir_from("../../etc", None, None, Some("/h".into())).expect("a directory");
        assert_eq!(dir, PathBuf::from("/h/.local/share/p2pchat/%2E.%2F..%2Fetc"));
    }

    #[test]
    fn debug_does_not_show_the_seed() {
        let a = Acquired::from_seed([0x5a; 32]);
        let shown = format!("{a:?}");
        assert!(!shown.contains("90") && !shown.contains("5a"), "{shown}");
        assert!(shown.contains("<secret>"), "{shown}");
    }
}
