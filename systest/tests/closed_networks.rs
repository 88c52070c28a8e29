//! Closed networks and network names between real processes on 127.0.0.1: nodes
//! with the same secret chat; a node without it, with another secret, or of
//! another `--network` is refused, and both sides say why. The secret travels in
//! a file (`--secret-file`) or in `P2PCHAT_SECRET`, never on the command line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{FAST, is_error, is_message, wait_all_joined};
use p2pchat_systest::{Proc, TIMEOUT, binary};

fn secret_file(tag: &str, passphrase: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("p2pchat-secret-{}-{tag}", std::process::id()));
    std::fs::write(&path, format!("{passphrase}\n")).expect("write the secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

/// A node of the closed network whose passphrase is in the environment.
fn node_with_env_secret(name: &str, connect: u16, passphrase: &str) -> Proc {
    let mut command = Command::new(binary());
    command.env("P2PCHAT_SECRET", passphrase).args(["--ephemeral", "--json", "--bind", "127.0.0.1"]);
    command.args(FAST).args(["--connect", &format!("127.0.0.1:{connect}"), name]);
    let mut p = Proc::spawn_command(name, command, true);
    p.wait_listening();
    p
}

#[test]
fn holders_of_one_secret_chat_and_others_are_refused_with_the_reason_on_both_sides() {
    let file = secret_file("good", "correct horse battery staple");
    let secret = file.to_string_lossy().into_owned();
    let a = Proc::node("a", &[], &[FAST, &["--secret-file", &secret]].concat());
    // The same passphrase from the environment is the same secret.
    let b = node_with_env_secret("b", a.port, "correct horse battery staple");
    let mut pair = [a, b];
    wait_all_joined(&mut pair);
    let [a, b] = &mut pair;
    a.send("closed hello");
    b.wait_for(|e| is_message(e, "closed hello"), TIMEOUT);

    // Another passphrase.
    let mut wrong = node_with_env_secret("wrong", a.port, "tr0ub4dor&3");
    wrong.wait_for(|e| is_error(e, "could not join through") && is_error(e, "wrong network secret"), TIMEOUT);
    a.wait_for(|e| is_error(e, "wrong network secret"), TIMEOUT);
    // No secret at all.
    let mut open = Proc::node("open", &[a.port], FAST);
    open.wait_for(|e| is_error(e, "this network needs a secret"), TIMEOUT);
    a.wait_for(|e| is_error(e, "open network"), TIMEOUT);
    // The same secret on another network name is another key, and the name is
    // refused first.
    let other = secret_file("other", "correct horse battery staple");
    let other = other.to_string_lossy().into_owned();
    let mut elsewhere =
        Proc::node("elsewhere", &[a.port], &[FAST, &["--network", "lab2", "--secret-file", &other]].concat());
    elsewhere.wait_for(|e| is_error(e, "on the network \"p2pchat\""), TIMEOUT);
    a.wait_for(|e| is_error(e, "on the network \"lab2\""), TIMEOUT);
    // Nobody refused joined.
    for p in [&mut wrong, &mut open, &mut elsewhere] {
        let label = p.label.clone();
        assert!(!p.events().iter().any(|e| e["event"] == "joined"), "{label}");
    }
    b.send("still closed");
    a.wait_for(|e| is_message(e, "still closed"), TIMEOUT);
    let _ = std::fs::remove_file(&file);
}
