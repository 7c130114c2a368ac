//! The checks of a configuration: every problem is collected (none stops the others), each a sentence that
//! quotes no secret.

use super::{Config, MIN_ADMIN_TOKEN_LEN, PLACEHOLDER_ADMIN_TOKEN, aem::check_https_or_local};
use std::fmt;

/// Every problem found in a configuration.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn one(problem: String) -> Self {
        Self(vec![problem])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "the configuration has {} problems:", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// Every problem of this configuration (empty: it is valid).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |result: anyhow::Result<()>| {
            if let Err(error) = result {
                problems.push(format!("{error:#}"));
            }
        };
        check(self.check_admin_token());
        check(self.check_database_url());
        check(self.http.limits().map(drop));
        check(self.log.check());
        for (name, value) in [
            ("aem.program_id", &self.aem.program_id),
            ("aem.environment_id", &self.aem.environment_id),
        ] {
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
                check(Err(anyhow::anyhow!(
                    "{name} must be digits (as in author-p<program>-e<environment>.adobeaemcloud.com)"
                )));
            }
        }
        if let Some(oidc) = &self.admin.oidc {
            for problem in oidc.problems() {
                check(Err(anyhow::anyhow!(problem)));
            }
        }
        check(self.aem.token_provider().map(drop));
        if let Some(url) = &self.aem.author_url {
            check(check_https_or_local("aem.author_url", url));
        }
        if let Some(url) = &self.events.journal_url {
            check(check_https_or_local("events.journal_url", url));
        }
        check(self.events.key_host_settings().map(drop));
        check(self.commerce.sink().map(drop));
        check(self.integration_config().map(drop));
        let sync = &self.sync;
        let at_least_one = [
            ("max_attempts", sync.max_attempts.map(u64::from)),
            (
                "max_skus_per_asset",
                sync.max_skus_per_asset.map(|v| v as u64),
            ),
            ("matcher_timeout_seconds", sync.matcher_timeout_seconds),
            ("anti_entropy_seconds", sync.anti_entropy_seconds),
            ("max_retry_after_seconds", sync.max_retry_after_seconds),
            (
                "dam_missing_pause_assets",
                sync.dam_missing_pause_assets.map(|v| v as u64),
            ),
            (
                "dam_missing_pause_window_seconds",
                sync.dam_missing_pause_window_seconds,
            ),
            ("lease_seconds", sync.lease_seconds),
        ];
        for (name, value) in at_least_one {
            if value == Some(0) {
                check(Err(anyhow::anyhow!("sync.{name} must be at least 1")));
            }
        }
        if sync.retention_days.is_some_and(|days| days < 8) {
            check(Err(anyhow::anyhow!(
                "sync.retention_days must be at least 8 (I/O Events journals keep 7 days)"
            )));
        }
        problems
    }

    fn check_admin_token(&self) -> anyhow::Result<()> {
        let token = self.admin_token.trim();
        if token.is_empty() {
            anyhow::bail!(
                "admin_token is not set (admin_token, admin_token_file or ASSETSYNC_ADMIN_TOKEN; \
                 `assetsync default-config` prints a random one)"
            );
        }
        if token == PLACEHOLDER_ADMIN_TOKEN {
            anyhow::bail!(
                "admin_token is the example's placeholder {PLACEHOLDER_ADMIN_TOKEN:?}: set a secret of at least \
                 {MIN_ADMIN_TOKEN_LEN} characters (`assetsync default-config` prints a random one)"
            );
        }
        if token.chars().count() < MIN_ADMIN_TOKEN_LEN {
            anyhow::bail!(
                "admin_token must be at least {MIN_ADMIN_TOKEN_LEN} characters (`assetsync default-config` prints \
                 a random one)"
            );
        }
        Ok(())
    }

    fn check_database_url(&self) -> anyhow::Result<()> {
        let url = self.database_url.trim();
        if url.is_empty() {
            anyhow::bail!(
                "database_url is not set (database_url, database_url_file or ASSETSYNC_DATABASE_URL)"
            );
        }
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
        {
            anyhow::bail!("database_url must be a sqlite:// or postgres:// URL");
        }
        Ok(())
    }
}
