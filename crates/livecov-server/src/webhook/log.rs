//! Log lines on stderr: `2026-01-02T03:04:05Z level message`. Nothing logged ever
//! holds a token: messages are built from payload fields, paths and errors only.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one log line.
pub fn log(level: &str, message: &str) {
    eprintln!("{} {level} {message}", rfc3339(SystemTime::now()));
}

/// `t` as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form Kubernetes and GitHub write.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // leap year, Feb 29
        assert_eq!(super::rfc3339(t), "2024-02-29T23:59:59Z");
    }
}
