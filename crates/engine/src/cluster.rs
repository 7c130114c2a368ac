//! Every process current, when several share one database (PostgreSQL): a gallery another process writes
//! reaches this process's read cache, and a configuration another process saves is put in force here, within
//! a second; each process reports its latency histograms and work in flight, so that `/api/v1/sla` and
//! `/api/v1/health/sync` cover the whole cluster.
//!
//! One task ([`run`]) does it all: every second it publishes this process's report
//! ([`store::Cluster::publish_process_report`]) and reads the others'; every 250 ms, while another process
//! has reported within [`SEEN_WITHIN_MS`], it polls the gallery change feed into the cache and the
//! configuration's version. Alone (SQLite is always alone: one process per file) it polls nothing and the
//! feed's cursor stays where it is, so when another process appears every change since is read then (the
//! feed's cursor only moves over changes this process has applied).

use crate::Engine;
use crate::sla::{SlaHistograms, SlaReport};
use connectors::sink::SinkState;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use store::{FeedCursor, ProcessReport, Store, StoreResult};
use tokio::sync::watch;

/// How often the gallery feed and the configuration's version are polled (while other processes run).
const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// Polls between two reports (one report a second).
const POLLS_PER_REPORT: u32 = 4;
/// A process that reported within this long counts in the cluster's reports.
pub const SEEN_WITHIN_MS: i64 = 10_000;
/// The report of a process silent for this long is forgotten (it is gone).
const FORGET_AFTER_MS: i64 = 3_600_000;

/// This process's place in the cluster.
pub(crate) struct ClusterState {
    /// Random, chosen at start.
    process_id: String,
    /// Where the next poll of the gallery feed continues.
    cursor: Mutex<FeedCursor>,
    /// The configuration version in force here.
    config_version: AtomicI64,
    /// Whether another process reported lately (else nothing is polled).
    peers: AtomicBool,
}

impl ClusterState {
    /// Takes the feed's position and the configuration's version before the caller loads the configuration
    /// and the galleries: whatever changes after is polled, and may be applied twice, never missed.
    pub(crate) async fn begin(store: &Arc<dyn Store>) -> StoreResult<Self> {
        Ok(Self {
            process_id: format!("{:08x}-{:016x}", std::process::id(), fastrand::u64(..)),
            cursor: Mutex::new(store.gallery_feed_position().await?),
            config_version: AtomicI64::new(store.config_version().await?),
            peers: AtomicBool::new(false),
        })
    }
}

/// A part's state as a health report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartState {
    /// `ready` or `paused`.
    pub state: String,
    /// Why it is paused.
    pub reason: Option<String>,
}

impl PartState {
    fn of(reason: Option<String>) -> Self {
        Self {
            state: if reason.is_some() { "paused" } else { "ready" }.to_owned(),
            reason,
        }
    }

    /// Whether the part is paused.
    pub fn paused(&self) -> bool {
        self.reason.is_some()
    }
}

/// Work items being processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InFlightCounts {
    pub assets: u64,
    pub skus: u64,
}

/// What a process reports of itself to the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    sla: SlaHistograms,
    in_flight: InFlightCounts,
    sink: PartState,
    dam: PartState,
}

/// One process of the cluster, as the health report shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberHealth {
    pub process: String,
    /// The process answering.
    pub this_process: bool,
    /// How old its report is (0 for the process answering).
    pub age_ms: i64,
    pub in_flight: InFlightCounts,
    pub sink: PartState,
    pub dam: PartState,
}

/// Every process that reported lately, the one answering first.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterHealth {
    pub processes: usize,
    /// The sum over the processes.
    pub in_flight: InFlightCounts,
    pub members: Vec<MemberHealth>,
}

/// Publishes this process's report every second and, while other processes run, follows their gallery and
/// configuration changes every 250 ms, until shutdown.
pub(crate) async fn run(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let mut tick: u32 = 0;
    loop {
        if tick.is_multiple_of(POLLS_PER_REPORT)
            && let Err(error) = engine.publish_report().await
        {
            tracing::warn!(%error, "could not publish this process's report; will retry");
        }
        tick = tick.wrapping_add(1);
        if engine.cluster.peers.load(Ordering::Relaxed) {
            if let Err(error) = engine.follow_galleries().await {
                tracing::warn!(%error, "could not poll the gallery change feed; will retry");
            }
            if let Err(error) = engine.follow_config().await {
                tracing::warn!(%error, "could not poll the configuration; will retry");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

impl Engine {
    /// This process's id in the cluster's reports.
    pub fn process_id(&self) -> &str {
        &self.cluster.process_id
    }

    fn snapshot(&self, now_ms: i64) -> Snapshot {
        let sink = match self.sink_state() {
            SinkState::Ready => None,
            SinkState::Paused(reason) => Some(reason),
        };
        Snapshot {
            sla: self.sla().histograms(now_ms),
            in_flight: InFlightCounts {
                assets: self.in_flight.assets(),
                skus: self.in_flight.skus(),
            },
            sink: PartState::of(sink),
            dam: PartState::of(self.dam_paused()),
        }
    }

    /// Publishes this process's report and notes whether other processes run.
    async fn publish_report(&self) -> Result<(), crate::EngineError> {
        let now = self.now_ms();
        let report = serde_json::to_value(self.snapshot(now))
            .map_err(|e| crate::EngineError::Remote(format!("process report: {e}")))?;
        self.store
            .publish_process_report(
                &ProcessReport {
                    process_id: self.cluster.process_id.clone(),
                    updated_ms: now,
                    report,
                },
                now.saturating_sub(FORGET_AFTER_MS),
            )
            .await?;
        let peers = !self.peer_snapshots(now).await?.is_empty();
        if peers != self.cluster.peers.swap(peers, Ordering::Relaxed) {
            tracing::info!(
                peers,
                "other processes share the database: following their changes"
            );
        }
        Ok(())
    }

    /// The other processes that reported within [`SEEN_WITHIN_MS`]: id, report time, report.
    async fn peer_snapshots(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(String, i64, Snapshot)>, crate::EngineError> {
        let reports = self
            .store
            .process_reports(now_ms.saturating_sub(SEEN_WITHIN_MS))
            .await?;
        Ok(reports
            .into_iter()
            .filter(|r| r.process_id != self.cluster.process_id)
            .filter_map(
                |r| match serde_json::from_value::<Snapshot>(r.report) {
                    Ok(snapshot) => Some((r.process_id, r.updated_ms, snapshot)),
                    Err(error) => {
                        tracing::warn!(process = %r.process_id, %error, "unreadable process report (another release?)");
                        None
                    }
                },
            )
            .collect())
    }

    /// Puts every gallery change since the last poll into the read cache (this process's own changes come
    /// back too: putting a gallery again changes nothing).
    async fn follow_galleries(&self) -> Result<(), crate::EngineError> {
        let cursor = *self
            .cluster
            .cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let changes = self.store.galleries_changed_since(&cursor).await?;
        for (sku, state) in &changes.changes {
            match state {
                Some(entries) => self.cache.put(sku, entries),
                None => self.cache.remove(sku),
            }
        }
        *self
            .cluster
            .cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = changes.next;
        Ok(())
    }

    /// Puts in force a configuration another process saved (a new version), as a change saved here would be.
    async fn follow_config(&self) -> Result<(), crate::EngineError> {
        let _serial = self.config_changes.lock().await;
        self.follow_config_locked().await
    }

    /// [`Self::follow_config`], under the configuration lock the caller holds.
    pub(crate) async fn follow_config_locked(&self) -> Result<(), crate::EngineError> {
        let version = self.store.config_version().await?;
        if version == self.cluster.config_version.load(Ordering::Relaxed) {
            return Ok(());
        }
        if let Some(stored) = self.store.integration_config().await? {
            let current = self.config();
            if stored != *current {
                tracing::info!("the configuration changed in another process: applying it");
                if stored.matching_differs(&current) {
                    // The process that saved it queued the full sync with it.
                    self.full_sync_requested.notify_one();
                }
                self.config_applied(&current, Arc::new(stored)).await?;
            }
        }
        self.cluster
            .config_version
            .store(version, Ordering::Relaxed);
        Ok(())
    }

    /// The SLA report of every process that reported lately (this one's samples as they are now).
    pub async fn cluster_sla(&self) -> Result<SlaReport, crate::EngineError> {
        let now = self.now_ms();
        let mut merged = self.sla().histograms(now);
        let peers = self.peer_snapshots(now).await?;
        for (_, _, snapshot) in &peers {
            merged.merge(&snapshot.sla);
        }
        Ok(merged.report(1 + peers.len()))
    }

    /// The work in flight and the paused parts of every process that reported lately, this one first (as it
    /// is now).
    pub async fn cluster_health(&self) -> Result<ClusterHealth, crate::EngineError> {
        let now = self.now_ms();
        let own = self.snapshot(now);
        let mut members = vec![MemberHealth {
            process: self.cluster.process_id.clone(),
            this_process: true,
            age_ms: 0,
            in_flight: own.in_flight,
            sink: own.sink,
            dam: own.dam,
        }];
        for (process, updated_ms, snapshot) in self.peer_snapshots(now).await? {
            members.push(MemberHealth {
                process,
                this_process: false,
                age_ms: (now - updated_ms).max(0),
                in_flight: snapshot.in_flight,
                sink: snapshot.sink,
                dam: snapshot.dam,
            });
        }
        let in_flight = members
            .iter()
            .fold(InFlightCounts::default(), |sum, m| InFlightCounts {
                assets: sum.assets + m.in_flight.assets,
                skus: sum.skus + m.in_flight.skus,
            });
        Ok(ClusterHealth {
            processes: members.len(),
            in_flight,
            members,
        })
    }
}
