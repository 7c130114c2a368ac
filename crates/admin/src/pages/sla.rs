//! `/admin/sla`: event → gallery latency over time as an SVG chart drawn here (p50, p99 and p99.9 per minute of
//! the last hour, or per hour of the last day: `?span=day`; readable without script), the shares within 5 and
//! 30 minutes against the reference's promise, and the webhook acknowledgement times. From
//! [`engine::Engine::sla_over_time`] (the windows are `GET /api/v1/sla`'s).

use super::shown;
use crate::AdminState;
use crate::auth::{Refusal, SignedIn};
use crate::layout::page;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use engine::console::SlaSpan;
use engine::sla::{LatencySummary, SlaPoint};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use std::fmt::Write;

/// The reference's promise: 99 % of changes in the gallery within 5 minutes.
const PROMISE_MS: u64 = 5 * 60_000;
const PROMISE_SHARE: f64 = 0.99;
/// And 99.9 % within 30 minutes.
const LONG_MS: u64 = 30 * 60_000;
const LONG_SHARE: f64 = 0.999;

pub fn routes() -> Router<AdminState> {
    Router::new().route("/sla", get(show))
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub span: Option<String>,
}

async fn show(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, Refusal> {
    let span = match params.span.as_deref() {
        Some("day") => SlaSpan::LastDay,
        _ => SlaSpan::LastHour,
    };
    let sla = state
        .engine
        .sla_over_time(span)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    let report = &sla.report;
    let windows = [
        ("Last hour", &report.last_hour),
        ("Last day", &report.last_day),
        ("Since start", &report.since_start),
    ];
    let body = html! {
        h1 { "SLA" }
        p.notice {
            "The reference promises a change in the DAM shows in the product gallery within 5 minutes for 99 % of changes. "
            "Figures cover " (report.processes) " process" @if report.processes != 1 { "es" } " (the chart: this one's samples)."
        }
        nav aria-label="Span" style="margin-bottom:.8em" {
            @for (value, name, this) in [("hour", "Last hour, per minute", span == SlaSpan::LastHour), ("day", "Last day, per hour", span == SlaSpan::LastDay)] {
                @if this { strong aria-current="page" { (name) } } @else { a href=(format!("/admin/sla?span={value}")) { (name) } }
                " "
            }
        }
        section aria-label="Event to gallery over time" {
            h2 { "Event → gallery" }
            (PreEscaped(chart(&sla.points)))
        }
        section aria-label="Against the promise" {
            h2 { "Against the promise" }
            table id="shares" {
                thead { tr { th { "Window" } th { "Changes" } th { "Within 5 min (promise: 99 %)" } th { "Within 30 min (99.9 %)" } th { "p50" } th { "p99" } th { "p99.9" } th { "Max" } } }
                tbody {
                    @for (name, window) in windows {
                        (share_row(name, &window.event_to_applied))
                    }
                }
            }
        }
        section aria-label="Acknowledgements" {
            h2 { "Webhook acknowledgement" }
            p.help { "From a delivery's arrival to its answer (the event is stored durably first)." }
            table id="acks" {
                thead { tr { th { "Window" } th { "Deliveries" } th { "p50" } th { "p99" } th { "p99.9" } th { "Max" } } }
                tbody {
                    @for (name, window) in windows {
                        @let ack = &window.webhook_ack;
                        tr { td { (name) } td { (ack.count) } td { (ms(ack.p50_ms)) } td { (ms(ack.p99_ms)) } td { (ms(ack.p999_ms)) } td { (ms(ack.max_ms)) } }
                    }
                }
            }
        }
        details {
            summary { "The figures behind the chart" }
            table {
                thead { tr { th { "From (UTC)" } th { "Changes" } th { "p50" } th { "p99" } th { "p99.9" } th { "Within 5 min" } } }
                tbody {
                    @for point in sla.points.iter().filter(|p| p.window.event_to_applied.count > 0) {
                        @let w = &point.window.event_to_applied;
                        tr { td { (shown::time(point.start_ms)) } td { (w.count) } td { (ms(w.p50_ms)) } td { (ms(w.p99_ms)) } td { (ms(w.p999_ms)) } td { (shown::percent(w.within_5_min)) } }
                    }
                }
            }
        }
    };
    Ok(page(&user, "SLA", body))
}

fn ms(value: u64) -> String {
    shown::duration(i64::try_from(value).unwrap_or(i64::MAX))
}

fn share_row(name: &str, w: &LatencySummary) -> Markup {
    let verdict = |share: f64, target: f64| {
        if w.count == 0 {
            ("muted", "no samples")
        } else if share >= target {
            ("", "met")
        } else {
            ("error", "missed")
        }
    };
    let (five_class, five) = verdict(w.within_5_min, PROMISE_SHARE);
    let (thirty_class, thirty) = verdict(w.within_30_min, LONG_SHARE);
    html! {
        tr {
            td { (name) }
            td { (w.count) }
            td class=(five_class) { (shown::percent(w.within_5_min)) " (" (five) ")" }
            td class=(thirty_class) { (shown::percent(w.within_30_min)) " (" (thirty) ")" }
            td { (ms(w.p50_ms)) } td { (ms(w.p99_ms)) } td { (ms(w.p999_ms)) } td { (ms(w.max_ms)) }
        }
    }
}

/// The y axis's ticks (ms) and their labels; the axis runs from 1 ms to the first tick at or above the
/// highest value (5 minutes at least, so the promise is always on the chart).
const TICKS: &[(u64, &str)] = &[
    (1, "1 ms"),
    (10, "10 ms"),
    (100, "100 ms"),
    (1_000, "1 s"),
    (10_000, "10 s"),
    (60_000, "1 min"),
    (PROMISE_MS, "5 min"),
    (LONG_MS, "30 min"),
    (3_600_000, "1 h"),
    (36_000_000, "10 h"),
];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 48.0;

/// A line of the chart: its name, colour and the figure it draws.
type Series = (&'static str, &'static str, fn(&LatencySummary) -> u64);

/// The chart as SVG text: one line per percentile over the buckets (broken where a bucket has no sample),
/// a log-scale y axis with labels, the times under the x axis, the promise as a dashed line, a legend.
pub fn chart(points: &[SlaPoint]) -> String {
    let series: [Series; 3] = [
        ("p50", "#1e8e3e", |w| w.p50_ms),
        ("p99", "#0a66d8", |w| w.p99_ms),
        ("p99.9", "#b00020", |w| w.p999_ms),
    ];
    let highest = points
        .iter()
        .map(|p| p.window.event_to_applied.p999_ms)
        .max()
        .unwrap_or(0)
        .max(PROMISE_MS);
    let top_tick = TICKS
        .iter()
        .map(|(v, _)| *v)
        .find(|v| *v >= highest)
        .unwrap_or(36_000_000);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |value: u64| -> f64 {
        let v = (value.max(1) as f64).log10();
        let top = (top_tick as f64).log10();
        TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0))
    };
    let n = points.len().max(1) as f64;
    let x_of = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / n;
    let samples: u64 = points.iter().map(|p| p.window.event_to_applied.count).sum();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="sla-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="sla-title sla-desc" style="max-width:{WIDTH}px;background:#fff;border:1px solid #d2d2d7;border-radius:6px;font:12px system-ui,sans-serif">"#
    );
    let _ = write!(
        svg,
        r#"<title id="sla-title">Event to gallery latency: p50, p99 and p99.9 over time</title><desc id="sla-desc">{samples} changes in {} buckets; log scale from 1 ms to {}; the dashed line is the 5-minute promise.</desc>"#,
        points.len(),
        TICKS
            .iter()
            .find(|(v, _)| *v == top_tick)
            .map_or("", |(_, l)| l)
    );
    // Grid and y labels.
    for (value, label) in TICKS.iter().filter(|(v, _)| *v <= top_tick) {
        let y = y_of(*value);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5ea\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#6e6e73\">{label}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    // The promise.
    let y = y_of(PROMISE_MS);
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#fa0f00\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#fa0f00\">promise: 99 % within 5 min</text>",
        WIDTH - RIGHT,
        WIDTH - RIGHT - 4.0,
        y - 4.0
    );
    // Axes and x labels (about six).
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#6e6e73\"/><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#6e6e73\"/>",
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    );
    let every = (points.len() / 6).max(1);
    for (i, point) in points.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6e6e73\">{}</text>",
            x_of(i),
            TOP + plot_h + 16.0,
            shown::clock(point.start_ms)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6e6e73\">time (UTC), one bucket = {} min</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        points.first().map_or(1, |p| p.minutes)
    );
    // The lines, broken at empty buckets; a lone sample is a dot.
    for (name, color, value) in series {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, point) in points.iter().enumerate() {
            let w = &point.window.event_to_applied;
            if w.count == 0 {
                runs.push(Vec::new());
            } else if let Some(run) = runs.last_mut() {
                run.push((x_of(i), y_of(value(w))));
            }
        }
        let _ = write!(svg, "<g class=\"series\" data-series=\"{name}\">");
        for run in runs.iter().filter(|r| !r.is_empty()) {
            if let [(x, y)] = run.as_slice() {
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{color}\"/>"
                );
            } else {
                let coords: Vec<String> =
                    run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    svg,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                    coords.join(" ")
                );
            }
        }
        svg.push_str("</g>");
    }
    // Legend.
    for (k, (name, color, _)) in series.iter().enumerate() {
        let x = LEFT + 12.0 + 80.0 * k as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1d1d1f\">{name}</text>",
            TOP + 6.0,
            x + 18.0,
            TOP + 11.0
        );
    }
    if samples == 0 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6e6e73\">No change was written in this span.</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}
