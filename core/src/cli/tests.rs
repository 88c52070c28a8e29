//! The command line as users type it: every option, check and message.

use super::*;
use crate::config::{
    DEFAULT_HEARTBEAT, DEFAULT_HISTORY, DEFAULT_KEEP, DEFAULT_MAX_PEERS, DEFAULT_PEER_TIMEOUT, DEFAULT_QUEUE_CAP,
};
use crate::identity::TestDir;
use crate::secret::NetworkSecret;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Parses `args` with `P2PCHAT_SECRET` unset, whatever the test's environment says.
fn parse<S: Into<std::ffi::OsString>>(args: impl IntoIterator<Item = S>) -> Result<Config, CliError> {
    parse_args_with_env("p2pchat", "", args, None)
}

/// Parses `args` with `P2PCHAT_SECRET` set to `secret`.
fn parse_env(args: &[&str], secret: &str) -> Result<Config, CliError> {
    parse_args_with_env("p2pchat", "", args, Some(secret.into()))
}

fn ok(args: &[&str]) -> Config {
    match parse(args) {
        Ok(config) => config,
        Err(e) => panic!("{args:?} should parse, got {e:?}"),
    }
}

/// The usage message for `args`, checked to be one line.
fn usage_err(args: &[&str]) -> String {
    match parse(args) {
        Err(CliError::Usage(msg)) => {
            assert!(!msg.contains('\n'), "usage message is one line: {msg:?}");
            assert!(!msg.is_empty());
            msg
        }
        other => panic!("{args:?} should be a usage error, got {other:?}"),
    }
}

fn peer_addr(host: &str, port: u16) -> PeerAddr {
    PeerAddr { host: host.into(), port }
}

#[test]
fn a_name_alone_gives_every_default() {
    let c = ok(&["alice"]);
    assert_eq!(c.name, "alice");
    assert_eq!(c.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(c.port, 0);
    assert!(c.connect.is_empty());
    assert_eq!(c.mode, Mode::Ui);
    assert_eq!(c.log, None);
    assert_eq!(c.redundancy, 1);
    assert_eq!(c.heartbeat, DEFAULT_HEARTBEAT);
    assert_eq!(c.peer_timeout, DEFAULT_PEER_TIMEOUT);
    assert_eq!(c.history, DEFAULT_HISTORY);
    assert_eq!(c.keep, DEFAULT_KEEP);
    assert_eq!(c.queue_cap, DEFAULT_QUEUE_CAP);
    assert_eq!(c.max_peers, DEFAULT_MAX_PEERS);
    assert_eq!(c.seed, None);
    assert_eq!(c.identity, IdentitySource::Default);
    assert_eq!(c.data_dir, None);
    assert_eq!(c.network, "p2pchat");
    assert!(c.secret.is_none());
    assert_eq!(c.text_clients, None);
    assert_eq!(c.text_clients(), TextClients::Any);
    assert_eq!(c.text_rate, crate::config::TextRate { per_sec: 10, burst: 20 });
}

#[test]
fn host_and_port_add_a_peer_to_join_through() {
    assert_eq!(ok(&["bob", "127.0.0.1", "4000"]).connect, vec![peer_addr("127.0.0.1", 4000)]);
    assert_eq!(ok(&["bob", "example.org", "65535"]).connect, vec![peer_addr("example.org", 65535)]);
    assert_eq!(ok(&["bob", "localhost", "1"]).connect, vec![peer_addr("localhost", 1)]);
}

#[test]
fn an_ipv6_host_is_accepted_with_or_without_brackets() {
    assert_eq!(ok(&["bob", "::1", "4000"]).connect, vec![peer_addr("::1", 4000)]);
    assert_eq!(ok(&["bob", "[::1]", "4000"]).connect, vec![peer_addr("::1", 4000)]);
    assert_eq!(ok(&["bob", "[fe80::1]", "9"]).connect, vec![peer_addr("fe80::1", 9)]);
}

#[test]
fn options_may_come_after_positionals() {
    let c = ok(&["bob", "--headless", "10.0.0.1", "--port", "5000", "4000", "--history=7"]);
    assert_eq!(c.name, "bob");
    assert_eq!(c.mode, Mode::Headless);
    assert_eq!(c.port, 5000);
    assert_eq!(c.history, 7);
    assert_eq!(c.connect, vec![peer_addr("10.0.0.1", 4000)]);
}

#[test]
fn equals_form_and_separate_value_are_the_same() {
    let a = ok(&["x", "--port=4000", "--bind=127.0.0.1", "--connect=h:1", "--log=a.log", "--redundancy=3"]);
    let b =
        ok(&["x", "--port", "4000", "--bind", "127.0.0.1", "--connect", "h:1", "--log", "a.log", "--redundancy", "3"]);
    assert_eq!((a.port, a.bind, &a.connect, &a.log, a.redundancy), (b.port, b.bind, &b.connect, &b.log, b.redundancy));
    assert_eq!(a.port, 4000);
}

#[test]
fn a_value_after_equals_may_contain_equals_and_dashes() {
    assert_eq!(ok(&["x", "--log=a=b.log"]).log, Some(PathBuf::from("a=b.log")));
    assert_eq!(ok(&["x", "--log=-odd"]).log, Some(PathBuf::from("-odd")));
    assert_eq!(ok(&["x", "--log", "-"]).log, Some(PathBuf::from("-")));
}

#[test]
fn double_dash_ends_options() {
    let c = ok(&["--headless", "--", "-dash", "h", "1"]);
    assert_eq!(c.name, "-dash");
    assert_eq!(c.mode, Mode::Headless);
    assert_eq!(c.connect, vec![peer_addr("h", 1)]);
    let c = ok(&["--", "--help"]);
    assert_eq!(c.name, "--help");
    let msg = usage_err(&["alice", "--", "--port", "4000", "more"]);
    assert!(msg.contains("\"more\""), "{msg}");
}

#[test]
fn port_option_sets_the_listening_port_and_allows_zero() {
    assert_eq!(ok(&["x", "--port", "0"]).port, 0);
    assert_eq!(ok(&["x", "--port", "1"]).port, 1);
    assert_eq!(ok(&["x", "--port", "65535"]).port, 65535);
}

#[test]
fn bad_port_option_is_a_usage_error_naming_it() {
    assert_eq!(
        usage_err(&["x", "--port", "abc"]),
        "invalid value \"abc\" for --port: expected a number from 0 to 65535"
    );
    assert!(usage_err(&["x", "--port", "65536"]).contains("--port"));
    assert!(usage_err(&["x", "--port=-1"]).contains("--port"));
    assert!(usage_err(&["x", "--port="]).contains("--port"));
}

#[test]
fn bind_option_takes_an_ip_address_literal() {
    assert_eq!(ok(&["x", "--bind", "127.0.0.1"]).bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(ok(&["x", "--bind", "::"]).bind, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    assert_eq!(ok(&["x", "--bind", "[::1]"]).bind, IpAddr::V6(Ipv6Addr::LOCALHOST));
}

#[test]
fn bind_option_refuses_a_host_name() {
    assert!(usage_err(&["x", "--bind", "localhost"]).starts_with("invalid value \"localhost\" for --bind"));
    assert!(usage_err(&["x", "--bind", "1.2.3.4.5"]).contains("--bind"));
}

#[test]
fn connect_option_is_repeatable_and_comes_after_host_port() {
    let c = ok(&["x", "--connect", "a.example:1", "h", "2", "--connect=[::1]:3", "--connect", "10.1.2.3:4"]);
    assert_eq!(
        c.connect,
        vec![peer_addr("h", 2), peer_addr("a.example", 1), peer_addr("::1", 3), peer_addr("10.1.2.3", 4)]
    );
}

#[test]
fn bad_connect_option_is_a_usage_error() {
    for bad in [
        "host",
        "host:",
        ":4000",
        "host:0",
        "host:70000",
        "host:abc",
        "bad_host!:1",
        "[::1:4000",
        "[::1]4000",
        "::1:4000",
    ] {
        let msg = usage_err(&["x", "--connect", bad]);
        assert!(msg.starts_with(&format!("invalid value {bad:?} for --connect")), "{msg}");
    }
    assert!(usage_err(&["x", "--connect", "::1:4000"]).contains("brackets"));
    assert!(usage_err(&["x", "--connect", "h:0"]).contains("1 to 65535"));
}

#[test]
fn headless_and_json_choose_the_mode_and_json_wins() {
    assert_eq!(ok(&["x", "--headless"]).mode, Mode::Headless);
    assert_eq!(ok(&["x", "--json"]).mode, Mode::Json);
    assert_eq!(ok(&["x", "--json", "--headless"]).mode, Mode::Json);
    assert_eq!(ok(&["x", "--headless", "--json"]).mode, Mode::Json);
}

#[test]
fn a_flag_given_a_value_is_a_usage_error() {
    assert_eq!(usage_err(&["x", "--headless=yes"]), "--headless does not take a value");
    assert!(usage_err(&["x", "--json=1"]).contains("--json"));
    assert!(usage_err(&["x", "--help=1"]).contains("--help"));
}

#[test]
fn log_option_sets_the_log_file() {
    assert_eq!(ok(&["x", "--log", "/tmp/p2p.log"]).log, Some(PathBuf::from("/tmp/p2p.log")));
    assert!(usage_err(&["x", "--log="]).contains("--log"));
}

#[test]
fn redundancy_option_accepts_zero_to_sixty_four() {
    assert_eq!(ok(&["x", "--redundancy", "0"]).redundancy, 0);
    assert_eq!(ok(&["x", "--redundancy", "64"]).redundancy, 64);
    assert_eq!(
        usage_err(&["x", "--redundancy", "65"]),
        "invalid value \"65\" for --redundancy: expected a number from 0 to 64"
    );
}

#[test]
fn heartbeat_option_is_in_milliseconds_within_bounds() {
    assert_eq!(ok(&["x", "--heartbeat", "10"]).heartbeat, Duration::from_millis(10));
    assert_eq!(ok(&["x", "--heartbeat", "60000", "--peer-timeout", "60001"]).heartbeat, Duration::from_millis(60_000));
    assert!(usage_err(&["x", "--heartbeat", "9"]).contains("--heartbeat"));
    assert!(usage_err(&["x", "--heartbeat", "60001"]).contains("--heartbeat"));
    assert!(usage_err(&["x", "--heartbeat", "1s"]).contains("--heartbeat"));
}

#[test]
fn peer_timeout_option_is_in_milliseconds_within_bounds() {
    let c = ok(&["x", "--peer-timeout", "600000"]);
    assert_eq!(c.peer_timeout, Duration::from_millis(600_000));
    assert_eq!(ok(&["x", "--heartbeat", "10", "--peer-timeout", "20"]).peer_timeout, Duration::from_millis(20));
    assert!(usage_err(&["x", "--peer-timeout", "19"]).contains("--peer-timeout"));
    assert!(usage_err(&["x", "--peer-timeout", "600001"]).contains("--peer-timeout"));
}

#[test]
fn peer_timeout_must_exceed_heartbeat_whatever_the_order() {
    let msg = usage_err(&["x", "--peer-timeout", "1000", "--heartbeat", "1000"]);
    assert_eq!(msg, "--peer-timeout (1000 ms) must be greater than --heartbeat (1000 ms)");
    assert!(usage_err(&["x", "--heartbeat", "3000"]).contains("--peer-timeout (2500 ms)"));
    let c = ok(&["x", "--peer-timeout", "5000", "--heartbeat", "4999"]);
    assert_eq!((c.heartbeat.as_millis(), c.peer_timeout.as_millis()), (4999, 5000));
}

#[test]
fn history_option_accepts_zero_to_one_hundred_thousand() {
    assert_eq!(ok(&["x", "--history", "0"]).history, 0);
    assert_eq!(ok(&["x", "--history", "100000"]).history, 100_000);
    assert!(usage_err(&["x", "--history", "100001"]).contains("--history"));
    assert_eq!(ok(&["x", "--keep", "1"]).keep, 1);
    assert!(usage_err(&["x", "--keep", "0"]).contains("--keep"));
}

#[test]
fn queue_cap_option_takes_bytes_with_optional_suffixes() {
    assert_eq!(ok(&["x", "--queue-cap", "65536"]).queue_cap, 65_536);
    assert_eq!(ok(&["x", "--queue-cap", "64K"]).queue_cap, 65_536);
    assert_eq!(ok(&["x", "--queue-cap", "16m"]).queue_cap, 16 << 20);
    assert_eq!(ok(&["x", "--queue-cap", "1G"]).queue_cap, 1 << 30);
    assert_eq!(ok(&["x", "--queue-cap", "1048576"]).queue_cap, 1 << 20);
    for bad in ["65535", "63K", "2G", "1025M", "K", "", "1T", "x", "99999999999999999999G"] {
        let msg = usage_err(&["x", &format!("--queue-cap={bad}")]);
        assert!(msg.contains("for --queue-cap: expected a number of bytes from 64K to 1G"), "{msg}");
    }
}

#[test]
fn max_peers_option_accepts_one_to_65536() {
    assert_eq!(ok(&["x", "--max-peers", "1"]).max_peers, 1);
    assert_eq!(ok(&["x", "--max-peers", "65536"]).max_peers, 65_536);
    assert!(usage_err(&["x", "--max-peers", "0"]).contains("--max-peers"));
    assert!(usage_err(&["x", "--max-peers", "65537"]).contains("--max-peers"));
}

#[test]
fn text_rate_and_burst_options_set_the_line_budget_and_zero_lifts_it() {
    let c = ok(&["x", "--text-rate", "100", "--text-burst", "500"]);
    assert_eq!(c.text_rate, crate::config::TextRate { per_sec: 100, burst: 500 });
    assert!(c.text_rate.limited());
    assert!(!ok(&["x", "--text-rate", "0"]).text_rate.limited());
    assert!(!ok(&["x", "--text-burst", "0"]).text_rate.limited());
    assert!(usage_err(&["x", "--text-rate", "-1"]).contains("--text-rate"));
    assert!(usage_err(&["x", "--text-burst", "1000001"]).contains("--text-burst"));
}

#[test]
fn seed_option_takes_any_u64() {
    assert_eq!(ok(&["x", "--seed", "0"]).seed, Some(0));
    assert_eq!(ok(&["x", "--seed", "18446744073709551615"]).seed, Some(u64::MAX));
    assert!(usage_err(&["x", "--seed", "18446744073709551616"]).contains("--seed"));
    assert!(usage_err(&["x", "--seed", "-1"]).contains("--seed"));
}

#[test]
fn the_last_of_a_repeated_option_wins() {
    assert_eq!(ok(&["x", "--port", "1", "--port", "2"]).port, 2);
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    assert_eq!(usage_err(&["x", "--prot", "4000"]), "unknown option \"--prot\"");
    assert_eq!(usage_err(&["x", "--prot=4000"]), "unknown option \"--prot\"");
    assert_eq!(usage_err(&["-p", "x"]), "unknown option \"-p\"");
    assert!(usage_err(&["x", "-5"]).contains("-5"));
}

#[test]
fn a_missing_value_is_a_usage_error() {
    assert_eq!(usage_err(&["x", "--port"]), "missing value for --port");
    assert_eq!(usage_err(&["x", "--log", "--json"]), "missing value for --log");
    for opt in [
        "--bind",
        "--connect",
        "--redundancy",
        "--heartbeat",
        "--peer-timeout",
        "--history",
        "--queue-cap",
        "--max-peers",
        "--seed",
        "--idle-timeout",
        "--max-text-clients",
        "--text-rate",
        "--text-burst",
        "--identity",
        "--data-dir",
        "--network",
        "--secret-file",
        "--text-clients",
    ] {
        assert_eq!(usage_err(&["x", opt]), format!("missing value for {opt}"));
    }
}

#[test]
fn a_missing_name_is_a_usage_error() {
    assert_eq!(usage_err(&[]), "missing NAME");
    assert_eq!(usage_err(&["--headless"]), "missing NAME");
}

#[test]
fn bad_names_are_usage_errors() {
    for bad in ["a b", "", "a\u{1b}[31m", "tab\there", &"x".repeat(33)] {
        let msg = usage_err(&[bad]);
        assert!(msg.starts_with("invalid NAME"), "{msg}");
    }
    assert!(usage_err(&[""]).contains("empty"));
    assert!(usage_err(&[&"x".repeat(33)]).contains("33 bytes"));
    assert!(!usage_err(&["a\u{1b}[31m"]).contains('\u{1b}'), "control characters are escaped");
    assert_eq!(ok(&[&"x".repeat(32)]).name.len(), 32);
    assert_eq!(ok(&["élodie"]).name, "élodie");
}

#[test]
fn bad_port_is_a_usage_error() {
    for bad in ["0", "70000", "abc", "", "65536"] {
        let msg = usage_err(&["bob", "127.0.0.1", bad]);
        assert_eq!(msg, format!("invalid port {bad:?}: expected a number from 1 to 65535"));
    }
}

#[test]
fn bad_host_is_a_usage_error() {
    for bad in ["bad_host!", "", "trail-.example", "a..b", "[::1"] {
        let msg = usage_err(&["bob", bad, "4000"]);
        assert!(msg.starts_with("invalid host"), "{msg}");
    }
}

#[test]
fn host_without_port_is_a_usage_error() {
    let msg = usage_err(&["bob", "127.0.0.1"]);
    assert!(msg.contains("without PORT"), "{msg}");
}

#[test]
fn an_extra_positional_is_a_usage_error() {
    assert_eq!(usage_err(&["bob", "h", "1", "extra"]), "unexpected argument \"extra\"");
    assert_eq!(usage_err(&["bob", "h", "1", "a=b c"]), "unexpected argument \"a=b c\"");
}

#[test]
fn help_and_version_stop_parsing_with_exit_status_zero() {
    for args in [&["--help"][..], &["-h"], &["alice", "--port", "4000", "-h"], &["bad name", "--help"]] {
        match parse(args) {
            Err(CliError::Help(text)) => assert_eq!(text, help_text("p2pchat")),
            other => panic!("{args:?}: {other:?}"),
        }
    }
    let expected = format!("p2pchat {}", env!("CARGO_PKG_VERSION"));
    for args in [&["--version"][..], &["-V"], &["x", "-V"]] {
        assert_eq!(parse(args).map(|_| ()), Err(CliError::Version(expected.clone())));
    }
    assert_eq!(
        usage_err(&["--port", "x", "--help"]),
        "invalid value \"x\" for --port: expected a number from 0 to 65535"
    );
}

#[test]
fn exit_codes_are_zero_for_help_and_version_and_two_for_usage() {
    assert_eq!(CliError::Help(String::new()).exit_code(), 0);
    assert_eq!(CliError::Version(String::new()).exit_code(), 0);
    assert_eq!(CliError::Usage(String::new()).exit_code(), 2);
    assert_eq!(parse(["--nope"]).map(|_| ()).map_err(|e| e.exit_code()), Err(2));
    assert_eq!(parse(["--help"]).map(|_| ()).map_err(|e| e.exit_code()), Err(0));
}

#[test]
fn owned_strings_are_accepted_as_arguments() {
    let args: Vec<String> = vec!["alice".into(), "--json".into()];
    assert_eq!(parse(args).map(|c| c.mode), Ok(Mode::Json));
}

#[test]
fn help_text_lists_every_option_with_defaults_commands_and_an_example() {
    let text = help_text("p2pchat");
    assert!(text.starts_with("Usage: p2pchat [OPTIONS] NAME [HOST PORT]\n"));
    for opt in [
        "--port <PORT>",
        "--bind <ADDR>",
        "--connect <HOST:PORT>",
        "--headless",
        "--json",
        "--log <FILE>",
        "--redundancy <K>",
        "--heartbeat <MS>",
        "--peer-timeout <MS>",
        "--history <N>",
        "--keep <N>",
        "--queue-cap <BYTES>",
        "--max-peers <N>",
        "--idle-timeout <SECS>",
        "--max-text-clients <N>",
        "--text-rate <LINES>",
        "--text-burst <LINES>",
        "--seed <N>",
        "--identity <FILE>",
        "--ephemeral",
        "--data-dir <DIR>",
        "--network <NAME>",
        "--secret-file <FILE>",
        "--text-clients <WHICH>",
        "-h, --help",
        "-V, --version",
    ] {
        assert!(text.contains(opt), "help mentions {opt}");
    }
    for (opt, default) in [
        ("--port <PORT>", "[default: 0]".to_owned()),
        ("--bind <ADDR>", "[default: 0.0.0.0]".to_owned()),
        ("--log <FILE>", "[default: none]".to_owned()),
        ("--redundancy <K>", "(0-64) [default: 1]".to_owned()),
        ("--heartbeat <MS>", format!("(10-60000) [default: {}]", DEFAULT_HEARTBEAT.as_millis())),
        ("--peer-timeout <MS>", format!("more than --heartbeat) [default: {}]", DEFAULT_PEER_TIMEOUT.as_millis())),
        ("--history <N>", format!("(0-100000) [default: {DEFAULT_HISTORY}]")),
        ("--keep <N>", format!("(1-10000000) [default: {DEFAULT_KEEP}]")),
        ("--queue-cap <BYTES>", "(64K-1G) [default: 8M]".to_owned()),
        ("--max-peers <N>", format!("(1-65536) [default: {DEFAULT_MAX_PEERS}]")),
        ("--idle-timeout <SECS>", "(0-86400) [default: 600]".to_owned()),
        ("--max-text-clients <N>", "(0-4096) [default: 64]".to_owned()),
        ("--text-rate <LINES>", "(0-1000000) [default: 10]".to_owned()),
        ("--text-burst <LINES>", "(0-1000000) [default: 20]".to_owned()),
        ("--seed <N>", "[default: from the system]".to_owned()),
        ("--identity <FILE>", "[default: DATA_DIR/identity.key]".to_owned()),
        ("--data-dir <DIR>", "[default: $XDG_DATA_HOME/p2pchat/NAME or ~/.local/share/p2pchat/NAME]".to_owned()),
        ("--network <NAME>", "[default: p2pchat]".to_owned()),
        ("--secret-file <FILE>", "P2PCHAT_SECRET if set [default: none, an open network]".to_owned()),
        ("--text-clients <WHICH>", "any, loopback (this machine) or off".to_owned()),
        ("--text-clients <WHICH>", "[default: any; loopback on a closed network]".to_owned()),
    ] {
        let entry = help_entry(&text, opt);
        assert!(entry.contains(&default), "help shows {default} for {opt}: {entry:?}");
    }
    for line in command::HELP {
        assert!(text.contains(line), "help lists {line}");
    }
    assert!(text.contains("runs as a temporary member"), "the one-process rule");
    assert!(text.contains("Environment:\n  P2PCHAT_SECRET  "), "the environment variables");
    assert!(text.contains("\n  XDG_DATA_HOME   "));
    assert!(text.contains("p2pchat alice "));
    assert!(text.contains("p2pchat bob 127.0.0.1 "));
    assert!(help_text("chat").starts_with("Usage: chat [OPTIONS] NAME [HOST PORT]\n"));
    assert!(help_text("chat").contains("  chat bob 127.0.0.1 "));
    assert!(!text.ends_with('\n'), "println! adds the final newline");
    assert!(text.lines().all(|l| l.chars().count() <= 100), "help lines fit a wide terminal");
}

#[test]
fn a_negative_number_is_an_invalid_value_not_a_missing_one() {
    assert_eq!(usage_err(&["x", "--port", "-1"]), "invalid value \"-1\" for --port: expected a number from 0 to 65535");
    for (opt, value) in [("--history", "-1"), ("--seed", "-5"), ("--redundancy", "-3"), ("--max-peers", "-0")] {
        let msg = usage_err(&["x", opt, value]);
        assert!(msg.starts_with(&format!("invalid value {value:?} for {opt}")), "{msg}");
    }
    // An option after an option that takes a value is still a missing value.
    assert_eq!(usage_err(&["x", "--port", "--json"]), "missing value for --port");
}

/// The lines of the help that describe `opt`: its own and its continuations.
fn help_entry(text: &str, opt: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.trim_start().starts_with(opt));
    let mut entry = lines.next().unwrap_or_default().to_owned();
    for line in lines.take_while(|l| l.starts_with("                 ")) {
        entry.push(' ');
        entry.push_str(line.trim());
    }
    entry
}

#[test]
fn the_help_names_the_frontend_and_the_version_is_p2pchats() {
    match parse_args("p2pchat-tui", ["--help"]) {
        Err(CliError::Help(text)) => {
            assert_eq!(text, help_text("p2pchat-tui"));
            assert!(text.starts_with("Usage: p2pchat-tui [OPTIONS] NAME [HOST PORT]\n"));
        }
        other => panic!("{other:?}"),
    }
    let expected = format!("p2pchat {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(parse_args("p2pchat-tui", ["-V"]).map(|_| ()), Err(CliError::Version(expected)));
}

#[test]
fn a_frontend_adds_its_own_section_to_the_help_and_the_others_keep_theirs() {
    let extra = "Keys of this window:\n  Tab  completes a name\n";
    let text = help_text_with("chat", extra);
    let (Some(commands), Some(section), Some(example)) = (
        text.find("Commands in the chat:"),
        text.find("Keys of this window:\n  Tab  completes a name\n"),
        text.find("Example:"),
    ) else {
        panic!("{text}");
    };
    assert!(commands < section && section < example, "after the chat commands, before the example: {text}");
    assert!(text.contains("completes a name\n\nExample:"), "one blank line around it: {text}");
    match parse_args_with("chat", extra, ["x", "--help"]) {
        Err(CliError::Help(help)) => assert_eq!(help, text),
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_args_with("chat", extra, ["bob"]).map(|c| c.name), Ok("bob".to_owned()));
    // Without one, the help is the same as ever.
    assert_eq!(help_text_with("p2pchat", ""), help_text("p2pchat"));
    assert!(!help_text("p2pchat").contains("Keys of this window"));
}

#[test]
fn values_in_messages_are_quoted_so_control_characters_stay_escaped() {
    for args in [&["x", "--port", "\u{1b}[31m"][..], &["x", "--connect=\u{1b}]0;x\u{7}"], &["x", "--\u{1b}"]] {
        let msg = usage_err(args);
        assert!(!msg.contains('\u{1b}') && msg.contains("\\u{1b}"), "{msg}");
    }
}

#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(b"caf\xe9".to_vec());
    for (args, n) in [
        (vec![bad.clone()], 1),
        (vec!["x".into(), "--log".into(), bad.clone()], 3),
        (vec!["x".into(), bad.clone(), "--help".into()], 2),
    ] {
        match parse(args.clone()) {
            Err(CliError::Usage(msg)) => assert_eq!(msg, format!("argument {n} is not valid UTF-8: \"caf\\xE9\"")),
            other => panic!("{args:?}: {other:?}"),
        }
    }
}

#[test]
fn identity_option_names_the_key_file_and_ephemeral_asks_for_none() {
    assert_eq!(ok(&["x", "--identity", "/k/alice.key"]).identity, IdentitySource::File("/k/alice.key".into()));
    assert_eq!(ok(&["x", "--identity=rel.key"]).identity, IdentitySource::File("rel.key".into()));
    assert_eq!(ok(&["x", "--identity", "a", "--identity", "b"]).identity, IdentitySource::File("b".into()));
    assert_eq!(ok(&["x", "--ephemeral"]).identity, IdentitySource::Ephemeral);
    assert_eq!(ok(&["x", "--ephemeral", "--ephemeral"]).identity, IdentitySource::Ephemeral);
    assert!(usage_err(&["x", "--identity="]).contains("--identity: expected a file name"));
    assert_eq!(usage_err(&["x", "--ephemeral=1"]), "--ephemeral does not take a value");
}

#[test]
fn identity_and_ephemeral_together_are_refused_in_either_order() {
    assert_eq!(usage_err(&["x", "--identity", "k", "--ephemeral"]), "--identity cannot be used with --ephemeral");
    assert_eq!(usage_err(&["x", "--ephemeral", "--identity=k"]), "--ephemeral cannot be used with --identity");
}

#[test]
fn data_dir_option_sets_the_directory() {
    assert_eq!(ok(&["x", "--data-dir", "/d/x"]).data_dir, Some(PathBuf::from("/d/x")));
    assert_eq!(ok(&["x", "--data-dir=rel", "--ephemeral"]).data_dir, Some(PathBuf::from("rel")));
    assert_eq!(usage_err(&["x", "--data-dir="]), "invalid value \"\" for --data-dir: expected a directory name");
}

#[test]
fn network_option_takes_a_plain_name_of_1_to_64_bytes() {
    assert_eq!(ok(&["x", "--network", "lab-2.room_b"]).network, "lab-2.room_b");
    assert_eq!(ok(&["x", "--network", "A.9"]).network, "A.9");
    assert_eq!(ok(&["x", &format!("--network={}", "n".repeat(64))]).network.len(), 64);
    let msg = usage_err(&["x", &format!("--network={}", "n".repeat(65))]);
    assert_eq!(
        msg,
        format!("invalid value {:?} for --network: a network name is at most 64 bytes; this one is 65", "n".repeat(65))
    );
    assert_eq!(usage_err(&["x", "--network="]), "invalid value \"\" for --network: a network name may not be empty");
    for bad in ["two words", "a/b", "caf\u{e9}", "x:y", "tab\t", "esc\u{1b}", "+", "a@b"] {
        let msg = usage_err(&["x", "--network", bad]);
        assert!(msg.starts_with(&format!("invalid value {bad:?} for --network: ")), "{msg}");
        assert!(msg.contains("is not allowed in a network name"), "{msg}");
        assert!(!msg.contains('\u{1b}'), "{msg}");
    }
}

#[test]
fn text_clients_option_takes_any_loopback_or_off() {
    assert_eq!(ok(&["x", "--text-clients", "any"]).text_clients, Some(TextClients::Any));
    assert_eq!(ok(&["x", "--text-clients=loopback"]).text_clients, Some(TextClients::Loopback));
    assert_eq!(ok(&["x", "--text-clients", "off"]).text_clients(), TextClients::Off);
    for bad in ["Any", "none", "", "local"] {
        let msg = usage_err(&["x", &format!("--text-clients={bad}")]);
        assert_eq!(msg, format!("invalid value {bad:?} for --text-clients: expected any, loopback or off"));
    }
}

/// A secret file holding `content`, mode 0600, in `dir`.
fn secret_file(dir: &TestDir, content: &str) -> String {
    dir.write("secret", content.as_bytes(), 0o600).display().to_string()
}

fn psk_of(c: &Config) -> [u8; 32] {
    *c.secret.as_ref().expect("a secret").psk()
}

fn key(passphrase: &str, network: &str) -> [u8; 32] {
    *NetworkSecret::derive(passphrase.as_bytes(), network).expect("derives").psk()
}

#[test]
fn a_secret_comes_from_the_file_else_the_environment_and_the_file_wins() {
    let tmp = TestDir::new("cli-secret");
    let file = secret_file(&tmp, "from the file\n");
    assert_eq!(psk_of(&ok(&["x", "--secret-file", &file])), key("from the file", "p2pchat"));
    assert_eq!(psk_of(&parse_env(&["x"], "from the env").expect("parses")), key("from the env", "p2pchat"));
    let both = parse_env(&["x", "--secret-file", &file], "from the env").expect("parses");
    assert_eq!(psk_of(&both), key("from the file", "p2pchat"), "the file wins");
    assert!(ok(&["x"]).secret.is_none(), "neither: an open network");
}

#[test]
fn the_secret_is_derived_for_the_network_named_wherever_it_comes() {
    let tmp = TestDir::new("cli-network");
    let file = secret_file(&tmp, "pw");
    let before = ok(&["x", "--network", "lab", "--secret-file", &file]);
    let after = ok(&["x", "--secret-file", &file, "--network=lab"]);
    assert_eq!(psk_of(&before), key("pw", "lab"));
    assert_eq!(psk_of(&after), key("pw", "lab"));
    assert_eq!(after.secret.as_ref().map(NetworkSecret::network), Some("lab"));
    assert_ne!(psk_of(&ok(&["x", "--secret-file", &file])), key("pw", "lab"));
}

#[test]
fn an_empty_or_unreadable_secret_is_a_usage_error() {
    let tmp = TestDir::new("cli-empty");
    let empty = secret_file(&tmp, "\n");
    assert_eq!(usage_err(&["x", "--secret-file", &empty]), format!("secret file {empty} is empty"));
    match parse_env(&["x"], "") {
        Err(CliError::Usage(msg)) => assert_eq!(msg, "P2PCHAT_SECRET is set but empty; unset it for an open network"),
        other => panic!("{other:?}"),
    }
    let missing = tmp.path().join("missing").display().to_string();
    assert!(usage_err(&["x", "--secret-file", &missing]).starts_with(&format!("cannot read secret file {missing}: ")));
    assert!(usage_err(&["x", "--secret-file="]).contains("--secret-file: expected a file name"));
    #[cfg(unix)]
    {
        let loose = tmp.write("loose", b"pw", 0o604);
        assert!(usage_err(&["x", "--secret-file", &loose.display().to_string()]).contains("run chmod 600"));
    }
    // Checked after everything else: a bad option is reported first, without the wait.
    assert!(usage_err(&["x", "--secret-file", &empty, "--port", "x"]).contains("--port"));
}

#[test]
fn a_secret_in_argv_is_refused_with_where_to_put_it() {
    for args in [&["x", "--secret", "hunter2"][..], &["x", "--secret=hunter2"]] {
        let msg = usage_err(args);
        assert!(msg.starts_with("unknown option \"--secret\""), "{msg}");
        assert!(msg.contains("--secret-file FILE") && msg.contains("P2PCHAT_SECRET"), "{msg}");
        assert!(!msg.contains("hunter2"), "the secret is not repeated: {msg}");
    }
}

#[test]
fn text_clients_default_to_any_when_open_and_loopback_when_closed() {
    let tmp = TestDir::new("cli-policy");
    let file = secret_file(&tmp, "pw");
    assert_eq!(ok(&["x"]).text_clients(), TextClients::Any);
    assert_eq!(ok(&["x", "--secret-file", &file]).text_clients(), TextClients::Loopback);
    assert_eq!(ok(&["x", "--secret-file", &file, "--text-clients", "any"]).text_clients(), TextClients::Any);
    assert_eq!(ok(&["x", "--secret-file", &file, "--text-clients", "off"]).text_clients(), TextClients::Off);
    assert_eq!(ok(&["x", "--text-clients", "loopback"]).text_clients(), TextClients::Loopback);
    assert_eq!(parse_env(&["x"], "pw").expect("parses").text_clients(), TextClients::Loopback);
}
