//! The rules that keep the matcher's credentials where they belong: a change of an address the secret (or a
//! token minted with it) goes to needs the secret again; with credentials, matcher and token URLs are https
//! (plain http only to this machine); a change of the secret is recorded without its value.

use super::{FieldChange, FieldErrors, IntegrationConfig};
use serde_json::{Map, Value};

/// The fields whose change sends the stored secret, or a token minted with it, to a new address.
pub const SECRET_BOUND_URLS: [&str; 3] = [
    "asset_to_product_url",
    "product_to_asset_url",
    "matcher_token_url",
];

/// True when a bearer token or a secret may go to `url`: https, or plain http to a loopback host
/// (`127.0.0.0/8`, `[::1]`, `localhost`).
pub fn credentials_allowed(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if scheme.eq_ignore_ascii_case("https") {
        return true;
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl IntegrationConfig {
    fn secret_bound_url(&self, field: &str) -> Option<&str> {
        match field {
            "asset_to_product_url" => self.asset_to_product_url.as_deref(),
            "product_to_asset_url" => self.product_to_asset_url.as_deref(),
            _ => Some(self.matcher_token_url.as_str()),
        }
    }

    /// The errors of `next` (this configuration changed by `change`) that concern credentials.
    pub(super) fn credential_errors(
        &self,
        next: &Self,
        change: &Map<String, Value>,
        errors: &mut FieldErrors,
    ) {
        if self.matcher_client_secret.is_some() && !change.contains_key("matcher_client_secret") {
            for field in SECRET_BOUND_URLS {
                if self.secret_bound_url(field) != next.secret_bound_url(field) {
                    errors.insert(
                        field.to_owned(),
                        "changing it needs matcher_client_secret again in the same change (the stored \
                         secret is not sent to a new address unconfirmed)"
                            .to_owned(),
                    );
                }
            }
        }
        if next.matcher_client_id.is_some() {
            for field in SECRET_BOUND_URLS {
                if next
                    .secret_bound_url(field)
                    .is_some_and(|url| !credentials_allowed(url))
                {
                    errors.entry(field.to_owned()).or_insert_with(|| {
                        "must be https while the matcher has credentials (tokens and secrets go over https \
                         only; plain http only to 127.0.0.1, ::1 or localhost)"
                            .to_owned()
                    });
                }
            }
        }
    }

    /// The history record of a change of the secret, without its value: `new` is `"changed"` (or
    /// `"removed"`), `old` is `"set"` when there was one.
    pub(super) fn secret_change(&self, next: &Self) -> Option<FieldChange> {
        (self.matcher_client_secret != next.matcher_client_secret).then(|| FieldChange {
            field: "matcher_client_secret".to_owned(),
            old: match self.matcher_client_secret {
                Some(_) => Value::from("set"),
                None => Value::Null,
            },
            new: Value::from(match next.matcher_client_secret {
                Some(_) => "changed",
                None => "removed",
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UrlPolicy;
    use serde_json::json;

    fn with_secret() -> IntegrationConfig {
        let base = IntegrationConfig::defaults("1", "2");
        let (config, _) = base
            .apply_change(
                &json!({
                    "matching_rule": "custom_match",
                    "asset_to_product_url": "https://matcher.example.com/a2p",
                    "matcher_client_id": "client",
                    "matcher_client_secret": "first-secret",
                }),
                &base,
                UrlPolicy::HttpsOnly,
            )
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        config
    }

    #[test]
    fn a_new_address_needs_the_secret_again() {
        let config = with_secret();
        let defaults = IntegrationConfig::defaults("1", "2");
        for field in SECRET_BOUND_URLS {
            let change = json!({ field: "https://elsewhere.example.com/x" });
            let errors = config
                .apply_change(&change, &defaults, UrlPolicy::HttpsOnly)
                .err()
                .unwrap_or_default();
            assert!(
                errors
                    .get(field)
                    .is_some_and(|m| m.contains("matcher_client_secret")),
                "{field}: {errors:?}"
            );
            let with_secret = json!({ field: "https://elsewhere.example.com/x", "matcher_client_secret": "second" });
            assert!(
                config
                    .apply_change(&with_secret, &defaults, UrlPolicy::HttpsOnly)
                    .is_ok()
            );
        }
        let same = json!({ "asset_to_product_url": "https://matcher.example.com/a2p" });
        assert!(
            config
                .apply_change(&same, &defaults, UrlPolicy::HttpsOnly)
                .is_ok()
        );
    }

    #[test]
    fn a_secret_change_is_recorded_without_its_value() {
        let config = with_secret();
        let defaults = IntegrationConfig::defaults("1", "2");
        let (_, changes) = config
            .apply_change(
                &json!({ "matcher_client_secret": "second-secret" }),
                &defaults,
                UrlPolicy::HttpsOnly,
            )
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(
            changes,
            [FieldChange {
                field: "matcher_client_secret".into(),
                old: json!("set"),
                new: json!("changed"),
            }]
        );
        assert!(!format!("{changes:?}").contains("second-secret"));
    }

    #[test]
    fn credentials_go_over_https_or_to_this_machine_only() {
        for allowed in [
            "https://x.example.com/a",
            "http://127.0.0.1:8080/a",
            "http://localhost/a",
            "http://[::1]:9/a",
        ] {
            assert!(credentials_allowed(allowed), "{allowed}");
        }
        for refused in [
            "http://matcher.example.com/a",
            "http://127.0.0.1.example.com/a",
            "http://localhost@evil.example.com/a",
            "ftp://127.0.0.1/a",
        ] {
            assert!(!credentials_allowed(refused), "{refused}");
        }
        let base = IntegrationConfig::defaults("1", "2");
        let errors = base
            .apply_change(
                &json!({
                    "matching_rule": "custom_match",
                    "asset_to_product_url": "http://matcher.example.com/a2p",
                    "matcher_client_id": "client",
                    "matcher_client_secret": "s",
                }),
                &base,
                UrlPolicy::AllowInsecure,
            )
            .err()
            .unwrap_or_default();
        assert!(errors.contains_key("asset_to_product_url"), "{errors:?}");
    }
}
