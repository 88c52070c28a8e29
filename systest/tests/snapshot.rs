//! `:snapshot DIR` with real processes on 127.0.0.1: in a ring of 6 and a tree of 7,
//! after every node has sent two messages, one node writes `DIR/snapshot.json`,
//! `DIR/history.json` and `DIR/topology.dot`, and they must describe exactly the
//! live members, the real links and every message sent (DESIGN.md §3, the
//! `:snapshot [DIR]` command).
//!
//! Each snapshot goes to a directory under the system's temporary directory with a
//! unique name, removed when the test ends (pass or fail).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{FAST, is_message, is_notice, mark, start, wait_after};
use p2pchat_systest::{Proc, TIMEOUT, Value, kind};

/// Messages each node sends.
const MSGS: usize = 2;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("p2pchat-systest-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A topology: node `i` connects to `links(i)`; returns the edges as index pairs.
fn edges(n: usize, links: &dyn Fn(usize) -> Vec<usize>) -> BTreeSet<(usize, usize)> {
    (0..n).flat_map(|i| links(i).into_iter().map(move |j| (i.min(j), i.max(j)))).collect()
}

/// Hop distances from `from` over `edges`.
fn distances(n: usize, edges: &BTreeSet<(usize, usize)>, from: usize) -> Vec<u64> {
    let mut d = vec![u64::MAX; n];
    d[from] = 0;
    let mut q = VecDeque::from([from]);
    while let Some(i) = q.pop_front() {
        for &(a, b) in edges {
            let j = if a == i {
                b
            } else if b == i {
                a
            } else {
                continue;
            };
            if d[j] == u64::MAX {
                d[j] = d[i] + 1;
                q.push_back(j);
            }
        }
    }
    d
}

/// Every node sends [`MSGS`] messages; waits until every node displays all of them.
/// Returns (origin id, seq, from, text) of every message sent, from the senders'
/// own echoes.
fn chat(nodes: &mut [Proc]) -> BTreeSet<(String, u64, String, String)> {
    let n = nodes.len();
    for k in 0..MSGS {
        for p in nodes.iter_mut() {
            let text = format!("{} says {k}", p.label);
            p.send(&text);
        }
    }
    let mut sent = BTreeSet::new();
    for p in nodes.iter_mut() {
        p.wait_until(|ev| ev.iter().filter(|e| kind(e) == "message").count() >= n * MSGS, TIMEOUT);
        let id = p.id.clone();
        for m in p.messages().iter().filter(|m| m["origin"] == id.as_str()) {
            sent.insert((
                id.clone(),
                m["seq"].as_u64().expect("seq"),
                m["from"].as_str().expect("from").to_owned(),
                m["text"].as_str().expect("text").to_owned(),
            ));
        }
    }
    assert_eq!(sent.len(), n * MSGS, "{sent:?}");
    sent
}

/// Has `p` start a snapshot into `dir`; waits for the notice saying how many
/// members it asks. Returns the event mark to pass to [`finish_snapshot`].
fn start_snapshot(p: &mut Proc, dir: &Path, expect_asked: usize) -> usize {
    let d = dir.to_str().expect("utf-8 path").to_owned();
    let from = mark(p);
    p.send(&format!(":snapshot {d}"));
    let asking = wait_after(p, from, |e| is_notice(e, "snapshot: asking"), TIMEOUT);
    assert_eq!(
        asking["text"].as_str().unwrap_or(""),
        format!("snapshot: asking {expect_asked} members; it will be written to {d}"),
        "{asking}"
    );
    from
}

/// Waits for the notice saying where the snapshot went and returns the three
/// files' contents.
fn finish_snapshot(p: &mut Proc, dir: &Path, from: usize) -> (Value, Value, String) {
    let d = dir.to_str().expect("utf-8 path").to_owned();
    let t = Instant::now();
    let done = wait_after(
        p,
        from,
        |e| {
            is_notice(e, "snapshot written to")
                || (kind(e) == "error" && e["text"].as_str().is_some_and(|t| t.contains("could not write")))
        },
        TIMEOUT,
    );
    assert_eq!(
        done["text"].as_str().unwrap_or(""),
        format!("snapshot written to {d} (snapshot.json, history.json, topology.dot)"),
        "{done}"
    );
    eprintln!("{}: snapshot written {:?} after it was asked for", p.label, t.elapsed());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{d}/{f}: {e}"));
    let snap: Value = serde_json::from_str(&read("snapshot.json")).expect("snapshot.json is JSON");
    let hist: Value = serde_json::from_str(&read("history.json")).expect("history.json is JSON");
    (snap, hist, read("topology.dot"))
}

/// Has `p` take a snapshot into `dir` and returns the three files' contents.
fn snapshot(p: &mut Proc, dir: &Path, expect_asked: usize) -> (Value, Value, String) {
    let from = start_snapshot(p, dir, expect_asked);
    finish_snapshot(p, dir, from)
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) }
}

/// What a snapshot must say about a network.
struct Expect<'a> {
    /// The snapshot's taker.
    by: usize,
    /// Index of every node, live or not, to its (id, name).
    nodes: &'a [(String, String)],
    /// Live nodes that answer.
    answering: BTreeSet<usize>,
    /// Live nodes that do not (frozen).
    silent: BTreeSet<usize>,
    /// Real links, as index pairs.
    links: BTreeSet<(usize, usize)>,
    /// Every message sent.
    sent: &'a BTreeSet<(String, u64, String, String)>,
}

fn check(snap: &Value, hist: &Value, dot: &str, x: &Expect<'_>) {
    let id = |i: usize| x.nodes[i].0.clone();
    let name = |i: usize| x.nodes[i].1.clone();
    let listed: BTreeSet<usize> = x.answering.union(&x.silent).copied().collect();
    assert_eq!(snap["taken_by"]["id"], id(x.by).as_str(), "{snap:#}");
    assert_eq!(snap["taken_by"]["name"], name(x.by).as_str(), "{snap:#}");
    let (t0, t1) = (snap["started_at_ms"].as_u64().expect("start"), snap["finished_at_ms"].as_u64().expect("end"));
    assert!(t0 <= t1 && t1 - t0 < 60_000, "{t0} .. {t1}");

    // Members: exactly the live ones, by id and name.
    let members = snap["members"].as_array().expect("members");
    let got: BTreeSet<(String, String)> = members
        .iter()
        .map(|m| (m["id"].as_str().unwrap_or("").to_owned(), m["name"].as_str().unwrap_or("").to_owned()))
        .collect();
    let want: BTreeSet<(String, String)> = listed.iter().map(|i| (id(*i), name(*i))).collect();
    assert_eq!(got, want, "members of the snapshot");
    assert_eq!(members.len(), listed.len(), "no member listed twice");

    // Who answered and who did not.
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array().expect("list").iter().map(|s| s.as_str().unwrap_or("").to_owned()).collect()
    };
    assert_eq!(names(&snap["answered"]), x.answering.iter().map(|i| name(*i)).collect(), "answered");
    assert_eq!(names(&snap["did_not_answer"]), x.silent.iter().map(|i| name(*i)).collect(), "did_not_answer");

    // Links: exactly the real ones.
    let links: BTreeSet<(String, String)> = snap["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| pair(l[0].as_str().unwrap_or(""), l[1].as_str().unwrap_or("")))
        .collect();
    let want_links: BTreeSet<(String, String)> = x.links.iter().map(|(a, b)| pair(&id(*a), &id(*b))).collect();
    assert_eq!(links, want_links, "links of the snapshot (extra links would be repair or redundancy at work)");
    assert_eq!(snap["links"].as_array().map(Vec::len), Some(x.links.len()), "no link listed twice");

    // Per member: its links, its address, how far it is, its counters.
    let live_edges: BTreeSet<(usize, usize)> =
        x.links.iter().copied().filter(|(a, b)| listed.contains(a) && listed.contains(b)).collect();
    let hops = distances(x.nodes.len(), &live_edges, x.by);
    let origins: BTreeSet<&str> = x.sent.iter().map(|s| s.0.as_str()).collect();
    let n_live = listed.len() as u64;
    for i in &listed {
        let m = members.iter().find(|m| m["id"] == id(*i).as_str()).expect("listed");
        let mine: BTreeSet<String> = x
            .links
            .iter()
            .filter_map(|(a, b)| {
                if a == i {
                    Some(id(*b))
                } else if b == i {
                    Some(id(*a))
                } else {
                    None
                }
            })
            .collect();
        let theirs: BTreeSet<String> =
            m["links"].as_array().expect("links").iter().map(|s| s.as_str().unwrap_or("").to_owned()).collect();
        assert_eq!(theirs, mine, "links of {}: {m}", name(*i));
        assert!(m["addr"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{m}");
        assert_eq!(m["hops"], hops[*i], "hops to {}: {m}", name(*i));
        assert!(m["text_client_of"].is_null(), "{m}");
        if x.answering.contains(i) {
            assert_eq!(m["answered"], true, "{m}");
            assert_eq!(m["sent"], MSGS as u64, "{m}");
            // Every message from every other node, including from nodes gone since.
            let others = origins.len() as u64 - 1;
            assert_eq!(m["received"], MSGS as u64 * others, "{m}");
            let marks = m["high_water_marks"].as_object().expect("marks");
            for o in &origins {
                assert_eq!(marks.get(*o).and_then(Value::as_u64), Some(MSGS as u64), "{}: mark of {o}: {m}", name(*i));
            }
        } else {
            assert_eq!(m["answered"], false, "{m}");
            assert!(m["sent"].is_null() && m["received"].is_null(), "{m}");
        }
    }
    assert!(n_live > 0);

    // History: every message sent, once, per-sender ordered.
    let entries = hist.as_array().expect("history is a list");
    let got: Vec<(String, u64, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["origin"].as_str().unwrap_or("").to_owned(),
                e["seq"].as_u64().unwrap_or(0),
                e["from"].as_str().unwrap_or("").to_owned(),
                e["text"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), *x.sent, "history.json");
    assert_eq!(got.len(), x.sent.len(), "each message once");
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (o, seq, _, _) in &got {
        let prev = last.insert(o.as_str(), *seq).unwrap_or(0);
        assert!(*seq > prev, "history of {o}: seq {seq} after {prev}");
    }

    // topology.dot: a graph, one node per member, one edge per link.
    let lines: Vec<&str> = dot.lines().collect();
    assert_eq!(lines.first().copied(), Some("graph p2pchat {"), "{dot}");
    assert_eq!(lines.last().copied(), Some("}"), "{dot}");
    let edges: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.contains(" -- "))
        .map(|l| {
            let parts: Vec<&str> = l.trim().trim_end_matches(';').split(" -- ").map(|s| s.trim_matches('"')).collect();
            pair(parts[0], parts[1])
        })
        .collect();
    assert_eq!(edges.len(), x.links.len(), "{dot}");
    assert_eq!(edges.into_iter().collect::<BTreeSet<_>>(), want_links, "{dot}");
    let node_lines = lines.iter().filter(|l| l.contains("[label=")).count();
    assert_eq!(node_lines, listed.len(), "{dot}");
    for i in &listed {
        assert!(
            lines.iter().any(|l| l.trim_start().starts_with(&format!("\"{}\" [label=\"{} (", id(*i), name(*i)))),
            "{} in {dot}",
            name(*i)
        );
    }
}

/// Freezes `p` with SIGSTOP and waits (bounded) until every thread of it is
/// stopped. `kill` returns once the signal is sent, not once it took effect: the
/// kernel stops a thread only when that thread next runs, and until then the
/// process's network thread may still run, and answer a snapshot asked for right
/// after (seen once on a loaded machine; right after `kill -STOP` returns, a few
/// in a hundred tries find a thread of the process not yet stopped).
fn freeze(p: &mut Proc) {
    p.signal("STOP");
    let tasks = PathBuf::from(format!("/proc/{}/task", p.pid()));
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match all_stopped(&tasks) {
            Ok(true) => return,
            Ok(false) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Ok(false) => p.fail(&format!("not all its threads stopped within {TIMEOUT:?} of SIGSTOP")),
            Err(e) => p.fail(&format!("cannot read {}: {e}", tasks.display())),
        }
    }
}

/// Whether every thread listed in `tasks` (`/proc/PID/task`) is stopped: state `T`
/// in its `stat`, the field after the command name in parentheses.
fn all_stopped(tasks: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(tasks)? {
        let stat = match std::fs::read_to_string(entry?.path().join("stat")) {
            Ok(stat) => stat,
            // A thread that ended meanwhile runs no more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if state != Some('T') {
            return Ok(false);
        }
    }
    Ok(true)
}

fn ring6(i: usize) -> Vec<usize> {
    match i {
        0 => vec![],
        5 => vec![4, 0],
        _ => vec![i - 1],
    }
}

fn tree7(i: usize) -> Vec<usize> {
    if i == 0 { vec![] } else { vec![(i - 1) / 2] }
}

fn ids_names(nodes: &[Proc]) -> Vec<(String, String)> {
    nodes.iter().map(|p| (p.id.clone(), p.label.clone())).collect()
}

#[test]
fn a_snapshot_of_a_ring_of_six() {
    let t0 = Instant::now();
    let names: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut nodes = start(&names, FAST, ring6);
    let sent = chat(&mut nodes);
    let tmp = TempDir::new("ring");
    // A directory that does not exist yet: the snapshot creates it.
    let dir = tmp.0.join("ring");
    let (snap, hist, dot) = snapshot(&mut nodes[3], &dir, 6);
    let all = ids_names(&nodes);
    check(
        &snap,
        &hist,
        &dot,
        &Expect {
            by: 3,
            nodes: &all,
            answering: (0..6).collect(),
            silent: BTreeSet::new(),
            links: edges(6, &ring6),
            sent: &sent,
        },
    );
    for p in &mut nodes {
        let errors = p.events_of("error");
        assert!(errors.is_empty(), "{}: {errors:?}", p.label);
    }
    eprintln!("ring of six: {:?}", t0.elapsed());
}

#[test]
fn snapshots_of_a_tree_of_seven_before_and_after_losing_leaves() {
    let t0 = Instant::now();
    let names: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // A peer timeout long enough for the frozen leaf below to stay a member while
    // the snapshot is asked for (the snapshot itself waits at most 2 s).
    let timers = &["--heartbeat", "100", "--peer-timeout", "1500"];
    let mut nodes = start(&names, timers, tree7);
    let sent = chat(&mut nodes);
    let all = ids_names(&nodes);
    let tree = edges(7, &tree7);
    let tmp = TempDir::new("tree");

    let (snap, hist, dot) = snapshot(&mut nodes[4], &tmp.0.join("whole"), 7);
    check(
        &snap,
        &hist,
        &dot,
        &Expect {
            by: 4,
            nodes: &all,
            answering: (0..7).collect(),
            silent: BTreeSet::new(),
            links: tree.clone(),
            sent: &sent,
        },
    );

    // kill -9 a leaf; once everyone knows it is gone, it is not in the snapshot.
    let gone = nodes[6].id.clone();
    let marks: Vec<usize> = nodes.iter_mut().map(mark).collect();
    nodes[6].kill();
    for (i, p) in nodes.iter_mut().enumerate().take(6) {
        wait_after(p, marks[i], |e| kind(e) == "left" && e["id"] == gone.as_str(), TIMEOUT);
    }
    let mut links = tree.clone();
    links.remove(&(2, 6));
    let (snap, hist, dot) = snapshot(&mut nodes[0], &tmp.0.join("after-kill"), 6);
    check(
        &snap,
        &hist,
        &dot,
        &Expect {
            by: 0,
            nodes: &all,
            answering: (0..6).collect(),
            silent: BTreeSet::new(),
            links: links.clone(),
            sent: &sent,
        },
    );

    // Freeze a leaf (SIGSTOP: its sockets stay open, it says nothing) and take a
    // snapshot at once: it is still a member, and is listed as not answering. Two
    // nodes take one at the same time; their answers do not mix.
    freeze(&mut nodes[5]);
    let (frozen, second) = (tmp.0.join("frozen"), tmp.0.join("second"));
    let from0 = start_snapshot(&mut nodes[0], &frozen, 6);
    let from1 = start_snapshot(&mut nodes[1], &second, 6);
    // One node, one snapshot at a time: t0's waits for t5 (up to 2 s).
    nodes[0].send(&format!(":snapshot {}", tmp.0.join("refused").display()));
    let e = wait_after(&mut nodes[0], from0, |e| kind(e) == "error", TIMEOUT);
    assert_eq!(e["text"], "a snapshot is already being taken", "{e}");
    let (snap, hist, dot) = finish_snapshot(&mut nodes[0], &frozen, from0);
    let (snap1, hist1, dot1) = finish_snapshot(&mut nodes[1], &second, from1);
    nodes[5].signal("CONT");
    for (by, snap, hist, dot) in [(0, &snap, &hist, &dot), (1, &snap1, &hist1, &dot1)] {
        check(
            snap,
            hist,
            dot,
            &Expect {
                by,
                nodes: &all,
                answering: (0..5).collect(),
                silent: BTreeSet::from([5]),
                links: links.clone(),
                sent: &sent,
            },
        );
    }
    assert!(!tmp.0.join("refused").exists(), "the refused snapshot wrote nothing");
    eprintln!("tree of seven: {:?}", t0.elapsed());
}

#[test]
fn a_snapshot_of_a_lone_node_and_one_that_cannot_be_written() {
    let mut a = Proc::node("a", &[], FAST);
    a.send("only me");
    a.wait_message("only me", TIMEOUT);
    let tmp = TempDir::new("lone");
    let (snap, hist, dot) = snapshot(&mut a, &tmp.0, 1);
    assert_eq!(snap["members"].as_array().map(Vec::len), Some(1), "{snap:#}");
    assert_eq!(snap["links"], Value::Array(vec![]), "{snap:#}");
    assert_eq!(hist.as_array().map(Vec::len), Some(1), "{hist:#}");
    assert_eq!(dot.lines().filter(|l| l.contains(" -- ")).count(), 0, "{dot}");
    // A directory that cannot be written is an error, not a crash.
    let blocker = tmp.0.join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let from = mark(&mut a);
    a.send(&format!(":snapshot {}", blocker.join("sub").display()));
    let e = wait_after(&mut a, from, |e| kind(e) == "error", Duration::from_secs(10));
    assert!(e["text"].as_str().is_some_and(|t| t.contains("could not write the snapshot")), "{e}");
    a.send("still alive");
    a.wait_message("still alive", TIMEOUT);
}

#[test]
fn text_clients_are_in_the_snapshot_as_members_of_their_host() {
    let mut n = common::line(&["a", "b"], FAST);
    let mut dave = common::RawClient::connect("dave", n[1].port);
    common::join_as(&mut dave, "dave");
    let dave_id = common::id_of(&mut n[0], "dave");
    dave.send("dave was here");
    n[0].wait_message("dave was here", TIMEOUT);
    let tmp = TempDir::new("text");
    let (snap, hist, dot) = snapshot(&mut n[0], &tmp.0, 3);
    let members = snap["members"].as_array().expect("members");
    let d = members.iter().find(|m| m["name"] == "dave").unwrap_or_else(|| panic!("dave listed: {snap:#}"));
    assert_eq!(d["id"], dave_id.as_str(), "{d}");
    assert_eq!(d["text_client_of"], n[1].id.as_str(), "{d}");
    assert_eq!(d["answered"], true, "{d}");
    assert!(d["addr"].is_null(), "{d}");
    assert_eq!(d["links"], serde_json::json!([n[1].id]), "{d}");
    assert_eq!(d["sent"], 1, "{d}");
    let links: BTreeSet<(String, String)> = snap["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| pair(l[0].as_str().unwrap_or(""), l[1].as_str().unwrap_or("")))
        .collect();
    assert_eq!(links, BTreeSet::from([pair(&n[0].id, &n[1].id), pair(&n[1].id, &dave_id)]), "{snap:#}");
    assert_eq!(dot.lines().filter(|l| l.contains(" -- ")).count(), 2, "{dot}");
    let texts: Vec<&str> = hist.as_array().expect("list").iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(texts, ["dave was here"], "{hist:#}");
}

#[test]
fn a_lone_nodes_snapshot_notices_come_in_the_order_they_happened() {
    let mut a = Proc::node("a", &[], FAST);
    let tmp = TempDir::new("order");
    let d = tmp.0.join("snap");
    let from = mark(&mut a);
    a.send(&format!(":snapshot {}", d.display()));
    wait_after(&mut a, from, |e| is_notice(e, "snapshot written to"), TIMEOUT);
    wait_after(&mut a, from, |e| is_notice(e, "snapshot: asking"), TIMEOUT);
    let texts: Vec<String> = a.events()[from..]
        .iter()
        .filter(|e| is_notice(e, "snapshot"))
        .map(|e| e["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        texts,
        [
            format!("snapshot: asking 1 members; it will be written to {}", d.display()),
            format!("snapshot written to {} (snapshot.json, history.json, topology.dot)", d.display()),
        ],
        "the notice of the request, then the one of the write"
    );
}

#[test]
fn a_snapshot_directory_may_have_spaces_in_its_name() {
    let mut a = Proc::node("a", &[], FAST);
    let tmp = TempDir::new("spaces");
    let dir = tmp.0.join("my snaps");
    let (snap, _, _) = snapshot(&mut a, &dir, 1);
    assert_eq!(snap["members"].as_array().map(Vec::len), Some(1), "{snap:#}");
}

/// The files of a snapshot that is not this test's to overwrite.
fn plant_snapshot(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    for f in ["snapshot.json", "history.json", "topology.dot"] {
        std::fs::write(dir.join(f), format!("an earlier {f}")).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

fn assert_planted(dir: &Path) {
    for f in ["snapshot.json", "history.json", "topology.dot"] {
        let got = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
        assert_eq!(got, format!("an earlier {f}"), "{}/{f} was written over", dir.display());
    }
}

#[test]
fn a_directory_that_holds_a_snapshot_is_not_written_over() {
    let mut a = Proc::node("a", &[], FAST);
    let tmp = TempDir::new("exists");
    let planted = tmp.0.join("planted");
    plant_snapshot(&planted);
    // One of the files is enough to refuse: nothing is written beside it either.
    let partial = tmp.0.join("partial");
    std::fs::create_dir(&partial).expect("create partial");
    std::fs::write(partial.join("history.json"), "mine").expect("write history.json");
    for dir in [&planted, &partial] {
        let from = mark(&mut a);
        a.send(&format!(":snapshot {}", dir.display()));
        let e = wait_after(&mut a, from, |e| kind(e) == "error" || is_notice(e, "snapshot written to"), TIMEOUT);
        assert_eq!(
            e["text"].as_str().unwrap_or(""),
            format!("cannot take the snapshot: {} already holds a snapshot", dir.display()),
            "{e}"
        );
        a.send("still here");
        wait_after(&mut a, from, |e| is_message(e, "still here"), TIMEOUT);
        let snapshot_notices = a.events()[from..].iter().filter(|e| is_notice(e, "snapshot")).count();
        assert_eq!(snapshot_notices, 0, "no snapshot asked for nor written: {:?}", &a.events()[from..]);
    }
    assert_planted(&planted);
    let left: BTreeSet<String> = std::fs::read_dir(&partial)
        .expect("read partial")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, BTreeSet::from(["history.json".to_owned()]), "nothing written beside it");
    assert_eq!(std::fs::read_to_string(partial.join("history.json")).expect("read"), "mine");
}

#[test]
fn the_default_directory_gets_a_suffix_rather_than_write_over_a_snapshot() {
    let tmp = TempDir::new("default");
    // Whatever second the node takes its default name from, that name is taken.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    let planted: Vec<PathBuf> =
        (now.saturating_sub(2)..now + 30).map(|s| tmp.0.join(format!("p2pchat-snapshot-{s}"))).collect();
    for dir in &planted {
        plant_snapshot(dir);
    }
    let mut command = std::process::Command::new(p2pchat_systest::binary());
    command.args(["--json", "--bind", "127.0.0.1", "a"]).args(FAST).current_dir(&tmp.0);
    let mut a = Proc::spawn_command("a", command, true);
    a.wait_listening();
    let mut dirs = BTreeSet::new();
    for _ in 0..2 {
        let from = mark(&mut a);
        a.send(":snapshot");
        let done = wait_after(&mut a, from, |e| is_notice(e, "snapshot written to") || kind(e) == "error", TIMEOUT);
        let text = done["text"].as_str().unwrap_or("");
        let dir = text
            .strip_prefix("snapshot written to ")
            .and_then(|t| t.strip_suffix(" (snapshot.json, history.json, topology.dot)"))
            .unwrap_or_else(|| panic!("{done}"));
        let (base, suffix) = dir.rsplit_once('-').unwrap_or_else(|| panic!("a suffix on {dir}"));
        assert!(planted.iter().any(|p| p.ends_with(base)), "{dir}: the default name with a suffix");
        assert!(suffix.parse::<u32>().is_ok_and(|n| n >= 2), "{dir}");
        let snap: Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.0.join(dir).join("snapshot.json")).expect("read"))
                .expect("snapshot.json is JSON");
        assert_eq!(snap["taken_by"]["id"], a.id.as_str(), "{snap:#}");
        dirs.insert(dir.to_owned());
    }
    assert_eq!(dirs.len(), 2, "two snapshots, two directories: {dirs:?}");
    for dir in &planted {
        assert_planted(dir);
    }
}
