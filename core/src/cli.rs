//! The command line, parsed the same way by every frontend.
//!
//! ```text
//! p2pchat [OPTIONS] NAME [HOST PORT]
//! ```
//!
//! Options may come before or after the positionals; `--opt VALUE` and
//! `--opt=VALUE` are the same; `--` ends the options. When an option is given
//! twice the last one wins, except `--connect`, which adds a peer each time.
//! A separate value may not start with `-` (so `--log --json` is a missing value,
//! not a file named `--json`); write `--log=-x` or `--log ./-x` for such a file.
//! A negative number is taken as a value, so `--port -1` is an invalid value.
//!
//! A frontend does:
//! ```no_run
//! use p2pchat_core::cli::{self, CliError};
//! let config = match cli::parse_args(std::env::args().skip(1)) {
//!     Ok(config) => config,
//!     Err(CliError::Usage(msg)) => {
//!         eprintln!("p2pchat: {msg}\n{}", cli::hint("p2pchat"));
//!         std::process::exit(2);
//!     }
//!     Err(other) => {
//!         println!("{other}");
//!         std::process::exit(other.exit_code());
//!     }
//! };
//! # let _ = config;
//! ```

use std::fmt::Write as _;
use std::iter::Peekable;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use crate::command;
use crate::config::{Config, Mode, PeerAddr};
use crate::wire::{MAX_NAME, validate_name};

/// Why parsing the command line did not produce a [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help` / `-h`: the full help text, for stdout; exit status 0.
    Help(String),
    /// `--version` / `-V`: `p2pchat VERSION`, for stdout; exit status 0.
    Version(String),
    /// A one-line message for stderr (print it as `p2pchat: MSG` followed by
    /// [`hint`]); exit status 2.
    Usage(String),
}

impl CliError {
    /// The process exit status: 0 for help and version, 2 for a usage error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Help(_) | CliError::Version(_) => 0,
            CliError::Usage(_) => 2,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Help(text) | CliError::Version(text) | CliError::Usage(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CliError {}

/// The line printed under a usage error.
pub fn hint(program: &str) -> String {
    format!("Try '{program} --help' for more information.")
}

/// Why a terminal frontend cannot run in the terminal it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalProblem<'a> {
    /// Standard input or output is not a terminal (a pipe, a file).
    NotATerminal,
    /// `TERM` is unset or empty.
    TermUnset,
    /// `TERM` names a terminal type the terminal database does not know.
    UnknownTerm(&'a str),
}

/// The message (for stderr, after `p2pchat: `) of a terminal frontend that cannot
/// drive the terminal: it says why and points to `--headless`. Every frontend
/// prints it and exits with status 1.
pub fn terminal_error(problem: TerminalProblem<'_>) -> String {
    const HINT: &str = "use --headless or --json otherwise";
    match problem {
        TerminalProblem::NotATerminal => format!("standard input and output must be a terminal; {HINT}"),
        TerminalProblem::TermUnset => format!("TERM is not set, so the terminal cannot be driven; {HINT}"),
        TerminalProblem::UnknownTerm(term) => {
            format!("the terminal type {term:?} (TERM) is unknown, so the terminal cannot be driven; {HINT}")
        }
    }
}

const PORT: RangeInclusive<u64> = 0..=65_535;
const REDUNDANCY: RangeInclusive<u64> = 0..=64;
const HEARTBEAT_MS: RangeInclusive<u64> = 10..=60_000;
const PEER_TIMEOUT_MS: RangeInclusive<u64> = 20..=600_000;
const HISTORY: RangeInclusive<u64> = 0..=100_000;
const QUEUE_CAP: RangeInclusive<u64> = 64 * 1024..=1024 * 1024 * 1024;
const MAX_PEERS: RangeInclusive<u64> = 1..=65_536;
const IDLE_SECS: RangeInclusive<u64> = 0..=86_400;
const MAX_TEXT_CLIENTS: RangeInclusive<u64> = 0..=4096;

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

fn invalid(opt: &str, value: &str, expected: impl std::fmt::Display) -> CliError {
    usage(format!("invalid value {value:?} for {opt}: {expected}"))
}

/// Parses a whole number in `range` and converts it to the field's type.
fn number<T: TryFrom<u64>>(opt: &str, value: &str, range: RangeInclusive<u64>) -> Result<T, CliError> {
    let bad = || invalid(opt, value, format_args!("expected a number from {} to {}", range.start(), range.end()));
    let n: u64 = value.parse().map_err(|_| bad())?;
    if !range.contains(&n) {
        return Err(bad());
    }
    T::try_from(n).map_err(|_| bad())
}

/// Parses a byte count with an optional binary suffix (`K`, `M`, `G`).
fn bytes(opt: &str, value: &str, range: RangeInclusive<u64>) -> Result<usize, CliError> {
    let bad = || {
        invalid(
            opt,
            value,
            format_args!(
                "expected a number of bytes from {} to {} (suffixes K, M, G allowed)",
                show_bytes(*range.start()),
                show_bytes(*range.end())
            ),
        )
    };
    let (digits, unit) = match value.char_indices().last() {
        Some((i, 'k' | 'K')) => (&value[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&value[..i], 1u64 << 20),
        Some((i, 'g' | 'G')) => (&value[..i], 1u64 << 30),
        _ => (value, 1),
    };
    let n = digits.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)).ok_or_else(bad)?;
    if !range.contains(&n) {
        return Err(bad());
    }
    usize::try_from(n).map_err(|_| bad())
}

/// `8388608` as `8M`, `65536` as `64K`; other counts as plain numbers.
fn show_bytes(n: u64) -> String {
    for (unit, suffix) in [(1u64 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")] {
        if n >= unit && n % unit == 0 {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

/// Parses `--connect`'s `HOST:PORT` or `[V6]:PORT`.
fn peer(opt: &str, value: &str) -> Result<PeerAddr, CliError> {
    PeerAddr::parse(value).map_err(|e| invalid(opt, value, e))
}

/// The value of `opt`: the part after `=`, or else the next argument unless it looks
/// like an option.
fn value_of<I: Iterator<Item = String>>(
    opt: &str,
    inline: Option<String>,
    args: &mut Peekable<I>,
) -> Result<String, CliError> {
    match inline {
        Some(value) => Ok(value),
        // A negative number (`--port -1`) is a value, if a bad one: no option
        // starts with a digit.
        None => args
            .next_if(|next| {
                next == "-" || !next.starts_with('-') || next[1..].starts_with(|c: char| c.is_ascii_digit())
            })
            .ok_or_else(|| usage(format!("missing value for {opt}"))),
    }
}

/// Parses the command line, without the program name (`std::env::args().skip(1)`).
///
/// `--help` and `--version` take effect where they appear: an error in an earlier
/// argument is reported instead.
pub fn parse_args<I, S>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut config = Config::new(String::new());
    let mut positionals: Vec<String> = Vec::new();
    let (mut headless, mut json) = (false, false);
    let mut options_ended = false;
    let mut args = args.into_iter().map(|a| a.as_ref().to_owned()).peekable();

    while let Some(arg) = args.next() {
        if options_ended || arg == "-" || !arg.starts_with('-') {
            positionals.push(arg);
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }
        let (opt, inline) = match arg.split_once('=') {
            Some((opt, value)) if arg.starts_with("--") => (opt, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };

        let value_for = |inline, args: &mut _| value_of(opt, inline, args);
        match opt {
            "-h" | "--help" | "-V" | "--version" | "--headless" | "--json" => {
                if inline.is_some() {
                    return Err(usage(format!("{opt} does not take a value")));
                }
                match opt {
                    "-h" | "--help" => return Err(CliError::Help(help_text("p2pchat"))),
                    "-V" | "--version" => {
                        return Err(CliError::Version(format!("p2pchat {}", env!("CARGO_PKG_VERSION"))));
                    }
                    "--headless" => headless = true,
                    _ => json = true,
                }
            }
            "--port" => config.port = number(opt, &value_for(inline, &mut args)?, PORT)?,
            "--bind" => {
                let value = value_for(inline, &mut args)?;
                config.bind =
                    crate::addr::unbracket(&value).ok().and_then(|v| v.parse::<IpAddr>().ok()).ok_or(()).map_err(
                        |_| invalid(opt, &value, "expected an IP address, such as 0.0.0.0, 127.0.0.1 or ::"),
                    )?;
            }
            "--connect" => config.connect.push(peer(opt, &value_for(inline, &mut args)?)?),
            "--log" => {
                let value = value_for(inline, &mut args)?;
                if value.is_empty() {
                    return Err(invalid(opt, &value, "expected a file name"));
                }
                config.log = Some(PathBuf::from(value));
            }
            "--redundancy" => config.redundancy = number(opt, &value_for(inline, &mut args)?, REDUNDANCY)?,
            "--heartbeat" => {
                config.heartbeat = Duration::from_millis(number(opt, &value_for(inline, &mut args)?, HEARTBEAT_MS)?);
            }
            "--peer-timeout" => {
                let ms = number(opt, &value_for(inline, &mut args)?, PEER_TIMEOUT_MS)?;
                config.peer_timeout = Duration::from_millis(ms);
            }
            "--history" => config.history = number(opt, &value_for(inline, &mut args)?, HISTORY)?,
            "--queue-cap" => config.queue_cap = bytes(opt, &value_for(inline, &mut args)?, QUEUE_CAP)?,
            "--max-peers" => config.max_peers = number(opt, &value_for(inline, &mut args)?, MAX_PEERS)?,
            "--seed" => config.seed = Some(number(opt, &value_for(inline, &mut args)?, 0..=u64::MAX)?),
            "--idle-timeout" => {
                config.idle_timeout = Duration::from_secs(number(opt, &value_for(inline, &mut args)?, IDLE_SECS)?);
            }
            "--max-text-clients" => {
                config.max_text_clients = number(opt, &value_for(inline, &mut args)?, MAX_TEXT_CLIENTS)?;
            }
            _ => return Err(usage(format!("unknown option {opt:?}"))),
        }
    }

    config.mode = if json {
        Mode::Json
    } else if headless {
        Mode::Headless
    } else {
        Mode::Ui
    };

    let mut positionals = positionals.into_iter();
    let name = positionals.next().ok_or_else(|| usage("missing NAME"))?;
    validate_name(&name).map_err(|e| usage(format!("invalid NAME {name:?}: {e}")))?;
    config.name = name;
    match (positionals.next(), positionals.next(), positionals.next()) {
        (None, _, _) => {}
        (Some(host), None, _) => {
            return Err(usage(format!("HOST {host:?} given without PORT; give both HOST and PORT, or neither")));
        }
        (Some(host), Some(port), None) => {
            let to = PeerAddr::new(&host, &port).map_err(usage)?;
            config.connect.insert(0, to);
        }
        (Some(_), Some(_), Some(extra)) => return Err(usage(format!("unexpected argument {extra:?}"))),
    }
    if config.peer_timeout <= config.heartbeat {
        return Err(usage(format!(
            "--peer-timeout ({} ms) must be greater than --heartbeat ({} ms)",
            config.peer_timeout.as_millis(),
            config.heartbeat.as_millis()
        )));
    }
    Ok(config)
}

/// The text printed by `--help`, without a final newline (print it with `println!`);
/// `program` is the name shown in the usage and example lines.
pub fn help_text(program: &str) -> String {
    let d = Config::new(String::new());
    let range = |r: RangeInclusive<u64>| format!("{}-{}", r.start(), r.end());
    let options: Vec<(&str, String)> = vec![
        ("--port PORT", format!("port to listen on, 0 for one chosen by the system [default: {}]", d.port)),
        ("--bind ADDR", format!("IP address to listen on [default: {}]", d.bind)),
        ("--connect HOST:PORT", "also join through this node; repeatable; IPv6 as [ADDR]:PORT".to_owned()),
        ("--headless", "no terminal UI: chat lines from stdin, NAME: TEXT lines on stdout;\nend of input quits".into()),
        ("--json", "like --headless, but one JSON object per line on stdout\n(wins over --headless)".into()),
        ("--log FILE", "write a log to FILE [default: none]".into()),
        (
            "--redundancy K",
            format!(
                "keep at least K direct links when enough members are known\n({}) [default: {}]",
                range(REDUNDANCY),
                d.redundancy
            ),
        ),
        (
            "--heartbeat MS",
            format!(
                "heartbeat interval on an idle link, in ms ({}) [default: {}]",
                range(HEARTBEAT_MS),
                d.heartbeat.as_millis()
            ),
        ),
        (
            "--peer-timeout MS",
            format!(
                "silence after which a neighbour is declared lost, in ms\n({}, more than --heartbeat) [default: {}]",
                range(PEER_TIMEOUT_MS),
                d.peer_timeout.as_millis()
            ),
        ),
        (
            "--history N",
            format!("messages kept for members who catch up ({}) [default: {}]", range(HISTORY), d.history),
        ),
        (
            "--queue-cap BYTES",
            format!(
                "bytes queued for a slow peer before it is dropped; K, M, G allowed\n({}-{}) [default: {}]",
                show_bytes(*QUEUE_CAP.start()),
                show_bytes(*QUEUE_CAP.end()),
                show_bytes(d.queue_cap as u64)
            ),
        ),
        ("--max-peers N", format!("most direct connections at once ({}) [default: {}]", range(MAX_PEERS), d.max_peers)),
        (
            "--idle-timeout SECS",
            format!(
                "disconnect plain-text (nc) clients idle this long; 0: never\n({}) [default: {}]",
                range(IDLE_SECS),
                d.idle_timeout.as_secs()
            ),
        ),
        (
            "--max-text-clients N",
            format!(
                "most plain-text (nc) clients at once ({}) [default: {}]",
                range(MAX_TEXT_CLIENTS),
                d.max_text_clients
            ),
        ),
        ("--seed N", "seed for the node's random choices, for reproducible tests\n[default: from the system]".into()),
        ("-h, --help", "print this help and exit".into()),
        ("-V, --version", "print the version and exit".into()),
    ];

    let mut out = String::new();
    let _ = writeln!(out, "Usage: {program} [OPTIONS] NAME [HOST PORT]");
    out.push('\n');
    out.push_str(
        "A serverless peer-to-peer chat for the terminal. Start with your NAME alone to begin a\n\
         new network, or give the HOST and PORT of any running node to join its network. Every\n\
         node relays messages to the others, so the chat lives on as long as its members stay\n\
         connected. The port this node listens on is shown at start-up so that others can join.\n",
    );
    out.push_str("\nArguments:\n");
    let _ = writeln!(out, "  {:<21}your name: 1 to {MAX_NAME} bytes of UTF-8, no spaces or control characters", "NAME");
    let _ = writeln!(out, "  {:<21}a running node to join through: host name or IP address, port 1-65535", "HOST PORT");
    out.push_str("\nOptions:\n");
    for (flags, text) in &options {
        let mut lines = text.lines();
        let _ = writeln!(out, "  {flags:<21}{}", lines.next().unwrap_or(""));
        for line in lines {
            let _ = writeln!(out, "  {:<21}{line}", "");
        }
    }
    out.push_str(
        "\nOptions may come before or after NAME; --opt VALUE and --opt=VALUE are the same;\n-- ends the options.\n",
    );
    out.push_str("\nCommands in the chat:\n");
    for line in command::HELP {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("\nExample: two nodes on this machine\n");
    let _ = writeln!(out, "  {program} alice                  # shows INFO: listening on port 41234");
    let _ = write!(out, "  {program} bob 127.0.0.1 41234    # in another terminal, with that port");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        DEFAULT_HEARTBEAT, DEFAULT_HISTORY, DEFAULT_MAX_PEERS, DEFAULT_PEER_TIMEOUT, DEFAULT_QUEUE_CAP,
    };
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ok(args: &[&str]) -> Config {
        match parse_args(args) {
            Ok(config) => config,
            Err(e) => panic!("{args:?} should parse, got {e:?}"),
        }
    }

    /// The usage message for `args`, checked to be one line.
    fn usage_err(args: &[&str]) -> String {
        match parse_args(args) {
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
        assert_eq!(c.queue_cap, DEFAULT_QUEUE_CAP);
        assert_eq!(c.max_peers, DEFAULT_MAX_PEERS);
        assert_eq!(c.seed, None);
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
        let b = ok(&[
            "x",
            "--port",
            "4000",
            "--bind",
            "127.0.0.1",
            "--connect",
            "h:1",
            "--log",
            "a.log",
            "--redundancy",
            "3",
        ]);
        assert_eq!(
            (a.port, a.bind, &a.connect, &a.log, a.redundancy),
            (b.port, b.bind, &b.connect, &b.log, b.redundancy)
        );
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
        assert_eq!(
            ok(&["x", "--heartbeat", "60000", "--peer-timeout", "60001"]).heartbeat,
            Duration::from_millis(60_000)
        );
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
    }

    #[test]
    fn help_and_version_stop_parsing_with_exit_status_zero() {
        for args in [&["--help"][..], &["-h"], &["alice", "--port", "4000", "-h"], &["bad name", "--help"]] {
            match parse_args(args) {
                Err(CliError::Help(text)) => assert_eq!(text, help_text("p2pchat")),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        let expected = format!("p2pchat {}", env!("CARGO_PKG_VERSION"));
        for args in [&["--version"][..], &["-V"], &["x", "-V"]] {
            assert_eq!(parse_args(args).map(|_| ()), Err(CliError::Version(expected.clone())));
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
        assert_eq!(parse_args(["--nope"]).map(|_| ()).map_err(|e| e.exit_code()), Err(2));
        assert_eq!(parse_args(["--help"]).map(|_| ()).map_err(|e| e.exit_code()), Err(0));
    }

    #[test]
    fn owned_strings_are_accepted_as_arguments() {
        let args: Vec<String> = vec!["alice".into(), "--json".into()];
        assert_eq!(parse_args(args).map(|c| c.mode), Ok(Mode::Json));
    }

    #[test]
    fn help_text_lists_every_option_with_defaults_commands_and_an_example() {
        let text = help_text("p2pchat");
        assert!(text.starts_with("Usage: p2pchat [OPTIONS] NAME [HOST PORT]\n"));
        for opt in [
            "--port PORT",
            "--bind ADDR",
            "--connect HOST:PORT",
            "--headless",
            "--json",
            "--log FILE",
            "--redundancy K",
            "--heartbeat MS",
            "--peer-timeout MS",
            "--history N",
            "--queue-cap BYTES",
            "--max-peers N",
            "--idle-timeout SECS",
            "--max-text-clients N",
            "--seed N",
            "-h, --help",
            "-V, --version",
        ] {
            assert!(text.contains(opt), "help mentions {opt}");
        }
        for default in [
            "[default: 0]",
            "[default: 0.0.0.0]",
            "[default: 1]",
            &format!("[default: {}]", DEFAULT_HEARTBEAT.as_millis()),
            &format!("[default: {}]", DEFAULT_PEER_TIMEOUT.as_millis()),
            &format!("[default: {DEFAULT_HISTORY}]"),
            "[default: 8M]",
            &format!("[default: {DEFAULT_MAX_PEERS}]"),
        ] {
            assert!(text.contains(default), "help shows {default}");
        }
        for line in command::HELP {
            assert!(text.contains(line), "help lists {line}");
        }
        assert!(text.contains("p2pchat alice "));
        assert!(text.contains("p2pchat bob 127.0.0.1 "));
        assert!(help_text("chat").starts_with("Usage: chat "));
        assert!(!text.ends_with('\n'), "println! adds the final newline");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "help lines fit a wide terminal");
    }

    #[test]
    fn a_negative_number_is_an_invalid_value_not_a_missing_one() {
        assert_eq!(
            usage_err(&["x", "--port", "-1"]),
            "invalid value \"-1\" for --port: expected a number from 0 to 65535"
        );
        for (opt, value) in [("--history", "-1"), ("--seed", "-5"), ("--redundancy", "-3"), ("--max-peers", "-0")] {
            let msg = usage_err(&["x", opt, value]);
            assert!(msg.starts_with(&format!("invalid value {value:?} for {opt}")), "{msg}");
        }
        // An option after an option that takes a value is still a missing value.
        assert_eq!(usage_err(&["x", "--port", "--json"]), "missing value for --port");
    }

    #[test]
    fn terminal_errors_say_why_and_point_to_headless() {
        for problem in [TerminalProblem::NotATerminal, TerminalProblem::TermUnset, TerminalProblem::UnknownTerm("x")] {
            assert!(terminal_error(problem).ends_with("; use --headless or --json otherwise"), "{problem:?}");
        }
        assert!(
            terminal_error(TerminalProblem::NotATerminal).starts_with("standard input and output must be a terminal")
        );
        assert!(terminal_error(TerminalProblem::TermUnset).starts_with("TERM is not set"));
        assert!(
            terminal_error(TerminalProblem::UnknownTerm("nosuchterm")).starts_with("the terminal type \"nosuchterm\"")
        );
    }

    #[test]
    fn hint_names_the_program() {
        assert_eq!(hint("p2pchat"), "Try 'p2pchat --help' for more information.");
    }
}
