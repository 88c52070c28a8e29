//! Guarantee 12 between real processes on 127.0.0.1: a member killed with
//! SIGKILL and restarted with its data directory is the same member, is shown
//! back, shows its saved history first and then exactly what it missed, once; a
//! member whose store was deleted is not taken for a duplicate; a data directory
//! in use, a stale lock, a corrupt store, a store that cannot be opened and a
//! data directory on a read-only disk each get a clear message and lose nothing
//! that was on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{FAST, is_message, is_notice, mark, wait_after};
use std::process::Command;

use p2pchat_systest::{Proc, TIMEOUT, Value, binary, can_unshare_mounts, kind, require};

/// The notice that ends the saved history shown at start (`Event::HISTORY_END`).
const HISTORY_END: &str = "---- saved history above; live messages below";

/// A data directory for one member of one test, empty.
fn data_dir(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2pchat-memory-{}-{test}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn with_dir<'a>(dir: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = FAST.iter().map(|s| (*s).to_owned()).collect();
    v.push("--data-dir".into());
    v.push(dir.to_string_lossy().into_owned());
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn node(name: &str, connect: &[u16], args: &[String]) -> Proc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::node(name, connect, &args)
}

/// Quits with `:quit` typed (a lone node closing its input would exit 1 for
/// what no neighbour received) and checks the exit status.
fn quit(p: &mut Proc) {
    p.send(":quit");
    let status = p.wait_exit(TIMEOUT);
    assert!(status.success(), "{}: {status}", p.label);
}

fn is_history(e: &Value, text: &str) -> bool {
    kind(e) == "history" && e["text"] == text
}

/// Texts of the `message` events of `p`, in order.
fn message_texts(p: &mut Proc) -> Vec<String> {
    p.messages().iter().filter_map(|e| e["text"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_line_of_five_whose_middle_is_killed_gets_back_exactly_what_it_missed() {
    let names = ["a", "b", "c", "d", "e"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| data_dir("line", n)).collect();
    let mut nodes: Vec<Proc> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let connect: Vec<u16> = if i == 0 { vec![] } else { vec![nodes[i - 1].port] };
        nodes.push(node(name, &connect, &with_dir(&dirs[i], &[])));
    }
    common::wait_all_joined(&mut nodes);
    let c_id = nodes[2].id.clone();
    for k in 0..3 {
        nodes[0].send(&format!("before {k} from a"));
        nodes[4].send(&format!("before {k} from e"));
    }
    nodes[2].wait_for(|e| is_message(e, "before 2 from a"), TIMEOUT);
    nodes[2].wait_for(|e| is_message(e, "before 2 from e"), TIMEOUT);
    // Guarantee 12: what was shown more than a second before the crash is on disk.
    std::thread::sleep(Duration::from_millis(1200));
    nodes[2].kill();
    // The line heals around the hole (b and d link up), and chat goes on.
    let lost_c = |e: &Value| common::is_lost(e, &c_id);
    nodes[1].wait_for(lost_c, TIMEOUT);
    nodes[3].wait_for(lost_c, TIMEOUT);
    nodes[0].wait_for(|e| is_notice(e, "netsplit over"), TIMEOUT);
    let marks: Vec<usize> = nodes.iter_mut().map(mark).collect();
    for k in 0..4 {
        nodes[0].send(&format!("while down {k} from a"));
        nodes[4].send(&format!("while down {k} from e"));
    }
    nodes[4].wait_for(|e| is_message(e, "while down 3 from a"), TIMEOUT);
    nodes[0].wait_for(|e| is_message(e, "while down 3 from e"), TIMEOUT);

    let mut c = node("c", &[nodes[1].port], &with_dir(&dirs[2], &[]));
    assert_eq!(c.id, c_id, "the same id in its listening event");
    // Its screen starts with what it had shown, then the separator.
    c.wait_for(|e| is_notice(e, HISTORY_END), TIMEOUT);
    let history: Vec<String> =
        c.events_of("history").iter().filter_map(|e| e["text"].as_str().map(str::to_owned)).collect();
    for k in 0..3 {
        for from in ["a", "e"] {
            assert!(history.contains(&format!("before {k} from {from}")), "saved history shown: {history:?}");
        }
    }
    // Then exactly the messages said while it was down, once each, in order.
    let want_a: Vec<String> = (0..4).map(|k| format!("while down {k} from a")).collect();
    let want_e: Vec<String> = (0..4).map(|k| format!("while down {k} from e")).collect();
    c.wait_for(|e| is_message(e, "while down 3 from a"), TIMEOUT);
    c.wait_for(|e| is_message(e, "while down 3 from e"), TIMEOUT);
    c.send("c is here again");
    for n in nodes.iter_mut().filter(|n| n.label != "c") {
        n.wait_for(|e| is_message(e, "c is here again"), TIMEOUT);
    }
    let got = message_texts(&mut c);
    let from_a: Vec<String> = got.iter().filter(|t| t.ends_with("from a")).cloned().collect();
    let from_e: Vec<String> = got.iter().filter(|t| t.ends_with("from e")).cloned().collect();
    assert_eq!(from_a, want_a, "c shows what a said while it was down, once, and nothing from before");
    assert_eq!(from_e, want_e);
    // The others show it back, not as a newcomer.
    for (i, n) in nodes.iter_mut().enumerate() {
        if n.label == "c" {
            continue;
        }
        wait_after(
            n,
            marks[i],
            |e| kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.contains("c is back")),
            TIMEOUT,
        );
        let renamed = n.events().iter().any(|e| kind(e) == "renamed");
        assert!(!renamed, "{}: no name collision with c's own old record", n.label);
    }
    drop(c);
    drop(nodes);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_member_restarted_with_its_key_but_without_its_store_is_not_taken_for_a_duplicate() {
    let dir = data_dir("nostore", "alice");
    let mut b = Proc::node("b", &[], FAST);
    let mut alice = node("alice", &[b.port], &with_dir(&dir, &[]));
    b.wait_for(|e| common::is_joined(e, &alice.id), TIMEOUT);
    for k in 0..5 {
        alice.send(&format!("first life {k}"));
    }
    b.wait_for(|e| is_message(e, "first life 4"), TIMEOUT);
    let id = alice.id.clone();
    alice.kill();
    for f in ["history.db", "history.db-wal", "history.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let mut again = node("alice", &[b.port], &with_dir(&dir, &[]));
    assert_eq!(again.id, id, "the key is kept, the store is not");
    again.wait_for(|e| kind(e) == "joined" && e["name"] == "b", TIMEOUT);
    again.send("second life");
    let shown = b.wait_for(|e| is_message(e, "second life"), TIMEOUT);
    assert_eq!(shown["origin"], id.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_process_on_one_data_directory_is_a_temporary_member_and_the_first_store_is_untouched() {
    let dir = data_dir("twice", "alice");
    let mut first = node("alice", &[], &with_dir(&dir, &[]));
    first.send("said by the first");
    first.wait_for(|e| is_message(e, "said by the first"), TIMEOUT);
    let mut second = node("alice", &[first.port], &with_dir(&dir, &[]));
    assert_ne!(second.id, first.id, "a fresh key");
    let n = second.wait_for(|e| is_notice(e, "alice's identity"), TIMEOUT);
    assert!(n["text"].as_str().unwrap_or("").contains("temporary member"), "{n}");
    assert!(second.events_of("history").is_empty(), "the temporary member reads nothing of the first's store");
    second.send("said by the second");
    first.wait_for(|e| is_message(e, "said by the second"), TIMEOUT);
    quit(&mut second);
    quit(&mut first);
    // The first's store has what the first showed, and nothing was lost.
    let mut again = node("alice", &[], &with_dir(&dir, &[]));
    again.wait_for(|e| is_notice(e, HISTORY_END), TIMEOUT);
    again.wait_for(|e| is_history(e, "said by the first"), TIMEOUT);
    again.wait_for(|e| is_history(e, "said by the second"), TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lock_left_by_a_killed_process_is_taken_over() {
    let dir = data_dir("stale", "alice");
    let mut first = node("alice", &[], &with_dir(&dir, &[]));
    first.send("before the kill");
    first.wait_for(|e| is_message(e, "before the kill"), TIMEOUT);
    std::thread::sleep(Duration::from_millis(1200));
    let id = first.id.clone();
    first.kill();
    let mut again = node("alice", &[], &with_dir(&dir, &[]));
    assert_eq!(again.id, id, "not a temporary member");
    again.wait_for(|e| is_history(e, "before the kill"), TIMEOUT);
    assert!(!again.events().iter().any(|e| is_notice(e, "alice's identity")), "no 'in use' notice");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_store_is_moved_aside_with_a_clear_message_and_a_fresh_one_is_used() {
    let dir = data_dir("corrupt", "alice");
    let mut first = node("alice", &[], &with_dir(&dir, &[]));
    quit(&mut first);
    let garbage = b"this is not an SQLite database, it is garbage ".repeat(100);
    std::fs::write(dir.join("history.db"), &garbage).expect("overwrite the store");
    for f in ["history.db-wal", "history.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let mut again = node("alice", &[], &with_dir(&dir, &[]));
    let n =
        again.wait_for(|e| kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.contains("moved to")), TIMEOUT);
    let text = n["text"].as_str().unwrap_or("").to_owned();
    assert!(text.contains("history.db"), "{text}");
    // The damaged file is kept, as it was, beside the new store.
    let kept: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("data dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("history.db.corrupt-")))
        .collect();
    assert_eq!(kept.len(), 1, "one file moved aside: {kept:?}");
    assert_eq!(std::fs::read(&kept[0]).expect("read it"), garbage);
    // And the new store works.
    again.send("after the damage");
    again.wait_for(|e| is_message(e, "after the damage"), TIMEOUT);
    quit(&mut again);
    let mut third = node("alice", &[], &with_dir(&dir, &[]));
    third.wait_for(|e| is_history(e, "after the damage"), TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_that_cannot_be_opened_is_reported_and_chat_goes_on() {
    let dir = data_dir("unopenable", "alice");
    let mut first = node("alice", &[], &with_dir(&dir, &[]));
    first.send("kept on disk");
    first.wait_for(|e| is_message(e, "kept on disk"), TIMEOUT);
    quit(&mut first);
    // The store's place is taken by a directory (what a full or read-only disk,
    // or a mistaken `mkdir`, looks like to SQLite: the file cannot be opened).
    let saved = dir.join("saved.db");
    std::fs::rename(dir.join("history.db"), &saved).expect("move the store away");
    std::fs::create_dir(dir.join("history.db")).expect("a directory in its place");
    let mut b = Proc::node("b", &[], FAST);
    let mut again = node("alice", &[b.port], &with_dir(&dir, &[]));
    let n = again.wait_for(
        |e| kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.contains("nothing is saved")),
        TIMEOUT,
    );
    assert!(n["text"].as_str().unwrap_or("").contains("history.db"), "{n}");
    again.send("chat goes on");
    b.wait_for(|e| is_message(e, "chat goes on"), TIMEOUT);
    quit(&mut again);
    // What was on disk is untouched.
    std::fs::remove_dir(dir.join("history.db")).expect("remove the directory");
    std::fs::rename(&saved, dir.join("history.db")).expect("put the store back");
    let mut third = node("alice", &[], &with_dir(&dir, &[]));
    third.wait_for(|e| is_history(e, "kept on disk"), TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_and_search_answer_from_the_store_with_times() {
    let dir = data_dir("query", "alice");
    let mut alice = node("alice", &[], &with_dir(&dir, &[]));
    for t in ["apples are red", "Bananas are yellow", "cherries are red", "50% off"] {
        alice.send(t);
        alice.wait_for(|e| is_message(e, t), TIMEOUT);
    }
    let m = mark(&mut alice);
    alice.send(":search RED");
    wait_after(&mut alice, m, |e| is_notice(e, "2 saved lines contain \"RED\""), TIMEOUT);
    let m2 = mark(&mut alice);
    alice.send(":search 50%");
    let (at, _, _) = alice.wait_for_since(m2, |e| is_notice(e, "1 saved line contains \"50%\""), TIMEOUT);
    let hit = wait_after(&mut alice, at, |e| kind(e) == "history", TIMEOUT);
    assert_eq!(hit["text"], "50% off");
    let time = hit["time"].as_str().unwrap_or("");
    assert_eq!(time.len(), 19, "YYYY-MM-DD HH:MM:SS: {time}");
    let m3 = mark(&mut alice);
    alice.send(":history 2");
    wait_after(&mut alice, m3, |e| is_notice(e, "the last 2 saved lines"), TIMEOUT);
    wait_after(&mut alice, m3, |e| is_history(e, "50% off"), TIMEOUT);
    let lines: Vec<String> = common::events_since(&mut alice, m3)
        .iter()
        .filter(|e| kind(e) == "history")
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(lines, ["cherries are red", "50% off"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_ephemeral_member_saves_nothing_and_says_so_when_asked() {
    let mut p = Proc::node("eph", &[], &[FAST, &["--ephemeral"]].concat());
    p.send(":history");
    p.wait_for(|e| common::is_error(e, "no history is saved in this run"), TIMEOUT);
}

/// The data directory is on a read-only mount (a real one, in a mount namespace
/// of its own, so that root cannot write there either): the member still runs as
/// itself with its key, says that nothing is saved, chats, and what was on disk
/// is there afterwards.
#[test]
fn a_data_directory_that_cannot_be_written_is_reported_and_chat_goes_on() {
    if !require(can_unshare_mounts(), "root and a working `unshare -m`", "util-linux") {
        return;
    }
    let dir = data_dir("readonly", "alice");
    let mut first = node("alice", &[], &with_dir(&dir, &[]));
    let id = first.id.clone();
    first.send("written before");
    first.wait_for(|e| is_message(e, "written before"), TIMEOUT);
    quit(&mut first);
    let mut b = Proc::node("b", &[], FAST);
    let script = r#"mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" || exit 97; shift; exec "$@""#;
    let mut command = Command::new("unshare");
    command.args(["-m", "sh", "-c", script, "sh"]).arg(&dir).arg(binary());
    command.args(["--json", "--bind", "127.0.0.1", "--data-dir"]).arg(&dir).args(FAST);
    command.args(["alice", "127.0.0.1", &b.port.to_string()]);
    let mut ro = Proc::spawn_command("alice-ro", command, true);
    ro.wait_listening();
    assert_eq!(ro.id, id, "the key is read from the read-only directory");
    let n = ro.wait_for(
        |e| kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.contains("nothing is saved")),
        TIMEOUT,
    );
    assert!(n["text"].as_str().unwrap_or("").contains("history.db"), "{n}");
    ro.send("said on a read-only disk");
    b.wait_for(|e| is_message(e, "said on a read-only disk"), TIMEOUT);
    quit(&mut ro);
    let mut again = node("alice", &[], &with_dir(&dir, &[]));
    again.wait_for(|e| is_history(e, "written before"), TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
}
