//! This node's own member record: its name and when it claimed it, its address,
//! its direct links, whether it is leaving. Changes mark it dirty; a refresh
//! bumps its version and re-encodes it, and the new record is flooded once.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use super::NodeConfig;
use crate::crypto::{self, Keys, Sig};
use crate::id::NodeId;
use crate::memory::OwnSaved;
use crate::wire::{Frame, MemberState, WireError};

#[derive(Debug)]
pub(super) struct Own {
    state: MemberState,
    raw: Bytes,
    dirty: bool,
    flood: bool,
    keys: Keys,
    /// What the store was last given of this record (name, claim, endorsement).
    saved: Option<OwnSaved>,
}

impl Own {
    pub fn new(cfg: &NodeConfig) -> Self {
        let state = MemberState {
            id: cfg.id,
            version: cfg.first_seq,
            name: cfg.name.clone(),
            claimed: cfg.wall_ms,
            addr: cfg.advertise_ip.map(|ip| SocketAddr::new(ip, cfg.port)),
            links: Vec::new(),
            leaving: false,
            host: None,
            endorsed: None,
        };
        Own { state, raw: Bytes::new(), dirty: true, flood: false, keys: cfg.keys.clone(), saved: None }
    }

    /// A restarted member keeps its standing on its name: when it claimed it and
    /// the endorsement it had, if it comes back under the same name (and the
    /// endorsement is genuine).
    pub fn restore(&mut self, saved: &OwnSaved) {
        if saved.name != self.state.name {
            return;
        }
        self.state.claimed = saved.claimed;
        self.state.endorsed =
            saved.endorsed.filter(|e| e.by != self.state.id && crypto::verify_endorsement(&self.state.id, e));
        self.saved = Some(OwnSaved {
            name: self.state.name.clone(),
            claimed: self.state.claimed,
            endorsed: self.state.endorsed,
        });
        self.dirty = true;
    }

    /// The record's name, claim and endorsement when they changed since the last
    /// call (for the store).
    pub fn unsaved(&mut self) -> Option<OwnSaved> {
        let now =
            OwnSaved { name: self.state.name.clone(), claimed: self.state.claimed, endorsed: self.state.endorsed };
        if self.saved.as_ref() == Some(&now) {
            return None;
        }
        self.saved = Some(now.clone());
        Some(now)
    }

    pub fn state(&self) -> &MemberState {
        &self.state
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Ids of direct links (neighbours and text clients hosted here), sorted.
    pub fn links(&self) -> &[NodeId] {
        &self.state.links
    }

    pub fn linked(&self, id: NodeId) -> bool {
        self.state.links.binary_search(&id).is_ok()
    }

    /// The encoded record, as last refreshed.
    pub fn raw(&self) -> Bytes {
        self.raw.clone()
    }

    /// A bind to every address learns its own from the first connection.
    pub fn learn_addr(&mut self, local: IpAddr, port: u16) {
        if self.state.addr.is_none() && !local.is_unspecified() {
            self.state.addr = Some(SocketAddr::new(local, port));
            self.dirty = true;
        }
    }

    /// Adds a direct link; false if it was there.
    pub fn link(&mut self, id: NodeId) -> bool {
        match self.state.links.binary_search(&id) {
            Ok(_) => false,
            Err(i) => {
                self.state.links.insert(i, id);
                self.dirty = true;
                true
            }
        }
    }

    /// Removes a direct link; false if it was not there.
    pub fn unlink(&mut self, id: NodeId) -> bool {
        match self.state.links.binary_search(&id) {
            Ok(i) => {
                self.state.links.remove(i);
                self.dirty = true;
                true
            }
            Err(_) => false,
        }
    }

    pub fn rename(&mut self, name: String, claimed: u64) {
        self.state.name = name;
        self.state.claimed = claimed;
        self.dirty = true;
    }

    /// Takes the first endorsement offered; false if it had one.
    pub fn endorse(&mut self, e: crate::wire::Endorsement) -> bool {
        if self.state.endorsed.is_some() {
            return false;
        }
        self.state.endorsed = Some(e);
        self.dirty = true;
        true
    }

    pub fn leave(&mut self) {
        self.state.leaving = true;
        self.dirty = true;
    }

    /// An echo of this id's record with a newer version (a stale copy from a
    /// previous life of this id): the next version outranks it.
    pub fn outrank(&mut self, version: u64) {
        if version > self.state.version {
            self.state.version = version;
            self.dirty = true;
        }
    }

    /// Re-encodes the record if it changed (None if it did not).
    pub fn refresh(&mut self) -> Option<Result<(), WireError>> {
        if !self.dirty {
            return None;
        }
        self.state.version += 1;
        let keys = &self.keys;
        let frame = Frame::State(self.state.clone(), Sig::default());
        Some(frame.encode_signed(|b| crypto::sign_bytes(keys, crypto::domain::STATE, b)).map(|raw| {
            self.raw = raw;
            self.dirty = false;
            self.flood = true;
        }))
    }

    /// The refreshed record, once, if it has not been flooded yet.
    pub fn take_flood(&mut self) -> Option<Bytes> {
        std::mem::take(&mut self.flood).then(|| self.raw.clone())
    }
}
