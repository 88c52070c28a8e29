//! The parts of `p2pchat-tui`, the p2pchat terminal window (the binary is
//! `src/main.rs`).
//!
//! The models are apart from curses and unit-tested: [`editor`] (the input
//! line), [`scrollback`] (a message pane's lines and scroll position),
//! [`sessions`] (the public room and private conversations) and [`app`] (what
//! keys, typed lines and the node's events do). [`render`] draws them and
//! [`term`] owns the terminal; both call curses and must run on the UI thread.
#![forbid(unsafe_code)]

pub mod app;
pub mod editor;
pub mod render;
pub mod scrollback;
pub mod sessions;
pub mod term;
