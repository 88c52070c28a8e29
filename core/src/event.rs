//! What a node tells its user, and the one place that decides how it looks.
//!
//! Every frontend renders events through [`Event::display`] (the lab UI's
//! `username`/`message` pair, or `NAME: TEXT` lines in `--headless`) or
//! [`Event::to_json`] (`--json`), so they all show the same words. Names and texts
//! that came from the network are neutralised here with [`sanitize`]. What the
//! driver reports (a snapshot written or not, a log file that failed) is worded
//! here too ([`Event::snapshot_written`] and its neighbours).

use std::io;

use serde::Serialize;

use crate::id::NodeId;
use crate::memory::SavedLine;
use crate::node::{LinkInfo, MemberInfo};

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
        /// Per-sender sequence number as on the wire: the sender's incarnation and
        /// its count ([`crate::wire::seq_start`]). The JSON event and the C API
        /// show the count alone (1 for a member's first message, then 2, 3, ...).
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
    /// A member took another name because an earlier claim on its name won (the
    /// collision rule of DESIGN.md §2, guarantee 4). Never this node itself: that
    /// is told as a notice addressed to the user.
    Renamed {
        /// The member.
        id: NodeId,
        /// The name it claimed.
        from: String,
        /// The name it is shown with from now on.
        to: String,
        /// It was not a reachable member yet: one arriving with a name already
        /// taken here (otherwise two reachable members had the name).
        newcomer: bool,
    },
    /// The members `:users` listed (this node first), for programs: the lines a UI
    /// shows came just before, as notices. Not shown; `--json` prints it.
    Members(Vec<MemberInfo>),
    /// The direct links `:peers` listed, for programs, like [`Event::Members`].
    Links(Vec<LinkInfo>),
    /// A line of the saved history: the last screenful shown when a node starts
    /// (before [`Event::HISTORY_END`]), and the answers to `:history` and
    /// `:search`. Shown as `INFO` with its time (a frontend may dim it).
    History(SavedLine),
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

/// `1 member`, `2 members`: a count with its noun, in the singular for one. Every
/// count shown to a user goes through it.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

impl Event {
    /// The notice that ends the saved history shown at start: what follows is live.
    pub const HISTORY_END: &str = "---- saved history above; live messages below (:history for more) ----";

    /// The notice for a `:snapshot` written: the directory and the files put there,
    /// in order.
    pub fn snapshot_written(dir: &str, files: &[&str]) -> Event {
        Event::Notice(format!("snapshot written to {dir} ({})", files.join(", ")))
    }

    /// The error for a `:snapshot` that could not be written to `dir`.
    pub fn snapshot_failed(dir: &str, error: &io::Error) -> Event {
        Event::Error(format!("could not write the snapshot to {dir}: {error}"))
    }

    /// The error for a `:snapshot DIR` refused before the network is asked: `dir`
    /// already holds a snapshot's files, which are not written over.
    pub fn snapshot_refused(dir: &str) -> Event {
        Event::Error(format!("cannot take the snapshot: {dir} already holds a snapshot"))
    }

    /// The error for a snapshot whose directory came to hold another snapshot's
    /// files while it was being taken: nothing was written.
    pub fn snapshot_exists(dir: &str) -> Event {
        Event::Error(format!("could not write the snapshot to {dir}: it already holds a snapshot"))
    }

    /// The error for a log file (`--log`) that could not be written: the node runs
    /// on without it.
    pub fn log_failed(error: &io::Error) -> Event {
        Event::Error(format!("could not write to the log file: {error}; logging stopped"))
    }

    /// The error for the network loop itself failing (the node stops).
    pub fn loop_failed(error: &io::Error) -> Event {
        Event::Error(format!("network loop failed: {error}"))
    }

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
            Event::Joined { announce: false, .. }
            | Event::Left { announce: false, .. }
            | Event::Members(_)
            | Event::Links(_)
            | Event::Stopped => None,
            Event::Joined { name, .. } => info(format!("{name} joined")),
            Event::Left { name, reason: LeftReason::Quit, .. } => info(format!("{name} left")),
            Event::Left { name, reason: LeftReason::Lost, .. } => info(format!("lost contact with {name}")),
            Event::Notice(t) => info(t.clone()),
            Event::Error(t) => Some(("ERROR".to_owned(), sanitize(t))),
            Event::Renamed { from, to, newcomer: true, .. } => {
                info(format!("the newcomer {from} is shown as {to}: the name {from} was taken"))
            }
            Event::Renamed { from, to, newcomer: false, .. } => {
                info(format!("of the two members named {from}, the later one is now known as {to}"))
            }
            Event::History(line) => {
                let from = match &line.to {
                    Some(to) => format!("[private to {to}] {}", line.from),
                    None => line.from.clone(),
                };
                info(format!("{} {from}: {}", line.time, line.text))
            }
        }
    }

    /// The `NAME: TEXT` line `--headless` prints.
    pub fn to_line(&self) -> Option<String> {
        self.display().map(|(u, m)| format!("{u}: {m}"))
    }

    /// The one-line JSON object `--json` prints (`None` for events not shown).
    pub fn to_json(&self) -> Option<String> {
        let json = match self {
            Event::Listening { port, id, name } => {
                Json::Listening { port: *port, id: id.to_string(), name, key: id.short() }
            }
            Event::Message { from, text, origin, seq, private, to } => Json::Message {
                from,
                text,
                origin: origin.to_string(),
                seq: *seq & crate::wire::SEQ_LOW,
                private: *private,
                to: to.as_deref(),
                key: origin.short(),
            },
            Event::Joined { name, id, .. } => Json::Joined { name, id: id.to_string(), key: id.short() },
            Event::Left { name, id, reason, .. } => {
                Json::Left { name, id: id.to_string(), reason: reason.as_str(), key: id.short() }
            }
            Event::Notice(text) => Json::Notice { text },
            Event::Error(text) => Json::Error { text },
            Event::Renamed { id, from, to, .. } => Json::Renamed { id: id.to_string(), from, to, key: id.short() },
            Event::Members(list) => Json::Users {
                members: list
                    .iter()
                    .map(|m| JsonMember {
                        name: &m.name,
                        id: m.id.to_string(),
                        addr: m.addr.map(|a| a.to_string()),
                        hops: m.hops,
                        direct: m.direct,
                        key: m.id.short(),
                    })
                    .collect(),
            },
            Event::Links(list) => Json::Peers {
                links: list
                    .iter()
                    .map(|l| JsonLink { name: l.name.as_deref(), addr: l.addr.to_string(), kind: l.kind.as_str() })
                    .collect(),
            },
            Event::History(line) => Json::History {
                from: &line.from,
                text: &line.text,
                to: line.to.as_deref(),
                time: &line.time,
                time_ms: line.time_ms,
            },
            Event::Stopped => return None,
        };
        let mut out = Vec::with_capacity(96);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, TerminalSafe);
        json.serialize(&mut ser).ok()?;
        String::from_utf8(out).ok()
    }
}

/// The `--json` form of an [`Event`]: `{"event":"KIND",...}`, fields in this
/// order (DESIGN.md §3 fixes the names; fields may be added, never renamed).
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Json<'a> {
    Listening {
        port: u16,
        id: String,
        name: &'a str,
        key: String,
    },
    Message {
        from: &'a str,
        text: &'a str,
        origin: String,
        seq: u64,
        private: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<&'a str>,
        key: String,
    },
    Joined {
        name: &'a str,
        id: String,
        key: String,
    },
    Left {
        name: &'a str,
        id: String,
        reason: &'a str,
        key: String,
    },
    Notice {
        text: &'a str,
    },
    Error {
        text: &'a str,
    },
    Renamed {
        id: String,
        from: &'a str,
        to: &'a str,
        key: String,
    },
    /// `:users`.
    Users {
        members: Vec<JsonMember<'a>>,
    },
    /// `:peers`.
    Peers {
        links: Vec<JsonLink<'a>>,
    },
    /// A saved line (`:history`, `:search`, the start-up screen).
    History {
        from: &'a str,
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<&'a str>,
        time: &'a str,
        time_ms: u64,
    },
}

#[derive(Serialize)]
struct JsonMember<'a> {
    name: &'a str,
    id: String,
    /// `null` for a netcat client, or this node before it knows its address.
    addr: Option<String>,
    hops: u32,
    direct: bool,
    key: String,
}

#[derive(Serialize)]
struct JsonLink<'a> {
    /// `null` for a netcat client that gave no name yet.
    name: Option<&'a str>,
    addr: String,
    kind: &'a str,
}

/// serde_json's compact output, but DEL and the C1 controls (U+0080..U+009F, CSI
/// among them) are escaped too, not only C0: `--json` output is often read on a
/// terminal, and no text from the network may drive it (DESIGN.md §2, 7).
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(|c: char| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c)) {
            writer.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().unwrap_or('\u{fffd}');
            write!(writer, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::LinkKind;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(sanitize("a\u{1b}[2Jb\u{0}c\u{9b}d"), "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d");
        assert_eq!(sanitize("日本語 ok"), "日本語 ok");
        let e = Event::Message {
            from: "ev\u{7}il".into(),
            text: "\u{1b}]0;pwn\u{7}".into(),
            origin: NodeId::from_u64(1),
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
            origin: NodeId::from_u64(255),
            seq: 7,
            private: false,
            to: None,
        };
        let j = e.to_json().expect("shown");
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid json");
        assert_eq!(v["event"], "message");
        assert_eq!(v["text"], "q\"\\\n\u{1b}\u{0}é");
        assert_eq!(v["origin"], NodeId::from_u64(255).to_string());
        assert_eq!(v["key"], "00000000");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["private"], false);
        assert!(!j.contains('\u{1b}'));
        let l = Event::Left { name: "c".into(), id: NodeId::from_u64(1), reason: LeftReason::Lost, announce: false }
            .to_json()
            .expect("shown");
        let v: serde_json::Value = serde_json::from_str(&l).expect("valid json");
        assert_eq!(v["reason"], "lost");
    }

    #[test]
    fn json_escapes_del_and_c1_controls_too() {
        let j = Event::Notice("csi \u{9b}31m del \u{7f} nel \u{85} ok é".into()).to_json().expect("shown");
        assert_eq!(j, r#"{"event":"notice","text":"csi \u009b31m del \u007f nel \u0085 ok é"}"#);
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid json");
        assert_eq!(v["text"], "csi \u{9b}31m del \u{7f} nel \u{85} ok é");
    }

    #[test]
    fn a_rename_is_a_renamed_event_and_says_who() {
        let e =
            Event::Renamed { id: NodeId::from_u64(0xab), from: "alice".into(), to: "alice-2".into(), newcomer: true };
        assert_eq!(
            e.to_json().expect("shown"),
            format!(
                r#"{{"event":"renamed","id":"{}","from":"alice","to":"alice-2","key":"00000000"}}"#,
                NodeId::from_u64(0xab)
            )
        );
        assert_eq!(
            e.to_line().expect("shown"),
            "INFO: the newcomer alice is shown as alice-2: the name alice was taken"
        );
        let e = Event::Renamed { id: NodeId::from_u64(0xab), from: "bob".into(), to: "bob-2".into(), newcomer: false };
        assert_eq!(
            e.to_line().expect("shown"),
            "INFO: of the two members named bob, the later one is now known as bob-2"
        );
    }

    #[test]
    fn users_and_peers_are_structured_for_programs_and_not_shown_as_lines() {
        let member = MemberInfo {
            id: NodeId::from_u64(1),
            name: "alice".into(),
            addr: Some("127.0.0.1:4000".parse().expect("addr")),
            hops: 0,
            direct: false,
        };
        let text = MemberInfo { id: NodeId::from_u64(2), name: "nc".into(), addr: None, hops: 1, direct: true };
        let e = Event::Members(vec![member, text]);
        assert_eq!(e.display(), None);
        assert_eq!(
            e.to_json().expect("shown"),
            format!(
                r#"{{"event":"users","members":[{{"name":"alice","id":"{}","addr":"127.0.0.1:4000","hops":0,"direct":false,"key":"00000000"}},{{"name":"nc","id":"{}","addr":null,"hops":1,"direct":true,"key":"00000000"}}]}}"#,
                NodeId::from_u64(1),
                NodeId::from_u64(2)
            )
        );
        let link = LinkInfo { name: None, addr: "127.0.0.1:5".parse().expect("addr"), kind: LinkKind::Netcat };
        let e = Event::Links(vec![link]);
        assert_eq!(e.display(), None);
        assert_eq!(
            e.to_json().expect("shown"),
            r#"{"event":"peers","links":[{"name":null,"addr":"127.0.0.1:5","kind":"netcat"}]}"#
        );
    }

    #[test]
    fn what_the_driver_reports_is_worded_here() {
        let files = ["snapshot.json", "history.json", "topology.dot"];
        assert_eq!(
            Event::snapshot_written("/tmp/snap", &files).to_line().expect("shown"),
            "INFO: snapshot written to /tmp/snap (snapshot.json, history.json, topology.dot)"
        );
        let denied = io::Error::other("permission denied");
        assert_eq!(
            Event::snapshot_failed("/x", &denied).to_line().expect("shown"),
            "ERROR: could not write the snapshot to /x: permission denied"
        );
        assert_eq!(
            Event::snapshot_refused("/x").to_line().expect("shown"),
            "ERROR: cannot take the snapshot: /x already holds a snapshot"
        );
        assert_eq!(
            Event::snapshot_exists("/x").to_line().expect("shown"),
            "ERROR: could not write the snapshot to /x: it already holds a snapshot"
        );
        assert_eq!(
            Event::log_failed(&denied),
            Event::Error("could not write to the log file: permission denied; logging stopped".into())
        );
        assert_eq!(Event::loop_failed(&denied), Event::Error("network loop failed: permission denied".into()));
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(count(1, "member", "members"), "1 member");
        assert_eq!(count(0, "direct link", "direct links"), "0 direct links");
        assert_eq!(count(2, "hop", "hops"), "2 hops");
    }

    #[test]
    fn json_field_order_is_kept() {
        let e = Event::Listening { port: 41234, id: NodeId::from_u64(1), name: "alice".into() };
        assert_eq!(
            e.to_json().expect("shown"),
            format!(
                r#"{{"event":"listening","port":41234,"id":"{}","name":"alice","key":"00000000"}}"#,
                NodeId::from_u64(1)
            )
        );
    }
}
