//! `GET /metrics`: Prometheus text exposition (format 0.0.4), served on its own listener (loopback by
//! default) so that it never shares a port with the webhook or the public read API.

use crate::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::latency::LatencyHistogram;
use std::fmt::Write as _;
use store::FullSyncState;

/// Histogram bucket bounds, in seconds: from a fast write to the reference's 5- and 30-minute SLA bounds.
const BUCKETS_S: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// The metrics router (one route).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    match render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not gather metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response()
        }
    }
}

/// A metric's header lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &LatencyHistogram) {
    family(out, name, "histogram", help);
    for bound in BUCKETS_S {
        let within = h.count_within((bound * 1000.0) as u64);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {within}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count());
    let _ = writeln!(out, "{name}_sum {}", h.sum() as f64 / 1000.0);
    let _ = writeln!(out, "{name}_count {}", h.count());
}

async fn render(state: &AppState) -> Result<String, engine::EngineError> {
    let engine = &state.engine;
    let mut out = String::with_capacity(4096);

    family(
        &mut out,
        "assetsync_events_total",
        "counter",
        "Events received, by source (webhook, commerce, journal), kind and outcome.",
    );
    for ((source, kind, outcome), count) in engine.event_counters().snapshot() {
        let _ = writeln!(
            out,
            "assetsync_events_total{{source=\"{source}\",kind=\"{kind}\",outcome=\"{outcome}\"}} {count}"
        );
    }

    let backlog = engine.backlog().await?;
    let now = engine.now_ms();
    let age_s = |since: Option<i64>| since.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
    family(
        &mut out,
        "assetsync_queue_depth",
        "gauge",
        "Work items queued: assets to re-read, SKUs to write (bulk = queued by a full sync).",
    );
    for (queue, depth) in [
        ("asset", backlog.asset_work),
        ("sku", backlog.sku_work),
        ("bulk_sku", backlog.bulk_sku_work),
        ("dead_letter", backlog.dead_letters),
    ] {
        let _ = writeln!(out, "assetsync_queue_depth{{queue=\"{queue}\"}} {depth}");
    }
    family(
        &mut out,
        "assetsync_queue_oldest_pending_seconds",
        "gauge",
        "Age of the oldest pending item (0 when none).",
    );
    for (queue, since) in [
        ("sku", backlog.oldest_sku_work_ms),
        ("asset", backlog.oldest_waiting_ms),
    ] {
        let _ = writeln!(
            out,
            "assetsync_queue_oldest_pending_seconds{{queue=\"{queue}\"}} {}",
            age_s(since)
        );
    }
    family(
        &mut out,
        "assetsync_assets_failed",
        "gauge",
        "Assets whose last processing failed.",
    );
    let _ = writeln!(out, "assetsync_assets_failed {}", backlog.failed_assets);

    family(
        &mut out,
        "assetsync_commerce_calls_total",
        "counter",
        "Calls to the commerce platform, by operation and HTTP status (0: no reply).",
    );
    for ((operation, status), count) in engine.sink_calls() {
        let _ = writeln!(
            out,
            "assetsync_commerce_calls_total{{operation=\"{operation}\",status=\"{status}\"}} {count}"
        );
    }
    family(
        &mut out,
        "assetsync_sink_paused",
        "gauge",
        "1 while the commerce sink is paused (credentials refused), else 0.",
    );
    let paused = matches!(engine.sink_state(), connectors::sink::SinkState::Paused(_));
    let _ = writeln!(out, "assetsync_sink_paused {}", u8::from(paused));

    let (applied, ack) = engine.sla().since_start_histograms();
    histogram(
        &mut out,
        "assetsync_event_to_applied_seconds",
        "Time from a DAM event to the commerce write that applied it.",
        &applied,
    );
    histogram(
        &mut out,
        "assetsync_webhook_ack_seconds",
        "Time to acknowledge a webhook delivery (stored durably first).",
        &ack,
    );

    let latest = engine.latest_full_sync().await?;
    for (name, help, value) in [
        (
            "assetsync_full_sync_running",
            "1 while a full sync runs or waits, else 0.",
            latest.as_ref().map_or(0, |s| {
                i64::from(matches!(
                    s.state,
                    FullSyncState::Running | FullSyncState::Waiting
                ))
            }),
        ),
        (
            "assetsync_full_sync_done",
            "Items done in the current phase of the latest full sync.",
            latest.as_ref().map_or(0, |s| s.done),
        ),
        (
            "assetsync_full_sync_total",
            "Items in the current phase of the latest full sync (0 while unknown).",
            latest.as_ref().map_or(0, |s| s.total),
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }

    family(
        &mut out,
        "assetsync_database_bytes",
        "gauge",
        "Size of the database.",
    );
    let _ = writeln!(
        out,
        "assetsync_database_bytes {}",
        engine.database_bytes().await?
    );
    Ok(out)
}
