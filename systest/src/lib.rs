//! Harness for the real-process tests of a p2pchat binary.
//!
//! The binary under test is `$P2PCHAT_BIN` (a relative path is taken from the
//! workspace root), or else `<workspace root>/p2pchat`, the C lab program that
//! `make` builds. If it does not exist the test fails, saying so: a missing binary
//! never passes for a green run. With no C program at hand, use the Rust example:
//!
//! ```text
//! cargo build --example p2pchat-headless
//! P2PCHAT_BIN=$PWD/target/debug/examples/p2pchat-headless cargo test -p p2pchat-systest
//! ```
//!
//! A [`Proc`] is one running binary with stdin piped, stdout read line by line by a
//! thread (and, in `--json` mode, every line parsed: a line that is not a JSON
//! object with an `event` key fails the test) and stderr captured by another.
//! [`Proc::node`] starts `BIN --json --bind 127.0.0.1 NAME [--connect 127.0.0.1:PORT]...`
//! and waits for its `listening` event to learn its port and id.
//!
//! Every wait is bounded (by [`TIMEOUT`] unless a test says otherwise) and waits for
//! an event, never for a fixed time; a timeout fails the test with the process's
//! output so far. Every process is killed, by its own pid, when its [`Proc`] is
//! dropped (a process whose test was killed outright sees its stdin close, which
//! means `:quit`). All traffic stays on 127.0.0.1; ports are chosen by the system.
// A test harness reports failures by panicking, with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use serde_json::Value;

/// The default bound on every wait.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("systest/ has a parent").to_path_buf()
}

/// The binary under test; fails the test when it does not exist.
pub fn binary() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("P2PCHAT_BIN") {
        Some(bin) if !bin.is_empty() => {
            let bin = root.join(bin);
            assert!(bin.is_file(), "P2PCHAT_BIN={} does not exist (or is not a file)", bin.display());
            bin
        }
        _ => {
            let bin = root.join("p2pchat");
            assert!(
                bin.is_file(),
                "{} does not exist: run `make` in {} to build the C program, or set P2PCHAT_BIN to a p2pchat \
                 binary, e.g. `cargo build --example p2pchat-headless` and \
                 P2PCHAT_BIN=$PWD/target/debug/examples/p2pchat-headless",
                bin.display(),
                root.display()
            );
            bin
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound by the system, then
/// released; nothing else on the machine is expected to grab it meanwhile).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The value of `event` for a JSON event, `""` if absent.
pub fn kind(event: &Value) -> &str {
    event["event"].as_str().unwrap_or("")
}

/// One running p2pchat process.
#[derive(Debug)]
pub struct Proc {
    /// A label for messages (the node's name).
    pub label: String,
    /// Parse stdout as JSON events.
    json: bool,
    child: Child,
    stdin: Option<ChildStdin>,
    out_rx: Receiver<(Instant, String)>,
    out_done: bool,
    lines: Vec<String>,
    /// When the reader thread read each line (parallel to `lines`).
    times: Vec<Instant>,
    events: Vec<Value>,
    err: Arc<Mutex<Vec<u8>>>,
    err_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
    /// Listening port, when learnt ([`Proc::node`], [`Proc::wait_listening`]).
    pub port: u16,
    /// Node id, when learnt from the `listening` event.
    pub id: String,
    /// A data directory made for this process alone, removed on drop.
    scratch: Option<PathBuf>,
}

/// A fresh, empty directory for one process's data (see [`Proc::spawn`]).
fn scratch_data_dir(label: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("p2pchat-systest-{}-{n}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

impl Proc {
    /// Spawns the binary with `args`, stdin, stdout and stderr piped. `json`: parse
    /// stdout as JSON events.
    ///
    /// Unless `args` choose an identity (`--identity`, `--ephemeral`,
    /// `--data-dir`), the process runs `--ephemeral`: tests start many members of
    /// one name at once, and none should write a key anywhere. One given
    /// `--identity FILE` but no `--data-dir` gets a data directory of its own
    /// (removed when the `Proc` is dropped), so that no two tests share a store.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(label: &str, args: &[S], json: bool) -> Proc {
        let mut command = Command::new(binary());
        let given = |option: &str| args.iter().any(|a| a.as_ref().to_string_lossy().starts_with(option));
        let mut scratch = None;
        if !given("--identity") && !given("--ephemeral") && !given("--data-dir") {
            if !args.iter().any(|a| a.as_ref() == "--help" || a.as_ref() == "--version") {
                command.arg("--ephemeral");
            }
        } else if given("--identity") && !given("--data-dir") {
            let dir = scratch_data_dir(label);
            command.arg("--data-dir").arg(&dir);
            scratch = Some(dir);
        }
        command.args(args);
        let mut p = Proc::spawn_command(label, command, json);
        p.scratch = scratch;
        p
    }

    /// Like [`Proc::spawn`], for a command of the caller's (the binary under a
    /// wrapper such as `unshare`, say). It must not start children of its own
    /// that outlive it.
    pub fn spawn_command(label: &str, mut command: Command, json: bool) -> Proc {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");

        let (tx, out_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{label}-stdout"))
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            if buf.last() == Some(&b'\n') {
                                buf.pop();
                            }
                            let line = String::from_utf8_lossy(&buf).into_owned();
                            if tx.send((Instant::now(), line)).is_err() {
                                return;
                            }
                        }
                    }
                }
            })
            .expect("spawn the stdout reader");
        let err = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&err);
        let err_thread = std::thread::Builder::new()
            .name(format!("{label}-stderr"))
            .spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stderr.read(&mut buf) {
                    sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(&buf[..n]);
                }
            })
            .expect("spawn the stderr reader");

        Proc {
            label: label.to_owned(),
            json,
            child,
            stdin,
            out_rx,
            out_done: false,
            lines: Vec::new(),
            times: Vec::new(),
            events: Vec::new(),
            err,
            err_thread: Some(err_thread),
            status: None,
            port: 0,
            id: String::new(),
            scratch: None,
        }
    }

    /// Starts `BIN --json --bind 127.0.0.1 NAME [--connect 127.0.0.1:PORT]... [extra]`
    /// and waits for its `listening` event.
    pub fn node(name: &str, connect: &[u16], extra: &[&str]) -> Proc {
        let mut args: Vec<String> = vec!["--json".into(), "--bind".into(), "127.0.0.1".into(), name.into()];
        for port in connect {
            args.push("--connect".into());
            args.push(format!("127.0.0.1:{port}"));
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut p = Proc::spawn(name, &args, true);
        p.wait_listening();
        p
    }

    /// Waits for the `listening` event (JSON) or the `INFO: listening on port N`
    /// line (headless), which must be the first line, and records the port (and id).
    pub fn wait_listening(&mut self) -> u16 {
        self.wait_lines(|lines| !lines.is_empty(), TIMEOUT);
        let first = self.lines[0].clone();
        if self.json {
            let ev = &self.events[0];
            assert_eq!(kind(ev), "listening", "{}: the first event is not `listening`: {first}", self.label);
            self.port = ev["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port");
            self.id = ev["id"].as_str().expect("id").to_owned();
            assert!(self.port > 0, "{}: {first}", self.label);
        } else {
            let port = first.strip_prefix("INFO: listening on port ").and_then(|p| p.parse::<u16>().ok());
            self.port = port.unwrap_or_else(|| {
                panic!("{}: the first line is not `INFO: listening on port N`: {first:?}", self.label)
            });
        }
        self.port
    }

    /// Takes in what stdout has produced, waiting until `deadline` for at least one
    /// line. Returns false when no line came (timeout or end of output).
    fn pump(&mut self, deadline: Option<Instant>) -> bool {
        let mut got = false;
        loop {
            let (at, line) = match deadline {
                Some(d) if !got => match self.out_rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                    Ok(line) => line,
                    Err(RecvTimeoutError::Timeout) => return false,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.out_done = true;
                        return false;
                    }
                },
                _ => match self.out_rx.try_recv() {
                    Ok(line) => line,
                    Err(mpsc::TryRecvError::Empty) => return got,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.out_done = true;
                        return got;
                    }
                },
            };
            got = true;
            if self.json {
                let ev: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("{}: stdout line is not JSON ({e}): {line:?}", self.label));
                assert!(ev.is_object() && ev["event"].is_string(), "{}: not an event object: {line}", self.label);
                self.events.push(ev);
            }
            self.lines.push(line);
            self.times.push(at);
        }
    }

    /// Waits until `cond` holds for the stdout lines so far; fails the test after
    /// `timeout`, or if the output ends first.
    pub fn wait_lines(&mut self, mut cond: impl FnMut(&[String]) -> bool, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.pump(None);
        while !cond(&self.lines) {
            if self.out_done {
                self.fail("its output ended while waiting");
            }
            if !self.pump(Some(deadline)) && Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?}"));
            }
        }
    }

    /// Waits for a stdout line matching `pred` (looking at every line so far, then
    /// at new ones) and returns it.
    pub fn wait_line(&mut self, mut pred: impl FnMut(&str) -> bool, timeout: Duration) -> String {
        let mut found = None;
        self.wait_lines(
            |lines| {
                found = lines.iter().find(|l| pred(l)).cloned();
                found.is_some()
            },
            timeout,
        );
        found.expect("found")
    }

    /// Waits until `cond` holds for the JSON events so far.
    pub fn wait_until(&mut self, mut cond: impl FnMut(&[Value]) -> bool, timeout: Duration) {
        assert!(self.json, "{}: not in --json mode", self.label);
        let deadline = Instant::now() + timeout;
        self.pump(None);
        while !cond(&self.events) {
            if self.out_done {
                self.fail("its output ended while waiting");
            }
            if !self.pump(Some(deadline)) && Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?}"));
            }
        }
    }

    /// Waits for an event matching `pred` (looking at every event so far, then at
    /// new ones) and returns it.
    pub fn wait_for(&mut self, mut pred: impl FnMut(&Value) -> bool, timeout: Duration) -> Value {
        let mut found = None;
        self.wait_until(
            |events| {
                found = events.iter().find(|e| pred(e)).cloned();
                found.is_some()
            },
            timeout,
        );
        found.expect("found")
    }

    /// Like [`Proc::wait_for`], but looks only at events from index `from` on (an
    /// earlier `events().len()`, to wait for something that happens after a point),
    /// and also returns the event's index and when the harness read it from the
    /// process's stdout (not when the caller got to look at it), for measuring how
    /// long something took.
    pub fn wait_for_since(
        &mut self,
        from: usize,
        mut pred: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> (usize, Value, Instant) {
        let mut found = None;
        self.wait_until(
            |events| {
                found = events.iter().skip(from).position(&mut pred).map(|i| i + from);
                found.is_some()
            },
            timeout,
        );
        let i = found.expect("found");
        // In --json mode every stdout line is an event, so the indices match.
        (i, self.events[i].clone(), self.times[i])
    }

    /// Waits for a chat message with this text (from anyone) and returns it.
    pub fn wait_message(&mut self, text: &str, timeout: Duration) -> Value {
        self.wait_for(|e| kind(e) == "message" && e["text"] == text, timeout)
    }

    /// Every stdout line so far.
    pub fn lines(&mut self) -> &[String] {
        self.pump(None);
        &self.lines
    }

    /// Every JSON event so far.
    pub fn events(&mut self) -> &[Value] {
        self.pump(None);
        &self.events
    }

    /// Every `message` event so far.
    pub fn messages(&mut self) -> Vec<Value> {
        self.events().iter().filter(|e| kind(e) == "message").cloned().collect()
    }

    /// Every event of this kind so far.
    pub fn events_of(&mut self, event: &str) -> Vec<Value> {
        self.events().iter().filter(|e| kind(e) == event).cloned().collect()
    }

    /// Types a line (a newline is added).
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Writes raw bytes to stdin.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else { self.fail("send after close_stdin") };
        if let Err(e) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            self.fail(&format!("cannot write to its stdin: {e}"));
        }
    }

    /// Closes stdin: end of input, which means `:quit`.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits (bounded) for the process to exit, then for the rest of its output,
    /// and returns its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.status {
                break status;
            }
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.status = Some(status);
                    break status;
                }
                Ok(None) if Instant::now() < deadline => {
                    // No portable way to wait for a child with a timeout: poll,
                    // taking in its output meanwhile.
                    let tick = (Instant::now() + Duration::from_millis(10)).min(deadline);
                    if self.out_done {
                        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
                    } else {
                        self.pump(Some(tick));
                    }
                }
                Ok(None) => self.fail(&format!("did not exit within {timeout:?}")),
                Err(e) => self.fail(&format!("cannot wait for it: {e}")),
            }
        };
        // The pipes close when the process exits (it starts no children).
        while !self.out_done && Instant::now() < deadline + TIMEOUT {
            self.pump(Some(deadline + TIMEOUT));
        }
        if let Some(t) = self.err_thread.take() {
            let _ = t.join();
        }
        status
    }

    /// Closes stdin and expects a normal quit (exit status 0) within the timeout.
    pub fn quit(&mut self, timeout: Duration) {
        self.close_stdin();
        let status = self.wait_exit(timeout);
        if status.code() != Some(0) {
            self.fail(&format!("exited with {status} after end of input, expected 0"));
        }
    }

    /// True once the process has exited (checked now).
    pub fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process by its pid, with `kill -SIG PID` (`sig` is a
    /// name such as `STOP`, `CONT` or `KILL`). Fails the test if the process has
    /// already exited (its pid could belong to someone else) or `kill` fails.
    pub fn signal(&mut self, sig: &str) {
        if self.has_exited() {
            self.fail(&format!("cannot send SIG{sig}: it has exited"));
        }
        let pid = self.pid().to_string();
        match Command::new("kill").arg(format!("-{sig}")).arg(&pid).status() {
            Ok(status) if status.success() => {}
            Ok(status) => self.fail(&format!("`kill -{sig} {pid}` exited with {status}")),
            Err(e) => self.fail(&format!("cannot run `kill -{sig} {pid}`: {e}")),
        }
    }

    /// Kills the process (by its pid, with SIGKILL on Unix) and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }

    /// Fails the test with what the process printed.
    pub fn fail(&self, why: &str) -> ! {
        let mut msg = format!("{} (pid {}): {why}\n--- stdout ---\n", self.label, self.child.id());
        let skip = self.lines.len().saturating_sub(200);
        if skip > 0 {
            let _ = writeln!(msg, "[{skip} earlier lines]");
        }
        for line in &self.lines[skip..] {
            let _ = writeln!(msg, "{line}");
        }
        let _ = write!(msg, "--- stderr ---\n{}", self.stderr());
        panic!("{msg}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs the binary to its end with `args` and stdin closed; returns its exit status,
/// stdout and stderr.
pub fn run_to_end(args: &[&str], timeout: Duration) -> (ExitStatus, String, String) {
    let mut p = Proc::spawn("run", args, false);
    p.close_stdin();
    let status = p.wait_exit(timeout);
    let stdout = p.lines().join("\n");
    (status, stdout, p.stderr())
}

/// Whether a missing tool fails the test instead of skipping it: `CI=true` (or
/// `CI=1`) or `P2PCHAT_REQUIRE_ALL=1`. The same rule as `ui/tests/lib/require.sh`.
pub fn tools_required() -> bool {
    let set = |var: &str, values: &[&str]| {
        std::env::var(var).is_ok_and(|v| values.iter().any(|want| v.eq_ignore_ascii_case(want)))
    };
    set("CI", &["true", "1"]) || set("P2PCHAT_REQUIRE_ALL", &["1", "true"])
}

/// Whether `tool` is an executable file in a directory of `$PATH`.
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path)
        .any(|dir| std::fs::metadata(dir.join(tool)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The running test as `BINARY::TEST` (the test binary's name without cargo's hash,
/// and the thread name the test harness gives each test).
fn test_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(Path::file_stem).map(|s| s.to_string_lossy().into_owned());
    let binary = match stem {
        Some(stem) => match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        },
        None => "?".to_owned(),
    };
    let thread = std::thread::current();
    format!("{binary}::{}", thread.name().unwrap_or("?"))
}

/// For a test that needs an external program: true if `tool` is on `$PATH`.
/// Otherwise the test is skipped: one line `SKIPPED: BINARY::TEST needs TOOL
/// (apt-get install PACKAGE)` goes to stderr (straight to the terminal, past the
/// test harness's capture) and is appended to the file `$P2PCHAT_SKIP_LOG` when that
/// is set (`make test` sets it, and prints the file at its end), and false is
/// returned: the caller returns at once. When [`tools_required`] (CI), the lack
/// fails the test instead.
///
/// ```ignore
/// if !require_tool("nc", "netcat-openbsd") {
///     return;
/// }
/// ```
pub fn require_tool(tool: &str, package: &str) -> bool {
    require(on_path(tool), tool, package)
}

/// Whether this process may make a mount namespace (root, `unshare`, `mount`).
pub fn can_unshare_mounts() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// [`require_tool`] for what a PATH lookup cannot tell (root, a working `unshare`):
/// `available` says whether the test can run; `what` names what it needs.
pub fn require(available: bool, what: &str, package: &str) -> bool {
    if available {
        return true;
    }
    let line = format!("SKIPPED: {} needs {what} (apt-get install {package})", test_name());
    assert!(!tools_required(), "{line}, and with CI=true or P2PCHAT_REQUIRE_ALL=1 a missing tool is a failure");
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(log) = std::env::var_os("P2PCHAT_SKIP_LOG").filter(|l| !l.is_empty()) {
        // One write of one line to a file opened for appending: lines from tests
        // running at once do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            panic!("{line}, but it cannot be recorded in P2PCHAT_SKIP_LOG={}: {e}", PathBuf::from(log).display());
        }
    }
    false
}
