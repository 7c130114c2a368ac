//! How the Sync Status, SLA and dead-letter pages show times, durations and links.

use domain::time::format_rfc3339_ms;

/// A time as `2026-12-07 15:04:05` (UTC).
pub fn time(ms: i64) -> String {
    let text = format_rfc3339_ms(ms);
    // `2026-12-07T15:04:05.123Z` → `2026-12-07 15:04:05`
    text.get(..19).unwrap_or(&text).replacen('T', " ", 1)
}

/// An optional time, `–` when absent.
pub fn maybe_time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "–".to_owned(), time)
}

/// A time of day as `15:04` (UTC), for chart labels.
pub fn clock(ms: i64) -> String {
    let text = format_rfc3339_ms(ms);
    text.get(11..16).unwrap_or(&text).to_owned()
}

/// A duration in the unit that reads best: `850 ms`, `2.4 s`, `3.5 min`, `2.0 h`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{:.1} min", ms as f64 / 60_000.0)
    } else {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    }
}

/// An optional duration, `–` when absent.
pub fn maybe_duration(ms: Option<i64>) -> String {
    ms.map_or_else(|| "–".to_owned(), duration)
}

/// A share as a percentage with two decimals (`99.95 %`).
pub fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}

/// Percent-encodes a value for a URL's query or path segment.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the pairs whose value is not empty; `""` when none is.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
