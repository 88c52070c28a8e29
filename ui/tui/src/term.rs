//! The terminal: curses set up and torn down, keys read and decoded.
//!
//! Every curses call of the program happens on the thread that created the
//! [`Terminal`] (the main thread's UI loop). The terminal is restored on every
//! way out:
//! - dropping the [`Terminal`] calls `endwin` (a normal quit, an early return,
//!   and the unwinding of a panic);
//! - a panic hook calls `endwin` *before* the panic message is printed when the
//!   UI thread panics, so the message lands on a sane terminal; a panic on
//!   another thread must not touch curses, so its message is kept and printed
//!   once the terminal is restored ([`take_deferred_panics`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use ncurses as nc;
use p2pchat_core::cli::{TerminalProblem, terminal_error};

use crate::app::Key;
use crate::render::NAME_COLORS;

/// True while curses owns the terminal.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that may call curses.
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Panic messages of other threads, printed once the terminal is restored.
static DEFERRED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: std::sync::Once = std::sync::Once::new();

/// How long an Esc waits for the rest of a sequence, in ms.
const ESC_DELAY_MS: i32 = 25;
/// Longest escape sequence read after Esc `[` or Esc `O`.
const MAX_SEQUENCE: usize = 16;

fn on_ui_thread() -> bool {
    UI_THREAD.get() == Some(&std::thread::current().id())
}

/// Ends curses mode if it is on (idempotent). Only on the UI thread.
fn restore() {
    if on_ui_thread() && ACTIVE.swap(false, Ordering::SeqCst) {
        nc::endwin();
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                if on_ui_thread() {
                    restore();
                } else {
                    // Printing now would scribble over the screen curses owns.
                    let thread = std::thread::current().name().unwrap_or("<unnamed>").to_owned();
                    DEFERRED
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!("thread '{thread}' panicked: {info}"));
                    return;
                }
            }
            default(info);
        }));
    });
}

/// Panic messages of other threads kept while curses owned the terminal.
pub fn take_deferred_panics() -> Vec<String> {
    std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(PoisonError::into_inner))
}

/// What reading the keyboard gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A key for the application.
    Key(Key),
    /// The terminal changed size.
    Resize,
    /// Nothing within the time allowed.
    Nothing,
    /// A key this program does not use.
    Ignored,
}

/// Curses mode, from [`Terminal::start`] until dropped.
#[derive(Debug)]
pub struct Terminal {
    colors: bool,
}

impl Terminal {
    /// Sets the locale from the environment (for UTF-8), installs the panic hook
    /// and enters curses mode: raw keys (Ctrl+C is a key), no echo, keypad,
    /// colours where the terminal has them, wheel events where it sends them.
    /// Must be called on the thread that will make every other curses call.
    /// Fails, with the core's message for the user (which points to
    /// `--headless`), if `TERM` is unset or names a terminal type the terminal
    /// database does not know; the caller has checked that stdin and stdout are
    /// terminals. (`newterm`, unlike `initscr`, returns instead of printing
    /// "Error opening terminal" and exiting.)
    pub fn start() -> Result<Terminal, String> {
        let term = std::env::var("TERM").unwrap_or_default();
        if term.is_empty() {
            return Err(terminal_error(TerminalProblem::TermUnset));
        }
        let _ = nc::setlocale(nc::LcCategory::all, "");
        let _ = UI_THREAD.set(std::thread::current().id());
        install_panic_hook();
        // NULL streams are stdout and stdin; the type is TERM's.
        match nc::newterm(None, std::ptr::null_mut(), std::ptr::null_mut()) {
            Ok(screen) if !screen.is_null() => {}
            _ => return Err(terminal_error(TerminalProblem::UnknownTerm(&term))),
        }
        ACTIVE.store(true, Ordering::SeqCst);
        nc::raw();
        nc::noecho();
        nc::nonl();
        nc::keypad(nc::stdscr(), true);
        nc::set_escdelay(ESC_DELAY_MS);
        nc::curs_set(nc::CURSOR_VISIBILITY::CURSOR_VISIBLE);
        let colors = nc::has_colors();
        if colors {
            nc::start_color();
            nc::use_default_colors();
            for (i, c) in (1i16..).zip(NAME_COLORS) {
                nc::init_pair(i, c, -1);
            }
        }
        // Only the wheel: clicks are left alone as far as the terminal allows.
        let wheel = (nc::BUTTON4_PRESSED | nc::BUTTON5_PRESSED) as nc::mmask_t;
        nc::mousemask(wheel, None);
        nc::mouseinterval(0);
        Ok(Terminal { colors })
    }

    /// True when colours are in use.
    pub fn colors(&self) -> bool {
        self.colors
    }

    /// The screen's size: rows, columns.
    pub fn size(&self) -> (usize, usize) {
        let (mut rows, mut cols) = (0, 0);
        nc::getmaxyx(nc::stdscr(), &mut rows, &mut cols);
        (usize::try_from(rows).unwrap_or(0), usize::try_from(cols).unwrap_or(0))
    }

    /// Reads one key, waiting at most `wait` (zero: only what is there).
    pub fn read(&mut self, wait: Duration) -> Input {
        nc::timeout(i32::try_from(wait.as_millis()).unwrap_or(i32::MAX));
        match nc::get_wch() {
            None => Input::Nothing,
            Some(nc::WchResult::KeyCode(code)) => decode_code(code),
            Some(nc::WchResult::Char(27)) => self.escape(),
            Some(nc::WchResult::Char(c)) => decode_char(c),
        }
    }

    /// After Esc: Alt+key, an escape sequence curses did not know, or Esc alone.
    fn escape(&mut self) -> Input {
        nc::timeout(ESC_DELAY_MS);
        match nc::get_wch() {
            None | Some(nc::WchResult::Char(27)) => Input::Ignored,
            Some(nc::WchResult::KeyCode(_)) => Input::Ignored,
            Some(nc::WchResult::Char(c)) if c == u32::from('[') || c == u32::from('O') => {
                let mut seq = String::new();
                for _ in 0..MAX_SEQUENCE {
                    match nc::get_wch() {
                        Some(nc::WchResult::Char(c)) => {
                            let Some(ch) = char::from_u32(c) else { break };
                            seq.push(ch);
                            // The final byte of a CSI sequence.
                            if ('\u{40}'..='\u{7e}').contains(&ch) {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                decode_sequence(&seq)
            }
            Some(nc::WchResult::Char(c)) => match char::from_u32(c) {
                Some(ch) if !ch.is_control() => Input::Key(Key::Alt(ch)),
                _ => Input::Ignored,
            },
        }
    }

    /// Repaints everything at the next refresh (after a resize).
    pub fn touch(&mut self) {
        nc::clearok(nc::curscr(), true);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        restore();
    }
}

/// A plain character (not a curses key code).
fn decode_char(c: u32) -> Input {
    let key = match c {
        13 | 10 => Key::Enter,
        127 | 8 => Key::Backspace,
        9 => Key::Tab,
        1..=26 => match char::from_u32(c + 96) {
            Some(letter) => Key::Ctrl(letter),
            None => return Input::Ignored,
        },
        _ => match char::from_u32(c) {
            Some(ch) if !ch.is_control() => Key::Char(ch),
            _ => return Input::Ignored,
        },
    };
    Input::Key(key)
}

/// A curses key code.
fn decode_code(code: i32) -> Input {
    let key = match code {
        nc::KEY_ENTER => Key::Enter,
        nc::KEY_BACKSPACE => Key::Backspace,
        nc::KEY_DC => Key::Delete,
        nc::KEY_LEFT => Key::Left,
        nc::KEY_RIGHT => Key::Right,
        nc::KEY_UP => Key::Up,
        nc::KEY_DOWN => Key::Down,
        nc::KEY_HOME | nc::KEY_FIND => Key::Home,
        nc::KEY_END | nc::KEY_SELECT => Key::End,
        nc::KEY_PPAGE => Key::PageUp,
        nc::KEY_NPAGE => Key::PageDown,
        nc::KEY_BTAB => Key::BackTab,
        c if (nc::KEY_F(1)..=nc::KEY_F(12)).contains(&c) => match u8::try_from(c - nc::KEY_F0) {
            Ok(n) => Key::F(n),
            Err(_) => return Input::Ignored,
        },
        nc::KEY_RESIZE => return Input::Resize,
        nc::KEY_MOUSE => return wheel(),
        _ => match nc::keyname(code).as_deref() {
            // Ctrl+Left / Ctrl+Right, where terminfo knows them.
            Some("kLFT5" | "kLFT3") => Key::WordLeft,
            Some("kRIT5" | "kRIT3") => Key::WordRight,
            _ => return Input::Ignored,
        },
    };
    Input::Key(key)
}

/// A mouse event: the wheel scrolls, the rest is ignored.
fn wheel() -> Input {
    let mut event = nc::MEVENT { id: 0, x: 0, y: 0, z: 0, bstate: 0 };
    if nc::getmouse(&mut event) != nc::OK {
        return Input::Ignored;
    }
    if event.bstate & (nc::BUTTON4_PRESSED as nc::mmask_t) != 0 {
        Input::Key(Key::WheelUp)
    } else if event.bstate & (nc::BUTTON5_PRESSED as nc::mmask_t) != 0 {
        Input::Key(Key::WheelDown)
    } else {
        Input::Ignored
    }
}

/// The rest of an escape sequence that curses did not decode (after Esc `[` or
/// Esc `O`).
fn decode_sequence(seq: &str) -> Input {
    let key = match seq {
        "1;5D" | "1;3D" | "5D" => Key::WordLeft,
        "1;5C" | "1;3C" | "5C" => Key::WordRight,
        "H" | "1~" | "7~" => Key::Home,
        "F" | "4~" | "8~" => Key::End,
        "5~" => Key::PageUp,
        "6~" => Key::PageDown,
        "3~" => Key::Delete,
        "A" => Key::Up,
        "B" => Key::Down,
        "C" => Key::Right,
        "D" => Key::Left,
        "Z" => Key::BackTab,
        // F2: Esc O Q (VT100, xterm), Esc [ 1 2 ~ (rxvt and older xterms).
        "Q" | "12~" => Key::F(2),
        _ => return Input::Ignored,
    };
    Input::Key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_keys_and_are_never_inserted() {
        assert_eq!(decode_char(13), Input::Key(Key::Enter));
        assert_eq!(decode_char(127), Input::Key(Key::Backspace));
        assert_eq!(decode_char(21), Input::Key(Key::Ctrl('u')));
        assert_eq!(decode_char(23), Input::Key(Key::Ctrl('w')));
        assert_eq!(decode_char(3), Input::Key(Key::Ctrl('c')));
        assert_eq!(decode_char(0), Input::Ignored);
        assert_eq!(decode_char(0x9b), Input::Ignored);
        assert_eq!(decode_char(0xd800), Input::Ignored);
        assert_eq!(decode_char(u32::from('日')), Input::Key(Key::Char('日')));
    }

    #[test]
    fn unknown_sequences_are_swallowed_whole() {
        assert_eq!(decode_sequence("1;5D"), Input::Key(Key::WordLeft));
        assert_eq!(decode_sequence("5~"), Input::Key(Key::PageUp));
        assert_eq!(decode_sequence("Z"), Input::Key(Key::BackTab));
        assert_eq!(decode_sequence("Q"), Input::Key(Key::F(2)));
        assert_eq!(decode_sequence("12~"), Input::Key(Key::F(2)));
        assert_eq!(decode_sequence("200~"), Input::Ignored);
    }

    #[test]
    fn function_keys_are_numbered() {
        assert_eq!(decode_code(nc::KEY_F(2)), Input::Key(Key::F(2)));
        assert_eq!(decode_code(nc::KEY_F(12)), Input::Key(Key::F(12)));
    }
}
