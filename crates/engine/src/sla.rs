//! SLA accounting in memory: latency histograms per minute for the last day, and since start, for the time
//! from a DAM event to its commerce write, and for webhook acknowledgements.

use domain::latency::LatencyHistogram;
use serde::Serialize;
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
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    pub event_to_applied: LatencySummary,
    pub webhook_ack: LatencySummary,
}

/// The last hour, the last day and since start.
#[derive(Debug, Clone, Serialize)]
pub struct SlaReport {
    pub last_hour: WindowReport,
    pub last_day: WindowReport,
    pub since_start: WindowReport,
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

    /// The figures now.
    pub fn report(&self, now_ms: i64) -> SlaReport {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let now_minute = now_ms.div_euclid(MINUTE_MS);
        let window = |minutes: i64| {
            let (mut apply, mut ack) = (LatencyHistogram::default(), LatencyHistogram::default());
            for m in windows
                .minutes
                .iter()
                .filter(|m| m.minute > now_minute - minutes)
            {
                apply.merge(&m.apply);
                ack.merge(&m.ack);
            }
            WindowReport {
                event_to_applied: LatencySummary::of(&apply),
                webhook_ack: LatencySummary::of(&ack),
            }
        };
        SlaReport {
            last_hour: window(60),
            last_day: window(DAY_MINUTES),
            since_start: WindowReport {
                event_to_applied: LatencySummary::of(&windows.apply_total),
                webhook_ack: LatencySummary::of(&windows.ack_total),
            },
        }
    }
}
