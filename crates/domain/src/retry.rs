//! The retry policy of failed work, as one pure function.

/// Delay before the next attempt, in milliseconds: exponential from 500 ms, capped at 5 minutes, with ±20 %
/// jitter from `jitter` ∈ [0, 1). A `Retry-After` from the remote side, when longer, wins.
pub fn retry_delay_ms(attempt: u32, retry_after_ms: Option<u64>, jitter: f64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = 500u64.saturating_mul(1u64 << exponent).min(300_000);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let jittered = (base as f64 * factor) as u64;
    retry_after_ms.map_or(jittered, |after| after.max(jittered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_honours_retry_after() {
        assert_eq!(retry_delay_ms(1, None, 0.5), 500);
        assert_eq!(retry_delay_ms(2, None, 0.5), 1000);
        assert_eq!(retry_delay_ms(30, None, 0.5), 300_000);
        assert!(retry_delay_ms(3, None, 0.0) >= 1600 && retry_delay_ms(3, None, 0.99) <= 2400);
        assert_eq!(retry_delay_ms(1, Some(60_000), 0.5), 60_000);
    }
}
