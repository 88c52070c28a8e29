//! The command line and the `--headless` / `--json` modes of a real binary:
//! exit statuses, error messages, start-up output, commands typed on stdin, end of
//! input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use p2pchat_systest::{Proc, TIMEOUT, binary, closed_port, kind, run_to_end};

/// Runs the binary with `args`, expecting a usage error: exit status 2, nothing on
/// stdout, and on stderr the one-line `p2pchat: ...` message then the hint.
fn usage_error(args: &[&str]) -> String {
    let (status, stdout, stderr) = run_to_end(args, TIMEOUT);
    assert_eq!(status.code(), Some(2), "{args:?}: {status}; stderr: {stderr}");
    assert_eq!(stdout, "", "{args:?}: nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{args:?}: the error and the hint on stderr, got {stderr:?}");
    assert!(lines[0].starts_with("p2pchat: "), "{args:?}: {stderr:?}");
    assert!(lines[1].contains("--help"), "{args:?}: the hint names --help: {stderr:?}");
    lines[0].to_owned()
}

/// Two connected nodes in `--json` mode, each having seen the other join.
fn pair(a: &str, b: &str) -> (Proc, Proc) {
    let mut alice = Proc::node(a, &[], &[]);
    let mut bob = Proc::node(b, &[alice.port], &[]);
    let (alice_id, bob_id) = (alice.id.clone(), bob.id.clone());
    alice.wait_for(|e| kind(e) == "joined" && e["id"] == bob_id.as_str(), TIMEOUT);
    bob.wait_for(|e| kind(e) == "joined" && e["id"] == alice_id.as_str(), TIMEOUT);
    (alice, bob)
}

/// The program's file name (`p2pchat`, `p2pchat-tui`): the help's usage line and
/// examples name it.
fn program() -> String {
    binary().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[test]
fn help_exits_0_and_prints_usage_on_stdout() {
    let (status, stdout, stderr) = run_to_end(&["--help"], TIMEOUT);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    let program = program();
    assert!(stdout.starts_with(&format!("Usage: {program} [OPTIONS] NAME [HOST PORT]\n")), "{stdout}");
    assert!(stdout.contains(&format!("\n  {program} bob 127.0.0.1 ")), "the example names {program}: {stdout}");
    for opt in ["--headless", "--json", "--connect <HOST:PORT>", "--bind <ADDR>", "--port <PORT>", "-V, --version"] {
        assert!(stdout.contains(opt), "--help mentions {opt}");
    }
    assert!(stdout.contains("[default: 2500]"), "--help shows the defaults: {stdout}");
    assert_eq!(stderr, "");
    let (status, short, _) = run_to_end(&["-h"], TIMEOUT);
    assert_eq!((status.code(), short), (Some(0), stdout));
}

#[test]
fn the_tuis_help_names_its_window_commands_and_the_others_do_not() {
    let (status, stdout, _) = run_to_end(&["--help"], TIMEOUT);
    assert_eq!(status.code(), Some(0));
    let window = [":query NAME", ":sessions", ":switch N", ":close [N]", "Tab completes"];
    if program() == "p2pchat-tui" {
        for item in window {
            assert!(stdout.contains(item), "p2pchat-tui --help names {item}: {stdout}");
        }
        // Its own section comes before the example, which ends the help.
        assert!(stdout.find(":query NAME") < stdout.find("\nExample:"), "{stdout}");
    } else {
        for item in window {
            assert!(!stdout.contains(item), "{} --help has the TUI's {item}: {stdout}", program());
        }
    }
}

#[test]
fn version_exits_0() {
    let (status, stdout, stderr) = run_to_end(&["--version"], TIMEOUT);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stdout.starts_with("p2pchat "), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert_eq!(stderr, "");
    let (status, short, _) = run_to_end(&["-V"], TIMEOUT);
    assert_eq!((status.code(), short), (Some(0), stdout));
}

#[test]
fn help_wins_over_a_bad_name_but_not_over_an_earlier_bad_value() {
    let (status, stdout, _) = run_to_end(&["bad name", "--help"], TIMEOUT);
    assert_eq!(status.code(), Some(0));
    assert!(stdout.starts_with("Usage: "), "{stdout}");
    assert_eq!(
        usage_error(&["--port", "x", "--help"]),
        "p2pchat: invalid value \"x\" for --port: expected a number from 0 to 65535"
    );
}

#[test]
fn option_values_are_checked_and_named_in_the_message() {
    assert_eq!(
        usage_error(&["alice", "--port", "-1"]),
        "p2pchat: invalid value \"-1\" for --port: expected a number from 0 to 65535"
    );
    assert_eq!(usage_error(&["alice", "--log", "--json"]), "p2pchat: missing value for --log");
    assert_eq!(usage_error(&["alice", "--headless=yes"]), "p2pchat: --headless does not take a value");
    assert!(usage_error(&["alice", "--queue-cap", "2G"]).contains("for --queue-cap: expected a number of bytes"));
    assert_eq!(
        usage_error(&["alice", "--heartbeat", "3000"]),
        "p2pchat: --peer-timeout (2500 ms) must be greater than --heartbeat (3000 ms)"
    );
}

#[test]
fn host_without_port_and_extra_arguments_are_usage_errors() {
    assert!(usage_error(&["alice", "127.0.0.1"]).contains("given without PORT"));
    assert_eq!(usage_error(&["alice", "h", "1", "extra"]), "p2pchat: unexpected argument \"extra\"");
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_naming_it() {
    use std::os::unix::ffi::OsStrExt as _;
    let out = Command::new(binary())
        .args(["--json", "--log"])
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9.log"))
        .arg("alice")
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.starts_with("p2pchat: argument 3 is not valid UTF-8: \"caf\\xE9.log\"\n"), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 2, "{stderr:?}");
}

#[test]
fn a_bad_name_is_a_usage_error() {
    assert!(usage_error(&["a b"]).contains("NAME"));
    assert!(usage_error(&["--json", &"x".repeat(33)]).contains("NAME"));
    assert!(usage_error(&[]).contains("missing NAME"));
}

#[test]
fn a_bad_port_is_a_usage_error() {
    assert!(usage_error(&["alice", "127.0.0.1", "70000"]).contains("invalid port"));
    assert!(usage_error(&["alice", "127.0.0.1", "0"]).contains("invalid port"));
    assert!(usage_error(&["alice", "--port", "abc"]).contains("--port"));
}

#[test]
fn a_bad_host_is_a_usage_error() {
    assert!(usage_error(&["alice", "bad_host!", "4000"]).contains("invalid host"));
    assert!(usage_error(&["alice", "--connect", "nohost"]).contains("--connect"));
    assert!(usage_error(&["alice", "--bind", "localhost"]).contains("--bind"));
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    assert!(usage_error(&["alice", "--frobnicate"]).contains("--frobnicate"));
}

#[test]
fn a_port_in_use_is_reported_with_exit_status_1() {
    let alice = Proc::node("alice", &[], &[]);
    let port = alice.port.to_string();
    let (status, stdout, stderr) = run_to_end(&["--json", "--bind", "127.0.0.1", "--port", &port, "bob"], TIMEOUT);
    assert_eq!(status.code(), Some(1), "stdout: {stdout}; stderr: {stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.starts_with(&format!("p2pchat: cannot listen on 127.0.0.1:{port}: ")), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
}

#[test]
fn an_unreachable_peer_at_start_is_reported_and_the_node_keeps_running() {
    let closed = closed_port().to_string();
    let mut alice = Proc::spawn("alice", &["--json", "--bind", "127.0.0.1", "alice", "127.0.0.1", &closed], true);
    alice.wait_listening();
    let error = alice.wait_for(|e| kind(e) == "error", TIMEOUT);
    assert!(error["text"].as_str().is_some_and(|t| !t.is_empty()), "{error}");
    assert!(!alice.has_exited(), "alice keeps running");

    // Another node can join it, and they chat.
    let mut bob = Proc::node("bob", &[alice.port], &[]);
    let alice_id = alice.id.clone();
    bob.wait_for(|e| kind(e) == "joined" && e["id"] == alice_id.as_str(), TIMEOUT);
    bob.send("hi alice");
    let m = alice.wait_message("hi alice", TIMEOUT);
    assert_eq!(m["from"], "bob");
    alice.send("hi bob");
    let m = bob.wait_message("hi bob", TIMEOUT);
    assert_eq!(m["from"], "alice");
    alice.quit(TIMEOUT);
    bob.quit(TIMEOUT);
}

#[test]
fn headless_prints_listening_first_then_name_colon_text_lines() {
    let mut alice = Proc::spawn("alice", &["--headless", "--bind", "127.0.0.1", "alice"], false);
    let port = alice.wait_listening().to_string();
    let mut bob = Proc::spawn("bob", &["--headless", "--bind", "127.0.0.1", "bob", "127.0.0.1", &port], false);
    bob.wait_listening();
    assert!(bob.lines()[0].starts_with("INFO: listening on port "));
    bob.wait_line(|l| l == "INFO: alice joined", TIMEOUT);
    alice.wait_line(|l| l == "INFO: bob joined", TIMEOUT);

    alice.send("hello");
    bob.wait_line(|l| l == "alice: hello", TIMEOUT);
    alice.wait_line(|l| l == "alice: hello", TIMEOUT); // the echo
    bob.send("hi there");
    alice.wait_line(|l| l == "bob: hi there", TIMEOUT);
    alice.send(":frobnicate");
    alice.wait_line(|l| l.starts_with("ERROR: ") && l.contains(":frobnicate"), TIMEOUT);

    alice.quit(TIMEOUT);
    bob.wait_line(|l| l == "INFO: alice left", TIMEOUT);
    bob.quit(TIMEOUT);
    for p in [&mut alice, &mut bob] {
        let label = p.label.clone();
        assert!(p.lines().iter().all(|l| l.contains(": ")), "{label}: every line is NAME: TEXT: {:?}", p.lines());
        assert!(!p.lines().iter().any(|l| l.starts_with('{')), "{label}: no JSON in --headless");
    }
}

#[test]
fn an_unknown_command_is_an_error_and_not_sent_as_chat() {
    let (mut alice, mut bob) = pair("alice", "bob");
    alice.send(":frobnicate now");
    let error = alice.wait_for(|e| kind(e) == "error", TIMEOUT);
    assert!(error["text"].as_str().unwrap_or("").contains("frobnicate"), "{error}");
    alice.send("/frobnicate");
    // Messages from one sender arrive in order: once this one is in, anything
    // sent before it would have been too.
    alice.send("marker");
    bob.wait_message("marker", TIMEOUT);
    alice.wait_message("marker", TIMEOUT);
    assert_eq!(alice.events_of("error").len(), 2, "{:?}", alice.events());
    for p in [&mut alice, &mut bob] {
        let texts: Vec<_> = p.messages().iter().map(|m| m["text"].clone()).collect();
        assert_eq!(texts, ["marker"], "{}: only the marker is chat", p.label);
    }
    assert!(bob.events_of("error").is_empty(), "{:?}", bob.events());
}

#[test]
fn a_doubled_prefix_sends_the_line_literally() {
    let (mut alice, mut bob) = pair("alice", "bob");
    alice.send("::text");
    alice.send("//slash");
    alice.send("plain");
    bob.wait_message("plain", TIMEOUT);
    let texts: Vec<_> = bob.messages().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [":text", "/slash", "plain"]);
    assert!(alice.events_of("error").is_empty(), "{:?}", alice.events());
}

#[test]
fn quit_typed_on_stdin_exits_0_while_stdin_is_still_open() {
    let (mut alice, mut bob) = pair("alice", "bob");
    alice.send("bye all");
    alice.send(":quit");
    let status = alice.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", alice.stderr());
    // Its stdin is still open here: it is closed when `alice` is dropped.
    bob.wait_message("bye all", TIMEOUT);
    let alice_id = alice.id.clone();
    let left = bob.wait_for(|e| kind(e) == "left" && e["id"] == alice_id.as_str(), TIMEOUT);
    assert_eq!(left["reason"], "quit", "{left}");
    bob.quit(TIMEOUT);
}

#[test]
fn end_of_input_exits_0_after_queued_messages_are_sent() {
    let (mut alice, mut bob) = pair("alice", "bob");
    let texts: Vec<String> = (0..20).map(|i| format!("last words {i}")).collect();
    let mut input = String::new();
    for t in &texts {
        input.push_str(t);
        input.push('\n');
    }
    alice.send_bytes(input.as_bytes());
    alice.close_stdin();
    let status = alice.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", alice.stderr());
    bob.wait_message("last words 19", TIMEOUT);
    let got: Vec<_> = bob.messages().iter().map(|m| m["text"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(got, texts);
    let alice_id = alice.id.clone();
    let left = bob.wait_for(|e| kind(e) == "left" && e["id"] == alice_id.as_str(), TIMEOUT);
    assert_eq!(left["reason"], "quit", "{left}");
    bob.quit(TIMEOUT);
}

#[test]
fn the_last_line_needs_no_newline_and_invalid_utf8_is_replaced() {
    let (mut alice, mut bob) = pair("alice", "bob");
    alice.send_bytes(b"caf\xe9 au lait\r\nno newline");
    alice.close_stdin();
    assert_eq!(alice.wait_exit(TIMEOUT).code(), Some(0), "{}", alice.stderr());
    bob.wait_message("no newline", TIMEOUT);
    let texts: Vec<_> = bob.messages().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, ["caf\u{fffd} au lait", "no newline"]);
    bob.quit(TIMEOUT);
}

/// Kills a raw child process, by its pid, when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_closed_stdout_stops_the_node_without_a_panic() {
    let child = Command::new(binary())
        .args(["--json", "--bind", "127.0.0.1", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut alice = KillOnDrop(child);
    let mut stdout = BufReader::new(alice.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the listening line");
    let listening: serde_json::Value = serde_json::from_str(&line).expect("json");
    let port = listening["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port");

    // Bob joins; once both have seen the other, close the reading end of alice's
    // stdout. Its stdin stays open: only the broken stdout may stop it.
    let mut bob = Proc::node("bob", &[port], &[]);
    let alice_id = listening["id"].as_str().expect("id").to_owned();
    bob.wait_for(|e| kind(e) == "joined" && e["id"] == alice_id.as_str(), TIMEOUT);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.contains(r#""event":"joined""#) {
                break;
            }
            line.clear();
        }
        drop(stdout);
        let _ = tx.send(());
    });
    rx.recv_timeout(TIMEOUT).expect("alice shows bob joined");

    // Give it something to print, again and again: while other tests spawn
    // processes, a child forked at the wrong moment can hold the pipe's read end
    // open for an instant, and a write then still succeeds.
    let deadline = Instant::now() + TIMEOUT;
    let mut pings = 0u32;
    let status = loop {
        if let Some(status) = alice.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "alice did not exit within {TIMEOUT:?} after its stdout closed");
        if pings < 50 {
            pings += 1;
            bob.send(&format!("ping {pings}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    alice.0.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("p2pchat: cannot write to stdout: "), "{err}");
    // It said goodbye.
    let left = bob.wait_for(|e| kind(e) == "left", TIMEOUT);
    assert_eq!(left["reason"], "quit", "{left}");
    bob.quit(TIMEOUT);
}

/// A lone node bound to every address (the default) has no one address of its
/// own yet: `:users` shows its port, never "(text client)", under "1 member:"
/// (counts of one are singular).
#[test]
fn a_lone_node_lists_itself_with_its_port() {
    let mut solo = Proc::spawn("solo", &["--json", "solo"], true);
    let port = solo.wait_listening();
    solo.send(":users");
    solo.wait_for(|e| kind(e) == "notice" && e["text"] == "1 member:", TIMEOUT);
    let me = solo.wait_for(|e| kind(e) == "notice" && e["text"].as_str().is_some_and(|t| t.contains("(you)")), TIMEOUT);
    let text = me["text"].as_str().unwrap_or("");
    let key = solo.id.get(..8).unwrap_or_default().to_owned();
    assert_eq!(text, format!("  solo (you) (listening on port {port}) key {key}"), "{me}");
    solo.quit(TIMEOUT);
}
