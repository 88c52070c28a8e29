//! Joining through a host name, with real processes on 127.0.0.1: every address
//! the name resolves to is tried in order, so a `localhost` that resolves to `::1`
//! first still reaches a node listening on 127.0.0.1 only. The name is made to
//! resolve that way inside a private mount namespace (`unshare -m`) where
//! `/etc/hosts` is bind-mounted over: nothing outside the test's process sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{FAST, is_message};
use p2pchat_systest::{Proc, TIMEOUT, binary, can_unshare_mounts, require};

/// `--headless bob localhost PORT` (and `--connect localhost:PORT`, and
/// `:connect localhost PORT`) with `::1` listed first for localhost.
#[test]
fn localhost_resolving_to_v6_first_still_joins_a_v4_only_node() {
    if !require(can_unshare_mounts(), "root and a working `unshare -m`", "util-linux") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("p2pchat-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "::1 localhost\n127.0.0.1 localhost\n").unwrap();
    let mut host = Proc::node("host", &[], FAST);
    let port = host.port.to_string();
    let bin = binary();
    let script = r#"mount --bind "$1" /etc/hosts || exit 97; shift; exec "$@""#;
    let ways: [(&str, Vec<String>, Option<String>); 3] = [
        ("HOST PORT", vec!["bob1".into(), "localhost".into(), port.clone()], None),
        ("--connect", vec!["--connect".into(), format!("localhost:{port}"), "bob2".into()], None),
        (":connect", vec!["bob3".into()], Some(format!(":connect localhost {port}\n"))),
    ];
    for (how, args, first) in ways {
        let text = format!("hello through localhost, {how}");
        let mut command = Command::new("unshare");
        command.args(["-m", "sh", "-c", script, "sh"]).arg(&hosts).arg(&bin);
        command.args(["--headless", "--bind", "127.0.0.1"]).args(&args);
        let mut bob = Proc::spawn_command(how, command, false);
        if let Some(first) = first {
            bob.send(first.trim_end());
        }
        bob.send(&text);
        bob.quit(TIMEOUT);
        host.wait_for(|e| is_message(e, &text), TIMEOUT);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `--headless --bind 127.0.0.1 NAME [extra]` with stdin kept open, waits for
/// an `ERROR: could not join through ADDR: ...` line and returns it.
fn join_error(name: &str, extra: &[String]) -> String {
    let mut args = vec!["--headless".to_owned(), "--bind".into(), "127.0.0.1".into()];
    args.extend(extra.iter().cloned());
    args.push(name.to_owned());
    let mut p = Proc::spawn(name, &args, false);
    p.wait_line(|l| l.starts_with("ERROR: could not join through 127.0.0.1:"), Duration::from_secs(20))
}

/// Joins that fail after the TCP connect worked are each reported in words: the
/// node's own port, a peer that accepts but never answers, a full peer.
#[test]
fn join_failures_after_the_tcp_connect_are_reported() {
    // Its own port, learnt from the running node (a port chosen beforehand could
    // be taken by a test running beside this one).
    let mut selfish = Proc::spawn("selfish", &["--headless", "--bind", "127.0.0.1", "selfish"], false);
    let own = selfish.wait_listening();
    selfish.send(&format!(":connect 127.0.0.1 {own}"));
    let line = selfish.wait_line(|l| l.starts_with("ERROR: could not join through 127.0.0.1:"), TIMEOUT);
    assert!(line.ends_with("that is this node's own address"), "{line}");

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let line = join_error("patient", &["--connect".into(), format!("127.0.0.1:{port}")]);
    assert!(line.contains("did not answer"), "{line}");
    drop(silent);

    let full = Proc::node("full", &[], &["--max-peers", "1"]);
    let _holder = std::net::TcpStream::connect(("127.0.0.1", full.port)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let line = join_error("late", &["--connect".into(), format!("127.0.0.1:{}", full.port)]);
    assert!(line.contains("closed the connection before answering"), "{line}");
}
