//! Health: the public `GET /healthz` (states only, from memory), the admin sync report
//! `GET /api/v1/health/sync` (queues, pauses with their reasons, the cluster) and `GET /api/v1/sla`.

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use connectors::sink::SinkState;
use engine::cluster::{InFlightCounts, MemberHealth};
use engine::sla::SlaReport;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(sync_health))
        .routes(routes!(sla))
}

/// A part's state: `ready`, or `paused`.
#[derive(Serialize, ToSchema)]
pub(crate) struct StateOnly {
    /// `ready` or `paused`.
    state: &'static str,
}

/// Events received by this process since it started, by outcome.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventTotals {
    stored: u64,
    duplicates: u64,
    ignored: u64,
    refused: u64,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `degraded` while the sink or DAM reads are paused.
    status: &'static str,
    sink: StateOnly,
    dam: StateOnly,
    events_since_start: EventTotals,
    /// Work items this process is working on now.
    in_flight: InFlightCounts,
}

/// The sink's or the DAM's state, with why it is paused.
#[derive(Serialize, ToSchema)]
pub(crate) struct PartReport {
    /// The sink's kind (`builtin`, `adobe-commerce`); the sink only.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// `ready` or `paused`.
    state: String,
    /// Why it is paused.
    reason: Option<String>,
    /// The process it is paused in, when another process of the cluster paused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<String>,
}

/// Queue depths.
#[derive(Serialize, ToSchema)]
pub(crate) struct Queues {
    asset_work: i64,
    sku_work: i64,
    /// SKU work queued by a full sync (yields to live work).
    bulk_sku_work: i64,
    oldest_sku_work_age_ms: Option<i64>,
}

/// Assets waiting for products, and failed ones.
#[derive(Serialize, ToSchema)]
pub(crate) struct AssetCounts {
    waiting: i64,
    failed: i64,
    oldest_waiting_age_ms: Option<i64>,
}

/// Events stored (all time).
#[derive(Serialize, ToSchema)]
pub(crate) struct StoredEvents {
    stored: i64,
    /// Of a type assetsync does not act on.
    unused_types: i64,
}

/// `GET /api/v1/health/sync`.
#[derive(Serialize, ToSchema)]
pub(crate) struct SyncHealth {
    sync_enabled: bool,
    sink: PartReport,
    dam: PartReport,
    /// Processes sharing the database that reported lately.
    processes: usize,
    /// Work in flight, summed over the processes.
    in_flight: InFlightCounts,
    /// One entry per process, this one first.
    cluster: Vec<MemberHealth>,
    queues: Queues,
    assets: AssetCounts,
    dead_letters: i64,
    events: StoredEvents,
    database_bytes: i64,
}

/// The sink's and the DAM's states in this process.
struct Pauses {
    sink: PartReport,
    dam: PartReport,
}

impl Pauses {
    fn now(state: &AppState) -> Self {
        let sink_reason = match state.engine.sink_state() {
            SinkState::Ready => None,
            SinkState::Paused(reason) => Some(reason),
        };
        let part = |kind, reason: Option<String>| PartReport {
            kind,
            state: if reason.is_some() { "paused" } else { "ready" }.to_owned(),
            reason,
            process: None,
        };
        Self {
            sink: part(Some(state.engine.sink_kind()), sink_reason),
            dam: part(None, state.engine.dam_paused()),
        }
    }

    fn any(&self) -> bool {
        self.sink.reason.is_some() || self.dam.reason.is_some()
    }
}

/// `GET /healthz` (public): 200 once events are accepted.
///
/// `degraded` while the sink or DAM reads are paused (credentials refused; events are still accepted and
/// kept). Answered from memory, never from the database: a load balancer polls it, and it must answer at once
/// while the store is busy. States only: queue depths and why a part is paused are in the admin report
/// (`GET /api/v1/health/sync`).
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Accepting events", body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let pauses = Pauses::now(&state);
    let mut totals = EventTotals {
        stored: 0,
        duplicates: 0,
        ignored: 0,
        refused: 0,
    };
    for ((_, _, outcome), count) in state.engine.event_counters().snapshot() {
        match outcome {
            "stored" => totals.stored += count,
            "duplicate" => totals.duplicates += count,
            "ignored" | "other_environment" => totals.ignored += count,
            _ => totals.refused += count,
        }
    }
    let in_flight = state.engine.in_flight();
    let state_of = |part: &PartReport| {
        if part.reason.is_some() {
            "paused"
        } else {
            "ready"
        }
    };
    Json(Health {
        status: if pauses.any() { "degraded" } else { "ok" },
        sink: StateOnly {
            state: state_of(&pauses.sink),
        },
        dam: StateOnly {
            state: state_of(&pauses.dam),
        },
        events_since_start: totals,
        in_flight: InFlightCounts {
            assets: in_flight.assets(),
            skus: in_flight.skus(),
        },
    })
}

/// `GET /api/v1/health/sync`: queue depths, pauses, dead letters and the cluster.
///
/// Queue depths, oldest pending ages, dead letters, events stored (all time), a paused sink or DAM with why
/// (paused in any process of the cluster), and the processes sharing the database with their work in flight
/// (`processes`, `in_flight` summed, `cluster` one entry each, this one first).
#[utoipa::path(get, path = "/api/v1/health/sync", tag = "health", security(("admin_token" = [])),
    responses(
        (status = 200, description = "The report", body = SyncHealth),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn sync_health(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<SyncHealth>, ApiError> {
    let report = state.engine.sync_health().await?;
    let part = |part: &engine::console::PartHealth| PartReport {
        kind: part.kind,
        state: part.state.state.clone(),
        reason: part.state.reason.clone(),
        process: part.process.clone(),
    };
    let backlog = &report.backlog;
    Ok(Json(SyncHealth {
        sync_enabled: report.sync_enabled,
        sink: part(&report.sink),
        dam: part(&report.dam),
        processes: report.processes,
        in_flight: report.in_flight,
        cluster: report.members.clone(),
        queues: Queues {
            asset_work: backlog.asset_work,
            sku_work: backlog.sku_work,
            bulk_sku_work: backlog.bulk_sku_work,
            oldest_sku_work_age_ms: report.age_ms(backlog.oldest_sku_work_ms),
        },
        assets: AssetCounts {
            waiting: backlog.waiting_assets,
            failed: backlog.failed_assets,
            oldest_waiting_age_ms: report.age_ms(backlog.oldest_waiting_ms),
        },
        dead_letters: backlog.dead_letters,
        events: StoredEvents {
            stored: backlog.events,
            unused_types: backlog.unused_events,
        },
        database_bytes: report.database_bytes,
    }))
}

/// `GET /api/v1/sla`: event → applied and webhook acknowledgement latencies.
///
/// For the last hour, the last day and since start, with the shares within the reference's 5- and 30-minute
/// SLA, over every process that reported within the last 10 s (`processes`: how many).
#[utoipa::path(get, path = "/api/v1/sla", tag = "health", security(("admin_token" = [])),
    responses(
        (status = 200, description = "The latencies", body = SlaReport),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn sla(State(state): State<AppState>, _: Admin) -> Result<Json<SlaReport>, ApiError> {
    Ok(Json(state.engine.cluster_sla().await?))
}
