//! Group commit of verified events: one writer task takes every event waiting in the channel, stores them in
//! one transaction, then answers each caller. The webhook answers 2xx only after that commit.

use crate::{Engine, EngineError};
use std::sync::Arc;
use store::{NewEvent, Recorded};
use tokio::sync::{mpsc, oneshot, watch};

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Recorded, String>>;

/// The sending side, held by the engine.
pub(crate) struct IngestHandle {
    tx: mpsc::Sender<(NewEvent, Reply)>,
}

pub(crate) fn channel() -> (IngestHandle, mpsc::Receiver<(NewEvent, Reply)>) {
    let (tx, rx) = mpsc::channel(4096);
    (IngestHandle { tx }, rx)
}

impl IngestHandle {
    pub(crate) async fn submit(&self, event: NewEvent) -> Result<Recorded, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        match answer.await {
            Ok(Ok(recorded)) => Ok(recorded),
            Ok(Err(message)) => Err(EngineError::Store(store::StoreError::Corrupt(message))),
            Err(_) => Err(EngineError::ShuttingDown),
        }
    }
}

/// The writer loop: runs until shutdown, then stores what is already queued and stops.
pub(crate) async fn run_writer(
    engine: Arc<Engine>,
    mut rx: mpsc::Receiver<(NewEvent, Reply)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let stopping = tokio::select! {
            received = rx.recv_many(&mut batch, MAX_BATCH) => received == 0,
            _ = shutdown.wait_for(|stopped| *stopped) => true,
        };
        if stopping {
            rx.close();
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                write_batch(&engine, &mut batch).await;
            }
            return;
        }
        write_batch(&engine, &mut batch).await;
    }
}

async fn write_batch(engine: &Engine, batch: &mut Vec<(NewEvent, Reply)>) {
    let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.drain(..).unzip();
    match engine.store.record_events(&events).await {
        Ok(outcomes) => {
            if outcomes.contains(&Recorded::Stored) {
                engine.assets_ready.notify_one();
            }
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::error!(%error, count = events.len(), "could not store events; deliveries refused");
            for reply in replies {
                let _ = reply.send(Err(error.to_string()));
            }
        }
    }
}
