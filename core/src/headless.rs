//! The `--headless` and `--json` modes, shared by every frontend.
//!
//! [`run`] starts a node and connects it to the process's standard streams:
//!
//! - **Output.** Every event the user would see is printed to stdout, one line
//!   each: [`Event::to_line`] (`NAME: TEXT`, `INFO: ...`, `ERROR: ...`) in
//!   [`Mode::Headless`], [`Event::to_json`] in [`Mode::Json`]. Lines are printed on
//!   the network thread through the locked stdout, the lines of one turn of its
//!   loop ([`Handle::start_batched`]) with one write, flushed at once: a program
//!   reading through a pipe sees them live, and a flood costs one write per turn,
//!   not one per line.
//! - **Input.** Stdin is read line by line on a thread of its own and every line is
//!   passed to [`Handle::send_line`] (chat, or a `:command`). A line may end with
//!   `\n` or `\r\n`; the last line needs no newline. Bytes that are not UTF-8 are
//!   replaced with U+FFFD (lossy conversion), without a warning. A line longer than
//!   [`MAX_INPUT_LINE`] bytes is skipped whole and reported as an error event; the
//!   node itself refuses texts over its own, smaller, limit with an error event.
//! - **End.** End of input means `:quit`, once a join in progress has completed
//!   and each neighbour has been handed what was typed ([`Input::EndOfInput`],
//!   bounded by [`crate::node::FINISH_TIMEOUT`]): so `printf 'hi\n' | p2pchat
//!   --headless NAME HOST PORT` delivers its line. The node then sends what is
//!   queued, says goodbye and stops, and [`run`] returns 0, or 1 when some of what
//!   was typed reached no neighbour (an error event says how much). If the node
//!   stops by itself (the user typed `:quit`), [`run`] returns 0 at once, even
//!   though stdin is still open;
//!   the stdin thread is then left blocked in its read, which ends with the
//!   process (a later line finds the node stopped and ends the thread).
//! - **Broken output.** If stdout cannot be written (`EPIPE`: the reader went
//!   away), nothing panics: a message goes to stderr, the node quits like `:quit`,
//!   and [`run`] returns 1. (Rust programs ignore `SIGPIPE`; a C program calling
//!   this through the FFI must ignore it too, `signal(SIGPIPE, SIG_IGN)`, or it is
//!   killed by the first write to a closed pipe.)
//! - **Signals.** SIGTERM, SIGHUP and SIGINT quit like `:quit` ([`crate::signals`]):
//!   the node says goodbye and [`run`] returns 0.
//! - **Start-up failure.** If the node cannot start (the address is in use, say),
//!   `p2pchat: cannot listen on ADDR:PORT: REASON` (or the core's own message,
//!   when the error carries one: [`crate::cli::start_error`], as every frontend
//!   says it) goes to stderr and [`run`] returns 1.
//!
//! Reading stdin after `run` returns is not supported: the stdin thread may still
//! own the lock of [`std::io::Stdin`].

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::command::Input;
use crate::config::{Config, Mode};
use crate::event::Event;
use crate::handle::Handle;

/// Longest input line passed on to the node, in bytes (without the newline).
pub const MAX_INPUT_LINE: usize = 64 * 1024;

/// How often [`run`] checks that the node still runs while it waits for input to
/// end or the node to stop (a safety net: it is woken up as soon as either happens).
const SAFETY_POLL: Duration = Duration::from_millis(500);

/// Why the calling thread wakes up.
#[derive(Debug)]
enum Wake {
    /// Stdin ended (or could not be read): quit.
    EndOfInput,
    /// The node stopped by itself ([`Event::Stopped`]).
    Stopped,
    /// Stdout could not be written: quit.
    OutputBroken,
}

/// Prints event lines to stdout, and remembers when that stopped working.
#[derive(Debug)]
struct Output {
    mode: Mode,
    /// Set once a write failed; nothing is written after that.
    broken: AtomicBool,
    /// Serialises lines from the network thread and the stdin thread. (The stdout
    /// lock alone would too; this one also keeps the "broken" report single.)
    lock: Mutex<()>,
    wake: Sender<Wake>,
}

impl Output {
    fn render(&self, event: &Event) -> Option<String> {
        match self.mode {
            Mode::Json => event.to_json(),
            Mode::Headless | Mode::Ui => event.to_line(),
        }
    }

    /// Prints `event` if it is shown, flushed. Never panics.
    fn print(&self, event: &Event) {
        self.print_all(std::slice::from_ref(event));
    }

    /// Prints the events that are shown, a line each, with one write, flushed.
    /// Never panics.
    fn print_all(&self, events: &[Event]) {
        let mut text = String::new();
        for line in events.iter().filter_map(|e| self.render(e)) {
            text.push_str(&line);
            text.push('\n');
        }
        if text.is_empty() {
            return;
        }
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if self.broken.load(Ordering::SeqCst) {
            return;
        }
        let mut out = io::stdout().lock();
        let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        if let Err(e) = result {
            self.broken.store(true, Ordering::SeqCst);
            // Stderr may be gone too; nothing more can be done about it.
            let _ = writeln!(io::stderr(), "p2pchat: cannot write to stdout: {e}; quitting");
            self.notify(Wake::OutputBroken);
        }
    }

    fn notify(&self, wake: Wake) {
        // The receiver is gone only once `run` has returned; nothing to tell then.
        let _ = self.wake.send(wake);
    }
}

/// Runs a node in `--headless` or `--json` mode ([`Mode::Ui`] is treated as
/// `--headless`) until the user quits or stdin ends, and returns the process exit
/// status: 0 on a normal quit, 1 when the node could not start or stdout broke.
/// See the [module documentation](self) for the details.
pub fn run(config: &Config) -> i32 {
    // SIGTERM, SIGHUP and SIGINT quit like `:quit` (goodbye, status 0).
    if let Err(e) = crate::signals::quit_on_signals() {
        let _ = writeln!(io::stderr(), "p2pchat: {e}");
    }
    let (wake_tx, wake_rx) = mpsc::channel();
    let output =
        Arc::new(Output { mode: config.mode, broken: AtomicBool::new(false), lock: Mutex::new(()), wake: wake_tx });

    let events = Arc::clone(&output);
    let handle = match Handle::start_batched(config, move |batch| {
        events.print_all(batch);
        if batch.iter().any(|e| matches!(e, Event::Stopped)) {
            events.notify(Wake::Stopped);
        }
    }) {
        Ok(handle) => handle,
        Err(e) => {
            let _ = writeln!(io::stderr(), "p2pchat: {}", crate::cli::start_error(config, &e));
            return 1;
        }
    };

    let input = Arc::clone(&output);
    let input_handle = handle.clone();
    let reader = std::thread::Builder::new().name("p2pchat-stdin".into()).spawn(move || {
        read_input(io::stdin().lock(), &input_handle, &input);
        input.notify(Wake::EndOfInput);
    });
    if let Err(e) = reader {
        let _ = writeln!(io::stderr(), "p2pchat: cannot start the input thread: {e}");
        handle.stop();
        return 1;
    }

    match wait(&wake_rx, &handle) {
        Wake::EndOfInput => {
            // Let a join in progress complete and what was typed reach a
            // neighbour first (the node bounds that wait), then quit.
            if handle.send_input(Input::EndOfInput).is_ok() {
                handle.join();
            } else {
                handle.stop();
            }
            let undelivered = handle.status().undelivered > 0;
            i32::from(output.broken.load(Ordering::SeqCst) || undelivered)
        }
        Wake::OutputBroken => {
            // A write that fails while stopping does not change a normal quit's
            // status: everything that mattered was written.
            let broken = output.broken.load(Ordering::SeqCst);
            handle.stop();
            i32::from(broken)
        }
        Wake::Stopped => {
            handle.join();
            0
        }
    }
}

/// Waits for the first reason to wake up. [`Event::Stopped`] is always the last
/// event; should the network thread end without it (a bug), the node is found
/// stopped within [`SAFETY_POLL`] all the same.
fn wait(wake: &Receiver<Wake>, handle: &Handle) -> Wake {
    loop {
        match wake.recv_timeout(SAFETY_POLL) {
            Ok(reason) => return reason,
            Err(RecvTimeoutError::Timeout) if handle.is_running() => {}
            Err(_) => return Wake::Stopped,
        }
    }
}

/// Reads lines from `input` and sends them to the node until end of input, a read
/// error (reported on stderr) or the node stopping.
fn read_input(mut input: impl BufRead, handle: &Handle, output: &Output) {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_line_capped(&mut input, &mut buf, MAX_INPUT_LINE) {
            Ok(Line::End) => return,
            Ok(Line::Read) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                }
                let line = String::from_utf8_lossy(&buf);
                if handle.send_line(&line).is_err() {
                    return; // stopped
                }
            }
            Ok(Line::TooLong(len)) => output.print(&Event::Error(format!(
                "input line too long ({len} bytes or more); the limit is {MAX_INPUT_LINE} bytes; it was not sent"
            ))),
            Err(e) => {
                let _ = writeln!(io::stderr(), "p2pchat: cannot read stdin: {e}; quitting");
                return;
            }
        }
    }
}

/// What [`read_line_capped`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line (ending with `\n`, or the last one without it) is in the buffer.
    Read,
    /// End of input, nothing read.
    End,
    /// The line was longer than the cap (at least this many bytes); it was
    /// skipped up to and including its newline.
    TooLong(usize),
}

/// Reads one line into `buf` (newline included) unless it is longer than `cap`
/// bytes without its newline, in which case the rest of it is skipped without
/// being stored: memory stays bounded whatever the input.
fn read_line_capped(input: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<Line> {
    // `cap + 1` bytes hold the longest line allowed and its newline.
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let n = input.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') || n < cap + 1 {
        return Ok(Line::Read);
    }
    // Over the cap: skip to the end of the line.
    let mut skipped = n;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Line::TooLong(skipped));
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(Line::TooLong(skipped + i));
            }
            None => {
                let len = chunk.len();
                input.consume(len);
                skipped += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<Result<String, usize>> {
        let mut input = io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for _ in 0..100 {
            buf.clear();
            match read_line_capped(&mut input, &mut buf, cap).expect("reading a slice") {
                Line::End => return out,
                Line::Read => out.push(Ok(String::from_utf8_lossy(&buf).into_owned())),
                Line::TooLong(n) => out.push(Err(n)),
            }
        }
        panic!("no end of input");
    }

    #[test]
    fn lines_are_read_with_their_newline_and_the_last_may_lack_it() {
        assert_eq!(
            lines(b"a\nbc\r\n\nlast", 10),
            [Ok("a\n".into()), Ok("bc\r\n".into()), Ok("\n".into()), Ok("last".into())]
        );
        assert_eq!(lines(b"", 10), []);
    }

    #[test]
    fn a_line_at_the_cap_passes_and_a_longer_one_is_skipped_whole() {
        assert_eq!(lines(b"12345\nok\n", 5), [Ok("12345\n".into()), Ok("ok\n".into())]);
        assert_eq!(lines(b"123456\nok\n", 5), [Err(6), Ok("ok\n".into())]);
        assert_eq!(lines(b"123456789012345678901234567890\nok", 5), [Err(30), Ok("ok".into())]);
        assert_eq!(lines(b"12345", 5), [Ok("12345".into())]);
        assert_eq!(lines(b"1234567", 5), [Err(7)]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(b"caf\xe9\n", 10), [Ok("caf\u{fffd}\n".into())]);
    }
}
