//! The Noise session of one link: the handshake, then the encryption of
//! everything else.
//!
//! `Noise_XX_25519_ChaChaPoly_BLAKE2s` (the `snow` crate, which is sans-IO like the
//! node: this module holds the state, the driver only moves bytes), or
//! `Noise_XXpsk3_…` in a closed network, with the secret's key as the PSK. The
//! prologue binds the protocol version, the network name and whether it is
//! closed, so two nodes that disagree on any of them cannot finish a handshake.
//!
//! ```text
//! initiator                                   responder
//!   -> e                                          (msg 1)
//!   <- e, ee, s, es, {Hello of the responder}     (msg 2)
//!   -> s, se, [psk], {Hello of the initiator}     (msg 3)
//! ```
//!
//! Each [`wire::Hello`] carries the sender's identity (its Ed25519 key) and its
//! signature over the Noise static key it used, so a completed handshake proves
//! the other side holds the identity it claims. Every handshake and transport
//! message goes on the wire as a big-endian `u16` length and the message. A
//! transport message carries up to 65,519 bytes of the frame stream: all that a
//! node has for a peer in one turn is encrypted in as few messages as fit.

use bytes::{Buf, BytesMut};
use snow::{HandshakeState, TransportState};

use crate::crypto::{self, Keys};
use crate::wire::{self, Hello};

/// Largest Noise message.
pub const MAX_MESSAGE: usize = 65_535;
/// Authentication tag per transport message.
const TAG: usize = 16;
/// Largest plaintext per transport message.
pub const MAX_PLAIN: usize = MAX_MESSAGE - TAG;

/// What a network requires of a handshake.
#[derive(Debug, Clone)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// The secret's key, for a closed network.
    pub psk: Option<[u8; 32]>,
}

impl Network {
    fn prologue(&self) -> Vec<u8> {
        let closed = if self.psk.is_some() { b"closed" as &[u8] } else { b"open" };
        [b"p2pchat/2\0" as &[u8], self.name.as_bytes(), b"\0", closed].concat()
    }

    fn params(&self) -> &'static str {
        if self.psk.is_some() { "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s" } else { "Noise_XX_25519_ChaChaPoly_BLAKE2s" }
    }
}

enum State {
    Handshake(Box<HandshakeState>),
    Transport(Box<TransportState>),
    /// After a failure to enter transport mode.
    Broken,
}

/// One link's session.
pub struct Session {
    state: State,
    /// Bytes received and not yet a whole message.
    inbuf: BytesMut,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = if matches!(self.state, State::Transport(_)) { "transport" } else { "handshake" };
        write!(f, "Session({phase}, {} bytes buffered)", self.inbuf.len())
    }
}

/// What a handshake message led to.
#[derive(Debug, Default)]
pub struct Step {
    /// The other side's hello, once it is proven.
    pub hello: Option<Hello>,
    /// A message to send (already framed).
    pub reply: Option<Vec<u8>>,
}

fn err(what: &str, e: snow::Error) -> String {
    format!("{what}: {e}")
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + msg.len());
    v.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    v.extend_from_slice(msg);
    v
}

impl Session {
    fn build(keys: &Keys, net: &Network, initiator: bool) -> Result<HandshakeState, String> {
        let params = net.params().parse().map_err(|e| err("noise parameters", e))?;
        let prologue = net.prologue();
        let mut b = snow::Builder::new(params)
            .local_private_key(keys.noise_private())
            .map_err(|e| err("noise key", e))?
            .prologue(&prologue)
            .map_err(|e| err("noise prologue", e))?;
        if let Some(psk) = &net.psk {
            b = b.psk(3, psk).map_err(|e| err("noise psk", e))?;
        }
        if initiator { b.build_initiator() } else { b.build_responder() }.map_err(|e| err("noise handshake", e))
    }

    /// The side that connected: its session, and its first message to send.
    pub fn initiator(keys: &Keys, net: &Network) -> Result<(Session, Vec<u8>), String> {
        let mut hs = Self::build(keys, net, true)?;
        let mut buf = [0u8; 128];
        let n = hs.write_message(&[], &mut buf).map_err(|e| err("noise handshake", e))?;
        Ok((Session { state: State::Handshake(Box::new(hs)), inbuf: BytesMut::new() }, framed(&buf[..n])))
    }

    /// The side that accepted.
    pub fn responder(keys: &Keys, net: &Network) -> Result<Session, String> {
        let hs = Self::build(keys, net, false)?;
        Ok(Session { state: State::Handshake(Box::new(hs)), inbuf: BytesMut::new() })
    }

    /// Whether the handshake is done.
    pub fn ready(&self) -> bool {
        matches!(self.state, State::Transport(_))
    }

    /// Bytes received.
    pub fn extend(&mut self, data: &[u8]) {
        self.inbuf.extend_from_slice(data);
    }

    /// The next whole message received, if there is one.
    fn next_message(&mut self) -> Option<BytesMut> {
        if self.inbuf.is_empty() && self.inbuf.capacity() > 0 {
            // All taken: an idle connection holds no receive buffer.
            self.inbuf = BytesMut::new();
        }
        if self.inbuf.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.inbuf[0], self.inbuf[1]]));
        if self.inbuf.len() < 2 + len {
            return None;
        }
        self.inbuf.advance(2);
        Some(self.inbuf.split_to(len))
    }

    /// Processes the next handshake message, if a whole one is here. `own_hello`
    /// is this node's encoded hello, sent in the message this side writes last.
    /// `Ok(None)`: nothing to do yet.
    pub fn handshake(&mut self, own_hello: &[u8]) -> Result<Option<Step>, String> {
        if self.ready() {
            return Ok(None);
        }
        let Some(msg) = self.next_message() else { return Ok(None) };
        let State::Handshake(hs) = &mut self.state else { return Ok(None) };
        // A payload is never longer than its message: a buffer of that size (a
        // 64 KiB one per handshake would leave a hole in the heap for each link).
        let mut payload = vec![0u8; msg.len()];
        let n = hs.read_message(&msg, &mut payload).map_err(|e| handshake_error(hs, e))?;
        let mut step = Step::default();
        if n > 0 {
            let hello = Hello::decode(&payload[..n]).map_err(|e| format!("handshake: {e}"))?;
            let remote = hs.get_remote_static().ok_or("handshake: no static key from the other side")?;
            if !crypto::verify_noise_static(&hello.id, remote, &hello.proof) {
                return Err("handshake: its identity does not match its handshake key".to_owned());
            }
            step.hello = Some(hello);
        } else if hs.is_initiator() || hs.is_handshake_finished() {
            // Messages 2 and 3 carry a hello; only message 1 (to the responder,
            // which answers it) has none.
            return Err("handshake: a message without the expected hello".to_owned());
        }
        if !hs.is_handshake_finished() && hs.is_my_turn() {
            let mut out = vec![0u8; own_hello.len() + 256];
            let n = hs.write_message(own_hello, &mut out).map_err(|e| err("handshake", e))?;
            step.reply = Some(framed(&out[..n]));
        }
        if hs.is_handshake_finished() {
            let State::Handshake(hs) = std::mem::replace(&mut self.state, State::Broken) else {
                return Ok(Some(step));
            };
            let t = hs.into_transport_mode().map_err(|e| err("handshake", e))?;
            self.state = State::Transport(Box::new(t));
        }
        Ok(Some(step))
    }

    /// Encrypts `plain` (the frames for this peer) into framed transport
    /// messages appended to `out`.
    pub fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let State::Transport(t) = &mut self.state else { return Err("not ready to encrypt".to_owned()) };
        for chunk in plain.chunks(MAX_PLAIN) {
            let at = out.len();
            out.resize(at + 2 + chunk.len() + TAG, 0);
            let n = t.write_message(chunk, &mut out[at + 2..]).map_err(|e| err("encrypt", e))?;
            out[at..at + 2].copy_from_slice(&(n as u16).to_be_bytes());
            out.truncate(at + 2 + n);
        }
        Ok(())
    }

    /// Decrypts the next whole transport message received into `plain` (its
    /// contents appended); false when there is none yet.
    pub fn open(&mut self, plain: &mut Vec<u8>) -> Result<bool, String> {
        let Some(msg) = self.next_message() else { return Ok(false) };
        let State::Transport(t) = &mut self.state else { return Err("not ready to decrypt".to_owned()) };
        if msg.len() < TAG {
            return Err("a transport message shorter than its tag".to_owned());
        }
        let at = plain.len();
        plain.resize(at + msg.len(), 0);
        let n = t
            .read_message(&msg, &mut plain[at..])
            .map_err(|_| "could not decrypt a message (tampered with, or not from this session)".to_owned())?;
        plain.truncate(at + n);
        Ok(true)
    }
}

fn handshake_error(hs: &HandshakeState, e: snow::Error) -> String {
    match e {
        snow::Error::Decrypt if !hs.is_initiator() => {
            "handshake failed: its message did not decrypt (a different network secret?)".to_owned()
        }
        snow::Error::Decrypt => "handshake failed: its answer did not decrypt".to_owned(),
        e => err("handshake failed", e),
    }
}

/// This node's hello, encoded.
pub fn own_hello(keys: &Keys, name: &str, port: u16) -> Result<Vec<u8>, String> {
    Hello { id: keys.id(), name: name.to_owned(), port, proof: keys.noise_proof() }
        .encode()
        .map_err(|e: wire::WireError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &Network, b: &Network) -> Result<(Session, Session, Hello, Hello), String> {
        let (ka, kb) = (Keys::from_u64(1), Keys::from_u64(2));
        let (ha, hb) = (own_hello(&ka, "a", 1)?, own_hello(&kb, "b", 2)?);
        let (mut i, m1) = Session::initiator(&ka, a)?;
        let mut r = Session::responder(&kb, b)?;
        r.extend(&m1);
        let s1 = r.handshake(&hb)?.ok_or("no step")?;
        i.extend(&s1.reply.ok_or("no msg2")?);
        let s2 = i.handshake(&ha)?.ok_or("no step")?;
        r.extend(&s2.reply.ok_or("no msg3")?);
        let s3 = r.handshake(&hb)?.ok_or("no step")?;
        Ok((i, r, s2.hello.ok_or("no hello at initiator")?, s3.hello.ok_or("no hello at responder")?))
    }

    fn open(name: &str) -> Network {
        Network { name: name.into(), psk: None }
    }

    #[test]
    fn a_handshake_proves_both_identities_and_then_carries_frames_both_ways() {
        let (mut i, mut r, hello_b, hello_a) = pair(&open("p"), &open("p")).expect("handshake");
        assert_eq!(hello_b.id, Keys::from_u64(2).id());
        assert_eq!(hello_a.id, Keys::from_u64(1).id());
        assert!(i.ready() && r.ready());
        let big = vec![7u8; MAX_PLAIN * 2 + 10];
        let mut wire = Vec::new();
        i.seal(&big, &mut wire).expect("seal");
        assert!(!wire.windows(64).any(|w| w == &big[..64]), "nothing in clear");
        r.extend(&wire);
        let mut got = Vec::new();
        while r.open(&mut got).expect("open") {}
        assert_eq!(got, big);
        let mut back = Vec::new();
        r.seal(b"hi", &mut back).expect("seal");
        i.extend(&back);
        let mut got = Vec::new();
        assert!(i.open(&mut got).expect("open"));
        assert_eq!(got, b"hi");
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let (mut i, mut r, _, _) = pair(&open("p"), &open("p")).expect("handshake");
        let mut wire = Vec::new();
        i.seal(b"hello there", &mut wire).expect("seal");
        wire[5] ^= 1;
        r.extend(&wire);
        assert!(r.open(&mut Vec::new()).is_err());
    }

    #[test]
    fn different_networks_and_secrets_cannot_finish_a_handshake() {
        assert!(pair(&open("a"), &open("b")).is_err());
        let s = |k: u8| Network { name: "p".into(), psk: Some([k; 32]) };
        assert!(pair(&s(1), &s(1)).is_ok());
        let e = pair(&s(1), &s(2)).err().unwrap_or_default();
        assert!(e.contains("secret"), "{e}");
        assert!(pair(&open("p"), &s(1)).is_err());
    }

    #[test]
    fn a_hello_claiming_another_identity_is_refused() {
        let (ka, kb, kc) = (Keys::from_u64(1), Keys::from_u64(2), Keys::from_u64(3));
        // The initiator holds a's Noise key but says it is c.
        let lie = Hello { id: kc.id(), name: "c".into(), port: 1, proof: ka.noise_proof() }.encode().expect("enc");
        let hb = own_hello(&kb, "b", 2).expect("hello");
        let net = open("p");
        let (mut i, m1) = Session::initiator(&ka, &net).expect("init");
        let mut r = Session::responder(&kb, &net).expect("resp");
        r.extend(&m1);
        let s1 = r.handshake(&hb).expect("msg1").expect("step");
        i.extend(&s1.reply.expect("msg2"));
        let s2 = i.handshake(&lie).expect("msg2").expect("step");
        r.extend(&s2.reply.expect("msg3"));
        let e = r.handshake(&hb).expect_err("refused");
        assert!(e.contains("identity"), "{e}");
    }
}
