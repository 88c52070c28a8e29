//! A raw p2pchat peer, for protocol implementers, graders, fuzzers and the
//! project's own adversary tests (feature `testing`; it never ships in
//! `libp2pchat`).
//!
//! [`RawSession`] is sans-IO: it completes a real handshake (preambles, Noise XX
//! or XXpsk3, hellos) as an identity of your choice, and then lets you send
//! anything at all inside the encrypted session: valid frames signed by any key
//! you hold ([`signed_chat`], [`signed_state`], [`signed_private`]), frames whose
//! signatures are wrong, or bytes that are no frame at all. It also lets you
//! send bytes outside the session (a tampered ciphertext, say) with the plain
//! socket. [`RawPeer`] is the same over a blocking `TcpStream`.
//!
//! ```no_run
//! # use p2pchat_core::testing::*;
//! # use p2pchat_core::crypto::Keys;
//! # fn main() -> std::io::Result<()> {
//! let me = Keys::from_u64(42);
//! let mut peer = RawPeer::connect("127.0.0.1:4000".parse().unwrap(), &me, "mallory", &Net::open())?;
//! peer.send(&signed_chat(&me, p2pchat_core::wire::seq_start(1), "mallory", "hello"))?;
//! # Ok(()) }
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::crypto::{self, Keys, Sig, domain};
use crate::id::NodeId;
use crate::node::noise::{self, Network, Session};
use crate::wire::{self, Chat, Frame, FrameDecoder, Hello, MemberState, Preamble, PreambleRead, Private};

/// Which network a raw peer claims to be on.
#[derive(Debug, Clone)]
pub struct Net {
    /// Its name.
    pub name: String,
    /// Key and tag of a closed network's secret.
    pub secret: Option<([u8; 32], [u8; 8])>,
}

impl Net {
    /// The default open network, `p2pchat`.
    pub fn open() -> Net {
        Net { name: "p2pchat".into(), secret: None }
    }

    fn preamble(&self) -> Preamble {
        Preamble { network: self.name.clone(), secret_tag: self.secret.map(|(_, t)| t) }
    }

    fn network(&self) -> Network {
        Network { name: self.name.clone(), psk: self.secret.map(|(k, _)| k) }
    }
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// The sans-IO raw peer. See the module documentation.
#[derive(Debug)]
pub struct RawSession {
    keys: Keys,
    hello: Vec<u8>,
    net: Net,
    session: Option<Session>,
    initiator: bool,
    got_preamble: bool,
    start: Vec<u8>,
    remote: Option<Hello>,
    frames: FrameDecoder,
    plain: Vec<u8>,
}

impl RawSession {
    /// A session that connects: returns it and the bytes to send first (its
    /// preamble and first handshake message).
    pub fn initiator(keys: &Keys, name: &str, net: &Net) -> io::Result<(RawSession, Vec<u8>)> {
        let (session, first) = Session::initiator(keys, &net.network()).map_err(err)?;
        let mut out = net.preamble().encode();
        out.extend_from_slice(&first);
        let s = RawSession::new(keys, name, net, Some(session), true)?;
        Ok((s, out))
    }

    /// A session that was connected to (it answers the other side's preamble).
    pub fn responder(keys: &Keys, name: &str, net: &Net) -> io::Result<RawSession> {
        RawSession::new(keys, name, net, None, false)
    }

    fn new(keys: &Keys, name: &str, net: &Net, session: Option<Session>, initiator: bool) -> io::Result<RawSession> {
        Ok(RawSession {
            keys: keys.clone(),
            hello: noise::own_hello(keys, name, 1).map_err(err)?,
            net: net.clone(),
            session,
            initiator,
            got_preamble: false,
            start: Vec::new(),
            remote: None,
            frames: FrameDecoder::new(),
            plain: Vec::new(),
        })
    }

    /// Whether the handshake is complete.
    pub fn ready(&self) -> bool {
        self.session.as_ref().is_some_and(Session::ready)
    }

    /// The other side's hello, once the handshake proved it.
    pub fn remote(&self) -> Option<&Hello> {
        self.remote.as_ref()
    }

    /// The identity this session speaks as.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Bytes received from the other side. Returns the bytes to send back (the
    /// preamble and handshake answers); decrypted frames wait in
    /// [`RawSession::next_frame`].
    pub fn receive(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        if !self.got_preamble {
            self.start.extend_from_slice(data);
            match wire::read_preamble(&self.start).map_err(err)? {
                PreambleRead::Incomplete => return Ok(out),
                PreambleRead::Complete(theirs, used) => {
                    if let Some(why) = self.net.preamble().mismatch(&theirs) {
                        return Err(err(why));
                    }
                    self.got_preamble = true;
                    let rest = self.start.split_off(used);
                    self.start = rest;
                    if !self.initiator {
                        out.extend_from_slice(&self.net.preamble().encode());
                        self.session = Some(Session::responder(&self.keys, &self.net.network()).map_err(err)?);
                    }
                }
            }
            let rest = std::mem::take(&mut self.start);
            return self.after_preamble(&rest, out);
        }
        self.after_preamble(data, out)
    }

    fn after_preamble(&mut self, data: &[u8], mut out: Vec<u8>) -> io::Result<Vec<u8>> {
        let Some(s) = self.session.as_mut() else { return Ok(out) };
        s.extend(data);
        while !s.ready() {
            match s.handshake(&self.hello).map_err(err)? {
                None => return Ok(out),
                Some(step) => {
                    if let Some(r) = step.reply {
                        out.extend_from_slice(&r);
                    }
                    if let Some(h) = step.hello {
                        self.remote = Some(h);
                    }
                }
            }
        }
        self.plain.clear();
        while s.open(&mut self.plain).map_err(err)? {}
        self.frames.extend(&self.plain);
        Ok(out)
    }

    /// After the handshake: decrypts every whole transport message received
    /// (before, and in `data`) and appends its plaintext, the frame stream
    /// undecoded, to `plain`: for a client that only walks the frames (a
    /// benchmark counting them). Frames decrypted before that wait in
    /// [`RawSession::next_frame`] or [`RawSession::take_buffered`].
    pub fn open_into(&mut self, data: &[u8], plain: &mut Vec<u8>) -> io::Result<()> {
        let s = self.session.as_mut().filter(|s| s.ready()).ok_or_else(|| err("no session yet"))?;
        s.extend(data);
        while s.open(plain).map_err(err)? {}
        Ok(())
    }

    /// The plaintext decrypted and not yet taken as whole frames by
    /// [`RawSession::next_frame`] (the start of the next frame), taken.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.frames.take_buffered().to_vec()
    }

    /// The next whole frame received (decoded and validated).
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        Ok(self.frames.next_frame().map_err(err)?.map(|(f, _)| f))
    }

    /// Encrypts arbitrary bytes of the frame stream (frames, parts of frames,
    /// garbage) into transport messages to send.
    pub fn seal(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let s = self.session.as_mut().ok_or_else(|| err("no session yet"))?;
        let mut out = Vec::new();
        s.seal(plain, &mut out).map_err(err)?;
        Ok(out)
    }
}

/// A chat frame from `keys`, its `seq`-th message, signed alone (a batch of one).
pub fn signed_chat(keys: &Keys, seq: u64, name: &str, text: &str) -> Bytes {
    chat_signed_by(keys, keys.id(), seq, name, text)
}

/// A chat frame that claims to come from `origin` but is signed by `keys`: a
/// forgery, unless `keys` is `origin`'s.
pub fn chat_signed_by(keys: &Keys, origin: NodeId, seq: u64, name: &str, text: &str) -> Bytes {
    let content = wire::chat_content(&origin, seq, name, text).unwrap_or_default();
    let leaf = crypto::leaf(&content);
    let mut auth = crypto::sign_batch(keys, seq, vec![leaf]).pop().unwrap_or_default();
    if origin != keys.id() {
        // `sign_batch` signs for the key's own id: sign the forged origin's root.
        let text = [domain::BATCH, &origin.0[..], &seq.to_be_bytes(), &1u32.to_be_bytes(), &leaf].concat();
        auth.sig = keys.sign(&[&text]);
    }
    let frame = Frame::Chat(Chat { origin, seq, name: name.into(), text: text.into(), auth });
    frame.encode().unwrap_or_default()
}

/// Several chat frames from `keys`, numbered from `first`, signed as one batch.
pub fn signed_batch(keys: &Keys, first: u64, name: &str, texts: &[&str]) -> Vec<Bytes> {
    let leaves = texts
        .iter()
        .enumerate()
        .map(|(i, t)| crypto::leaf(&wire::chat_content(&keys.id(), first + i as u64, name, t).unwrap_or_default()))
        .collect();
    crypto::sign_batch(keys, first, leaves)
        .into_iter()
        .zip(texts)
        .enumerate()
        .map(|(i, (auth, t))| {
            let chat = Chat { origin: keys.id(), seq: first + i as u64, name: name.into(), text: (*t).into(), auth };
            Frame::Chat(chat).encode().unwrap_or_default()
        })
        .collect()
}

/// A batch frame from `keys` (as nodes send chat messages), numbered from
/// `first`.
pub fn signed_batch_frame(keys: &Keys, first: u64, name: &str, texts: &[&str]) -> Bytes {
    let items = texts.iter().map(|t| wire::BatchItem { name: name.into(), text: (*t).into() }).collect();
    wire::Batch::signed(keys, first, items).and_then(|b| Frame::Batch(b).encode()).unwrap_or_default()
}

/// A member record signed by `keys` (whatever id it names).
pub fn signed_state(keys: &Keys, state: MemberState) -> Bytes {
    Frame::State(state, Sig::default())
        .encode_signed(|b| crypto::sign_bytes(keys, domain::STATE, b))
        .unwrap_or_default()
}

/// A private message signed by `keys` (whoever it claims to be from).
pub fn signed_private(keys: &Keys, private: Private) -> Bytes {
    Frame::Private(private, Sig::default())
        .encode_signed(|b| crypto::sign_bytes(keys, domain::PRIVATE, b))
        .unwrap_or_default()
}

/// A frame encoded with its length prefix (for unsigned frames: heartbeats,
/// sync summaries, goodbyes).
pub fn encode(frame: &Frame) -> Bytes {
    frame.encode().unwrap_or_default()
}

/// A [`RawSession`] over a blocking socket.
#[derive(Debug)]
pub struct RawPeer {
    /// The socket (blocking, with a read timeout).
    pub stream: TcpStream,
    /// The session.
    pub session: RawSession,
}

impl RawPeer {
    /// Connects to `addr` and completes the handshake as `keys` called `name`;
    /// every read is bounded (5 s in all).
    pub fn connect(addr: SocketAddr, keys: &Keys, name: &str, net: &Net) -> io::Result<RawPeer> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (session, first) = RawSession::initiator(keys, name, net)?;
        stream.write_all(&first)?;
        let mut peer = RawPeer { stream, session };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !peer.session.ready() {
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no handshake answer"));
            }
            if peer.pump()? == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed during the handshake"));
            }
        }
        Ok(peer)
    }

    /// Reads once (waiting at most the read timeout) and processes what came;
    /// returns the bytes read (0: closed), `usize::MAX` when nothing came yet.
    pub fn pump(&mut self) -> io::Result<usize> {
        let mut buf = vec![0u8; 64 * 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(0),
            Ok(n) => {
                let back = self.session.receive(&buf[..n])?;
                if !back.is_empty() {
                    self.stream.write_all(&back)?;
                }
                Ok(n)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(usize::MAX),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(usize::MAX),
            Err(e) => Err(e),
        }
    }

    /// Sends frames (or any bytes of the frame stream), encrypted.
    pub fn send(&mut self, plain: &[u8]) -> io::Result<()> {
        let sealed = self.session.seal(plain)?;
        self.stream.write_all(&sealed)
    }

    /// Sends bytes as they are, outside the session (e.g. a tampered ciphertext).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Frames received until `until` returns true for one of them or `limit`
    /// passes; returns them all, and whether the node closed the connection.
    pub fn read_frames(&mut self, limit: Duration, mut until: impl FnMut(&Frame) -> bool) -> (Vec<Frame>, bool) {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        loop {
            loop {
                match self.session.next_frame() {
                    Ok(Some(f)) => {
                        let done = until(&f);
                        got.push(f);
                        if done {
                            return (got, false);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => return (got, true),
                }
            }
            if Instant::now() > deadline {
                return (got, false);
            }
            match self.pump() {
                Ok(0) | Err(_) => return (got, true),
                Ok(_) => {}
            }
        }
    }
}
