//! `[aem]`: the AEM environment, its endpoints and the credentials of its technical account.

use anyhow::bail;
use connectors::ims::{DEFAULT_IMS_TOKEN_URL, ImsCredentials, TokenProvider};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[aem]`: the AEM environment and its endpoints.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AemConfig {
    pub program_id: String,
    pub environment_id: String,
    /// Operator endpoint override of the Author API; default `https://author-p<P>-e<E>.adobeaemcloud.com`.
    pub author_url: Option<String>,
    /// Operator endpoint override of delivery; default `https://delivery-p<P>-e<E>.adobeaemcloud.com`.
    pub delivery_url: Option<String>,
    /// A static IMS bearer token (either this or `client_id` + `client_secret`).
    pub access_token: Option<String>,
    /// `access_token` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_file: Option<PathBuf>,
    /// IMS server-to-server (OAuth client credentials) integration: tokens are minted and refreshed.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `client_secret` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// The IMS organization (`…@AdobeOrg`), sent as `x-gw-ims-org-id`.
    pub ims_org_id: Option<String>,
    /// Scopes of the credential (as in the Developer Console), sent comma-separated.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The IMS token endpoint; default Adobe's.
    pub ims_token_url: Option<String>,
}

/// How long an IMS token request may take.
const IMS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl AemConfig {
    /// Where the Author API and journal tokens come from: IMS client credentials, or the static token.
    pub fn token_provider(&self) -> anyhow::Result<TokenProvider> {
        let set = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let static_token = set(&self.access_token);
        match (set(&self.client_id), set(&self.client_secret), static_token) {
            (Some(_), Some(_), Some(_)) => bail!(
                "aem.access_token and aem.client_id/client_secret exclude each other: set one of them"
            ),
            (Some(client_id), Some(client_secret), None) => {
                let token_url = self
                    .ims_token_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_IMS_TOKEN_URL.to_owned());
                check_https_or_local("aem.ims_token_url", &token_url)?;
                let credentials = ImsCredentials {
                    token_url,
                    client_id,
                    client_secret,
                    org_id: set(&self.ims_org_id),
                    scopes: self
                        .scopes
                        .iter()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                };
                Ok(TokenProvider::client_credentials(credentials, IMS_TIMEOUT)?)
            }
            (Some(_), None, _) => {
                bail!("aem.client_secret is required with aem.client_id")
            }
            (None, Some(_), _) => {
                bail!("aem.client_id is required with aem.client_secret")
            }
            (None, None, Some(token)) => Ok(TokenProvider::static_token(&token)),
            (None, None, None) => bail!(
                "[aem] needs credentials: either access_token, or client_id and client_secret (an IMS \
                 server-to-server integration)"
            ),
        }
    }
}

/// A URL that receives a token or a secret (IMS, Author API, journal, a bearer store) or keys (the key host)
/// must be https; plain http is allowed only to this machine (emulators, tests).
pub(super) fn check_https_or_local(field: &str, url: &str) -> anyhow::Result<()> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        bail!("{field} is not a URL");
    };
    if connectors::http::credentials_allowed(&parsed) {
        Ok(())
    } else {
        bail!(
            "{field} must be an https URL: tokens and secrets go over https only (plain http only to \
             127.0.0.1, ::1 or localhost)"
        )
    }
}
