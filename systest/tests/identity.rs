//! Identities between real processes on 127.0.0.1: a member restarted with its
//! key file is the same member, and its new messages are shown even though it
//! kept no counters; a second process on one key runs as a temporary member and
//! says so; a key file others may read is refused with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{FAST, is_message, is_notice, wait_all_joined};
use p2pchat_systest::{Proc, TIMEOUT, binary};

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2pchat-identity-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn a_member_restarted_with_its_key_is_the_same_member_and_its_new_messages_are_shown() {
    let dir = scratch_dir("restart");
    let key = dir.join("alice.key").to_string_lossy().into_owned();
    let b = Proc::node("b", &[], FAST);
    let alice = Proc::node("alice", &[b.port], &[FAST, &["--identity", &key]].concat());
    let first_id = alice.id.clone();
    let mut pair = [b, alice];
    wait_all_joined(&mut pair);
    let [b, alice] = &mut pair;
    for k in 0..3 {
        alice.send(&format!("before {k}"));
    }
    b.wait_for(|e| is_message(e, "before 2"), TIMEOUT);
    alice.kill();
    // Back with the same key and no saved counters: its numbering starts in a
    // new incarnation, above everything it said before.
    let mut again = Proc::node("alice", &[b.port], &[FAST, &["--identity", &key]].concat());
    assert_eq!(again.id, first_id, "the same key is the same member");
    again.wait_for(|e| e["event"] == "joined" && e["name"] == "b", TIMEOUT);
    for k in 0..3 {
        again.send(&format!("after {k}"));
    }
    for k in 0..3 {
        b.wait_for(|e| is_message(e, &format!("after {k}")) && e["origin"] == first_id.as_str(), TIMEOUT);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_process_on_one_key_runs_as_a_temporary_member_and_says_so() {
    let dir = scratch_dir("twice");
    let key = dir.join("alice.key").to_string_lossy().into_owned();
    let first = Proc::node("alice", &[], &[FAST, &["--identity", &key]].concat());
    let mut second = Proc::node("alice", &[first.port], &[FAST, &["--identity", &key]].concat());
    assert_ne!(second.id, first.id, "a fresh key");
    let n = second.wait_for(|e| is_notice(e, "the identity "), TIMEOUT);
    let text = n["text"].as_str().unwrap_or("");
    assert!(text.contains("is in use by process") && text.contains("running as a temporary member"), "{text}");
    // And then the name collides as it always did.
    second.wait_for(|e| is_notice(e, "the name alice is already taken"), TIMEOUT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn a_key_file_that_others_may_read_is_refused_with_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("loose");
    let key = dir.join("alice.key");
    // `--headless` with no input: it starts, and quits at once.
    let run = |key: &std::path::Path| {
        Command::new(binary())
            .args(["--headless", "--identity"])
            .arg(key)
            .arg("alice")
            .stdin(Stdio::null())
            .output()
            .expect("run the binary")
    };
    let _ = run(&key);
    assert!(key.exists(), "the key file was created");
    assert_eq!(std::fs::metadata(&key).expect("stat").permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(&key);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("is readable by others (mode 0644)") && stderr.contains("chmod 600"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
