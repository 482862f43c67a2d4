//! Timestamp parsing and formatting at the edges (ISO-8601 input strings, naive local times,
//! human-readable output). Inside the pipeline a time is an i64 of microseconds, UTC.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Parses an ISO-8601 / RFC 3339 timestamp. Strings with an offset or `Z` are exact; strings
/// without one are wall-clock times in `input_tz`. Returns None when it is not a timestamp.
pub fn parse_timestamp_str(raw: &str, input_tz: &TimeZone) -> Option<i64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.as_microsecond());
    }
    // A zone annotation such as 2026-11-01T08:00:00[Asia/Jakarta].
    if let Ok(z) = s.parse::<jiff::Zoned>() {
        return Some(z.timestamp().as_microsecond());
    }
    let dt = s.parse::<DateTime>().ok()?;
    input_tz.to_ambiguous_zoned(dt).compatible().ok().map(|z| z.timestamp().as_microsecond())
}

/// A naive timestamp (wall-clock micros read as if UTC) interpreted in `tz`.
pub fn local_us_to_utc(naive_us: i64, tz: &TimeZone) -> Option<i64> {
    let dt = Timestamp::from_microsecond(naive_us).ok()?.to_zoned(TimeZone::UTC).datetime();
    tz.to_ambiguous_zoned(dt).compatible().ok().map(|z| z.timestamp().as_microsecond())
}

/// RFC 3339 in UTC, for messages, logs and the manifest.
pub fn format_us(us: i64) -> String {
    Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_else(|_| format!("{us}us"))
}

/// Local civil date-time of a UTC instant in `tz`.
pub fn local_datetime(us: i64, tz: &TimeZone) -> Option<DateTime> {
    Some(Timestamp::from_microsecond(us).ok()?.to_zoned(tz.clone()).datetime())
}

/// An IANA time zone by name; the error names the config key and the fix.
pub fn parse_time_zone(key: &str, name: &str) -> crate::error::Result<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).map_err(|e| {
        crate::error::Error::config(
            key,
            format!("unknown time zone {name:?}: {e}"),
            "use an IANA name such as \"Asia/Jakarta\" or \"UTC\"",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_microsecond()
    }

    #[test]
    fn offsets_are_exact_and_naive_strings_use_the_input_zone() {
        let jkt = TimeZone::get("Asia/Jakarta").unwrap();
        assert_eq!(parse_timestamp_str("2026-11-01T08:00:00+07:00", &TimeZone::UTC), Some(us("2026-11-01T01:00:00Z")));
        assert_eq!(parse_timestamp_str("2026-11-01T08:00:00", &jkt), Some(us("2026-11-01T01:00:00Z")));
        assert_eq!(parse_timestamp_str("2026-11-01 08:00:00", &TimeZone::UTC), Some(us("2026-11-01T08:00:00Z")));
        assert_eq!(
            parse_timestamp_str("2026-11-01T08:00:00.250Z", &TimeZone::UTC),
            Some(us("2026-11-01T08:00:00.25Z"))
        );
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "yesterday", "31/12/2026 10:00", "2026-13-01T00:00:00Z"] {
            assert_eq!(parse_timestamp_str(s, &TimeZone::UTC), None, "{s}");
        }
    }

    #[test]
    fn naive_parquet_values_shift_by_the_zone() {
        let jkt = TimeZone::get("Asia/Jakarta").unwrap();
        let naive = us("2026-11-01T08:00:00Z");
        assert_eq!(local_us_to_utc(naive, &jkt), Some(us("2026-11-01T01:00:00Z")));
    }
}
