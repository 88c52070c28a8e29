//! p2pchat core: a serverless peer-to-peer chat.
//!
//! Layers, bottom up:
//! - [`wire`]: the preamble and length-prefixed bincode frames, with hard caps.
//! - [`node`]: the sans-IO protocol state machine (handshake, flooding, exactly-once
//!   in-order delivery, catch-up, membership, failure detection, repair).
//! - [`driver`]: the only code doing I/O: one thread, one `mio::Poll`.
//! - [`handle`]: a thread-safe handle to a running node, for frontends.
//!
//! Frontend helpers live here too so that every frontend behaves the same: the
//! command line ([`cli`]), user commands ([`command`]), the rendering of events
//! ([`event`]), the `--headless` / `--json` modes ([`headless`]) and the quit on
//! SIGTERM, SIGHUP and SIGINT ([`signals`]).
#![forbid(unsafe_code)]

pub mod addr;
pub mod cli;
pub mod command;
pub mod config;
pub mod driver;
pub mod event;
pub mod handle;
pub mod headless;
pub mod id;
pub mod node;
pub mod signals;
#[cfg(feature = "sim")]
pub mod sim;
pub mod wire;

pub use config::{Config, Mode, PeerAddr};
pub use event::{Event, LeftReason};
pub use handle::{Handle, HandleError, Status};
pub use id::NodeId;
