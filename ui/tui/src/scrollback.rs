//! The message pane's model, apart from curses: a bounded buffer of lines,
//! wrapped to the pane's width, and where the user has scrolled to.
//!
//! Lines are wrapped at word boundaries where possible (a word longer than the
//! pane is cut), measuring display width with `unicode-width`, never splitting a
//! grapheme cluster. The scroll position is counted in screen rows hidden *below*
//! the view: 0 means the newest line is shown, and new lines keep it shown. While
//! the user has scrolled up, new lines leave the view where it is and are counted
//! as unseen, until the view is back at the bottom.

use std::collections::VecDeque;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use crate::editor::width as str_width;

/// Longest text kept for one line, in bytes; more is cut and marked.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Added to a line that was cut.
const CUT_MARK: &str = " [...]";

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A chat message: the sender's name (the first `name_len` bytes) in the
    /// sender's colour.
    Chat,
    /// Information from the node or from this program (`INFO: ...`).
    Notice,
    /// Something went wrong (`ERROR: ...`).
    Error,
}

/// One line of the message pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// How it is drawn.
    pub style: Style,
    /// The whole text, without control characters.
    pub text: String,
    /// Length in bytes of the leading name (`alice` in `alice: hi`), drawn apart.
    pub name_len: usize,
}

impl Line {
    /// A line `NAME: TEXT`, the name drawn apart.
    pub fn named(style: Style, name: &str, text: &str) -> Line {
        let mut line = Line { style, text: format!("{name}: {text}"), name_len: name.len() };
        line.cap();
        line
    }

    /// A line without a name.
    pub fn plain(style: Style, text: &str) -> Line {
        let mut line = Line { style, text: text.to_owned(), name_len: 0 };
        line.cap();
        line
    }

    /// The name part (empty if none).
    pub fn name(&self) -> &str {
        self.text.get(..self.name_len).unwrap_or("")
    }

    fn cap(&mut self) {
        if self.text.len() > MAX_LINE_BYTES {
            let mut end = MAX_LINE_BYTES - CUT_MARK.len();
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
            self.text.truncate(end);
            self.text.push_str(CUT_MARK);
            self.name_len = self.name_len.min(end);
        }
    }
}

/// Splits `text` into rows at most `width` columns wide (byte ranges of `text`).
/// Breaks after whitespace when it can; a whitespace character that does not fit
/// at the end of a row is dropped; a word longer than a row is cut between
/// graphemes; a grapheme wider than the row gets a row of its own. Always at
/// least one row, even for an empty text.
pub fn wrap(text: &str, width: usize) -> Vec<Range<usize>> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut used = 0;
    // Where the row may end: just after the last whitespace, and the width used
    // up to there.
    let mut brk: Option<(usize, usize)> = None;
    for (i, g) in text.grapheme_indices(true) {
        let w = str_width(g);
        let space = g.chars().all(char::is_whitespace);
        if used + w > width && i > start {
            if space {
                rows.push(start..i);
                start = i + g.len();
                used = 0;
                brk = None;
                continue;
            }
            if let Some((b, wb)) = brk.take().filter(|&(b, _)| b > start) {
                rows.push(start..b);
                start = b;
                used -= wb;
            }
            if used + w > width && i > start {
                rows.push(start..i);
                start = i;
                used = 0;
            }
        }
        used += w;
        if space {
            brk = Some((i + g.len(), used));
        }
    }
    if start < text.len() || rows.is_empty() {
        rows.push(start..text.len());
    }
    rows
}

#[derive(Debug, Clone)]
struct Entry {
    line: Line,
    /// Rows for the buffer's current width.
    rows: Vec<Range<usize>>,
}

/// One screen row to draw: a part of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// The line it belongs to.
    pub line: &'a Line,
    /// The part of `line.text` on this row.
    pub range: (usize, usize),
}

impl Row<'_> {
    /// The text on this row.
    pub fn text(&self) -> &str {
        self.line.text.get(self.range.0..self.range.1).unwrap_or("")
    }
}

/// A bounded buffer of wrapped lines and a scroll position.
#[derive(Debug, Clone)]
pub struct Scrollback {
    entries: VecDeque<Entry>,
    cap: usize,
    width: usize,
    height: usize,
    total_rows: usize,
    /// Rows hidden below the view.
    offset: usize,
    /// Lines added while scrolled up.
    unseen: usize,
}

impl Scrollback {
    /// An empty buffer keeping at most `cap` lines (at least one), for a pane of
    /// 80 by 24 until told otherwise.
    pub fn new(cap: usize) -> Scrollback {
        Scrollback {
            entries: VecDeque::new(),
            cap: cap.max(1),
            width: 80,
            height: 24,
            total_rows: 0,
            offset: 0,
            unseen: 0,
        }
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no line has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &Line> {
        self.entries.iter().map(|e| &e.line)
    }

    /// Rows of all the lines kept, at the current width.
    pub fn total_rows(&self) -> usize {
        self.total_rows
    }

    /// Rows hidden below the view (0: the newest line is shown).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// True when the user has scrolled up.
    pub fn is_scrolled(&self) -> bool {
        self.offset > 0
    }

    /// Lines added since the user scrolled up (0 when at the bottom).
    pub fn unseen(&self) -> usize {
        self.unseen
    }

    /// The pane's size.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Adds a line at the bottom, dropping the oldest one when full. At the
    /// bottom, the view follows; scrolled up, it stays on the same rows and the
    /// line is counted as unseen.
    pub fn push(&mut self, line: Line) {
        if self.entries.len() >= self.cap
            && let Some(old) = self.entries.pop_front()
        {
            self.total_rows -= old.rows.len();
        }
        let rows = wrap(&line.text, self.width);
        self.total_rows += rows.len();
        if self.offset > 0 {
            self.offset += rows.len();
            self.unseen += 1;
        }
        self.entries.push_back(Entry { line, rows });
        self.clamp();
    }

    /// Sets the pane's size: lines are wrapped again when the width changes, and
    /// a scrolled view keeps the line at its bottom in place.
    pub fn set_size(&mut self, width: usize, height: usize) {
        let (width, height) = (width.max(1), height.max(1));
        if width != self.width {
            // The line at the bottom of the view, counted from the newest.
            let anchor = self.bottom_line_from_end();
            self.width = width;
            self.total_rows = 0;
            for e in &mut self.entries {
                e.rows = wrap(&e.line.text, width);
                self.total_rows += e.rows.len();
            }
            if self.offset > 0 {
                self.offset = self.entries.iter().rev().take(anchor).map(|e| e.rows.len()).sum();
            }
        }
        self.height = height;
        self.clamp();
    }

    /// Number of lines entirely below the view's bottom row.
    fn bottom_line_from_end(&self) -> usize {
        let mut below = 0;
        for (k, e) in self.entries.iter().rev().enumerate() {
            below += e.rows.len();
            if below > self.offset {
                return k;
            }
        }
        self.entries.len()
    }

    /// Rows of one page: the view's height less one row kept for context.
    pub fn page(&self) -> usize {
        self.height.saturating_sub(1).max(1)
    }

    /// PageUp.
    pub fn page_up(&mut self) {
        self.scroll_up(self.page());
    }

    /// PageDown.
    pub fn page_down(&mut self) {
        self.scroll_down(self.page());
    }

    /// Scrolls `n` rows towards older lines (as far as the oldest).
    pub fn scroll_up(&mut self, n: usize) {
        self.offset = self.offset.saturating_add(n);
        self.clamp();
    }

    /// Scrolls `n` rows towards newer lines.
    pub fn scroll_down(&mut self, n: usize) {
        self.offset = self.offset.saturating_sub(n);
        self.clamp();
    }

    /// Back to the newest line.
    pub fn to_bottom(&mut self) {
        self.offset = 0;
        self.clamp();
    }

    fn max_offset(&self) -> usize {
        self.total_rows.saturating_sub(self.height)
    }

    fn clamp(&mut self) {
        self.offset = self.offset.min(self.max_offset());
        if self.offset == 0 {
            self.unseen = 0;
        }
    }

    /// The rows to draw, top to bottom: at most `height` of them, ending
    /// `offset` rows above the newest. With fewer rows than the pane holds, they
    /// start at the top.
    pub fn visible(&self) -> Vec<Row<'_>> {
        let mut out = Vec::with_capacity(self.height);
        let mut skip = self.offset;
        'lines: for e in self.entries.iter().rev() {
            for r in e.rows.iter().rev() {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if out.len() >= self.height {
                    break 'lines;
                }
                out.push(Row { line: &e.line, range: (r.start, r.end) });
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &[Range<usize>], text: &str) -> Vec<String> {
        rows.iter().map(|r| text[r.clone()].to_owned()).collect()
    }

    fn wrapped(text: &str, width: usize) -> Vec<String> {
        texts(&wrap(text, width), text)
    }

    fn shown(s: &Scrollback) -> Vec<String> {
        s.visible().iter().map(|r| r.text().to_owned()).collect()
    }

    fn numbered(s: &mut Scrollback, from: usize, to: usize) {
        for i in from..to {
            s.push(Line::plain(Style::Chat, &format!("line {i}")));
        }
    }

    #[test]
    fn short_lines_are_one_row_and_empty_lines_too() {
        assert_eq!(wrapped("hello", 10), ["hello"]);
        assert_eq!(wrapped("", 10), [""]);
        assert_eq!(wrapped("exactly10!", 10), ["exactly10!"]);
    }

    #[test]
    fn lines_wrap_at_spaces_and_long_words_are_cut() {
        assert_eq!(wrapped("the quick brown fox", 10), ["the quick ", "brown fox"]);
        assert_eq!(wrapped("aaaa bbbb", 4), ["aaaa", "bbbb"]);
        assert_eq!(wrapped("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        assert_eq!(wrapped("hi abcdefghijkl", 5), ["hi ", "abcde", "fghij", "kl"]);
        for text in ["the quick brown fox", "a  b   c    d", "xxxxxxxx yy zzzzzzzzzzzzz"] {
            for w in 1..12 {
                for row in wrapped(text, w) {
                    assert!(str_width(&row) <= w, "{text:?} at {w}: {row:?}");
                }
            }
        }
    }

    #[test]
    fn wide_characters_wrap_by_columns_and_graphemes_stay_whole() {
        assert_eq!(wrapped("日本語テキスト", 6), ["日本語", "テキス", "ト"]);
        assert_eq!(wrapped("日本語", 5), ["日本", "語"]);
        // A grapheme wider than the row gets a row of its own.
        assert_eq!(wrapped("a日b", 1), ["a", "日", "b"]);
        // e + combining accent stays together.
        assert_eq!(wrapped("ée\u{301}é", 2), ["ée\u{301}", "é"]);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary_and_marked() {
        let line = Line::named(Style::Chat, "bob", &"é".repeat(MAX_LINE_BYTES));
        assert!(line.text.len() <= MAX_LINE_BYTES);
        assert!(line.text.ends_with(CUT_MARK));
        assert_eq!(line.name(), "bob");
    }

    #[test]
    fn the_newest_lines_are_shown_and_the_buffer_is_bounded() {
        let mut s = Scrollback::new(100);
        s.set_size(20, 3);
        numbered(&mut s, 0, 2);
        assert_eq!(shown(&s), ["line 0", "line 1"]);
        numbered(&mut s, 2, 150);
        assert_eq!(s.len(), 100);
        assert_eq!(s.total_rows(), 100);
        assert_eq!(shown(&s), ["line 147", "line 148", "line 149"]);
        assert_eq!(s.lines().next().map(|l| l.text.as_str()), Some("line 50"));
    }

    #[test]
    fn page_up_shows_older_lines_and_page_down_comes_back() {
        let mut s = Scrollback::new(100);
        s.set_size(20, 5);
        numbered(&mut s, 0, 20);
        s.page_up();
        assert_eq!(s.offset(), 4);
        assert_eq!(shown(&s), ["line 11", "line 12", "line 13", "line 14", "line 15"]);
        for _ in 0..10 {
            s.page_up();
        }
        assert_eq!(s.offset(), 15);
        assert_eq!(shown(&s)[0], "line 0");
        s.page_down();
        s.page_down();
        s.page_down();
        assert_eq!(s.offset(), 3);
        s.page_down();
        assert!(!s.is_scrolled());
        assert_eq!(shown(&s).last().map(String::as_str), Some("line 19"));
    }

    #[test]
    fn new_lines_while_scrolled_keep_the_view_and_count_as_unseen() {
        let mut s = Scrollback::new(100);
        s.set_size(20, 5);
        numbered(&mut s, 0, 20);
        s.page_up();
        let before = shown(&s);
        numbered(&mut s, 20, 23);
        assert_eq!(shown(&s), before);
        assert_eq!(s.unseen(), 3);
        s.page_down();
        assert_eq!(s.unseen(), 3, "still scrolled up");
        s.to_bottom();
        assert_eq!(s.unseen(), 0);
        assert_eq!(shown(&s).last().map(String::as_str), Some("line 22"));
        // At the bottom, nothing is unseen.
        numbered(&mut s, 23, 25);
        assert_eq!(s.unseen(), 0);
    }

    #[test]
    fn a_scrolled_view_at_the_top_stays_valid_when_old_lines_are_dropped() {
        let mut s = Scrollback::new(10);
        s.set_size(20, 4);
        numbered(&mut s, 0, 10);
        s.scroll_up(100);
        assert_eq!(shown(&s)[0], "line 0");
        numbered(&mut s, 10, 15);
        assert_eq!(s.offset(), 6);
        assert_eq!(shown(&s), ["line 5", "line 6", "line 7", "line 8"]);
        assert_eq!(s.unseen(), 5);
    }

    #[test]
    fn wheel_scrolling_moves_by_rows() {
        let mut s = Scrollback::new(100);
        s.set_size(20, 5);
        numbered(&mut s, 0, 10);
        s.scroll_up(3);
        assert_eq!(shown(&s).last().map(String::as_str), Some("line 6"));
        s.scroll_down(1);
        assert_eq!(shown(&s).last().map(String::as_str), Some("line 7"));
        s.scroll_down(10);
        assert!(!s.is_scrolled());
    }

    #[test]
    fn fewer_lines_than_the_pane_cannot_scroll() {
        let mut s = Scrollback::new(100);
        s.set_size(20, 5);
        numbered(&mut s, 0, 3);
        s.page_up();
        assert!(!s.is_scrolled());
    }

    #[test]
    fn resizing_rewraps_and_keeps_the_bottom_line_of_a_scrolled_view() {
        let mut s = Scrollback::new(100);
        s.set_size(40, 3);
        for i in 0..10 {
            s.push(Line::named(Style::Chat, "bob", &format!("message number {i} is here")));
        }
        assert_eq!(s.total_rows(), 10);
        s.scroll_up(4);
        assert_eq!(shown(&s).last().map(String::as_str), Some("bob: message number 5 is here"));
        s.set_size(12, 3);
        // Every line now takes three rows.
        assert_eq!(s.total_rows(), 30);
        let rows = s.visible();
        assert_eq!(rows.last().map(|r| r.line.text.as_str()), Some("bob: message number 5 is here"));
        assert_eq!(rows.last().map(|r| r.text()), Some("here"));
        // Not scrolled: still at the bottom after a resize.
        s.to_bottom();
        s.set_size(30, 2);
        assert_eq!(s.visible().last().map(|r| r.line.text.as_str()), Some("bob: message number 9 is here"));
        for row in s.visible() {
            assert!(str_width(row.text()) <= 30);
        }
    }

    #[test]
    fn rows_know_their_line_and_its_name() {
        let mut s = Scrollback::new(10);
        s.set_size(8, 5);
        s.push(Line::named(Style::Chat, "alice", "hi there"));
        let rows = s.visible();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text(), "alice: ");
        assert_eq!(rows[1].text(), "hi there");
        assert_eq!(rows[1].line.name(), "alice");
        assert_eq!(rows[0].range, (0, 7));
    }
}
