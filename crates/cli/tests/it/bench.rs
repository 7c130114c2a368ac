//! `assetsync bench`: each scenario runs and writes the report keys it promises (figures are not asserted:
//! they belong to the benchmark, not to the tests).

use serde_json::Value;
use std::process::Command;

async fn bench(args: &[&str]) -> Value {
    let (ok, report, output) = bench_run(args).await;
    assert!(ok, "{output}");
    report
}

/// Runs `assetsync bench <args>`: whether it exited 0, its report, and what it printed.
async fn bench_run(args: &[&str]) -> (bool, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_assetsync"));
    command
        .arg("bench")
        .args(args)
        .arg("--report")
        .arg(&report)
        .arg("--dir")
        .arg(dir.path().join("data"));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read(&report)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    (output.status.success(), report, printed)
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

/// The sum of a `{label: count}` object.
fn total(counts: &Value) -> u64 {
    counts
        .as_object()
        .unwrap_or_else(|| panic!("not an object of counts: {counts}"))
        .values()
        .map(count)
        .sum()
}

fn assert_percentiles(value: &Value) {
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(value[key].as_f64().is_some(), "{key} in {value}");
    }
    assert!(value["p50"].as_f64() <= value["p99"].as_f64());
    assert!(value["p99"].as_f64() <= value["max"].as_f64());
}

#[tokio::test]
async fn bench_events_sends_every_event_and_checks_every_gallery() {
    let report = bench(&[
        "events",
        "--rate",
        "40",
        "--duration",
        "1",
        "--products",
        "30",
        "--assets",
        "90",
    ])
    .await;
    assert_eq!(report["scenario"], "events");
    assert_eq!(report["database"], "sqlite");
    assert_eq!(report["processes"], 1);
    assert!(report.get("overlapping_writes").is_none(), "builtin sink");
    assert_eq!(report["rate"], 40);
    assert_eq!(report["duration_s"], 1);
    assert_eq!(report["events_sent"], 40);
    assert_eq!(report["events_refused"], 0);
    assert_eq!(report["events_applied"], 40);
    assert_eq!(report["galleries_ok"], true);
    assert_percentiles(&report["ack_ms"]);
    assert_percentiles(&report["apply_ms"]);
    assert!(report["sku_writes"].as_u64().unwrap() > 0);
    assert!(report["throughput_eps"].as_f64().unwrap() > 0.0);
    assert!(report["peak_rss_mb"].as_f64().unwrap() > 1.0);
    assert_eq!(report["acknowledged"], 40);
    assert_eq!(report["max_attempts"], 5);
    assert_eq!(total(&report["unacknowledged_by_status"]), 0, "{report}");
    assert_eq!(
        count(&report["redeliveries"]),
        total(&report["refusals_by_status"]),
        "every refusal was redelivered: {report}"
    );
}

#[tokio::test]
async fn bench_events_redelivers_refused_deliveries_and_splits_them_by_status() {
    // One request at a time: a delivery that arrives while another is served gets 503 `overloaded` with
    // Retry-After, and is redelivered after it as I/O Events does. (With eight, the evenly paced generator
    // could find the service keeping up, and nothing was shed.)
    let (ok, report, output) = bench_run(&[
        "events",
        "--rate",
        "1000",
        "--duration",
        "1",
        "--products",
        "30",
        "--assets",
        "90",
        "--max-requests",
        "1",
        "--max-attempts",
        "20",
        "--settle-timeout",
        "60",
    ])
    .await;
    assert_eq!(report["events_sent"], 1000, "{output}");
    assert_eq!(report["max_requests"], 1);
    assert_eq!(report["max_attempts"], 20);
    let refusals = &report["refusals_by_status"];
    assert!(
        count(&refusals["503 overloaded"]) > 0,
        "no delivery was shed: {report}"
    );
    assert_eq!(
        count(&report["redeliveries"]) + count(&report["events_refused"]),
        total(refusals),
        "every refusal but the last of a delivery given up was redelivered: {report}"
    );
    assert!(count(&report["acknowledged_after_redelivery"]) > 0);
    assert_eq!(
        count(&report["acknowledged"]) + total(&report["unacknowledged_by_status"]),
        1000,
        "every delivery is acknowledged or counted by its last status: {report}"
    );
    assert_eq!(
        report["events_refused"],
        total(&report["unacknowledged_by_status"])
    );
    if report["events_refused"] == 0 {
        assert!(
            ok,
            "every delivery acknowledged, so every gallery right: {output}"
        );
    }
}

#[tokio::test]
async fn bench_events_find_knee_steps_the_rate_and_reports_every_step() {
    let (ok, report, output) = bench_run(&[
        "events",
        "--find-knee",
        "--step-duration",
        "1",
        "--max-rate",
        "500",
        "--products",
        "30",
        "--assets",
        "90",
    ])
    .await;
    assert!(ok, "{output}");
    assert_eq!(report["find_knee"], true, "{report}");
    assert_eq!(report["apply_p99_limit_ms"], 1000.0);
    let steps = report["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 2, "{report}");
    for (step, rate) in steps.iter().zip([250, 500]) {
        assert_eq!(step["rate"], rate);
        assert_eq!(step["duration_s"], 1);
        assert_eq!(step["events_sent"], rate);
        assert_eq!(step["galleries_ok"], true);
        assert_percentiles(&step["ack_ms"]);
        assert_percentiles(&step["apply_ms"]);
    }
    // The knee is the last step under the limit; the steps stop at the first one over it.
    let under = |step: &Value| step["apply_ms"]["p99"].as_f64().unwrap() < 1000.0;
    let passing: Vec<&Value> = steps.iter().take_while(|step| under(step)).collect();
    assert_eq!(
        report["knee_eps"],
        passing
            .last()
            .map_or(Value::Null, |step| step["rate"].clone()),
        "{report}"
    );
    match report["stopped_by"].as_str().unwrap() {
        "max_rate" => assert_eq!(passing.len(), 2, "{report}"),
        "apply_p99" => assert_eq!(passing.len(), steps.len() - 1, "{report}"),
        other => panic!("stopped by {other}: {report}"),
    }
}

#[tokio::test]
async fn bench_full_sync_and_read_report_their_figures() {
    let report = bench(&["full-sync", "--assets", "300", "--products", "100"]).await;
    assert_eq!(report["scenario"], "full-sync");
    assert_eq!(report["database"], "sqlite");
    assert_eq!(report["processes"], 1);
    assert_eq!(report["assets"], 300);
    assert_eq!(report["products"], 100);
    assert_eq!(report["galleries_ok"], true);
    assert!(report["seconds"].as_f64().unwrap() > 0.0);
    assert!(report["assets_per_s"].as_f64().unwrap() > 0.0);
    // The service ran in a process of its own: its memory is measured apart from the emulators'.
    assert!(
        report["service_peak_rss_mb"].as_f64().unwrap() > 1.0,
        "{report}"
    );
    assert!(
        report["emulators_peak_rss_mb"].as_f64().unwrap() > 1.0,
        "{report}"
    );

    let report = bench(&[
        "read",
        "--duration",
        "3",
        "--connections",
        "4",
        "--products",
        "50",
        "--assets",
        "150",
    ])
    .await;
    assert_eq!(report["scenario"], "read");
    for key in ["rps", "p99_ms", "yardstick_rps", "ratio"] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key} in {report}");
    }
    let ratio = report["rps"].as_f64().unwrap() / report["yardstick_rps"].as_f64().unwrap();
    assert!((report["ratio"].as_f64().unwrap() - ratio).abs() < 1e-9);
}

#[tokio::test]
async fn bench_read_at_a_fixed_rate_reports_the_rate_achieved_and_the_tail() {
    let report = bench(&[
        "read",
        "--rate",
        "200",
        "--duration",
        "2",
        "--connections",
        "4",
        "--products",
        "50",
        "--assets",
        "150",
    ])
    .await;
    let open = &report["open_loop"];
    assert_eq!(open["target_rps"], 200.0, "{report}");
    let achieved = open["achieved_rps"].as_f64().unwrap();
    assert!(
        (180.0..=220.0).contains(&achieved),
        "achieved {achieved} requests/s: {report}"
    );
    // Two seconds in four phases: each open loop schedules 200 × 1/2 requests.
    assert_eq!(open["requests"], 100);
    assert_eq!(open["errors"], 0, "{report}");
    assert_eq!(open["ok"], 100);
    let yardstick = &report["yardstick_open_loop"];
    assert_eq!(yardstick["target_rps"], 200.0, "{report}");
    assert_eq!(yardstick["ok"], 100, "{report}");
    assert_percentiles(&yardstick["latency_ms"]);
    assert_eq!(total(&open["errors_by_status"]), 0);
    assert_percentiles(&open["latency_ms"]);
    assert_eq!(report["p99_ms"], open["latency_ms"]["p99"]);
    assert!(
        open["latency_ms"]["p999"].as_f64().unwrap() <= open["latency_ms"]["max"].as_f64().unwrap()
    );
    // The closed-loop maximum and its yardstick are still there.
    for key in ["rps", "yardstick_rps", "ratio"] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key} in {report}");
    }
}

#[tokio::test]
async fn bench_refuses_several_processes_on_sqlite() {
    let (ok, _, output) = bench_run(&["events", "--processes", "2", "--rate", "1"]).await;
    assert!(!ok);
    assert!(
        output.contains("--processes 2 needs a PostgreSQL --database"),
        "{output}"
    );
}

/// Two `assetsync serve` processes on a fresh PostgreSQL database (on the test server, dropped after):
/// webhooks round-robin, every process's served galleries and the store's checked, no overlapping write.
#[tokio::test]
async fn bench_events_on_two_processes_sharing_postgres() {
    let server = crate::postgres_db::postgres_server();
    let (ok, report, output) = bench_run(&[
        "events",
        "--rate",
        "20",
        "--duration",
        "2",
        "--products",
        "40",
        "--assets",
        "120",
        "--sink",
        "adobe-commerce",
        "--settle-timeout",
        "60",
        "--database",
        &server,
        "--processes",
        "2",
    ])
    .await;
    assert!(ok, "{output}");
    assert_eq!(report["database"], "postgres");
    assert_eq!(report["processes"], 2);
    assert_eq!(report["overlapping_writes"], 0, "{report}");
    assert_eq!(report["galleries_ok"], true);
    assert!(!output.contains("could not drop"), "{output}");
}

/// `bench admin` on a small seed: every store read and every console page is timed, every page answered 200,
/// and the listing's reads found rows (the seed reads back).
#[tokio::test]
async fn bench_admin_times_the_console_pages_on_a_seeded_store() {
    let report = bench(&["admin", "--assets", "3000", "--rounds", "2"]).await;
    assert_eq!(report["scenario"], "admin");
    assert_eq!(report["assets"], 3000);
    assert_percentiles(&report["listing_ms"]);
    assert_percentiles(&report["health_banner_ms"]);
    let reads = report["reads"].as_object().unwrap();
    assert_eq!(reads.len(), 8, "{reads:?}");
    for name in ["first page", "failed", "waiting, oldest first", "deep page"] {
        assert_eq!(reads[name]["rows"], 50, "{name}: {}", reads[name]);
    }
    assert_eq!(reads["by SKU"]["rows"], 4);
    let pages = report["pages"]["by_page"].as_object().unwrap();
    assert_eq!(pages.len(), 10);
    for (name, page) in pages {
        assert_eq!(page["status"], 200, "{name}: {page}");
        assert!(count(&page["bytes"]) > 1000, "{name}: {page}");
        assert_percentiles(&page["ms"]);
    }
    assert_percentiles(&report["pages"]["all_pages_ms"]);
}
