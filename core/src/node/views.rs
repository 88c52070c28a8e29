//! What `:users` and `:peers` show: read-only views of the node's parts.

use std::time::Instant;

use super::Node;
use super::peers::Phase;
use crate::event::{count, sanitize};
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

    pub(super) fn show_users(&mut self, now: Instant) {
        for line in self.users_lines(now, self.cfg.id) {
            self.out.notice(line);
        }
    }

    pub(super) fn show_peers(&mut self) {
        let lines: Vec<String> = self
            .peers
            .iter()
            .filter_map(|(k, p)| {
                let dir = if p.direction == super::Direction::Inbound { "inbound" } else { "outbound" };
                match (&p.phase, &p.hello, self.netcats.get(k)) {
                    (Phase::Ready, Some(h), _) => Some(format!("  {} {} ({dir})", sanitize(&h.name), p.remote)),
                    (Phase::Netcat, _, Some(t)) => {
                        let name = t.name.as_deref().map_or_else(|| "(no name yet)".to_owned(), sanitize);
                        Some(format!("  {name} {} (plain-text client)", p.remote))
                    }
                    _ => None,
                }
            })
            .collect();
        self.out.notice(format!("{}:", count(lines.len(), "direct link", "direct links")));
        for l in lines {
            self.out.notice(l);
        }
    }
}
