//! Downloads of the DAM's originals for upload: the binary is fetched once its reply shows an image of an
//! acceptable size, then streamed with a limit (`max_binary_bytes`), so a download never holds more than the
//! limit and memory stays within concurrency × limit.

use super::{Failure, MagentoSink, millis, transport_error};
use crate::hosts::Admission;
use crate::sink::SinkError;
use bytes::Bytes;
use domain::AssetId;
use reqwest::header::CONTENT_TYPE;
use std::time::Duration;

/// The first allocation for a body of unknown length (it grows as chunks arrive, up to the limit).
const INITIAL_CAPACITY: u64 = 1024 * 1024;

impl MagentoSink {
    /// GETs a binary from the DAM (unsigned) and answers once the headers are in, the body not read. The
    /// host's `Retry-After` is honoured as for every request to the store; 408, 409, 429 and 5xx are
    /// `Unavailable` (retried); other statuses are left to the caller.
    pub(super) async fn get_binary(&self, url: &str) -> Result<reqwest::Response, SinkError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| SinkError::Rejected(format!("invalid URL {url}: {e}")))?;
        let host = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(0)
        );
        let probe = match self.gates.admit(&host) {
            Admission::Go { probe } => probe,
            Admission::Wait(left) => {
                return Err(SinkError::Unavailable {
                    message: format!("{host} asked to wait (Retry-After)"),
                    retry_after_ms: Some(millis(left)),
                });
            }
        };
        let reply = self.http.get(parsed.clone()).send().await;
        self.calls.count((
            "download_rendition",
            reply.as_ref().map_or(0, |r| r.status().as_u16()),
        ));
        let retry_after_ms = reply
            .as_ref()
            .ok()
            .and_then(|r| crate::aem::retry_after_ms(r.headers()));
        let throttle = match &reply {
            Ok(r) if matches!(r.status().as_u16(), 429 | 503) => {
                retry_after_ms.map(Duration::from_millis)
            }
            _ => None,
        };
        self.gates.finish(&host, probe, throttle);
        let response = reply.map_err(|e| SinkError::Unavailable {
            message: format!("GET {}: {}", parsed.path(), transport_error(&e)),
            retry_after_ms: None,
        })?;
        let status = response.status();
        match status.as_u16() {
            408 | 409 | 429 | 500..=599 => Err(SinkError::Unavailable {
                message: format!("GET {} answered {status}", parsed.path()),
                retry_after_ms,
            }),
            _ => Ok(response),
        }
    }
}

/// Reads the image body of a successful download within `limit` bytes, with its MIME type. The content type
/// is checked first (not `image/*`: refused without reading the body), then the declared `Content-Length`,
/// then the body chunk by chunk, stopping as soon as it passes the limit.
pub(super) async fn read_image(
    asset: &AssetId,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<(Bytes, String), Failure> {
    let mime = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_owned();
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !essence.starts_with("image/") {
        return Err(refused(format!(
            "the DAM delivers {asset} as {mime:?}, which is not an image"
        )));
    }
    let too_large = |size: String| {
        refused(format!(
            "{asset} is {size} in the DAM, more than [commerce] max_binary_bytes ({limit})"
        ))
    };
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(too_large(format!("{length} bytes")));
    }
    let capacity = response
        .content_length()
        .unwrap_or(INITIAL_CAPACITY)
        .min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        Failure::Sink(SinkError::Unavailable {
            message: format!("downloading {asset}: {}", transport_error(&e)),
            retry_after_ms: None,
        })
    })? {
        let needed = body.len().saturating_add(chunk.len());
        if u64::try_from(needed).unwrap_or(u64::MAX) > limit {
            return Err(too_large(format!("more than {limit} bytes")));
        }
        if needed > body.capacity() {
            // Grow by doubling, but never past the limit (the buffer stays within `limit` bytes).
            let target = needed
                .max(body.capacity().saturating_mul(2))
                .min(usize::try_from(limit).unwrap_or(usize::MAX));
            body.reserve_exact(target.saturating_sub(body.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(body), mime))
}

fn refused(reason: String) -> Failure {
    Failure::Sink(SinkError::BinaryRefused(reason))
}
