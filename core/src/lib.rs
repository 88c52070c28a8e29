//! p2pchat core: a serverless peer-to-peer chat.
//!
//! Most programs need only what the crate root re-exports: a [`Config`] (or the
//! command line, [`cli`]), [`Handle::start`] to run a node on its own network
//! thread, [`Handle::send_line`] / [`Handle::send_input`] for what the user types,
//! and the [`Event`]s and [`Status`] to show.
//!
//! Layers, bottom up:
//! - [`wire`]: the preamble and length-prefixed bincode frames, with hard caps.
//! - [`node`]: the sans-IO protocol state machine ([`Node`]: handshake, flooding,
//!   exactly-once in-order delivery, catch-up, membership, failure detection,
//!   repair), for programs that drive the protocol themselves.
//! - the driver (private): the only code doing I/O, one thread, one `mio::Poll`.
//! - [`handle`]: a thread-safe handle to a running node, for frontends.
//!
//! Frontend helpers live here too so that every frontend behaves the same: where
//! to connect ([`addr`]), the command line ([`cli`]), what the user types
//! ([`command`]), the rendering of events ([`event`]), the `--headless` / `--json`
//! modes ([`headless`]) and the quit on SIGTERM, SIGHUP and SIGINT ([`signals`]).
//! The simulator (`sim`) is behind the `sim` feature, for tests and benchmarks;
//! it does not ship in `libp2pchat`.
#![forbid(unsafe_code)]

pub mod addr;
pub mod cli;
pub mod command;
pub mod config;
pub mod crypto;
mod driver;
pub mod event;
pub mod handle;
pub mod headless;
pub mod id;
pub mod identity;
pub mod memory;
pub mod node;
pub mod secret;
pub mod signals;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use addr::PeerAddr;
pub use command::Input;
pub use config::{Config, Mode, TextClients};
pub use driver::{CLOSE_TIMEOUT, CONNECT_TIMEOUT, STOP_TIMEOUT};
pub use event::{Event, LeftReason};
pub use handle::{Handle, HandleError, Status};
pub use id::NodeId;
pub use identity::{Acquired, IdentitySource};
pub use node::{MemberInfo, Node};
pub use secret::NetworkSecret;
