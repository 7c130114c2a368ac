//! The emulated Author API search (reference §10.6): `match` and `term` clauses, paged by an opaque cursor.

use super::author::author_refusal;
use super::{Asset, Shared, asset_json, problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::ops::Bound;
use std::sync::Arc;

#[derive(Deserialize)]
struct SearchBody {
    #[serde(default)]
    query: Vec<Value>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A `match` clause: lower-cased text without `*` (empty: everything) and the fields it searches.
struct TextMatch {
    text: String,
    fields: Vec<String>,
}

impl TextMatch {
    fn read(clause: &Value) -> Self {
        Self {
            text: clause["text"]
                .as_str()
                .unwrap_or("*")
                .replace('*', "")
                .trim()
                .to_lowercase(),
            fields: clause["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn matches(&self, asset: &Asset) -> bool {
        if self.text.is_empty() {
            return true;
        }
        let contains = |value: &Value| match value {
            Value::String(s) => s.to_lowercase().contains(&self.text),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|s| s.to_lowercase().contains(&self.text)),
            _ => false,
        };
        if self.fields.is_empty() {
            return asset
                .repository
                .values()
                .chain(asset.metadata.values())
                .any(contains);
        }
        self.fields
            .iter()
            .filter_map(|field| field_value(asset, field))
            .any(contains)
    }
}

fn field_value<'a>(asset: &'a Asset, field: &str) -> Option<&'a Value> {
    if let Some(key) = field.strip_prefix("assetMetadata.") {
        asset.metadata.get(key)
    } else if let Some(key) = field.strip_prefix("repositoryMetadata.") {
        asset.repository.get(key)
    } else {
        None
    }
}

/// Search (§10.6): `match {text, fields}` matches assets whose fields (a string or a list of strings; every
/// field when none are named) contain the text, without case (`*` wildcards are ignored; `*` alone matches
/// everything); `term {field: [values]}` matches assets whose field (a string or a list) holds any value. Results by asset id, paged with an opaque cursor: the total
/// counted for the first page and the last asset id given, so that a page costs its own assets, not the
/// catalog's (paging a million assets by offset was quadratic).
pub(super) async fn search(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = author_refusal(&shared, &headers) {
        return refusal;
    }
    let Ok(body) = serde_json::from_slice::<SearchBody>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "body must be {query, limit?, cursor?}",
        );
    };
    let limit = body.limit.unwrap_or(10);
    if limit == 0 || limit > 1000 {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "limit must be between 1 and 1000",
        );
    }
    let (counted, after) = match body.cursor.as_deref().map(parse_cursor) {
        None => (None, None),
        Some(Some((total, after))) => (Some(total), Some(after)),
        Some(None) => return problem(StatusCode::BAD_REQUEST, "Bad Request", "invalid cursor"),
    };
    let mut terms = Vec::new();
    let mut texts = Vec::new();
    for clause in &body.query {
        if let Some(term) = clause.get("term").and_then(Value::as_object) {
            terms.extend(term.iter().map(|(k, v)| (k.clone(), v.clone())));
        } else if let Some(text) = clause.get("match") {
            texts.push(TextMatch::read(text));
        } else {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "only match and term clauses are supported",
            );
        }
    }
    let inner = shared.lock();
    let wanted = |asset: &Asset| {
        terms
            .iter()
            .all(|(field, wanted)| term_matches(asset, field, wanted))
            && texts.iter().all(|text| text.matches(asset))
    };
    let total = counted.unwrap_or_else(|| inner.assets.values().filter(|a| wanted(a)).count());
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut matching = inner
        .assets
        .range::<str, _>((from, Bound::Unbounded))
        .filter(|(_, asset)| wanted(asset));
    let found: Vec<_> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let last = found.last().map(|(id, _)| id.as_str().to_owned());
    let page: Vec<Value> = found
        .into_iter()
        .map(|(id, asset)| asset_json(id, asset))
        .collect();
    let mut reply = json!({
        "hits": { "results": page },
        "search_metadata": { "count": page.len(), "totalCount": { "total": total, "relation": "eq" }, "searchDuration": 1 },
    });
    if let (true, Some(last)) = (more, last) {
        reply["cursor"] = json!(format!("{total}.{last}"));
    }
    Json(reply).into_response()
}

/// A cursor this emulator gave: `<total>.<last asset id>`.
fn parse_cursor(cursor: &str) -> Option<(usize, &str)> {
    let (total, after) = cursor.split_once('.')?;
    Some((total.parse().ok()?, after))
}

fn term_matches(asset: &Asset, field: &str, wanted: &Value) -> bool {
    let value = field_value(asset, field);
    let wanted: Vec<&Value> = wanted
        .as_array()
        .map_or_else(|| vec![wanted], |a| a.iter().collect());
    match value {
        Some(Value::Array(items)) => items.iter().any(|item| wanted.contains(&item)),
        Some(single) => wanted.contains(&single),
        None => false,
    }
}
