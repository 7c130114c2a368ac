//! Counters for the metrics endpoint and `/healthz`: events by source, kind and outcome, and work in flight.

use connectors::sink::LabeledCounts;
use domain::events::EventKind;
use std::sync::atomic::{AtomicU64, Ordering};
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
pub type EventCounters = LabeledCounts<(&'static str, &'static str, &'static str)>;

/// Work items this process's workers are processing now, kept in memory so that `/healthz` answers without
/// asking the store.
#[derive(Debug, Default)]
pub struct InFlight {
    assets: AtomicU64,
    skus: AtomicU64,
}

impl InFlight {
    /// Assets being read from the DAM (and their outcome stored) now.
    pub fn assets(&self) -> u64 {
        self.assets.load(Ordering::Relaxed)
    }

    /// Product galleries being written now.
    pub fn skus(&self) -> u64 {
        self.skus.load(Ordering::Relaxed)
    }

    /// Counts one asset in flight until the guard drops.
    pub(crate) fn asset(&self) -> InFlightGuard<'_> {
        InFlightGuard::new(&self.assets)
    }

    /// Counts one SKU in flight until the guard drops.
    pub(crate) fn sku(&self) -> InFlightGuard<'_> {
        InFlightGuard::new(&self.skus)
    }
}

/// One item counted in [`InFlight`] while it lives.
pub(crate) struct InFlightGuard<'a>(&'a AtomicU64);

impl<'a> InFlightGuard<'a> {
    fn new(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The latest full sync of this process as the metrics endpoint shows it (zeros when none began).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FullSyncProgress {
    /// It runs, or waits to resume.
    pub running: bool,
    /// Items done in its current phase.
    pub done: i64,
    /// Items in its current phase (0 while unknown).
    pub total: i64,
}

impl crate::Engine {
    /// [`FullSyncProgress`] of the full sync that began last in this process.
    pub async fn full_sync_progress(&self) -> Result<FullSyncProgress, crate::EngineError> {
        Ok(self
            .latest_full_sync()
            .await?
            .map_or_else(FullSyncProgress::default, |sync| FullSyncProgress {
                running: matches!(
                    sync.state,
                    store::FullSyncState::Running | store::FullSyncState::Waiting
                ),
                done: sync.done,
                total: sync.total,
            }))
    }
}
