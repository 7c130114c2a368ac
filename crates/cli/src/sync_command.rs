//! `assetsync sync --full`: asks the running service for a full sync and shows its progress (a bar on a
//! terminal, a line per phase elsewhere) until it ends. `assetsync verify`: the service's differences.

use crate::config::Config;
use crate::progress::Progress;
use anyhow::{Context, bail};
use serde_json::Value;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The running service's base URL, from its configuration.
fn service_url(config: &Config) -> String {
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip([127, 0, 0, 1].into());
    }
    format!("http://{address}")
}

/// POSTs to an admin route of the running service and returns its JSON reply.
async fn post_admin(
    config: &Config,
    path: &str,
    timeout_secs: u64,
    what: &str,
) -> anyhow::Result<Value> {
    let base = service_url(config);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_secs))
        .build()?;
    let reply = http
        .post(format!("{base}{path}"))
        .bearer_auth(&config.admin_token)
        .send()
        .await
        .with_context(|| {
            format!("could not reach the service at {base} (is `assetsync serve` running?)")
        })?;
    if !reply.status().is_success() {
        bail!("the service refused {what}: {}", refusal(reply).await);
    }
    Ok(reply.json().await?)
}

/// An error reply as a sentence: the status and, when the body is the service's `{code, message}`, both.
async fn refusal(reply: reqwest::Response) -> String {
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or_default();
    match (body["code"].as_str(), body["message"].as_str()) {
        (Some(code), Some(message)) => format!("HTTP {status} ({code}: {message})"),
        _ => format!("HTTP {status}"),
    }
}

/// How many times in a row the status poll may fail to reach the service (a restart, a dropped connection)
/// before `sync --full` gives up; one second apart.
const POLL_ATTEMPTS: u32 = 10;

/// One status read of full sync `id`. A transport failure is retried up to [`POLL_ATTEMPTS`] times; an answer
/// of 4xx or 5xx ends the command at once: the service will not answer otherwise by being asked again.
async fn sync_status(http: &reqwest::Client, config: &Config, id: i64) -> anyhow::Result<Value> {
    let base = service_url(config);
    let mut attempt = 1;
    loop {
        match http
            .get(format!("{base}/api/v1/sync/{id}"))
            .bearer_auth(&config.admin_token)
            .send()
            .await
        {
            Ok(reply) if reply.status().is_success() => {
                return reply.json().await.with_context(|| {
                    format!("the service answered the status of full sync {id} with something other than JSON")
                });
            }
            Ok(reply) => {
                bail!(
                    "the service answered the status of full sync {id} with {}",
                    refusal(reply).await
                );
            }
            Err(error) if attempt < POLL_ATTEMPTS => {
                tracing::warn!(%error, attempt, "could not reach the service; retrying");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(_) => bail!(
                "lost the service at {base} while full sync {id} ran: {POLL_ATTEMPTS} attempts in a row \
                 could not reach it"
            ),
        }
    }
}

/// `assetsync verify [--repair]`: prints every difference; exits 1 when there is one (0 after a repair was
/// queued).
pub async fn verify(config: &Config, repair: bool) -> anyhow::Result<ExitCode> {
    let report = post_admin(
        config,
        &format!("/api/v1/verify?repair={repair}"),
        600,
        "verification",
    )
    .await?;
    let differences = report["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!(
        "checked {} assets and {} products: {} difference(s)",
        report["assets_checked"],
        report["products_checked"],
        differences.len()
    );
    for d in &differences {
        let mut place = Vec::new();
        if let Some(sku) = d["sku"].as_str() {
            place.push(format!("sku {sku}"));
        }
        if let Some(asset) = d["asset_id"].as_str() {
            place.push(format!("asset {asset}"));
        }
        println!(
            "  {:<20} {:<60} {}",
            d["kind"].as_str().unwrap_or("?"),
            place.join(" "),
            d["detail"].as_str().unwrap_or("")
        );
    }
    if repair {
        if let Some(id) = report["full_sync"].as_i64() {
            println!("repair: full sync {id} started");
        }
        println!(
            "repair: {} entries queued for a re-write",
            report["entries_requeued"]
        );
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn full_sync(config: &Config) -> anyhow::Result<ExitCode> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started_reply = post_admin(config, "/api/v1/sync", 30, "the full sync").await?;
    let id = started_reply["id"]
        .as_i64()
        .context("the service answered no sync id")?;
    println!("full sync {id} started");
    let started = Instant::now();
    let mut progress = Progress::bar(0);
    loop {
        let status = match sync_status(&http, config, id).await {
            Ok(status) => status,
            Err(error) => {
                progress.finish();
                return Err(error);
            }
        };
        let (done, total) = (
            status["done"].as_u64().unwrap_or(0),
            status["total"].as_u64().unwrap_or(0),
        );
        let eta = status["eta_seconds"]
            .as_i64()
            .map_or_else(|| "…".to_owned(), |s| format!("{s} s"));
        progress.set_phase(&format!(
            "full sync {id}: {}",
            status["phase"].as_str().unwrap_or("?")
        ));
        progress.update(
            done,
            total,
            format!(
                "assets  {} errors  ETA {eta}",
                status["errors"].as_i64().unwrap_or(0)
            ),
        );
        match status["state"].as_str() {
            Some("done") => {
                progress.finish();
                println!(
                    "full sync {id} done in {:.1} s: {done}/{total} assets, {} errors",
                    started.elapsed().as_secs_f64(),
                    status["errors"].as_i64().unwrap_or(0)
                );
                return Ok(ExitCode::SUCCESS);
            }
            Some("failed") => {
                progress.finish();
                bail!(
                    "full sync {id} failed: {}",
                    status["error"].as_str().unwrap_or("unknown error")
                );
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
