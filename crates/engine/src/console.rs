//! What the admin console's Sync Status, SLA and dead-letter pages ask of the engine: the asset listing and an
//! asset's history, a retry of one asset, the sync health report (also behind `GET /api/v1/health/sync`),
//! and the SLA over time. Each is one engine call, so the pages and the JSON API always agree.

use crate::cluster::{InFlightCounts, MemberHealth, PartState};
use crate::sla::{SlaPoint, SlaReport};
use crate::{Engine, EngineError};
use connectors::sink::SinkState;
use domain::events::EventKind;
use domain::{AssetId, DesiredLink};
use store::{AssetStatus, Backlog, NewEvent, Recorded};

pub use store::{
    AssetCursor, AssetEvent, AssetListQuery, AssetPage, AssetRow, AssetSort, PageDirection,
    SyncStatus,
};

/// The type of the hint an operator's retry records (it shows in the asset's history).
pub const RETRY_EVENT_TYPE: &str = "assetsync.admin.retry";

/// How many events an asset's history shows.
const HISTORY_EVENTS: i64 = 50;

/// One asset's page: its status, what it asks for, and the events received for it.
#[derive(Debug, Clone)]
pub struct AssetHistory {
    /// `None` when assetsync has never seen it.
    pub status: Option<AssetStatus>,
    /// Its stored claims (the links it asks for), by SKU.
    pub claims: Vec<DesiredLink>,
    /// The newest events received for it (kept for the retention), newest first.
    pub events: Vec<AssetEvent>,
}

/// A part of the service (the commerce sink, the DAM) in the health report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHealth {
    /// The sink's kind; `None` for the DAM.
    pub kind: Option<&'static str>,
    pub state: PartState,
    /// The process that reported the pause, when another one did.
    pub process: Option<String>,
}

/// The sync health report: queues, pauses with their reasons, the processes sharing the database.
#[derive(Debug, Clone)]
pub struct SyncHealthReport {
    pub now_ms: i64,
    pub sync_enabled: bool,
    pub sink: PartHealth,
    pub dam: PartHealth,
    pub processes: usize,
    pub in_flight: InFlightCounts,
    pub members: Vec<MemberHealth>,
    pub backlog: Backlog,
    pub database_bytes: i64,
}

impl SyncHealthReport {
    /// How long ago `since` was (ms, never negative).
    pub fn age_ms(&self, since: Option<i64>) -> Option<i64> {
        since.map(|t| (self.now_ms - t).max(0))
    }

    /// Whether anything is paused (or sync is off).
    pub fn degraded(&self) -> bool {
        !self.sync_enabled || self.sink.state.paused() || self.dam.state.paused()
    }
}

/// The span of the SLA over time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SlaSpan {
    /// 60 buckets of one minute.
    #[default]
    LastHour,
    /// 24 buckets of one hour.
    LastDay,
}

impl SlaSpan {
    /// (minutes per bucket, buckets).
    fn buckets(self) -> (i64, usize) {
        match self {
            Self::LastHour => (1, 60),
            Self::LastDay => (60, 24),
        }
    }
}

/// The SLA page's figures: the cluster's windows and this process's buckets over time.
#[derive(Debug, Clone)]
pub struct SlaOverTime {
    pub report: SlaReport,
    /// Oldest first; this process's samples (the per-minute histograms are not shared between processes).
    pub points: Vec<SlaPoint>,
}

impl Engine {
    /// One page of the Sync Status listing.
    pub async fn list_assets(&self, query: &AssetListQuery) -> Result<AssetPage, EngineError> {
        Ok(self.store.list_assets(query).await?)
    }

    /// One asset's status, claims and the events received for it.
    pub async fn asset_history(&self, asset_id: &AssetId) -> Result<AssetHistory, EngineError> {
        Ok(AssetHistory {
            status: self.store.asset_status(asset_id).await?,
            claims: self.store.asset_claims(asset_id).await?,
            events: self.store.asset_history(asset_id, HISTORY_EVENTS).await?,
        })
    }

    /// Reads an asset from the DAM again now (an operator's retry): recorded as a hint of type
    /// [`RETRY_EVENT_TYPE`], as a delivered event would be, so it coalesces with other hints, restarts its
    /// attempts' backoff and shows in its history. Returns whether it was recorded (not a duplicate).
    pub async fn retry_asset(&self, asset_id: &AssetId) -> Result<bool, EngineError> {
        let now = self.now_ms();
        let event = NewEvent {
            event_id: format!(
                "retry-{}-{now}-{:08x}",
                asset_id.as_str(),
                fastrand::u32(..)
            ),
            event_type: RETRY_EVENT_TYPE.to_owned(),
            kind: EventKind::AssetChanged,
            asset_id: Some(asset_id.clone()),
            received_ms: now,
            occurred_ms: None,
        };
        Ok(self.ingest(event).await? == Recorded::Stored)
    }

    /// The sync health report: queues and counts from the store, pauses of this process or, when it works
    /// here, of another process sharing the database.
    pub async fn sync_health(&self) -> Result<SyncHealthReport, EngineError> {
        let backlog = self.backlog().await?;
        let cluster = self.cluster_health().await?;
        let database_bytes = self.database_bytes().await?;
        let sink_reason = match self.sink_state() {
            SinkState::Ready => None,
            SinkState::Paused(reason) => Some(reason),
        };
        let mut sink = PartHealth {
            kind: Some(self.sink_kind()),
            state: PartState {
                state: if sink_reason.is_some() {
                    "paused"
                } else {
                    "ready"
                }
                .to_owned(),
                reason: sink_reason,
            },
            process: None,
        };
        let dam_reason = self.dam_paused();
        let mut dam = PartHealth {
            kind: None,
            state: PartState {
                state: if dam_reason.is_some() {
                    "paused"
                } else {
                    "ready"
                }
                .to_owned(),
                reason: dam_reason,
            },
            process: None,
        };
        // A part paused in another process is paused for the cluster: shown when it works here.
        for member in cluster.members.iter().filter(|m| !m.this_process) {
            if member.sink.paused() && !sink.state.paused() {
                sink.state = member.sink.clone();
                sink.process = Some(member.process.clone());
            }
            if member.dam.paused() && !dam.state.paused() {
                dam.state = member.dam.clone();
                dam.process = Some(member.process.clone());
            }
        }
        Ok(SyncHealthReport {
            now_ms: self.now_ms(),
            sync_enabled: self.config().sync_enabled,
            sink,
            dam,
            processes: cluster.processes,
            in_flight: cluster.in_flight,
            members: cluster.members,
            backlog,
            database_bytes,
        })
    }

    /// The SLA page's figures: the cluster's windows, and `span` over time in buckets.
    pub async fn sla_over_time(&self, span: SlaSpan) -> Result<SlaOverTime, EngineError> {
        let (minutes, buckets) = span.buckets();
        Ok(SlaOverTime {
            report: self.cluster_sla().await?,
            points: self.sla().series(self.now_ms(), minutes, buckets),
        })
    }
}
