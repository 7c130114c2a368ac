//! Reading Magento's replies: its error messages (with their `%1` / `%name` placeholders filled), the two
//! 404s that mean something (a missing product, a missing entry), and the names of calls and transport errors
//! for the counters and messages.

use super::Failure;
use crate::sink::SinkError;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// The operation a request performs, for the call counters.
pub(super) fn operation(method: &Method, signed: bool, path: &str) -> &'static str {
    match (method.as_str(), signed, path.ends_with("/media")) {
        (_, false, _) => "download_rendition",
        ("GET", true, true) => "list_media",
        ("GET", true, false) if path.ends_with("/V1/products") => "list_products",
        ("GET", true, false) => "get",
        ("POST", ..) => "create_entry",
        ("PUT", ..) => "update_entry",
        ("DELETE", ..) => "delete_entry",
        _ => "other",
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

pub(super) fn transport_error(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirect refused (to another origin, or too many)"
    } else {
        "request failed"
    }
}

/// Magento's error text, with `%1`-style or `%name` placeholders filled from `parameters`.
pub(super) fn magento_message(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return String::from_utf8_lossy(body).chars().take(200).collect();
    };
    let mut message = value["message"].as_str().unwrap_or_default().to_owned();
    match &value["parameters"] {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate().rev() {
                message =
                    message.replace(&format!("%{}", i + 1), item.as_str().unwrap_or_default());
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                message = message.replace(&format!("%{name}"), item.as_str().unwrap_or_default());
            }
        }
        _ => {}
    }
    message
}

/// Magento's "The product that was requested doesn't exist. Verify the product and try again."
pub(super) fn is_missing_product(body: &[u8]) -> bool {
    magento_message(body)
        .to_ascii_lowercase()
        .contains("the product that was requested doesn't exist")
}

/// The start of a reply's message, printable, for a reason shown in health.
pub(super) fn short_message(body: &[u8]) -> String {
    magento_message(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect()
}

pub(super) fn is_missing_entry(body: &[u8]) -> bool {
    magento_message(body)
        .to_ascii_lowercase()
        .contains("no image with provided id")
}

pub(super) fn rejected(status: StatusCode, body: &[u8]) -> Failure {
    Failure::Sink(SinkError::Rejected(format!(
        "HTTP {status}: {}",
        magento_message(body)
    )))
}
