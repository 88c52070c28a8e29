//! Keys, signatures and the batch hashes that let one signature cover a burst.
//!
//! A member is its Ed25519 key pair ([`Keys`]); its [`NodeId`] is the public key.
//! What a member says is signed by it and checked by everyone:
//!
//! - **Chat messages** are signed in batches: the messages one origin writes in
//!   one turn of its node (up to [`MAX_BATCH`]) are the leaves of a binary hash
//!   tree, and the origin signs the tree's root once. Every message carries the
//!   signature, its batch (first sequence number, count) and the hashes on its path
//!   to the root ([`BatchAuth`]), so each message can be checked on its own, wherever
//!   and whenever it arrives (forwarded, replayed from history, in any order). A
//!   node checks a batch's signature once and remembers the root
//!   ([`Verifier`]), so a burst of 256 costs one verification, not 256. A single
//!   typed line is a batch of one: its root is its own hash.
//! - **Member records, private messages and snapshot answers** carry one signature
//!   over their encoded bytes ([`sign_bytes`], [`verify_bytes`]).
//!
//! Every signed text starts with a domain string naming what it is, so a
//! signature over one kind of thing can never be passed off as another.
//!
//! Hashing is SHA-256 (the `sha2` crate, which ed25519-dalek already uses; it
//! uses the CPU's SHA instructions where there are some).

use std::collections::{HashMap, HashSet};
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::id::NodeId;

/// Most messages covered by one batch signature (a proof holds at most
/// log2 of it, 8 hashes). A bulk sender (piped input, a text client, a relay
/// bench) signs once per 256 messages, and a relay checks once per 256.
pub const MAX_BATCH: usize = 256;
/// Most hashes in a proof.
pub const MAX_PROOF: usize = 8;
/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Domain strings: what a signature or hash is about.
pub mod domain {
    /// A chat message's leaf hash.
    pub const LEAF: &[u8] = b"p2pchat/2 chat leaf\0";
    /// An inner node of a batch tree.
    pub const NODE: &[u8] = b"p2pchat/2 chat node\0";
    /// The signed root of a batch.
    pub const BATCH: &[u8] = b"p2pchat/2 chat batch\0";
    /// A member record.
    pub const STATE: &[u8] = b"p2pchat/2 member record\0";
    /// A private message.
    pub const PRIVATE: &[u8] = b"p2pchat/2 private message\0";
    /// A snapshot answer.
    pub const REPORT: &[u8] = b"p2pchat/2 snapshot answer\0";
    /// The binding of a Noise static key to an identity, in the handshake.
    pub const NOISE_STATIC: &[u8] = b"p2pchat/2 noise static key\0";
    /// A member's first acceptance into a network, given by the neighbour that
    /// accepted it (the name rule: see `node::names`).
    pub const ENDORSE: &[u8] = b"p2pchat/2 endorsement\0";
}

/// An Ed25519 signature (64 bytes), serialized as 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

impl Default for Sig {
    fn default() -> Self {
        Sig([0; 64])
    }
}

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Serialize for Sig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fixed_bytes::<D, 64>(d).map(Sig)
    }
}

/// Reads a byte string of exactly `N` bytes (ids, signatures): one copy from the
/// input, where an array would be read byte by byte.
pub fn fixed_bytes<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>;
    impl<'de, const N: usize> Visitor<'de> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<[u8; N], E> {
            v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
        }
        fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<[u8; N], E> {
            self.visit_bytes(v)
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<[u8; N], E> {
            self.visit_bytes(&v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (i, b) in out.iter_mut().enumerate() {
                *b = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(V::<N>)
}

/// A member's key pair, with what is derived from it.
#[derive(Clone)]
pub struct Keys {
    signing: SigningKey,
    id: NodeId,
    /// The X25519 private key this node uses in Noise handshakes.
    noise_private: [u8; 32],
    /// The signature binding the Noise static public key to the identity.
    noise_proof: Sig,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({})", self.id.short())
    }
}

impl Keys {
    /// The key pair with this 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Keys {
        let signing = SigningKey::from_bytes(seed);
        let id = NodeId(signing.verifying_key().to_bytes());
        // The Noise static key is derived from the identity, so it is the same
        // for every run of one member; it is bound to the identity by a signature
        // sent inside the handshake.
        let noise_private = hash_parts(&[b"p2pchat/2 noise static seed\0", seed]);
        let noise_public = x25519_public(&noise_private);
        let noise_proof = Sig(signing.sign(&[domain::NOISE_STATIC, &noise_public[..]].concat()).to_bytes());
        Keys { signing, id, noise_private, noise_proof }
    }

    /// A key pair for tests and the simulator, from a number.
    pub fn from_u64(n: u64) -> Keys {
        Keys::from_seed(&hash_parts(&[b"p2pchat test key\0", &n.to_be_bytes()]))
    }

    /// The member id (the public key).
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Signs `parts` (concatenated).
    pub fn sign(&self, parts: &[&[u8]]) -> Sig {
        Sig(self.signing.sign(&parts.concat()).to_bytes())
    }

    /// A new secret seed derived from this key: for the keys of the text clients
    /// this node hosts (their `n`), which nobody without this node's key can
    /// derive.
    pub fn derive_seed(&self, label: &str, n: u64) -> [u8; 32] {
        hash_parts(&[b"p2pchat/2 derived key\0", &self.signing.to_bytes(), label.as_bytes(), &n.to_be_bytes()])
    }

    /// The Noise static private key.
    pub fn noise_private(&self) -> &[u8; 32] {
        &self.noise_private
    }

    /// The signature over this node's Noise static public key.
    pub fn noise_proof(&self) -> Sig {
        self.noise_proof
    }
}

/// The X25519 public key of a private key.
fn x25519_public(private: &[u8; 32]) -> [u8; 32] {
    curve25519_dalek::montgomery::MontgomeryPoint::mul_base_clamped(*private).to_bytes()
}

/// SHA-256 of the concatenated parts.
pub fn hash_parts(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Whether `sig` is `id`'s signature over `parts` (concatenated). An id that is
/// not a valid public key verifies nothing.
pub fn verify(id: &NodeId, parts: &[&[u8]], sig: &Sig) -> bool {
    let msg = parts.concat();
    #[cfg(feature = "sim")]
    if sim_memo::known(id, &msg, sig) {
        return true;
    }
    let ok = keyring::with_key(id, |key| key.verify(&msg, &Signature::from_bytes(&sig.0)).is_ok()).unwrap_or(false);
    #[cfg(feature = "sim")]
    if ok {
        sim_memo::remember(id, &msg, sig);
    }
    ok
}

/// Decompressed public keys, per thread, so that a key is decompressed and
/// checked once, not for every signature (about a fifth of a check's time).
///
/// A key enters only if it is a valid point that is not of small order
/// (ed25519-dalek's `is_weak`); signatures are then checked with `verify`, which
/// rejects a non-canonical `s` and compares the recomputed `R` with the
/// signature's bytes (so only canonical encodings pass). Against such a key
/// that is as unforgeable as `verify_strict`, whose one further check (that `R`
/// itself is not of small order) costs another point decompression per
/// signature and guards against no forgery: a small-order `R` still needs the
/// secret key to satisfy the equation.
mod keyring {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use ed25519_dalek::VerifyingKey;

    use crate::id::NodeId;

    /// Most keys kept per thread (a few hundred kilobytes); the cache starts
    /// over when full.
    const MAX: usize = 4096;

    thread_local! {
        static KEYS: RefCell<HashMap<[u8; 32], Option<VerifyingKey>>> = RefCell::new(HashMap::new());
    }

    /// Runs `f` with `id`'s key; None if `id` is not a usable public key.
    pub fn with_key<T>(id: &NodeId, f: impl FnOnce(&VerifyingKey) -> T) -> Option<T> {
        KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if keys.len() >= MAX && !keys.contains_key(&id.0) {
                keys.clear();
            }
            let key = keys.entry(id.0).or_insert_with(|| VerifyingKey::from_bytes(&id.0).ok().filter(|k| !k.is_weak()));
            key.as_ref().map(f)
        })
    }
}

/// In the simulator, thousands of nodes in one process check the same
/// signatures: a verification is a pure function of (key, message, signature),
/// so its successes are remembered process-wide (by a hash of all three) and every
/// node still checks every frame, at the cost of a lookup. Only with the `sim`
/// feature, which never ships, and only once a simulator has been created
/// ([`sim_memo::enable`]), so that real nodes in a test or benchmark process
/// built with the feature check every signature themselves.
#[cfg(feature = "sim")]
pub(crate) mod sim_memo {
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{Hash, NodeId, Sig, hash_parts};

    static KNOWN: Mutex<Option<HashSet<Hash>>> = Mutex::new(None);
    static ON: AtomicBool = AtomicBool::new(false);
    const MAX: usize = 1 << 20;

    /// Turns the memo on for this process (the simulator does).
    pub fn enable() {
        ON.store(true, Ordering::Relaxed);
    }

    fn on() -> bool {
        ON.load(Ordering::Relaxed)
    }

    fn key(id: &NodeId, msg: &[u8], sig: &Sig) -> Hash {
        hash_parts(&[&id.0, &sig.0, msg])
    }

    pub fn known(id: &NodeId, msg: &[u8], sig: &Sig) -> bool {
        if !on() {
            return false;
        }
        let k = key(id, msg, sig);
        KNOWN.lock().ok().and_then(|g| g.as_ref().map(|s| s.contains(&k))).unwrap_or(false)
    }

    pub fn remember(id: &NodeId, msg: &[u8], sig: &Sig) {
        if !on() {
            return;
        }
        let k = key(id, msg, sig);
        if let Ok(mut g) = KNOWN.lock() {
            let set = g.get_or_insert_with(HashSet::new);
            if set.len() >= MAX {
                set.clear();
            }
            set.insert(k);
        }
    }
}

/// Signs encoded bytes under a domain.
pub fn sign_bytes(keys: &Keys, domain: &[u8], bytes: &[u8]) -> Sig {
    keys.sign(&[domain, bytes])
}

/// Checks a signature over encoded bytes under a domain.
pub fn verify_bytes(id: &NodeId, domain: &[u8], bytes: &[u8], sig: &Sig) -> bool {
    verify(id, &[domain, bytes], sig)
}

/// Whether `proof` is `id`'s binding of the Noise static key `noise_public`.
pub fn verify_noise_static(id: &NodeId, noise_public: &[u8], proof: &Sig) -> bool {
    verify(id, &[domain::NOISE_STATIC, noise_public], proof)
}

/// `keys`' endorsement of `member`, accepted at `at`.
pub fn endorse(keys: &Keys, member: &NodeId, at: u64) -> crate::wire::Endorsement {
    let sig = keys.sign(&[domain::ENDORSE, &member.0, &at.to_be_bytes()]);
    crate::wire::Endorsement { by: keys.id(), at, sig }
}

/// Whether `e` is a genuine endorsement of `member`.
pub fn verify_endorsement(member: &NodeId, e: &crate::wire::Endorsement) -> bool {
    verify(&e.by, &[domain::ENDORSE, &member.0, &e.at.to_be_bytes()], &e.sig)
}

// ----- batches ------------------------------------------------------------------

/// How a chat message proves it was written by its origin: the batch it was
/// signed in, the hashes from its leaf to the batch root, and the signature over
/// the root.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchAuth {
    /// Sequence number of the batch's first message.
    pub first: u64,
    /// Messages in the batch (1 to [`MAX_BATCH`]).
    pub count: u32,
    /// Sibling hashes from the leaf up, 32 bytes each.
    pub proof: Vec<u8>,
    /// The origin's signature over the root.
    pub sig: Sig,
}

/// [`BatchAuth`] borrowed from the bytes it arrived in.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchAuthRef<'a> {
    /// See [`BatchAuth::first`].
    pub first: u64,
    /// See [`BatchAuth::count`].
    pub count: u32,
    /// See [`BatchAuth::proof`].
    pub proof: &'a [u8],
    /// See [`BatchAuth::sig`].
    pub sig: Sig,
}

impl BatchAuthRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> BatchAuth {
        BatchAuth { first: self.first, count: self.count, proof: self.proof.to_vec(), sig: self.sig }
    }
}

/// The leaf hash of a message: its encoded content (origin, seq, name, text).
pub fn leaf(content: &[u8]) -> Hash {
    hash_parts(&[domain::LEAF, content])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    hash_parts(&[domain::NODE, left, right])
}

/// The levels of the tree over `leaves`, leaves first, root last. An odd node
/// at the end of a level is carried up unchanged.
fn levels(leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().map(Vec::as_slice).unwrap_or_default();
        let up = below.chunks(2).map(|p| if let [l, r] = p { node_hash(l, r) } else { p[0] }).collect();
        levels.push(up);
    }
    levels
}

/// The root of the tree over a batch's leaves (the leaf itself for a batch of
/// one).
pub fn batch_root(leaves: Vec<Hash>) -> Hash {
    levels(leaves).last().and_then(|l| l.first()).copied().unwrap_or_default()
}

/// `keys`' signature over the root of a batch of `count` messages from
/// `first`, written by `keys`' own id.
pub fn sign_root(keys: &Keys, first: u64, count: usize, root: &Hash) -> Sig {
    keys.sign(&[&batch_text(&keys.id(), first, count as u32, root)])
}

/// Signs a batch: for each leaf, in order, its [`BatchAuth`]. `first` is the
/// sequence number of the first leaf. At most [`MAX_BATCH`] leaves.
pub fn sign_batch(keys: &Keys, first: u64, leaves: Vec<Hash>) -> Vec<BatchAuth> {
    let root = batch_root(leaves.clone());
    let sig = sign_root(keys, first, leaves.len(), &root);
    batch_auths(first, leaves, sig)
}

/// For each leaf of a batch signed with `sig`, in order, its [`BatchAuth`]: the
/// path from it to the root.
pub fn batch_auths(first: u64, leaves: Vec<Hash>, sig: Sig) -> Vec<BatchAuth> {
    let count = leaves.len();
    let levels = levels(leaves);
    (0..count)
        .map(|i| {
            let mut proof = Vec::with_capacity(MAX_PROOF * 32);
            let mut idx = i;
            for level in &levels[..levels.len() - 1] {
                let sib = idx ^ 1;
                if sib < level.len() {
                    proof.extend_from_slice(&level[sib]);
                }
                idx /= 2;
            }
            BatchAuth { first, count: count as u32, proof, sig }
        })
        .collect()
}

fn batch_text(origin: &NodeId, first: u64, count: u32, root: &Hash) -> Vec<u8> {
    [domain::BATCH, &origin.0[..], &first.to_be_bytes(), &count.to_be_bytes(), root].concat()
}

/// Climbs from a leaf along its proof towards the root of a batch of `count`
/// messages from `first`, stopping early at a node `known` accepts. Returns the
/// node reached (the root, unless it stopped), the nodes passed on the way
/// (leaf included), and whether it stopped at a known node; None if the proof
/// does not fit the batch's shape (wrong length, message outside the batch).
fn climb(
    leaf: Hash,
    seq: u64,
    first: u64,
    count: u32,
    proof: &[u8],
    known: impl Fn(&Hash) -> bool,
) -> Option<(Hash, Vec<Hash>, bool)> {
    if count == 0 || count as usize > MAX_BATCH || seq < first || seq - first >= u64::from(count) {
        return None;
    }
    if !proof.len().is_multiple_of(32) {
        return None;
    }
    let mut hashes = proof.chunks_exact(32);
    let (mut idx, mut len, mut acc) = ((seq - first) as usize, count as usize, leaf);
    let mut path = Vec::with_capacity(MAX_PROOF + 1);
    while len > 1 {
        if known(&acc) {
            return Some((acc, path, true));
        }
        path.push(acc);
        let sib = idx ^ 1;
        if sib < len {
            let h: Hash = hashes.next()?.try_into().ok()?;
            acc = if idx % 2 == 0 { node_hash(&acc, &h) } else { node_hash(&h, &acc) };
        }
        idx /= 2;
        len = len.div_ceil(2);
    }
    if hashes.next().is_some() {
        return None;
    }
    let stopped = known(&acc);
    path.push(acc);
    Some((acc, path, stopped))
}

/// Checks chat messages against their batch signatures, remembering the batches
/// already checked (a few per origin, for as many origins as the node tracks).
///
/// It also keeps, for the last batch of recently heard origins, every tree node
/// already shown to lead to a signed root: the next message of that batch is
/// checked by climbing from its leaf until it meets one (one or two hashes for
/// messages arriving in order) instead of all the way up. A node is accepted only
/// by equality with such a node, and a leaf's hash covers its sequence number, so
/// no message can borrow another's place.
#[derive(Debug, Default)]
pub struct Verifier {
    checked: HashMap<NodeId, [(u64, u32, Hash); 2]>,
    known: HashMap<NodeId, (u64, HashSet<Hash, BuildPrefix>)>,
    /// Signatures verified (for the benchmarks and tests).
    pub signatures: u64,
}

/// Hashes the SHA-256 hashes of tree nodes by their first 8 bytes: they are
/// uniformly random already (and an attacker choosing colliding prefixes only
/// slows its own checks), so SipHash would be work for nothing.
#[derive(Debug, Default, Clone, Copy)]
struct BuildPrefix;

#[derive(Debug, Default)]
struct PrefixHasher(u64);

impl std::hash::Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
}

impl std::hash::BuildHasher for BuildPrefix {
    type Hasher = PrefixHasher;
    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher(0)
    }
}

/// Most origins whose checked batches are remembered.
const MAX_REMEMBERED: usize = 4096;
/// Most origins whose last batch's tree nodes are remembered.
const MAX_KNOWN: usize = 256;

impl Verifier {
    /// Whether `sig` is `origin`'s signature over the batch of messages from
    /// `first` with these leaves. A batch already checked is not checked again.
    pub fn check_batch(&mut self, origin: &NodeId, first: u64, leaves: Vec<Hash>, sig: &Sig) -> bool {
        let count = leaves.len() as u32;
        let root = batch_root(leaves);
        self.check_root(origin, (first, count, root), sig)
    }

    /// Whether `sig` signs this batch (first, count, root), from memory when it
    /// was checked before.
    fn check_root(&mut self, origin: &NodeId, batch: (u64, u32, Hash), sig: &Sig) -> bool {
        if self.checked.get(origin).is_some_and(|c| c.contains(&batch)) {
            return true;
        }
        self.signatures += 1;
        if !verify(origin, &[&batch_text(origin, batch.0, batch.1, &batch.2)], sig) {
            return false;
        }
        if self.checked.len() >= MAX_REMEMBERED && !self.checked.contains_key(origin) {
            self.checked.clear();
        }
        let slot = self.checked.entry(*origin).or_insert([(0, 0, [0; 32]); 2]);
        slot[1] = slot[0];
        slot[0] = batch;
        true
    }

    /// Whether the message with this content, written by `origin` as `seq`, is
    /// covered by `auth`.
    pub fn check(&mut self, origin: &NodeId, seq: u64, content: &[u8], auth: &BatchAuthRef<'_>) -> bool {
        let known = self.known.get(origin).map(|(_, k)| k);
        let climbed =
            climb(leaf(content), seq, auth.first, auth.count, auth.proof, |h| known.is_some_and(|k| k.contains(h)));
        let Some((top, path, stopped)) = climbed else { return false };
        if !stopped && !self.check_root(origin, (auth.first, auth.count, top), &auth.sig) {
            return false;
        }
        if self.known.len() >= MAX_KNOWN && !self.known.contains_key(origin) {
            self.known.clear();
        }
        let (first, nodes) = self.known.entry(*origin).or_insert_with(|| (auth.first, HashSet::default()));
        if *first != auth.first && !stopped {
            // A new batch: the old one's nodes are not needed any more.
            *first = auth.first;
            nodes.clear();
        }
        nodes.extend(path);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf(format!("message {i}").as_bytes())).collect()
    }

    #[test]
    fn every_message_of_a_batch_verifies_on_its_own_for_every_batch_size() {
        let keys = Keys::from_u64(1);
        for n in 1..=MAX_BATCH {
            let auths = sign_batch(&keys, 100, leaves(n));
            assert_eq!(auths.len(), n);
            for (i, a) in auths.iter().enumerate() {
                let mut v = Verifier::default();
                let r = BatchAuthRef { first: a.first, count: a.count, proof: &a.proof, sig: a.sig };
                assert!(a.proof.len() <= MAX_PROOF * 32);
                assert!(v.check(&keys.id(), 100 + i as u64, format!("message {i}").as_bytes(), &r), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn a_batch_signature_is_checked_once() {
        let keys = Keys::from_u64(1);
        let auths = sign_batch(&keys, 1, leaves(10));
        let mut v = Verifier::default();
        for (i, a) in auths.iter().enumerate() {
            let r = BatchAuthRef { first: a.first, count: a.count, proof: &a.proof, sig: a.sig };
            assert!(v.check(&keys.id(), 1 + i as u64, format!("message {i}").as_bytes(), &r));
        }
        assert_eq!(v.signatures, 1);
    }

    #[test]
    fn a_batch_arriving_in_order_is_checked_with_few_hashes_and_every_alteration_still_fails() {
        let keys = Keys::from_u64(1);
        let texts: Vec<String> = (0..MAX_BATCH).map(|i| format!("message {i}")).collect();
        let auths = sign_batch(&keys, 1, leaves(MAX_BATCH));
        let mut v = Verifier::default();
        let mut genuine_signatures = 0;
        for (i, a) in auths.iter().enumerate() {
            let r = BatchAuthRef { first: a.first, count: a.count, proof: &a.proof, sig: a.sig };
            // A forgery at this position, after the nodes around it are known.
            assert!(!v.check(&keys.id(), 1 + i as u64, b"forged", &r), "forged at {i}");
            assert!(!v.check(&keys.id(), 2 + i as u64, texts[i].as_bytes(), &r), "moved from {i}");
            let before = v.signatures;
            assert!(v.check(&keys.id(), 1 + i as u64, texts[i].as_bytes(), &r), "genuine {i}");
            genuine_signatures += v.signatures - before;
        }
        assert_eq!(genuine_signatures, 1, "one signature for the whole batch");
    }

    #[test]
    fn altered_messages_proofs_positions_and_signers_fail() {
        let keys = Keys::from_u64(1);
        let other = Keys::from_u64(2);
        let auths = sign_batch(&keys, 1, leaves(5));
        let a = &auths[2];
        let r = BatchAuthRef { first: a.first, count: a.count, proof: &a.proof, sig: a.sig };
        let mut v = Verifier::default();
        assert!(!v.check(&keys.id(), 3, b"message X", &r), "altered text");
        assert!(!v.check(&keys.id(), 4, b"message 2", &r), "other position");
        assert!(!v.check(&other.id(), 3, b"message 2", &r), "other origin");
        let mut bad = a.proof.clone();
        bad[0] ^= 1;
        let r2 = BatchAuthRef { proof: &bad, ..r };
        assert!(!v.check(&keys.id(), 3, b"message 2", &r2), "altered proof");
        let r3 = BatchAuthRef { proof: &a.proof[..32], ..r };
        assert!(!v.check(&keys.id(), 3, b"message 2", &r3), "short proof");
        let r4 = BatchAuthRef { count: 4, ..r };
        assert!(!v.check(&keys.id(), 3, b"message 2", &r4), "other count");
        // Signed by another key for this origin.
        let forged = sign_batch(&other, 1, leaves(5));
        let f = &forged[2];
        let r5 = BatchAuthRef { first: f.first, count: f.count, proof: &f.proof, sig: f.sig };
        assert!(!v.check(&keys.id(), 3, b"message 2", &r5), "wrong key");
        assert!(v.check(&keys.id(), 3, b"message 2", &r), "the genuine one still passes");
    }

    #[test]
    fn signatures_over_bytes_are_bound_to_their_domain_and_key() {
        let keys = Keys::from_u64(7);
        let sig = sign_bytes(&keys, domain::STATE, b"record");
        assert!(verify_bytes(&keys.id(), domain::STATE, b"record", &sig));
        assert!(!verify_bytes(&keys.id(), domain::PRIVATE, b"record", &sig));
        assert!(!verify_bytes(&keys.id(), domain::STATE, b"recorD", &sig));
        assert!(!verify_bytes(&Keys::from_u64(8).id(), domain::STATE, b"record", &sig));
        assert!(!verify_bytes(&NodeId([0xff; 32]), domain::STATE, b"record", &sig), "not a key");
    }

    #[test]
    fn the_noise_key_is_bound_to_the_identity() {
        let keys = Keys::from_u64(3);
        let public = x25519_public(keys.noise_private());
        assert!(verify_noise_static(&keys.id(), &public, &keys.noise_proof()));
        assert!(!verify_noise_static(&Keys::from_u64(4).id(), &public, &keys.noise_proof()));
        assert_eq!(Keys::from_u64(3).id(), keys.id(), "deterministic");
    }
}
