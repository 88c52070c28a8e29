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
//! Schema (version 2; `PRAGMA user_version` is the schema version, and
//! [`MIGRATIONS`] are applied in order, each in the transaction that sets the
//! version, so a later version is one more entry; version 1 kept one row per
//! message and is converted):
//! - `chunks(id, count, origin, seq, sender, recipient, texts, time_ms, frame)`:
//!   the lines shown, one row per run of them that came together: a chat batch
//!   (up to 256 messages of one origin, numbered from `seq`, with the frame they
//!   came in, kept to offer to others) or one private message (`recipient` set,
//!   no frame). `texts` is a JSON array of the texts. Lines are numbered in the
//!   order they were shown, and `id` is the number of a row's first line, so
//!   the line `id + i` is the row's text `i`. One row per batch is what makes
//!   saving cheap: a batch costs one insert (and, at `--keep`, one delete)
//!   whatever its size, where a row per message cost the writer about 6 µs a
//!   message, as much as everything else a relay does with it.
//! - `marks(origin, delivered)`: per-origin high-water marks, only ever raised.
//! - `own(id = 1, name, claimed, endorsed)`: this member's standing on its name;
//!   `endorsed` is the [`Endorsement`] in bincode (standard configuration).
//! - the view `lines`: one row per line as a person reads it (its number, local
//!   time, names, text, the origin in hex), unfolded from `chunks` with
//!   `json_each`.
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
use crate::memory::{FramePage, FrameQuery, MAX_QUERY_LINES, OwnSaved, Query, Saved, SavedChat, SavedLine, Stored};
use crate::wire::{self, Endorsement};

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
    // Version 2: a row per run of lines (a batch), not per line.
    "CREATE TABLE chunks (
         id INTEGER PRIMARY KEY,          -- the number of its first line
         count INTEGER NOT NULL CHECK (count >= 1),
         origin BLOB NOT NULL CHECK (length(origin) = 32),
         seq INTEGER NOT NULL,            -- of the first line; u64 stored bit for bit
         sender TEXT NOT NULL,
         recipient TEXT,                  -- NULL for chat
         texts TEXT NOT NULL,             -- a JSON array of `count` texts
         time_ms INTEGER NOT NULL,        -- shown at, ms since the Unix epoch
         frame BLOB                       -- chat: the frame the lines came in
     );
     CREATE UNIQUE INDEX chunks_chat ON chunks (origin, seq) WHERE recipient IS NULL;
     -- Chat: the lines of one frame, one origin and one name, numbered without a
     -- gap both as lines and as sequence numbers, become one row (islands: the
     -- line number and the sequence number less the rank within the frame are
     -- the same for all of them), so a frame is kept once per run, as before.
     INSERT INTO chunks (id, count, origin, seq, sender, recipient, texts, time_ms, frame)
         SELECT min(g.id), count(*), g.origin, min(g.seq), g.sender, NULL,
                json_group_array(g.text ORDER BY g.id), max(g.time_ms), f.raw
         FROM (SELECT m.id, m.origin, m.seq, m.sender, m.text, m.time_ms, m.frame,
                      m.id - row_number() OVER w AS by_line,
                      m.seq - row_number() OVER w AS by_seq
               FROM messages m
               WHERE m.recipient IS NULL
               WINDOW w AS (PARTITION BY m.frame, m.origin, m.sender ORDER BY m.id)) g
              LEFT JOIN frames f ON f.id = g.frame
         GROUP BY g.frame, g.origin, g.sender, g.by_line, g.by_seq;
     INSERT INTO chunks (id, count, origin, seq, sender, recipient, texts, time_ms, frame)
         SELECT id, 1, origin, seq, sender, recipient, json_array(text), time_ms, NULL
         FROM messages
         WHERE recipient IS NOT NULL;
     DROP VIEW lines;
     DROP TABLE messages;
     DROP TABLE frames;
     CREATE VIEW lines AS
         SELECT c.id + j.key AS id,
                strftime('%Y-%m-%d %H:%M:%S', c.time_ms / 1000, 'unixepoch', 'localtime') AS time,
                c.sender AS sender,
                c.recipient AS recipient,
                j.value AS text,
                lower(hex(c.origin)) AS origin
         FROM chunks c, json_each(c.texts) j;",
];

/// How long a statement waits for a reader (the `sqlite3` tool) to let go.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Jobs the writer queue holds by default before [`Writer::save`] hands records
/// back (the driver hands over a job every 25 ms, or of 4096 messages).
pub const QUEUE_JOBS: usize = 64;

/// Bytes the write-ahead log is cut back to after a checkpoint.
const WAL_LIMIT: i64 = 16 << 20;

/// Most jobs the writer thread takes into one transaction.
const BATCH_JOBS: usize = 512;

/// Pages given back to the file system per compaction.
const VACUUM_PAGES: u32 = 1024;

/// The local-time text of a `time_ms` column, in SQL.
/// Rows a [`Db::frames`] page looks at most (so that one page never holds the
/// writer long, however few rows match).
const FRAME_PAGE_ROWS: usize = 20_000;

const LOCAL_TIME: &str = "strftime('%Y-%m-%d %H:%M:%S', c.time_ms / 1000, 'unixepoch', 'localtime')";

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
    /// Lines saved (the sum of `chunks.count`), kept up to date so that no
    /// apply counts them.
    count: u64,
    /// The number of the next line (the `id` of the next row).
    next: i64,
    /// The lock on `history.db.lock`, held while this lives.
    _lock: Option<File>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("name", &self.name)
            .field("keep", &self.keep)
            .field("count", &self.count)
            .field("next", &self.next)
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
        let mut db = Db { conn, name: shown(path), keep, count: 0, next: 1, _lock: Some(lock) };
        (db.count, db.next) = db.count_rows().map_err(OpenError::Failed)?;
        Ok((db, notice))
    }

    /// A private in-memory history with the same schema, for the simulator and
    /// tests.
    #[cfg(any(test, feature = "sim"))]
    pub fn open_in_memory(keep: usize) -> Result<Db, String> {
        let name = "the in-memory history".to_owned();
        let conn = Connection::open_in_memory().map_err(|e| format!("cannot open {name}: {e}"))?;
        setup(&conn).and_then(|()| migrate(&conn)).map_err(|e| match e {
            Unusable::Failed(e) | Unusable::Unreadable(e) => format!("cannot open {name}: {e}"),
        })?;
        Ok(Db { conn, name, keep, count: 0, next: 1, _lock: None })
    }

    /// Saves `records`, in order, in one transaction: all or nothing.
    ///
    /// Each [`Stored::Chat`] is one row, its texts read from its frame; a run
    /// already saved (same origin and first sequence number) is not saved again.
    /// Marks are raised to the largest of their saved value, every chat message
    /// of their origin, and every [`Stored::Mark`]; never lowered.
    /// [`Stored::Own`] replaces the saved standing. When more than `keep + keep /
    /// 10` messages are saved, the oldest beyond `keep` are deleted (marks stay),
    /// and the file gives some of the freed pages back.
    pub fn apply(&mut self, records: &[Stored]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let name = self.name.clone();
        let failed = |e: rusqlite::Error| store_error(&name, &e);
        let tx = self.conn.transaction().map_err(failed)?;
        let mut next = self.next;
        let added = write_records(&tx, records, &mut next).map_err(failed)?;
        let mut count = self.count + added;
        let limit = self.keep.saturating_add(self.keep / 10) as u64;
        let compacted = count > limit;
        if compacted {
            count -= compact(&tx, count, self.keep as u64).map_err(failed)?;
        }
        tx.commit().map_err(failed)?;
        self.count = count;
        self.next = next;
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
            .prepare("SELECT origin, seq, count, frame FROM chunks WHERE recipient IS NULL ORDER BY id DESC")
            .map_err(failed)?;
        let mut rows = stmt.query([]).map_err(failed)?;
        // Newest first, until there are `history`; one `Bytes` per row.
        while saved_history.len() < history
            && let Some(row) = rows.next().map_err(failed)?
        {
            let origin = node_id(&row.get::<_, Vec<u8>>(0).map_err(failed)?, &self.name)?;
            let first = row.get::<_, i64>(1).map_err(failed)?.cast_unsigned();
            let count = u64::try_from(row.get::<_, i64>(2).map_err(failed)?).unwrap_or(0);
            let Some(frame) = row.get::<_, Option<Vec<u8>>>(3).map_err(failed)?.map(Bytes::from) else { continue };
            let take = count.min((history - saved_history.len()) as u64);
            for k in (count - take..count).rev() {
                saved_history.push((origin, first.wrapping_add(k), frame.clone()));
            }
        }
        drop(rows);
        saved_history.reverse();
        let screen = self.last_lines(screen).map_err(failed)?;
        Ok(Saved { marks, own, history: saved_history, screen })
    }

    /// The saved lines a user asks for: [`Query::Last`] the last `n` (at most
    /// [`MAX_QUERY_LINES`]), [`Query::Search`] the last [`MAX_QUERY_LINES`] whose
    /// text contains the given text, ignoring ASCII case (`%` and `_` are
    /// plain characters). Oldest first.
    pub fn query(&self, q: &Query) -> Result<Vec<SavedLine>, String> {
        let failed = |e: rusqlite::Error| format!("cannot search {}: {e}", self.name);
        match q {
            Query::Last(n) => self.last_lines((*n).min(MAX_QUERY_LINES)).map_err(failed),
            Query::Search(text) => self.search(text, MAX_QUERY_LINES).map_err(failed),
        }
    }

    /// A page of saved chat frames for a neighbour catching up (see
    /// [`FrameQuery`]). Sequence numbers are compared here, not in SQL: they are
    /// stored bit for bit, and SQLite compares them as signed numbers. The
    /// frames of the rows that match are read one by one: the scan itself reads
    /// no frame.
    pub fn frames(&self, q: &FrameQuery) -> Result<FramePage, String> {
        let failed = |e: rusqlite::Error| format!("cannot read {}: {e}", self.name);
        let need: HashMap<NodeId, u64> = q.need.iter().copied().collect();
        let mut page = FramePage { peer: q.peer, frames: Vec::new(), last: q.after, end: true };
        let mut scan = self
            .conn
            .prepare_cached(
                "SELECT id, origin, seq, count FROM chunks WHERE recipient IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(failed)?;
        let mut frame = self.conn.prepare_cached("SELECT frame FROM chunks WHERE id = ?1").map_err(failed)?;
        let limit = i64::try_from(FRAME_PAGE_ROWS).unwrap_or(i64::MAX);
        let mut rows = scan.query(params![q.after, limit]).map_err(failed)?;
        let (mut looked, mut bytes) = (0, 0);
        while let Some(row) = rows.next().map_err(failed)? {
            looked += 1;
            let id: i64 = row.get(0).map_err(failed)?;
            page.last = id;
            let origin = node_id(&row.get::<_, Vec<u8>>(1).map_err(failed)?, &self.name)?;
            let first = row.get::<_, i64>(2).map_err(failed)?.cast_unsigned();
            let count = u32::try_from(row.get::<_, i64>(3).map_err(failed)?).unwrap_or(0);
            let wanted = need.get(&origin).is_some_and(|&n| first.saturating_add(u64::from(count)) > n);
            if wanted && let Some(raw) = frame.query_row([id], |r| r.get::<_, Option<Vec<u8>>>(0)).map_err(failed)? {
                let raw = Bytes::from(raw);
                // Two runs of one batch (two names) keep the frame twice: send it once.
                if page.frames.last().is_none_or(|(_, _, _, f)| f != &raw) {
                    bytes += raw.len();
                    page.frames.push((origin, first, count, raw));
                } else if let Some(last) = page.frames.last_mut() {
                    last.2 = last.2.saturating_add(count);
                }
            }
            if bytes >= q.budget {
                page.end = false;
                break;
            }
        }
        if looked == FRAME_PAGE_ROWS {
            page.end = false;
        }
        Ok(page)
    }

    /// How many messages are saved (chat and private): what the tests check the
    /// rows against.
    #[cfg(test)]
    pub fn message_count(&self) -> Result<u64, String> {
        Ok(self.count)
    }

    /// The lines saved and the number of the next one.
    fn count_rows(&self) -> Result<(u64, i64), String> {
        self.conn
            .query_row("SELECT coalesce(sum(count), 0), coalesce(max(id + count), 1) FROM chunks", [], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })
            .map(|(count, next)| (u64::try_from(count).unwrap_or(0), next))
            .map_err(|e| format!("cannot read {}: {e}", self.name))
    }

    /// The last `n` lines, oldest first: rows newest first until there are `n`.
    fn last_lines(&self, n: usize) -> rusqlite::Result<Vec<SavedLine>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT sender, recipient, texts, time_ms, {LOCAL_TIME} FROM chunks c ORDER BY id DESC"
        ))?;
        let mut rows = stmt.query([])?;
        let mut lines = Vec::new();
        while lines.len() < n
            && let Some(row) = rows.next()?
        {
            let texts: String = row.get(2)?;
            let texts: Vec<String> = serde_json::from_str(&texts)
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into()))?;
            let (from, to): (String, Option<String>) = (row.get(0)?, row.get(1)?);
            let time_ms = u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0);
            let time = row.get::<_, Option<String>>(4)?.unwrap_or_default();
            for text in texts.into_iter().rev().take(n - lines.len()) {
                lines.push(SavedLine { from: from.clone(), to: to.clone(), text, time_ms, time: time.clone() });
            }
        }
        lines.reverse();
        Ok(lines)
    }

    /// The last `n` lines whose text contains `text`, ignoring ASCII case,
    /// oldest first.
    fn search(&self, text: &str, n: usize) -> rusqlite::Result<Vec<SavedLine>> {
        // instr, not LIKE: no character of the text is a wildcard. lower() folds
        // ASCII only, as `:search` promises.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT c.sender, c.recipient, j.value, c.time_ms, {LOCAL_TIME}
             FROM chunks c, json_each(c.texts) j
             WHERE instr(lower(j.value), lower(?2)) > 0
             ORDER BY c.id DESC, j.key DESC LIMIT ?1"
        ))?;
        let mut lines = stmt
            .query_map(params![limit(n), text], |row| {
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

/// Writes `records` in `tx`, numbering lines from `next` (left at the number
/// after the last); returns how many lines were added.
fn write_records(tx: &Transaction<'_>, records: &[Stored], next: &mut i64) -> rusqlite::Result<u64> {
    let mut add = tx.prepare_cached(
        "INSERT OR IGNORE INTO chunks (id, count, origin, seq, sender, recipient, texts, time_ms, frame)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut marks: HashMap<NodeId, u64> = HashMap::new();
    let mut raise = |origin: NodeId, to: u64| {
        let mark = marks.entry(origin).or_insert(to);
        *mark = (*mark).max(to);
    };
    let time = |ms: u64| i64::try_from(ms).unwrap_or(i64::MAX);
    let mut added = 0;
    for record in records {
        let (count, inserted) = match record {
            Stored::Chat(c) => {
                raise(c.origin, c.last());
                let Some(texts) = run_texts(c) else {
                    // Only a frame the node accepted is ever saved, and it holds
                    // these messages: this is a bug, not bad input.
                    debug_assert!(false, "a saved run whose frame does not hold it: {c:?}");
                    continue;
                };
                let row = params![
                    *next,
                    c.count,
                    &c.origin.0[..],
                    c.first.cast_signed(),
                    c.from,
                    None::<&str>,
                    texts,
                    time(c.time_ms),
                    &c.frame[..]
                ];
                (i64::from(c.count), add.execute(row)?)
            }
            Stored::Private(p) => {
                let texts =
                    serde_json::to_string(&[&p.text]).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                let row = params![
                    *next,
                    1,
                    &p.origin.0[..],
                    p.seq.cast_signed(),
                    p.from,
                    p.to,
                    texts,
                    time(p.time_ms),
                    None::<&[u8]>
                ];
                (1, add.execute(row)?)
            }
            Stored::Mark { origin, delivered } => {
                raise(*origin, *delivered);
                continue;
            }
            Stored::Own(own) => {
                let endorsed = own.endorsed.as_ref().map(encode_endorsement).transpose()?;
                tx.prepare_cached("INSERT OR REPLACE INTO own (id, name, claimed, endorsed) VALUES (1, ?1, ?2, ?3)")?
                    .execute(params![own.name, i64::try_from(own.claimed).unwrap_or(i64::MAX), endorsed])?;
                continue;
            }
        };
        // A run already saved is ignored by the unique index (the node never
        // shows one twice, so that is rare) and numbers no lines.
        if inserted > 0 {
            *next = next.saturating_add(count);
            added += count as u64;
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

/// The texts of a run of chat messages as a JSON array, read from the frame
/// they came in (on the writer thread: the network thread copies no text to
/// save it); None if the frame does not hold them.
fn run_texts(c: &SavedChat) -> Option<String> {
    let body = c.frame.get(wire::LEN_PREFIX..)?;
    let count = c.count as usize;
    let json = |texts: &[&str]| serde_json::to_string(texts).ok();
    if let Some(batch) = wire::peek_batch(body) {
        let batch = batch.ok()?;
        let start = usize::try_from(c.first.checked_sub(batch.first)?).ok()?;
        let items = batch.items.get(start..start.checked_add(count)?)?;
        json(&items.iter().map(|(_, text)| *text).collect::<Vec<_>>())
    } else {
        let chat = wire::peek_chat(body)?.ok()?;
        if count == 1 && chat.seq == c.first { json(&[chat.text]) } else { None }
    }
}

/// Deletes the oldest lines beyond the newest `keep` of the `count` saved:
/// whole rows, then the oldest lines of the row that holds the boundary.
/// Returns how many lines went. Marks are not touched.
fn compact(tx: &Transaction<'_>, count: u64, keep: u64) -> rusqlite::Result<u64> {
    let excess = count.saturating_sub(keep);
    // The oldest rows, until the next would take more than the excess: a few
    // rows at the table's oldest end, found without a scan.
    let mut boundary = None;
    let mut gone = 0u64;
    {
        let mut oldest = tx.prepare_cached("SELECT id, count, seq FROM chunks ORDER BY id")?;
        let mut rows = oldest.query([])?;
        while let Some(row) = rows.next()? {
            let (id, n, seq): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let n = u64::try_from(n).unwrap_or(0);
            if gone + n > excess {
                boundary = Some((id, n, seq));
                break;
            }
            gone += n;
        }
    }
    let Some((id, n, seq)) = boundary else {
        let all = tx.execute("DELETE FROM chunks", [])?;
        return Ok(if all > 0 { gone } else { 0 });
    };
    tx.execute("DELETE FROM chunks WHERE id < ?1", [id])?;
    // The row across the boundary loses its first lines: its number and first
    // sequence number move on (in Rust: a sequence number is a u64 stored bit
    // for bit), its texts lose their head. Its frame stays whole: offered to
    // others, the messages before are dropped there as known or old.
    let cut = excess - gone;
    if cut > 0 && cut < n {
        let cut_i = i64::try_from(cut).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE chunks SET id = id + ?2, count = count - ?2, seq = ?3,
                 texts = (SELECT json_group_array(value ORDER BY key) FROM json_each(texts) WHERE key >= ?2)
             WHERE id = ?1",
            params![id, cut_i, seq.cast_unsigned().wrapping_add(cut).cast_signed()],
        )?;
        gone += cut;
    }
    Ok(gone)
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
    // Foreign keys off (the bundled SQLite turns them on by default): the schema
    // has none since version 2, and version 1's (`messages.frame`) made every
    // frame that compaction deleted scan every message, 9 ms a frame at 100,000
    // messages, for a file about to be migrated.
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
    /// The answer to a [`Writer::frames`].
    Frames(FramePage),
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
    Frames(FrameQuery),
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

    /// Queues a [`FrameQuery`], answered with a [`Report::Frames`] once everything
    /// saved before it is saved; when the queue is full it is handed back.
    pub fn frames(&self, q: FrameQuery) -> Result<(), FrameQuery> {
        self.send(Job::Frames(q)).map_err(|job| match job {
            Job::Frames(q) => q,
            _ => FrameQuery { peer: 0, need: Vec::new(), after: 0, budget: 0 },
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
                Job::Frames(q) => {
                    save(&mut db, &mut records);
                    // A page that cannot be read ends the catch-up there: the
                    // neighbour learns of the loss as a gap, as from any loss.
                    let page = db.frames(&q).unwrap_or_else(|e| {
                        report(Report::Failed(e));
                        FramePage { peer: q.peer, frames: Vec::new(), last: q.after, end: true }
                    });
                    report(Report::Frames(page));
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
    use crate::memory::{SavedChat, SavedPrivate};
    use crate::wire::{Batch, BatchItem, Frame, Mark};

    const SHOWN_AT: u64 = 1_700_000_000_000;

    /// A batch frame of `origin`'s messages numbered from `first` (unsigned:
    /// the store reads frames, it does not check them).
    fn batch(origin: u64, first: u64, texts: &[&str]) -> Bytes {
        let items = texts.iter().map(|t| BatchItem { name: format!("user{origin}"), text: (*t).to_owned() }).collect();
        Frame::Batch(Batch { origin: NodeId::from_u64(origin), first, items, sig: Default::default() })
            .encode()
            .expect("a batch frame")
    }

    /// `count` messages of `frame` (a batch of `origin`'s), from `first`.
    fn run(origin: u64, first: u64, count: u32, frame: &Bytes) -> Stored {
        Stored::Chat(SavedChat {
            origin: NodeId::from_u64(origin),
            first,
            count,
            from: format!("user{origin}"),
            time_ms: SHOWN_AT + first % 1_000_000,
            frame: frame.clone(),
        })
    }

    /// One chat message in a batch of its own.
    fn one(origin: u64, seq: u64, text: &str) -> Stored {
        run(origin, seq, 1, &batch(origin, seq, &[text]))
    }

    fn private(origin: u64, seq: u64, to: &str, text: &str) -> Stored {
        Stored::Private(SavedPrivate {
            origin: NodeId::from_u64(origin),
            seq,
            from: format!("user{origin}"),
            to: to.to_owned(),
            text: text.to_owned(),
            time_ms: SHOWN_AT + seq % 1_000_000,
        })
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
        let three = batch(1, 10, &["one", "two", "three"]);
        let own = OwnSaved {
            name: "alice".into(),
            claimed: 1_700_000_000_123,
            endorsed: Some(Endorsement { by: NodeId::from_u64(9), at: 77, sig: Default::default() }),
        };
        let single = batch(3, 7, &["four"]);
        apply(
            &mut db,
            &[
                run(1, 10, 3, &three),
                private(2, 5, "alice", "psst"),
                run(3, 7, 1, &single),
                Stored::Mark { origin: NodeId::from_u64(4), delivered: 99 },
                Stored::Mark { origin: NodeId::from_u64(1), delivered: 3 },
                Stored::Own(own.clone()),
            ],
        );
        assert_eq!(rows(&db, "chunks"), 3, "one row per run");
        assert_eq!(rows(&db, "lines"), 5, "one line per message");
        assert_eq!(db.message_count(), Ok(5));
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
        assert_eq!(saved.history[0].2, three);
        assert_eq!(saved.history[3].2, single);
        let ptr = saved.history[0].2.as_ptr();
        assert!(saved.history[1..3].iter().all(|(_, _, f)| f.as_ptr() == ptr), "one Bytes for one row");
        assert_ne!(saved.history[3].2.as_ptr(), ptr);
        assert_eq!(texts(&saved.screen), vec!["one", "two", "three", "psst", "four"]);
        assert_eq!(saved.screen[3].to.as_deref(), Some("alice"));
        assert_eq!(saved.screen[3].from, "user2");
        assert_eq!(saved.screen[0].time_ms, SHOWN_AT + 10);
        assert_eq!(saved.screen[0].time.len(), "2023-11-14 22:13:20".len(), "{:?}", saved.screen[0].time);
        let numbered: Vec<(i64, String)> = db
            .conn
            .prepare("SELECT id, text FROM lines ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("the lines view");
        let want: Vec<(i64, String)> =
            ["one", "two", "three", "psst", "four"].iter().zip(1..).map(|(t, i)| (i, (*t).to_owned())).collect();
        assert_eq!(numbered, want, "lines are numbered in the order shown");

        let few = load(&db, 2, 3);
        assert_eq!(few.history.iter().map(|(_, s, _)| *s).collect::<Vec<_>>(), vec![12, 7], "the last ones");
        assert_eq!(texts(&few.screen), vec!["three", "psst", "four"]);
    }

    #[test]
    fn a_run_of_a_longer_batch_keeps_only_its_own_texts() {
        let mut db = memory(100);
        let frame = batch(1, 100, &["a", "b", "c", "d"]);
        // Shown in two runs (the name changed between "b" and "c", say).
        apply(&mut db, &[run(1, 101, 2, &frame), run(1, 103, 1, &frame)]);
        assert_eq!(texts(&load(&db, 10, 10).screen), vec!["b", "c", "d"]);
        assert_eq!(load(&db, 10, 10).history.iter().map(|h| h.1).collect::<Vec<_>>(), vec![101, 102, 103]);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_history_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TestDir::new("store-mode");
        let path = tmp.path().join(HISTORY_FILE);
        let (mut db, _) = Db::open(&path, 10).expect("open");
        apply(&mut db, &[one(1, 1, "hello")]);
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
    fn a_chat_run_applied_twice_is_stored_once_but_private_ones_with_equal_numbers_are_kept() {
        let mut db = memory(100);
        let m = one(1, 10, "hello");
        apply(&mut db, &[m.clone(), m.clone()]);
        apply(&mut db, std::slice::from_ref(&m));
        assert_eq!(db.message_count(), Ok(1));
        assert_eq!(rows(&db, "chunks"), 1);
        let p = private(1, 10, "bob", "hi");
        apply(&mut db, &[p.clone(), p]);
        assert_eq!(db.message_count(), Ok(3), "private messages are not deduplicated");
        assert_eq!(texts(&load(&db, 10, 10).screen), vec!["hello", "hi", "hi"]);
    }

    #[test]
    fn marks_never_go_down_and_compare_as_unsigned_above_2_to_the_63() {
        let mut db = memory(100);
        let o = NodeId::from_u64(1);
        let high = (1u64 << 63) + 5;
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 50 }]);
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 20 }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, 50)]);
        apply(&mut db, &[one(1, 30, "old")]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, 50)], "an older message does not lower it");
        apply(&mut db, &[Stored::Mark { origin: o, delivered: high }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, high)]);
        apply(&mut db, &[Stored::Mark { origin: o, delivered: 60 }]);
        assert_eq!(load(&db, 0, 0).marks, vec![(o, high)], "60 < 2^63 + 5 though it is negative as i64");
        apply(&mut db, &[one(1, u64::MAX, "top")]);
        let saved = load(&db, 10, 10);
        assert_eq!(saved.marks, vec![(o, u64::MAX)]);
        assert_eq!(saved.history.last().map(|h| h.1), Some(u64::MAX), "the sequence number is exact");
    }

    #[test]
    fn compaction_bounds_the_messages_and_keeps_marks() {
        let mut db = memory(20);
        // Origin 7's only message is compacted away early; its mark must stay.
        apply(&mut db, &[one(7, 1000, "early")]);
        let mut seq = 0;
        for round in 0..10u64 {
            let origin = round % 3 + 1;
            let texts: Vec<String> = (seq + 1..=seq + 5).map(|s| format!("m{s}")).collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            apply(&mut db, &[run(origin, seq + 1, 5, &batch(origin, seq + 1, &texts))]);
            seq += 5;
            let count = db.message_count().expect("count");
            assert!(count <= 22, "at most keep + keep/10, got {count}");
            assert_eq!(u64::try_from(rows(&db, "lines")).ok(), Some(count), "the count is the lines");
        }
        apply(&mut db, &[Stored::Mark { origin: NodeId::from_u64(9), delivered: 1 }]);
        let saved = load(&db, 100, 100);
        let kept = saved.history.len() as u64;
        assert!((20..=22).contains(&kept), "{kept}");
        assert_eq!(saved.history.last().map(|h| h.1), Some(50), "the newest stay");
        assert_eq!(saved.history.first().map(|h| h.1), Some(51 - kept), "and none is missing");
        assert_eq!(texts(&saved.screen).first().copied(), Some(format!("m{}", 51 - kept).as_str()));
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
    }

    #[test]
    fn compaction_trims_the_row_across_the_boundary_to_exactly_keep() {
        let mut db = memory(10);
        let said: Vec<String> = (1..=12).map(|s| format!("m{s}")).collect();
        let said: Vec<&str> = said.iter().map(String::as_str).collect();
        let (head, tail) = (batch(1, 1, &said[..4]), batch(1, 5, &said[4..]));
        apply(&mut db, &[run(1, 1, 4, &head), run(1, 5, 8, &tail)]);
        // 12 > 10 + 1: the two oldest lines go, which are half of the first row.
        assert_eq!(db.message_count(), Ok(10));
        let row: (i64, i64, i64, String) = db
            .conn
            .query_row("SELECT id, count, seq, texts FROM chunks ORDER BY id LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .expect("the oldest row");
        assert_eq!(row, (3, 2, 3, r#"["m3","m4"]"#.to_owned()), "its number, count, first message and texts move on");
        let saved = load(&db, 100, 100);
        assert_eq!(saved.history.iter().map(|h| h.1).collect::<Vec<_>>(), (3..=12).collect::<Vec<_>>());
        assert_eq!(saved.history[0].2, head, "the frame is kept whole");
        assert_eq!(texts(&saved.screen), said[2..].to_vec());
        // Numbering goes on after the last line, whatever was deleted.
        apply(&mut db, &[one(2, 1, "next")]);
        let last: i64 = db.conn.query_row("SELECT max(id) FROM lines", [], |r| r.get(0)).expect("max");
        assert_eq!(last, 13);
    }

    #[test]
    fn a_version_1_history_is_converted_with_a_row_per_frame_run_and_its_numbers() {
        let tmp = TestDir::new("store-v1");
        let path = tmp.path().join(HISTORY_FILE);
        let shared = batch(1, 10, &["a", "b", "c"]);
        let single = batch(3, 7, &["d"]);
        {
            let old = Connection::open(&path).expect("a version 1 file");
            old.execute_batch(&format!("{}; PRAGMA user_version = 1;", MIGRATIONS[0])).expect("version 1");
            old.execute("INSERT INTO frames (id, raw) VALUES (1, ?1), (2, ?2)", params![&shared[..], &single[..]])
                .expect("frames");
            let o1 = &NodeId::from_u64(1).0[..];
            let (o2, o3) = (&NodeId::from_u64(2).0[..], &NodeId::from_u64(3).0[..]);
            let add = "INSERT INTO messages (id, origin, seq, sender, recipient, text, time_ms, frame)
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
            for row in [
                params![1, o1, 10, "user1", None::<&str>, "a", 100, 1],
                params![2, o1, 11, "user1", None::<&str>, "b", 100, 1],
                params![3, o2, 5, "user2", "alice", "psst", 101, None::<i64>],
                params![4, o1, 12, "user1", None::<&str>, "c", 102, 1],
                params![5, o3, 7, "user3", None::<&str>, "d", 103, 2],
            ] {
                old.execute(add, row).expect("a version 1 message");
            }
        }
        let (mut db, notice) = opened(&path, 100);
        assert_eq!(notice, None, "converted, not moved aside");
        let version: i64 = db.conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
        assert_eq!(version, 2);
        assert_eq!(rows(&db, "chunks"), 4, "a and b in one row; c (after a private line) in another");
        assert_eq!(db.message_count(), Ok(5));
        let saved = load(&db, 10, 10);
        assert_eq!(texts(&saved.screen), vec!["a", "b", "psst", "c", "d"], "in the order they were shown");
        assert_eq!(saved.screen[2].to.as_deref(), Some("alice"));
        assert_eq!(saved.history.iter().map(|h| h.1).collect::<Vec<_>>(), vec![10, 11, 12, 7]);
        assert!(saved.history[..3].iter().all(|h| h.2 == shared) && saved.history[3].2 == single);
        apply(&mut db, &[one(1, 13, "e")]);
        let ids: Vec<i64> = db
            .conn
            .prepare("SELECT id FROM lines ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("ids");
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6], "the lines keep their numbers and the next follows");
        for gone in ["messages", "frames"] {
            let left: i64 = db
                .conn
                .query_row("SELECT count(*) FROM sqlite_schema WHERE name = ?1", [gone], |r| r.get(0))
                .expect("schema");
            assert_eq!(left, 0, "{gone} is dropped");
        }
    }

    #[test]
    fn query_last_and_search_ignore_case_take_percent_and_underscore_literally_and_are_limited() {
        let mut db = memory(5000);
        let mut records = vec![
            one(1, 1, "Hello World"),
            one(1, 2, "100% sure"),
            one(1, 3, "a_b and HELLO"),
            private(2, 1, "alice", "axb hello"),
            one(1, 4, "nothing"),
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
            records.push(one(1, seq, &format!("x{seq} hello")));
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
        let own = OwnSaved { name: "alice".into(), claimed: 5, endorsed: None };
        let before = {
            let (mut db, notice) = opened(&path, 100);
            assert_eq!(notice, None);
            apply(
                &mut db,
                &[
                    one(1, 1, "a"),
                    one(1, 2, "b"),
                    private(2, 1, "alice", "c"),
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
        apply(&mut db, &[one(1, 1, "fresh")]);
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
            apply(&mut db, &[one(1, 1, "from the future")]);
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

    /// Caps the database at its present size plus `pages`, as a full disk would
    /// (a record of [`big`] needs more than one page).
    fn fill_disk(db: &Db, pages: i64) {
        let count: i64 = db.conn.pragma_query_value(None, "page_count", |r| r.get(0)).expect("page_count");
        db.conn.pragma_update(None, "max_page_count", count + pages).expect("max_page_count");
    }

    fn big(seq: u64) -> Vec<Stored> {
        vec![one(1, seq, &"x".repeat(wire::MAX_TEXT))]
    }

    #[test]
    fn a_full_disk_is_told_apart_and_nothing_of_the_call_is_saved() {
        let mut db = memory(100);
        apply(&mut db, &big(1));
        fill_disk(&db, 0);
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
        // One saved first: the pages a new database has free are used.
        writer.save(big(1)).expect("queued");
        writer.with(|db| fill_disk(db, 0));
        let mut seen = Vec::new();
        for seq in 2..=4 {
            writer.save(big(seq)).expect("queued");
            // A question after each save: one batch each, and in order.
            writer.ask(Query::Last(10)).expect("asked");
            let (reported, lines) = until_answer(&reports);
            assert_eq!(lines.len(), 1, "only the first");
            seen.extend(reported);
        }
        assert_eq!(seen, vec![Report::Failed(DISK_FULL.into())], "once");
        writer.with(|db| fill_disk(db, 1000));
        writer.save(big(5)).expect("queued");
        writer.ask(Query::Last(10)).expect("asked");
        let (reported, lines) = until_answer(&reports);
        assert_eq!(reported, vec![Report::Recovered(SAVED_AGAIN.into())]);
        assert_eq!(lines.len(), 2, "saving goes on with the next batch");
        writer.save(big(6)).expect("queued");
        writer.ask(Query::Last(10)).expect("asked");
        let (reported, lines) = until_answer(&reports);
        assert_eq!(reported, vec![], "recovery is told once");
        assert_eq!(lines.len(), 3);
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
            records.push(one(1, seq, &"y".repeat(wire::MAX_TEXT)));
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
        writer.save(vec![one(1, 1, "soon")]).expect("queued");
        // What another process (a restart after kill -9) would read from the file.
        let reader = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader");
        let start = std::time::Instant::now();
        let mut seen = 0;
        while start.elapsed() < Duration::from_secs(1) {
            seen = reader.query_row("SELECT count(*) FROM lines", [], |r| r.get::<_, i64>(0)).expect("count");
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
        for seq in 1..=50 {
            writer.save(vec![one(1, seq, &format!("m{seq}"))]).expect("queued");
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
        for seq in 1..=200 {
            writer.save(vec![one(1, seq, "x")]).expect("queued");
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
        writer.save(vec![one(1, 1, "x")]).expect("queued");
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
