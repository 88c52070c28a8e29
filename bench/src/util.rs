//! Small helpers shared by the sections: node configurations, bounded waits,
//! reading `/proc`, stopping many handles at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use p2pchat_core::{Config, Handle, IdentitySource, PeerAddr};

/// What a section returns when it cannot finish.
pub type BenchResult<T> = Result<T, String>;

/// Loopback, the only address the benchmark uses.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Settings every section sees.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Fewer runs and smaller sizes.
    pub quick: bool,
    /// Runs per figure.
    pub runs: usize,
}

/// A configuration for an in-process node on 127.0.0.1, joining `connect` ports.
///
/// The peer timeout is long (30 s): a benchmark on two cores starves threads for
/// hundreds of milliseconds at a time (500 nodes in one process), and a neighbour
/// declared lost in the middle of a measurement would measure repair instead.
///
/// It runs `--ephemeral` (a fresh key, nothing saved): the baseline that
/// [`persisting_config`] is compared with.
pub fn node_config(name: &str, connect: &[u16]) -> Config {
    let mut c = Config::new(name);
    c.bind = LOCALHOST;
    c.connect = connect.iter().map(|p| PeerAddr { host: "127.0.0.1".into(), port: *p }).collect();
    c.peer_timeout = Duration::from_secs(30);
    c.identity = IdentitySource::Ephemeral;
    c
}

/// Like [`node_config`], for a member that saves everything (its key and its
/// store, guarantee 12) in a fresh data directory `scratch_dir(tag)/NAME`.
pub fn persisting_config(name: &str, connect: &[u16], tag: &str) -> Config {
    let mut c = node_config(name, connect);
    c.identity = IdentitySource::Default;
    let dir = scratch_dir(tag).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    c.data_dir = Some(dir);
    c
}

/// A directory for the benchmark's data under the system's temporary
/// directory, one per benchmark process and `tag`.
pub fn scratch_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("p2pchat-bench-{}-{tag}", std::process::id()))
}

/// The loopback address of a port.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}

/// Polls `cond` every millisecond or so until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> BenchResult<()> {
    let end = Instant::now() + timeout;
    let mut nap = Duration::from_micros(100);
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(format!("timed out after {} s waiting for {what}", timeout.as_secs_f64()));
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    }
}

/// Stops every handle, all at once (each stop may wait up to a second for goodbyes).
pub fn stop_all(handles: &[Handle]) {
    std::thread::scope(|s| {
        for chunk in handles.chunks(handles.len().div_ceil(16).max(1)) {
            s.spawn(move || {
                // Ask all first, then wait: the waits overlap.
                for h in chunk {
                    let _ = h.send_line(":quit");
                }
                for h in chunk {
                    h.stop();
                }
            });
        }
    });
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`), for `pid` or `self`.
pub fn status_kib(pid: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// The soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root)
/// or `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => workspace_root().join(d),
        None => workspace_root().join("target"),
    }
}

/// Seconds, as f64.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_is_readable() {
        assert!(status_kib("self", "VmRSS").is_some_and(|k| k > 0));
        assert!(status_kib("self", "VmHWM").is_some_and(|k| k > 0));
        assert!(open_files_limit().is_some());
    }
}
