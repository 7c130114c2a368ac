//! Originals the delivery tier can be told to serve instead of an asset's usual rendition, for the
//! commerce sink's download limits: a large, valid PNG (with or without `Content-Length`) or a body of
//! another type (a proxy's HTML page, a PDF). Bodies are generated as they are sent, and every byte handed
//! to the connection is counted, so a test can see how much of a body a client took.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What `/adobe/assets/{id}/original/as/{seo}` serves for one asset (see
/// [`crate::aem::AemEmulator::serve_original`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginalBody {
    /// A valid PNG of exactly `bytes` bytes (at least the PNG's own ~100); with `declared_length` the reply
    /// carries `Content-Length`, otherwise it is sent chunked.
    Png { bytes: u64, declared_length: bool },
    /// `bytes` bytes declared as `content_type`, with `Content-Length`.
    Typed { content_type: String, bytes: u64 },
}

/// Bytes sent per chunk.
const CHUNK: u64 = 64 * 1024;

/// The reply for `body`; every byte sent is added to `sent`.
pub(crate) fn respond(body: &OriginalBody, sent: Arc<AtomicU64>) -> Response {
    match body {
        OriginalBody::Png {
            bytes,
            declared_length,
        } => {
            let png = LargePng::new(*bytes);
            let length = png.len();
            let body = Body::from_stream(counted(png.chunks(), sent));
            let mut response = ([(header::CONTENT_TYPE, "image/png")], body).into_response();
            if *declared_length {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
            }
            response
        }
        OriginalBody::Typed {
            content_type,
            bytes,
        } => {
            let page = b"<html><body>Not the asset: a page of the proxy.</body></html>";
            let total = *bytes;
            let chunks = (0..total.div_ceil(CHUNK)).map(move |i| {
                let size = CHUNK.min(total - i * CHUNK);
                let chunk: Vec<u8> = page
                    .iter()
                    .copied()
                    .cycle()
                    .take(usize::try_from(size).unwrap_or(0))
                    .collect();
                Bytes::from(chunk)
            });
            let body = Body::from_stream(counted(chunks, sent));
            let mut response = body.into_response();
            let headers = response.headers_mut();
            if let Ok(value) = header::HeaderValue::from_str(content_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(total));
            response
        }
    }
}

/// A stream of `chunks`, generated one at a time as the connection takes them, each counted into `sent`.
fn counted(
    chunks: impl Iterator<Item = Bytes> + Send + 'static,
    sent: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    futures_util::stream::iter(chunks.map(move |chunk| {
        sent.fetch_add(u64::try_from(chunk.len()).unwrap_or(0), Ordering::Relaxed);
        Ok(chunk)
    }))
}

/// The 1×1 pixel PNG with a `tEXt` chunk of filler that brings it to the asked size.
struct LargePng {
    filler: u64,
}

impl LargePng {
    /// Signature and IHDR (33 bytes), then the `tEXt` chunk's length, type and keyword.
    const KEYWORD: &'static [u8] = b"Comment\0";

    fn new(bytes: u64) -> Self {
        let fixed = Self::fixed_len();
        Self {
            filler: bytes.saturating_sub(fixed),
        }
    }

    /// Everything but the filler: the pixel PNG plus the `tEXt` chunk's length, type, keyword and CRC.
    fn fixed_len() -> u64 {
        u64::try_from(crate::aem::PIXEL_PNG.len() + 12 + Self::KEYWORD.len()).unwrap_or(0)
    }

    fn len(&self) -> u64 {
        Self::fixed_len() + self.filler
    }

    /// The PNG in chunks: head, filler (its CRC computed as it goes), then the CRC and the rest.
    fn chunks(self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let (head, rest) = crate::aem::PIXEL_PNG.split_at(33);
        let data_len = u32::try_from(Self::KEYWORD.len() as u64 + self.filler).unwrap_or(u32::MAX);
        let mut first = head.to_vec();
        first.extend_from_slice(&data_len.to_be_bytes());
        first.extend_from_slice(b"tEXt");
        first.extend_from_slice(Self::KEYWORD);
        let mut crc = crate::aem::crc32_update(!0, b"tEXt");
        crc = crate::aem::crc32_update(crc, Self::KEYWORD);
        let filler = self.filler;
        let mut offset = 0u64;
        let mut done = false;
        let mut started = false;
        std::iter::from_fn(move || {
            if !started {
                started = true;
                return Some(Bytes::from(first.clone()));
            }
            if offset < filler {
                let size = CHUNK.min(filler - offset);
                offset += size;
                let dots = vec![b'.'; usize::try_from(size).unwrap_or(0)];
                crc = crate::aem::crc32_update(crc, &dots);
                return Some(Bytes::from(dots));
            }
            if done {
                return None;
            }
            done = true;
            let mut last = (!crc).to_be_bytes().to_vec();
            last.extend_from_slice(rest);
            Some(Bytes::from(last))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LargePng;

    #[test]
    fn a_large_png_has_the_asked_size_and_valid_chunks() {
        let png = LargePng::new(300_000);
        assert_eq!(png.len(), 300_000);
        let bytes: Vec<u8> = png.chunks().flat_map(|c| c.to_vec()).collect();
        assert_eq!(bytes.len(), 300_000);
        assert!(bytes.starts_with(&[0x89, b'P', b'N', b'G']));
        // The tEXt chunk's CRC covers its type and data.
        let length = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]) as usize;
        let crc_at = 37 + 4 + length;
        let crc = u32::from_be_bytes([
            bytes[crc_at],
            bytes[crc_at + 1],
            bytes[crc_at + 2],
            bytes[crc_at + 3],
        ]);
        assert_eq!(crc, crate::aem::crc32(&bytes[37..crc_at]));
        assert!(bytes.ends_with(b"IEND\xAE\x42\x60\x82"));
    }
}
