//! Counters for the metrics endpoint: events by source, kind and outcome.

use domain::events::EventKind;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use store::Recorded;

/// The outcome label of an accepted event: `duplicate`, `ignored` (a type assetsync does not act on) or
/// `stored`.
pub fn recorded_outcome(recorded: Recorded, kind: EventKind) -> &'static str {
    match (recorded, kind) {
        (Recorded::Duplicate, _) => "duplicate",
        (Recorded::Stored, EventKind::Unused) => "ignored",
        (Recorded::Stored, _) => "stored",
    }
}

/// Events counted by `(source, kind, outcome)`: the labels are bounded sets (sources and kinds are enums,
/// outcomes are `stored`, `duplicate`, `ignored` or a refusal's stable error code).
#[derive(Default)]
pub struct EventCounters {
    counts: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
}

impl EventCounters {
    /// Counts one event.
    pub fn count(&self, source: &'static str, kind: &'static str, outcome: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((source, kind, outcome))
            .or_default() += 1;
    }

    /// Every counter now, sorted by labels.
    pub fn snapshot(&self) -> Vec<((&'static str, &'static str, &'static str), u64)> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(labels, count)| (*labels, *count))
            .collect()
    }
}
