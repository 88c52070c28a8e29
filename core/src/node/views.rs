//! What `:users` and `:peers` show: read-only views of the node's parts.

use std::time::Instant;

use super::peers::Phase;
use super::{Direction, LinkInfo, LinkKind, Node};
use crate::event::{Event, count, sanitize};
use crate::id::NodeId;

impl Node {
    /// The lines `:users` shows to `viewer`: this node's user, or a text client
    /// hosted here (which sees itself as "you" and everyone one hop further away).
    pub(super) fn users_lines(&mut self, now: Instant, viewer: NodeId) -> Vec<String> {
        self.update_membership(now);
        let list = self.members();
        let hosted = viewer != self.cfg.id;
        let mut lines = vec![format!("{}:", count(list.len(), "member", "members"))];
        for m in list {
            let addr = match m.addr {
                Some(a) => a.to_string(),
                // This node, bound to every address and not linked yet: no one
                // address is its own, but its port is.
                None if m.id == self.cfg.id => format!("(listening on port {})", self.cfg.port),
                None => "(text client)".to_owned(),
            };
            let (hops, direct) = match (hosted, m.id) {
                (_, id) if id == viewer => (0, false),
                (true, id) if id == self.cfg.id => (1, true),
                (true, _) => (m.hops + 1, false),
                (false, _) => (m.hops, m.direct),
            };
            let line = if m.id == viewer {
                format!("  {} (you) {addr}", m.name)
            } else {
                let hops = if hops == 1 { "1 hop".to_owned() } else { format!("{hops} hops") };
                let role = match (direct, hosted && m.id == self.cfg.id) {
                    (true, true) => ", your host",
                    (true, false) => ", direct",
                    _ => "",
                };
                format!("  {} {addr} ({hops}{role})", m.name)
            };
            lines.push(sanitize(&line));
        }
        lines
    }

    /// `:users`: the lines for the user, then the same as data (`--json`).
    pub(super) fn show_users(&mut self, now: Instant) {
        for line in self.users_lines(now, self.cfg.id) {
            self.out.notice(line);
        }
        self.out.event(Event::Members(self.members()));
    }

    fn links(&self) -> Vec<LinkInfo> {
        self.peers
            .iter()
            .filter_map(|(k, p)| match (&p.phase, &p.hello, self.netcats.get(k)) {
                (Phase::Ready, Some(h), _) => {
                    let kind = if p.direction == Direction::Inbound { LinkKind::Inbound } else { LinkKind::Outbound };
                    Some(LinkInfo { name: Some(h.name.clone()), addr: p.remote, kind })
                }
                (Phase::Netcat, _, Some(t)) => {
                    Some(LinkInfo { name: t.name.clone(), addr: p.remote, kind: LinkKind::Netcat })
                }
                _ => None,
            })
            .collect()
    }

    /// `:peers`: the lines for the user, then the same as data (`--json`).
    pub(super) fn show_peers(&mut self) {
        let links = self.links();
        self.out.notice(format!("{}:", count(links.len(), "direct link", "direct links")));
        for l in &links {
            let name = l.name.as_deref().map_or_else(|| "(no name yet)".to_owned(), sanitize);
            let kind = match l.kind {
                LinkKind::Netcat => "plain-text client",
                k => k.as_str(),
            };
            self.out.notice(format!("  {name} {} ({kind})", l.addr));
        }
        self.out.event(Event::Links(links));
    }
}
