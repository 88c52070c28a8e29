//! Drawing the window with curses, and the pure decisions behind it (layout,
//! colours, the status line, the member list), which are tested apart.
//!
//! ```text
//!  messages (scrollback of the session shown)        │ Members (3)
//!  alice: hi                                          │ alice       you
//!  INFO: carol joined                                 │ bob      direct
//!  -- 2 new below, PageDown --   (only when scrolled) │ carol    2 hops
//!  alice | port 41234 | 1 link | 3 members | [0 public] 1 bob (2)       status
//!  [public] text typed here_                                             input
//! ```
//!
//! Every function that calls curses must run on the UI thread (the main loop's);
//! the screen is redrawn whole into curses' buffer, and curses sends only what
//! changed.

use ncurses as nc;
use p2pchat_core::Status;
use p2pchat_core::event::{count, sanitize};
use unicode_segmentation::UnicodeSegmentation;

use crate::app::App;
use crate::editor::width;
use crate::scrollback::{Scrollback, Style};
use crate::sessions::Sessions;

/// Colours for names: red, green, yellow, blue, magenta, cyan (pairs 1 to 6).
pub const NAME_COLORS: [i16; 6] =
    [nc::COLOR_RED, nc::COLOR_GREEN, nc::COLOR_YELLOW, nc::COLOR_BLUE, nc::COLOR_MAGENTA, nc::COLOR_CYAN];

/// Colour pair of error lines: red (the first of [`NAME_COLORS`]).
pub const ERROR_PAIR: i16 = 1;

/// The colour pair a line of this style is drawn in, if any besides the
/// names': errors (a refused command, a key-change warning...) are red.
pub fn style_pair(style: Style) -> Option<i16> {
    match style {
        Style::Error => Some(ERROR_PAIR),
        Style::Chat | Style::Notice => None,
    }
}

/// The colour pair (1 to 6) of a name: a hash of its bytes (FNV-1a), so the
/// same name has the same colour on every run and every machine.
pub fn name_color(name: &str) -> i16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // Fits: fewer than 7.
    (h % NAME_COLORS.len() as u32) as i16 + 1
}

/// A rectangle of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Top row.
    pub y: usize,
    /// Left column.
    pub x: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
}

/// Where everything goes on a screen of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// Screen rows and columns.
    pub size: (usize, usize),
    /// The message pane.
    pub messages: Rect,
    /// The member pane (absent on a narrow screen), and the column of the line
    /// that separates it from the messages.
    pub members: Option<(Rect, usize)>,
    /// The status line (absent on a very short screen).
    pub status_row: Option<usize>,
    /// The input line.
    pub input_row: usize,
}

/// Narrowest screen that shows the member pane.
pub const MEMBERS_MIN_COLS: usize = 60;

/// Lays out a screen of `rows` by `cols`.
pub fn layout(rows: usize, cols: usize) -> Layout {
    let (rows, cols) = (rows.max(1), cols.max(1));
    let input_row = rows - 1;
    let status_row = if rows >= 3 { Some(rows - 2) } else { None };
    let msg_h = rows.saturating_sub(if status_row.is_some() { 2 } else { 1 });
    let mut messages = Rect { y: 0, x: 0, h: msg_h, w: cols };
    let mut members = None;
    if cols >= MEMBERS_MIN_COLS && msg_h > 0 {
        let side = (cols / 4).clamp(16, 28);
        let sep = cols - side - 1;
        messages.w = sep;
        members = Some((Rect { y: 0, x: sep + 1, h: msg_h, w: side }, sep));
    }
    Layout { size: (rows, cols), messages, members, status_row, input_row }
}

/// The longest prefix of `s`, in whole graphemes, that fits in `cols` columns.
pub fn fit(s: &str, cols: usize) -> &str {
    let mut used = 0;
    let mut end = 0;
    for (i, g) in s.grapheme_indices(true) {
        let w = width(g);
        if used + w > cols {
            break;
        }
        used += w;
        end = i + g.len();
    }
    &s[..end]
}

/// `s` cut to `cols` columns, with `~` as its last character when cut.
pub fn fit_marked(s: &str, cols: usize) -> String {
    if width(s) <= cols {
        return s.to_owned();
    }
    if cols == 0 {
        return String::new();
    }
    format!("{}~", fit(s, cols - 1))
}

/// Columns a fingerprint takes after a name: a space and 8 hex digits.
const FINGERPRINT_COLS: usize = 9;

/// The member pane's rows, each the name shown and what follows it: `you`,
/// `direct` or the hop distance, right-aligned in `cols` columns.
///
/// With `fingerprints`, each name is followed by its key's short fingerprint
/// (`alice 3f2a9c1e        you`). Where the row is too narrow for all three,
/// the distance goes first (the fingerprint is what was asked for), then the name
/// is cut (`carol_the_s~ 3f2a9c1e`); the fingerprint is cut only on a pane too
/// narrow for it and one column of name.
pub fn member_rows(status: &Status, cols: usize, fingerprints: bool) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(status.members.len());
    for m in &status.members {
        let tag = if m.hops == 0 {
            "you".to_owned()
        } else if m.direct {
            "direct".to_owned()
        } else if m.hops == 1 {
            "1 hop".to_owned()
        } else {
            format!("{} hops", m.hops)
        };
        let full = sanitize(&m.name);
        if fingerprints {
            let fp = format!(" {}", m.id.short());
            if width(&full) + FINGERPRINT_COLS + 1 + width(&tag) <= cols {
                let pad = cols - width(&full) - FINGERPRINT_COLS - width(&tag);
                out.push((full, format!("{fp}{}{tag}", " ".repeat(pad))));
            } else {
                let name = fit_marked(&full, cols.saturating_sub(FINGERPRINT_COLS).max(1));
                let rest = fit(&fp, cols.saturating_sub(width(&name))).to_owned();
                out.push((name, rest));
            }
            continue;
        }
        let name = fit_marked(&full, cols.saturating_sub(width(&tag) + 1).max(1));
        let pad = cols.saturating_sub(width(&name) + width(&tag)).max(1);
        let rest = fit(&format!("{}{tag}", " ".repeat(pad)), cols.saturating_sub(width(&name))).to_owned();
        out.push((name, rest));
    }
    out
}

/// The member pane's header.
pub fn member_header(status: &Status, cols: usize) -> String {
    fit_marked(&format!("Members ({})", status.members.len()), cols)
}

/// How much the status line says about the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every session, its number and name.
    Full,
    /// Every session, names cut to [`SHORT_LABEL`] columns.
    Short,
    /// The session shown and those with unread messages, names cut.
    Busy,
    /// The session shown and those with unread messages, by number alone.
    Numbers,
}

/// Columns of a session's name in the shortened status line.
const SHORT_LABEL: usize = 8;

/// The status line's sessions (the one shown in brackets, unread counts in
/// parentheses), each after a space.
fn session_list(sessions: &Sessions, detail: Detail) -> String {
    let mut s = String::new();
    for (i, session) in sessions.iter().enumerate() {
        let shown = i == sessions.active_index();
        if !shown && session.unread == 0 && matches!(detail, Detail::Busy | Detail::Numbers) {
            continue;
        }
        let label = sanitize(session.label());
        let label = match detail {
            Detail::Full => format!("{i} {label}"),
            Detail::Short | Detail::Busy => format!("{i} {}", fit_marked(&label, SHORT_LABEL)),
            Detail::Numbers => i.to_string(),
        };
        if shown {
            s.push_str(&format!(" [{label}]"));
        } else {
            s.push_str(&format!(" {label}"));
        }
        if session.unread > 0 {
            s.push_str(&format!(" ({})", session.unread));
        }
    }
    s
}

/// The status line, at most `cols` columns wide: own name, listening port,
/// direct links, members, then the sessions (the one shown in brackets, unread
/// counts in parentheses).
///
/// When the whole line does not fit, the less important parts give way first,
/// so that the unread counts of the other conversations stay in sight: the port
/// goes (it is shown at start-up), then the member count, then the link count;
/// then the sessions' names are shortened, the sessions with nothing unread
/// (except the one shown) are left out, the own name goes, and last the sessions
/// are shown by number alone. Only then is the line cut.
pub fn status_line(status: &Status, sessions: &Sessions, quitting: bool, cols: usize) -> String {
    let name = sanitize(&status.name);
    let links = count(status.links, "link", "links");
    let members = count(status.members.len(), "member", "members");
    let heads = [
        format!(" {name} | port {} | {links} | {members} |", status.port),
        format!(" {name} | {links} | {members} |"),
        format!(" {name} | {links} |"),
        format!(" {name} |"),
        String::new(),
    ];
    let tail = if quitting { " | quitting..." } else { "" };
    // (head, detail of the sessions), from the most said to the least.
    const STEPS: [(usize, Detail); 8] = [
        (0, Detail::Full),
        (1, Detail::Full),
        (2, Detail::Full),
        (3, Detail::Full),
        (3, Detail::Short),
        (3, Detail::Busy),
        (4, Detail::Busy),
        (4, Detail::Numbers),
    ];
    let mut line = String::new();
    for (head, detail) in STEPS {
        line = format!("{}{}{tail}", heads[head], session_list(sessions, detail));
        if width(&line) <= cols {
            return line;
        }
    }
    fit(&line, cols).to_owned()
}

/// What the last row of the message pane says while the user has scrolled up.
pub fn scroll_indicator(buffer: &Scrollback) -> Option<String> {
    match buffer.unseen() {
        _ if !buffer.is_scrolled() => None,
        0 => Some("-- scrolled up, PageDown to return --".to_owned()),
        n => Some(format!("-- {} below, PageDown --", count(n, "new line", "new lines"))),
    }
}

/// The input line's prompt on a line `cols` columns wide: where the line goes
/// (`[public] `), shortened as a whole so that it never takes more than half the
/// line: a long name is cut (`[carol_~] `), then the session's number stands for
/// it (`[2] `), and a line too narrow even for that (under 8 columns) has none.
/// It always ends with its space, so the text typed never runs into it.
pub fn prompt(sessions: &Sessions, cols: usize) -> String {
    let room = cols / 2;
    let label = sanitize(sessions.active().label());
    let whole = format!("[{label}] ");
    if width(&whole) <= room {
        return whole;
    }
    // Brackets and space take 3 columns; a cut name keeps 3 and its `~`.
    let label_room = room.saturating_sub(3);
    if label_room >= 4 {
        return format!("[{}] ", fit_marked(&label, label_room));
    }
    let number = format!("[{}] ", sessions.active_index());
    if width(&number) <= room { number } else { String::new() }
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn put(y: usize, x: usize, s: &str) {
    // Texts carry no NUL (they are sanitised); should one slip in, nothing is
    // drawn rather than a panic.
    let _ = nc::mvaddstr(to_i32(y), to_i32(x), s);
}

/// Sets the attributes for what follows.
fn attr(a: nc::attr_t) {
    nc::attrset(a);
}

/// The attributes of a colour pair, or none without colours.
fn pair(colors: bool, n: i16) -> nc::attr_t {
    if colors { nc::COLOR_PAIR(n) } else { nc::A_NORMAL }
}

/// Draws the whole window into curses' buffer and updates the screen.
pub fn draw(app: &mut App, lay: &Layout, colors: bool) {
    if app.repaint {
        app.repaint = false;
        nc::clearok(nc::curscr(), true);
    }
    nc::erase();
    draw_messages(app, lay, colors);
    if let Some((rect, sep)) = lay.members {
        attr(nc::A_NORMAL);
        nc::mvvline(0, to_i32(sep), nc::ACS_VLINE(), to_i32(rect.h));
        draw_members(&app.status, rect, colors, app.fingerprints);
    }
    if let Some(row) = lay.status_row {
        attr(nc::A_REVERSE);
        let text = status_line(&app.status, &app.sessions, app.quitting, lay.size.1);
        let text = fit(&text, lay.size.1);
        let pad = lay.size.1.saturating_sub(width(text));
        put(row, 0, &format!("{text}{}", " ".repeat(pad)));
        attr(nc::A_NORMAL);
    }
    draw_input(app, lay);
    nc::refresh();
}

fn draw_messages(app: &App, lay: &Layout, colors: bool) {
    let rect = lay.messages;
    if rect.h == 0 {
        return;
    }
    let buffer = &app.sessions.active().buffer;
    for (k, row) in buffer.visible().iter().enumerate().take(rect.h) {
        let y = rect.y + k;
        let (start, end) = row.range;
        let line = row.line;
        let body = match line.style {
            Style::Chat => nc::A_NORMAL,
            Style::Notice => nc::A_DIM,
            Style::Error => nc::A_BOLD,
        } | style_pair(line.style).map_or(nc::A_NORMAL, |n| pair(colors, n));
        let name_end = line.name_len.clamp(start, end);
        let mut x = rect.x;
        if name_end > start {
            let name_attr = match line.style {
                Style::Chat => nc::A_BOLD | pair(colors, name_color(line.name())),
                _ => body | nc::A_BOLD,
            };
            let part = line.text.get(start..name_end).unwrap_or("");
            attr(name_attr);
            put(y, x, part);
            x += width(part);
        }
        let part = line.text.get(name_end..end).unwrap_or("");
        attr(body);
        put(y, x, fit(part, (rect.x + rect.w).saturating_sub(x)));
    }
    attr(nc::A_NORMAL);
    if let Some(text) = scroll_indicator(buffer) {
        let y = rect.y + rect.h - 1;
        attr(nc::A_REVERSE | nc::A_BOLD);
        let text = fit(&text, rect.w);
        put(y, rect.x, &format!("{text}{}", " ".repeat(rect.w.saturating_sub(width(text)))));
        attr(nc::A_NORMAL);
    }
}

fn draw_members(status: &Status, rect: Rect, colors: bool, fingerprints: bool) {
    // One blank column after the separator.
    let (x, cols) = (rect.x + 1, rect.w.saturating_sub(1));
    if rect.h == 0 {
        return;
    }
    attr(nc::A_BOLD);
    put(rect.y, x, &member_header(status, cols));
    let rows = member_rows(status, cols, fingerprints);
    // More members than rows: the last row says how many are not shown.
    let room = rect.h - 1;
    let shown = if rows.len() > room { room.saturating_sub(1) } else { rows.len() };
    for (k, ((name, rest), m)) in rows.iter().zip(&status.members).enumerate().take(shown) {
        let y = rect.y + 1 + k;
        attr(nc::A_BOLD | pair(colors, name_color(&m.name)));
        put(y, x, name);
        attr(nc::A_NORMAL);
        put(y, x + width(name), rest);
    }
    attr(nc::A_NORMAL);
    if shown < rows.len() {
        put(rect.y + 1 + shown, x, &fit_marked(&format!("+{} more (:users)", rows.len() - shown), cols));
    }
}

fn draw_input(app: &mut App, lay: &Layout) {
    let cols = lay.size.1;
    let prompt = prompt(&app.sessions, cols);
    // The last column stays empty (writing the bottom-right cell may scroll some
    // terminals); the text scrolls horizontally in the field between.
    let field = cols.saturating_sub(width(&prompt) + 1);
    attr(nc::A_BOLD);
    put(lay.input_row, 0, &prompt);
    attr(nc::A_NORMAL);
    let x = width(&prompt);
    let view = app.editor.view(field);
    if field > 0 {
        put(lay.input_row, x, view.text);
    }
    nc::mv(to_i32(lay.input_row), to_i32((x + view.cursor).min(cols.saturating_sub(1))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2pchat_core::NodeId;
    use p2pchat_core::node::MemberInfo;

    fn member(name: &str, hops: u32, direct: bool) -> MemberInfo {
        MemberInfo { id: NodeId::from_u64(u64::from(hops)), name: name.into(), addr: None, hops, direct }
    }

    fn status() -> Status {
        Status {
            name: "alice".into(),
            port: 41234,
            id: NodeId::from_u64(1),
            links: 1,
            members: vec![member("alice", 0, false), member("bob", 1, true), member("carol", 2, false)],
            undelivered: 0,
        }
    }

    #[test]
    fn name_colours_are_stable_and_spread() {
        assert_eq!(name_color("alice"), name_color("alice"));
        let colours: std::collections::BTreeSet<i16> =
            ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
                .iter()
                .map(|n| name_color(n))
                .collect();
        assert!(colours.len() >= 3, "{colours:?}");
        assert!(colours.iter().all(|c| (1..=6).contains(c)));
        // Fixed by the hash: a change here changes everybody's colours.
        assert_eq!(name_color(""), (0x811c_9dc5u32 % 6) as i16 + 1);
    }

    #[test]
    fn a_wide_screen_has_a_member_pane_and_a_narrow_one_not() {
        let l = layout(24, 80);
        assert_eq!(l.messages, Rect { y: 0, x: 0, h: 22, w: 59 });
        assert_eq!(l.members, Some((Rect { y: 0, x: 60, h: 22, w: 20 }, 59)));
        assert_eq!((l.status_row, l.input_row), (Some(22), 23));
        let l = layout(10, 40);
        assert_eq!(l.messages.w, 40);
        assert_eq!(l.members, None);
        let l = layout(2, 80);
        assert_eq!((l.messages.h, l.status_row, l.input_row), (1, None, 1));
        let l = layout(1, 1);
        assert_eq!((l.messages.h, l.input_row), (0, 0));
        assert_eq!(l.members, None);
        let l = layout(0, 0);
        assert_eq!(l.size, (1, 1));
    }

    #[test]
    fn fitting_counts_columns_and_keeps_graphemes_whole() {
        assert_eq!(fit("hello", 3), "hel");
        assert_eq!(fit("日本語", 5), "日本");
        assert_eq!(fit("e\u{301}x", 1), "e\u{301}");
        assert_eq!(fit_marked("abcdef", 4), "abc~");
        assert_eq!(fit_marked("abc", 4), "abc");
        assert_eq!(fit_marked("abc", 0), "");
    }

    #[test]
    fn members_show_distance_and_direct_links() {
        let lines = |s: &Status, cols| -> Vec<String> {
            member_rows(s, cols, false).into_iter().map(|(name, rest)| format!("{name}{rest}")).collect()
        };
        assert_eq!(member_header(&status(), 16), "Members (3)");
        assert_eq!(lines(&status(), 16), ["alice        you", "bob       direct", "carol     2 hops"]);
        let narrow = lines(&status(), 8);
        assert!(narrow.iter().all(|l| width(l) <= 8), "{narrow:?}");
        assert_eq!(narrow[0], "ali~ you");
        let mut s = status();
        s.members.push(member("a_very_long_member_name", 1, false));
        assert_eq!(lines(&s, 16)[3], "a_very_lo~ 1 hop");
    }

    /// An id whose fingerprint is `fp` (8 hex digits).
    fn id_with_fingerprint(fp: u32) -> NodeId {
        let mut id = [0x55; 32];
        id[..4].copy_from_slice(&fp.to_be_bytes());
        NodeId(id)
    }

    #[test]
    fn fingerprints_follow_the_names_and_the_distance_gives_way_first() {
        let mut s = status();
        for (m, fp) in s.members.iter_mut().zip([0x3f2a_9c1e, 0x0000_00ab, 0xdead_beef]) {
            m.id = id_with_fingerprint(fp);
        }
        s.members.push(MemberInfo { id: id_with_fingerprint(0x1234_5678), ..member("carol_the_second", 3, false) });
        let lines = |cols| -> Vec<String> {
            member_rows(&s, cols, true).into_iter().map(|(name, rest)| format!("{name}{rest}")).collect()
        };
        // The widest pane (28 columns, one blank after the separator).
        assert_eq!(
            lines(27),
            [
                "alice 3f2a9c1e          you",
                "bob 000000ab         direct",
                "carol deadbeef       2 hops",
                "carol_the_second 12345678",
            ]
        );
        // The narrowest pane: no room for the distance; a long name is cut.
        assert_eq!(lines(15), ["alice 3f2a9c1e", "bob 000000ab", "carol deadbeef", "carol~ 12345678"]);
        // The name part stays the name alone (it is drawn in its colour).
        let rows = member_rows(&s, 15, true);
        assert_eq!(rows[3], ("carol~".to_owned(), " 12345678".to_owned()));
        for cols in 0..40 {
            for l in lines(cols) {
                assert!(width(&l) <= cols.max(1), "{cols}: {l:?}");
            }
        }
        // Off: as before, no fingerprints.
        assert!(member_rows(&s, 27, false).iter().all(|(_, rest)| !rest.contains("3f2a9c1e")));
    }

    #[test]
    fn errors_are_drawn_in_red() {
        assert_eq!(style_pair(Style::Error), Some(ERROR_PAIR));
        assert_eq!(style_pair(Style::Notice), None);
        assert_eq!(style_pair(Style::Chat), None);
        // Pair n is NAME_COLORS[n - 1] (see term::Terminal::start).
        let index = usize::try_from(ERROR_PAIR - 1).expect("a pair from 1");
        assert_eq!(NAME_COLORS[index], nc::COLOR_RED);
    }

    #[test]
    fn the_status_line_shows_name_port_links_members_and_sessions() {
        let mut sessions = Sessions::new();
        let bob = sessions.open("bob").expect("open");
        sessions.add(bob, crate::scrollback::Line::plain(Style::Chat, "bob: hi"), true);
        let line = status_line(&status(), &sessions, false, 100);
        assert_eq!(line, " alice | port 41234 | 1 link | 3 members | [0 public] 1 bob (1)");
        sessions.switch(bob).expect("switch");
        let line = status_line(&status(), &sessions, true, 100);
        assert!(line.ends_with("0 public [1 bob] | quitting..."), "{line}");
        assert_eq!(prompt(&sessions, 100), "[bob] ");
    }

    /// Sessions: 0 public (shown), 1 bob (1 unread), 2 carol_the_second (none),
    /// 3 dave (12 unread).
    fn busy_sessions() -> Sessions {
        let mut sessions = Sessions::new();
        for (name, unread) in [("bob", 1), ("carol_the_second", 0), ("dave", 12)] {
            let i = sessions.open(name).expect("open");
            for _ in 0..unread {
                sessions.add(i, crate::scrollback::Line::plain(Style::Chat, "hi"), true);
            }
        }
        sessions
    }

    #[test]
    fn a_narrow_status_line_gives_up_the_port_and_counts_before_the_unread_counts() {
        let sessions = busy_sessions();
        let full = " alice | port 41234 | 1 link | 3 members | [0 public] 1 bob (1) 2 carol_the_second 3 dave (12)";
        assert_eq!(status_line(&status(), &sessions, false, 200), full);
        let at = |cols| status_line(&status(), &sessions, false, cols);
        assert_eq!(at(90), " alice | 1 link | 3 members | [0 public] 1 bob (1) 2 carol_the_second 3 dave (12)");
        assert_eq!(at(70), " alice | 1 link | [0 public] 1 bob (1) 2 carol_the_second 3 dave (12)");
        assert_eq!(at(60), " alice | [0 public] 1 bob (1) 2 carol_the_second 3 dave (12)");
        assert_eq!(at(55), " alice | [0 public] 1 bob (1) 2 carol_t~ 3 dave (12)");
        assert_eq!(at(45), " alice | [0 public] 1 bob (1) 3 dave (12)");
        assert_eq!(at(40), " [0 public] 1 bob (1) 3 dave (12)");
        assert_eq!(at(20), " [0] 1 (1) 3 (12)");
        // Cut, at last.
        assert_eq!(at(10), " [0] 1 (1)");
        for cols in 0..120 {
            let line = status_line(&status(), &sessions, true, cols);
            assert!(width(&line) <= cols, "{cols}: {line:?}");
        }
        // With one session only, the link count outlives the member count.
        let alone = Sessions::new();
        assert_eq!(status_line(&status(), &alone, false, 30), " alice | 1 link | [0 public]");
    }

    #[test]
    fn the_prompt_is_shortened_whole_and_never_takes_more_than_half_the_line() {
        let mut sessions = Sessions::new();
        assert_eq!(prompt(&sessions, 100), "[public] ");
        assert_eq!(prompt(&sessions, 20), "[public] ");
        assert_eq!(prompt(&sessions, 16), "[publ~] ");
        assert_eq!(prompt(&sessions, 13), "[0] ");
        assert_eq!(prompt(&sessions, 8), "[0] ");
        assert_eq!(prompt(&sessions, 7), "");
        assert_eq!(prompt(&sessions, 0), "");
        let carol = sessions.open("carol_the_second").expect("open");
        sessions.switch(carol).expect("switch");
        assert_eq!(prompt(&sessions, 80), "[carol_the_second] ");
        assert_eq!(prompt(&sessions, 30), "[carol_the_s~] ");
        for cols in 0..60 {
            let p = prompt(&sessions, cols);
            assert!(width(&p) <= cols / 2, "{cols}: {p:?}");
            assert!(p.is_empty() || (p.starts_with('[') && p.ends_with("] ")), "{cols}: {p:?}");
        }
    }

    #[test]
    fn the_indicator_appears_only_while_scrolled() {
        let mut b = Scrollback::new(100);
        b.set_size(20, 3);
        for i in 0..10 {
            b.push(crate::scrollback::Line::plain(Style::Chat, &format!("{i}")));
        }
        assert_eq!(scroll_indicator(&b), None);
        b.page_up();
        assert_eq!(scroll_indicator(&b).as_deref(), Some("-- scrolled up, PageDown to return --"));
        b.push(crate::scrollback::Line::plain(Style::Chat, "new"));
        assert_eq!(scroll_indicator(&b).as_deref(), Some("-- 1 new line below, PageDown --"));
    }
}
