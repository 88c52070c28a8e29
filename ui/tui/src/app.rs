//! The state of the chat window and what keys, typed lines and the node's events
//! do to it, apart from curses (the main loop feeds it, [`crate::render`] draws
//! it).
//!
//! Where things go:
//! - Chat messages go to the public room (session 0). A private message, the
//!   other member's or this node's own copy, goes to the private conversation
//!   with the other member, opened if needed; it never shows in the public room
//!   unless [`MAX_SESSIONS`](crate::sessions::MAX_SESSIONS) are open already.
//! - Joins and departures go to the public room, and to the conversation with
//!   that member if one is open.
//! - Other notices and errors (what `:users` prints, a refused command...) go to
//!   the session shown, where the user is looking.
//!
//! Lines typed: the commands below are this window's own ([`WindowCommand`]) and
//! never reach the node; every other line is parsed by the core's parser
//! ([`command::parse_line`]) and goes to the node as the [`Input`] it makes, except
//! chat typed in a private conversation, which becomes a private message
//! ([`Input::Msg`]) to the other member. A mistake in a line (an unknown command)
//! is shown here, worded by the core, as the node would have said it.
//!
//! ```text
//! :query NAME [TEXT]  open (and show) the private conversation with NAME
//! :msg NAME TEXT      (the node's command) also shows that conversation
//! :sessions           list the sessions: number, name, unread messages
//! :switch N           show session N (Alt+N does too; 0 is the public room)
//! :close [N]          close a private conversation (the one shown by default)
//! :help               the node's commands and these
//! ```

use p2pchat_core::Status;
use p2pchat_core::command::{self, Input};
use p2pchat_core::event::{Event, sanitize};

use crate::editor::Editor;
use crate::scrollback::{Line, Style};
use crate::sessions::Sessions;

/// Help for this window's own commands and keys, shown after the node's.
pub const TUI_HELP: &[&str] = &[
    ":query NAME [TEXT] open a private conversation with NAME (typing there sends :msg NAME)",
    ":sessions          list the conversations; 0 is the public room",
    ":switch N          show conversation N (or Alt+N; Ctrl+N / Ctrl+P: next, previous)",
    ":close [N]         close a private conversation (the one shown by default)",
    "keys: PageUp/PageDown or the mouse wheel scroll, Up/Down recall lines, Ctrl+A/E start/end,",
    "      Ctrl+U/K/W delete, Ctrl+Y paste back, Ctrl+L redraw, Ctrl+C quit",
    "      Tab completes a member's name; pressed again, it cycles through every name that fits",
    "      (Shift+Tab: backwards)",
    "      F2 shows/hides each member's key fingerprint in the member pane; :whois NAME tells more",
];

/// This window's section of `p2pchat-tui --help`: [`TUI_HELP`] under a heading
/// (for [`p2pchat_core::cli::parse_or_exit_with`]).
pub fn command_line_help() -> String {
    let mut text = String::from("Commands and keys of the window (:help there lists them too):\n");
    for line in TUI_HELP {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

/// A key, as the terminal layer decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Enter.
    Enter,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Cursor up (history).
    Up,
    /// Cursor down (history).
    Down,
    /// Home.
    Home,
    /// End.
    End,
    /// Ctrl+Left or Alt+B.
    WordLeft,
    /// Ctrl+Right or Alt+F.
    WordRight,
    /// PageUp.
    PageUp,
    /// PageDown.
    PageDown,
    /// Mouse wheel up.
    WheelUp,
    /// Mouse wheel down.
    WheelDown,
    /// Tab.
    Tab,
    /// Shift+Tab.
    BackTab,
    /// Ctrl and a letter (`Ctrl('u')`).
    Ctrl(char),
    /// Alt (or Esc) and a character.
    Alt(char),
    /// A function key: `F(2)` is F2.
    F(u8),
}

/// Rows the mouse wheel scrolls by.
const WHEEL_ROWS: usize = 3;

/// The chat window's state.
#[derive(Debug, Default)]
pub struct App {
    /// The conversations.
    pub sessions: Sessions,
    /// The input line.
    pub editor: Editor,
    /// The node's name, port, links and members, as last read.
    pub status: Status,
    /// Inputs to hand to the node.
    outgoing: Vec<Input>,
    /// The user asked to quit (the node is stopping).
    pub quitting: bool,
    /// The node has stopped: the program ends.
    pub stopped: bool,
    /// The screen must be repainted from scratch (Ctrl+L).
    pub repaint: bool,
    /// The member pane shows each member's key fingerprint after its name (F2
    /// toggles it; off at first, the pane being narrow).
    pub fingerprints: bool,
    /// Names that Tab goes through, while it is pressed again and again.
    cycle: Option<Cycle>,
}

/// Tab pressed again and again on a word several member names start with: the
/// names, in order, and the one in the line now.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cycle {
    /// Byte offset in the line where the completed word starts.
    start: usize,
    /// The candidates, sorted, without duplicates (at least two).
    names: Vec<String>,
    /// The one in the line now.
    index: usize,
    /// The line and the cursor as the last Tab left them: if they changed since,
    /// the next Tab completes afresh.
    line: String,
    cursor: usize,
}

impl App {
    /// A window with the public room alone.
    pub fn new() -> App {
        App::default()
    }

    /// Inputs for the node ([`p2pchat_core::Handle::send_input`]), oldest first,
    /// since the last call.
    pub fn take_outgoing(&mut self) -> Vec<Input> {
        std::mem::take(&mut self.outgoing)
    }

    /// Takes a new status; true if it differs from the last one (a redraw is
    /// due).
    pub fn set_status(&mut self, status: Status) -> bool {
        if status == self.status {
            return false;
        }
        self.status = status;
        true
    }

    /// Shows a notice in the session shown.
    pub fn notice(&mut self, text: &str) {
        let i = self.sessions.active_index();
        self.sessions.add(i, Line::named(Style::Notice, "INFO", &sanitize(text)), false);
    }

    /// Shows an error in the session shown.
    pub fn error(&mut self, text: &str) {
        let i = self.sessions.active_index();
        self.sessions.add(i, Line::named(Style::Error, "ERROR", &sanitize(text)), false);
    }

    /// Quits like `:quit` (once).
    pub fn quit(&mut self) {
        if !self.quitting {
            self.quitting = true;
            self.outgoing.push(Input::Quit);
        }
    }

    /// Takes an event from the node.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Stopped => self.stopped = true,
            Event::Message { from, text, private: true, to, .. } => {
                // Own copy: the conversation with the recipient; else with the sender.
                let peer = to.as_deref().unwrap_or(from);
                let line = Line::named(Style::Chat, &sanitize(from), &sanitize(text));
                match self.sessions.open(peer) {
                    Some(i) => self.sessions.add(i, line, to.is_none()),
                    None => {
                        // No room for another session: the public room, with the
                        // core's "[private] ..." wording.
                        if let Some((name, text)) = event.display() {
                            self.sessions.add(0, Line::named(Style::Chat, &name, &text), true);
                        }
                    }
                }
            }
            Event::Message { from, text, .. } => {
                self.sessions.add(0, Line::named(Style::Chat, &sanitize(from), &sanitize(text)), true);
            }
            Event::Joined { name, .. } | Event::Left { name, .. } => {
                if let Some((label, text)) = event.display() {
                    self.sessions.add(0, Line::named(Style::Notice, &label, &text), false);
                    if let Some(i) = self.sessions.find(name) {
                        self.sessions.add(i, Line::named(Style::Notice, &label, &text), false);
                    }
                }
            }
            Event::Members(_) | Event::Links(_) => {}
            // Saved history is drawn dimmed, like notices, in the public room.
            Event::Listening { .. } | Event::Renamed { .. } | Event::History(_) => {
                if let Some((label, text)) = event.display() {
                    self.sessions.add(0, Line::named(Style::Notice, &label, &text), false);
                }
            }
            Event::Notice(_) | Event::Error(_) => {
                if let Some((label, text)) = event.display() {
                    let style = if matches!(event, Event::Error(_)) { Style::Error } else { Style::Notice };
                    let i = self.sessions.active_index();
                    self.sessions.add(i, Line::named(style, &label, &text), false);
                }
            }
        }
    }

    /// Takes a key.
    pub fn on_key(&mut self, key: Key) {
        if !matches!(key, Key::Tab | Key::BackTab) {
            self.cycle = None;
        }
        let e = &mut self.editor;
        match key {
            Key::Char(c) => {
                e.insert_char(c);
            }
            Key::Enter => {
                let line = e.submit();
                self.submit(&line);
            }
            Key::Backspace | Key::Ctrl('h') => e.backspace(),
            Key::Delete => e.delete(),
            Key::Ctrl('d') if e.is_empty() => self.quit(),
            Key::Ctrl('d') => e.delete(),
            Key::Left | Key::Ctrl('b') => e.left(),
            Key::Right | Key::Ctrl('f') => e.right(),
            Key::Up => e.history_prev(),
            Key::Down => e.history_next(),
            Key::Home | Key::Ctrl('a') => e.home(),
            Key::End | Key::Ctrl('e') => e.end(),
            Key::WordLeft | Key::Alt('b') => e.word_left(),
            Key::WordRight | Key::Alt('f') => e.word_right(),
            Key::Alt('d') => e.kill_word_after(),
            Key::Ctrl('u') => e.kill_to_start(),
            Key::Ctrl('k') => e.kill_to_end(),
            Key::Ctrl('w') => e.kill_word_before(),
            Key::Ctrl('y') => e.yank(),
            Key::Ctrl('c') => self.quit(),
            Key::Ctrl('l') => self.repaint = true,
            Key::Ctrl('n') => self.sessions.next(),
            Key::Ctrl('p') => self.sessions.prev(),
            Key::Alt(c) if c.is_ascii_digit() => {
                let n = c.to_digit(10).map_or(0, |d| d as usize);
                if let Err(e) = self.sessions.switch(n) {
                    self.error(&e);
                }
            }
            Key::PageUp => self.sessions.active_mut().buffer.page_up(),
            Key::PageDown => self.sessions.active_mut().buffer.page_down(),
            Key::WheelUp => self.sessions.active_mut().buffer.scroll_up(WHEEL_ROWS),
            Key::WheelDown => self.sessions.active_mut().buffer.scroll_down(WHEEL_ROWS),
            Key::Tab => self.complete(true),
            Key::BackTab => self.complete(false),
            Key::F(2) => self.fingerprints = !self.fingerprints,
            Key::Ctrl(_) | Key::Alt(_) | Key::F(_) => {}
        }
    }

    /// Tab (`forward`) and Shift+Tab: completes the word before the cursor to a
    /// member's name, bash and irssi style. One name starts with it: that name
    /// and a space. Several: as far as they all agree; when that adds nothing
    /// (the word is already their common start), the first of them whole and a
    /// space, then each Tab in a row the next one instead (after the last, the
    /// first again), Shift+Tab the one before.
    fn complete(&mut self, forward: bool) {
        if let Some(cycle) = self.cycle.take()
            && cycle.line == self.editor.text()
            && cycle.cursor == self.editor.cursor()
        {
            let n = cycle.names.len();
            let index = if forward { (cycle.index + 1) % n } else { (cycle.index + n - 1) % n };
            return self.put_candidate(cycle, index);
        }
        let cursor = self.editor.cursor();
        let before = self.editor.text().get(..cursor).unwrap_or("");
        let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
        if word.is_empty() {
            return;
        }
        let start = cursor - word.len();
        let names: std::collections::BTreeSet<&str> =
            self.status.members.iter().map(|m| m.name.as_str()).filter(|n| n.starts_with(word)).collect();
        let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        let Some(first) = names.first() else { return };
        if names.len() == 1 {
            let add = format!("{} ", &first[word.len()..]);
            self.editor.insert_str(&add);
            return;
        }
        let mut common = first.len();
        for n in &names[1..] {
            common = common.min(first.bytes().zip(n.bytes()).take_while(|(a, b)| a == b).count());
        }
        while !first.is_char_boundary(common) {
            common -= 1;
        }
        if common > word.len() {
            let add = first[word.len()..common].to_owned();
            self.editor.insert_str(&add);
            return;
        }
        let index = if forward { 0 } else { names.len() - 1 };
        self.put_candidate(Cycle { start, names, index, line: String::new(), cursor: 0 }, index);
    }

    /// Puts candidate `index` of `cycle` (and a space) in place of what the
    /// cycle's word became, and keeps the cycle for the next Tab.
    fn put_candidate(&mut self, mut cycle: Cycle, index: usize) {
        let Some(name) = cycle.names.get(index) else { return };
        self.editor.replace_before_cursor(cycle.start, &format!("{name} "));
        cycle.index = index;
        cycle.line = self.editor.text().to_owned();
        cycle.cursor = self.editor.cursor();
        self.cycle = Some(cycle);
    }

    /// A line typed by the user (Enter).
    pub fn submit(&mut self, line: &str) {
        match parse_window_command(line) {
            Some(Ok(cmd)) => return self.run(cmd),
            Some(Err(msg)) => return self.error(&msg),
            None => {}
        }
        match command::parse_line(line) {
            Ok(Input::Nothing) => {}
            Ok(Input::Chat(text)) => match self.sessions.active().peer() {
                Some(name) => self.outgoing.push(Input::Msg { name: name.to_owned(), text }),
                None => self.outgoing.push(Input::Chat(text)),
            },
            Ok(Input::Msg { name, text }) => {
                self.show_query(&name);
                self.outgoing.push(Input::Msg { name, text });
            }
            Ok(Input::Quit) => {
                self.quitting = true;
                self.outgoing.push(Input::Quit);
            }
            Ok(input) => self.outgoing.push(input),
            // Shown where the node's answer would have gone: the session shown.
            Err(mistake) => self.error(&mistake),
        }
    }

    /// Opens and shows the conversation with `name` (not with oneself: the node
    /// refuses that message, and says so).
    fn show_query(&mut self, name: &str) {
        if name == self.status.name {
            return;
        }
        match self.sessions.open(name) {
            Some(i) => {
                let _ = self.sessions.switch(i);
            }
            None => {
                self.error(&format!("too many conversations open ({}); :close some", crate::sessions::MAX_SESSIONS))
            }
        }
    }

    fn run(&mut self, cmd: WindowCommand) {
        match cmd {
            WindowCommand::Query { name, .. } if name == self.status.name => {
                self.error("that is your own name: a private conversation needs another member");
            }
            // Like `:msg`, a conversation needs a member (one that left may still
            // have its session open: switching to it is fine).
            WindowCommand::Query { name, .. }
                if !self.status.members.iter().any(|m| m.name == name) && self.sessions.find(&name).is_none() =>
            {
                self.error(&format!("no member named {name}; :users lists them"));
            }
            WindowCommand::Query { name, text } => {
                self.show_query(&name);
                if let Some(text) = text {
                    self.outgoing.push(Input::Msg { name, text });
                }
            }
            WindowCommand::Sessions => {
                let list: Vec<String> = self
                    .sessions
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let shown = if i == self.sessions.active_index() { " (shown)" } else { "" };
                        let unread = if s.unread > 0 { format!(", {} unread", s.unread) } else { String::new() };
                        format!("{i}: {}{shown}{unread}", s.label())
                    })
                    .collect();
                self.notice(&format!("{}:", p2pchat_core::event::count(list.len(), "session", "sessions")));
                for l in list {
                    self.notice(&format!("  {l}"));
                }
            }
            WindowCommand::Switch(n) => {
                if let Err(e) = self.sessions.switch(n) {
                    self.error(&e);
                }
            }
            WindowCommand::Close(n) => {
                let n = n.unwrap_or(self.sessions.active_index());
                if let Err(e) = self.sessions.close(n) {
                    self.error(&e);
                }
            }
            WindowCommand::Help => {
                for line in command::HELP.iter().chain(TUI_HELP) {
                    self.notice(line);
                }
            }
        }
    }
}

/// A command of this window's own, handled here and never sent to the node (the
/// node's commands are [`Input`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowCommand {
    /// `:query NAME [TEXT]`.
    Query {
        /// The other member.
        name: String,
        /// A first message, if given.
        text: Option<String>,
    },
    /// `:sessions`.
    Sessions,
    /// `:switch N`.
    Switch(usize),
    /// `:close [N]`.
    Close(Option<usize>),
    /// `:help` (the node's commands and this window's).
    Help,
}

/// This window's own commands: `None` for anything else (chat, the node's
/// commands, a doubled prefix), `Some(Err(message))` for one of them misused.
pub fn parse_window_command(line: &str) -> Option<Result<WindowCommand, String>> {
    let line = line.trim_end();
    let prefix = line.chars().next().filter(|c| *c == ':' || *c == '/')?;
    let rest = &line[1..];
    if rest.starts_with(prefix) {
        return None;
    }
    let rest = rest.trim_start();
    let (cmd, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim_start();
    let number =
        |usage: &str| -> Result<usize, String> { args.parse::<usize>().map_err(|_| format!("usage: {prefix}{usage}")) };
    Some(match cmd {
        "query" => {
            let (name, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let text = text.trim_start();
            if name.is_empty() {
                Err(format!("usage: {prefix}query NAME [TEXT]"))
            } else {
                Ok(WindowCommand::Query { name: name.to_owned(), text: (!text.is_empty()).then(|| text.to_owned()) })
            }
        }
        "sessions" | "windows" if args.is_empty() => Ok(WindowCommand::Sessions),
        "sessions" | "windows" => Err(format!("{prefix}{cmd} takes no arguments")),
        "switch" | "win" => number("switch N").map(WindowCommand::Switch),
        "close" if args.is_empty() => Ok(WindowCommand::Close(None)),
        "close" => number("close [N]").map(|n| WindowCommand::Close(Some(n))),
        // With arguments it is the node's to refuse.
        "help" | "h" | "?" if args.is_empty() => Ok(WindowCommand::Help),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
