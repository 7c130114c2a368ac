//! SLA accounting in memory: latency histograms per minute for the last day, and since start, for the time
//! from a DAM event to its commerce write, and for webhook acknowledgements.

use domain::latency::LatencyHistogram;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: i64 = 24 * 60;

#[derive(Default)]
struct Minute {
    minute: i64,
    apply: LatencyHistogram,
    ack: LatencyHistogram,
}

#[derive(Default)]
struct Windows {
    minutes: VecDeque<Minute>,
    apply_total: LatencyHistogram,
    ack_total: LatencyHistogram,
}

/// The recorder the engine and the webhook feed.
#[derive(Default)]
pub struct SlaRecorder {
    windows: Mutex<Windows>,
}

/// One window's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: u64,
    pub p90_ms: u64,
    pub p99_ms: u64,
    pub p999_ms: u64,
    pub max_ms: u64,
    /// Share of samples within 5 minutes (the reference's SLA: 99 %).
    pub within_5_min: f64,
    /// Share of samples within 30 minutes (the reference's SLA: 99.9 %).
    pub within_30_min: f64,
}

impl LatencySummary {
    fn of(h: &LatencyHistogram) -> Self {
        Self {
            count: h.count(),
            p50_ms: h.quantile(0.5),
            p90_ms: h.quantile(0.9),
            p99_ms: h.quantile(0.99),
            p999_ms: h.quantile(0.999),
            max_ms: h.max(),
            within_5_min: h.share_within(5 * 60_000),
            within_30_min: h.share_within(30 * 60_000),
        }
    }
}

/// Event → commerce write, and webhook acknowledgement, for one window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WindowReport {
    pub event_to_applied: LatencySummary,
    pub webhook_ack: LatencySummary,
}

/// The last hour, the last day and since start.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    pub last_hour: WindowReport,
    pub last_day: WindowReport,
    pub since_start: WindowReport,
    /// How many processes' samples it covers (1: this process's alone).
    pub processes: usize,
}

/// One window's histograms: event → commerce write, and webhook acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowHistograms {
    pub apply: LatencyHistogram,
    pub ack: LatencyHistogram,
}

impl WindowHistograms {
    fn merge(&mut self, other: &Self) {
        self.apply.merge(&other.apply);
        self.ack.merge(&other.ack);
    }

    fn report(&self) -> WindowReport {
        WindowReport {
            event_to_applied: LatencySummary::of(&self.apply),
            webhook_ack: LatencySummary::of(&self.ack),
        }
    }
}

/// One bucket of the SLA over time.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaPoint {
    /// When the bucket begins (Unix ms, a whole minute).
    pub start_ms: i64,
    /// How many minutes it covers.
    pub minutes: i64,
    pub window: WindowReport,
}

/// The histograms behind an [`SlaReport`]: what a process hands the others (in its process report), so that
/// the cluster's report merges every process's samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaHistograms {
    pub last_hour: WindowHistograms,
    pub last_day: WindowHistograms,
    pub since_start: WindowHistograms,
}

impl SlaHistograms {
    /// Adds another process's samples.
    pub fn merge(&mut self, other: &Self) {
        self.last_hour.merge(&other.last_hour);
        self.last_day.merge(&other.last_day);
        self.since_start.merge(&other.since_start);
    }

    /// The figures of these samples, covering `processes` processes.
    pub fn report(&self, processes: usize) -> SlaReport {
        SlaReport {
            last_hour: self.last_hour.report(),
            last_day: self.last_day.report(),
            since_start: self.since_start.report(),
            processes,
        }
    }
}

impl SlaRecorder {
    fn with_minute(&self, now_ms: i64, record: impl FnOnce(&mut Minute, &mut Windows)) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let minute = now_ms.div_euclid(MINUTE_MS);
        if windows.minutes.back().is_none_or(|m| m.minute != minute) {
            windows.minutes.push_back(Minute {
                minute,
                ..Minute::default()
            });
        }
        while windows
            .minutes
            .front()
            .is_some_and(|m| m.minute <= minute - DAY_MINUTES)
        {
            windows.minutes.pop_front();
        }
        let mut current = windows.minutes.pop_back().unwrap_or_default();
        record(&mut current, &mut windows);
        windows.minutes.push_back(current);
    }

    /// Records the time from a DAM event to the commerce write that applied it.
    pub fn record_applied(&self, now_ms: i64, latency_ms: i64) {
        self.with_minute(now_ms, |minute, windows| {
            minute.apply.record(latency_ms);
            windows.apply_total.record(latency_ms);
        });
    }

    /// Records a webhook acknowledgement time.
    pub fn record_ack(&self, now_ms: i64, latency_ms: i64) {
        self.with_minute(now_ms, |minute, windows| {
            minute.ack.record(latency_ms);
            windows.ack_total.record(latency_ms);
        });
    }

    /// The since-start histograms: event → applied, and webhook acknowledgement.
    pub fn since_start_histograms(&self) -> (LatencyHistogram, LatencyHistogram) {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        (windows.apply_total.clone(), windows.ack_total.clone())
    }

    /// Forgets every sample (the benchmark starts its clock from a clean slate).
    pub fn clear(&self) {
        *self.windows.lock().unwrap_or_else(PoisonError::into_inner) = Windows::default();
    }

    /// The figures now (this process's samples).
    pub fn report(&self, now_ms: i64) -> SlaReport {
        self.histograms(now_ms).report(1)
    }

    /// The figures over time: `buckets` consecutive buckets of `bucket_minutes` minutes each, the last one
    /// holding the current minute, oldest first (at most a day back: older minutes are not kept). A bucket
    /// without samples has a count of 0.
    pub fn series(&self, now_ms: i64, bucket_minutes: i64, buckets: usize) -> Vec<SlaPoint> {
        let bucket_minutes = bucket_minutes.max(1);
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let now_minute = now_ms.div_euclid(MINUTE_MS);
        let count = i64::try_from(buckets).unwrap_or(i64::MAX);
        // Bucket i (0 = oldest) covers the minutes (end - (count - i) * size, end - (count - i - 1) * size].
        let first_minute = now_minute - count.saturating_mul(bucket_minutes) + 1;
        let mut merged: Vec<WindowHistograms> = vec![WindowHistograms::default(); buckets];
        for minute in windows.minutes.iter().filter(|m| m.minute >= first_minute) {
            let index =
                usize::try_from((minute.minute - first_minute) / bucket_minutes).unwrap_or(0);
            if let Some(bucket) = merged.get_mut(index) {
                bucket.apply.merge(&minute.apply);
                bucket.ack.merge(&minute.ack);
            }
        }
        merged
            .iter()
            .enumerate()
            .map(|(i, histograms)| SlaPoint {
                start_ms: (first_minute + i64::try_from(i).unwrap_or(0) * bucket_minutes)
                    * MINUTE_MS,
                minutes: bucket_minutes,
                window: histograms.report(),
            })
            .collect()
    }

    /// The histograms of the last hour, the last day and since start, now.
    pub fn histograms(&self, now_ms: i64) -> SlaHistograms {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let now_minute = now_ms.div_euclid(MINUTE_MS);
        let window = |minutes: i64| {
            let mut merged = WindowHistograms::default();
            for m in windows
                .minutes
                .iter()
                .filter(|m| m.minute > now_minute - minutes)
            {
                merged.apply.merge(&m.apply);
                merged.ack.merge(&m.ack);
            }
            merged
        };
        SlaHistograms {
            last_hour: window(60),
            last_day: window(DAY_MINUTES),
            since_start: WindowHistograms {
                apply: windows.apply_total.clone(),
                ack: windows.ack_total.clone(),
            },
        }
    }
}
