//! The saved history (guarantee 12): the records of [`crate::memory`] kept in an
//! SQLite database, `history.db` in the data directory, and the thread that
//! writes them there ([`Writer`]) so that the network thread never waits on a
//! disk.
//!
//! Why SQLite: one file that a crash in the middle of a write never leaves half
//! written (its journal does what a format of our own would have to get right),
//! that answers `:search` and `:history` without loading everything, that can be
//! bounded in place ([`Db::apply`] compacts), and that a user can read with the
//! `sqlite3` tool:
//! ```text
//! sqlite3 history.db "select * from lines order by id desc limit 10"
//! ```
//!
//! Durability: the database is in WAL mode with `synchronous=NORMAL`. A
//! transaction is then committed once its pages are written to the `-wal` file,
//! which is a `write` into the operating system's cache, not an `fsync`: it
//! survives the process being killed (`kill -9`, a panic, an abort) at any
//! point, and only a power cut or an operating-system crash can lose the last
//! transactions (never corrupting the file). The writer thread commits each
//! batch as soon as it has it (well within 100 ms of receiving a record), so a
//! message shown a second before the process dies is on disk. `fsync` per
//! message (`synchronous=FULL`) would cost a disk flush for every batch and buy
//! only the power-cut case.
//!
//! Schema (version 1; `PRAGMA user_version` is the schema version, and
//! [`MIGRATIONS`] are applied in order, each in the transaction that sets the
//! version, so a later version is one more entry):
//! - `frames(id, raw)`: a chat frame as it travels, length prefix included. A
//!   batch frame is kept once for all its messages.
//! - `messages(id, origin, seq, sender, recipient, text, time_ms, frame)`: every
//!   line shown, chat (`recipient` NULL, at most once per `(origin, seq)`) and
//!   private; `id` is the order they were shown in.
//! - `marks(origin, delivered)`: per-origin high-water marks, only ever raised.
//! - `own(id = 1, name, claimed, endorsed)`: this member's standing on its name;
//!   `endorsed` is the [`Endorsement`] in bincode (standard configuration).
//! - the view `lines`: the messages as a person reads them (local time, names,
//!   text, the origin in hex).
//!
//! Sequence numbers are `u64` and SQLite integers are `i64`: a sequence number is
//! stored bit for bit (`u64::cast_signed`, read back with `i64::cast_unsigned`),
//! so it is exact, but numbers from 2^63 up read as negative in SQL. The store
//! only compares them for equality in SQL (the unique index) and takes the
//! maximum of marks in Rust, as `u64`, so order is right everywhere. (Sequence
//! numbers are `incarnation << 24 | n`, with the incarnation in milliseconds since
//! 2025: they pass 2^63 around 2042.)
//!
//! A file that is not a database, fails `PRAGMA quick_check`, is not a p2pchat
//! history, or has a schema version newer than this program knows is not fatal:
//! it is moved aside (`history.db.corrupt-YYYYMMDD-HHMMSS`, in UTC, with its
//! `-wal` and `-shm`), a new history is started, and [`Db::open`] returns a notice
//! that says so. The file is locked for one process at a time with
//! `history.db.lock`, as the identity is ([`crate::identity::lock_exclusive`]).

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use crate::id::NodeId;
use crate::identity::{LockError, lock_exclusive, shown};
use crate::memory::{MAX_QUERY_LINES, OwnSaved, Query, Saved, SavedLine, Stored};
use crate::wire::Endorsement;

/// The history's file name in the data directory.
pub const HISTORY_FILE: &str = "history.db";

/// The schema, one migration per version: `MIGRATIONS[0]` makes version 1 from
/// an empty file. Append, never edit: a file at version N gets the entries from N
/// on.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE frames (
         id INTEGER PRIMARY KEY,
         raw BLOB NOT NULL
     );
     CREATE TABLE messages (
         id INTEGER PRIMARY KEY,
         origin BLOB NOT NULL CHECK (length(origin) = 32),
         seq INTEGER NOT NULL,            -- u64 stored bit for bit
         sender TEXT NOT NULL,
         recipient TEXT,                  -- NULL for chat
         text TEXT NOT NULL,
         time_ms INTEGER NOT NULL,        -- shown at, ms since the Unix epoch
         frame INTEGER REFERENCES frames(id)
     );
     CREATE UNIQUE INDEX messages_chat ON messages (origin, seq) WHERE recipient IS NULL;
     CREATE TABLE marks (
         origin BLOB PRIMARY KEY CHECK (length(origin) = 32),
         delivered INTEGER NOT NULL       -- u64 stored bit for bit
     ) WITHOUT ROWID;
     CREATE TABLE own (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         name TEXT NOT NULL,
         claimed INTEGER NOT NULL,
         endorsed BLOB
     );
     CREATE VIEW lines AS
         SELECT id,
                strftime('%Y-%m-%d %H:%M:%S', time_ms / 1000, 'unixepoch', 'localtime') AS time,
                sender,
                recipient,
                text,
                lower(hex(origin)) AS origin
         FROM messages;",
];

/// How long a statement waits for a reader (the `sqlite3` tool) to let go.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Jobs the writer queue holds by default before [`Writer::save`] hands records
/// back.
pub const QUEUE_JOBS: usize = 4096;

/// Bytes the write-ahead log is cut back to after a checkpoint.
const WAL_LIMIT: i64 = 16 << 20;

/// Most jobs the writer thread takes into one transaction.
const BATCH_JOBS: usize = 512;

/// Pages given back to the file system per compaction.
const VACUUM_PAGES: u32 = 1024;

/// The local-time text of a `time_ms` column, in SQL.
const LOCAL_TIME: &str = "strftime('%Y-%m-%d %H:%M:%S', time_ms / 1000, 'unixepoch', 'localtime')";

/// Why [`Db::open`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Another live process (or another [`Db`] in this one) has the history open.
    InUse {
        /// The history file.
        path: PathBuf,
        /// The holder's process id, when it could be read from the lock file.
        pid: Option<u32>,
    },
    /// Anything else, as one line naming the file and the reason.
    Failed(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InUse { path, pid: Some(pid) } => {
                write!(f, "the history {} is in use by process {pid}", shown(path))
            }
            OpenError::InUse { path, pid: None } => {
                write!(f, "the history {} is in use by another process", shown(path))
            }
            OpenError::Failed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why [`Db::apply`] failed (nothing of the call was saved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The disk (or the file system's quota) is full: SQLITE_FULL. Names the file.
    DiskFull(String),
    /// Anything else, as one line naming the file and the reason.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::DiskFull(file) => write!(f, "cannot save to {file}: the disk is full"),
            StoreError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StoreError {}

/// The saved history: an open database, and (for a file) its lock.
pub struct Db {
    conn: Connection,
    /// The file as errors name it (or "the in-memory history").
    name: String,
    /// Messages to keep ([`Db::apply`] compacts beyond `keep + keep / 10`).
    keep: usize,
    /// Rows in `messages`, kept up to date so that no apply counts them.
    count: u64,
    /// The lock on `history.db.lock`, held while this lives.
    _lock: Option<File>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("name", &self.name)
            .field("keep", &self.keep)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// Why a file could not be opened as a history.
enum Unusable {
    /// Its content is not a history we can use (the reason): move it aside.
    Unreadable(String),
    /// Opening or writing it failed (permissions, I/O, disk full): an error.
    Failed(String),
}

impl Db {
    /// Opens the history `path` (created if missing), locked for this process
    /// with `path.lock`, in WAL mode with `synchronous=NORMAL`, migrated to the
    /// current schema and checked with `PRAGMA quick_check`. `keep` is how many
    /// messages it keeps.
    ///
    /// A file that cannot be read as a history (not a database, damaged, not
    /// ours, or from a newer version of p2pchat) is moved aside and a new history
    /// is started: the second value is then the line to show the user. Errors:
    /// the history is in use by a live process ([`OpenError::InUse`]; a lock left
    /// by a dead process is simply taken), or the directory or file cannot be
    /// used ([`OpenError::Failed`], one line naming it and the reason).
    pub fn open(path: &Path, keep: usize) -> Result<(Db, Option<String>), OpenError> {
        let lock = lock(path)?;
        let (conn, notice) = match connect(path) {
            Ok(conn) => (conn, None),
            Err(Unusable::Failed(e)) => return Err(OpenError::Failed(e)),
            Err(Unusable::Unreadable(reason)) => {
                let aside = move_aside(path).map_err(OpenError::Failed)?;
                let conn = connect(path).map_err(|e| match e {
                    Unusable::Failed(e) | Unusable::Unreadable(e) => OpenError::Failed(e),
                })?;
                let notice = format!(
                    "{} could not be read ({reason}); it was moved to {}; starting a new history",
                    shown(path),
                    shown(&aside)
                );
                (conn, Some(notice))
            }
        };
        let mut db = Db { conn, name: shown(path), keep, count: 0, _lock: Some(lock) };
        db.count = db.count_rows().map_err(OpenError::Failed)?;
        Ok((db, notice))
    }

    /// A private in-memory history with the same schema, for the simulator and
    /// tests.
    pub fn open_in_memory(keep: usize) -> Result<Db, String> {
        let name = "the in-memory history".to_owned();
        let conn = Connection::open_in_memory().map_err(|e| format!("cannot open {name}: {e}"))?;
        setup(&conn).and_then(|()| migrate(&conn)).map_err(|e| match e {
            Unusable::Failed(e) | Unusable::Unreadable(e) => format!("cannot open {name}: {e}"),
        })?;
        Ok(Db { conn, name, keep, count: 0, _lock: None })
    }

    /// Saves `records`, in order, in one transaction: all or nothing.
    ///
    /// A chat message already saved (same origin and sequence number) is not
    /// saved again; a frame shared by several messages of the call (clones of one
    /// `Bytes`) is saved once. Marks are raised to the largest of their saved
    /// value, every chat message of their origin, and every [`Stored::Mark`];
    /// never lowered. [`Stored::Own`] replaces the saved standing. When more than
    /// `keep + keep / 10` messages are saved, the oldest beyond `keep` are deleted
    /// with the frames no message uses any more (marks stay), and the file gives
    /// some of the freed pages back.
    pub fn apply(&mut self, records: &[Stored]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let name = self.name.clone();
        let failed = |e: rusqlite::Error| store_error(&name, &e);
        let tx = self.conn.transaction().map_err(failed)?;
        let added = write_records(&tx, records).map_err(failed)?;
        let mut count = self.count + added;
        let limit = self.keep.saturating_add(self.keep / 10) as u64;
        let compacted = count > limit;
        if compacted {
            count -= compact(&tx, self.keep).map_err(failed)?;
        }
        tx.commit().map_err(failed)?;
        self.count = count;
        if compacted {
            // Outside the transaction: freed pages go back to the file system a
            // bounded number at a time, so the file shrinks over a few compactions.
            // The pragma frees pages as it is stepped: step it to the end.
            let vacuum = |conn: &Connection| -> rusqlite::Result<()> {
                let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
                Ok(())
            };
            // The records are saved whatever happens here: a vacuum that fails
            // (the disk full, say) is tried again at the next compaction.
            let _ = vacuum(&self.conn);
        }
        Ok(())
    }

    /// What a restarting node starts from: every mark, the saved standing, the
    /// last `history` chat messages with their frames (oldest first; the messages
    /// of one frame share one `Bytes`), and the last `screen` lines of any kind
    /// (oldest first).
    pub fn load(&self, history: usize, screen: usize) -> Result<Saved, String> {
        let failed = |e: rusqlite::Error| format!("cannot read {}: {e}", self.name);
        let mut marks = Vec::new();
        let mut stmt = self.conn.prepare("SELECT origin, delivered FROM marks").map_err(failed)?;
        let mut rows = stmt.query([]).map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            let origin = node_id(&row.get::<_, Vec<u8>>(0).map_err(failed)?, &self.name)?;
            marks.push((origin, row.get::<_, i64>(1).map_err(failed)?.cast_unsigned()));
        }
        let own = self
            .conn
            .query_row("SELECT name, claimed, endorsed FROM own WHERE id = 1", [], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, Option<Vec<u8>>>(2)?))
            })
            .optional()
            .map_err(failed)?
            .map(|(name, claimed, endorsed)| OwnSaved {
                name,
                claimed: u64::try_from(claimed).unwrap_or(0),
                // An endorsement that does not decode is dropped: the member
                // earns a new one, which is better than not starting.
                endorsed: endorsed.and_then(|raw| decode_endorsement(&raw)),
            });
        let mut saved_history = Vec::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.origin, m.seq, m.frame, f.raw FROM messages m JOIN frames f ON f.id = m.frame
                 WHERE m.recipient IS NULL ORDER BY m.id DESC LIMIT ?1",
            )
            .map_err(failed)?;
        let mut rows = stmt.query([limit(history)]).map_err(failed)?;
        let mut frames: HashMap<i64, Bytes> = HashMap::new();
        while let Some(row) = rows.next().map_err(failed)? {
            let origin = node_id(&row.get::<_, Vec<u8>>(0).map_err(failed)?, &self.name)?;
            let seq = row.get::<_, i64>(1).map_err(failed)?.cast_unsigned();
            let id: i64 = row.get(2).map_err(failed)?;
            let frame = match frames.get(&id) {
                Some(frame) => frame.clone(),
                None => {
                    let frame = Bytes::from(row.get::<_, Vec<u8>>(3).map_err(failed)?);
                    frames.insert(id, frame.clone());
                    frame
                }
            };
            saved_history.push((origin, seq, frame));
        }
        saved_history.reverse();
        let screen = self.lines("", &[], screen).map_err(failed)?;
        Ok(Saved { marks, own, history: saved_history, screen })
    }

    /// The saved lines a user asks for: [`Query::Last`] the last `n` (at most
    /// [`MAX_QUERY_LINES`]), [`Query::Search`] the last [`MAX_QUERY_LINES`] whose
    /// text contains the given text, ignoring ASCII case (`%` and `_` are
    /// plain characters). Oldest first.
    pub fn query(&self, q: &Query) -> Result<Vec<SavedLine>, String> {
        let failed = |e: rusqlite::Error| format!("cannot search {}: {e}", self.name);
        match q {
            Query::Last(n) => self.lines("", &[], (*n).min(MAX_QUERY_LINES)).map_err(failed),
            // instr, not LIKE: no character of the text is a wildcard. lower()
            // folds ASCII only, as `:search` promises.
            Query::Search(text) => {
                self.lines("WHERE instr(lower(text), lower(?2)) > 0", &[text.as_str()], MAX_QUERY_LINES).map_err(failed)
            }
        }
    }

    /// How many messages are saved (chat and private): what the tests check the
    /// rows against.
    #[cfg(test)]
    pub fn message_count(&self) -> Result<u64, String> {
        Ok(self.count)
    }

    /// The rows of `messages`, counted.
    fn count_rows(&self) -> Result<u64, String> {
        self.conn
            .query_row("SELECT count(*) FROM messages", [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| format!("cannot read {}: {e}", self.name))
    }

    /// The last `n` lines matching `filter` (an SQL `WHERE` clause whose
    /// parameters are `?2`...: `args`), oldest first.
    fn lines(&self, filter: &str, args: &[&str], n: usize) -> rusqlite::Result<Vec<SavedLine>> {
        let sql = format!(
            "SELECT sender, recipient, text, time_ms, {LOCAL_TIME} FROM messages {filter}
             ORDER BY id DESC LIMIT ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let limit = limit(n);
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&limit];
        params.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
        let mut lines = stmt
            .query_map(params.as_slice(), |row| {
                Ok(SavedLine {
                    from: row.get(0)?,
                    to: row.get(1)?,
                    text: row.get(2)?,
                    time_ms: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                    time: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        lines.reverse();
        Ok(lines)
    }
}

/// `n` as an SQL `LIMIT`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A node id read from the file.
fn node_id(raw: &[u8], name: &str) -> Result<NodeId, String> {
    <[u8; 32]>::try_from(raw)
        .map(NodeId)
        .map_err(|_| format!("cannot read {name}: an origin of {} bytes (not 32)", raw.len()))
}

/// The bincode configuration of the `own.endorsed` column.
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard()
}

fn encode_endorsement(e: &Endorsement) -> rusqlite::Result<Vec<u8>> {
    bincode::serde::encode_to_vec(e, bincode_config()).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn decode_endorsement(raw: &[u8]) -> Option<Endorsement> {
    match bincode::serde::decode_from_slice(raw, bincode_config()) {
        Ok((e, used)) if used == raw.len() => Some(e),
        _ => None,
    }
}

/// Writes `records` in `tx`; returns how many message rows were added.
fn write_records(tx: &Transaction<'_>, records: &[Stored]) -> rusqlite::Result<u64> {
    let mut add_frame = tx.prepare_cached("INSERT INTO frames (raw) VALUES (?1)")?;
    let mut add_message = tx.prepare_cached(
        "INSERT OR IGNORE INTO messages (origin, seq, sender, recipient, text, time_ms, frame)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    // The frames saved by this call, by the memory they are in: the messages of
    // a batch hold clones of one `Bytes`, and every `Bytes` here is alive for the
    // whole call, so the same pointer and length is the same frame.
    let mut frames: Vec<(*const u8, usize, i64)> = Vec::new();
    let mut marks: HashMap<NodeId, u64> = HashMap::new();
    let mut raise = |origin: NodeId, to: u64| {
        let mark = marks.entry(origin).or_insert(to);
        *mark = (*mark).max(to);
    };
    let mut added = 0;
    for record in records {
        match record {
            Stored::Message(m) => {
                // A chat message already saved is ignored by the unique index (the
                // node never shows one twice, so that is rare; a frame it leaves
                // unused goes at the next compaction).
                if !m.is_private() {
                    raise(m.origin, m.seq);
                }
                let frame = match &m.frame {
                    None => None,
                    Some(raw) => Some(frame_id(&mut frames, raw, &mut add_frame, tx)?),
                };
                added += add_message.execute(params![
                    &m.origin.0[..],
                    m.seq.cast_signed(),
                    m.from,
                    m.to,
                    m.text,
                    i64::try_from(m.time_ms).unwrap_or(i64::MAX),
                    frame,
                ])? as u64;
            }
            Stored::Mark { origin, delivered } => raise(*origin, *delivered),
            Stored::Own(own) => {
                let endorsed = own.endorsed.as_ref().map(encode_endorsement).transpose()?;
                tx.prepare_cached("INSERT OR REPLACE INTO own (id, name, claimed, endorsed) VALUES (1, ?1, ?2, ?3)")?
                    .execute(params![own.name, i64::try_from(own.claimed).unwrap_or(i64::MAX), endorsed])?;
            }
        }
    }
    let mut saved = tx.prepare_cached("SELECT delivered FROM marks WHERE origin = ?1")?;
    let mut set = tx.prepare_cached("INSERT OR REPLACE INTO marks (origin, delivered) VALUES (?1, ?2)")?;
    for (origin, delivered) in marks {
        let present: Option<i64> = saved.query_row([&origin.0[..]], |row| row.get(0)).optional()?;
        // Compared as u64 (see the module documentation on sequence numbers).
        if present.is_none_or(|p| p.cast_unsigned() < delivered) {
            set.execute(params![&origin.0[..], delivered.cast_signed()])?;
        }
    }
    Ok(added)
}

/// The row id of the frame `raw`, saved now unless this call saved it already.
fn frame_id(
    frames: &mut Vec<(*const u8, usize, i64)>,
    raw: &Bytes,
    add_frame: &mut rusqlite::CachedStatement<'_>,
    tx: &Transaction<'_>,
) -> rusqlite::Result<i64> {
    let key = (raw.as_ptr(), raw.len());
    // Most recent first: a batch's messages come one after another.
    if let Some(&(_, _, id)) = frames.iter().rev().find(|(p, l, _)| (*p, *l) == key) {
        return Ok(id);
    }
    add_frame.execute([&raw[..]])?;
    let id = tx.last_insert_rowid();
    frames.push((key.0, key.1, id));
    Ok(id)
}

/// Deletes the oldest messages beyond the newest `keep`, then the frames no
/// message uses; returns how many messages went. Marks are not touched.
fn compact(tx: &Transaction<'_>, keep: usize) -> rusqlite::Result<u64> {
    // Rows are numbered in the order they were saved, without holes (a row is
    // only ever deleted from the oldest end): the newest `keep` are the last
    // `keep` numbers, a range of the table's own b-tree found without a scan.
    let gone = tx.execute("DELETE FROM messages WHERE id <= (SELECT max(id) FROM messages) - ?1", [limit(keep)])?;
    // Frames are saved with (or before) the first message that uses them, so
    // every frame older than the oldest one a message still uses is unused.
    // The bound is looked up first, once: as a subquery in the DELETE's WHERE,
    // SQLite ran it for every frame.
    let oldest: Option<i64> = tx
        .query_row("SELECT frame FROM messages WHERE frame IS NOT NULL ORDER BY id LIMIT 1", [], |r| r.get(0))
        .optional()?;
    match oldest {
        Some(oldest) => tx.execute("DELETE FROM frames WHERE id < ?1", [oldest])?,
        None => tx.execute("DELETE FROM frames", [])?,
    };
    Ok(gone as u64)
}

/// An error of [`Db::apply`], naming the file.
fn store_error(name: &str, e: &rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::DiskFull(name.to_owned()),
        _ => StoreError::Other(format!("cannot save to {name}: {e}")),
    }
}

/// Takes the lock beside `path`.
fn lock(path: &Path) -> Result<File, OpenError> {
    let mut lock_name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    if lock_name.is_empty() {
        return Err(OpenError::Failed(format!("the history {} is not a file name", shown(path))));
    }
    lock_name.push(".lock");
    let lock_path = path.with_file_name(lock_name);
    let dir = parent(path);
    lock_exclusive(&lock_path).map_err(|e| match e {
        LockError::Held(pid) => OpenError::InUse { path: path.to_path_buf(), pid },
        LockError::Open(e) if e.kind() == io::ErrorKind::NotFound => OpenError::Failed(format!(
            "cannot keep the history {}: the directory {} does not exist",
            shown(path),
            shown(&dir)
        )),
        LockError::Open(e) if e.kind() == io::ErrorKind::PermissionDenied => OpenError::Failed(format!(
            "cannot keep the history {}: the directory {} is not writable ({e})",
            shown(path),
            shown(&dir)
        )),
        LockError::Open(e) => OpenError::Failed(format!("cannot open the history lock {}: {e}", shown(&lock_path))),
        LockError::Lock(e) => OpenError::Failed(format!("cannot lock {}: {e}", shown(&lock_path))),
        LockError::Write(e) => {
            OpenError::Failed(format!("cannot write to the history lock {}: {e}", shown(&lock_path)))
        }
    })
}

/// The directory `path` is in.
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens `path` as a history: settings, migrations, check.
fn connect(path: &Path) -> Result<Connection, Unusable> {
    // A new history is private to its owner from its first byte, like the key
    // (SQLite gives its `-wal` and `-shm` the database's mode). An empty file is
    // an empty database. If it cannot be made here, SQLite says why below.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    }
    let conn = Connection::open(path).map_err(|e| Unusable::Failed(format!("cannot open {}: {e}", shown(path))))?;
    let checked = setup(&conn).and_then(|()| migrate(&conn)).and_then(|()| check(&conn));
    match checked {
        Ok(()) => Ok(conn),
        Err(Unusable::Failed(e)) => Err(Unusable::Failed(format!("cannot open {}: {e}", shown(path)))),
        Err(unreadable) => {
            // Closed before the caller moves the file.
            drop(conn);
            Err(unreadable)
        }
    }
}

/// Sorts an error from opening a file into "not a usable history" and "failed".
fn unusable(e: &rusqlite::Error) -> Unusable {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Unusable::Unreadable(e.to_string()),
        _ => Unusable::Failed(e.to_string()),
    }
}

/// The connection's settings.
fn setup(conn: &Connection) -> Result<(), Unusable> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| unusable(&e))?;
    // Only takes effect on a new, empty file (before the first table): freed
    // pages are then given back by `PRAGMA incremental_vacuum` after compaction.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(|e| unusable(&e))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(|e| unusable(&e))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(Unusable::Failed(format!("the journal mode stays {mode}, not WAL")));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| unusable(&e))?;
    // Foreign keys off (the bundled SQLite turns them on by default): checking
    // `messages.frame` on every insert, and every message for every frame that
    // compaction deletes (a scan of the table per frame: 9 ms each at 100,000
    // messages), would cost more than all the rest. Compaction deletes only
    // frames older than the oldest one still used (see `compact`).
    conn.pragma_update(None, "foreign_keys", false).map_err(|e| unusable(&e))?;
    // After a checkpoint the write-ahead log is cut back to this size, so a burst
    // does not leave a large `-wal` file behind.
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT).map_err(|e| unusable(&e))?;
    Ok(())
}

/// Brings the schema to the current version, each step in its own transaction.
fn migrate(conn: &Connection) -> Result<(), Unusable> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(|e| unusable(&e))?;
    let known = MIGRATIONS.len();
    let Ok(from) = usize::try_from(version) else {
        return Err(Unusable::Unreadable(format!("its schema version {version} is not one p2pchat writes")));
    };
    if from > known {
        return Err(Unusable::Unreadable(format!(
            "its schema version {from} is newer than this p2pchat knows ({known})"
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(from) {
        let sql = format!("BEGIN IMMEDIATE; {step}; PRAGMA user_version = {}; COMMIT;", i + 1);
        if let Err(e) = conn.execute_batch(&sql) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(match e.sqlite_error_code() {
                // A failure to write is a failure; anything else (a table of
                // that name already there, say) means the file is not ours.
                Some(
                    ErrorCode::DiskFull
                    | ErrorCode::ReadOnly
                    | ErrorCode::CannotOpen
                    | ErrorCode::PermissionDenied
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::OutOfMemory,
                ) => Unusable::Failed(e.to_string()),
                _ => Unusable::Unreadable(format!("it is not a p2pchat history: {e}")),
            });
        }
    }
    Ok(())
}

/// `PRAGMA quick_check`.
fn check(conn: &Connection) -> Result<(), Unusable> {
    let result: String = conn.pragma_query_value(None, "quick_check", |row| row.get(0)).map_err(|e| unusable(&e))?;
    if result == "ok" { Ok(()) } else { Err(Unusable::Unreadable(format!("the check found: {result}"))) }
}

/// Moves `path`, with its `-wal` and `-shm`, to `path.corrupt-YYYYMMDD-HHMMSS`
/// (UTC; `-2`, `-3`... added if that is taken); returns the new name.
fn move_aside(path: &Path) -> Result<PathBuf, String> {
    let stamp = Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT strftime('%Y%m%d-%H%M%S', 'now')", [], |row| row.get::<_, String>(0)))
        .map_err(|e| format!("cannot read the clock: {e}"))?;
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let mut aside = with(&format!(".corrupt-{stamp}"));
    let mut n = 1;
    while aside.exists() || with_suffix(&aside, "-wal").exists() {
        n += 1;
        aside = with(&format!(".corrupt-{stamp}-{n}"));
    }
    std::fs::rename(path, &aside)
        .map_err(|e| format!("cannot move the unreadable history {} aside: {e}", shown(path)))?;
    for suffix in ["-wal", "-shm"] {
        let from = with_suffix(path, suffix);
        match std::fs::rename(&from, with_suffix(&aside, suffix)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot move {} aside: {e}", shown(&from))),
        }
    }
    Ok(aside)
}

/// `path` with `suffix` added to its name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What the writer thread tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The answer to a [`Writer::ask`].
    Answer {
        /// The question.
        query: Query,
        /// The lines, oldest first.
        lines: Vec<SavedLine>,
    },
    /// A line for the user: saving failed (once per kind of failure, until it
    /// works again), or a question could not be answered.
    Failed(String),
    /// A line for the user: saving works again after a [`Report::Failed`].
    Recovered(String),
}

/// The line reported when the disk is full.
pub const DISK_FULL: &str = "the disk is full: history is no longer saved (chat goes on)";
/// The line reported when saving works again.
pub const SAVED_AGAIN: &str = "history is saved again";

/// A job for the writer thread.
enum Job {
    Save(Vec<Stored>),
    Ask(Query),
    /// Tests reach into the thread's database (to fill its disk, say).
    #[cfg(test)]
    With(Box<dyn FnOnce(&mut Db) + Send>),
}

/// The writer thread: owns the [`Db`], saves records in batches and answers
/// queries in order with them, off the network thread.
///
/// Dropping it without [`Writer::close`] closes the queue all the same: the
/// thread saves what is queued and ends on its own, without anyone waiting.
pub struct Writer {
    jobs: Option<SyncSender<Job>>,
    /// Disconnected when the thread ends.
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("running", &self.jobs.is_some()).finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the thread `p2pchat-store` with `db` and a queue of [`QUEUE_JOBS`]
    /// jobs. `notify` is called after each report is sent (the driver wakes its
    /// loop with it).
    pub fn spawn(db: Db, notify: Box<dyn Fn() + Send>) -> io::Result<(Writer, Receiver<Report>)> {
        Self::spawn_with(db, notify, QUEUE_JOBS)
    }

    /// [`Writer::spawn`] with a queue of `capacity` jobs.
    pub fn spawn_with(db: Db, notify: Box<dyn Fn() + Send>, capacity: usize) -> io::Result<(Writer, Receiver<Report>)> {
        let (jobs, queue) = mpsc::sync_channel(capacity);
        let (reports, answers) = mpsc::channel();
        let (alive, done) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("p2pchat-store".to_owned()).spawn(move || {
            // Dropped when the thread ends, however it ends: `close` sees it.
            let _alive = alive;
            run(db, &queue, &reports, &*notify);
        })?;
        Ok((Writer { jobs: Some(jobs), done, thread: Some(thread) }, answers))
    }

    /// Queues `records` for saving without waiting; when the queue is full (or
    /// the thread is gone) they are handed back, to be offered again later.
    pub fn save(&self, records: Vec<Stored>) -> Result<(), Vec<Stored>> {
        if records.is_empty() {
            return Ok(());
        }
        self.send(Job::Save(records)).map_err(|job| match job {
            Job::Save(records) => records,
            _ => Vec::new(),
        })
    }

    /// Queues a question, answered with a [`Report::Answer`] once everything
    /// saved before it is saved; when the queue is full it is handed back.
    pub fn ask(&self, q: Query) -> Result<(), Query> {
        self.send(Job::Ask(q)).map_err(|job| match job {
            Job::Ask(q) => q,
            _ => Query::Last(0),
        })
    }

    /// Runs `f` on the thread's database, in order with the other jobs.
    #[cfg(test)]
    fn with(&self, f: impl FnOnce(&mut Db) + Send + 'static) {
        assert!(self.send(Job::With(Box::new(f))).is_ok(), "queued");
    }

    fn send(&self, job: Job) -> Result<(), Job> {
        let Some(jobs) = &self.jobs else { return Err(job) };
        jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }

    /// Saves everything queued and stops the thread, waiting at most `timeout`
    /// for it (after that it finishes on its own).
    pub fn close(mut self, timeout: Duration) {
        self.jobs = None;
        match self.done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The writer thread: until the queue is closed and empty, takes the jobs there
/// are (waiting for the first), saves the records among them in one transaction
/// per run of records, and answers questions in between. Nothing waits between
/// taking a record and committing it: the batch is what was already queued.
///
/// A batch that cannot be saved (the disk full) is dropped, not kept to be tried
/// again (memory would grow for as long as the disk stays full); the next batch
/// is tried as usual. Marks only rise, so the first batch saved again brings
/// them up to date for every origin it mentions.
fn run(mut db: Db, queue: &Receiver<Job>, reports: &mpsc::Sender<Report>, notify: &dyn Fn()) {
    let report = |r: Report| {
        if reports.send(r).is_ok() {
            notify();
        }
    };
    // The failure last reported, until saving works again.
    let mut failing: Option<StoreError> = None;
    let mut save = |db: &mut Db, records: &mut Vec<Stored>| {
        if records.is_empty() {
            return;
        }
        match db.apply(records) {
            Ok(()) => {
                if failing.take().is_some() {
                    report(Report::Recovered(SAVED_AGAIN.to_owned()));
                }
            }
            Err(e) => {
                let same = matches!((&failing, &e), (Some(StoreError::DiskFull(_)), StoreError::DiskFull(_)))
                    || matches!((&failing, &e), (Some(StoreError::Other(_)), StoreError::Other(_)));
                if !same {
                    report(Report::Failed(match &e {
                        StoreError::DiskFull(_) => DISK_FULL.to_owned(),
                        StoreError::Other(e) => format!("{e}: history is no longer saved (chat goes on)"),
                    }));
                }
                failing = Some(e);
            }
        }
        records.clear();
    };
    let mut records = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(job) = next {
            taken += 1;
            match job {
                Job::Save(mut more) => records.append(&mut more),
                Job::Ask(q) => {
                    save(&mut db, &mut records);
                    match db.query(&q) {
                        Ok(lines) => report(Report::Answer { query: q, lines }),
                        Err(e) => report(Report::Failed(e)),
                    }
                }
                #[cfg(test)]
                Job::With(f) => {
                    save(&mut db, &mut records);
                    f(&mut db);
                }
            }
            next = if taken < BATCH_JOBS { queue.try_recv().ok() } else { None };
        }
        save(&mut db, &mut records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::TestDir;
    use crate::memory::SavedMessage;
    use crate::wire::Mark;

    fn chat(origin: u64, seq: u64, text: &str, frame: &Bytes) -> SavedMessage {
        SavedMessage {
            origin: NodeId::from_u64(origin),
            seq,
            from: format!("user{origin}"),
            to: None,
            text: text.to_owned(),
            time_ms: 1_700_000_000_000 + seq % 1_000_000,
            frame: Some(frame.clone()),
        }
    }

    fn private(origin: u64, seq: u64, to: &str, text: &str) -> SavedMessage {
        SavedMessage {
            origin: NodeId::from_u64(origin),
            seq,
            from: format!("user{origin}"),
            to: Some(to.to_owned()),
            text: text.to_owned(),
            time_ms: 1_700_000_000_000 + seq % 1_000_000,
            frame: None,
        }
    }

    fn frame(tag: u8, len: usize) -> Bytes {
        Bytes::from(vec![tag; len])
    }

    fn memory(keep: usize) -> Db {
        Db::open_in_memory(keep).unwrap_or_else(|e| panic!("in memory: {e}"))
    }

    fn opened(path: &Path, keep: usize) -> (Db, Option<String>) {
        Db::open(path, keep).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
    }

    fn apply(db: &mut Db, records: &[Stored]) {
        db.apply(records).unwrap_or_else(|e| panic!("apply: {e}"));
    }

    fn load(db: &Db, history: usize, screen: usize) -> Saved {
        db.load(history, screen).unwrap_or_else(|e| panic!("load: {e}"))
    }

    fn texts(lines: &[SavedLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    fn rows(db: &Db, table: &str) -> i64 {
        db.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
    }

    fn sorted(mut marks: Vec<Mark>) -> Vec<Mark> {
        marks.sort();
        marks
    }

    #[test]
    fn apply_then_load_gives_back_marks_own_history_with_shared_frames_and_screen_in_order() {
        let mut db = memory(100);
        let batch = frame(1, 40);
        let single = frame(2, 30);
        let own = OwnSaved {
            name: "alice".into(),
            claimed: 1_700_000_000_123,
            endorsed: Some(Endorsement { by: NodeId::from_u64(9), at: 77, sig: Default::default() }),
        };
        apply(
            &mut db,
            &[
                Stored::Message(chat(1, 10, "one", &batch)),
                Stored::Message(chat(1, 11, "two", &batch)),
                Stored::Message(chat(1, 12, "three", &batch)),
                Stored::Message(private(2, 5, "alice", "psst")),
                Stored::Message(chat(3, 7, "four", &single)),
                Stored::Mark { origin: NodeId::from_u64(4), delivered: 99 },
                Stored::Mark { origin: NodeId::from_u64(1), delivered: 3 },
                Stored::Own(own.clone()),
            ],
        );
        assert_eq!(rows(&db, "frames"), 2, "the batch frame is saved once");
        let saved = load(&db, 10, 10);
        assert_eq!(
            sorted(saved.marks),
            vec![(NodeId::from_u64(1), 12), (NodeId::from_u64(3), 7), (NodeId::from_u64(4), 99)],
            "the largest of messages and marks; private messages set none"
        );
        assert_eq!(saved.own, Some(own));
        let history: Vec<(NodeId, u64)> = saved.history.iter().map(|(o, s, _)| (*o, *s)).collect();
        assert_eq!(
            history,
            vec![
                (NodeId::from_u64(1), 10),
                (NodeId::from_u64(1), 11),
                (NodeId::from_u64(1), 12),
                (NodeId::from_u64(3), 7)
            ]
        );
        assert_eq!(saved.history[0].2, batch);
        assert_eq!(saved.history[3].2, single);
        let ptr = saved.history[0].2.as_ptr();
        assert!(saved.history[1..3].iter().all(|(_, _, f)| f.as_ptr() == ptr), "one Bytes for one frame row");
        assert_ne!(saved.history[3].2.as_ptr(), ptr);
        assert_eq!(texts(&saved.screen), vec!["one", "two", "three", "psst", "four"]);
        assert_eq!(saved.screen[3].to.as_deref(), Some("alice"));
        assert_eq!(saved.screen[3].from, "user2");
        assert_eq!(saved.screen[0].time_ms, 1_700_000_000_010);
        assert_eq!(saved.screen[0].time.len(), "2023-11-14 22:13:20".len(), "{:?}", saved.screen[0].time);

        let few = load(&db, 2, 3);
        assert_eq!(few.history.iter().map(|(_, s, _)| *s).collect::<Vec<_>>(), vec![12, 7], "the last ones");
        assert_eq!(texts(&few.screen), vec!["three", "psst", "four"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_history_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TestDir::new("store-mode");
        let path = tmp.path().join(HISTORY_FILE);
        let (mut db, _) = Db::open(&path, 10).expect("open");
        apply(&mut db, &[Stored::Message(chat(1, 1, "hello", &frame(1, 10)))]);
        for f in [HISTORY_FILE, "history.db-wal"] {
            let mode = std::fs::metadata(tmp.path().join(f)).expect("the file is there").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    #[test]
    fn an_empty_store_loads_as_a_new_member() {
        assert_eq!(load(&memory(10), 10, 10), Saved::default());
    }

    #[test]
    fn a_chat_message_applied_twice_is_stored_once_but_private_ones_with_equal_numbers_are_kept() {
        let mut db = memory(100);
        let f = frame(1, 10);
        let m = Stored::Message(chat(1, 10, "hello", &f));
        apply(&mut db, &[m.clone(), m.clone()]);
        apply(&mut db, std::slice::from_ref(&m));
        assert_eq!(db.message_count(), Ok(1));
        assert_eq!(rows(&db, "messages"), 1);
        // The second call saved its frame again (the first call's copy is found
        // by pointer within a call only); it is unused, and compaction drops it.
        assert!(rows(&db, "frames") <= 2);
        let p = Stored::Message(private(1, 10, "bob", "hi"));
        apply(&mut db, &[p.clone(), p]);
        assert_eq!(db.message_count(), Ok(3), "private messages are not deduplicated");
    }

    #[test]
    fn marks_never_go_down_and_compare_as_unsigned_above_2_to_the_63() {
        let mut db = memory(100);
        let o = NodeId::from_u64(1);
        let high = (1u64 << 63) + 5;
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 50 }]);
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 20 }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, 50)]);
        apply(&mut db, &[Stored::Message(chat(1, 30, "old", &frame(1, 4)))]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, 50)], "an older message does not lower it");
        apply(&mut db, &[Stored::Mark { origin: o, delivered: high }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, high)]);
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 60 }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, high)], "60 < 2^63 + 5 though it is negative as i64");
        apply(&mut db, &[Stored::Message(chat(1, u64::MAX, "top", &frame(2, 4)))]);
        let saved = load(&db, 10, 10);
        assert_eq!(saved.marks, vec![(o, u64::MAX)]);
        assert_eq!(saved.history.last().map(|h| h.1), Some(u64::MAX), "the sequence number is exact");
    }

    #[test]
    fn compaction_bounds_the_messages_removes_unused_frames_and_keeps_marks() {
        let mut db = memory(20);
        // Origin 7's only message is compacted away early; its mark must stay.
        apply(&mut db, &[Stored::Message(chat(7, 1000, "early", &frame(99, 10)))]);
        let mut seq = 0;
        for round in 0..10u8 {
            let f = frame(round, 100);
            let records: Vec<Stored> = (0..5)
                .map(|_| {
                    seq += 1;
                    Stored::Message(chat(u64::from(round % 3) + 1, seq, &format!("m{seq}"), &f))
                })
                .collect();
            apply(&mut db, &records);
            let count = db.message_count().expect("count");
            assert!(count <= 22, "at most keep + keep/10, got {count}");
            assert_eq!(u64::try_from(rows(&db, "messages")).ok(), Some(count), "the count is the rows");
        }
        apply(&mut db, &[Stored::Mark { origin: NodeId::from_u64(9), delivered: 1 }]);
        let saved = load(&db, 100, 100);
        assert!(saved.history.len() >= 20 && saved.history.len() <= 22, "{}", saved.history.len());
        assert_eq!(saved.history.last().map(|h| h.1), Some(50), "the newest stay");
        let frames = rows(&db, "frames");
        assert!(frames <= 5, "frames of deleted messages are gone: {frames}");
        let used: i64 =
            db.conn.query_row("SELECT count(DISTINCT frame) FROM messages", [], |r| r.get(0)).expect("distinct frames");
        assert_eq!(frames, used, "no frame is unused");
        let marks = sorted(saved.marks);
        assert_eq!(
            marks,
            vec![
                (NodeId::from_u64(1), 50),
                (NodeId::from_u64(2), 40),
                (NodeId::from_u64(3), 45),
                (NodeId::from_u64(7), 1000),
                (NodeId::from_u64(9), 1)
            ]
        );
        assert_eq!(texts(&saved.screen).first().copied(), Some(format!("m{}", 51 - saved.history.len()).as_str()));
    }

    #[test]
    fn query_last_and_search_ignore_case_take_percent_and_underscore_literally_and_are_limited() {
        let mut db = memory(5000);
        let f = frame(1, 8);
        let mut records = vec![
            Stored::Message(chat(1, 1, "Hello World", &f)),
            Stored::Message(chat(1, 2, "100% sure", &f)),
            Stored::Message(chat(1, 3, "a_b and HELLO", &f)),
            Stored::Message(private(2, 1, "alice", "axb hello")),
            Stored::Message(chat(1, 4, "nothing", &f)),
        ];
        apply(&mut db, &records);
        let search = |t: &str| texts(&db.query(&Query::Search(t.into())).expect("search")).join("|");
        assert_eq!(search("hello"), "Hello World|a_b and HELLO|axb hello");
        assert_eq!(search("%"), "100% sure");
        assert_eq!(search("0%"), "100% sure");
        assert_eq!(search("a_b"), "a_b and HELLO", "'_' is not a wildcard");
        assert_eq!(search("absent"), "");
        let last = |n| texts(&db.query(&Query::Last(n)).expect("last")).join("|");
        assert_eq!(last(2), "axb hello|nothing");
        assert_eq!(last(0), "");
        assert_eq!(last(100), "Hello World|100% sure|a_b and HELLO|axb hello|nothing");

        records.clear();
        for seq in 10..(10 + MAX_QUERY_LINES as u64 + 50) {
            records.push(Stored::Message(chat(1, seq, &format!("x{seq} hello"), &f)));
        }
        apply(&mut db, &records);
        let lines = db.query(&Query::Last(usize::MAX)).expect("last");
        assert_eq!(lines.len(), MAX_QUERY_LINES);
        assert_eq!(
            lines.last().map(|l| l.text.as_str()),
            Some(format!("x{} hello", 9 + MAX_QUERY_LINES + 50).as_str())
        );
        let found = db.query(&Query::Search("HELLO".into())).expect("search");
        assert_eq!(found.len(), MAX_QUERY_LINES);
        assert_eq!(found.first().map(|l| l.text.as_str()), Some("x60 hello"), "the last ones, oldest first");
    }

    #[test]
    fn reopening_the_file_keeps_everything() {
        let tmp = TestDir::new("store-reopen");
        let path = tmp.path().join(HISTORY_FILE);
        let f = frame(3, 50);
        let own = OwnSaved { name: "alice".into(), claimed: 5, endorsed: None };
        let before = {
            let (mut db, notice) = opened(&path, 100);
            assert_eq!(notice, None);
            apply(
                &mut db,
                &[
                    Stored::Message(chat(1, 1, "a", &f)),
                    Stored::Message(chat(1, 2, "b", &f)),
                    Stored::Message(private(2, 1, "alice", "c")),
                    Stored::Mark { origin: NodeId::from_u64(5), delivered: 8 },
                    Stored::Own(own.clone()),
                ],
            );
            load(&db, 10, 10)
        };
        let (db, notice) = opened(&path, 100);
        assert_eq!(notice, None);
        assert_eq!(db.message_count(), Ok(3));
        let after = load(&db, 10, 10);
        assert_eq!(after, before);
        assert_eq!(after.own, Some(own));
        assert_eq!(after.history.len(), 2);
        let tables: i64 = db
            .conn
            .query_row("SELECT count(*) FROM lines WHERE length(origin) = 64", [], |r| r.get(0))
            .expect("the lines view");
        assert_eq!(tables, 3);
    }

    #[test]
    fn a_garbage_file_is_moved_aside_with_a_notice_and_a_new_history_works() {
        let tmp = TestDir::new("store-garbage");
        let path = tmp.path().join(HISTORY_FILE);
        let garbage = b"this is not an SQLite database, not at all, but long enough to look like one".repeat(20);
        std::fs::write(&path, &garbage).expect("write garbage");
        let (mut db, notice) = opened(&path, 100);
        let notice = notice.expect("a notice");
        let shown_path = path.display().to_string();
        assert!(notice.starts_with(&format!("{shown_path} could not be read (")), "{notice}");
        assert!(notice.ends_with("; starting a new history"), "{notice}");
        assert!(!notice.contains('\n'));
        let aside: Vec<PathBuf> = std::fs::read_dir(tmp.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains(".corrupt-") && !p.to_string_lossy().ends_with("-wal"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert!(notice.contains(&format!("it was moved to {}", aside[0].display())), "{notice}");
        let name = aside[0].file_name().expect("name").to_string_lossy().into_owned();
        let stamp = name.strip_prefix("history.db.corrupt-").expect("the documented name");
        assert!(stamp.len() == 15 && stamp.as_bytes()[8] == b'-', "YYYYMMDD-HHMMSS: {stamp}");
        assert_eq!(std::fs::read(&aside[0]).expect("moved"), garbage, "the file is kept as it was");
        apply(&mut db, &[Stored::Message(chat(1, 1, "fresh", &frame(1, 4)))]);
        assert_eq!(texts(&load(&db, 10, 10).screen), vec!["fresh"]);
        drop(db);

        // Again with the same second: the name gets a counter.
        std::fs::write(&path, &garbage).expect("write garbage");
        let first = aside[0].clone();
        let (_db, notice) = opened(&path, 100);
        let notice = notice.expect("a notice");
        assert!(std::fs::read(&first).is_ok_and(|f| f == garbage), "the first one is not written over");
        assert!(!notice.contains(&format!("moved to {};", first.display())), "{notice}");
    }

    #[test]
    fn a_schema_version_from_the_future_is_moved_aside() {
        let tmp = TestDir::new("store-future");
        let path = tmp.path().join(HISTORY_FILE);
        {
            let (mut db, _) = opened(&path, 100);
            apply(&mut db, &[Stored::Message(chat(1, 1, "from the future", &frame(1, 4)))]);
            db.conn.pragma_update(None, "user_version", 99).expect("set version");
        }
        let (db, notice) = opened(&path, 100);
        let notice = notice.expect("a notice");
        assert!(notice.contains("schema version 99 is newer"), "{notice}");
        assert_eq!(db.message_count(), Ok(0), "a new history");
        assert_eq!(load(&db, 10, 10), Saved::default());
    }

    #[test]
    fn a_second_open_is_refused_with_the_holders_pid_and_works_after_the_first_is_dropped() {
        let tmp = TestDir::new("store-lock");
        let path = tmp.path().join(HISTORY_FILE);
        let (first, _) = opened(&path, 100);
        let lock = std::fs::read_to_string(tmp.path().join("history.db.lock")).expect("the lock file");
        assert_eq!(lock, format!("{}\n", std::process::id()));
        match Db::open(&path, 100) {
            Err(e @ OpenError::InUse { .. }) => {
                assert_eq!(e, OpenError::InUse { path: path.clone(), pid: Some(std::process::id()) });
                assert_eq!(
                    e.to_string(),
                    format!("the history {} is in use by process {}", path.display(), std::process::id())
                );
            }
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(first);
        let (_again, notice) = opened(&path, 100);
        assert_eq!(notice, None);
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken() {
        let tmp = TestDir::new("store-stale");
        let path = tmp.path().join(HISTORY_FILE);
        tmp.write("history.db.lock", b"4194999\n", 0o600);
        let (_db, notice) = opened(&path, 100);
        assert_eq!(notice, None);
        let lock = std::fs::read_to_string(tmp.path().join("history.db.lock")).expect("lock");
        assert_eq!(lock, format!("{}\n", std::process::id()));
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_directory_is_a_clear_error() {
        let tmp = TestDir::new("store-readonly");
        let dir = tmp.path().join("ro");
        std::fs::create_dir(&dir).expect("mkdir");
        crate::identity::set_mode(&dir, 0o500);
        // Root ignores modes: then there is nothing to check.
        let probe = dir.join("probe");
        let writable = std::fs::write(&probe, b"").is_ok();
        if !writable {
            let path = dir.join(HISTORY_FILE);
            match Db::open(&path, 100) {
                Err(OpenError::Failed(e)) => {
                    assert!(!e.contains('\n'), "{e}");
                    assert!(
                        e.starts_with(&format!(
                            "cannot keep the history {}: the directory {} is not writable",
                            path.display(),
                            dir.display()
                        )),
                        "{e}"
                    );
                }
                other => panic!("expected an error, got {other:?}"),
            }
        }
        crate::identity::set_mode(&dir, 0o700);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let tmp = TestDir::new("store-nodir");
        let path = tmp.path().join("missing").join(HISTORY_FILE);
        match Db::open(&path, 100) {
            Err(OpenError::Failed(e)) => assert!(e.ends_with("does not exist"), "{e}"),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(!tmp.path().join("missing").exists());
    }

    /// Caps the database at its present size plus `pages`, as a full disk would.
    fn fill_disk(db: &Db, pages: i64) {
        let count: i64 = db.conn.pragma_query_value(None, "page_count", |r| r.get(0)).expect("page_count");
        db.conn.pragma_update(None, "max_page_count", count + pages).expect("max_page_count");
    }

    fn big(seq: u64) -> Vec<Stored> {
        vec![Stored::Message(chat(1, seq, &"x".repeat(20_000), &frame(1, 20_000)))]
    }

    #[test]
    fn a_full_disk_is_told_apart_and_nothing_of_the_call_is_saved() {
        let mut db = memory(100);
        apply(&mut db, &big(1));
        fill_disk(&db, 1);
        let records = [big(2), vec![Stored::Mark { origin: NodeId::from_u64(1), delivered: 9 }]].concat();
        assert_eq!(db.apply(&records), Err(StoreError::DiskFull("the in-memory history".into())));
        assert_eq!(
            StoreError::DiskFull("the in-memory history".into()).to_string(),
            "cannot save to the in-memory history: the disk is full"
        );
        assert_eq!(db.message_count(), Ok(1));
        assert_eq!(load(&db, 10, 10).marks, vec![(NodeId::from_u64(1), 1)], "nothing of the failed call");
        fill_disk(&db, 1000);
        apply(&mut db, &big(3));
        assert_eq!(db.message_count(), Ok(2));
    }

    /// The reports up to the next answer, and the answer's lines.
    fn until_answer(reports: &Receiver<Report>) -> (Vec<Report>, Vec<SavedLine>) {
        let mut seen = Vec::new();
        loop {
            match answer(reports) {
                Report::Answer { lines, .. } => return (seen, lines),
                other => seen.push(other),
            }
        }
    }

    #[test]
    fn the_writer_reports_a_full_disk_once_keeps_trying_and_reports_recovery_once() {
        let (writer, reports) = spawn(memory(100), 64);
        writer.with(|db| fill_disk(db, 1));
        let mut seen = Vec::new();
        for seq in 1..=3 {
            writer.save(big(seq)).expect("queued");
            // A question after each save: one batch each, and in order.
            writer.ask(Query::Last(10)).expect("asked");
            let (reported, lines) = until_answer(&reports);
            assert!(lines.is_empty());
            seen.extend(reported);
        }
        assert_eq!(seen, vec![Report::Failed(DISK_FULL.into())], "once");
        writer.with(|db| fill_disk(db, 1000));
        writer.save(big(4)).expect("queued");
        writer.ask(Query::Last(10)).expect("asked");
        let (reported, lines) = until_answer(&reports);
        assert_eq!(reported, vec![Report::Recovered(SAVED_AGAIN.into())]);
        assert_eq!(lines.len(), 1, "saving goes on with the next batch");
        writer.save(big(5)).expect("queued");
        writer.ask(Query::Last(10)).expect("asked");
        let (reported, lines) = until_answer(&reports);
        assert_eq!(reported, vec![], "recovery is told once");
        assert_eq!(lines.len(), 2);
        writer.close(Duration::from_secs(10));
    }

    #[test]
    fn compaction_gives_the_freed_pages_back_to_the_file_system() {
        let tmp = TestDir::new("store-vacuum");
        let path = tmp.path().join(HISTORY_FILE);
        let (mut db, _) = opened(&path, 10);
        let mode: i64 = db.conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0)).expect("auto_vacuum");
        assert_eq!(mode, 2, "incremental");
        let mut records = Vec::new();
        for seq in 1..=60 {
            records.push(Stored::Message(chat(
                1,
                seq,
                &"y".repeat(8_000),
                &frame(u8::try_from(seq).unwrap_or(0), 8_000),
            )));
        }
        apply(&mut db, &records);
        assert_eq!(db.message_count(), Ok(10));
        let free: i64 = db.conn.pragma_query_value(None, "freelist_count", |r| r.get(0)).expect("freelist");
        assert_eq!(free, 0, "the pages of 50 messages and their frames are given back");
        let pages: i64 = db.conn.pragma_query_value(None, "page_count", |r| r.get(0)).expect("page_count");
        assert!(pages < 100, "about 10 messages of 16 kB: {pages} pages");
    }

    #[test]
    fn an_sqlite_file_that_is_not_a_history_is_moved_aside() {
        let tmp = TestDir::new("store-foreign");
        let path = tmp.path().join(HISTORY_FILE);
        {
            let other = Connection::open(&path).expect("another program's database");
            other.execute_batch("CREATE TABLE messages (x); INSERT INTO messages VALUES (1);").expect("its table");
        }
        let (db, notice) = opened(&path, 100);
        let notice = notice.expect("a notice");
        assert!(notice.contains("(it is not a p2pchat history: "), "{notice}");
        assert_eq!(db.message_count(), Ok(0));
    }

    #[test]
    fn a_saved_record_is_in_the_file_well_within_a_second_without_close() {
        let tmp = TestDir::new("store-soon");
        let path = tmp.path().join(HISTORY_FILE);
        let (db, _) = opened(&path, 100);
        let (writer, _reports) = spawn(db, 64);
        writer.save(vec![Stored::Message(chat(1, 1, "soon", &frame(1, 8)))]).expect("queued");
        // What another process (a restart after kill -9) would read from the file.
        let reader = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader");
        let start = std::time::Instant::now();
        let mut seen = 0;
        while start.elapsed() < Duration::from_secs(1) {
            seen = reader.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0)).expect("count");
            if seen == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen, 1, "committed within {:?}", start.elapsed());
        assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
        drop(writer);
    }

    fn spawn(db: Db, capacity: usize) -> (Writer, Receiver<Report>) {
        Writer::spawn_with(db, Box::new(|| {}), capacity).expect("spawn")
    }

    fn answer(reports: &Receiver<Report>) -> Report {
        reports.recv_timeout(Duration::from_secs(10)).expect("a report")
    }

    #[test]
    fn the_writer_answers_a_query_after_the_records_saved_before_it() {
        let (notified_tx, notified) = mpsc::channel();
        let (writer, reports) = Writer::spawn(
            memory(100),
            Box::new(move || {
                let _ = notified_tx.send(());
            }),
        )
        .expect("spawn");
        let f = frame(1, 8);
        for seq in 1..=50 {
            writer.save(vec![Stored::Message(chat(1, seq, &format!("m{seq}"), &f))]).expect("queued");
        }
        writer.ask(Query::Last(3)).expect("asked");
        match answer(&reports) {
            Report::Answer { query, lines } => {
                assert_eq!(query, Query::Last(3));
                assert_eq!(texts(&lines), vec!["m48", "m49", "m50"]);
            }
            other => panic!("expected an answer, got {other:?}"),
        }
        assert!(notified.recv_timeout(Duration::from_secs(1)).is_ok(), "notify is called after a report");
        writer.close(Duration::from_secs(10));
    }

    #[test]
    fn close_flushes_what_is_queued_to_the_file() {
        let tmp = TestDir::new("store-close");
        let path = tmp.path().join(HISTORY_FILE);
        let (db, _) = opened(&path, 1000);
        let (writer, _reports) = spawn(db, 4096);
        let f = frame(1, 8);
        for seq in 1..=200 {
            writer.save(vec![Stored::Message(chat(1, seq, "x", &f))]).expect("queued");
        }
        writer.close(Duration::from_secs(10));
        let (db, _) = opened(&path, 1000);
        assert_eq!(db.message_count(), Ok(200));
    }

    #[test]
    fn dropping_the_writer_saves_what_is_queued_and_releases_the_file() {
        let tmp = TestDir::new("store-drop");
        let path = tmp.path().join(HISTORY_FILE);
        let (db, _) = opened(&path, 1000);
        let (writer, reports) = spawn(db, 4096);
        writer.save(vec![Stored::Message(chat(1, 1, "x", &frame(1, 8)))]).expect("queued");
        drop(writer);
        // The thread ends (dropping the report sender) once it has saved.
        assert!(matches!(reports.recv_timeout(Duration::from_secs(10)), Err(mpsc::RecvTimeoutError::Disconnected)));
        let (db, _) = opened(&path, 1000);
        assert_eq!(db.message_count(), Ok(1));
    }

    #[test]
    fn a_full_queue_hands_the_records_back() {
        let (block_tx, block) = mpsc::channel::<()>();
        let (writer, reports) = Writer::spawn_with(
            memory(100),
            // The first report blocks the thread until the test lets it go.
            Box::new(move || {
                let _ = block.recv();
            }),
            2,
        )
        .expect("spawn");
        writer.ask(Query::Last(1)).expect("asked");
        // Wait until the thread holds the question (its report is sent, notify blocks).
        assert!(matches!(answer(&reports), Report::Answer { .. }));
        let records = vec![Stored::Mark { origin: NodeId::from_u64(1), delivered: 1 }];
        writer.save(records.clone()).expect("1 queued");
        writer.save(records.clone()).expect("2 queued");
        assert_eq!(writer.save(records.clone()), Err(records.clone()), "full: given back");
        assert_eq!(writer.ask(Query::Last(2)), Err(Query::Last(2)));
        drop(block_tx);
        writer.close(Duration::from_secs(10));
    }
}
