//! `assetsync healthcheck`: one `GET` of the service's `/healthz`, for a container's `HEALTHCHECK` (slim
//! images have no curl). Exits 0 on a 2xx answer within the timeout, 1 otherwise (with one line on stderr).

use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct HealthcheckArgs {
    /// The health URL of the running service.
    #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout_seconds: u64,
}

pub async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_seconds.max(1)))
        .build()?;
    match client.get(&args.url).send().await {
        Ok(reply) if reply.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(reply) => {
            eprintln!("assetsync: {} answered {}", args.url, reply.status());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("assetsync: {} did not answer: {error}", args.url);
            Ok(ExitCode::FAILURE)
        }
    }
}
