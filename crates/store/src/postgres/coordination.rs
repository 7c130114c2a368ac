//! [`Coordination`] for PostgreSQL: a duty is a session advisory lock held on a connection of its own (it is
//! released when that connection ends, so a process that dies hands its duties over at once), and wake-ups are
//! `LISTEN assetsync` on another: migration 10's triggers `NOTIFY` on commit when work becomes claimable.
//!
//! Locks and notifications are database-wide; both carry the store's schema, so stores in other schemas of
//! one database neither block nor wake each other.

use super::PostgresStore;
use crate::{Coordination, Duty, Leadership, StoreResult, WakeUp};
use async_trait::async_trait;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel migration 10's triggers notify on; the payload is `<schema>.<table>`.
const CHANNEL: &str = "assetsync";

#[async_trait]
impl Coordination for PostgresStore {
    async fn exclusive(&self) -> bool {
        false
    }

    async fn try_lead(&self, duty: Duty) -> StoreResult<Option<Leadership>> {
        let (client, connection) = self.db.config.connect(NoTls).await?;
        let (lost, lost_rx) = watch::channel(false);
        tokio::spawn(async move {
            // Ends when the server goes, or when the client (held by the leadership) is dropped.
            let _ = connection.await;
            let _ = lost.send(true);
        });
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtext('assetsync duties ' || COALESCE(current_schema(), '')), $1)",
                &[&duty.number()],
            )
            .await?;
        let led: bool = row.try_get(0)?;
        Ok(led.then(|| Leadership::new(lost_rx, client)))
    }

    async fn wake_ups(&self) -> StoreResult<Option<mpsc::Receiver<WakeUp>>> {
        let (tx, rx) = mpsc::channel(64);
        // The first connection is made here so that a database that cannot be reached is reported now.
        let first = listen(&self.db.config).await?;
        let config = self.db.config.clone();
        tokio::spawn(forward(config, first, tx));
        Ok(Some(rx))
    }
}

/// A listening connection: its schema and the notifications it receives (the channel ends with the connection).
struct Listening {
    schema: String,
    notifications: mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    _client: tokio_postgres::Client,
}

async fn listen(config: &tokio_postgres::Config) -> StoreResult<Listening> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (sender, notifications) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(notification) = message
                && sender.send(notification).is_err()
            {
                return;
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    let schema: Option<String> = client
        .query_one("SELECT current_schema()", &[])
        .await?
        .try_get(0)?;
    Ok(Listening {
        schema: schema.unwrap_or_default(),
        notifications,
        _client: client,
    })
}

/// Forwards the wake-ups for this schema until the receiver is gone; reconnects (every second) when the
/// connection ends. While it is down the workers' polling finds the work.
async fn forward(config: tokio_postgres::Config, first: Listening, wake_ups: mpsc::Sender<WakeUp>) {
    let mut listening = Some(first);
    loop {
        if let Some(mut now) = listening.take() {
            let prefix = format!("{}.", now.schema);
            while let Some(notification) = now.notifications.recv().await {
                let Some(table) = notification.payload().strip_prefix(&prefix) else {
                    continue;
                };
                if let Some(wake_up) = WakeUp::of_table(table) {
                    // Full: a wake-up of this kind is already waiting to be read; one is enough.
                    if let Err(mpsc::error::TrySendError::Closed(_)) = wake_ups.try_send(wake_up) {
                        return;
                    }
                }
            }
            tracing::warn!(
                "the PostgreSQL wake-up connection ended; reconnecting (polling meanwhile)"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = wake_ups.closed() => return,
        }
        match listen(&config).await {
            Ok(now) => listening = Some(now),
            Err(error) => tracing::warn!(%error, "could not listen for PostgreSQL wake-ups"),
        }
    }
}
