//! Magento's error replies and messages, word for word, and the fixed vocabularies (roles, MIME types).

use super::*;

pub(super) const NO_PRODUCT: &str =
    "The product that was requested doesn't exist. Verify the product and try again.";
pub(super) const NO_IMAGE: &str = "There is no image with provided ID.";
pub(super) const NO_STORE: &str =
    "The store that was requested wasn't found. Verify the store and try again.";
pub(super) const NO_ROUTE: &str = "Request does not match any route.";
pub(super) const CONTENT_REQUIRED: &str = "The image content is required.";
pub(super) const BAD_CONTENT: &str = "The image content must be valid base64 encoded data.";
pub(super) const BAD_MIME: &str = "The image MIME type is not valid or not supported.";
pub(super) const BAD_NAME: &str = "Provided image name contains forbidden characters.";
pub(super) const NAME_REQUIRED: &str = "The image name is required.";
pub(super) const BAD_EXTENSION: &str =
    "The image type for the file is invalid. Enter the correct image type and try again.";
pub(super) const BAD_MEDIA_TYPE: &str = "The media type is not supported.";
/// An `external-video` entry without `extension_attributes.video_content` (the emulator's words: Magento's
/// converter reads it unconditionally and fails).
pub(super) const VIDEO_CONTENT_REQUIRED: &str =
    "The video content is required for an external video entry.";
/// A `video_content` whose `media_type` is not `external-video` (the emulator's words).
pub(super) const BAD_VIDEO_MEDIA_TYPE: &str =
    "The video content's media type must be external-video.";
/// A `video_content` without a `video_url` (the emulator's words).
pub(super) const VIDEO_URL_REQUIRED: &str = "The video URL is required.";
pub(super) const UNAUTHORIZED: &str = "The consumer isn't authorized to access %resources.";
pub(super) const FIELD_REQUIRED: &str = "\"%fieldName\" is required. Enter and try again.";
pub(super) const INVALID_TYPE: &str = "The \"%value\" value's type is invalid. The \"%type\" type was expected. Verify and try again.";

/// The media roles Magento knows (product attributes), in the order they are reported.
pub(super) const ROLES: [&str; 4] = ["image", "small_image", "thumbnail", "swatch_image"];
/// Image MIME types accepted, with the extension Magento appends to a name without one.
pub(super) const MIME_TYPES: [(&str, &str); 4] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];
/// File extensions Magento's gallery processor accepts.
pub(super) const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "gif", "png", "webp"];
/// Accepted distance between `oauth_timestamp` and now, in seconds.
pub(super) const TIMESTAMP_WINDOW_SECS: i64 = 600;
/// Request bodies up to this size are read (base64 images are large).
pub(super) const MAX_BODY: usize = 64 * 1024 * 1024;

/// A Magento error answer: `{"message", "parameters"}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) message: String,
    pub(super) parameters: Value,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.to_owned(),
            parameters: json!([]),
        }
    }

    pub(super) fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(super) fn field_required(field: &str) -> Self {
        Self {
            parameters: json!({ "fieldName": field }),
            ..Self::bad_request(FIELD_REQUIRED)
        }
    }

    pub(super) fn invalid_type(value: &Value, expected: &str) -> Self {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Self {
            parameters: json!({ "value": shown, "type": expected }),
            ..Self::bad_request(INVALID_TYPE)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "parameters": self.parameters })),
        )
            .into_response()
    }
}

/// What a gallery operation did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    Product,
    Image,
}

impl From<Missing> for ApiError {
    fn from(missing: Missing) -> Self {
        match missing {
            Missing::Product => Self::not_found(NO_PRODUCT),
            Missing::Image => Self::not_found(NO_IMAGE),
        }
    }
}
