//! Plain-text clients with real processes on 127.0.0.1: a real `nc` (netcat-openbsd)
//! and raw sockets join a node of a small network as members. See DESIGN.md §4
//! ("a connection whose first bytes are not the magic ... is a plain-text client",
//! "asked for a name and then chats line by line as a member hosted by that node"),
//! §3 (`--max-text-clients`, `--idle-timeout`, `--text-rate`, `--text-burst`) and
//! §2, guarantee 7 (bad input, floods and control characters never take a node
//! down nor reach another user's terminal).
//!
//! Every `nc` started here is killed by its own pid when its guard is dropped;
//! every p2pchat process by the harness. The test that needs `nc` is skipped,
//! saying so, on a machine without it (a failure under CI: see `require_tool`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{FAST, RawClient, assert_never_printed, is_message, join_as, line, mark, users, wait_after};
use p2pchat_systest::{Proc, TIMEOUT, Value, kind, require_tool};

/// The longest line a text client may send
/// (`p2pchat_core::node::netcat::MAX_NETCAT_LINE`: the 4 KiB text cap plus room
/// for a command and a name). The tests are black-box tests of a binary, so the
/// number is repeated here.
const MAX_LINE: usize = 4096 + 64;
/// The text cap, the only limit a text client is ever told about.
const MAX_TEXT: usize = 4096;

/// A running `nc 127.0.0.1 PORT` with piped stdin and stdout.
struct Nc {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    lines: Vec<Vec<u8>>,
    closed: bool,
}

impl Nc {
    /// Starts `nc [flags] 127.0.0.1 PORT`.
    fn start(label: &str, flags: &[&str], port: u16) -> Nc {
        let mut child = Command::new("nc")
            .args(flags)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nc (install netcat-openbsd): {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        if tx.send(buf).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Nc { label: label.to_owned(), child, stdin, rx, lines: Vec::new(), closed: false }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush()).expect("write to nc");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn mark(&mut self) -> usize {
        while let Ok(l) = self.rx.try_recv() {
            self.lines.push(l);
        }
        self.lines.len()
    }

    /// Waits for a line from index `from` on matching `pred`.
    fn wait_line_since(&mut self, from: usize, mut pred: impl FnMut(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) =
                self.lines.iter().skip(from).map(|l| String::from_utf8_lossy(l).into_owned()).find(|l| pred(l))
            {
                return l;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.lines.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) => self.fail(&format!("timed out after {timeout:?}")),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.closed = true;
                    self.fail("its output ended while waiting");
                }
            }
        }
    }

    fn wait_line(&mut self, pred: impl FnMut(&str) -> bool, timeout: Duration) -> String {
        self.wait_line_since(0, pred, timeout)
    }

    /// Waits (bounded) for nc's output to end and for nc to exit.
    fn wait_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => self.lines.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => self.closed = true,
                Err(mpsc::RecvTimeoutError::Timeout) => self.fail("its output did not end"),
            }
        }
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) => self.fail("did not exit"),
                Err(e) => self.fail(&format!("cannot wait for it: {e}")),
            }
        }
    }

    /// Kills nc by its pid (SIGKILL) and reaps it.
    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    fn fail(&self, why: &str) -> ! {
        let lines: Vec<String> = self.lines.iter().map(|l| format!("{:?}", String::from_utf8_lossy(l))).collect();
        panic!("nc {} (pid {}): {why}\n--- lines ---\n{}", self.label, self.child.id(), lines.join("\n"));
    }
}

impl Drop for Nc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn joined(p: &mut Proc, name: &str) -> Value {
    p.wait_for(|e| kind(e) == "joined" && e["name"] == name, TIMEOUT)
}

fn left_quit(p: &mut Proc, name: &str) -> Value {
    let e = p.wait_for(|e| kind(e) == "left" && e["name"] == name, TIMEOUT);
    assert_eq!(e["reason"], "quit", "{}: {e}", p.label);
    e
}

fn has_esc(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| *b == 0x1b || *b == 0x07)
}

#[test]
fn a_real_nc_joins_chats_both_ways_and_leaves() {
    if !require_tool("nc", "netcat-openbsd") {
        return;
    }
    let t0 = Instant::now();
    let mut n = line(&["a", "b", "c"], FAST);
    let node_ids: Vec<String> = n.iter().map(|p| p.id.clone()).collect();

    let mut dave = Nc::start("dave", &["-N"], n[1].port);
    dave.wait_line(|l| l == "Welcome to p2pchat (node of b). What is your name?", TIMEOUT);
    let m = dave.mark();
    dave.send("dave");
    dave.wait_line_since(m, |l| l.starts_with("Welcome, dave! 3 other members are here."), TIMEOUT);

    // A member like any other, with an id of its own.
    let ids: Vec<String> = n.iter_mut().map(|p| joined(p, "dave")["id"].as_str().unwrap_or("").to_owned()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "everyone knows dave by one id: {ids:?}");
    let dave_id = ids[0].clone();
    assert!(!node_ids.contains(&dave_id), "dave's id {dave_id} is a node's id: {node_ids:?}");

    // nc -> everyone.
    dave.send("hello from dave");
    for p in &mut n {
        let got = p.wait_message("hello from dave", TIMEOUT);
        assert_eq!(got["from"], "dave", "{}: {got}", p.label);
        assert_eq!(got["origin"], dave_id.as_str(), "{}: {got}", p.label);
        assert_eq!(got["private"], false, "{}: {got}", p.label);
    }
    // Everyone -> nc, as NAME: TEXT lines.
    let m = dave.mark();
    n[2].send("hi dave, c here");
    n[0].send("and a here");
    dave.wait_line_since(m, |l| l == "c: hi dave, c here", TIMEOUT);
    dave.wait_line_since(m, |l| l == "a: and a here", TIMEOUT);

    // dave is listed on the far node, and dave can list everyone.
    let on_a = users(&mut n[0]);
    assert_eq!(on_a[0], "4 members:", "{on_a:?}");
    assert!(
        on_a.iter().any(|l| l.starts_with("  dave ") && l.contains("text client") && l.contains("2 hops")),
        "a's :users lists dave: {on_a:?}"
    );
    let m = dave.mark();
    dave.send(":users");
    dave.wait_line_since(m, |l| l == "4 members:", TIMEOUT);
    for name in ["a", "b", "c", "dave"] {
        dave.wait_line_since(m, |l| l.starts_with(&format!("  {name} ")), TIMEOUT);
    }

    // A private message from nc reaches A only.
    let secret = "a, a word in private";
    let m = dave.mark();
    dave.send(&format!(":msg a {secret}"));
    let got = n[0].wait_message(secret, TIMEOUT);
    assert_eq!(got["private"], true, "{got}");
    assert_eq!(got["from"], "dave", "{got}");
    dave.wait_line_since(m, |l| l == format!("[private to a] dave: {secret}"), TIMEOUT);
    // And the other way: C to dave, through dave's host B, which does not show it.
    let answer = "dave, c answers in private";
    let m = dave.mark();
    n[2].send(&format!(":msg dave {answer}"));
    dave.wait_line_since(m, |l| l == format!("[private] c: {answer}"), TIMEOUT);
    let own = n[2].wait_message(answer, TIMEOUT);
    assert_eq!((&own["private"], &own["to"]), (&Value::Bool(true), &Value::from("dave")), "{own}");
    // Public markers from dave and c: everyone has them, and had anyone been sent a
    // private message before them over the same links, it would have shown it first.
    dave.send("marker from dave");
    n[2].send("marker from c");
    for p in &mut n {
        p.wait_message("marker from dave", TIMEOUT);
        p.wait_message("marker from c", TIMEOUT);
    }
    for p in &mut n[1..] {
        assert_never_printed(p, secret);
    }
    assert_never_printed(&mut n[0], answer);
    assert_never_printed(&mut n[1], answer);
    assert_eq!(common::messages_with(&mut n[0], secret).len(), 1, "a shows it once");

    // :quit: a goodbye line, the connection closes, nc ends, a notice everywhere.
    let m = dave.mark();
    dave.send(":quit");
    dave.wait_line_since(m, |l| l == "p2pchat: goodbye", TIMEOUT);
    for p in &mut n {
        left_quit(p, "dave");
    }
    // netcat-openbsd does not exit when the other side closes while its input is
    // still open (it exits at the next line typed, or at end of input).
    dave.close_stdin();
    dave.wait_exit(TIMEOUT);

    // End of input (nc -N closes its side) and a killed nc leave the same way.
    let mut erin = Nc::start("erin", &["-N"], n[1].port);
    erin.send("erin");
    erin.wait_line(|l| l.starts_with("Welcome, erin!"), TIMEOUT);
    let mut fred = Nc::start("fred", &[], n[1].port);
    fred.send("fred");
    fred.wait_line(|l| l.starts_with("Welcome, fred!"), TIMEOUT);
    for p in &mut n {
        joined(p, "erin");
        joined(p, "fred");
    }
    erin.close_stdin();
    for p in &mut n {
        left_quit(p, "erin");
    }
    erin.wait_exit(TIMEOUT);
    fred.kill();
    for p in &mut n {
        left_quit(p, "fred");
    }
    for p in &mut n {
        let errors = p.events_of("error");
        assert!(errors.is_empty(), "{}: {errors:?}", p.label);
    }
    eprintln!("nc test: {:?}", t0.elapsed());
}

#[test]
fn names_are_checked_and_asked_again() {
    let mut n = line(&["a", "b"], FAST);
    let mut c = RawClient::connect("raw", n[1].port);
    c.wait_line(|l| l == "Welcome to p2pchat (node of b). What is your name?", TIMEOUT);
    let cases: &[(&str, &str)] = &[
        ("bad name", "p2pchat: that name cannot be used: name contains ' '"),
        ("a", "p2pchat: the name a is taken. What is your name?"),
        ("b", "p2pchat: the name b is taken. What is your name?"),
        ("evil\u{1b}[31m", "p2pchat: that name cannot be used: name contains"),
        ("", "p2pchat: that name cannot be used: name is empty"),
        (&"x".repeat(33), "p2pchat: that name cannot be used: name is 33 bytes long"),
    ];
    for (name, reply) in cases {
        let m = c.mark();
        c.send(name);
        let got = c.wait_line_since(m, |l| l.starts_with(reply), TIMEOUT);
        assert!(got.ends_with("What is your name?"), "{name:?}: {got:?}");
    }
    assert!(c.lines.iter().all(|l| !has_esc(l)), "no control character is echoed back");
    let m = c.mark();
    c.send("  zoe  ");
    c.wait_line_since(m, |l| l.starts_with("Welcome, zoe!"), TIMEOUT);
    joined(&mut n[0], "zoe");
    // Names are unique: a second client cannot take zoe either.
    let mut d = RawClient::connect("raw2", n[0].port);
    d.wait_line(|l| l.starts_with("Welcome to p2pchat (node of a)"), TIMEOUT);
    d.send("zoe");
    d.wait_line(|l| l == "p2pchat: the name zoe is taken. What is your name?", TIMEOUT);
    for p in &mut n {
        let joins: Vec<Value> = p.events_of("joined");
        assert_eq!(joins.len(), 2, "{}: only b/a and zoe joined: {joins:?}", p.label);
    }
}

#[test]
fn long_lines_crlf_control_characters_and_floods_are_handled() {
    let mut n = line(&["a", "b"], FAST);
    // A third node prints plain lines (--headless), to check what a terminal gets.
    let mut h = Proc::spawn(
        "h",
        &["--headless", "--bind", "127.0.0.1", "--heartbeat", "100", "--peer-timeout", "600", "h", "--connect"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([format!("127.0.0.1:{}", n[0].port)])
            .collect::<Vec<_>>(),
        false,
    );
    h.wait_listening();
    for p in &mut n {
        joined(p, "h");
    }
    let mut raw = RawClient::connect("raw", n[1].port);
    join_as(&mut raw, "raw");
    let mut watcher = RawClient::connect("watcher", n[1].port);
    join_as(&mut watcher, "watcher");
    h.wait_line(|l| l == "INFO: watcher joined", TIMEOUT);

    // An over-long line is refused, and the connection stays usable.
    let m = raw.mark();
    let long = "y".repeat(MAX_LINE + 100);
    raw.send(&long);
    let reply = raw.wait_line_since(m, |l| l.starts_with("p2pchat: message not sent: it is too long"), TIMEOUT);
    assert!(reply.ends_with(&format!("the limit is {MAX_TEXT} bytes")), "{reply}");
    // A line under the line cap but over the text cap gets the same limit.
    let m = raw.mark();
    raw.send(&"z".repeat(MAX_TEXT + 10));
    let reply = raw.wait_line_since(m, |l| l.starts_with("p2pchat: message not sent: it is "), TIMEOUT);
    assert!(reply.ends_with(&format!("the limit is {MAX_TEXT} bytes")), "{reply}");
    // CRLF (RawClient::send ends lines with CR LF) and a bare LF both work.
    raw.send("after the long line");
    raw.send_bytes(b"bare newline\n");
    for p in &mut n {
        for text in ["after the long line", "bare newline"] {
            let got = p.wait_message(text, TIMEOUT);
            assert_eq!(got["from"], "raw", "{got}");
        }
    }
    assert!(n[0].messages().iter().all(|m| !m["text"].as_str().unwrap_or("").contains("yyyy")));

    // Control characters: neutralised for terminals, escaped in JSON.
    let evil = "colour \u{1b}[31mred\u{1b}[0m title \u{1b}]0;pwned\u{7} end";
    let m = watcher.mark();
    raw.send(evil);
    let got = n[0].wait_message(evil, TIMEOUT);
    assert_eq!(got["from"], "raw");
    let json_line = n[0].lines().iter().find(|l| l.contains("pwned")).cloned().expect("the JSON line");
    assert!(!json_line.contains('\u{1b}') && !json_line.contains('\u{7}'), "raw JSON line: {json_line:?}");
    assert!(json_line.contains("\\u001b"), "ESC escaped inside the JSON string: {json_line:?}");
    let shown = h.wait_line(|l| l.starts_with("raw: colour"), TIMEOUT);
    assert!(!shown.chars().any(char::is_control), "headless line: {shown:?}");
    assert!(shown.contains('\u{FFFD}'), "{shown:?}");
    assert_eq!(shown, format!("raw: {}", evil.replace(['\u{1b}', '\u{7}'], "\u{FFFD}")));
    let seen = watcher.wait_line_since(m, |l| l.starts_with("raw: colour"), TIMEOUT);
    assert!(!seen.chars().any(char::is_control), "text client line: {seen:?}");
    assert!(watcher.lines.iter().all(|l| !has_esc(l)), "no ESC or BEL byte reaches a text client");

    // A flood from a fresh client: a burst of 20 lines goes through, the rest are
    // dropped with one warning, and the client stays connected.
    let mut flooder = RawClient::connect("flooder", n[1].port);
    let mw = watcher.mark();
    join_as(&mut flooder, "flooder");
    // Notices reach text clients too, as INFO lines.
    watcher.wait_line_since(mw, |l| l == "INFO: flooder joined", TIMEOUT);
    let mut flood = String::new();
    for k in 0..60 {
        flood.push_str(&format!("flood {k}\r\n"));
    }
    let m = flooder.mark();
    flooder.send_bytes(flood.as_bytes());
    flooder.wait_line_since(m, |l| l.starts_with("p2pchat: slow down"), TIMEOUT);
    std::thread::sleep(Duration::from_millis(1100)); // the budget refills at 10 lines/s
    flooder.send("after the flood");
    n[0].wait_message("after the flood", TIMEOUT);
    let floods: Vec<String> = n[0]
        .messages()
        .iter()
        .filter_map(|m| m["text"].as_str().filter(|t| t.starts_with("flood ")).map(str::to_owned))
        .collect();
    // The burst, plus what the budget regained while the bytes were being read.
    assert!((20..30).contains(&floods.len()), "{} of 60 flood lines went through: {floods:?}", floods.len());
    assert_eq!(floods[..20], (0..20).map(|k| format!("flood {k}")).collect::<Vec<_>>()[..], "the first 20, in order");
    let warnings = flooder.lines[m..].iter().filter(|l| l.starts_with(b"p2pchat: slow down")).count();
    assert_eq!(warnings, 1, "one warning for one flood");
}

#[test]
fn idle_text_clients_are_disconnected_with_a_goodbye() {
    let mut a = Proc::node("a", &[], &["--heartbeat", "100", "--peer-timeout", "600", "--idle-timeout", "1"]);
    let mut named = RawClient::connect("named", a.port);
    join_as(&mut named, "sleepy");
    a.wait_for(|e| kind(e) == "joined" && e["name"] == "sleepy", TIMEOUT);
    let mut unnamed = RawClient::connect("unnamed", a.port);
    unnamed.wait_line(|l| l.starts_with("Welcome to p2pchat"), TIMEOUT);
    let t = Instant::now();
    // Activity resets the clock: talk for a while past the timeout.
    for k in 0..4 {
        named.send(&format!("still awake {k}"));
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(!named.eof, "an active client is not idle");
    for c in [&mut named, &mut unnamed] {
        c.wait_line(|l| l == "p2pchat: disconnected after 1 s without activity; goodbye", Duration::from_secs(10));
        c.wait_eof(Duration::from_secs(5));
    }
    let e = a.wait_for(|e| kind(e) == "left" && e["name"] == "sleepy", TIMEOUT);
    assert_eq!(e["reason"], "quit", "{e}");
    eprintln!("idle clients gone {:?} after their last word", t.elapsed());
}

#[test]
fn a_client_that_never_gives_its_name_blocks_nobody() {
    let mut n = line(&["a", "b", "c"], FAST);
    // One says nothing at all, one sends half a name and stops.
    let mut mute = RawClient::connect("mute", n[1].port);
    let mut half = RawClient::connect("half", n[1].port);
    half.send_bytes(b"half-a-na");
    // Meanwhile everything else goes on through b.
    let ma = mark(&mut n[0]);
    n[0].send("a talks past the mute");
    n[2].send("c talks past the mute");
    n[2].wait_message("a talks past the mute", TIMEOUT);
    n[0].wait_message("c talks past the mute", TIMEOUT);
    let mut chatty = RawClient::connect("chatty", n[1].port);
    join_as(&mut chatty, "chatty");
    chatty.send("chatty talks too");
    n[0].wait_message("chatty talks too", TIMEOUT);
    n[2].wait_message("chatty talks too", TIMEOUT);
    let mut d = Proc::node("d", &[n[1].port], FAST);
    d.wait_for(|e| kind(e) == "joined" && e["name"] == "a", TIMEOUT);
    n[0].send("hello d");
    d.wait_message("hello d", TIMEOUT);
    // The silent ones were greeted and are still waiting, unnamed and unlisted.
    mute.wait_line(|l| l.starts_with("Welcome to p2pchat (node of b)"), TIMEOUT);
    half.poll();
    assert!(!mute.eof && !half.eof);
    for name in ["chatty", "d"] {
        wait_after(&mut n[0], ma, |e| kind(e) == "joined" && e["name"] == name, TIMEOUT);
    }
    n[0].send("marker");
    n[2].wait_message("marker", TIMEOUT);
    let joins: Vec<Value> = n[0].events()[ma..].iter().filter(|e| kind(e) == "joined").cloned().collect();
    let mut names: Vec<&str> = joins.iter().filter_map(|e| e["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["chatty", "d"], "only those joined: {joins:?}");
    // The half name can still be finished.
    half.send_bytes(b"me\r\n");
    half.wait_line(|l| l.starts_with("Welcome, half-a-name!"), TIMEOUT);
    n[0].wait_for(|e| kind(e) == "joined" && e["name"] == "half-a-name", TIMEOUT);
    assert!(n[0].events().iter().all(|e| !is_message(e, "")), "no empty messages");
}

#[test]
fn a_node_with_no_room_says_so() {
    let mut a = Proc::node("a", &[], &["--heartbeat", "100", "--peer-timeout", "600", "--max-text-clients", "1"]);
    let mut first = RawClient::connect("first", a.port);
    join_as(&mut first, "first");
    let mut second = RawClient::connect("second", a.port);
    second.wait_line(|l| l.contains("no room for more plain-text clients"), TIMEOUT);
    second.wait_eof(TIMEOUT);
    first.send("still here");
    a.wait_message("still here", TIMEOUT);
    let ma = mark(&mut a);
    a.send("for first");
    first.wait_line(|l| l == "a: for first", TIMEOUT);
    let _ = wait_after(&mut a, ma, |e| is_message(e, "for first"), TIMEOUT);
}

#[test]
fn private_messages_between_text_clients_and_their_host() {
    let mut n = line(&["a", "b"], FAST);
    let mut p = RawClient::connect("p", n[1].port);
    join_as(&mut p, "p");
    let mut q = RawClient::connect("q", n[1].port);
    join_as(&mut q, "q");
    for node in &mut n {
        joined(node, "q");
    }
    // Two clients of one node.
    let (mp, mq) = (p.mark(), q.mark());
    p.send(":msg q just between us");
    q.wait_line_since(mq, |l| l == "[private] p: just between us", TIMEOUT);
    p.wait_line_since(mp, |l| l == "[private to q] p: just between us", TIMEOUT);
    // A client and its host's user.
    p.send(":msg b hello host");
    let got = n[1].wait_message("hello host", TIMEOUT);
    assert_eq!((&got["from"], &got["private"]), (&Value::from("p"), &Value::Bool(true)), "{got}");
    p.wait_line_since(mp, |l| l == "[private to b] p: hello host", TIMEOUT);
    let m = q.mark();
    n[1].send(":msg q from your host");
    q.wait_line_since(m, |l| l == "[private] b: from your host", TIMEOUT);
    // Errors, in words.
    let mp = p.mark();
    p.send(":msg p myself");
    p.wait_line_since(mp, |l| l.starts_with("p2pchat: that is you"), TIMEOUT);
    p.send(":msg nobody hello");
    p.wait_line_since(mp, |l| l == "p2pchat: no member named nobody; :users lists them", TIMEOUT);
    p.send(":snapshot");
    p.wait_line_since(mp, |l| l.starts_with("p2pchat: that command is not available here"), TIMEOUT);
    // Nobody else saw any of it.
    p.send("public marker");
    for node in &mut n {
        node.wait_message("public marker", TIMEOUT);
    }
    q.wait_line(|l| l == "p: public marker", TIMEOUT);
    assert_never_printed(&mut n[0], "just between us");
    assert_never_printed(&mut n[0], "hello host");
    assert_never_printed(&mut n[0], "from your host");
    assert_never_printed(&mut n[1], "just between us");
    assert!(q.lines.iter().all(|l| !String::from_utf8_lossy(l).contains("hello host")), "q saw p's message to b");
    for node in &mut n {
        assert!(node.events_of("error").is_empty(), "{}", node.label);
    }
}

#[test]
fn users_typed_by_a_text_client_are_from_its_own_point_of_view() {
    let n = line(&["a", "b"], FAST);
    let mut c = RawClient::connect("dave", n[1].port);
    join_as(&mut c, "dave");
    let m = c.mark();
    c.send(":users");
    c.wait_line_since(m, |l| l == "3 members:", TIMEOUT);
    let listed: Vec<String> = (0..3).map(|k| c.wait_line_since(m + 1 + k, |_| true, TIMEOUT)).collect();
    // dave is the one reading: dave is "(you)", b is dave's host, a is 2 hops away.
    assert!(listed.iter().any(|l| l.starts_with("  dave (you)")), "{listed:?}");
    assert!(!listed.iter().any(|l| l.starts_with("  b (you)")), "{listed:?}");
    assert!(listed.iter().any(|l| l.starts_with("  a ") && l.contains("2 hops")), "{listed:?}");
}

/// `--text-rate` and `--text-burst` set each text client's line budget, and 0
/// lifts it: a client of an unlimited hub gets 500 lines through at once.
#[test]
fn text_rate_and_burst_set_the_line_budget_and_zero_lifts_it() {
    const FLOOD: usize = 500;
    let mut open = Proc::node("open", &[], &["--heartbeat", "100", "--peer-timeout", "600", "--text-rate", "0"]);
    let mut strict = Proc::node(
        "strict",
        &[open.port],
        &["--heartbeat", "100", "--peer-timeout", "600", "--text-rate", "2", "--text-burst", "3"],
    );
    strict.wait_for(|e| kind(e) == "joined" && e["name"] == "open", TIMEOUT);

    let mut fast = RawClient::connect("fast", open.port);
    join_as(&mut fast, "fast");
    let mut flood = String::new();
    for k in 0..FLOOD {
        flood.push_str(&format!("unlimited {k}\r\n"));
    }
    let m = fast.mark();
    fast.send_bytes(flood.as_bytes());
    strict.wait_message(&format!("unlimited {}", FLOOD - 1), TIMEOUT);
    let got: Vec<String> = strict
        .messages()
        .iter()
        .filter_map(|m| m["text"].as_str().filter(|t| t.starts_with("unlimited ")).map(str::to_owned))
        .collect();
    assert_eq!(got, (0..FLOOD).map(|k| format!("unlimited {k}")).collect::<Vec<_>>(), "every line, in order");
    fast.poll();
    assert!(fast.lines[m..].iter().all(|l| !l.starts_with(b"p2pchat: slow down")), "no warning without a limit");

    let mut slow = RawClient::connect("slow", strict.port);
    join_as(&mut slow, "slow");
    let m = slow.mark();
    slow.send_bytes(b"limited 0\r\nlimited 1\r\nlimited 2\r\nlimited 3\r\nlimited 4\r\nlimited 5\r\n");
    let warning = slow.wait_line_since(m, |l| l.starts_with("p2pchat: slow down"), TIMEOUT);
    assert_eq!(warning, "p2pchat: slow down: at most 2 lines a second; lines were dropped");
    std::thread::sleep(Duration::from_millis(600)); // one line regained at 2 a second
    slow.send("limited after");
    open.wait_message("limited after", TIMEOUT);
    let limited: Vec<String> = open
        .messages()
        .iter()
        .filter_map(|m| m["text"].as_str().filter(|t| t.starts_with("limited ")).map(str::to_owned))
        .collect();
    // The burst of 3, plus at most one regained while the bytes were read; the
    // last line came after the refill.
    assert!(limited.len() <= 5, "{limited:?}");
    assert_eq!(limited[..3], ["limited 0", "limited 1", "limited 2"], "{limited:?}");
    assert_eq!(limited.last().map(String::as_str), Some("limited after"));
}
