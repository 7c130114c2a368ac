//! `[http]`, `[metrics]` and `[log]`: the listeners' limits and the service's own output.

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `[http]`: the limits of the public listener (webhook, APIs, health).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's line and headers, counted from the connection's start or
    /// from the previous response (so also the idle keep-alive timeout); 1–30.
    #[serde(default = "default_header_timeout_seconds")]
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body (then 408); 1–600.
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
    /// Connections served at once; more wait unread in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503 `overloaded` at once.
    #[serde(default = "default_max_requests")]
    pub max_requests: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_seconds: default_header_timeout_seconds(),
            body_timeout_seconds: default_body_timeout_seconds(),
            max_connections: default_max_connections(),
            max_requests: default_max_requests(),
        }
    }
}

fn default_header_timeout_seconds() -> u64 {
    10
}

fn default_body_timeout_seconds() -> u64 {
    30
}

fn default_max_connections() -> usize {
    1024
}

/// Requests in flight ≈ rate × acknowledgement time: at 1,000 events/s, with acknowledgements waiting for the
/// group commit (hundreds of ms under that load), 256 shed deliveries; 1024 (as many as `max_connections`)
/// holds acknowledgements of up to about a second.
fn default_max_requests() -> usize {
    1024
}

impl HttpConfig {
    /// The listener's limits, checked.
    pub fn limits(&self) -> anyhow::Result<web::ListenerLimits> {
        if !(1..=30).contains(&self.header_timeout_seconds) {
            bail!("http.header_timeout_seconds must be between 1 and 30");
        }
        if !(1..=600).contains(&self.body_timeout_seconds) {
            bail!("http.body_timeout_seconds must be between 1 and 600");
        }
        if self.max_connections == 0 {
            bail!("http.max_connections must be at least 1");
        }
        if self.max_requests == 0 {
            bail!("http.max_requests must be at least 1");
        }
        Ok(web::ListenerLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds),
            body_timeout: std::time::Duration::from_secs(self.body_timeout_seconds),
            max_connections: self.max_connections,
            max_requests: self.max_requests,
        })
    }
}

/// `[metrics]`: Prometheus text at `/metrics`, on a listener of its own.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `false`: no metrics listener.
    #[serde(default = "default_metrics_enabled")]
    pub enabled: bool,
    /// Where `/metrics` is served (default loopback only: `127.0.0.1:9464`).
    #[serde(default = "default_metrics_listen")]
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: default_metrics_enabled(),
            listen: default_metrics_listen(),
        }
    }
}

fn default_metrics_enabled() -> bool {
    true
}

fn default_metrics_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

/// `[log]`: the service's log on stderr.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (default: readable lines, coloured on a terminal only) or `json` (one JSON object per line).
    /// `--log-format` wins over it.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter (`info`, `warn,engine=debug`; default `info`). `RUST_LOG` wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines; ANSI colours only when stderr is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, fields at the top level.
    Json,
}

impl LogConfig {
    /// Checks `level` as a tracing filter.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(level) = &self.level
            && let Err(error) = tracing_subscriber::EnvFilter::try_new(level)
        {
            bail!("log.level is not a tracing filter ({error})");
        }
        Ok(())
    }
}
