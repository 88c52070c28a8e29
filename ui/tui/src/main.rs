//! `p2pchat-tui`: the p2pchat terminal window, over the same core as `./p2pchat`.
//!
//! ```text
//! p2pchat-tui [OPTIONS] NAME [HOST PORT]      (p2pchat-tui --help for the options)
//! ```
//!
//! The command line is the core's ([`p2pchat_core::cli`]), so it is the same as
//! `./p2pchat`'s; `--headless` and `--json` run the core's line modes
//! ([`p2pchat_core::headless`]), so scripts cannot tell the two programs apart.
//! Otherwise the node runs on its own thread behind a [`Handle`], its events
//! arriving on a channel, and the main thread is the UI thread: it takes the
//! events, reads keys with a short timeout and redraws; it is the only thread
//! that calls curses.
//!
//! `P2PCHAT_TUI_TEST_PANIC` set in the environment makes the window panic on the
//! UI thread right after it first draws: the terminal test uses it to check that
//! a panic leaves a usable terminal.
//!
//! Exit status: 0 after a normal quit (`:quit`, Ctrl+C, Ctrl+D on an empty line,
//! SIGTERM, SIGHUP, SIGINT), `--help` or `--version`; 1 if the node cannot start
//! or the program is not run in a terminal curses can drive (`TERM` unset or
//! unknown: the message points to `--headless`); 2 for a bad command line.
#![forbid(unsafe_code)]

use std::io::{self, IsTerminal};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use p2pchat_core::cli;
use p2pchat_core::{Config, Event, Handle, HandleError, Mode, headless, signals};

use p2pchat_tui::app::{self, App};
use p2pchat_tui::render;
use p2pchat_tui::term::{self, Input, Terminal};

/// Longest wait for a key before looking at the node's events again.
const KEY_WAIT: Duration = Duration::from_millis(40);
/// Keys handled in a row before the screen is redrawn (a paste).
const KEYS_PER_BATCH: usize = 512;
/// How often the member list and status line are refreshed from the node.
const STATUS_EVERY: Duration = Duration::from_millis(200);
/// After `:quit`, how long to wait for the node to stop before leaving anyway.
const QUIT_GRACE: Duration = Duration::from_secs(5);
/// Reads that fail at once, in a row, taken as a terminal that went away.
const HANG_UP_READS: u32 = 50;

fn main() {
    let config = cli::parse_or_exit_with("p2pchat-tui", &app::command_line_help());
    match config.mode {
        Mode::Headless | Mode::Json => std::process::exit(headless::run(&config)),
        Mode::Ui => std::process::exit(run(&config)),
    }
}

/// The interactive window; returns the exit status.
fn run(config: &Config) -> i32 {
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        eprintln!("p2pchat: {}", cli::terminal_error(cli::TerminalProblem::NotATerminal));
        return 1;
    }
    // Signals that would kill the program mid-screen quit the node like :quit
    // instead; its Stopped event ends the window. (Registered before curses
    // starts, which then leaves them alone.)
    if let Err(e) = signals::quit_on_signals() {
        eprintln!("p2pchat: {e}");
    }

    // The terminal before the node, so that a terminal curses cannot drive is
    // refused before anything listens.
    let mut terminal = match Terminal::start() {
        Ok(terminal) => terminal,
        Err(msg) => {
            eprintln!("p2pchat: {msg}");
            return 1;
        }
    };
    let (handle, events) = match Handle::start_with_channel(config) {
        Ok(started) => started,
        Err(e) => {
            drop(terminal);
            eprintln!("p2pchat: {}", cli::start_error(config, &e));
            return 1;
        }
    };
    let status = ui_loop(&mut terminal, &handle, &events);
    drop(terminal);
    let panics = term::take_deferred_panics();
    for p in &panics {
        eprintln!("{p}");
    }
    // Usually stopped already; else quits now (goodbyes flushed for about a second).
    handle.stop();
    if panics.is_empty() { status } else { 1 }
}

/// Runs the window until the node stops; returns the exit status.
fn ui_loop(terminal: &mut Terminal, handle: &Handle, events: &Receiver<Event>) -> i32 {
    let mut app = App::new();
    app.set_status(handle.status());
    let mut size = (0, 0);
    let mut lay = render::layout(1, 1);
    let mut dirty = true;
    let mut status_at = Instant::now();
    let mut quit_deadline: Option<Instant> = None;
    let mut failed_reads = 0;
    let test_panic = std::env::var_os("P2PCHAT_TUI_TEST_PANIC").is_some();

    loop {
        loop {
            match events.try_recv() {
                Ok(event) => {
                    app.on_event(&event);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    app.stopped = true;
                    break;
                }
            }
        }
        if app.stopped {
            return 0;
        }
        if status_at.elapsed() >= STATUS_EVERY {
            dirty |= app.set_status(handle.status());
            status_at = Instant::now();
        }
        for input in app.take_outgoing() {
            dirty = true;
            match handle.send_input(input) {
                Ok(()) => {}
                Err(HandleError::Stopped) => app.quitting = true,
                Err(e) => app.error(&format!("{e}; it was not sent")),
            }
        }
        if app.quitting {
            let deadline = *quit_deadline.get_or_insert_with(|| Instant::now() + QUIT_GRACE);
            if Instant::now() >= deadline {
                return 0;
            }
        }

        let now_size = terminal.size();
        if now_size != size {
            size = now_size;
            lay = render::layout(size.0, size.1);
            app.sessions.set_size(lay.messages.w, lay.messages.h);
            dirty = true;
        }
        if dirty {
            render::draw(&mut app, &lay, terminal.colors());
            dirty = false;
            if test_panic {
                panic!("P2PCHAT_TUI_TEST_PANIC is set: a deliberate panic on the UI thread");
            }
        }

        // Keys: wait a little for the first, then take what is already there.
        let mut wait = KEY_WAIT;
        for _ in 0..KEYS_PER_BATCH {
            let asked = Instant::now();
            match terminal.read(wait) {
                Input::Nothing => {
                    // A read that fails at once, again and again, is a terminal
                    // that went away (end of file on stdin).
                    if wait > Duration::ZERO && asked.elapsed() < wait / 2 {
                        failed_reads += 1;
                        if failed_reads >= HANG_UP_READS {
                            app.quit();
                            std::thread::sleep(KEY_WAIT);
                        }
                    } else {
                        failed_reads = 0;
                    }
                    break;
                }
                Input::Key(key) => {
                    failed_reads = 0;
                    app.on_key(key);
                    dirty = true;
                }
                Input::Resize => {
                    terminal.touch();
                    dirty = true;
                }
                Input::Ignored => {}
            }
            wait = Duration::ZERO;
        }
    }
}
