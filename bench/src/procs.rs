//! Real node processes: finding the binary, spawning it in `--json` mode on
//! 127.0.0.1, and reading its events.
//!
//! The binary is `$P2PCHAT_BIN` (relative paths from the workspace root), else
//! `<root>/p2pchat` (the C program `make` builds), else the Rust headless example
//! `target/release/examples/p2pchat-headless`, which cargo builds (or finds up to date). Every
//! process's stdout is read by a thread of its own, which stamps each event with the
//! time it was read and sends it to one channel shared by a whole network.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{BenchResult, workspace_root};

/// Which binary runs the node processes, and how it was chosen.
#[derive(Debug, Clone)]
pub struct Binary {
    /// Path.
    pub path: PathBuf,
    /// How it was found (for the report).
    pub how: String,
}

/// Finds (or builds) the node binary.
pub fn find_binary() -> BenchResult<Binary> {
    let root = workspace_root();
    if let Some(bin) = std::env::var_os("P2PCHAT_BIN").filter(|b| !b.is_empty()) {
        let path = root.join(bin);
        if !path.is_file() {
            return Err(format!("P2PCHAT_BIN={} does not exist", path.display()));
        }
        return Ok(Binary { how: format!("{} (from P2PCHAT_BIN)", path.display()), path });
    }
    let c_program = root.join("p2pchat");
    if c_program.is_file() {
        return Ok(Binary { how: format!("{} (the C program)", c_program.display()), path: c_program });
    }
    // Always ask cargo (a no-op when it is up to date), so a stale example is not measured.
    let example = crate::util::target_dir().join("release/examples/p2pchat-headless");
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-q", "-p", "p2pchat-core", "--example", "p2pchat-headless"])
        .current_dir(&root)
        .status();
    match built {
        Ok(s) if s.success() && example.is_file() => {}
        _ if example.is_file() => {
            return Ok(Binary {
                how: format!("{} (cargo could not rebuild it: it may be stale)", example.display()),
                path: example,
            });
        }
        Ok(_) => return Err(format!("could not build {}", example.display())),
        Err(e) => return Err(format!("running cargo to build the headless example: {e}")),
    }
    Ok(Binary {
        how: format!(
            "{} (no {} and no P2PCHAT_BIN: the Rust headless example)",
            example.display(),
            c_program.display()
        ),
        path: example,
    })
}

/// What a node printed, as far as the benchmark cares.
#[derive(Debug, Clone)]
pub enum Ev {
    /// `listening`: port and id.
    Listening(u16, String),
    /// `message`: text.
    Message(String),
    /// `joined`: id.
    Joined(String),
    /// `left`: id.
    Left(String),
    /// Standard output closed.
    Closed,
    /// Anything else.
    Other,
}

/// An event from node `.0`, read at `.1`.
pub type Stamped = (usize, Instant, Ev);

fn parse(line: &str) -> Ev {
    let Ok(v) = serde_json::from_str::<Value>(line) else { return Ev::Other };
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    match v["event"].as_str() {
        Some("listening") => Ev::Listening(v["port"].as_u64().unwrap_or(0) as u16, s("id")),
        Some("message") => Ev::Message(s("text")),
        Some("joined") => Ev::Joined(s("id")),
        Some("left") => Ev::Left(s("id")),
        _ => Ev::Other,
    }
}

/// One node process.
#[derive(Debug)]
pub struct NodeProc {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its listening port (0 until known).
    pub port: u16,
    /// Its id (empty until known).
    pub id: String,
}

impl NodeProc {
    /// Spawns `bin --json --bind 127.0.0.1 NAME extra...`; events go to `tx` as
    /// node number `index`.
    pub fn spawn(bin: &Path, index: usize, name: &str, extra: &[String], tx: Sender<Stamped>) -> BenchResult<NodeProc> {
        // Each process saves its key and store as a user's would, under the
        // benchmark's own data directory, not the user's.
        let mut child = Command::new(bin)
            .env("XDG_DATA_HOME", crate::util::scratch_dir("procs"))
            .args(["--json", "--bind", "127.0.0.1", name])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        std::thread::Builder::new()
            .name(format!("bench-out{index}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            let _ = tx.send((index, Instant::now(), Ev::Closed));
                            return;
                        }
                        Ok(_) => {
                            let now = Instant::now();
                            if tx.send((index, now, parse(&line))).is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start a reader thread: {e}"))?;
        Ok(NodeProc { child, stdin, port: 0, id: String::new() })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types a line into the node.
    pub fn type_line(&mut self, line: &str) -> BenchResult<()> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush()).map_err(|e| e.to_string())
    }

    /// Kills the process outright (SIGKILL): its sockets are closed by the kernel.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name with `kill -SIG PID` (e.g. `STOP`).
    pub fn signal(&self, sig: &str) -> BenchResult<()> {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .map_err(|e| format!("kill -{sig}: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("kill -{sig} failed")) }
    }

    /// Closes stdin (the node quits), so [`quit_all`] can wait for it.
    fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Closes every node's stdin (a normal quit), waits up to `grace`, then kills the rest.
pub fn quit_all(procs: &mut [NodeProc], grace: Duration) {
    for p in procs.iter_mut() {
        p.close_stdin();
    }
    let end = Instant::now() + grace;
    for p in procs.iter_mut() {
        while Instant::now() < end {
            if !matches!(p.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Drop kills whatever is still running.
}

/// A channel for the events of a network.
pub fn events() -> (Sender<Stamped>, Receiver<Stamped>) {
    channel()
}

/// Waits for node `index`'s `listening` event, keeping other events in `backlog`.
pub fn wait_listening(
    rx: &Receiver<Stamped>,
    index: usize,
    timeout: Duration,
    backlog: &mut Vec<Stamped>,
) -> BenchResult<(u16, String)> {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, _, Ev::Listening(port, id))) if i == index => return Ok((port, id)),
            Ok((i, _, Ev::Closed)) if i == index => return Err(format!("node {index} exited before listening")),
            Ok(other) => backlog.push(other),
            Err(_) => return Err(format!("node {index} did not report listening within {} s", timeout.as_secs())),
        }
    }
}
