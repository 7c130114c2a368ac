//! `[admin]`: how the admin console (`/admin`) is served.

use serde::{Deserialize, Serialize};

/// `[admin]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The origin users reach the console at (e.g. `https://assetsync.example.com` behind a TLS proxy): on
    /// `https`, session cookies are `Secure` whatever the request says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_origin: Option<String>,
    /// Minutes a session may stay unused (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_idle_minutes: Option<u32>,
    /// Hours a session lasts at most, however active (default 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_hours: Option<u32>,
    /// `[admin.oidc]`: sign-in through an OpenID Connect provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<super::admin_oidc::OidcConfig>,
}

impl AdminConfig {
    /// The console's settings.
    pub fn settings(&self) -> admin::AdminSettings {
        let mut policy = engine::accounts::SessionPolicy::default();
        if let Some(minutes) = self.session_idle_minutes.filter(|m| *m > 0) {
            policy.idle_ms = i64::from(minutes) * 60_000;
        }
        if let Some(hours) = self.session_hours.filter(|h| *h > 0) {
            policy.absolute_ms = i64::from(hours) * 3_600_000;
        }
        admin::AdminSettings {
            public_origin: self.public_origin.clone(),
            policy,
            oidc: self
                .oidc
                .as_ref()
                .map(super::admin_oidc::OidcConfig::settings),
        }
    }
}
