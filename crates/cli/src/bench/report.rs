//! What the reports share: latency percentiles, the machine, the process's peak memory, the clock.

use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Percentiles {
    pub(super) p50: f64,
    pub(super) p90: f64,
    pub(super) p99: f64,
    pub(super) p999: f64,
    pub(super) max: f64,
}

impl Percentiles {
    /// From samples in microseconds.
    pub(super) fn of_micros(samples: &mut [u64]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1] as f64 / 1000.0
        };
        Self {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
        }
    }

    pub(super) fn of_summary(summary: &engine::sla::LatencySummary) -> Self {
        Self {
            p50: summary.p50_ms as f64,
            p90: summary.p90_ms as f64,
            p99: summary.p99_ms as f64,
            p999: summary.p999_ms as f64,
            max: summary.max_ms as f64,
        }
    }
}

/// The machine the figures were measured on.
pub(super) fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    json!({ "cores": cores, "cpu": cpu, "store": "sqlite", "build": if cfg!(debug_assertions) { "debug" } else { "release" } })
}

/// This process's peak resident set (whatever runs in it: the service, the emulators, the pre-built
/// workload), in MB.
pub(super) fn peak_rss_mb() -> f64 {
    peak_rss_mb_of("/proc/self/status")
}

/// The peak resident set (`VmHWM`) a `/proc/<pid>/status` file gives, in MB (0 when it cannot be read).
pub(super) fn peak_rss_mb_of(status_file: &str) -> f64 {
    status_mb(status_file, "VmHWM:")
}

/// This process's resident set now (`VmRSS`), in MB.
pub(super) fn rss_mb() -> f64 {
    status_mb("/proc/self/status", "VmRSS:")
}

fn status_mb(status_file: &str, field: &str) -> f64 {
    std::fs::read_to_string(status_file)
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// When the `k`-th item of an open loop at `rate` per second is due: its ideal time rounded up to the
/// millisecond, the timer's resolution, so that the items due in one millisecond go out together (a clock
/// that slept once per item could not send more than one item per millisecond).
pub(super) fn tick_offset(k: usize, rate: f64) -> Duration {
    Duration::from_millis((k as f64 * 1000.0 / rate.max(0.001)).ceil() as u64)
}

/// The writes to one product that overlapped in the emulated commerce store (`None` without one).
pub(super) fn overlapping_writes(
    store: Option<&sandbox::commerce::CommerceEmulator>,
) -> Option<u64> {
    store.map(|store| store.stats().overlapping_writes)
}
