//! Parsing what the user types: chat lines and `:commands` (or `/commands`).

use crate::addr::PeerAddr;
use crate::memory::{HISTORY_LINES, MAX_QUERY_LINES};

/// One line of user input, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A chat message for everyone.
    Chat(String),
    /// `:quit` / `:q`.
    Quit,
    /// `:help`.
    Help,
    /// `:users`: every reachable member.
    Users,
    /// `:peers`: direct links.
    Peers,
    /// `:whois NAME`: one member's key, address, hops and links.
    Whois(String),
    /// `:connect HOST PORT` (or `HOST:PORT`).
    Connect(PeerAddr),
    /// `:msg NAME TEXT`: a private message.
    Msg {
        /// Recipient's name.
        name: String,
        /// The text.
        text: String,
    },
    /// `:snapshot [DIR]`: a network-wide snapshot written to DIR (the rest of the
    /// line, trimmed: it may have spaces in it).
    Snapshot(Option<String>),
    /// `:history [N]`: the last N saved lines (default
    /// [`crate::memory::HISTORY_LINES`], at most [`crate::memory::MAX_QUERY_LINES`]).
    History(usize),
    /// `:search TEXT`: saved lines containing TEXT (the rest of the line, trimmed),
    /// ignoring case.
    Search(String),
    /// Nothing to do (an empty line).
    Nothing,
    /// The user's input ended (stdin closed, in `--headless`): quit, but first let
    /// a join in progress complete and hand what was typed to a neighbour, for at
    /// most [`crate::node::FINISH_TIMEOUT`]. Not a typed command.
    EndOfInput,
}

/// Help text shown by `:help`, one command per line.
pub const HELP: &[&str] = &[
    "commands start with ':' or '/'; double it (::text) to send a line that starts with it",
    ":help              this list",
    ":users             every reachable member, with hop distance",
    ":peers             direct links",
    ":whois NAME        a member's key fingerprint, address, hops and links",
    ":connect HOST PORT add a link to another node",
    ":msg NAME TEXT     a private message, over a direct link",
    ":snapshot [DIR]    write a snapshot of the whole network to DIR",
    ":history [N]       the last N saved lines (20 unless N is given)",
    ":search TEXT       saved lines containing TEXT, with their time",
    ":quit, :q          leave the chat",
];

/// The characters that start a command.
const PREFIXES: [char; 2] = [':', '/'];

/// Parses a line typed by the user. Errors are messages for the user.
pub fn parse_line(line: &str) -> Result<Input, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(Input::Nothing);
    }
    let Some(prefix) = line.chars().next().filter(|c| PREFIXES.contains(c)) else {
        return Ok(Input::Chat(line.to_owned()));
    };
    let rest = &line[1..];
    if rest.starts_with(prefix) {
        // Doubled prefix: send the line literally, minus one prefix character.
        return Ok(Input::Chat(rest.to_owned()));
    }
    parse_command_body(prefix, rest)
}

/// Parses `text` as a command whose prefix is optional: `"peers"`, `":peers"` and
/// `"/peers"` are the same, and leading blanks are ignored. `None` when `text` is
/// not a command but a chat line, that is when it starts with a doubled prefix
/// (`"::x"`, and `":/x"` too); otherwise what [`parse_line`] makes of the command,
/// its mistakes worded with `:` (`"frob"` is "unknown command :frob; ...").
pub fn parse_command(text: &str) -> Option<Result<Input, String>> {
    let text = text.trim_start().trim_end_matches(['\r', '\n']);
    let body = text.strip_prefix(PREFIXES).unwrap_or(text);
    if body.starts_with(PREFIXES) {
        return None;
    }
    Some(parse_command_body(':', body))
}

/// Parses what follows the prefix of a command; `prefix` words the mistakes.
fn parse_command_body(prefix: char, rest: &str) -> Result<Input, String> {
    let mut words = rest.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let no_args = |input: Input| {
        if args.is_empty() { Ok(input) } else { Err(format!("{prefix}{cmd} takes no arguments")) }
    };
    match cmd {
        "quit" | "q" | "exit" => no_args(Input::Quit),
        "help" | "h" | "?" => no_args(Input::Help),
        "users" | "who" => no_args(Input::Users),
        "peers" => no_args(Input::Peers),
        "whois" => match args.as_slice() {
            [name] => Ok(Input::Whois((*name).to_owned())),
            _ => Err(format!("usage: {prefix}whois NAME")),
        },
        "connect" => {
            let to = match args.as_slice() {
                [host, port] => PeerAddr::new(host, port)?,
                [hostport] => PeerAddr::parse(hostport)?,
                _ => return Err(format!("usage: {prefix}connect HOST PORT")),
            };
            Ok(Input::Connect(to))
        }
        "msg" | "m" | "tell" => {
            let body = rest.trim_start()[cmd.len()..].trim_start();
            let (name, text) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
            let text = text.trim_start();
            if name.is_empty() || text.is_empty() {
                return Err(format!("usage: {prefix}msg NAME TEXT"));
            }
            Ok(Input::Msg { name: name.to_owned(), text: text.to_owned() })
        }
        "snapshot" => {
            // The rest of the line is the directory, spaces and all, as the rest
            // of a `:msg` line is its text.
            let dir = rest.trim_start()[cmd.len()..].trim();
            Ok(Input::Snapshot((!dir.is_empty()).then(|| dir.to_owned())))
        }
        "history" => match args.as_slice() {
            [] => Ok(Input::History(HISTORY_LINES)),
            [n] => match n.parse::<usize>() {
                Ok(n) if (1..=MAX_QUERY_LINES).contains(&n) => Ok(Input::History(n)),
                _ => Err(format!("usage: {prefix}history [N], N from 1 to {MAX_QUERY_LINES}")),
            },
            _ => Err(format!("usage: {prefix}history [N]")),
        },
        "search" | "grep" => {
            let text = rest.trim_start()[cmd.len()..].trim();
            if text.is_empty() {
                return Err(format!("usage: {prefix}search TEXT"));
            }
            Ok(Input::Search(text.to_owned()))
        }
        "" => Err(format!("empty command; type {prefix}help for the list")),
        other => Err(format!("unknown command {prefix}{other}; type {prefix}help for the list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_and_commands() {
        assert_eq!(parse_line("hello"), Ok(Input::Chat("hello".into())));
        assert_eq!(parse_line(":q"), Ok(Input::Quit));
        assert_eq!(parse_line("/quit"), Ok(Input::Quit));
        assert_eq!(parse_line("::text"), Ok(Input::Chat(":text".into())));
        assert_eq!(parse_line("//x y"), Ok(Input::Chat("/x y".into())));
        assert_eq!(parse_line("   "), Ok(Input::Nothing));
        assert_eq!(
            parse_line(":connect 127.0.0.1 4000"),
            Ok(Input::Connect(PeerAddr { host: "127.0.0.1".into(), port: 4000 }))
        );
        assert_eq!(
            parse_line(":connect localhost:4000"),
            Ok(Input::Connect(PeerAddr { host: "localhost".into(), port: 4000 }))
        );
        assert_eq!(parse_line(":connect [::1]:4000"), Ok(Input::Connect(PeerAddr { host: "::1".into(), port: 4000 })));
        assert_eq!(
            parse_line(":msg bob  hi  there "),
            Ok(Input::Msg { name: "bob".into(), text: "hi  there ".into() })
        );
        assert_eq!(parse_line(":snapshot /tmp/x"), Ok(Input::Snapshot(Some("/tmp/x".into()))));
        assert_eq!(parse_line("/snapshot"), Ok(Input::Snapshot(None)));
    }

    #[test]
    fn snapshot_takes_the_rest_of_the_line_as_its_directory() {
        let dir = |d: &str| Ok(Input::Snapshot(Some(d.into())));
        assert_eq!(parse_line(":snapshot /tmp/my snaps"), dir("/tmp/my snaps"));
        assert_eq!(parse_line(":snapshot   /tmp/my  snaps  "), dir("/tmp/my  snaps"));
        assert_eq!(parse_line("/snapshot a b c\r\n"), dir("a b c"));
        assert_eq!(parse_line(":snapshot\tx\ty"), dir("x\ty"));
        assert_eq!(parse_command("snapshot my dir"), Some(dir("my dir")));
        assert_eq!(parse_line(":snapshot   "), Ok(Input::Snapshot(None)));
    }

    #[test]
    fn a_command_may_leave_its_prefix_out() {
        assert_eq!(parse_command("peers"), Some(Ok(Input::Peers)));
        assert_eq!(parse_command(":peers"), Some(Ok(Input::Peers)));
        assert_eq!(parse_command("/users"), Some(Ok(Input::Users)));
        assert_eq!(parse_command(":whois alice"), Some(Ok(Input::Whois("alice".into()))));
        assert!(matches!(parse_command(":whois"), Some(Err(e)) if e.contains("usage")));
        assert_eq!(parse_command("  connect h 1"), Some(Ok(Input::Connect(PeerAddr { host: "h".into(), port: 1 }))));
        assert_eq!(parse_command("msg bob hi"), Some(Ok(Input::Msg { name: "bob".into(), text: "hi".into() })));
        // Mistakes are worded as for the line with a ':' prefix.
        assert_eq!(parse_command("/quit now"), Some(parse_line(":quit now")));
        assert_eq!(parse_command("frob"), Some(parse_line(":frob")));
        assert_eq!(parse_command(""), Some(parse_line(":")));
        // A doubled prefix makes a chat line, not a command.
        assert_eq!(parse_command("::x"), None);
        assert_eq!(parse_command(":/x"), None);
        assert_eq!(parse_command("//x"), None);
    }

    #[test]
    fn history_takes_an_optional_count_and_search_the_rest_of_the_line() {
        assert_eq!(parse_line(":history"), Ok(Input::History(HISTORY_LINES)));
        assert_eq!(parse_line("/history 5"), Ok(Input::History(5)));
        assert_eq!(parse_line(":history 1000"), Ok(Input::History(1000)));
        assert!(parse_line(":history 0").is_err());
        assert!(parse_line(":history 1001").is_err());
        assert!(parse_line(":history many").is_err());
        assert!(parse_line(":history 1 2").is_err());
        assert_eq!(parse_line(":search  Hello  World "), Ok(Input::Search("Hello  World".into())));
        assert_eq!(parse_command("grep 50%"), Some(Ok(Input::Search("50%".into()))));
        assert!(parse_line(":search").is_err());
        assert!(parse_line(":search   ").is_err());
    }

    #[test]
    fn unknown_and_malformed_commands_are_errors() {
        assert!(parse_line(":frobnicate").is_err());
        assert!(parse_line(":connect").is_err());
        assert!(parse_line(":connect host 0").is_err());
        assert!(parse_line(":connect host 70000").is_err());
        assert!(parse_line(":connect bad_host! 1").is_err());
        assert!(parse_line(":connect [::1 1").is_err());
        assert!(parse_line(":quit now").is_err());
        assert!(parse_line(":").is_err());
        assert!(parse_line(":msg bob").is_err());
        assert!(parse_line(":msg").is_err());
    }
}
