//! Events as C sees them: `p2pchat_event`, built from a core [`Event`] for the
//! duration of one callback.

use std::ffi::{CString, c_char, c_void};
use std::ptr;

use p2pchat_core::event::{Event, sanitize};

use crate::error::to_cstring;

/// What happened.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum p2pchat_event_kind {
    /// The node is listening (`port` is set); the first event.
    Listening = 0,
    /// A chat message, including this node's own, echoed once (`name`, `seq`,
    /// `is_private` are set).
    Message = 1,
    /// A member became reachable (`name` is set).
    Joined = 2,
    /// A member is no longer reachable (`name` is set; `json` says why).
    Left = 3,
    /// Information for the user (`username` is "INFO").
    Notice = 4,
    /// Something went wrong, such as an unknown command (`username` is "ERROR").
    Error = 5,
    /// The node has stopped: the last event. `username`, `message` and `json` are
    /// NULL. A frontend normally exits now (the lab UI calls `ui_exit()`).
    Stopped = 6,
    /// Another member took a new name after a name collision (`name` is the new
    /// name, `id` the member; `json` has both names). Shown like a notice.
    Renamed = 7,
    /// The members `:users` listed, for programs (`json` has them: name, id, addr,
    /// hops, direct); not shown (`username` and `message` are NULL), since the
    /// lines a UI shows came just before as NOTICE events.
    Members = 8,
    /// The direct links `:peers` listed, like MEMBERS (`json`: name, addr, kind).
    Links = 9,
    /// A line of the saved history: the last screenful shown at start (then a
    /// NOTICE ends it), and the answers to `:history` and `:search`. Shown like a
    /// notice (`username` is "INFO", `message` the time, the sender and the
    /// text); `json` has them apart (from, to, text, time, time_ms).
    History = 10,
}

/// One event, passed to a `p2pchat_event_cb`.
///
/// Every string is NUL-terminated UTF-8 without control characters where it may
/// reach a terminal (`username`, `message`, `name`), borrowed for the duration of
/// the callback only: copy what you want to keep. New fields may be added at the
/// end of the struct in later versions; never allocate one yourself.
#[repr(C)]
#[derive(Debug)]
pub struct p2pchat_event {
    /// What happened.
    pub kind: p2pchat_event_kind,
    /// The left part of the line a UI shows: the sender's name (prefixed with
    /// `"[private] "` for a private message), "INFO" or "ERROR". NULL when the event
    /// is not shown (STOPPED, and JOINED/LEFT covered by another notice); then
    /// `message` is NULL too. Pass `username` and `message` to the lab's
    /// `ui_display()` as they are.
    pub username: *const c_char,
    /// The right part of the line a UI shows: the text. NULL exactly when
    /// `username` is NULL.
    pub message: *const c_char,
    /// The event as one JSON object on one line, as `--json` prints it (with the
    /// key "event"); NULL for STOPPED.
    pub json: *const c_char,
    /// The member concerned, without any prefix: the sender of a MESSAGE, the
    /// member who JOINED or LEFT, this node's own name for LISTENING; NULL otherwise.
    pub name: *const c_char,
    /// The node id of that member (sender, member, or this node), 0 otherwise.
    pub id: u64,
    /// The sender's sequence number of a MESSAGE (its count: 1 for the sender's first
    /// message, then 2, 3, ...), 0 otherwise.
    pub seq: u64,
    /// The listening port, for LISTENING; 0 otherwise.
    pub port: u16,
    /// A MESSAGE sent privately (only the sender and the recipient see it).
    pub is_private: bool,
    /// The short fingerprint of that member's key (8 hex digits, as `:users`
    /// shows it; the `key` of the JSON), NULL when `id` is 0. The id and the key
    /// are the same thing: `id` is the key's first 8 bytes.
    pub key: *const c_char,
}

/// Called for each event, on the node's network thread, one call at a time (never
/// concurrently with itself), and never after `p2pchat_node_free()` has returned.
/// `userdata` is the pointer given to `p2pchat_node_new()`; `event` and its strings
/// are borrowed for the duration of the call.
///
/// The callback may call every function of this library on its own node except
/// `p2pchat_node_free()` (see there): `p2pchat_node_send()`, `p2pchat_node_command()`
/// and `p2pchat_node_connect()` never block, and `p2pchat_node_stop()` and
/// `p2pchat_node_wait()` return at once there. It must not wait for a thread that
/// is itself waiting for this node to stop, and should return quickly: the node
/// does nothing else meanwhile. It must not unwind (no C++ exception, no longjmp).
/// The first call (LISTENING) may happen before `p2pchat_node_new()` has returned.
pub type p2pchat_event_cb = Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const p2pchat_event)>;

/// The C strings of one event; they must outlive the `p2pchat_event` that points
/// into them.
#[derive(Debug, Default)]
pub(crate) struct EventStrings {
    username: Option<CString>,
    message: Option<CString>,
    json: Option<CString>,
    name: Option<CString>,
    key: Option<CString>,
}

/// For events that carry no member: sets the kind, names nobody.
fn kind_only<'a>(fields: &mut Fields, kind: p2pchat_event_kind) -> Option<&'a String> {
    fields.kind = kind;
    None
}

fn ptr_of(s: &Option<CString>) -> *const c_char {
    s.as_deref().map_or(ptr::null(), |s| s.as_ptr())
}

impl EventStrings {
    /// Converts `event`; returns the strings and the fields that are not strings.
    pub(crate) fn new(event: &Event) -> (EventStrings, Fields) {
        let mut strings = EventStrings::default();
        if let Some((username, message)) = event.display() {
            strings.username = Some(to_cstring(&username));
            strings.message = Some(to_cstring(&message));
        }
        strings.json = event.to_json().map(|j| to_cstring(&j));
        let mut fields = Fields { kind: p2pchat_event_kind::Stopped, id: 0, seq: 0, port: 0, is_private: false };
        let name = match event {
            Event::Listening { port, id, name } => {
                fields = Fields { kind: p2pchat_event_kind::Listening, id: id.prefix(), port: *port, ..fields };
                Some(name)
            }
            Event::Message { from, origin, seq, private, .. } => {
                fields = Fields {
                    kind: p2pchat_event_kind::Message,
                    id: origin.prefix(),
                    seq: *seq & p2pchat_core::wire::SEQ_LOW,
                    is_private: *private,
                    ..fields
                };
                Some(from)
            }
            Event::Joined { name, id, .. } => {
                fields = Fields { kind: p2pchat_event_kind::Joined, id: id.prefix(), ..fields };
                Some(name)
            }
            Event::Left { name, id, .. } => {
                fields = Fields { kind: p2pchat_event_kind::Left, id: id.prefix(), ..fields };
                Some(name)
            }
            Event::Notice(_) => kind_only(&mut fields, p2pchat_event_kind::Notice),
            Event::Error(_) => kind_only(&mut fields, p2pchat_event_kind::Error),
            Event::Renamed { id, to, .. } => {
                fields = Fields { kind: p2pchat_event_kind::Renamed, id: id.prefix(), ..fields };
                Some(to)
            }
            Event::Members(_) => kind_only(&mut fields, p2pchat_event_kind::Members),
            Event::Links(_) => kind_only(&mut fields, p2pchat_event_kind::Links),
            Event::History(_) => kind_only(&mut fields, p2pchat_event_kind::History),
            Event::Stopped => None,
        };
        strings.name = name.map(|n| to_cstring(&sanitize(n)));
        let member = match event {
            Event::Listening { id, .. }
            | Event::Joined { id, .. }
            | Event::Left { id, .. }
            | Event::Renamed { id, .. } => Some(id),
            Event::Message { origin, .. } => Some(origin),
            _ => None,
        };
        strings.key = member.map(|id| to_cstring(&id.short()));
        (strings, fields)
    }

    /// The C view of the event; it borrows `self`.
    pub(crate) fn view(&self, fields: &Fields) -> p2pchat_event {
        p2pchat_event {
            kind: fields.kind,
            username: ptr_of(&self.username),
            message: ptr_of(&self.message),
            json: ptr_of(&self.json),
            name: ptr_of(&self.name),
            id: fields.id,
            seq: fields.seq,
            port: fields.port,
            is_private: fields.is_private,
            key: ptr_of(&self.key),
        }
    }
}

/// The fields of a `p2pchat_event` that are not strings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    kind: p2pchat_event_kind,
    id: u64,
    seq: u64,
    port: u16,
    is_private: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2pchat_core::NodeId;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: the pointers come from a live EventStrings in the same test.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().expect("utf-8").to_owned())
    }

    #[test]
    fn a_message_carries_the_display_pair_json_and_fields() {
        let event = Event::Message {
            from: "b\u{1b}ob".into(),
            text: "hi".into(),
            origin: NodeId::from_u64(0x3f2a_9c1e_0000_0007),
            seq: 3,
            private: true,
            to: None,
        };
        let (strings, fields) = EventStrings::new(&event);
        let view = strings.view(&fields);
        assert_eq!(view.kind, p2pchat_event_kind::Message);
        assert_eq!(text(view.key).as_deref(), Some("3f2a9c1e"), "the sender's fingerprint");
        assert_eq!(view.id, 0x3f2a_9c1e_0000_0007);
        assert_eq!(text(view.username).as_deref(), Some("[private] b\u{FFFD}ob"));
        assert_eq!(text(view.message).as_deref(), Some("hi"));
        assert_eq!(text(view.name).as_deref(), Some("b\u{FFFD}ob"));
        assert!(text(view.json).expect("json").contains("\"event\":\"message\""));
        assert_eq!((view.id, view.seq, view.is_private), (0x3f2a_9c1e_0000_0007, 3, true));
    }

    #[test]
    fn stopped_has_no_strings_and_hidden_joins_have_only_json() {
        let (strings, fields) = EventStrings::new(&Event::Stopped);
        let view = strings.view(&fields);
        assert_eq!(view.kind, p2pchat_event_kind::Stopped);
        assert!(view.username.is_null() && view.message.is_null() && view.json.is_null() && view.name.is_null());
        let (strings, fields) =
            EventStrings::new(&Event::Joined { name: "c".into(), id: NodeId::from_u64(1), announce: false });
        let view = strings.view(&fields);
        assert!(view.username.is_null() && view.message.is_null());
        assert!(!view.json.is_null());
        assert_eq!(text(view.name).as_deref(), Some("c"));
    }

    #[test]
    fn listening_has_the_port() {
        let (strings, fields) =
            EventStrings::new(&Event::Listening { port: 4242, id: NodeId::from_u64(9), name: "a".into() });
        let view = strings.view(&fields);
        assert_eq!((view.kind, view.port, view.id), (p2pchat_event_kind::Listening, 4242, 9));
        assert_eq!(text(view.message).as_deref(), Some("listening on port 4242"));
    }
}
