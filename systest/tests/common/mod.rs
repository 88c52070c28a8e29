//! Helpers shared by the real-process tests (`--json` mode): starting small
//! networks, waiting on events after a mark, event predicates, `:users` and
//! `:peers` listings, checks of what a node displayed, and a plain-text client
//! over a raw socket.
//!
//! Each test file includes this module (`mod common;`) and uses part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use p2pchat_systest::{Proc, TIMEOUT, Value, kind};

/// Fast timers, for the tests that are not about timing.
pub const FAST: &[&str] = &["--heartbeat", "100", "--peer-timeout", "600"];

/// Starts nodes named `names`, node `i` connecting to the nodes `links(i)` (all
/// started before it), and waits until every node has seen every other join.
pub fn start(names: &[&str], extra: &[&str], links: impl Fn(usize) -> Vec<usize>) -> Vec<Proc> {
    let mut nodes = start_nodes(names, extra, links);
    wait_all_joined(&mut nodes);
    nodes
}

/// Like [`start`], without waiting for the joins.
pub fn start_nodes(names: &[&str], extra: &[&str], links: impl Fn(usize) -> Vec<usize>) -> Vec<Proc> {
    let mut nodes: Vec<Proc> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let ports: Vec<u16> = links(i)
            .into_iter()
            .map(|j| {
                assert!(j < i, "node {i} links to {j}, which is not started yet");
                nodes[j].port
            })
            .collect();
        nodes.push(Proc::node(name, &ports, extra));
    }
    nodes
}

/// A line: each node connects to the previous one.
pub fn line(names: &[&str], extra: &[&str]) -> Vec<Proc> {
    start(names, extra, |i| if i == 0 { vec![] } else { vec![i - 1] })
}

/// Waits until every node has seen a `joined` event for every other node, each
/// node's wait bounded by [`TIMEOUT`].
pub fn wait_all_joined(nodes: &mut [Proc]) {
    let ids: Vec<String> = nodes.iter().map(|p| p.id.clone()).collect();
    for node in nodes.iter_mut() {
        wait_joined_by_others(node, &ids, TIMEOUT);
    }
}

/// Like [`wait_all_joined`], the whole wait bounded by `phase`.
pub fn wait_all_joined_within(nodes: &mut [Proc], phase: Duration) {
    let t = Instant::now();
    let ids: Vec<String> = nodes.iter().map(|p| p.id.clone()).collect();
    for node in nodes.iter_mut() {
        wait_joined_by_others(node, &ids, left_of(phase, t));
    }
}

/// Waits until `node` has seen a `joined` event for every id in `ids` but its own.
fn wait_joined_by_others(node: &mut Proc, ids: &[String], timeout: Duration) {
    let me = node.id.clone();
    let others: Vec<&str> = ids.iter().filter(|id| **id != me).map(String::as_str).collect();
    node.wait_until(|events| others.iter().all(|id| events.iter().any(|e| is_joined(e, id))), timeout);
}

/// What remains of `total` once `since` has passed, at least a moment.
pub fn left_of(total: Duration, since: Instant) -> Duration {
    total.saturating_sub(since.elapsed()).max(Duration::from_millis(100))
}

/// The number of events so far: a mark, to look only at what comes after it.
pub fn mark(p: &mut Proc) -> usize {
    p.events().len()
}

/// Waits for an event at index `from` or later matching `pred` and returns it.
pub fn wait_after(p: &mut Proc, from: usize, pred: impl FnMut(&Value) -> bool, timeout: Duration) -> Value {
    p.wait_for_since(from, pred, timeout).1
}

/// Like [`wait_after`], also returning when the harness read the event (for
/// timings measured from a signal to its effect).
pub fn wait_after_timed(
    p: &mut Proc,
    from: usize,
    pred: impl FnMut(&Value) -> bool,
    timeout: Duration,
) -> (Value, Instant) {
    let (_, e, at) = p.wait_for_since(from, pred, timeout);
    (e, at)
}

/// Events from index `from` on.
pub fn events_since(p: &mut Proc, from: usize) -> Vec<Value> {
    p.events()[from..].to_vec()
}

pub fn is_message(e: &Value, text: &str) -> bool {
    kind(e) == "message" && e["text"] == text
}

pub fn is_joined(e: &Value, id: &str) -> bool {
    kind(e) == "joined" && e["id"] == id
}

/// A `left` event for `id`, lost (not quit).
pub fn is_lost(e: &Value, id: &str) -> bool {
    kind(e) == "left" && e["id"] == id && e["reason"] == "lost"
}

pub fn is_notice(e: &Value, prefix: &str) -> bool {
    kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.starts_with(prefix))
}

pub fn is_error(e: &Value, part: &str) -> bool {
    kind(e) == "error" && e["text"].as_str().is_some_and(|t| t.contains(part))
}

/// Message events with this text, so far.
pub fn messages_with(p: &mut Proc, text: &str) -> Vec<Value> {
    p.messages().into_iter().filter(|m| m["text"] == text).collect()
}

/// Fails if any stdout line of `p` (raw, whatever the event) contains `needle`.
pub fn assert_never_printed(p: &mut Proc, needle: &str) {
    let hit: Vec<String> = p.lines().iter().filter(|l| l.contains(needle)).cloned().collect();
    if !hit.is_empty() {
        p.fail(&format!("printed {needle:?}, which it must never see: {hit:?}"));
    }
}

/// Has `p` run `:users` and returns the notice lines it printed for it (the
/// `N members:` header and one line per member).
pub fn users(p: &mut Proc) -> Vec<String> {
    let from = mark(p);
    p.send(":users");
    let header = wait_after(
        p,
        from,
        |e| is_notice(e, "") && e["text"].as_str().is_some_and(|t| t.ends_with(" members:") || t == "1 member:"),
        TIMEOUT,
    );
    let n: usize =
        header["text"].as_str().and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).expect("count");
    let start = p.events()[from..].iter().position(|e| *e == header).expect("header") + from;
    p.wait_until(|events| events.len() > start + n, TIMEOUT);
    p.events()[start..=start + n].iter().map(|e| e["text"].as_str().unwrap_or("").to_owned()).collect()
}

/// Has `p` run `:users` and returns the member names it listed (the first word
/// of each member line, `  NAME (you) ADDR` or `  NAME ADDR (H hops[, direct])`).
pub fn user_names(p: &mut Proc) -> Vec<String> {
    let lines = users(p);
    lines[1..]
        .iter()
        .map(|l| {
            if !l.starts_with("  ") {
                p.fail(&format!("a member line does not start with two spaces: {l:?}"));
            }
            l.split_whitespace().next().unwrap_or("").to_owned()
        })
        .collect()
}

/// Has `p` run `:peers` and returns the lines listing its direct links.
pub fn peers(p: &mut Proc) -> Vec<String> {
    let from = mark(p);
    p.send(":peers");
    let header = wait_after(
        p,
        from,
        |e| {
            is_notice(e, "")
                && e["text"].as_str().is_some_and(|t| t.ends_with(" direct links:") || t == "1 direct link:")
        },
        TIMEOUT,
    );
    let n: usize =
        header["text"].as_str().and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).expect("count");
    let start = p.events()[from..].iter().position(|e| *e == header).expect("header") + from;
    p.wait_until(|events| events.len() > start + n, TIMEOUT);
    p.events()[start + 1..=start + n].iter().map(|e| e["text"].as_str().unwrap_or("").to_owned()).collect()
}

/// Texts of the messages displayed so far, in display order, grouped by origin.
pub fn texts_by_origin(p: &mut Proc) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in p.messages() {
        by.entry(m["origin"].as_str().unwrap_or("?").to_owned())
            .or_default()
            .push(m["text"].as_str().unwrap_or("?").to_owned());
    }
    by
}

/// Every message this node displayed so far came at most once per (origin, seq),
/// with sequence numbers increasing per origin (exactly once, in per-sender order,
/// for what it did display); and no text appears twice (every test text is unique).
pub fn assert_once_in_order(p: &mut Proc) {
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for m in p.messages() {
        let origin = m["origin"].as_str().unwrap_or("?").to_owned();
        let seq = m["seq"].as_u64().unwrap_or(0);
        if let Some(prev) = last.insert(origin.clone(), seq)
            && prev >= seq
        {
            p.fail(&format!(
                "messages from {origin}: seq {seq} displayed after seq {prev} (duplicate or out of order)"
            ));
        }
        *texts.entry(m["text"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = texts.into_iter().filter(|(_, n)| *n > 1).collect();
    if !twice.is_empty() {
        p.fail(&format!("texts displayed more than once: {twice:?}"));
    }
}

/// Fails if the node reported any error.
pub fn assert_no_errors(p: &mut Proc) {
    let errors = p.events_of("error");
    if !errors.is_empty() {
        p.fail(&format!("error events: {errors:?}"));
    }
}

/// A plain-text client on a raw socket (what `nc` does, without `nc`). Reads are
/// bounded; lines are returned as bytes so that tests can look for raw control
/// characters.
#[derive(Debug)]
pub struct RawClient {
    pub label: String,
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every complete line read so far (CR LF removed).
    pub lines: Vec<Vec<u8>>,
    pub eof: bool,
}

impl RawClient {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(label: &str, port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{label}: connect: {e}"));
        stream.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
        RawClient { label: label.to_owned(), stream, buf: Vec::new(), lines: Vec::new(), eof: false }
    }

    /// Reads what has arrived, waiting up to `until` for more.
    fn fill(&mut self, until: Instant) {
        let mut chunk = [0u8; 8192];
        while !self.eof && Instant::now() < until {
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                        let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        self.lines.push(line);
                    }
                    return;
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => self.fail(&format!("read: {e}")),
            }
        }
    }

    /// Waits for a line (among all read so far) matching `pred`; returns it as text.
    pub fn wait_line(&mut self, mut pred: impl FnMut(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).find(|l| pred(l)) {
                return l;
            }
            if self.eof {
                self.fail("the connection closed while waiting");
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?}"));
            }
            self.fill(deadline);
        }
    }

    /// Like [`RawClient::wait_line`], looking only at lines from index `from` on.
    pub fn wait_line_since(&mut self, from: usize, mut pred: impl FnMut(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) =
                self.lines.iter().skip(from).map(|l| String::from_utf8_lossy(l).into_owned()).find(|l| pred(l))
            {
                return l;
            }
            if self.eof {
                self.fail("the connection closed while waiting");
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?}"));
            }
            self.fill(deadline);
        }
    }

    /// Waits (bounded) for the other side to close the connection.
    pub fn wait_eof(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.eof {
            if Instant::now() >= deadline {
                self.fail(&format!("still open after {timeout:?}"));
            }
            self.fill(deadline);
        }
    }

    /// Takes in whatever arrived, without waiting more than a moment.
    pub fn poll(&mut self) {
        self.fill(Instant::now() + Duration::from_millis(50));
    }

    /// Number of lines read so far (a mark).
    pub fn mark(&mut self) -> usize {
        self.poll();
        self.lines.len()
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            self.fail(&format!("write: {e}"));
        }
    }

    /// Sends a line ended by CR LF, as telnet does.
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes());
    }

    /// Closes the writing half (what `nc -N` does at end of input).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    pub fn fail(&self, why: &str) -> ! {
        let lines: Vec<String> = self.lines.iter().map(|l| format!("{:?}", String::from_utf8_lossy(l))).collect();
        panic!("{}: {why}\n--- lines read ---\n{}\n--- partial: {:?}", self.label, lines.join("\n"), self.buf);
    }
}

/// Asks for a name and gives it: returns once the client is welcomed.
pub fn join_as(c: &mut RawClient, name: &str) {
    c.wait_line(|l| l.starts_with("Welcome to p2pchat (node of "), TIMEOUT);
    let from = c.mark();
    c.send(name);
    c.wait_line_since(from, |l| l.starts_with(&format!("Welcome, {name}!")), TIMEOUT);
}

/// The id of a member known to `p` by name, from its `joined` events.
pub fn id_of(p: &mut Proc, name: &str) -> String {
    let e = p.wait_for(|e| kind(e) == "joined" && e["name"] == name, TIMEOUT);
    e["id"].as_str().expect("id").to_owned()
}
