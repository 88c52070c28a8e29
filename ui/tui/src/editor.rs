//! The input line: a single-line editor that behaves like a shell's (readline's
//! habits), with history, apart from curses so that it can be tested.
//!
//! The text is a `String`; the cursor is a byte offset that always sits on a
//! grapheme-cluster boundary, so that a letter with its combining accents, an
//! emoji sequence or a wide CJK character moves and deletes as one. What is shown
//! in a field `width` columns wide is decided by [`Editor::view`], which scrolls
//! horizontally to keep the cursor visible, measuring display width (a CJK
//! character takes two columns) with `unicode-width`.

use unicode_segmentation::{GraphemeCursor, UnicodeSegmentation};
use unicode_width::UnicodeWidthStr;

/// Longest line the editor holds, in bytes: more than any chat text the node
/// accepts (it answers longer ones with an error), and a bound on memory when a
/// huge paste arrives.
pub const MAX_INPUT: usize = 16 * 1024;

/// Most lines kept in the history.
pub const MAX_HISTORY: usize = 500;

/// The input line and its history.
#[derive(Debug, Default, Clone)]
pub struct Editor {
    text: String,
    /// Byte offset of the cursor in `text`, on a grapheme boundary.
    cursor: usize,
    /// Byte offset of the first grapheme shown (horizontal scroll), kept between
    /// calls to [`Editor::view`] so that the field does not jump.
    scroll: usize,
    /// What Ctrl+U, Ctrl+K and Ctrl+W removed last, for Ctrl+Y.
    killed: String,
    /// Lines entered, oldest first.
    history: Vec<String>,
    /// While browsing the history: the index of the line shown, and the line
    /// that was being typed before browsing started.
    browsing: Option<(usize, String)>,
}

/// What [`Editor::view`] says to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View<'a> {
    /// The visible part of the text (whole graphemes, at most `width` columns).
    pub text: &'a str,
    /// Column of the cursor within the field, `0..=width - 1`.
    pub cursor: usize,
    /// Text is hidden to the left.
    pub more_left: bool,
    /// Text is hidden to the right.
    pub more_right: bool,
}

/// Display width of a string, in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

impl Editor {
    /// An empty line with an empty history.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor, as a byte offset into [`Editor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// True when nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The lines entered so far, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Inserts one character at the cursor. Control characters are ignored (a
    /// terminal key that is not a character must not end up in a chat line), and
    /// so is anything past [`MAX_INPUT`]; returns false then.
    pub fn insert_char(&mut self, c: char) -> bool {
        if c.is_control() || self.text.len() + c.len_utf8() > MAX_INPUT {
            return false;
        }
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        // A combining mark joins the grapheme before it: keep the cursor on a
        // boundary.
        self.cursor = self.boundary_at_or_after(self.cursor);
        true
    }

    /// Inserts a string at the cursor (control characters dropped), as much of it
    /// as fits under [`MAX_INPUT`]. Returns false if something was dropped.
    pub fn insert_str(&mut self, s: &str) -> bool {
        let mut all = true;
        for c in s.chars() {
            all &= self.insert_char(c);
        }
        all
    }

    /// Replaces the text from byte offset `start` to the cursor with `with`
    /// (control characters dropped, bounded by [`MAX_INPUT`]), the cursor after
    /// it: a completion put in place of the word it completes. Nothing happens
    /// if `start` is after the cursor or not a character boundary.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        if start > self.cursor || !self.text.is_char_boundary(start) {
            return;
        }
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.insert_str(with);
    }

    /// Backspace: deletes the grapheme before the cursor.
    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Delete: deletes the grapheme under the cursor.
    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// Moves one grapheme left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves one grapheme right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Moves to the start of the line.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves to the end of the line.
    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    /// Moves to the start of the word before the cursor (Alt+B, Ctrl+Left).
    pub fn word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    /// Moves past the end of the word after the cursor (Alt+F, Ctrl+Right).
    pub fn word_right(&mut self) {
        let rest = &self.text[self.cursor..];
        let skip_space = rest.len() - rest.trim_start().len();
        let word = rest[skip_space..].find(char::is_whitespace).unwrap_or(rest.len() - skip_space);
        self.cursor += skip_space + word;
    }

    /// Ctrl+U: deletes from the start of the line to the cursor.
    pub fn kill_to_start(&mut self) {
        self.killed = self.text[..self.cursor].to_owned();
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Ctrl+K: deletes from the cursor to the end of the line.
    pub fn kill_to_end(&mut self) {
        self.killed = self.text[self.cursor..].to_owned();
        self.text.truncate(self.cursor);
    }

    /// Ctrl+W: deletes the word before the cursor, up to the previous whitespace
    /// (a shell's "unix-word-rubout"), with the whitespace after it.
    pub fn kill_word_before(&mut self) {
        let start = self.word_start_before(self.cursor);
        self.killed = self.text[start..self.cursor].to_owned();
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Alt+D: deletes the word after the cursor.
    pub fn kill_word_after(&mut self) {
        let start = self.cursor;
        self.word_right();
        self.killed = self.text[start..self.cursor].to_owned();
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Ctrl+Y: inserts what was deleted last.
    pub fn yank(&mut self) {
        let killed = self.killed.clone();
        self.insert_str(&killed);
    }

    /// Empties the line (keeps the history).
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.scroll = 0;
        self.browsing = None;
    }

    /// Enter: returns the line, empties the field and adds the line to the
    /// history (unless it is blank or the same as the last one).
    pub fn submit(&mut self) -> String {
        let line = std::mem::take(&mut self.text);
        self.clear();
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() >= MAX_HISTORY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Up: shows the previous line of the history (the line being typed is kept
    /// and comes back with Down).
    pub fn history_prev(&mut self) {
        let index = match &self.browsing {
            Some((0, _)) => return,
            Some((i, _)) => i - 1,
            None if self.history.is_empty() => return,
            None => {
                self.browsing = Some((self.history.len(), self.text.clone()));
                self.history.len() - 1
            }
        };
        self.show_history(index);
    }

    /// Down: shows the next line of the history, and after the newest the line
    /// that was being typed.
    pub fn history_next(&mut self) {
        let Some((i, _)) = &self.browsing else { return };
        let index = i + 1;
        if index >= self.history.len() {
            if let Some((_, draft)) = self.browsing.take() {
                self.text = draft;
                self.cursor = self.text.len();
            }
            return;
        }
        self.show_history(index);
    }

    fn show_history(&mut self, index: usize) {
        let Some(line) = self.history.get(index) else { return };
        self.text = line.clone();
        self.cursor = self.text.len();
        if let Some((i, _)) = &mut self.browsing {
            *i = index;
        }
    }

    /// What to show in a field `cols` columns wide: scrolls horizontally so that
    /// the cursor is visible (the last column is kept for the cursor at the end of
    /// the line), moving as little as possible since the last call.
    pub fn view(&mut self, cols: usize) -> View<'_> {
        let cols = cols.max(1);
        // The text may have changed under the old scroll position.
        self.scroll = self.grapheme_floor(self.cursor.min(self.scroll));
        // The text before the cursor, from `scroll`, and the grapheme under the
        // cursor (a column at the end of the line) must fit.
        let under = self.text[self.cursor..].graphemes(true).next().map_or(1, |g| width(g).max(1));
        while self.scroll < self.cursor && width(&self.text[self.scroll..self.cursor]) + under > cols {
            self.scroll = self.next_boundary(self.scroll);
        }
        // Scroll back while the rest of the line, and a column for a cursor at
        // its end, still fits (after a deletion, or when the field grew).
        while self.scroll > 0 {
            let prev = self.prev_boundary(self.scroll);
            if width(&self.text[prev..]) >= cols {
                break;
            }
            self.scroll = prev;
        }
        let start = self.scroll;
        let cursor = width(&self.text[start..self.cursor]);
        let mut end = start;
        let mut used = 0;
        for (i, g) in self.text[start..].grapheme_indices(true) {
            let w = width(g);
            if used + w > cols {
                break;
            }
            used += w;
            end = start + i + g.len();
        }
        View { text: &self.text[start..end], cursor, more_left: start > 0, more_right: end < self.text.len() }
    }

    /// The grapheme boundary at or before `at`.
    fn grapheme_floor(&self, at: usize) -> usize {
        let mut b = 0;
        for (i, _) in self.text.grapheme_indices(true) {
            if i > at {
                break;
            }
            b = i;
        }
        b
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at].grapheme_indices(true).next_back().map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..].graphemes(true).next().map_or(at, |g| at + g.len())
    }

    /// The first grapheme boundary at or after `at` (a char boundary).
    fn boundary_at_or_after(&self, at: usize) -> usize {
        let mut cursor = GraphemeCursor::new(at, self.text.len(), true);
        match cursor.is_boundary(&self.text, 0) {
            Ok(true) => at,
            // Given the whole text, the cursor needs no more context; should it
            // ask anyway, the end of the line is a boundary.
            Ok(false) => cursor.next_boundary(&self.text, 0).ok().flatten().unwrap_or(self.text.len()),
            Err(_) => self.text.len(),
        }
    }

    /// Start of the whitespace-delimited word before `at`, skipping whitespace
    /// right before it first.
    fn word_start_before(&self, at: usize) -> usize {
        let before = self.text[..at].trim_end();
        before.rfind(char::is_whitespace).map_or(0, |i| {
            // After that whitespace character.
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Editor {
        let mut e = Editor::new();
        assert!(e.insert_str(s));
        e
    }

    #[test]
    fn typing_inserts_at_the_cursor() {
        let mut e = typed("helo");
        e.left();
        e.insert_char('l');
        assert_eq!(e.text(), "hello");
        assert_eq!(e.cursor(), 4);
        e.home();
        e.insert_char('>');
        e.end();
        e.insert_char('!');
        assert_eq!(e.text(), ">hello!");
    }

    #[test]
    fn control_characters_are_not_inserted() {
        let mut e = typed("a");
        assert!(!e.insert_char('\u{1b}'));
        assert!(!e.insert_char('\n'));
        assert!(!e.insert_str("b\tc"));
        assert_eq!(e.text(), "abc");
    }

    #[test]
    fn the_line_is_bounded() {
        let mut e = Editor::new();
        assert!(!e.insert_str(&"x".repeat(MAX_INPUT + 10)));
        assert_eq!(e.text().len(), MAX_INPUT);
        assert!(!e.insert_char('é'));
    }

    #[test]
    fn backspace_and_delete_remove_whole_graphemes() {
        // "e" + combining acute, a family emoji (ZWJ sequence), a CJK character.
        let mut e = typed("ae\u{301}👨\u{200d}👩\u{200d}👧日b");
        e.left(); // before b
        e.backspace(); // 日
        assert_eq!(e.text(), "ae\u{301}👨\u{200d}👩\u{200d}👧b");
        e.backspace(); // the whole family
        assert_eq!(e.text(), "ae\u{301}b");
        e.backspace(); // e and its accent
        assert_eq!(e.text(), "ab");
        e.home();
        e.delete();
        assert_eq!(e.text(), "b");
        e.end();
        e.delete(); // nothing under the cursor
        e.backspace();
        e.backspace(); // nothing before the cursor
        assert_eq!(e.text(), "");
    }

    #[test]
    fn a_combining_mark_typed_after_a_letter_joins_it() {
        let mut e = typed("e");
        e.insert_char('\u{301}');
        assert_eq!(e.cursor(), e.text().len());
        e.left();
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn cursor_moves_by_grapheme_and_stops_at_the_ends() {
        let mut e = typed("日本");
        e.left();
        assert_eq!(e.cursor(), 3);
        e.left();
        e.left();
        assert_eq!(e.cursor(), 0);
        e.right();
        e.right();
        e.right();
        assert_eq!(e.cursor(), 6);
    }

    #[test]
    fn words_are_killed_and_yanked_like_in_a_shell() {
        let mut e = typed("say hello  world  ");
        e.kill_word_before();
        assert_eq!(e.text(), "say hello  ");
        e.kill_word_before();
        assert_eq!(e.text(), "say ");
        e.yank();
        assert_eq!(e.text(), "say hello  ");
        e.home();
        e.word_right();
        assert_eq!(e.cursor(), 3);
        e.word_right();
        assert_eq!(e.cursor(), 9);
        e.word_left();
        assert_eq!(e.cursor(), 4);
        e.kill_word_after();
        assert_eq!(e.text(), "say   ");
        e.kill_to_start();
        assert_eq!((e.text(), e.cursor()), ("  ", 0));
        e.yank();
        assert_eq!(e.text(), "say   ");
        e.home();
        e.right();
        e.kill_to_end();
        assert_eq!(e.text(), "s");
        let mut e = typed("日本 語");
        e.kill_word_before();
        assert_eq!(e.text(), "日本 ");
    }

    #[test]
    fn ctrl_u_in_the_middle_keeps_the_rest() {
        let mut e = typed("abc def");
        e.left();
        e.left();
        e.kill_to_start();
        assert_eq!((e.text(), e.cursor()), ("ef", 0));
    }

    #[test]
    fn history_goes_back_and_forth_and_keeps_the_draft() {
        let mut e = Editor::new();
        for line in ["one", "two", "two", "  ", "three"] {
            e.insert_str(line);
            assert_eq!(e.submit(), line);
        }
        assert_eq!(e.history(), ["one", "two", "three"]);
        e.insert_str("draft");
        e.history_prev();
        assert_eq!(e.text(), "three");
        e.history_prev();
        e.history_prev();
        e.history_prev(); // stays on the oldest
        assert_eq!(e.text(), "one");
        e.history_next();
        assert_eq!(e.text(), "two");
        e.history_next();
        e.history_next();
        assert_eq!((e.text(), e.cursor()), ("draft", 5));
        e.history_next(); // nothing after the draft
        assert_eq!(e.text(), "draft");
        // A line taken from the history and edited is a new line.
        e.history_prev();
        e.insert_char('!');
        assert_eq!(e.submit(), "three!");
        assert_eq!(e.history().last().map(String::as_str), Some("three!"));
        assert_eq!(e.text(), "");
    }

    #[test]
    fn history_is_bounded() {
        let mut e = Editor::new();
        for i in 0..MAX_HISTORY + 5 {
            e.insert_str(&i.to_string());
            e.submit();
        }
        assert_eq!(e.history().len(), MAX_HISTORY);
        assert_eq!(e.history()[0], "5");
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        let mut e = typed("hello");
        let v = e.view(10);
        assert_eq!(v, View { text: "hello", cursor: 5, more_left: false, more_right: false });
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_visible() {
        let mut e = typed("abcdefghijklmnopqrstuvwxyz");
        let v = e.view(10);
        // The cursor at the end takes the last column.
        assert_eq!(v, View { text: "rstuvwxyz", cursor: 9, more_left: true, more_right: false });
        e.home();
        let v = e.view(10);
        assert_eq!(v, View { text: "abcdefghij", cursor: 0, more_left: false, more_right: true });
        // Moving right inside the field does not scroll.
        for _ in 0..5 {
            e.right();
        }
        assert_eq!(e.view(10).text, "abcdefghij");
        assert_eq!(e.view(10).cursor, 5);
        for _ in 0..10 {
            e.right();
        }
        let v = e.view(10);
        assert_eq!((v.text, v.cursor), ("ghijklmnop", 9));
        // Moving back left keeps the scroll until the cursor leaves the field.
        e.left();
        assert_eq!(e.view(10).text, "ghijklmnop");
    }

    #[test]
    fn wide_characters_take_two_columns_in_the_view() {
        let mut e = typed("日本語のテキスト");
        let v = e.view(8);
        // 7 columns for the text before the cursor: three wide characters.
        assert_eq!((v.text, v.cursor), ("キスト", 6));
        e.home();
        let v = e.view(7);
        // A wide character that would cross the edge is not shown.
        assert_eq!((v.text, v.cursor, v.more_right), ("日本語", 0, true));
        e.right();
        e.right();
        e.right();
        // The wide character under the cursor is shown whole.
        let v = e.view(7);
        assert_eq!((v.text, v.cursor), ("本語の", 4));
        e.right();
        let v = e.view(7);
        assert!(v.cursor < 7);
        assert!(width(v.text) <= 7);
        assert!(v.more_left);
    }

    #[test]
    fn deleting_scrolls_back_when_the_text_fits_again() {
        let mut e = typed("abcdefghijklmno");
        assert!(e.view(10).more_left);
        for _ in 0..8 {
            e.backspace();
        }
        let v = e.view(10);
        assert_eq!((v.text, v.cursor, v.more_left), ("abcdefg", 7, false));
    }

    #[test]
    fn a_tiny_field_still_shows_the_cursor() {
        let mut e = typed("日本");
        let v = e.view(1);
        assert_eq!(v.cursor, 0);
        assert_eq!(v.text, "");
        let v = e.view(0);
        assert_eq!(v.cursor, 0);
    }
}
