//! `GET /metrics`: the Prometheus text exposition (format 0.0.4), encoded by `prometheus-client` and served
//! on its own listener (loopback by default) so that it never shares a port with the webhook or the public
//! read API.
//!
//! Each scrape reads the engine first (queues, full sync, database size: store queries), then encodes one
//! registry: the engine's values through [`EngineCollector`], the process's (`process_*`), the build's
//! (`assetsync_build_info`) and the main listener's request counts and latencies ([`crate::http_metrics`]).

use crate::AppState;
use crate::http_metrics;
use crate::process_metrics::ProcessCollector;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::latency::LatencyHistogram;
use engine::telemetry::FullSyncProgress;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

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
    let text = match EngineCollector::read(&state).await {
        Ok(engine) => encode(engine),
        Err(error) => {
            tracing::error!(%error, "could not gather metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable\n").into_response();
        }
    };
    match text {
        Ok(text) => (
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(std::fmt::Error) => {
            tracing::error!("could not encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

/// The whole exposition of one scrape.
fn encode(engine: EngineCollector) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register(
        "assetsync_build",
        "The running build, by version (always 1)",
        Info::new([("version", env!("CARGO_PKG_VERSION"))]),
    );
    http_metrics::register(&mut registry);
    registry.register_collector(Box::new(engine));
    registry.register_collector(Box::new(ProcessCollector));
    let mut text = String::with_capacity(8192);
    prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The engine's values at one scrape: the counters it keeps in memory and what the store answered.
#[derive(Debug)]
struct EngineCollector {
    events: Vec<((&'static str, &'static str, &'static str), u64)>,
    commerce_calls: Vec<((&'static str, u16), u64)>,
    sink_paused: bool,
    /// `(queue, depth)`.
    queue_depths: [(&'static str, i64); 4],
    /// `(queue, age of the oldest pending item in seconds, 0 when none)`.
    oldest_pending: [(&'static str, f64); 2],
    failed_assets: i64,
    event_to_applied: LatencyHistogram,
    webhook_ack: LatencyHistogram,
    full_sync: FullSyncProgress,
    database_bytes: i64,
}

impl EngineCollector {
    async fn read(state: &AppState) -> Result<Self, engine::EngineError> {
        let engine = &state.engine;
        let backlog = engine.backlog().await?;
        let now = engine.now_ms();
        let age_s = |since: Option<i64>| since.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        let (event_to_applied, webhook_ack) = engine.sla().since_start_histograms();
        Ok(Self {
            events: engine.event_counters().snapshot(),
            commerce_calls: engine.sink_calls(),
            sink_paused: matches!(engine.sink_state(), connectors::sink::SinkState::Paused(_)),
            queue_depths: [
                ("asset", backlog.asset_work),
                ("sku", backlog.sku_work),
                ("bulk_sku", backlog.bulk_sku_work),
                ("dead_letter", backlog.dead_letters),
            ],
            oldest_pending: [
                ("sku", age_s(backlog.oldest_sku_work_ms)),
                ("asset", age_s(backlog.oldest_waiting_ms)),
            ],
            failed_assets: backlog.failed_assets,
            event_to_applied,
            webhook_ack,
            full_sync: engine.full_sync_progress().await?,
            database_bytes: engine.database_bytes().await?,
        })
    }
}

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "assetsync_events",
            "Events received, by source (webhook, commerce, journal), kind and outcome.",
            None,
            MetricType::Counter,
        )?;
        for ((source, kind, outcome), count) in &self.events {
            let labels = [("source", *source), ("kind", *kind), ("outcome", *outcome)];
            ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "assetsync_queue_depth",
            "Work items queued: assets to re-read, SKUs to write (bulk = queued by a full sync).",
            None,
            MetricType::Gauge,
        )?;
        for (queue, depth) in self.queue_depths {
            ConstGauge::new(depth).encode(family.encode_family(&[("queue", queue)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "assetsync_queue_oldest_pending_seconds",
            "Age of the oldest pending item (0 when none).",
            None,
            MetricType::Gauge,
        )?;
        for (queue, age) in self.oldest_pending {
            ConstGauge::new(age).encode(family.encode_family(&[("queue", queue)])?)?;
        }
        gauge(
            &mut encoder,
            "assetsync_assets_failed",
            "Assets whose last processing failed.",
            self.failed_assets,
        )?;

        let mut family = encoder.encode_descriptor(
            "assetsync_commerce_calls",
            "Calls to the commerce platform, by operation and HTTP status (0: no reply).",
            None,
            MetricType::Counter,
        )?;
        for ((operation, status), count) in &self.commerce_calls {
            let labels = ([("operation", *operation)], [("status", *status)]);
            ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
        }
        gauge(
            &mut encoder,
            "assetsync_sink_paused",
            "1 while the commerce sink is paused (credentials refused), else 0.",
            i64::from(self.sink_paused),
        )?;

        histogram(
            &mut encoder,
            "assetsync_event_to_applied_seconds",
            "Time from a DAM event to the commerce write that applied it.",
            &self.event_to_applied,
        )?;
        histogram(
            &mut encoder,
            "assetsync_webhook_ack_seconds",
            "Time to acknowledge a webhook delivery (stored durably first).",
            &self.webhook_ack,
        )?;

        gauge(
            &mut encoder,
            "assetsync_full_sync_running",
            "1 while a full sync runs or waits, else 0.",
            i64::from(self.full_sync.running),
        )?;
        gauge(
            &mut encoder,
            "assetsync_full_sync_done",
            "Items done in the current phase of the latest full sync.",
            self.full_sync.done,
        )?;
        gauge(
            &mut encoder,
            "assetsync_full_sync_phase_items",
            "Items in the current phase of the latest full sync (0 while unknown).",
            self.full_sync.total,
        )?;
        gauge(
            &mut encoder,
            "assetsync_database_bytes",
            "Size of the database.",
            self.database_bytes,
        )
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// A millisecond [`LatencyHistogram`] as a Prometheus histogram in seconds over [`BUCKETS_S`].
fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    let mut below = 0;
    let buckets = BUCKETS_S.map(|bound| {
        let within = h.count_within((bound * 1000.0) as u64);
        let in_bucket = within.saturating_sub(below);
        below = below.max(within);
        (bound, in_bucket)
    });
    encoder
        .encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum() as f64 / 1000.0, h.count(), &buckets, None)
}
