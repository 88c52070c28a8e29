//! A closed network's pre-shared key: a passphrase that every member holds,
//! stretched by argon2id into the key that admits them ([`NetworkSecret`]).
//!
//! The passphrase comes from `--secret-file FILE` (the file's content, one final
//! line ending removed) or, without that option, from the environment variable
//! [`SECRET_ENV`] (`P2PCHAT_SECRET`, taken as it is); never from the command line,
//! where every user of the machine could read it. [`from_sources`] reads it and
//! derives the key once, when the command line is parsed, for the network named
//! by `--network`: the same passphrase on two networks gives two unrelated keys.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest as _, Sha256};

use crate::config::validate_network;
use crate::identity::{read_private, shown};

/// The environment variable that holds a closed network's passphrase when no
/// `--secret-file` is given.
pub const SECRET_ENV: &str = "P2PCHAT_SECRET";

/// The largest secret file read, in bytes: a passphrase, not a document.
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Argon2id's memory cost in KiB (19 MiB), its number of passes and its lanes:
/// the OWASP baseline for argon2id, and `argon2`'s own defaults.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// The start of the salt, before the network's name: the salt names its use,
/// so no other program's hash of the same passphrase is this key.
const SALT_DOMAIN: &[u8] = b"p2pchat network secret v1\0";
/// What the tag hashes before the key.
const TAG_DOMAIN: &[u8] = b"p2pchat secret tag v1";

/// A closed network's key, derived from its passphrase and its name.
///
/// - [`psk`](Self::psk): 32 bytes, the key that the handshake mixes in; only
///   holders of the passphrase have it.
/// - [`tag`](Self::tag): the first 8 bytes of SHA-256(`"p2pchat secret tag v1"` ||
///   psk). Two nodes can compare tags before the handshake to tell "a wrong
///   secret" from "no secret" and say which. It tells an observer nothing it can
///   use: checking a guessed passphrase against it costs a full argon2id run, as
///   against the handshake itself.
///
/// `Debug` shows the network and the tag, never the key.
#[derive(Clone)]
pub struct NetworkSecret {
    psk: [u8; 32],
    tag: [u8; 8],
    network: String,
}

impl NetworkSecret {
    /// Derives the key of the network `network` from `passphrase`: argon2id
    /// (version 0x13) with m = 19 MiB, t = 2, p = 1 and a 32-byte output; the salt
    /// is `"p2pchat network secret v1\0"` followed by the network's name.
    ///
    /// Slow on purpose, and the same everywhere: about 35 ms on the machine this
    /// was measured on (an x86-64 server core, optimised build; 40 to 60 ms in a
    /// debug build, whose dependencies are optimised too), so each guess at a
    /// passphrase costs a guesser that much, while a test that starts many nodes
    /// derives the key once and clones it.
    ///
    /// Refuses an empty passphrase and a network name that
    /// [`validate_network`] refuses.
    pub fn derive(passphrase: &[u8], network: &str) -> Result<Self, String> {
        if passphrase.is_empty() {
            return Err("the network secret is empty".to_owned());
        }
        validate_network(network).map_err(|e| format!("invalid network name {network:?}: {e}"))?;
        let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32))
            .map_err(|e| format!("cannot derive the network key: {e}"))?;
        let mut salt = Vec::with_capacity(SALT_DOMAIN.len() + network.len());
        salt.extend_from_slice(SALT_DOMAIN);
        salt.extend_from_slice(network.as_bytes());
        let mut psk = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &salt, &mut psk)
            .map_err(|e| format!("cannot derive the network key: {e}"))?;
        let digest = Sha256::new().chain_update(TAG_DOMAIN).chain_update(psk).finalize();
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&digest[..8]);
        Ok(NetworkSecret { psk, tag, network: network.to_owned() })
    }

    /// The pre-shared key, for the handshake. Never show or log it.
    pub fn psk(&self) -> &[u8; 32] {
        &self.psk
    }

    /// The public tag of the key (see the type's documentation).
    pub fn tag(&self) -> &[u8; 8] {
        &self.tag
    }

    /// The network the key was derived for.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The tag in hexadecimal, as logs and messages show it.
    pub fn tag_hex(&self) -> String {
        self.tag.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for NetworkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkSecret")
            .field("network", &self.network)
            .field("tag", &self.tag_hex())
            .finish_non_exhaustive()
    }
}

/// The network's key from the passphrase's sources, `--secret-file` first, then
/// the value of [`SECRET_ENV`] (`env`, passed in so that callers and tests choose
/// what the environment says); None when neither is given: an open network.
///
/// Errors: the file cannot be read, is empty, or (on Unix) its group or others
/// may read or write it; the variable is set but empty; `network` is invalid.
pub fn from_sources(
    secret_file: Option<&Path>,
    env: Option<OsString>,
    network: &str,
) -> Result<Option<NetworkSecret>, String> {
    match (secret_file, env) {
        (Some(path), _) => from_file(path, network).map(Some),
        (None, Some(value)) => from_env_value(value, network).map(Some),
        (None, None) => Ok(None),
    }
}

/// The network's key from the passphrase in the file at `path`: its content with
/// one final line ending (`\n` or `\r\n`) removed. Refused if the rest is empty,
/// larger than [`MAX_SECRET_FILE`], or (on Unix) accessible by group or others.
pub fn from_file(path: &Path, network: &str) -> Result<NetworkSecret, String> {
    let file = File::open(path).map_err(|e| format!("cannot read secret file {}: {e}", shown(path)))?;
    let content = read_private(file, path, "secret file", MAX_SECRET_FILE)?;
    let passphrase = strip_line_end(&content);
    if passphrase.is_empty() {
        return Err(format!("secret file {} is empty", shown(path)));
    }
    NetworkSecret::derive(passphrase, network)
}

/// The network's key from the value of [`SECRET_ENV`], taken as it is.
fn from_env_value(value: OsString, network: &str) -> Result<NetworkSecret, String> {
    if value.is_empty() {
        return Err(format!("{SECRET_ENV} is set but empty; unset it for an open network"));
    }
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStringExt;
        value.into_vec()
    };
    #[cfg(not(unix))]
    let bytes = value.into_string().map_err(|_| format!("{SECRET_ENV} is not valid Unicode"))?.into_bytes();
    NetworkSecret::derive(&bytes, network)
}

/// `bytes` without one final `\n` or `\r\n`.
fn strip_line_end(bytes: &[u8]) -> &[u8] {
    match bytes.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => bytes,
    }
}
