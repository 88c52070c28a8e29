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
    /// Slow on purpose, and the same everywhere: measured at 22 to 29 ms a
    /// derivation on one core of an AMD EPYC server, in the release and the test
    /// profiles alike (the workspace optimises its dependencies in every profile),
    /// and 19 MiB of memory while it runs. Each guess at a passphrase costs a
    /// guesser that much; a node pays it once at start-up, and a test that starts
    /// many nodes derives the key once and clones it.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{TestDir, set_mode};

    fn derived(passphrase: &str, network: &str) -> NetworkSecret {
        NetworkSecret::derive(passphrase.as_bytes(), network).unwrap_or_else(|e| panic!("derives: {e}"))
    }

    #[test]
    fn the_key_depends_on_the_passphrase_and_the_network_and_on_nothing_else() {
        let a = derived("correct horse", "p2pchat");
        let again = derived("correct horse", "p2pchat");
        assert_eq!((a.psk(), a.tag()), (again.psk(), again.tag()), "deterministic");
        let other_network = derived("correct horse", "lab");
        assert_ne!(a.psk(), other_network.psk());
        assert_ne!(a.tag(), other_network.tag());
        let other_passphrase = derived("correct horsf", "p2pchat");
        assert_ne!(a.psk(), other_passphrase.psk());
        assert_ne!(a.tag(), other_passphrase.tag());
        assert_eq!(a.network(), "p2pchat");
        assert_eq!(other_network.network(), "lab");
    }

    #[test]
    fn the_key_is_argon2id_with_the_documented_salt_and_the_tag_its_hash() {
        let secret = derived("pw", "net");
        let params = Params::new(19 * 1024, 2, 1, Some(32)).expect("params");
        let mut psk = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(b"pw", b"p2pchat network secret v1\0net", &mut psk)
            .expect("argon2id");
        assert_eq!(secret.psk(), &psk);
        let digest = Sha256::digest([&b"p2pchat secret tag v1"[..], &psk].concat());
        assert_eq!(secret.tag()[..], digest[..8]);
        assert_eq!(secret.tag_hex().len(), 16);
    }

    #[test]
    fn an_empty_passphrase_or_a_bad_network_is_refused() {
        assert_eq!(NetworkSecret::derive(b"", "p2pchat").map(|_| ()), Err("the network secret is empty".to_owned()));
        let msg = NetworkSecret::derive(b"pw", "two words").map(|_| ()).expect_err("a bad network name");
        assert!(msg.starts_with("invalid network name \"two words\""), "{msg}");
    }

    #[test]
    fn debug_shows_the_tag_but_never_the_key() {
        let secret = derived("pw", "p2pchat");
        let shown = format!("{secret:?}");
        let psk_hex: String = secret.psk().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&psk_hex) && !shown.contains(&format!("{:?}", secret.psk())), "{shown}");
        assert!(shown.contains(&secret.tag_hex()) && shown.contains("p2pchat"), "{shown}");
    }

    #[test]
    fn a_secret_file_loses_one_final_line_ending_and_nothing_else() {
        let tmp = TestDir::new("secret-file");
        let plain = derived("s3cret", "p2pchat");
        for content in ["s3cret", "s3cret\n", "s3cret\r\n"] {
            let path = tmp.write("secret", content.as_bytes(), 0o600);
            assert_eq!(from_file(&path, "p2pchat").expect("read").psk(), plain.psk(), "{content:?}");
        }
        for content in ["s3cret\n\n", " s3cret", "s3cret "] {
            let path = tmp.write("secret", content.as_bytes(), 0o600);
            assert_ne!(from_file(&path, "p2pchat").expect("read").psk(), plain.psk(), "{content:?}");
        }
    }

    #[test]
    fn an_empty_missing_or_huge_secret_file_is_refused_naming_it() {
        let tmp = TestDir::new("secret-bad");
        for content in ["", "\n", "\r\n"] {
            let path = tmp.write("secret", content.as_bytes(), 0o600);
            assert_eq!(
                from_file(&path, "p2pchat").map(|_| ()),
                Err(format!("secret file {} is empty", path.display()))
            );
        }
        let missing = tmp.path().join("missing");
        let msg = from_file(&missing, "p2pchat").map(|_| ()).expect_err("missing");
        assert!(msg.starts_with(&format!("cannot read secret file {}: ", missing.display())), "{msg}");
        assert!(msg.contains("os error"), "{msg}");
        let msg = from_file(tmp.path(), "p2pchat").map(|_| ()).expect_err("a directory");
        assert!(msg.contains("is a directory") || msg.contains("os error"), "{msg}");
        let path = tmp.write("huge", &vec![b'x'; 64 * 1024 + 1], 0o600);
        assert!(from_file(&path, "p2pchat").map(|_| ()).expect_err("huge").contains("larger than 65536 bytes"));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_may_read_is_refused_like_a_key_file() {
        let tmp = TestDir::new("secret-loose");
        let path = tmp.write("secret", b"pw\n", 0o644);
        let shown = path.display();
        assert_eq!(
            from_file(&path, "p2pchat").map(|_| ()),
            Err(format!("secret file {shown} is readable by others (mode 0644); run chmod 600 {shown}"))
        );
        set_mode(&path, 0o600);
        assert!(from_file(&path, "p2pchat").is_ok());
    }

    #[test]
    fn the_file_wins_over_the_environment_and_neither_is_an_open_network() {
        let tmp = TestDir::new("secret-sources");
        let path = tmp.write("secret", b"from the file\n", 0o600);
        let env = Some(OsString::from("from the env"));
        let secret = from_sources(Some(&path), env.clone(), "p2pchat").expect("ok").expect("a secret");
        assert_eq!(secret.psk(), derived("from the file", "p2pchat").psk());
        let secret = from_sources(None, env, "p2pchat").expect("ok").expect("a secret");
        assert_eq!(secret.psk(), derived("from the env", "p2pchat").psk());
        let secret = from_sources(None, Some("with newline\n".into()), "p2pchat").expect("ok").expect("a secret");
        assert_eq!(secret.psk(), derived("with newline\n", "p2pchat").psk(), "the variable is taken as it is");
        assert!(from_sources(None, None, "p2pchat").expect("ok").is_none());
        assert_eq!(
            from_sources(None, Some(OsString::new()), "p2pchat").map(|_| ()),
            Err("P2PCHAT_SECRET is set but empty; unset it for an open network".to_owned())
        );
        // An empty variable does not matter when the file is given.
        assert!(from_sources(Some(&path), Some(OsString::new()), "p2pchat").is_ok());
    }
}
