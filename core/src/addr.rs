//! Where to connect: one type and one parser for every way a user names a peer
//! (`HOST PORT` on the command line, `--connect HOST:PORT`, `:connect`, the C
//! setters), and for the addresses the node itself reconnects to.
//!
//! The host is kept without IPv6 brackets. Both spellings with a separate port
//! accept `::1` and `[::1]`; the `HOST:PORT` form needs the brackets (`[::1]:4000`),
//! since the last colon could otherwise belong to the address. A bracket that is
//! not closed (`[::1`) is an error everywhere.

use std::net::{IpAddr, SocketAddr};

/// A peer to connect to: host name or IP address (no brackets), and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl PeerAddr {
    /// A host and a port given apart (`HOST PORT`, `:connect HOST PORT`, the C
    /// setter): `host` may be bracketed.
    pub fn new(host: &str, port: &str) -> Result<Self, String> {
        let host = unbracket(host)?;
        check_host(host)?;
        Ok(PeerAddr { host: host.to_owned(), port: parse_port(port)? })
    }

    /// `HOST:PORT` or `[V6]:PORT`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let shape = || format!("invalid address {s:?}: expected HOST:PORT, such as 127.0.0.1:4000 or [::1]:4000");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or_else(shape)?;
            (host, port)
        } else {
            let (host, port) = s.rsplit_once(':').ok_or_else(shape)?;
            if host.contains(':') {
                return Err(format!("invalid address {s:?}: an IPv6 address needs brackets, as in [::1]:4000"));
            }
            (host, port)
        };
        check_host(host)?;
        Ok(PeerAddr { host: host.to_owned(), port: parse_port(port)? })
    }

    /// The address, when the host is an IP address (no lookup needed).
    pub fn ip(&self) -> Option<SocketAddr> {
        self.host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, self.port))
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> Self {
        PeerAddr { host: a.ip().to_string(), port: a.port() }
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Strips the brackets of `[v6]`; one without the other is an error.
pub fn unbracket(host: &str) -> Result<&str, String> {
    match (host.strip_prefix('['), host.ends_with(']')) {
        (Some(rest), true) => Ok(&rest[..rest.len() - 1]),
        (None, false) => Ok(host),
        _ => Err(format!("invalid host {host:?}: unbalanced brackets")),
    }
}

/// Parses a TCP port, 1 to 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port {s:?}: expected a number from 1 to 65535")),
        Ok(p) => Ok(p),
    }
}

/// Checks that a host is an IP address or a syntactically valid host name.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok { Ok(()) } else { Err(format!("invalid host {host:?}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pa(host: &str, port: u16) -> PeerAddr {
        PeerAddr { host: host.into(), port }
    }

    #[test]
    fn host_and_port_apart_accept_v6_with_or_without_brackets() {
        assert_eq!(PeerAddr::new("127.0.0.1", "4000"), Ok(pa("127.0.0.1", 4000)));
        assert_eq!(PeerAddr::new("::1", "4000"), Ok(pa("::1", 4000)));
        assert_eq!(PeerAddr::new("[::1]", "4000"), Ok(pa("::1", 4000)));
        assert_eq!(PeerAddr::new("localhost", "4000"), Ok(pa("localhost", 4000)));
    }

    #[test]
    fn host_port_needs_brackets_for_v6() {
        assert_eq!(PeerAddr::parse("[::1]:4000"), Ok(pa("::1", 4000)));
        assert_eq!(PeerAddr::parse("example.org:1"), Ok(pa("example.org", 1)));
        assert!(PeerAddr::parse("::1:4000").unwrap_err().contains("needs brackets"));
    }

    #[test]
    fn unbalanced_brackets_bad_ports_and_bad_hosts_are_refused() {
        for (host, port) in [("[::1", "1"), ("::1]", "1"), ("bad_host!", "1"), ("h", "0"), ("h", "70000"), ("", "1")] {
            assert!(PeerAddr::new(host, port).is_err(), "{host} {port}");
        }
        for s in ["[::1:4000", "[::1]", "host", "host:", ":4000", "host:x"] {
            assert!(PeerAddr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn shown_with_brackets_for_v6_and_from_socket_addresses() {
        assert_eq!(pa("::1", 5).to_string(), "[::1]:5");
        let a: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(PeerAddr::from(a), pa("::1", 7));
        assert_eq!(PeerAddr::from(a).ip(), Some(a));
        assert_eq!(pa("localhost", 7).ip(), None);
    }
}
