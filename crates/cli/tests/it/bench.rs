//! `assetsync bench`: each scenario runs and writes the report keys it promises (figures are not asserted:
//! they belong to the benchmark, not to the tests).

use serde_json::Value;
use std::process::Command;

async fn bench(args: &[&str]) -> Value {
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
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
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
}

#[tokio::test]
async fn bench_full_sync_and_read_report_their_figures() {
    let report = bench(&["full-sync", "--assets", "300", "--products", "100"]).await;
    assert_eq!(report["scenario"], "full-sync");
    assert_eq!(report["assets"], 300);
    assert_eq!(report["products"], 100);
    assert_eq!(report["galleries_ok"], true);
    assert!(report["seconds"].as_f64().unwrap() > 0.0);
    assert!(report["assets_per_s"].as_f64().unwrap() > 0.0);

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
