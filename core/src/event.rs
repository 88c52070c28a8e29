//! What a node tells its user, and the one place that decides how it looks.
//!
//! Every frontend renders events through [`Event::display`] (the lab UI's
//! `username`/`message` pair, or `NAME: TEXT` lines in `--headless`) or
//! [`Event::to_json`] (`--json`), so they all show the same words. Names and texts
//! that came from the network are neutralised here with [`sanitize`].

use std::fmt::Write as _;

use crate::id::NodeId;

/// Why a member is no longer reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftReason {
    /// It said goodbye (`:quit`).
    Quit,
    /// It went silent or the path to it broke.
    Lost,
}

impl LeftReason {
    /// The word used in JSON (`quit` or `lost`).
    pub fn as_str(self) -> &'static str {
        match self {
            LeftReason::Quit => "quit",
            LeftReason::Lost => "lost",
        }
    }
}

/// Something for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The node is up and listening.
    Listening {
        /// The actual listening port.
        port: u16,
        /// This node's id.
        id: NodeId,
        /// This node's name.
        name: String,
    },
    /// A chat message (including the node's own, echoed once).
    Message {
        /// Sender's name.
        from: String,
        /// The text.
        text: String,
        /// Sender's node id.
        origin: NodeId,
        /// Per-sender sequence number.
        seq: u64,
        /// A private message (only sender and recipient see it).
        private: bool,
        /// For the sender's own copy of a private message: the recipient.
        to: Option<String>,
    },
    /// A member became reachable.
    Joined {
        /// Its name.
        name: String,
        /// Its id.
        id: NodeId,
        /// Shown to the user (false when a grouped notice already covers it).
        announce: bool,
    },
    /// A member is no longer reachable.
    Left {
        /// Its name.
        name: String,
        /// Its id.
        id: NodeId,
        /// Why.
        reason: LeftReason,
        /// Shown to the user (false when a netsplit notice already covers it).
        announce: bool,
    },
    /// Information for the user (shown as `INFO`).
    Notice(String),
    /// Something went wrong (shown as `ERROR`).
    Error(String),
    /// The node has stopped; frontends should exit. Not shown.
    Stopped,
}

/// Replaces control characters (C0, DEL, C1; so ESC, CSI and OSC sequences and NUL)
/// with U+FFFD so that text from the network cannot drive a terminal. Tabs become
/// a space. Everything else, including wide and combining characters, is kept.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Writes `s` as a JSON string literal (with quotes).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Event {
    /// The `(username, message)` pair a line-oriented UI shows, `None` for events
    /// that are not shown. Both parts are sanitised.
    pub fn display(&self) -> Option<(String, String)> {
        let info = |t: String| Some(("INFO".to_owned(), sanitize(&t)));
        match self {
            Event::Listening { port, .. } => info(format!("listening on port {port}")),
            Event::Message { from, text, private, to, .. } => {
                let from = sanitize(from);
                let from = match (private, to) {
                    (true, Some(to)) => format!("[private to {}] {from}", sanitize(to)),
                    (true, None) => format!("[private] {from}"),
                    (false, _) => from,
                };
                Some((from, sanitize(text)))
            }
            Event::Joined { announce: false, .. } | Event::Left { announce: false, .. } | Event::Stopped => None,
            Event::Joined { name, .. } => info(format!("{name} joined")),
            Event::Left { name, reason: LeftReason::Quit, .. } => info(format!("{name} left")),
            Event::Left { name, reason: LeftReason::Lost, .. } => info(format!("lost contact with {name}")),
            Event::Notice(t) => info(t.clone()),
            Event::Error(t) => Some(("ERROR".to_owned(), sanitize(t))),
        }
    }

    /// The `NAME: TEXT` line `--headless` prints.
    pub fn to_line(&self) -> Option<String> {
        self.display().map(|(u, m)| format!("{u}: {m}"))
    }

    /// The one-line JSON object `--json` prints (`None` for events not shown).
    pub fn to_json(&self) -> Option<String> {
        let mut o = String::with_capacity(96);
        o.push_str("{\"event\":");
        match self {
            Event::Listening { port, id, name } => {
                let _ = write!(o, "\"listening\",\"port\":{port},\"id\":\"{id}\",\"name\":");
                json_string(&mut o, name);
            }
            Event::Message { from, text, origin, seq, private, to } => {
                o.push_str("\"message\",\"from\":");
                json_string(&mut o, from);
                o.push_str(",\"text\":");
                json_string(&mut o, text);
                let _ = write!(o, ",\"origin\":\"{origin}\",\"seq\":{seq},\"private\":{private}");
                if let Some(to) = to {
                    o.push_str(",\"to\":");
                    json_string(&mut o, to);
                }
            }
            Event::Joined { name, id, .. } => {
                o.push_str("\"joined\",\"name\":");
                json_string(&mut o, name);
                let _ = write!(o, ",\"id\":\"{id}\"");
            }
            Event::Left { name, id, reason, .. } => {
                o.push_str("\"left\",\"name\":");
                json_string(&mut o, name);
                let _ = write!(o, ",\"id\":\"{id}\",\"reason\":\"{}\"", reason.as_str());
            }
            Event::Notice(t) => {
                o.push_str("\"notice\",\"text\":");
                json_string(&mut o, t);
            }
            Event::Error(t) => {
                o.push_str("\"error\",\"text\":");
                json_string(&mut o, t);
            }
            Event::Stopped => return None,
        }
        o.push('}');
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(sanitize("a\u{1b}[2Jb\u{0}c\u{9b}d"), "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d");
        assert_eq!(sanitize("日本語 ok"), "日本語 ok");
        let e = Event::Message {
            from: "ev\u{7}il".into(),
            text: "\u{1b}]0;pwn\u{7}".into(),
            origin: NodeId(1),
            seq: 1,
            private: false,
            to: None,
        };
        let line = e.to_line().expect("shown");
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }

    #[test]
    fn json_is_valid_and_escaped() {
        let e = Event::Message {
            from: "bob".into(),
            text: "q\"\\\n\u{1b}\u{0}é".into(),
            origin: NodeId(255),
            seq: 7,
            private: false,
            to: None,
        };
        let j = e.to_json().expect("shown");
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid json");
        assert_eq!(v["event"], "message");
        assert_eq!(v["text"], "q\"\\\n\u{1b}\u{0}é");
        assert_eq!(v["origin"], "00000000000000ff");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["private"], false);
        assert!(!j.contains('\u{1b}'));
        let l = Event::Left { name: "c".into(), id: NodeId(1), reason: LeftReason::Lost, announce: false }
            .to_json()
            .expect("shown");
        let v: serde_json::Value = serde_json::from_str(&l).expect("valid json");
        assert_eq!(v["reason"], "lost");
    }
}
