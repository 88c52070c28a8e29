//! Conversations as separate sessions, the IRC "query window" habit: session 0
//! is the public room, every other one a private conversation with one member,
//! each with its own scrollback and a count of messages not yet seen.

use crate::scrollback::{Line, Scrollback};

/// Most sessions open at once, the public room included. Private messages from
/// further members go to the public room (marked private by the core's wording).
pub const MAX_SESSIONS: usize = 32;

/// Lines kept by the public room.
pub const PUBLIC_LINES: usize = 5000;

/// Lines kept by a private conversation.
pub const QUERY_LINES: usize = 2000;

/// What a session is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The room everyone sees.
    Public,
    /// A private conversation with the member of that name.
    Query(String),
}

/// One conversation.
#[derive(Debug, Clone)]
pub struct Session {
    /// Public room or private conversation.
    pub kind: Kind,
    /// Its lines and scroll position.
    pub buffer: Scrollback,
    /// Messages added while another session was shown.
    pub unread: usize,
}

impl Session {
    fn new(kind: Kind) -> Session {
        let cap = if kind == Kind::Public { PUBLIC_LINES } else { QUERY_LINES };
        Session { kind, buffer: Scrollback::new(cap), unread: 0 }
    }

    /// The other member's name, for a private conversation.
    pub fn peer(&self) -> Option<&str> {
        match &self.kind {
            Kind::Public => None,
            Kind::Query(name) => Some(name),
        }
    }

    /// A short name: `public`, or the other member's name.
    pub fn label(&self) -> &str {
        self.peer().unwrap_or("public")
    }
}

/// The open sessions and the one shown.
#[derive(Debug, Clone)]
pub struct Sessions {
    list: Vec<Session>,
    active: usize,
    size: (usize, usize),
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new()
    }
}

impl Sessions {
    /// The public room alone, shown.
    pub fn new() -> Sessions {
        Sessions { list: vec![Session::new(Kind::Public)], active: 0, size: (80, 24) }
    }

    /// Number of open sessions (at least 1).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never true: the public room is always open.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// All sessions, in order (their index is their number).
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.list.iter()
    }

    /// Session number `i`.
    pub fn get(&self, i: usize) -> Option<&Session> {
        self.list.get(i)
    }

    /// The number of the session shown.
    pub fn active_index(&self) -> usize {
        self.active
    }

    /// The session shown.
    pub fn active(&self) -> &Session {
        // `active` is always a valid index: the public room cannot be closed.
        &self.list[self.active.min(self.list.len() - 1)]
    }

    /// The session shown, to scroll it.
    pub fn active_mut(&mut self) -> &mut Session {
        let i = self.active.min(self.list.len() - 1);
        &mut self.list[i]
    }

    /// The number of the private conversation with `name`, if open.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.list.iter().position(|s| s.peer() == Some(name))
    }

    /// The private conversation with `name`, opened if needed (not shown).
    /// `None` when [`MAX_SESSIONS`] are open already.
    pub fn open(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self.find(name) {
            return Some(i);
        }
        if self.list.len() >= MAX_SESSIONS {
            return None;
        }
        let mut session = Session::new(Kind::Query(name.to_owned()));
        session.buffer.set_size(self.size.0, self.size.1);
        self.list.push(session);
        Some(self.list.len() - 1)
    }

    /// Shows session `i` and marks its messages seen.
    pub fn switch(&mut self, i: usize) -> Result<(), String> {
        let Some(session) = self.list.get_mut(i) else {
            return Err(format!("no session {i}; :sessions lists them"));
        };
        session.unread = 0;
        self.active = i;
        Ok(())
    }

    /// Shows the next session (after the last, the public room).
    pub fn next(&mut self) {
        let i = (self.active + 1) % self.list.len();
        let _ = self.switch(i);
    }

    /// Shows the previous session.
    pub fn prev(&mut self) {
        let i = (self.active + self.list.len() - 1) % self.list.len();
        let _ = self.switch(i);
    }

    /// Closes private conversation `i`; the sessions after it move down by one.
    /// Closing the one shown shows the one before it.
    pub fn close(&mut self, i: usize) -> Result<Session, String> {
        if i == 0 {
            return Err("the public room (session 0) cannot be closed".to_owned());
        }
        if i >= self.list.len() {
            return Err(format!("no session {i}; :sessions lists them"));
        }
        let session = self.list.remove(i);
        if self.active >= i {
            self.active -= 1;
            self.list[self.active].unread = 0;
        }
        Ok(session)
    }

    /// Adds a line to session `i` (the public room if `i` is not open); if it is
    /// a message (`unread`) and the session is not shown, it counts as unread.
    pub fn add(&mut self, i: usize, line: Line, unread: bool) {
        let i = if i < self.list.len() { i } else { 0 };
        let shown = i == self.active;
        let session = &mut self.list[i];
        session.buffer.push(line);
        if unread && !shown {
            session.unread += 1;
        }
    }

    /// Sets the message pane's size for every session.
    pub fn set_size(&mut self, width: usize, height: usize) {
        self.size = (width, height);
        for s in &mut self.list {
            s.buffer.set_size(width, height);
        }
    }

    /// Messages not seen in sessions other than the one shown.
    pub fn total_unread(&self) -> usize {
        self.list.iter().map(|s| s.unread).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrollback::Style;

    fn line(text: &str) -> Line {
        Line::plain(Style::Chat, text)
    }

    fn texts(s: &Session) -> Vec<String> {
        s.buffer.lines().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn the_public_room_is_session_0_and_always_there() {
        let mut s = Sessions::new();
        assert_eq!(s.len(), 1);
        assert_eq!(s.active().kind, Kind::Public);
        assert_eq!(s.active().label(), "public");
        assert!(s.close(0).is_err());
        assert!(s.switch(1).is_err());
    }

    #[test]
    fn opening_twice_gives_the_same_session() {
        let mut s = Sessions::new();
        assert_eq!(s.open("bob"), Some(1));
        assert_eq!(s.open("carol"), Some(2));
        assert_eq!(s.open("bob"), Some(1));
        assert_eq!(s.find("carol"), Some(2));
        assert_eq!(s.find("dave"), None);
        assert_eq!(s.get(1).and_then(Session::peer), Some("bob"));
        // Opening does not switch.
        assert_eq!(s.active_index(), 0);
    }

    #[test]
    fn messages_in_sessions_not_shown_are_unread_until_switched_to() {
        let mut s = Sessions::new();
        let bob = s.open("bob").expect("room for bob");
        s.add(bob, line("bob: psst"), true);
        s.add(bob, line("bob: hello?"), true);
        s.add(bob, line("INFO: bob left"), false);
        s.add(0, line("carol: hi all"), true);
        assert_eq!(s.get(bob).map(|x| x.unread), Some(2));
        assert_eq!(s.get(0).map(|x| x.unread), Some(0), "session 0 is shown");
        assert_eq!(s.total_unread(), 2);
        s.switch(bob).expect("switch");
        assert_eq!(s.active().unread, 0);
        assert_eq!(texts(s.active()), ["bob: psst", "bob: hello?", "INFO: bob left"]);
        assert_eq!(texts(s.get(0).expect("public")), ["carol: hi all"]);
        s.add(0, line("carol: again"), true);
        assert_eq!(s.get(0).map(|x| x.unread), Some(1));
    }

    #[test]
    fn closing_renumbers_and_shows_the_session_before() {
        let mut s = Sessions::new();
        s.open("bob");
        s.open("carol");
        s.open("dave");
        s.switch(2).expect("switch");
        let closed = s.close(2).expect("close carol");
        assert_eq!(closed.peer(), Some("carol"));
        assert_eq!(s.active().peer(), Some("bob"));
        assert_eq!(s.find("dave"), Some(2));
        s.switch(2).expect("switch");
        s.close(1).expect("close bob");
        assert_eq!(s.active().peer(), Some("dave"));
        assert_eq!(s.active_index(), 1);
        assert!(s.close(5).is_err());
    }

    #[test]
    fn next_and_prev_cycle() {
        let mut s = Sessions::new();
        s.open("bob");
        s.open("carol");
        s.next();
        assert_eq!(s.active_index(), 1);
        s.prev();
        s.prev();
        assert_eq!(s.active_index(), 2);
        s.next();
        assert_eq!(s.active_index(), 0);
    }

    #[test]
    fn sessions_are_bounded_and_a_line_for_a_missing_one_goes_public() {
        let mut s = Sessions::new();
        for i in 1..MAX_SESSIONS {
            assert_eq!(s.open(&format!("m{i}")), Some(i));
        }
        assert_eq!(s.open("one-too-many"), None);
        assert_eq!(s.len(), MAX_SESSIONS);
        s.add(99, line("lost?"), true);
        assert_eq!(texts(s.get(0).expect("public")), ["lost?"]);
    }

    #[test]
    fn new_sessions_get_the_pane_size() {
        let mut s = Sessions::new();
        s.set_size(33, 7);
        let i = s.open("bob").expect("open");
        assert_eq!(s.get(i).map(|x| x.buffer.size()), Some((33, 7)));
    }
}
