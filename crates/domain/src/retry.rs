//! The retry policy of failed work, as pure functions: how long to wait before the next attempt, and what a
//! failure of a given class means after a given number of attempts.

/// Longest wait between two attempts (30 minutes).
pub const MAX_DELAY_MS: u64 = 30 * 60 * 1000;
/// Longest `Retry-After` honoured as given (1 hour); longer ones are clamped to it.
pub const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1000;
/// Attempts before work goes to the dead letters, by default: with the delays below they span about 24 hours.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 60;

/// Delay before the next attempt, in milliseconds: exponential from 500 ms, capped at 30 minutes, with ±20 %
/// jitter from `jitter` ∈ [0, 1). A `Retry-After` from the remote side wins when longer (clamped to an hour).
pub fn retry_delay_ms(attempt: u32, retry_after_ms: Option<u64>, jitter: f64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(30);
    let base = 500u64.saturating_mul(1u64 << exponent).min(MAX_DELAY_MS);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let jittered = (base as f64 * factor) as u64;
    retry_after_ms.map_or(jittered, |after| {
        after.min(MAX_RETRY_AFTER_MS).max(jittered)
    })
}

/// What kind of failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// 5xx, time-outs, 408/409, throttling (429/503): retried.
    Transient,
    /// 401/403: the sink pauses; the work is kept and never dead-lettered.
    Unauthorized,
    /// A 400 or anything the remote side will refuse again: no retry.
    Permanent,
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this many milliseconds.
    RetryIn(u64),
    /// Keep the work, attempt not counted, until the sink resumes.
    Pause,
    /// Stop: the work goes to the dead letters.
    GiveUp,
}

/// The decision after attempt number `attempt` (1-based) failed.
pub fn decide(
    class: FailureClass,
    attempt: u32,
    max_attempts: u32,
    retry_after_ms: Option<u64>,
    jitter: f64,
) -> RetryDecision {
    match class {
        FailureClass::Unauthorized => RetryDecision::Pause,
        FailureClass::Permanent => RetryDecision::GiveUp,
        FailureClass::Transient if attempt >= max_attempts => RetryDecision::GiveUp,
        FailureClass::Transient => {
            RetryDecision::RetryIn(retry_delay_ms(attempt, retry_after_ms, jitter))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_honours_retry_after() {
        assert_eq!(retry_delay_ms(1, None, 0.5), 500);
        assert_eq!(retry_delay_ms(2, None, 0.5), 1000);
        assert_eq!(retry_delay_ms(40, None, 0.5), MAX_DELAY_MS);
        assert!(retry_delay_ms(3, None, 0.0) >= 1600 && retry_delay_ms(3, None, 0.99) <= 2400);
        assert_eq!(retry_delay_ms(1, Some(60_000), 0.5), 60_000);
        assert_eq!(
            retry_delay_ms(1, Some(10 * MAX_RETRY_AFTER_MS), 0.5),
            MAX_RETRY_AFTER_MS
        );
    }

    #[test]
    fn the_default_schedule_spans_about_a_day() {
        let total: u64 = (1..DEFAULT_MAX_ATTEMPTS)
            .map(|a| retry_delay_ms(a, None, 0.5))
            .sum();
        let hours = total as f64 / 3_600_000.0;
        assert!((20.0..30.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn classes_decide() {
        assert_eq!(
            decide(FailureClass::Unauthorized, 1_000, 3, None, 0.5),
            RetryDecision::Pause
        );
        assert_eq!(
            decide(FailureClass::Permanent, 1, 3, None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            decide(FailureClass::Transient, 3, 3, None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            decide(FailureClass::Transient, 2, 3, Some(5_000), 0.5),
            RetryDecision::RetryIn(5_000)
        );
    }
}
