//! `time::parse_rfc3339_ms`: RFC 3339 timestamps as AEM writes them; dates that do not exist are refused.

use assetsync_domain::time::{format_rfc3339_ms, parse_rfc3339_ms};

#[test]
fn impossible_dates_and_times_are_refused() {
    for raw in [
        "2025-02-31T00:00:00Z",      // February has no 31st
        "2025-02-30T00:00:00Z",      // nor a 30th
        "2025-02-29T00:00:00Z",      // 2025 is a common year
        "1900-02-29T00:00:00Z",      // a century that is not a leap year
        "2025-04-31T12:00:00Z",      // April has 30 days
        "2025-06-31T12:00:00Z",      // June too
        "2025-09-31T12:00:00Z",      // September too
        "2025-11-31T12:00:00Z",      // November too
        "2025-01-00T00:00:00Z",      // no day 0
        "2025-00-10T00:00:00Z",      // no month 0
        "2025-01-10T24:00:00Z",      // no hour 24
        "2025-01-10T23:60:00Z",      // no minute 60
        "2025-01-10T23:59:61Z",      // no second 61
        "2025-01-10T12:00:00+24:00", // no offset of 24 hours
        "2025-01-10T12:00:00+02:60", // nor of 60 minutes
    ] {
        assert_eq!(parse_rfc3339_ms(raw), None, "{raw} must be refused");
    }
}

#[test]
fn real_dates_at_the_edges_are_read() {
    for (raw, expected) in [
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"), // a leap year
        ("2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000Z"), // a century divisible by 400
        ("2025-04-30T23:59:59Z", "2025-04-30T23:59:59.000Z"),
        ("2025-12-31T23:59:59.999Z", "2025-12-31T23:59:59.999Z"),
        ("2025-03-01T01:30:00+01:30", "2025-03-01T00:00:00.000Z"),
    ] {
        let ms = parse_rfc3339_ms(raw).unwrap_or_else(|| panic!("{raw} is a real date"));
        assert_eq!(format_rfc3339_ms(ms), expected, "{raw}");
    }
}
