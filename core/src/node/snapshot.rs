//! `:snapshot [DIR]`: a picture of the whole network.
//!
//! The request is flooded; every member answers with a [`Report`] (its name, id,
//! address, links, per-origin high-water marks and counters), and answers travel
//! back hop by hop along the path the request came. After a bounded wait (or once
//! every reachable member answered) the node writes `snapshot.json`,
//! `history.json` and `topology.dot` through [`Action::WriteSnapshot`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};

use super::peers::Phase;
use super::{Action, Node, PeerId};
use crate::id::NodeId;
use crate::wire::{Frame, MAX_LIST, Report};

/// The files a snapshot is made of, in the order they are handed over.
pub const SNAPSHOT_FILES: [&str; 3] = ["snapshot.json", "history.json", "topology.dot"];

/// The directory a snapshot goes to when the user names none.
pub fn default_dir(unix_secs: u64) -> String {
    format!("p2pchat-snapshot-{unix_secs}")
}

/// Most snapshot routes remembered (requests seen recently).
const MAX_ROUTES: usize = 256;

/// Snapshots: the one this node is taking, and where recent requests came from
/// (so answers go back the way the request came).
#[derive(Debug, Default)]
pub(super) struct Snapshots {
    current: Option<Snap>,
    routes: VecDeque<((NodeId, u64), PeerId)>,
}

impl Snapshots {
    /// Remembers where a request came from; false if it was seen already.
    fn route(&mut self, requester: NodeId, request: u64, from: Option<PeerId>) -> bool {
        if self.routes.iter().any(|(k, _)| *k == (requester, request)) {
            return false;
        }
        if self.routes.len() >= MAX_ROUTES {
            self.routes.pop_front();
        }
        self.routes.push_back(((requester, request), from.unwrap_or(PeerId(u64::MAX))));
        true
    }

    /// The connection a request came from.
    fn back(&self, requester: NodeId, request: u64) -> Option<PeerId> {
        self.routes.iter().find(|(k, _)| *k == (requester, request)).map(|(_, p)| *p)
    }
}

/// A snapshot in progress.
#[derive(Debug)]
struct Snap {
    request: u64,
    dir: String,
    started_ms: u64,
    deadline: Instant,
    expected: BTreeSet<NodeId>,
    reports: BTreeMap<NodeId, Report>,
}

impl Node {
    fn own_reports(&self, requester: NodeId, request: u64) -> Vec<Report> {
        let mut marks = self.delivery.marks();
        marks.truncate(MAX_LIST);
        let mut v = vec![Report {
            requester,
            request,
            member: self.cfg.id,
            name: self.own.name().to_owned(),
            addr: self.own.state().addr,
            host: None,
            links: self.own.links().to_vec(),
            marks,
            sent: self.stats.sent,
            received: self.stats.received,
            forwarded: self.stats.forwarded,
        }];
        v.extend(self.netcats.named().map(|(_, t, name)| Report {
            requester,
            request,
            member: t.id,
            name: name.to_owned(),
            addr: None,
            host: Some(self.cfg.id),
            links: vec![self.cfg.id],
            marks: Vec::new(),
            sent: t.seq & crate::wire::SEQ_LOW,
            received: 0,
            forwarded: 0,
        }));
        v
    }

    pub(super) fn start_snapshot(&mut self, dir: Option<String>, now: Instant) {
        if self.snapshots.current.is_some() {
            self.out.error("a snapshot is already being taken".into());
            return;
        }
        self.update_membership(now);
        let started_ms = self.wall_now(now);
        let dir = dir.unwrap_or_else(|| default_dir(started_ms / 1000));
        let request = self.rng.next_u64();
        let mut expected: BTreeSet<NodeId> = self.members.reachable().iter().map(|r| r.state.id).collect();
        expected.insert(self.cfg.id);
        let reports = self.own_reports(self.cfg.id, request).into_iter().map(|r| (r.member, r)).collect();
        let n = expected.len();
        self.snapshots.current = Some(Snap {
            request,
            dir: dir.clone(),
            started_ms,
            deadline: now + self.cfg.snapshot_wait,
            expected,
            reports,
        });
        self.snapshots.route(self.cfg.id, request, None);
        if let Ok(raw) = (Frame::SnapshotRequest { requester: self.cfg.id, request }).encode() {
            self.forward(None, &raw, now);
        }
        self.out.notice(format!("snapshot: asking {n} members; it will be written to {dir}"));
        self.check_snapshot(now);
    }

    pub(super) fn on_snapshot_request(
        &mut self,
        peer: PeerId,
        requester: NodeId,
        request: u64,
        raw: Bytes,
        now: Instant,
    ) {
        if !self.snapshots.route(requester, request, Some(peer)) {
            return;
        }
        self.forward(Some(peer), &raw, now);
        for r in self.own_reports(requester, request) {
            let Some(keys) = self.keys_of(r.member) else { continue };
            let frame = Frame::SnapshotReply(r, crate::crypto::Sig::default());
            match frame.encode_signed(|b| crate::crypto::sign_bytes(&keys, crate::crypto::domain::REPORT, b)) {
                Ok(raw) => self.peers.queue(&mut self.out, peer, raw, now),
                Err(e) => self.out.log(format!("could not encode a snapshot answer: {e}")),
            }
        }
    }

    pub(super) fn on_snapshot_reply(&mut self, r: Report, raw: Bytes, now: Instant) {
        if r.requester == self.cfg.id {
            if let Some(s) = self.snapshots.current.as_mut()
                && s.request == r.request
            {
                s.reports.insert(r.member, r);
            }
            self.check_snapshot(now);
            return;
        }
        if let Some(peer) = self.snapshots.back(r.requester, r.request)
            && self.peers.get(peer).is_some_and(|p| p.phase == Phase::Ready)
        {
            self.peers.queue(&mut self.out, peer, raw, now);
        }
    }

    pub(super) fn check_snapshot(&mut self, now: Instant) {
        let done = self
            .snapshots
            .current
            .as_ref()
            .is_some_and(|s| now >= s.deadline || s.expected.iter().all(|id| s.reports.contains_key(id)));
        if !done {
            return;
        }
        let Some(s) = self.snapshots.current.take() else { return };
        let files = self.snapshot_files(&s, now);
        self.out.act(Action::WriteSnapshot { dir: s.dir, files });
    }

    fn snapshot_files(&mut self, s: &Snap, now: Instant) -> Vec<(String, String)> {
        let name_of = |id: &NodeId| -> String {
            if let Some(r) = s.reports.get(id) {
                return r.name.clone();
            }
            self.members.get(*id).map_or_else(|| id.to_string(), |r| r.state.name.clone())
        };
        // Links: from the answers, and for silent members from their last record.
        let mut adjacency: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        for id in &s.expected {
            let links: Vec<NodeId> = match s.reports.get(id) {
                Some(r) => r.links.clone(),
                None => self.members.get(*id).map(|r| r.state.links.clone()).unwrap_or_default(),
            };
            adjacency.insert(*id, links.into_iter().collect());
        }
        let mut links: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
        for (a, ns) in &adjacency {
            for b in ns {
                if adjacency.get(b).is_some_and(|bs| bs.contains(a)) {
                    links.insert((*a.min(b), *a.max(b)));
                }
            }
        }
        let hops =
            |id: &NodeId| -> u32 { if *id == self.cfg.id { 0 } else { self.members.get(*id).map_or(0, |r| r.hops) } };
        let members: Vec<Value> = s
            .expected
            .iter()
            .map(|id| {
                let r = s.reports.get(id);
                let rec = self.members.get(*id);
                let addr = r.and_then(|r| r.addr).or(rec.and_then(|r| r.state.addr)).or(if *id == self.cfg.id { self.own.state().addr } else { None });
                let host = r.and_then(|r| r.host).or(rec.and_then(|r| r.state.host));
                let marks: BTreeMap<String, u64> =
                    r.map(|r| r.marks.iter().map(|(o, m)| (o.to_string(), *m & crate::wire::SEQ_LOW)).collect()).unwrap_or_default();
                json!({
                    "id": id.to_string(),
                    "name": name_of(id),
                    "addr": addr.map(|a| a.to_string()),
                    "text_client_of": host.map(|h| h.to_string()),
                    "hops": hops(id),
                    "answered": r.is_some(),
                    "links": adjacency.get(id).map(|l| l.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
                    "high_water_marks": marks,
                    "sent": r.map(|r| r.sent),
                    "received": r.map(|r| r.received),
                    "forwarded": r.map(|r| r.forwarded),
                })
            })
            .collect();
        let answered: Vec<String> = s.expected.iter().filter(|id| s.reports.contains_key(id)).map(&name_of).collect();
        let silent: Vec<String> = s.expected.iter().filter(|id| !s.reports.contains_key(id)).map(&name_of).collect();
        let snapshot = json!({
            "taken_by": {"id": self.cfg.id.to_string(), "name": self.own.name()},
            "started_at_ms": s.started_ms,
            "finished_at_ms": self.wall_now(now),
            "members": members,
            "links": links.iter().map(|(a, b)| json!([a.to_string(), b.to_string()])).collect::<Vec<_>>(),
            "answered": answered,
            "did_not_answer": silent,
        });
        let history: Vec<Value> = self
            .delivery
            .history()
            .filter_map(|(origin, seq, raw)| {
                let (name, text) = match Frame::decode_body(raw.get(crate::wire::LEN_PREFIX..)?).ok()? {
                    Frame::Chat(c) => (c.name, c.text),
                    Frame::Batch(mut b) => {
                        let at = usize::try_from(seq.checked_sub(b.first)?).ok()?;
                        (at < b.items.len()).then(|| b.items.swap_remove(at)).map(|i| (i.name, i.text))?
                    }
                    _ => return None,
                };
                Some(json!({"origin": origin.to_string(), "seq": seq & crate::wire::SEQ_LOW, "from": name, "text": text}))
            })
            .collect();
        let mut dot = String::from("graph p2pchat {\n");
        for id in &s.expected {
            let label = format!("{} ({})", name_of(id), crate::event::count(hops(id) as usize, "hop", "hops"));
            let _ = writeln!(dot, "  \"{}\" [label={}];", id, dot_string(&label));
        }
        for (a, b) in &links {
            let _ = writeln!(dot, "  \"{a}\" -- \"{b}\";");
        }
        dot.push_str("}\n");
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into()) + "\n";
        let [snapshot_json, history_json, topology_dot] = SNAPSHOT_FILES.map(str::to_owned);
        vec![(snapshot_json, pretty(&snapshot)), (history_json, pretty(&Value::Array(history))), (topology_dot, dot)]
    }
}

/// A Graphviz string literal (names are validated, but quote and escape anyway).
fn dot_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            c if c.is_control() => o.push('?'),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
