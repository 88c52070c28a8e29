//! The log file (`--log FILE`): one line per entry, an ISO 8601 UTC timestamp
//! with milliseconds first, the text sanitised. A write that fails closes it for
//! good: the driver then tells the user once, and the node runs on unlogged.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::sanitize;

/// The log file, if there is one and it still works.
#[derive(Debug)]
pub(super) struct LogFile(Option<File>);

impl LogFile {
    /// Opens `path` for appending (created if needed); no path, no log.
    pub(super) fn open(path: Option<&Path>) -> io::Result<LogFile> {
        let Some(path) = path else { return Ok(LogFile(None)) };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open the log file {}: {e}", path.display())))?;
        Ok(LogFile(Some(file)))
    }

    /// Appends a line. An error closes the log: it is returned once, and later
    /// lines are dropped.
    pub(super) fn write(&mut self, line: &str) -> io::Result<()> {
        let Some(file) = &mut self.0 else { return Ok(()) };
        let written = writeln!(file, "{} {}", timestamp(), sanitize(line));
        if written.is_err() {
            self.0 = None;
        }
        written
    }
}

/// The current time as ISO 8601 UTC with milliseconds, for log lines.
fn timestamp() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(d.as_secs(), d.subsec_millis())
}

fn format_utc(secs: u64, millis: u32) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_are_iso_8601_utc() {
        assert_eq!(format_utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_704_067_200 + 3_723, 45), "2024-01-01T01:02:03.045Z");
        assert_eq!(format_utc(951_782_400, 999), "2000-02-29T00:00:00.999Z");
        assert_eq!(format_utc(4_102_444_799, 0), "2099-12-31T23:59:59.000Z");
    }
}
