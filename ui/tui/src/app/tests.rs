//! Unit tests of the window model.

use super::*;
use p2pchat_core::NodeId;
use p2pchat_core::node::MemberInfo;

fn message(from: &str, text: &str, private: bool, to: Option<&str>) -> Event {
    Event::Message {
        from: from.into(),
        text: text.into(),
        origin: NodeId::from_u64(7),
        seq: 1,
        private,
        to: to.map(str::to_owned),
    }
}

fn texts(app: &App, session: usize) -> Vec<String> {
    app.sessions.get(session).map(|s| s.buffer.lines().map(|l| l.text.clone()).collect()).unwrap_or_default()
}

fn typed(app: &mut App, line: &str) {
    for c in line.chars() {
        app.on_key(Key::Char(c));
    }
    app.on_key(Key::Enter);
}

fn chat(text: &str) -> Input {
    Input::Chat(text.into())
}

fn msg(name: &str, text: &str) -> Input {
    Input::Msg { name: name.into(), text: text.into() }
}

#[test]
fn window_commands_are_recognised_and_others_are_not() {
    assert_eq!(parse_window_command(":query bob"), Some(Ok(WindowCommand::Query { name: "bob".into(), text: None })));
    assert_eq!(
        parse_window_command("/query bob  hi there"),
        Some(Ok(WindowCommand::Query { name: "bob".into(), text: Some("hi there".into()) }))
    );
    assert_eq!(parse_window_command(":sessions"), Some(Ok(WindowCommand::Sessions)));
    assert_eq!(parse_window_command(":switch 2"), Some(Ok(WindowCommand::Switch(2))));
    assert_eq!(parse_window_command(":close"), Some(Ok(WindowCommand::Close(None))));
    assert_eq!(parse_window_command(":close 3"), Some(Ok(WindowCommand::Close(Some(3)))));
    assert_eq!(parse_window_command(":help"), Some(Ok(WindowCommand::Help)));
    assert!(matches!(parse_window_command(":query"), Some(Err(_))));
    assert!(matches!(parse_window_command(":switch x"), Some(Err(_))));
    assert!(matches!(parse_window_command(":sessions 1"), Some(Err(_))));
    for other in ["hello", "::query bob", "//sessions", ":msg bob hi", ":q", ":users", ":help me", ""] {
        assert_eq!(parse_window_command(other), None, "{other:?}");
    }
}

#[test]
fn chat_and_node_commands_go_to_the_node_parsed() {
    let mut app = App::new();
    typed(&mut app, "hello all");
    typed(&mut app, ":users");
    typed(&mut app, "::literal");
    typed(&mut app, ":nope");
    typed(&mut app, "   ");
    assert_eq!(app.take_outgoing(), [chat("hello all"), Input::Users, chat(":literal")]);
    assert_eq!(texts(&app, 0), ["ERROR: unknown command :nope; type :help for the list"]);
    assert!(!app.quitting);
    typed(&mut app, ":q");
    assert_eq!(app.take_outgoing(), [Input::Quit]);
    assert!(app.quitting);
}

/// An app whose node knows these members (as `Status::members` says).
fn app_with(names: &[&str]) -> App {
    let mut app = App::new();
    app.status.members = names
        .iter()
        .map(|n| MemberInfo { id: NodeId::from_u64(1), name: (*n).into(), addr: None, hops: 1, direct: true })
        .collect();
    app
}

#[test]
fn query_refuses_a_name_no_member_has() {
    let mut app = app_with(&["bob"]);
    typed(&mut app, ":query nobody");
    assert_eq!(app.sessions.len(), 1, "no session opened");
    assert!(texts(&app, 0).iter().any(|l| l == "ERROR: no member named nobody; :users lists them"));
    typed(&mut app, ":query bob");
    assert_eq!(app.sessions.active().peer(), Some("bob"));
}

#[test]
fn window_commands_never_reach_the_node() {
    let mut app = app_with(&["bob"]);
    typed(&mut app, ":query bob");
    typed(&mut app, ":sessions");
    typed(&mut app, ":switch 0");
    typed(&mut app, ":switch 9");
    typed(&mut app, ":help");
    assert_eq!(app.take_outgoing(), Vec::<Input>::new());
    let public = texts(&app, 0);
    assert!(public.iter().any(|l| l.starts_with("ERROR: no session 9")), "{public:?}");
    assert!(public.iter().any(|l| l.contains(":query NAME")), "help lists the TUI commands");
    assert!(public.iter().any(|l| l.contains(":users")), "help lists the node's commands");
    assert!(public.iter().any(|l| l.contains("Tab completes") && l.contains("cycles")), "help says what Tab does");
    assert!(public.iter().any(|l| l.contains("F2") && l.contains("fingerprint")), "help says what F2 does");
    let bob = texts(&app, 1);
    assert!(bob.iter().any(|l| l == "INFO:   1: bob (shown)"), "{bob:?}");
}

#[test]
fn typing_in_a_query_sends_a_private_message() {
    let mut app = app_with(&["bob", "carol"]);
    typed(&mut app, ":query bob");
    assert_eq!(app.sessions.active().peer(), Some("bob"));
    typed(&mut app, "psst");
    typed(&mut app, "::colon");
    typed(&mut app, ":users");
    typed(&mut app, "  indented");
    assert_eq!(app.take_outgoing(), [msg("bob", "psst"), msg("bob", ":colon"), Input::Users, msg("bob", "  indented")]);
    typed(&mut app, ":query carol hi carol");
    assert_eq!(app.take_outgoing(), [msg("carol", "hi carol")]);
    assert_eq!(app.sessions.active().peer(), Some("carol"));
}

#[test]
fn msg_shows_the_conversation_and_goes_to_the_node() {
    let mut app = App::new();
    typed(&mut app, ":msg bob hi bob");
    assert_eq!(app.take_outgoing(), [msg("bob", "hi bob")]);
    assert_eq!(app.sessions.active().peer(), Some("bob"));
}

#[test]
fn no_conversation_with_oneself() {
    let mut app = App::new();
    app.status.name = "alice".into();
    typed(&mut app, ":query alice");
    typed(&mut app, ":msg alice hi me");
    // The node answers the :msg with its own error.
    assert_eq!(app.take_outgoing(), [msg("alice", "hi me")]);
    assert_eq!(app.sessions.len(), 1);
    assert!(texts(&app, 0).iter().any(|l| l.starts_with("ERROR: that is your own name")));
}

#[test]
fn private_messages_go_to_the_other_members_session_only() {
    let mut app = App::new();
    app.on_event(&message("alice", "public hello", false, None));
    app.on_event(&message("bob", "secret", true, None));
    app.on_event(&message("alice", "reply", true, Some("bob")));
    app.on_event(&message("carol", "another", true, None));
    assert_eq!(texts(&app, 0), ["alice: public hello"]);
    assert_eq!(texts(&app, 1), ["bob: secret", "alice: reply"]);
    assert_eq!(texts(&app, 2), ["carol: another"]);
    // Received ones are unread; the own copy is not.
    assert_eq!(app.sessions.get(1).map(|s| s.unread), Some(1));
    assert_eq!(app.sessions.get(2).map(|s| s.unread), Some(1));
}

#[test]
fn names_and_texts_from_the_network_are_neutralised() {
    let mut app = App::new();
    app.on_event(&message("ev\u{1b}il", "\u{1b}[2Jboom", false, None));
    app.on_event(&message("b\u{7}ob", "x\u{9b}y", true, None));
    for i in 0..app.sessions.len() {
        for l in texts(&app, i) {
            assert!(!l.chars().any(char::is_control), "{l:?}");
        }
    }
}

#[test]
fn joins_go_public_and_to_the_members_conversation_and_notices_to_the_session_shown() {
    let mut app = app_with(&["bob"]);
    app.on_event(&Event::Listening { port: 4000, id: NodeId::from_u64(1), name: "alice".into() });
    typed(&mut app, ":query bob");
    app.on_event(&Event::Joined { name: "bob".into(), id: NodeId::from_u64(2), announce: true });
    app.on_event(&Event::Joined { name: "quiet".into(), id: NodeId::from_u64(3), announce: false });
    app.on_event(&Event::Notice("bob 127.0.0.1:4001 1 hop".into()));
    app.on_event(&Event::Error("no member named zed".into()));
    assert_eq!(texts(&app, 0), ["INFO: listening on port 4000", "INFO: bob joined"]);
    assert_eq!(texts(&app, 1), ["INFO: bob joined", "INFO: bob 127.0.0.1:4001 1 hop", "ERROR: no member named zed"]);
    let styles: Vec<Style> =
        app.sessions.get(1).map(|s| s.buffer.lines().map(|l| l.style).collect()).unwrap_or_default();
    assert_eq!(styles, [Style::Notice, Style::Notice, Style::Error]);
}

#[test]
fn keys_switch_sessions_and_scroll() {
    let mut app = app_with(&["bob"]);
    typed(&mut app, ":query bob");
    app.on_key(Key::Alt('0'));
    assert_eq!(app.sessions.active_index(), 0);
    app.on_key(Key::Alt('1'));
    assert_eq!(app.sessions.active_index(), 1);
    app.on_key(Key::Alt('5'));
    assert_eq!(app.sessions.active_index(), 1);
    app.on_key(Key::Ctrl('n'));
    assert_eq!(app.sessions.active_index(), 0);
    app.sessions.set_size(20, 4);
    for i in 0..20 {
        app.on_event(&message("alice", &format!("m{i}"), false, None));
    }
    app.on_key(Key::PageUp);
    assert!(app.sessions.active().buffer.is_scrolled());
    app.on_key(Key::WheelDown);
    app.on_key(Key::WheelDown);
    assert!(!app.sessions.active().buffer.is_scrolled());
    app.on_key(Key::WheelUp);
    assert_eq!(app.sessions.active().buffer.offset(), 3);
}

#[test]
fn ctrl_c_and_ctrl_d_on_an_empty_line_quit_once() {
    let mut app = App::new();
    app.on_key(Key::Char('x'));
    app.on_key(Key::Ctrl('d'));
    assert!(!app.quitting);
    app.on_key(Key::Ctrl('d'));
    app.on_key(Key::Ctrl('c'));
    assert!(app.quitting);
    assert_eq!(app.take_outgoing(), [Input::Quit]);
}

#[test]
fn tab_completes_member_names() {
    let mut app = App::new();
    let member =
        |name: &str| MemberInfo { id: NodeId::from_u64(1), name: name.into(), addr: None, hops: 1, direct: true };
    app.status.members = vec![member("alice"), member("bobby"), member("bobcat")];
    for c in ":msg b".chars() {
        app.on_key(Key::Char(c));
    }
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), ":msg bob");
    app.on_key(Key::Char('b'));
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), ":msg bobby ");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), ":msg bobby ");
    app.editor.clear();
    app.on_key(Key::Char('z'));
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "z");
    // After a wide space (three bytes in UTF-8).
    app.editor.clear();
    app.editor.insert_str("hi\u{3000}al");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi\u{3000}alice ");
}

#[test]
fn repeated_tab_cycles_through_the_names_a_word_starts() {
    let mut app = app_with(&["alice", "bob-2", "bob", "carol", "bob"]);
    typed_only(&mut app, "hi b");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi bob", "first as far as the names agree");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi bob ");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi bob-2 ");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi bob ", "after the last, the first again");
    app.on_key(Key::BackTab);
    assert_eq!(app.editor.text(), "hi bob-2 ");
    assert_eq!(app.editor.cursor(), app.editor.text().len());
    // Typing ends the cycle: the next Tab completes the new word.
    typed_only(&mut app, "and c");
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "hi bob-2 and carol ");
    // In the middle of a line, the rest stays.
    app.editor.clear();
    typed_only(&mut app, "bob said");
    for _ in 0..5 {
        app.on_key(Key::Left);
    }
    app.on_key(Key::Tab);
    app.on_key(Key::Tab);
    assert_eq!(app.editor.text(), "bob-2  said");
    // Shift+Tab first: the last name.
    app.editor.clear();
    typed_only(&mut app, "bo");
    app.on_key(Key::Tab);
    app.on_key(Key::BackTab);
    assert_eq!(app.editor.text(), "bob-2 ");
}

fn typed_only(app: &mut App, text: &str) {
    for c in text.chars() {
        app.on_key(Key::Char(c));
    }
}

#[test]
fn the_command_line_help_names_the_window_commands_and_keys() {
    let extra = command_line_help();
    let help = p2pchat_core::cli::help_text_with("p2pchat-tui", &extra);
    for item in [":query NAME", ":sessions", ":switch N", ":close [N]", "Alt+N", "PageUp", "Tab completes", "F2"] {
        assert!(help.contains(item), "--help names {item}: {help}");
    }
    assert!(help.lines().all(|l| l.chars().count() <= 100), "help lines fit a wide terminal: {help}");
    assert!(!p2pchat_core::cli::help_text("p2pchat").contains(":query"), "only this window's help");
}

#[test]
fn status_changes_are_noticed() {
    let mut app = App::new();
    let mut s = Status { name: "alice".into(), port: 4000, ..Status::default() };
    assert!(app.set_status(s.clone()));
    assert!(!app.set_status(s.clone()));
    s.links = 1;
    assert!(app.set_status(s));
}

/// The member pane's rows as shown, `cols` columns wide.
fn pane(app: &App, cols: usize) -> Vec<String> {
    crate::render::member_rows(&app.status, cols, app.fingerprints)
        .into_iter()
        .map(|(name, rest)| format!("{name}{rest}"))
        .collect()
}

#[test]
fn f2_toggles_the_fingerprints_in_the_member_pane() {
    let mut app = App::new();
    let mut id = [0x77; 32];
    id[..4].copy_from_slice(&[0x3f, 0x2a, 0x9c, 0x1e]);
    app.status.members = vec![MemberInfo { id: NodeId(id), name: "alice".into(), addr: None, hops: 1, direct: true }];
    assert!(!app.fingerprints, "off at first: the pane is narrow");
    assert_eq!(pane(&app, 20), ["alice         direct"]);
    app.on_key(Key::F(2));
    assert!(app.fingerprints);
    assert_eq!(pane(&app, 21), ["alice 3f2a9c1e direct"]);
    assert_eq!(pane(&app, 20), ["alice 3f2a9c1e"], "the distance gives way to the fingerprint");
    // Nothing typed, nothing sent; other function keys do nothing.
    app.on_key(Key::F(3));
    assert!(app.fingerprints);
    assert_eq!(app.editor.text(), "");
    assert_eq!(app.take_outgoing(), Vec::<Input>::new());
    app.on_key(Key::F(2));
    assert!(!app.fingerprints);
    assert_eq!(pane(&app, 20), ["alice         direct"]);
}

#[test]
fn a_key_change_warning_is_shown_in_red() {
    let mut app = app_with(&["bob"]);
    typed(&mut app, ":query bob");
    let mut id = [0; 32];
    id[..4].copy_from_slice(&[0x3f, 0x2a, 0x9c, 0x1e]);
    let warning = p2pchat_core::node::netcat::key_warning("alice", &NodeId(id));
    assert!(warning.contains("new key 3f2a9c1e"), "{warning}");
    app.on_event(&Event::Error(warning.clone()));
    // In the session shown, where the user is looking.
    let line = app.sessions.active().buffer.lines().last().cloned().expect("a line");
    assert_eq!(line.text, format!("ERROR: {warning}"));
    assert_eq!(line.style, Style::Error);
    assert_eq!(crate::render::style_pair(line.style), Some(crate::render::ERROR_PAIR));
    assert_eq!(crate::render::NAME_COLORS[0], ncurses::COLOR_RED, "pair 1 is red");
}
