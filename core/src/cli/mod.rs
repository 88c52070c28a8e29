//! The command line, parsed the same way by every frontend ([`parse_args`],
//! [`parse_or_exit`]; a frontend with commands or keys of its own adds a section
//! to the help with [`parse_or_exit_with`]), and what every frontend prints when it cannot go on
//! ([`CliError::report`], [`terminal_error`], [`start_error`]).
//!
//! ```text
//! p2pchat [OPTIONS] NAME [HOST PORT]
//! ```
//!
//! Each option is described once, as a field of the private `Args` struct (name,
//! value name, parser with its range, default and help text), and clap (derive)
//! does the parsing; the defaults are [`Config::new`]'s. Options may come before or after the positionals; `--opt VALUE` and
//! `--opt=VALUE` are the same; `--` ends the options. When an option is given twice
//! the last one wins, except `--connect`, which adds a peer each time. A separate
//! value may not start with `-` (so `--log --json` is a missing value, not a file
//! named `--json`); write `--log=-x` or `--log ./-x` for such a file. A negative
//! number is taken as a value, so `--port -1` is an invalid value.
//!
//! What clap cannot say in an attribute is checked after it, in
//! `Args::into_config`: `NAME` (checked there rather than by a value parser so
//! that `p2pchat 'bad name' --help` still shows the help), `HOST` without `PORT`,
//! and `--peer-timeout` greater than `--heartbeat` in whatever order they come.
//! Last of all, once every other check has passed and `--network` is known, a
//! closed network's key is derived there from `--secret-file` or the environment
//! variable `P2PCHAT_SECRET` ([`crate::secret::from_sources`]): once per process,
//! since it is slow on purpose. There is no option that takes the secret itself,
//! so that it never shows in `ps`; `--secret` is answered with where to put it.
//! Clap's errors are reworded into one line each (`usage_message`) that names the
//! option and what it expects, with values quoted like Rust strings so that
//! control characters cannot reach the terminal; clap's own rendering would add a
//! usage block and, in some builds, colours.
//!
//! A frontend does:
//! ```no_run
//! let config = p2pchat_core::cli::parse_or_exit("p2pchat");
//! # let _ = config;
//! ```

mod frontend;
mod values;

use std::ffi::OsString;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

pub use frontend::{TerminalProblem, hint, start_error, terminal_error};

use crate::command;
use crate::config::{Config, IdentitySource, MAX_NETWORK, Mode, PeerAddr, TextClients};
use crate::secret::{self, SECRET_ENV};
use crate::wire::{MAX_NAME, validate_name};
use values::{Bytes, byte_range, bytes, dir, file, ip, network, number, range};

/// Why parsing the command line did not produce a [`Config`]. Print it with
/// [`CliError::report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help` / `-h`: the full help text, for stdout; exit status 0.
    Help(String),
    /// `--version` / `-V`: `p2pchat VERSION`, for stdout; exit status 0.
    Version(String),
    /// A one-line message for stderr (printed as `p2pchat: MSG` followed by
    /// [`hint`]); exit status 2.
    Usage(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Help(text) | CliError::Version(text) | CliError::Usage(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CliError {}

const PORT: RangeInclusive<u64> = 0..=65_535;
const REDUNDANCY: RangeInclusive<u64> = 0..=64;
const HEARTBEAT_MS: RangeInclusive<u64> = 10..=60_000;
const PEER_TIMEOUT_MS: RangeInclusive<u64> = 20..=600_000;
const HISTORY: RangeInclusive<u64> = 0..=100_000;
const KEEP: RangeInclusive<u64> = 1..=10_000_000;
const QUEUE_CAP: RangeInclusive<u64> = 64 * 1024..=1024 * 1024 * 1024;
const MAX_PEERS: RangeInclusive<u64> = 1..=65_536;
const IDLE_SECS: RangeInclusive<u64> = 0..=86_400;
const MAX_TEXT_CLIENTS: RangeInclusive<u64> = 0..=4096;
const TEXT_RATE: RangeInclusive<u64> = 0..=1_000_000;
const SEED: RangeInclusive<u64> = 0..=u64::MAX;

/// The defaults, which are [`Config::new`]'s.
fn d() -> Config {
    Config::new(String::new())
}

/// A duration in whole milliseconds, as the options take it.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

const ABOUT: &str = "\
A serverless peer-to-peer chat for the terminal. Start with your NAME alone to begin a
new network, or give the HOST and PORT of any running node to join its network. Every
node relays messages to the others, so the chat lives on as long as its members stay
connected. The port this node listens on is shown at start-up so that others can join.";

/// The command line, one field per argument. The help lists them in this order.
#[derive(Debug, Parser)]
#[command(
    name = "p2pchat",
    version,
    about = ABOUT,
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    help_template = "{usage-heading} {usage}\n\n{about-with-newline}\n{all-args}{after-help}"
)]
struct Args {
    #[arg(value_name = "NAME",
          help = format!("your name: 1 to {MAX_NAME} bytes of UTF-8, no spaces or control characters"))]
    name: String,
    #[arg(value_name = "HOST", help = "a running node to join through: host name or IP address")]
    host: Option<String>,
    #[arg(value_name = "PORT", help = "the port of that node, 1-65535 (give HOST and PORT, or neither)")]
    peer_port: Option<String>,

    #[arg(long, value_name = "PORT", value_parser = number::<u16>(PORT), allow_negative_numbers = true,
          default_value_t = d().port, help = "port to listen on, 0 for one chosen by the system")]
    port: u16,
    #[arg(long, value_name = "ADDR", value_parser = ip, default_value_t = d().bind,
          help = "IP address to listen on")]
    bind: IpAddr,
    #[arg(long, value_name = "HOST:PORT", value_parser = PeerAddr::parse,
          help = "also join through this node; repeatable; IPv6 as [ADDR]:PORT")]
    connect: Vec<PeerAddr>,
    #[arg(long, help = "no terminal UI: chat lines from stdin, NAME: TEXT lines on stdout;\nend of input quits")]
    headless: bool,
    #[arg(long, help = "like --headless, but one JSON object per line on stdout\n(wins over --headless)")]
    json: bool,
    #[arg(long, value_name = "FILE", value_parser = file, help = "write a log to FILE [default: none]")]
    log: Option<PathBuf>,
    #[arg(long, value_name = "FILE", value_parser = file, conflicts_with = "ephemeral",
          help = "your key file, made on first start (mode 0600)\n[default: DATA_DIR/identity.key]")]
    identity: Option<PathBuf>,
    #[arg(long, help = "run with a fresh key, as a temporary member: nothing is read or saved")]
    ephemeral: bool,
    #[arg(long, value_name = "DIR", value_parser = dir,
          help = "where this member's data is kept (made mode 0700)\n\
                  [default: $XDG_DATA_HOME/p2pchat/NAME or ~/.local/share/p2pchat/NAME]")]
    data_dir: Option<PathBuf>,
    #[arg(long, value_name = "NAME", value_parser = network, default_value_t = d().network,
          help = format!("the network to be part of: nodes of other networks are refused\n\
                          (1 to {MAX_NETWORK} ASCII letters, digits, '-', '_', '.')"))]
    network: String,
    #[arg(long, value_name = "FILE", value_parser = file,
          help = format!("close the network with the passphrase in FILE (mode 0600); without it,\n\
                          {SECRET_ENV} if set [default: none, an open network]"))]
    secret_file: Option<PathBuf>,
    #[arg(long, value_name = "K", value_parser = number::<usize>(REDUNDANCY), allow_negative_numbers = true,
          default_value_t = d().redundancy,
          help = format!("keep at least K direct links when enough members are known\n({})", range(&REDUNDANCY)))]
    redundancy: usize,
    #[arg(long, value_name = "MS", value_parser = number::<u64>(HEARTBEAT_MS), allow_negative_numbers = true,
          default_value_t = ms(d().heartbeat),
          help = format!("heartbeat interval on an idle link, in ms ({})", range(&HEARTBEAT_MS)))]
    heartbeat: u64,
    #[arg(long, value_name = "MS", value_parser = number::<u64>(PEER_TIMEOUT_MS), allow_negative_numbers = true,
          default_value_t = ms(d().peer_timeout),
          help = format!("silence after which a neighbour is declared lost, in ms\n({}, more than --heartbeat)",
                        range(&PEER_TIMEOUT_MS)))]
    peer_timeout: u64,
    #[arg(long, value_name = "N", value_parser = number::<usize>(HISTORY), allow_negative_numbers = true,
          default_value_t = d().history,
          help = format!("messages offered to members who catch up ({})", range(&HISTORY)))]
    history: usize,
    #[arg(long, value_name = "N", value_parser = number::<usize>(KEEP), allow_negative_numbers = true,
          default_value_t = d().keep,
          help = format!("messages kept on disk, the oldest dropped first\n({})", range(&KEEP)))]
    keep: usize,
    #[arg(long, value_name = "BYTES", value_parser = bytes(QUEUE_CAP), allow_negative_numbers = true,
          default_value_t = Bytes(d().queue_cap),
          help = format!("bytes queued for a slow peer before it is dropped; K, M, G allowed\n({})",
                        byte_range(&QUEUE_CAP)))]
    queue_cap: Bytes,
    #[arg(long, value_name = "N", value_parser = number::<usize>(MAX_PEERS), allow_negative_numbers = true,
          default_value_t = d().max_peers,
          help = format!("most direct connections at once ({})", range(&MAX_PEERS)))]
    max_peers: usize,
    #[arg(long, value_name = "SECS", value_parser = number::<u64>(IDLE_SECS), allow_negative_numbers = true,
          default_value_t = d().idle_timeout.as_secs(),
          help = format!("disconnect plain-text (nc) clients idle this long; 0: never\n({})", range(&IDLE_SECS)))]
    idle_timeout: u64,
    #[arg(long, value_name = "N", value_parser = number::<usize>(MAX_TEXT_CLIENTS), allow_negative_numbers = true,
          default_value_t = d().max_text_clients,
          help = format!("most plain-text (nc) clients at once ({})", range(&MAX_TEXT_CLIENTS)))]
    max_text_clients: usize,
    #[arg(long, value_name = "LINES", value_parser = number::<u32>(TEXT_RATE), allow_negative_numbers = true,
          default_value_t = d().text_rate.per_sec,
          help = format!("lines a second each plain-text client may send; 0: unlimited\n({})", range(&TEXT_RATE)))]
    text_rate: u32,
    #[arg(long, value_name = "LINES", value_parser = number::<u32>(TEXT_RATE), allow_negative_numbers = true,
          default_value_t = d().text_rate.burst,
          help = format!("lines a plain-text client may send at once; 0: unlimited\n({})", range(&TEXT_RATE)))]
    text_burst: u32,
    #[arg(long, value_name = "WHICH", value_parser = TextClients::parse,
          help = "plain-text (nc) clients accepted: any, loopback (this machine) or off\n\
                  [default: any; loopback on a closed network]")]
    text_clients: Option<TextClients>,
    #[arg(long, value_name = "N", value_parser = number::<u64>(SEED), allow_negative_numbers = true,
          help = "seed for the node's random choices, for reproducible tests\n[default: from the system]")]
    seed: Option<u64>,
    #[arg(short, long, action = ArgAction::Help, help = "print this help and exit")]
    help: Option<bool>,
    #[arg(short = 'V', long, action = ArgAction::Version, help = "print the version and exit")]
    version: Option<bool>,
}

impl Args {
    /// The checks clap cannot make, then the configuration; `secret_env` is the
    /// value of `P2PCHAT_SECRET`, used without `--secret-file`.
    fn into_config(self, secret_env: Option<OsString>) -> Result<Config, String> {
        let name = self.name;
        validate_name(&name).map_err(|e| format!("invalid NAME {name:?}: {e}"))?;
        let mut connect = Vec::with_capacity(self.connect.len() + 1);
        match (self.host, self.peer_port) {
            (None, _) => {}
            (Some(host), None) => {
                return Err(format!("HOST {host:?} given without PORT; give both HOST and PORT, or neither"));
            }
            (Some(host), Some(port)) => connect.push(PeerAddr::new(&host, &port)?),
        }
        connect.extend(self.connect);
        let heartbeat = Duration::from_millis(self.heartbeat);
        let peer_timeout = Duration::from_millis(self.peer_timeout);
        if peer_timeout <= heartbeat {
            return Err(format!(
                "--peer-timeout ({} ms) must be greater than --heartbeat ({} ms)",
                self.peer_timeout, self.heartbeat
            ));
        }
        let mode = match (self.json, self.headless) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Headless,
            (false, false) => Mode::Ui,
        };
        let identity = match (self.identity, self.ephemeral) {
            (Some(file), _) => IdentitySource::File(file),
            (None, true) => IdentitySource::Ephemeral,
            (None, false) => IdentitySource::Default,
        };
        // Last: it is the slow part, and a typo elsewhere should not wait for it.
        let secret = secret::from_sources(self.secret_file.as_deref(), secret_env, &self.network)?;
        Ok(Config {
            name,
            bind: self.bind,
            port: self.port,
            connect,
            mode,
            log: self.log,
            redundancy: self.redundancy,
            heartbeat,
            peer_timeout,
            history: self.history,
            keep: self.keep,
            queue_cap: self.queue_cap.0,
            max_peers: self.max_peers,
            seed: self.seed,
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_text_clients: self.max_text_clients,
            text_rate: crate::config::TextRate { per_sec: self.text_rate, burst: self.text_burst },
            identity,
            data_dir: self.data_dir,
            network: self.network,
            secret,
            text_clients: self.text_clients,
        })
    }
}

/// The parser, with `program` in its usage and example lines and a frontend's
/// own section of help (`extra_help`, possibly empty) after the chat commands.
fn command(program: &str, extra_help: &str) -> clap::Command {
    let mut after = String::from(
        "Options may come before or after NAME; --opt VALUE and --opt=VALUE are the same;\n-- ends the options.\n",
    );
    after.push_str("\nCommands in the chat:\n");
    for line in command::HELP {
        after.push_str(&format!("  {line}\n"));
    }
    after.push_str(
        "\nYour key is DATA_DIR/identity.key (or --identity FILE), made on first start. If another\n\
         process is using it, this one runs as a temporary member (a fresh key, nothing saved).\n",
    );
    after.push_str("\nEnvironment:\n");
    after.push_str(&format!("  {SECRET_ENV}  the passphrase of a closed network, when --secret-file is not given\n"));
    after.push_str("  XDG_DATA_HOME   the default DATA_DIR is $XDG_DATA_HOME/p2pchat/NAME\n");
    let extra_help = extra_help.trim_end();
    if !extra_help.is_empty() {
        after.push('\n');
        after.push_str(extra_help);
        after.push('\n');
    }
    after.push_str("\nExample: two nodes on this machine\n");
    after.push_str(&format!("  {program} alice                  # shows INFO: listening on port 41234\n"));
    after.push_str(&format!("  {program} bob 127.0.0.1 41234    # in another terminal, with that port"));
    Args::command().override_usage(format!("{program} [OPTIONS] NAME [HOST PORT]")).after_help(after)
}

/// Parses the command line, without the program name (`std::env::args_os().skip(1)`);
/// `program` is the name shown in the help (its usage and example lines). A
/// closed network's passphrase is read from `--secret-file`, else from the
/// environment variable `P2PCHAT_SECRET` ([`parse_args_with_env`] takes its value
/// instead).
///
/// `--help` and `--version` take effect where they appear: an error in an earlier
/// option's value is reported instead. An argument that is not UTF-8 is refused
/// first, wherever it is.
pub fn parse_args<I, S>(program: &str, args: I) -> Result<Config, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parse_args_with(program, "", args)
}

/// [`parse_args`] for a frontend that has more to say in its help: `extra_help`
/// (its own commands, its keys; a heading line, then indented lines, no wider
/// than 100 columns) goes after the chat commands, before the example. Empty, it
/// is [`parse_args`].
pub fn parse_args_with<I, S>(program: &str, extra_help: &str, args: I) -> Result<Config, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parse_args_with_env(program, extra_help, args, std::env::var_os(SECRET_ENV))
}

/// [`parse_args_with`] with the value of the environment variable
/// `P2PCHAT_SECRET` passed in (`None`: unset) instead of read from the process's
/// environment: for tests, and for programs that keep the secret elsewhere.
pub fn parse_args_with_env<I, S>(
    program: &str,
    extra_help: &str,
    args: I,
    secret_env: Option<OsString>,
) -> Result<Config, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Said here, where the argument's place is known (clap only says "invalid UTF-8").
    if let Some((i, bad)) = args.iter().enumerate().find(|(_, a)| a.to_str().is_none()) {
        return Err(CliError::Usage(format!("argument {} is not valid UTF-8: {bad:?}", i + 1)));
    }
    let matches = command(program, extra_help).try_get_matches_from(args).map_err(from_clap)?;
    let args = Args::from_arg_matches(&matches).map_err(from_clap)?;
    args.into_config(secret_env).map_err(CliError::Usage)
}

/// Parses the process's command line for the frontend `program`; on `--help`,
/// `--version` or a usage error, prints it ([`CliError::report`]) and exits with
/// its status (0 or 2).
pub fn parse_or_exit(program: &str) -> Config {
    parse_or_exit_with(program, "")
}

/// [`parse_or_exit`] with a frontend's own section of help, as in
/// [`parse_args_with`].
pub fn parse_or_exit_with(program: &str, extra_help: &str) -> Config {
    match parse_args_with(program, extra_help, std::env::args_os().skip(1)) {
        Ok(config) => config,
        Err(e) => std::process::exit(e.report(program)),
    }
}

/// The help text, without a final newline; `program` as in [`parse_args`].
pub fn help_text(program: &str) -> String {
    help_text_with(program, "")
}

/// The help text with a frontend's own section, as in [`parse_args_with`].
pub fn help_text_with(program: &str, extra_help: &str) -> String {
    command(program, extra_help).render_help().to_string().trim_end().to_owned()
}

fn from_clap(err: clap::Error) -> CliError {
    match err.kind() {
        ErrorKind::DisplayHelp => CliError::Help(err.render().to_string().trim_end().to_owned()),
        ErrorKind::DisplayVersion => CliError::Version(err.render().to_string().trim_end().to_owned()),
        _ => CliError::Usage(usage_message(&err)),
    }
}

/// Clap's error as one line, naming the option (without its value name) and
/// quoting values as Rust strings.
fn usage_message(err: &clap::Error) -> String {
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    // Clap names an option with its value name (`--port <PORT>`), an unknown one
    // with its value (`--prot=1`); a positional is a value of its own.
    let arg = context(ContextKind::InvalidArg)
        .map(|a| if a.starts_with('-') { a.split([' ', '=']).next().unwrap_or(a) } else { a });
    let value = context(ContextKind::InvalidValue);
    match (err.kind(), arg, value) {
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(err).map_or_else(String::new, |e| format!(": {e}"));
            format!("invalid value {value:?} for {arg}{why}")
        }
        (ErrorKind::InvalidValue | ErrorKind::NoEquals, Some(arg), None | Some("")) => {
            format!("missing value for {arg}")
        }
        (ErrorKind::TooManyValues, Some(arg), _) if arg.starts_with('-') => format!("{arg} does not take a value"),
        (ErrorKind::UnknownArgument, Some("--secret"), _) => format!(
            "unknown option \"--secret\": a secret is never given on the command line (others can read it \
             there); use --secret-file FILE or the environment variable {SECRET_ENV}"
        ),
        (ErrorKind::UnknownArgument, Some(arg), _) if arg.len() > 1 && arg.starts_with('-') => {
            format!("unknown option {arg:?}")
        }
        (ErrorKind::ArgumentConflict, Some(arg), _) => {
            let prior = match err.get(ContextKind::PriorArg) {
                Some(ContextValue::String(s)) => Some(s.as_str()),
                Some(ContextValue::Strings(all)) => all.first().map(String::as_str),
                _ => None,
            };
            let option = |a: &str| a.split([' ', '=']).next().unwrap_or(a).to_owned();
            match prior {
                Some(prior) => format!("{arg} cannot be used with {}", option(prior)),
                None => format!("{arg} cannot be used with the options given"),
            }
        }
        (ErrorKind::UnknownArgument | ErrorKind::TooManyValues, Some(arg), _) => {
            format!("unexpected argument {:?}", value.unwrap_or(arg))
        }
        (ErrorKind::MissingRequiredArgument, _, _) => "missing NAME".to_owned(),
        // Anything else: clap's own first line, without its `error: `.
        _ => {
            let text = err.render().to_string();
            let line = text.lines().next().unwrap_or("invalid command line");
            line.strip_prefix("error: ").unwrap_or(line).to_owned()
        }
    }
}

#[cfg(test)]
mod tests;
