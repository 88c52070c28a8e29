//! `:snapshot [DIR]` on the file system: the directory a snapshot goes to, and
//! writing its files there without ever writing over another snapshot.
//!
//! The node (sans-IO) asks the network and hands over the files to write; only
//! the driver can look at the disk. So before the node sees a `:snapshot`:
//! - a `DIR` that already holds a snapshot's files is refused, with an error, and
//!   the network is not asked;
//! - with no `DIR`, the driver names the default directory
//!   (`p2pchat-snapshot-<seconds>`, with `-2`, `-3`... if that exists) and
//!   remembers it as its own.
//!
//! When the files come, each is created only if it does not exist
//! (`create_new`); if one is in the way (another process wrote there meanwhile)
//! or a write fails, the files this snapshot created are removed again: a
//! snapshot is written whole or not at all, and never over another. A default
//! directory taken meanwhile gives way to the next free name.

use std::fs::OpenOptions;
use std::io::{self, ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::Driver;
use crate::command::Input;
use crate::event::Event;

use crate::node::snapshot::{SNAPSHOT_FILES, default_dir};

/// Suffixes tried for a default directory name (`-2` up to this).
const MAX_SUFFIX: u32 = 1000;

/// Default directories named by the driver and not written yet. A handful: the
/// node takes one snapshot at a time, and refuses the others.
const MAX_DEFAULTS: usize = 8;

/// Times a default directory is renamed because another snapshot took it between
/// the choice of its name and the write.
const MAX_RENAMES: usize = 8;

/// The default directories this driver named.
#[derive(Debug, Default)]
pub(super) struct SnapshotDirs {
    defaults: Vec<String>,
}

impl SnapshotDirs {
    fn remember(&mut self, dir: &str) {
        if self.defaults.len() >= MAX_DEFAULTS {
            self.defaults.remove(0);
        }
        self.defaults.push(dir.to_owned());
    }

    /// True (once) if `dir` is a default directory this driver named.
    fn take(&mut self, dir: &str) -> bool {
        let at = self.defaults.iter().position(|d| d == dir);
        at.map(|i| self.defaults.remove(i)).is_some()
    }
}

/// Why the files of a snapshot were not written.
#[derive(Debug)]
enum WriteError {
    /// The directory already holds (some of) a snapshot's files.
    Exists,
    /// The file system said no.
    Io(io::Error),
}

impl Driver {
    /// A `:snapshot [DIR]` from the user: checked against the disk, then handed
    /// to the node with the directory it is to be written to.
    pub(super) fn start_snapshot(&mut self, dir: Option<String>, now: Instant) {
        let dir = match dir {
            Some(dir) if holds_snapshot(Path::new(&dir), &SNAPSHOT_FILES) => {
                // After what the requests before it made the node say.
                self.pump(now);
                self.sink.emit(Event::snapshot_refused(&dir));
                return;
            }
            Some(dir) => dir,
            None => {
                let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let base = default_dir(secs);
                // All taken: the base, which the write then refuses to write over.
                let dir = free_dir(&base, exists).unwrap_or(base);
                self.snapshot_dirs.remember(&dir);
                dir
            }
        };
        self.node.handle_input(Input::Snapshot(Some(dir)), now);
    }

    /// Writes the files of a finished snapshot; returns what to tell the user.
    pub(super) fn write_snapshot(&mut self, dir: String, files: &[(String, String)]) -> Event {
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        let default = self.snapshot_dirs.take(&dir);
        let mut target = dir.clone();
        let mut result = write_files(Path::new(&target), files);
        for _ in 0..MAX_RENAMES {
            if !(default && matches!(result, Err(WriteError::Exists))) {
                break;
            }
            let Some(next) = free_dir(&dir, exists) else { break };
            target = next;
            result = write_files(Path::new(&target), files);
        }
        let ev = match result {
            Ok(()) => Event::snapshot_written(&target, &names),
            Err(WriteError::Exists) => Event::snapshot_exists(&target),
            Err(WriteError::Io(e)) => Event::snapshot_failed(&target, &e),
        };
        self.write_log(&format!("snapshot: {ev:?}"));
        ev
    }
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Whether `dir` holds any of the files `names` (a dangling link counts).
fn holds_snapshot(dir: &Path, names: &[&str]) -> bool {
    names.iter().any(|n| exists(&dir.join(n)))
}

/// `base` if nothing by that name `exists`, else the first free of `base-2`,
/// `base-3`... up to [`MAX_SUFFIX`].
fn free_dir(base: &str, exists: impl Fn(&Path) -> bool) -> Option<String> {
    std::iter::once(base.to_owned())
        .chain((2..=MAX_SUFFIX).map(|n| format!("{base}-{n}")))
        .find(|d| !exists(Path::new(d)))
}

/// Writes `files` into `dir` (created if needed), each only if it does not exist
/// yet. All or nothing: on any failure the files created here are removed.
fn write_files(dir: &Path, files: &[(String, String)]) -> Result<(), WriteError> {
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    if holds_snapshot(dir, &names) {
        return Err(WriteError::Exists);
    }
    std::fs::create_dir_all(dir).map_err(WriteError::Io)?;
    let mut created: Vec<PathBuf> = Vec::with_capacity(files.len());
    for (name, contents) in files {
        let path = dir.join(name);
        let written = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                // Ours from here on, even if the write fails.
                created.push(path);
                f.write_all(contents.as_bytes()).and_then(|()| f.sync_all())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
            return Err(if e.kind() == ErrorKind::AlreadyExists { WriteError::Exists } else { WriteError::Io(e) });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(label: &str) -> TempDir {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!("p2pchat-driver-{label}-{}-{nanos}", std::process::id()));
            std::fs::create_dir(&dir).expect("create the temporary directory");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn files() -> Vec<(String, String)> {
        SNAPSHOT_FILES.iter().map(|n| ((*n).to_owned(), format!("new {n}"))).collect()
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).expect("read")
    }

    #[test]
    fn a_snapshot_is_written_into_a_new_or_empty_directory() {
        let tmp = TempDir::new("new");
        let dir = tmp.0.join("a").join("b");
        write_files(&dir, &files()).expect("written");
        for n in SNAPSHOT_FILES {
            assert_eq!(read(&dir, n), format!("new {n}"));
        }
        write_files(&tmp.0, &files()).expect("written into an existing directory");
    }

    #[test]
    fn a_snapshot_is_never_written_over_another_not_even_in_part() {
        let tmp = TempDir::new("over");
        std::fs::write(tmp.0.join("topology.dot"), "old").expect("write");
        std::fs::write(tmp.0.join("notes.txt"), "mine").expect("write");
        assert!(matches!(write_files(&tmp.0, &files()), Err(WriteError::Exists)));
        let mut left: Vec<String> = std::fs::read_dir(&tmp.0)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        left.sort();
        assert_eq!(left, ["notes.txt", "topology.dot"], "nothing written beside it");
        assert_eq!(read(&tmp.0, "topology.dot"), "old");
    }

    #[test]
    fn a_file_that_appears_during_the_write_undoes_the_files_written_before_it() {
        let tmp = TempDir::new("race");
        // The same name twice: the second create finds the first in its way, as it
        // would a file another process made between the check and the write.
        let twice = vec![("snapshot.json".to_owned(), "a".to_owned()), ("snapshot.json".to_owned(), "b".to_owned())];
        let mut all = files();
        all.extend(twice);
        assert!(matches!(write_files(&tmp.0, &all), Err(WriteError::Exists)));
        assert_eq!(std::fs::read_dir(&tmp.0).expect("list").count(), 0, "all or nothing");
    }

    #[test]
    fn a_directory_holds_a_snapshot_when_it_holds_any_of_its_files() {
        let tmp = TempDir::new("holds");
        assert!(!holds_snapshot(&tmp.0, &SNAPSHOT_FILES));
        assert!(!holds_snapshot(&tmp.0.join("missing"), &SNAPSHOT_FILES));
        std::fs::write(tmp.0.join("history.json"), "[]").expect("write");
        assert!(holds_snapshot(&tmp.0, &SNAPSHOT_FILES));
    }

    #[test]
    fn a_default_name_that_is_taken_gets_the_first_free_suffix() {
        let taken = ["snap", "snap-2", "snap-3"];
        let exists = |p: &Path| taken.iter().any(|t| Path::new(t) == p);
        assert_eq!(free_dir("snap", exists).as_deref(), Some("snap-4"));
        assert_eq!(free_dir("other", exists).as_deref(), Some("other"));
        assert_eq!(free_dir("x", |_| true), None);
    }

    #[cfg(feature = "sim")]
    #[test]
    fn the_driver_knows_the_files_the_node_writes() {
        let mut sim = crate::sim::Sim::with_nodes(1, 7);
        sim.type_line(0, ":snapshot d");
        sim.run_for(std::time::Duration::from_secs(5), 10_000);
        let (dir, files) = sim.nodes[0].snapshots.first().expect("a snapshot");
        assert_eq!(dir, "d");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, SNAPSHOT_FILES);
    }
}
