//! The service in a child process (`assetsync serve` with a sandbox's configuration), so that its memory is
//! measured apart from the emulators' and the load generator's, and driven over HTTP as an operator would.

use crate::config::Config;
use crate::galleries::{Expected, gallery_of};
use anyhow::{Context, bail};
use domain::Sku;
use futures_util::{StreamExt, stream};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Requests the bench sends at once to the child.
const CONCURRENCY: usize = 32;

/// A running `assetsync serve`, killed when dropped.
pub(super) struct ServiceProcess {
    child: Child,
    pub(super) url: String,
    admin_token: String,
    http: reqwest::Client,
}

impl ServiceProcess {
    /// Writes `config` to `<dir>/assetsync.toml` and starts `assetsync serve` on it (its log goes to
    /// `<dir>/service.log`), with `ASSETSYNC_SECRET_KEY` set to `secret_key` when given; returns once it
    /// says where it listens.
    pub(super) async fn start(
        config: &Config,
        dir: &Path,
        secret_key: Option<&str>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let path = dir.join("assetsync.toml");
        std::fs::write(&path, toml::to_string(config)?)
            .with_context(|| format!("could not write {}", path.display()))?;
        let log = std::fs::File::create(dir.join("service.log"))?;
        let mut command = Command::new(std::env::current_exe()?);
        if let Some(key) = secret_key {
            command.env(store::secrets::SECRET_KEY_ENV, key);
        }
        let mut child = command
            .arg("serve")
            .arg("--config")
            .arg(&path)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("could not start `assetsync serve`")?;
        let stdout = child.stdout.take().context("no stdout of the service")?;
        let banner = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|line| {
                    line.strip_prefix("assetsync listening on ")
                        .map(str::to_owned)
                })
        });
        let url = match tokio::time::timeout(Duration::from_secs(60), banner).await {
            Ok(Ok(Some(url))) => url,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "`assetsync serve` did not start (see {})",
                    dir.join("service.log").display()
                );
            }
        };
        Ok(Self {
            child,
            url,
            admin_token: config.admin_token.clone(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(CONCURRENCY)
                .pool_idle_timeout(super::SERVICE_IDLE_MARGIN)
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    /// The child's peak resident set so far (`VmHWM`), in MB.
    pub(super) fn peak_rss_mb(&self) -> f64 {
        super::report::peak_rss_mb_of(&format!("/proc/{}/status", self.child.id()))
    }

    async fn admin(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let reply = request.bearer_auth(&self.admin_token).send().await?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("the service answered {status}: {body}");
        }
        Ok(body)
    }

    /// Adds the products to the service's catalog (`PUT /api/v1/products/{sku}`).
    pub(super) async fn add_products(&self, skus: &[Sku]) -> anyhow::Result<()> {
        let puts = stream::iter(skus)
            .map(|sku| self.admin(self.http.put(format!("{}/api/v1/products/{sku}", self.url))))
            .buffer_unordered(CONCURRENCY);
        let results: Vec<anyhow::Result<Value>> = puts.collect().await;
        for result in results {
            result?;
        }
        Ok(())
    }

    /// Starts a full sync (`POST /api/v1/sync`); returns its id.
    pub(super) async fn request_full_sync(&self) -> anyhow::Result<i64> {
        let body = self
            .admin(self.http.post(format!("{}/api/v1/sync", self.url)))
            .await?;
        body["id"].as_i64().context("no full sync id in the reply")
    }

    /// The queued asset and SKU work (`GET /api/v1/health/sync`: the database's, whichever process asks).
    pub(super) async fn backlog(&self) -> anyhow::Result<(u64, u64)> {
        let health = self
            .admin(self.http.get(format!("{}/api/v1/health/sync", self.url)))
            .await?;
        let queued = |name: &str| health["queues"][name].as_u64().unwrap_or(0);
        Ok((queued("asset_work"), queued("sku_work")))
    }

    /// This process's event → applied latencies since it started (`GET /api/v1/sla`).
    pub(super) async fn applied_since_start(&self) -> anyhow::Result<Value> {
        let sla = self
            .admin(self.http.get(format!("{}/api/v1/sla", self.url)))
            .await?;
        Ok(sla["since_start"]["event_to_applied"].clone())
    }

    /// Whether the full sync is done and nothing is queued, and, when `report` is asked, a line saying where it
    /// is. The sync's own state is one row; the health report counts waiting and failed assets through their
    /// index, which grows with the catalog: it is read only once the sync is done, or for the progress line,
    /// so that the bench's polling does not load the service it measures.
    pub(super) async fn idle_after(
        &self,
        sync: i64,
        report: bool,
    ) -> anyhow::Result<(bool, Option<String>)> {
        let sync = self
            .admin(self.http.get(format!("{}/api/v1/sync/{sync}", self.url)))
            .await?;
        let state = sync["state"].as_str().unwrap_or("?");
        if state == "failed" {
            bail!("the full sync failed: {sync}");
        }
        if state != "done" && !report {
            return Ok((false, None));
        }
        let health = self
            .admin(self.http.get(format!("{}/api/v1/health/sync", self.url)))
            .await?;
        let queues = &health["queues"];
        let progress = format!(
            "{state}, phase {}, {}/{} assets read, queued {} assets and {} SKUs",
            sync["phase"].as_str().unwrap_or("?"),
            sync["done"],
            sync["total"],
            queues["asset_work"],
            queues["sku_work"]
        );
        let idle = state == "done" && queues["asset_work"] == 0 && queues["sku_work"] == 0;
        Ok((idle, Some(progress)))
    }

    /// The galleries the read API serves, in the oracle's shape.
    pub(super) async fn served_galleries(&self, products: &[Sku]) -> Expected {
        stream::iter(products)
            .map(|sku| async move {
                let url = format!("{}/api/v1/products/{sku}/media", self.url);
                let body = match self.http.get(url).send().await {
                    Ok(reply) => reply.json::<Value>().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                (sku.as_str().to_owned(), gallery_of(&body))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
