//! The fields of the configuration page, laid out like the reference's admin page: what each is, how it is
//! shown, and how a posted form becomes a change for [`engine::Engine::update_config`] (the same field names
//! as `PUT /api/v1/config`).

use crate::auth::CsrfForm;
use domain::config::IntegrationConfig;
use maud::{Markup, html};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a field is typed in and sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One line; empty means `null` (the system value).
    Text,
    /// A URL (one line; empty means `null`).
    Url,
    /// Yes / No.
    Bool,
    /// One of fixed values: (value, label).
    Choice(&'static [(&'static str, &'static str)]),
    /// One item per line.
    Lines,
    /// Items separated by commas or spaces.
    Words,
    /// Write-only: shown masked; left empty, the stored value is kept.
    Secret,
}

/// One field of the page.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

const fn field(name: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field {
        name,
        label,
        help,
        kind,
    }
}

/// The page's groups of fields, in the reference's order.
pub const SECTIONS: &[(&str, &[Field])] = &[
    (
        "AEM Assets connection",
        &[
            field(
                "ims_client_id",
                "Asset Selector IMS Client ID",
                Kind::Text,
                "The IMS client id of the Asset Selector (given by Adobe Support when DM OpenAPI is enabled).",
            ),
            field(
                "program_id",
                "Program ID",
                Kind::Text,
                "The Cloud Manager program of the AEM environment: digits, the p… of author-p<program>-e<environment>.",
            ),
            field(
                "environment_id",
                "Environment ID",
                Kind::Text,
                "The AEM environment: digits, the e… of author-p<program>-e<environment>.",
            ),
            field(
                "sync_enabled",
                "Synchronization enabled",
                Kind::Bool,
                "Yes: assetsync writes the galleries of the commerce side. No: events are still read and matched, nothing is written.",
            ),
        ],
    ),
    (
        "Matching",
        &[
            field(
                "matching_rule",
                "Asset matching rule",
                Kind::Choice(&[
                    ("match_by_sku", "Match by product SKU"),
                    ("filename", "Match by file name rules"),
                    ("custom_match", "Custom match (App Builder)"),
                ]),
                "How an approved asset finds its products. Changing it starts a full sync.",
            ),
            field(
                "sku_attribute",
                "Match by product SKU attribute name",
                Kind::Text,
                "The AEM metadata property that lists an asset's SKUs (default commerce:skus).",
            ),
            field(
                "filename_rules",
                "File name rules",
                Kind::Lines,
                "File name rule: one regular expression per line with named groups sku (required), role and position; the first that matches wins.",
            ),
            field(
                "filename_default_roles",
                "Roles of a file name match",
                Kind::Words,
                "Roles given to the asset at position 1 when its rule names no role (comma separated).",
            ),
            field(
                "asset_to_product_url",
                "Asset to Product URL",
                Kind::Url,
                "Custom match: the App Builder action that names the products of an asset (https).",
            ),
            field(
                "product_to_asset_url",
                "Product to Asset URL",
                Kind::Url,
                "Custom match: the action that names the assets of a new product (https; empty: new products get no links from it).",
            ),
            field(
                "matcher_token_url",
                "Matcher IMS token URL",
                Kind::Url,
                "Where assetsync gets a token for the custom matcher (client credentials).",
            ),
            field(
                "matcher_client_id",
                "Matcher client ID",
                Kind::Text,
                "The OAuth server-to-server client id of the App Builder workspace (or upload its workspace.json below).",
            ),
            field(
                "matcher_client_secret",
                "Matcher client secret",
                Kind::Secret,
                "Stored encrypted and never shown. Leave empty to keep the stored secret; type a new one to replace it.",
            ),
            field(
                "matcher_ims_org_id",
                "Matcher IMS org ID",
                Kind::Text,
                "Sent to the matcher as x-gw-ims-org-id.",
            ),
            field(
                "matcher_scopes",
                "Matcher scopes",
                Kind::Words,
                "The scopes of the matcher's token (comma separated).",
            ),
            field(
                "resync_on_metadata_change",
                "Resync on metadata change",
                Kind::Bool,
                "Yes: a metadata change of an approved asset resyncs it. No: only approval, rejection and deletion act (as Adobe's).",
            ),
        ],
    ),
    (
        "Storefront",
        &[
            field(
                "visualization_owner",
                "Visualization Owner",
                Kind::Choice(&[("aem_assets", "AEM Assets"), ("commerce", "Adobe Commerce")]),
                "Whose images a product shows: AEM Assets hides entries made by hand in the store where the DAM has some; Adobe Commerce shows the store's own.",
            ),
            field(
                "asset_custom_domain",
                "Asset Custom Domain",
                Kind::Url,
                "https://<host> when AEM delivers through a Cloud Manager custom domain: published URLs use it.",
            ),
            field(
                "hidden_store_views_property",
                "Hidden store views property",
                Kind::Text,
                "The AEM metadata property listing the store views an asset is hidden in.",
            ),
        ],
    ),
];

/// Every field of the page.
pub fn fields() -> impl Iterator<Item = &'static Field> {
    SECTIONS.iter().flat_map(|(_, fields)| fields.iter())
}

/// What the form shows: each field's text, and the fields on their system value.
#[derive(Debug, Default, Clone)]
pub struct Values {
    pub text: BTreeMap<String, String>,
    pub system: BTreeSet<String>,
    pub author_url: String,
    /// Which secrets are stored (shown masked).
    pub secrets_set: BTreeSet<String>,
}

fn shown(value: &Value, kind: Kind) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| shown(i, Kind::Text)).collect();
            items.join(if kind == Kind::Lines { "\n" } else { ", " })
        }
        other => other.to_string(),
    }
}

impl Values {
    /// The configuration in force; a field equal to its system value has its box checked.
    pub fn of(config: &IntegrationConfig, defaults: &IntegrationConfig) -> Self {
        let (now, system) = (config.as_fields(), defaults.as_fields());
        let mut values = Self::default();
        for field in fields() {
            let (current, default) = if field.kind == Kind::Secret {
                let key = format!("{}_set", field.name);
                if now.get(&key) == Some(&Value::Bool(true)) {
                    values.secrets_set.insert(field.name.to_owned());
                }
                (now.get(&key), system.get(&key))
            } else {
                let current = now.get(field.name);
                values.text.insert(
                    field.name.to_owned(),
                    current.map(|v| shown(v, field.kind)).unwrap_or_default(),
                );
                (current, system.get(field.name))
            };
            if current == default {
                values.system.insert(field.name.to_owned());
            }
        }
        values
    }

    /// What a posted form asked for (to show it again beside its errors); secrets are never echoed.
    pub fn posted(form: &CsrfForm, config: &IntegrationConfig) -> Self {
        let mut values = Self::of(config, config);
        values.system.clear();
        for (name, value) in &form.fields {
            if name == "use_system" {
                values.system.insert(value.clone());
            } else if name == "author_url" {
                values.author_url = value.clone();
            } else if fields().any(|f| f.name == name && f.kind != Kind::Secret) {
                values.text.insert(name.clone(), value.clone());
            }
        }
        values
    }
}

fn split_words(text: &str) -> Vec<Value> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| Value::String(w.to_owned()))
        .collect()
}

/// The change a posted form asks for: a field with "Use system value" checked is `null` (its system value); an
/// empty text is `null`; an empty secret is left out (kept). An author URL fills program and environment
/// (they are left out then).
pub fn change_of(form: &CsrfForm) -> Value {
    let system: BTreeSet<&str> = form
        .fields
        .iter()
        .filter(|(n, _)| n == "use_system")
        .map(|(_, v)| v.as_str())
        .collect();
    let author_url = form.get("author_url").map(str::trim).unwrap_or_default();
    let mut change = Map::new();
    for field in fields() {
        if !author_url.is_empty() && matches!(field.name, "program_id" | "environment_id") {
            continue;
        }
        if system.contains(field.name) {
            change.insert(field.name.to_owned(), Value::Null);
            continue;
        }
        let Some(raw) = form.get(field.name) else {
            continue;
        };
        let value = match field.kind {
            Kind::Secret if raw.is_empty() => continue,
            Kind::Bool => Value::Bool(raw == "true"),
            Kind::Lines => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_owned()))
                    .collect(),
            ),
            Kind::Words => Value::Array(split_words(raw)),
            _ if raw.trim().is_empty() => Value::Null,
            _ => Value::String(raw.trim().to_owned()),
        };
        change.insert(field.name.to_owned(), value);
    }
    if !author_url.is_empty() {
        change.insert("author_url".into(), Value::String(author_url.to_owned()));
    }
    Value::Object(change)
}

/// One field: label, input, "Use system value", help, and its error when it has one.
pub fn render_field(field: &Field, values: &Values, error: Option<&str>, locked: bool) -> Markup {
    let id = field.name;
    let text = values.text.get(id).map(String::as_str).unwrap_or_default();
    let system = values.system.contains(id);
    let help_id = format!("help-{id}");
    let error_id = format!("error-{id}");
    let described = if error.is_some() {
        format!("{help_id} {error_id}")
    } else {
        help_id.clone()
    };
    html! {
        div.field.has-error[error.is_some()] id=(format!("field-{id}")) {
            label for=(id) { (field.label) }
            div.control {
                @match field.kind {
                    Kind::Bool => {
                        select id=(id) name=(id) aria-describedby=(described) disabled[locked] {
                            option value="true" selected[text == "true"] { "Yes" }
                            option value="false" selected[text != "true"] { "No" }
                        }
                    }
                    Kind::Choice(choices) => {
                        select id=(id) name=(id) aria-describedby=(described) disabled[locked] {
                            @for (value, label) in choices {
                                option value=(value) selected[text == *value] { (label) }
                            }
                        }
                    }
                    Kind::Lines => {
                        textarea id=(id) name=(id) rows="3" aria-describedby=(described)
                            aria-invalid=[error.map(|_| "true")] disabled[locked] { (text) }
                    }
                    Kind::Secret => {
                        input type="password" id=(id) name=(id) autocomplete="new-password"
                            aria-describedby=(described) disabled[locked]
                            placeholder=(if values.secrets_set.contains(id) { "•••••••• (stored; type to replace)" } else { "not set" });
                    }
                    Kind::Url => {
                        input type="url" id=(id) name=(id) value=(text) aria-describedby=(described)
                            aria-invalid=[error.map(|_| "true")] disabled[locked];
                    }
                    Kind::Text | Kind::Words => {
                        input type="text" id=(id) name=(id) value=(text) aria-describedby=(described)
                            aria-invalid=[error.map(|_| "true")] disabled[locked];
                    }
                }
                label.system {
                    input type="checkbox" name="use_system" value=(id) checked[system] disabled[locked]
                        data-for=(id);
                    " Use system value"
                }
            }
            @if let Some(error) = error {
                p.error id=(error_id) role="alert" { (error) }
            }
            p.help id=(help_id) { (field.help) }
        }
    }
}
