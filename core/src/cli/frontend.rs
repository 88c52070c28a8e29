//! What every frontend says the same way when it cannot go on: a command line that
//! is not run ([`CliError::report`]), a terminal it cannot drive
//! ([`terminal_error`]), a node that cannot start ([`start_error`]).

use std::io::{self, Write as _};
use std::net::SocketAddr;

use super::CliError;
use crate::config::Config;

/// The line printed under a usage error.
pub fn hint(program: &str) -> String {
    format!("Try '{program} --help' for more information.")
}

impl CliError {
    /// The process exit status: 0 for help and version, 2 for a usage error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Help(_) | CliError::Version(_) => 0,
            CliError::Usage(_) => 2,
        }
    }

    /// Prints this the way every frontend does, flushed, and returns
    /// [`exit_code`](Self::exit_code): the help or the version on stdout; a usage
    /// error on stderr as `p2pchat: MESSAGE`, then [`hint`] naming `program`.
    /// A closed stream is ignored: there is no one left to tell.
    pub fn report(&self, program: &str) -> i32 {
        match self {
            CliError::Help(text) | CliError::Version(text) => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{text}").and_then(|()| out.flush());
            }
            CliError::Usage(msg) => {
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "p2pchat: {msg}\n{}", hint(program)).and_then(|()| err.flush());
            }
        }
        self.exit_code()
    }
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

/// The message (for stderr, after `p2pchat: `) for a node that could not start;
/// every frontend prints it and exits with status 1. Errors that carry a message
/// of their own (the core says what it was doing) are shown as they are; a bare
/// system error is put in context as a failure to listen.
pub fn start_error(config: &Config, e: &io::Error) -> String {
    if e.get_ref().is_some() {
        e.to_string()
    } else {
        format!("cannot listen on {}: {e}", SocketAddr::new(config.bind, config.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_zero_for_help_and_version_and_two_for_usage() {
        assert_eq!(CliError::Help(String::new()).exit_code(), 0);
        assert_eq!(CliError::Version(String::new()).exit_code(), 0);
        assert_eq!(CliError::Usage(String::new()).exit_code(), 2);
    }

    #[test]
    fn hint_names_the_program() {
        assert_eq!(hint("p2pchat"), "Try 'p2pchat --help' for more information.");
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
    fn a_start_error_with_a_message_is_shown_as_is_and_a_bare_one_gets_context() {
        let mut config = Config::new("alice");
        config.bind = "127.0.0.1".parse().expect("address");
        config.port = 4000;
        let bare = io::Error::from(io::ErrorKind::AddrInUse);
        assert!(start_error(&config, &bare).starts_with("cannot listen on 127.0.0.1:4000: "));
        let own = io::Error::other("cannot open the log file x: denied");
        assert_eq!(start_error(&config, &own), "cannot open the log file x: denied");
    }
}
