//! Counters for the metrics endpoint: events by source, kind and outcome.

use connectors::sink::LabeledCounts;
use domain::events::EventKind;
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
