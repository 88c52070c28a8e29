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
            let key = m.id.short();
            let line = if m.id == viewer {
                format!("  {} (you) {addr} key {key}", m.name)
            } else {
                let hops = if hops == 1 { "1 hop".to_owned() } else { format!("{hops} hops") };
                let role = match (direct, hosted && m.id == self.cfg.id) {
                    (true, true) => ", your host",
                    (true, false) => ", direct",
                    _ => "",
                };
                format!("  {} {addr} ({hops}{role}) key {key}", m.name)
            };
            lines.push(sanitize(&line));
        }
        lines
    }

    /// `:whois NAME`: what this node knows of one member.
    pub(super) fn show_whois(&mut self, name: &str, now: Instant) {
        self.update_membership(now);
        let Some(m) = self.members().into_iter().find(|m| m.name == name) else {
            self.out.error(format!("no member is called {}; :users lists them", sanitize(name)));
            return;
        };
        let addr = m.addr.map_or_else(|| "(no address: a text client, or not known yet)".to_owned(), |a| a.to_string());
        let (links, first_seen, host) = if m.id == self.cfg.id {
            (self.own.links().to_vec(), None, None)
        } else {
            let r = self.members.get(m.id);
            (
                r.map(|r| r.state.links.clone()).unwrap_or_default(),
                r.and_then(|r| r.state.endorsed).map(|e| e.at),
                r.and_then(|r| r.state.host),
            )
        };
        let name_of = |id: &NodeId| self.name_of(*id).map_or_else(|| id.short(), str::to_owned);
        let mut lines = vec![
            format!("{}:", m.name),
            format!("  key {} (fingerprint {})", m.id, m.id.short()),
            format!("  address {addr}"),
            if m.id == self.cfg.id {
                "  this node".to_owned()
            } else {
                format!(
                    "  {} away{}",
                    count(m.hops as usize, "hop", "hops"),
                    if m.direct { ", direct link" } else { "" }
                )
            },
        ];
        if let Some(h) = host {
            lines.push(format!("  a plain-text client of {}", name_of(&h)));
        }
        let names: Vec<String> = links.iter().map(name_of).collect();
        lines.push(format!("  links: {}", if names.is_empty() { "none".to_owned() } else { names.join(", ") }));
        if let Some(at) = first_seen {
            let ago = self.wall_now(now).saturating_sub(at) / 1000;
            lines.push(format!("  accepted into the network {ago} s ago"));
        }
        for l in lines {
            self.out.notice(sanitize(&l));
        }
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
