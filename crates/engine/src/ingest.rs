//! Group commit of verified events ([`crate::group_commit`]): the webhook answers 2xx only after the
//! transaction holding its event is committed.

use crate::Engine;
use crate::group_commit::{EVENT_BATCH, ItemResult, Queue};
use std::sync::Arc;
use store::{NewEvent, Recorded};
use tokio::sync::watch;

/// Stores events until shutdown.
pub(crate) async fn run_writer(
    engine: Arc<Engine>,
    rx: Queue<NewEvent, Recorded>,
    shutdown: watch::Receiver<bool>,
) {
    crate::group_commit::run_writer(rx, shutdown, EVENT_BATCH, |events: Vec<NewEvent>| {
        let engine = engine.clone();
        async move {
            match engine.store.record_events(&events).await {
                Ok(outcomes) => {
                    if outcomes.contains(&Recorded::Stored) {
                        engine.assets_ready.notify_one();
                    }
                    Ok(outcomes.into_iter().map(Ok).collect::<Vec<ItemResult<_>>>())
                }
                Err(error) => {
                    tracing::error!(%error, count = events.len(), "could not store events; deliveries refused");
                    Err(error.to_string())
                }
            }
        }
    })
    .await;
}
