//! Node identifiers and the small deterministic random generator the node uses.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A member's identity: its Ed25519 public key (32 bytes). Nobody can claim
/// another's id, because everything a member says is signed by the key the id is
/// (see [`crate::crypto`]).
///
/// It is shown as 64 hex digits; [`NodeId::short`] is the 8-digit fingerprint
/// people compare (`:users`, `:whois`, the `key` field of JSON events).
///
/// On the wire it is a byte string (a length and 32 bytes), which bincode reads
/// in one copy rather than byte by byte as it would an array.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub [u8; 32]);

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::crypto::fixed_bytes::<D, 32>(d).map(NodeId)
    }
}

impl NodeId {
    /// An id whose first 8 bytes are `n` (big-endian) and the rest zero: for
    /// tests and samples that need distinct, ordered ids but no key behind them.
    pub const fn from_u64(n: u64) -> NodeId {
        let b = n.to_be_bytes();
        let mut id = [0u8; 32];
        let mut i = 0;
        while i < 8 {
            id[i] = b[i];
            i += 1;
        }
        NodeId(id)
    }

    /// The first 8 bytes as a number (the C API's `id` field, and a cheap hash).
    pub fn prefix(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(b)
    }

    /// The short fingerprint: the first 4 bytes, as 8 hex digits.
    pub fn short(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNodeId;

impl fmt::Display for BadNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a node id is 64 hex digits")
    }
}

impl std::error::Error for BadNodeId {}

impl std::str::FromStr for NodeId {
    type Err = BadNodeId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return Err(BadNodeId);
        }
        let mut id = [0u8; 32];
        for (i, pair) in s.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| BadNodeId)?;
            id[i] = u8::from_str_radix(hex, 16).map_err(|_| BadNodeId)?;
        }
        Ok(NodeId(id))
    }
}

/// SplitMix64: tiny, fast, and good enough for ids, jitter and simulator schedules.
/// Seeded explicitly so that every run of the simulator can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A seed from the process's environment: the standard library's per-process
    /// random hasher keys mixed with the time and the process id.
    pub fn seed_from_env() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
        );
        h.write_u32(std::process::id());
        h.finish()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `p` in [0, 1].
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}
