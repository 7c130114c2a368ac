//! Delivery: the PNG rendition every emulated asset serves (with the CRC-32 its chunks carry), and the
//! rendition and original endpoints, which serve approved assets only.

use super::{Shared, problem};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A tiny valid PNG (1×1), the binary every emulated asset delivers.
pub(crate) const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The PNG rendition of an asset: the 1×1 pixel with a `tEXt` chunk that brings it to 20–50 KB (fixed per
/// asset id), the size of a real product-image rendition, so that commerce uploads carry realistic bodies.
pub(super) fn rendition_png(asset_id: &str) -> Vec<u8> {
    let hash = asset_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let target = 20 * 1024 + usize::try_from(hash % (30 * 1024)).unwrap_or(0);
    let (signature_and_header, rest) = PIXEL_PNG.split_at(33);
    let mut chunk_data = b"Comment\0".to_vec();
    chunk_data.resize(target.saturating_sub(PIXEL_PNG.len() + 12), b'.');
    let mut png = Vec::with_capacity(target);
    png.extend_from_slice(signature_and_header);
    png.extend_from_slice(&u32::try_from(chunk_data.len()).unwrap_or(0).to_be_bytes());
    let typed_start = png.len();
    png.extend_from_slice(b"tEXt");
    png.extend_from_slice(&chunk_data);
    let crc = crc32(&png[typed_start..]);
    png.extend_from_slice(&crc.to_be_bytes());
    png.extend_from_slice(rest);
    png
}

/// CRC-32 (ISO-HDLC) as PNG chunks carry it.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    !crc32_update(!0, bytes)
}

/// The CRC-32 register after `bytes`, from `register` (start with `!0`, finish with `!`).
pub(crate) fn crc32_update(register: u32, bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    bytes.iter().fold(register, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// Whether delivery serves the asset: approved, to `delivery` or with no target.
fn deliverable(metadata: &Map<String, Value>) -> bool {
    metadata.get("dam:status").and_then(Value::as_str) == Some("approved")
        && metadata
            .get("dam:activationTarget")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "delivery")
}

/// Delivery serves approved assets only (approved to `delivery` or with no target). JPEG and PNG assets are
/// delivered as a PNG rendition; other formats as bytes of that format (TIFF, PDF, ...), as the DAM would.
pub(super) async fn rendition(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, _seo)): Path<(String, String)>,
) -> Response {
    let inner = shared.lock();
    let Some(asset) = inner
        .assets
        .get(&asset_id)
        .filter(|asset| deliverable(&asset.metadata))
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "asset not found or not approved for delivery",
        );
    };
    let format = asset
        .repository
        .get("dc:format")
        .and_then(Value::as_str)
        .unwrap_or("image/png");
    match format {
        // A video's image rendition is its poster frame.
        video if video.starts_with("video/") => (
            [(header::CONTENT_TYPE, "image/png")],
            rendition_png(&asset_id),
        )
            .into_response(),
        "image/png" | "image/jpeg" => (
            [(header::CONTENT_TYPE, "image/png")],
            rendition_png(&asset_id),
        )
            .into_response(),
        "image/tiff" => (
            [(header::CONTENT_TYPE, "image/tiff")],
            &b"II*\0\x08\0\0\0emulated tiff"[..],
        )
            .into_response(),
        other => (
            [(header::CONTENT_TYPE, other.to_owned())],
            &b"%PDF-1.4 emulated document"[..],
        )
            .into_response(),
    }
}

/// The original of an approved asset: the body set by [`AemEmulator::serve_original`](super::AemEmulator::serve_original), else the rendition.
pub(super) async fn original(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, seo)): Path<(String, String)>,
) -> Response {
    let (set, video) = {
        let mut inner = shared.lock();
        *inner.original_reads.entry(asset_id.clone()).or_default() += 1;
        let video = inner
            .assets
            .get(&asset_id)
            .filter(|asset| deliverable(&asset.metadata))
            .and_then(|asset| asset.repository.get("dc:format")?.as_str())
            .filter(|format| format.starts_with("video/"))
            .map(str::to_owned);
        let set = inner.originals.get(&asset_id).cloned().filter(|_| {
            inner
                .assets
                .get(&asset_id)
                .is_some_and(|asset| deliverable(&asset.metadata))
        });
        (set, video)
    };
    match (set, video) {
        (Some(body), _) => crate::originals::respond(&body, shared.original_bytes.clone()),
        (None, Some(format)) => (
            [(header::CONTENT_TYPE, format)],
            &b"\0\0\0\x18ftypmp42 emulated video"[..],
        )
            .into_response(),
        (None, None) => rendition(State(shared), Path((asset_id, seo))).await,
    }
}
