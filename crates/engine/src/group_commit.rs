//! Group commit: callers submit items to one writer task, which takes every item waiting in its channel,
//! writes them in one store transaction, then answers each caller. Under load, many small transactions
//! through SQLite's single writer become few large ones; when idle, an item is written at once.

use crate::EngineError;
use std::future::Future;
use tokio::sync::{mpsc, oneshot, watch};

/// Largest batch of events written in one transaction.
pub(crate) const EVENT_BATCH: usize = 512;
/// Largest batch of work outcomes written in one transaction. A batch takes only what is waiting, so it is
/// small unless the writer is behind; then a larger one writes each page it shares with others once (the
/// queue's, the status indexes' and the tables' newest pages), and is about the size of a full sync's page
/// of 200 assets, which a commit that precedes an acknowledgement may wait for already.
pub(crate) const OUTCOME_BATCH: usize = 256;
/// Outcomes per transaction on a database shared by several processes (PostgreSQL).
pub(crate) const SHARED_OUTCOME_BATCH: usize = 16;

/// The outcome of one item: `Err` carries the store's message.
pub(crate) type ItemResult<O> = Result<O, String>;

type Reply<O> = oneshot::Sender<ItemResult<O>>;

/// The sending side, held by the engine.
pub(crate) struct Submitter<I, O> {
    tx: mpsc::Sender<(I, Reply<O>)>,
}

/// The receiving side, given to [`run_writer`].
pub(crate) type Queue<I, O> = mpsc::Receiver<(I, Reply<O>)>;

pub(crate) fn channel<I, O>() -> (Submitter<I, O>, Queue<I, O>) {
    let (tx, rx) = mpsc::channel(4096);
    (Submitter { tx }, rx)
}

impl<I, O> Submitter<I, O> {
    /// Submits one item and waits until its batch is written.
    pub(crate) async fn submit(&self, item: I) -> Result<ItemResult<O>, EngineError> {
        self.send(item).await?.wait().await
    }

    /// Hands one item to the writer (waiting while its queue is full) and returns how to wait for the
    /// commit of its batch: a worker frees its slot once its outcome is queued.
    pub(crate) async fn send(&self, item: I) -> Result<Pending<O>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((item, reply))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        Ok(Pending(answer))
    }
}

/// An item handed to the writer, waiting for its batch's commit.
pub(crate) struct Pending<O>(oneshot::Receiver<ItemResult<O>>);

impl<O> Pending<O> {
    pub(crate) async fn wait(self) -> Result<ItemResult<O>, EngineError> {
        self.0.await.map_err(|_| EngineError::ShuttingDown)
    }
}

/// The writer loop: runs until shutdown, then writes what is already queued and stops. `write` stores one
/// batch of at most `max_batch` items and returns one result per item, in order (or one error for the whole
/// batch).
pub(crate) async fn run_writer<I, O, W, F>(
    mut rx: Queue<I, O>,
    mut shutdown: watch::Receiver<bool>,
    max_batch: usize,
    write: W,
) where
    W: Fn(Vec<I>) -> F,
    F: Future<Output = Result<Vec<ItemResult<O>>, String>>,
{
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let stopping = tokio::select! {
            received = rx.recv_many(&mut batch, max_batch) => received == 0,
            _ = shutdown.wait_for(|stopped| *stopped) => true,
        };
        if stopping {
            rx.close();
            while rx.recv_many(&mut batch, max_batch).await > 0 {
                write_batch(&mut batch, &write).await;
            }
            return;
        }
        write_batch(&mut batch, &write).await;
    }
}

async fn write_batch<I, O, W, F>(batch: &mut Vec<(I, Reply<O>)>, write: &W)
where
    W: Fn(Vec<I>) -> F,
    F: Future<Output = Result<Vec<ItemResult<O>>, String>>,
{
    let (items, replies): (Vec<I>, Vec<Reply<O>>) = batch.drain(..).unzip();
    match write(items).await {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
