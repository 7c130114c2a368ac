//! `[admin.oidc]`: optional sign-in to the admin console through an OpenID Connect provider (Adobe IMS is
//! one), with a claim mapped to the role.

use super::aem::check_https_or_local;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[admin.oidc]`.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// What the sign-in page's link says: "Sign in with <display_name>" (default "the identity provider").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The issuer; discovery is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `client_secret` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// The public origin of the service: the provider sends the browser back to
    /// `<redirect_base>/admin/oidc/callback`.
    pub redirect_base: String,
    /// Default `openid profile email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// The ID token's claim holding the role or the groups (a string or a list of strings).
    pub role_claim: String,
    /// Claim value → `admin` or `viewer`. A sign-in whose claim holds no mapped value is refused.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("role_claim", &self.role_claim)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Every problem, as sentences quoting no secret.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = check_https_or_local("admin.oidc.issuer", &self.issuer) {
            problems.push(e.to_string());
        }
        if let Err(e) = check_https_or_local("admin.oidc.redirect_base", &self.redirect_base) {
            problems.push(e.to_string());
        }
        if self.client_id.trim().is_empty() {
            problems.push("admin.oidc.client_id is empty".to_owned());
        }
        if self
            .client_secret
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            problems.push(
                "admin.oidc.client_secret is not set (client_secret, client_secret_file or \
                 ASSETSYNC_ADMIN__OIDC__CLIENT_SECRET)"
                    .to_owned(),
            );
        }
        if self.role_claim.trim().is_empty() {
            problems.push("admin.oidc.role_claim is empty".to_owned());
        }
        if self.roles.is_empty() {
            problems.push(
                "admin.oidc.roles maps no claim value to a role: nobody could sign in".to_owned(),
            );
        }
        for (value, role) in &self.roles {
            if role != "admin" && role != "viewer" {
                problems.push(format!(
                    "admin.oidc.roles: {value:?} maps to {role:?}, not admin or viewer"
                ));
            }
        }
        problems
    }

    /// The console's settings.
    pub fn settings(&self) -> admin::oidc::OidcSettings {
        let mapped = |wanted: &str| {
            self.roles
                .iter()
                .filter(|(_, role)| role.as_str() == wanted)
                .map(|(value, _)| value.clone())
                .collect()
        };
        admin::oidc::OidcSettings {
            display_name: self
                .display_name
                .clone()
                .unwrap_or_else(|| "the identity provider".to_owned()),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone().unwrap_or_default(),
            redirect_base: self.redirect_base.clone(),
            scopes: self
                .scopes
                .clone()
                .unwrap_or_else(|| "openid profile email".to_owned()),
            role_claim: self.role_claim.clone(),
            admin_values: mapped("admin"),
            viewer_values: mapped("viewer"),
        }
    }
}
