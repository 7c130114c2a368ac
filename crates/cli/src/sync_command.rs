//! `assetsync sync --full`: asks the running service for a full sync and shows its progress until it ends.

use crate::config::Config;
use anyhow::{Context, bail};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub async fn full_sync(config: &Config) -> anyhow::Result<ExitCode> {
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip([127, 0, 0, 1].into());
    }
    let base = format!("http://{address}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let reply = http
        .post(format!("{base}/api/v1/sync"))
        .bearer_auth(&config.admin_token)
        .send()
        .await
        .with_context(|| {
            format!("could not reach the service at {base} (is `assetsync serve` running?)")
        })?;
    if !reply.status().is_success() {
        bail!(
            "the service refused the full sync: HTTP {} {}",
            reply.status(),
            reply.text().await.unwrap_or_default()
        );
    }
    let id = reply.json::<Value>().await?["id"]
        .as_i64()
        .context("the service answered no sync id")?;
    println!("full sync {id} started");
    let started = Instant::now();
    loop {
        let status: Value = http
            .get(format!("{base}/api/v1/sync/{id}"))
            .bearer_auth(&config.admin_token)
            .send()
            .await
            .context("lost the service while the sync ran")?
            .json()
            .await?;
        let (done, total) = (
            status["done"].as_i64().unwrap_or(0),
            status["total"].as_i64().unwrap_or(0),
        );
        let share = if total > 0 {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let filled = (share * 30.0).round() as usize;
        let eta = status["eta_seconds"]
            .as_i64()
            .map_or_else(|| "…".to_owned(), |s| format!("{s} s"));
        print!(
            "\r[{}{}] {:>3.0}%  {:<9} {done}/{total} assets  {} errors  ETA {eta}   ",
            "#".repeat(filled),
            "-".repeat(30 - filled),
            share * 100.0,
            status["phase"].as_str().unwrap_or("?"),
            status["errors"].as_i64().unwrap_or(0),
        );
        let _ = std::io::stdout().flush();
        match status["state"].as_str() {
            Some("done") => {
                println!(
                    "\nfull sync {id} done in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(ExitCode::SUCCESS);
            }
            Some("failed") => {
                println!();
                bail!(
                    "full sync {id} failed: {}",
                    status["error"].as_str().unwrap_or("unknown error")
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
