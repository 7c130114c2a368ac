//! Catching up through the I/O Events journal: from the stored position, every event is stored (deduplicated by
//! id, exactly as a webhook delivery would be) and only then is the position moved. Runs beside the webhook.

use crate::Engine;
use connectors::journal::JournalClient;
use domain::events::{EventKind, parse_io_event};
use std::sync::Arc;
use std::time::Duration;
use store::NewEvent;
use tokio::sync::watch;

/// Polls the journal until shutdown.
pub(crate) async fn run_journal(
    engine: Arc<Engine>,
    journal: JournalClient,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        let wait = match catch_up(&engine, &journal).await {
            Ok(idle) => {
                failures = 0;
                idle
            }
            Err(_) if *shutdown.borrow() => return,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "journal read failed; retrying");
                Duration::from_millis(domain::retry::retry_delay_ms(
                    failures,
                    None,
                    fastrand::f64(),
                ))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Reads pages until the journal has nothing new; returns how long to wait before the next look.
async fn catch_up(engine: &Engine, journal: &JournalClient) -> Result<Duration, String> {
    let position = engine
        .store
        .journal_position()
        .await
        .map_err(|e| e.to_string())?;
    let mut url = journal.url_from(position.as_deref());
    loop {
        let page = journal.fetch(&url).await.map_err(|e| e.to_string())?;
        if page.events.is_empty() {
            let wait = page
                .retry_after_ms
                .map_or(2_000, |ms| engine.cap_retry_after(ms));
            return Ok(Duration::from_millis(wait));
        }
        for (position, body) in &page.events {
            let Ok(event) = parse_io_event(body) else {
                tracing::warn!(%position, "journal event is malformed; skipped");
                continue;
            };
            let kind = match event.kind {
                EventKind::AssetChanged | EventKind::AssetDeleted => event.kind,
                _ => EventKind::Unused,
            };
            // The registration may carry several AEM environments' events: another's are counted and skipped.
            let config = engine.config();
            if event.is_from_other_environment(&config.program_id, &config.environment_id) {
                engine
                    .event_counters()
                    .count(("journal", kind.as_str(), "other_environment"));
                continue;
            }
            let recorded = engine
                .ingest(NewEvent {
                    event_id: event.id,
                    event_type: event.event_type,
                    kind,
                    asset_id: event.asset_id,
                    received_ms: engine.now_ms(),
                    occurred_ms: event.time_ms,
                })
                .await
                .map_err(|e| e.to_string())?;
            engine.event_counters().count((
                "journal",
                kind.as_str(),
                crate::telemetry::recorded_outcome(recorded, kind),
            ));
        }
        let last = page
            .last
            .or_else(|| page.events.last().map(|(p, _)| p.clone()));
        if let Some(last) = &last {
            engine
                .store
                .set_journal_position(last)
                .await
                .map_err(|e| e.to_string())?;
        }
        url = match (page.next, last) {
            (Some(next), _) => next,
            (None, Some(last)) => journal.url_from(Some(&last)),
            (None, None) => return Ok(Duration::from_secs(2)),
        };
    }
}
