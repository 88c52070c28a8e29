//! How each kind of option value is read: the value parsers given to clap, and the
//! help fragments that show their ranges from the same constants.
//!
//! Every parser is a plain `Fn(&str) -> Result<T, String>`: clap reports an `Err`
//! as a `ValueValidation` error carrying the option, the value and this message,
//! which [`super::usage_message`] turns into `invalid value "V" for --OPT: MESSAGE`.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// A byte count, shown with the largest binary suffix that divides it (`8M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bytes(pub(super) usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show_bytes(u64::try_from(self.0).unwrap_or(u64::MAX)))
    }
}

/// `8388608` as `8M`, `65536` as `64K`; other counts as plain numbers.
fn show_bytes(n: u64) -> String {
    for (unit, suffix) in [(1u64 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")] {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

/// A range as the help shows it: `0-64`.
pub(super) fn range(range: &RangeInclusive<u64>) -> String {
    format!("{}-{}", range.start(), range.end())
}

/// A range of byte counts as the help shows it: `64K-1G`.
pub(super) fn byte_range(range: &RangeInclusive<u64>) -> String {
    format!("{}-{}", show_bytes(*range.start()), show_bytes(*range.end()))
}

/// A whole number in `range`, converted to the field's type.
pub(super) fn number<T: TryFrom<u64>>(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |value| {
        let bad = || format!("expected a number from {} to {}", range.start(), range.end());
        let n: u64 = value.parse().map_err(|_| bad())?;
        if !range.contains(&n) {
            return Err(bad());
        }
        T::try_from(n).map_err(|_| bad())
    }
}

/// A byte count in `range`, with an optional binary suffix (`K`, `M`, `G`).
pub(super) fn bytes(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Bytes, String> + Clone + Send + Sync + 'static {
    move |value| {
        let bad = || {
            format!(
                "expected a number of bytes from {} to {} (suffixes K, M, G allowed)",
                show_bytes(*range.start()),
                show_bytes(*range.end())
            )
        };
        let (digits, unit) = match value.char_indices().last() {
            Some((i, 'k' | 'K')) => (&value[..i], 1u64 << 10),
            Some((i, 'm' | 'M')) => (&value[..i], 1u64 << 20),
            Some((i, 'g' | 'G')) => (&value[..i], 1u64 << 30),
            _ => (value, 1),
        };
        let n = digits.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)).ok_or_else(bad)?;
        if !range.contains(&n) {
            return Err(bad());
        }
        usize::try_from(n).map(Bytes).map_err(|_| bad())
    }
}

/// An IP address literal, IPv6 with or without brackets; never a host name.
pub(super) fn ip(value: &str) -> Result<IpAddr, String> {
    crate::addr::unbracket(value)
        .ok()
        .and_then(|v| v.parse::<IpAddr>().ok())
        .ok_or_else(|| "expected an IP address, such as 0.0.0.0, 127.0.0.1 or ::".to_owned())
}

/// A file name, which may not be empty.
pub(super) fn file(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() { Err("expected a file name".to_owned()) } else { Ok(PathBuf::from(value)) }
}

/// A directory name, which may not be empty.
pub(super) fn dir(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() { Err("expected a directory name".to_owned()) } else { Ok(PathBuf::from(value)) }
}

/// A network name, checked by [`crate::config::validate_network`].
pub(super) fn network(value: &str) -> Result<String, String> {
    crate::config::validate_network(value).map(|()| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_are_shown_with_the_largest_exact_suffix() {
        assert_eq!(Bytes(8 << 20).to_string(), "8M");
        assert_eq!(Bytes(64 << 10).to_string(), "64K");
        assert_eq!(Bytes(1 << 30).to_string(), "1G");
        assert_eq!(Bytes(1000).to_string(), "1000");
        assert_eq!(Bytes(1536 << 10).to_string(), "1536K");
    }

    #[test]
    fn numbers_outside_the_range_or_the_type_are_refused() {
        let small = number::<u8>(0..=300);
        assert_eq!(small("255"), Ok(255));
        assert_eq!(small("256"), Err("expected a number from 0 to 300".to_owned()));
        assert!(small("301").is_err());
        assert!(small("-1").is_err());
        assert!(small(" 1").is_err());
    }

    #[test]
    fn ranges_are_shown_like_the_values_are_written() {
        assert_eq!(range(&(0..=64)), "0-64");
        assert_eq!(byte_range(&(65_536..=1 << 30)), "64K-1G");
    }
}
