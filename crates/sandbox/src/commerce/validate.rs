//! Request bodies parsed and validated as Magento does (messages, image magic numbers, file names, an
//! `external-video` entry's video content; its poster image is validated as any image content).

use super::*;

/// The JSON body of a POST or PUT (Magento needs a JSON Content-Type).
pub(super) fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if content_type.is_empty() {
        return Err(ApiError::bad_request("Content-Type header is empty."));
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" {
        return Err(ApiError {
            parameters: json!([media_type]),
            ..ApiError::bad_request(
                "Server cannot understand Content-Type HTTP header media type %1",
            )
        });
    }
    serde_json::from_slice(body).map_err(|_| ApiError::bad_request("Decoding error: Syntax error"))
}

/// The mutable fields of `entry`, type-checked; absent ones take their defaults (a PUT replaces them all).
pub(super) fn entry_fields(entry: &Map<String, Value>) -> Result<EntryFields, ApiError> {
    let video = match entry.get("media_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(kind)) if kind == "image" => None,
        Some(Value::String(kind)) if kind == "external-video" => Some(video_content(entry)?),
        Some(_) => return Err(ApiError::bad_request(BAD_MEDIA_TYPE)),
    };
    let label = match entry.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(label)) => Some(label.clone()),
        Some(other) => return Err(ApiError::invalid_type(other, "string")),
    };
    let position = match entry.get("position") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| ApiError::invalid_type(value, "int"))?,
    };
    let disabled = match entry.get("disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(disabled)) => *disabled,
        Some(other) => return Err(ApiError::invalid_type(other, "bool")),
    };
    let types = match entry.get("types") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut given = Vec::with_capacity(items.len());
            for item in items {
                given.push(
                    item.as_str()
                        .ok_or_else(|| ApiError::invalid_type(item, "string"))?,
                );
            }
            roles_from(&given)
        }
        Some(other) => return Err(ApiError::invalid_type(other, "string[]")),
    };
    Ok(EntryFields {
        label,
        position,
        disabled,
        types,
        video,
    })
}

/// The `extension_attributes.video_content` an `external-video` entry must carry (Magento's
/// `ExternalVideoEntryConverter` reads it on every write): `media_type` `external-video`, a `video_url`, the
/// other fields strings (absent: empty).
fn video_content(entry: &Map<String, Value>) -> Result<VideoContent, ApiError> {
    let content = entry
        .get("extension_attributes")
        .and_then(|e| e.get("video_content"))
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(VIDEO_CONTENT_REQUIRED))?;
    let text = |name: &str| -> Result<String, ApiError> {
        match content.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(value)) => Ok(value.clone()),
            Some(other) => Err(ApiError::invalid_type(other, "string")),
        }
    };
    if text("media_type")? != "external-video" {
        return Err(ApiError::bad_request(BAD_VIDEO_MEDIA_TYPE));
    }
    let url = text("video_url")?;
    if url.trim().is_empty() {
        return Err(ApiError::bad_request(VIDEO_URL_REQUIRED));
    }
    Ok(VideoContent {
        provider: text("video_provider")?,
        url,
        title: text("video_title")?,
        description: text("video_description")?,
        metadata: text("video_metadata")?,
    })
}

/// A validated POST: the entry's fields and the sanitized file name (extension included).
#[derive(Debug)]
pub(super) struct Upload {
    pub(super) fields: EntryFields,
    pub(super) file_name: String,
}

/// Validates a POST body `{"entry": {..., "content": {...}}}` as Magento's image content validator does.
pub(super) fn validate_new_entry(body: &Value) -> Result<Upload, ApiError> {
    let entry = body
        .get("entry")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(CONTENT_REQUIRED))?;
    let fields = entry_fields(entry)?;
    let content = entry
        .get("content")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(CONTENT_REQUIRED))?;
    let data = content
        .get("base64_encoded_data")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(BAD_CONTENT))?;
    let bytes = BASE64
        .decode(data)
        .map_err(|_| ApiError::bad_request(BAD_CONTENT))?;
    let detected = detect_image(&bytes).ok_or_else(|| ApiError::bad_request(BAD_CONTENT))?;
    let declared = content.get("type").and_then(Value::as_str);
    if declared != Some(detected) {
        return Err(ApiError::bad_request(BAD_MIME));
    }
    let name = content.get("name").and_then(Value::as_str).unwrap_or("");
    if name.contains(['\\', '/', ':', '*', '?', '"', '<', '>', '|']) {
        return Err(ApiError::bad_request(BAD_NAME));
    }
    if name.is_empty() {
        return Err(ApiError::bad_request(NAME_REQUIRED));
    }
    let file_name = file_name(name, detected)?;
    Ok(Upload { fields, file_name })
}

/// The MIME type of an image recognised by its magic number.
pub(super) fn detect_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The stored name: the MIME type's extension appended when the name has none, characters other than
/// `A-Z a-z 0-9 _ - .` replaced by `_` (runs collapsed), an all-underscore stem renamed `file`; the
/// extension must be an image one.
pub(super) fn file_name(name: &str, mime: &str) -> Result<String, ApiError> {
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| !ext.is_empty());
    let mut full = name.to_owned();
    if !has_extension {
        let extension = MIME_TYPES
            .iter()
            .find(|(m, _)| *m == mime)
            .map_or("jpg", |(_, e)| *e);
        full.push('.');
        full.push_str(extension);
    }
    let mut sanitized = String::with_capacity(full.len());
    let mut replacing = false;
    for c in full.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            sanitized.push(c);
            replacing = false;
        } else if !replacing {
            sanitized.push('_');
            replacing = true;
        }
    }
    let (stem, extension) = sanitized
        .rsplit_once('.')
        .map_or((sanitized.as_str(), ""), |(s, e)| (s, e));
    if !EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
        return Err(ApiError::bad_request(BAD_EXTENSION));
    }
    if !stem.is_empty() && stem.chars().all(|c| c == '_') {
        return Ok(format!("file.{extension}"));
    }
    Ok(sanitized)
}

/// A validated PUT: the entry id named in the body (if any) and the fields that replace the entry's.
pub(super) fn parse_update(body: &Value) -> Result<(Option<u64>, EntryFields), ApiError> {
    let entry = body
        .get("entry")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::field_required("entry"))?;
    let id = match entry.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| ApiError::invalid_type(&Value::Number(n.clone()), "int"))?,
        ),
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_type(&Value::String(s.clone()), "int"))?,
        ),
        Some(other) => return Err(ApiError::invalid_type(other, "int")),
    };
    Ok((id, entry_fields(entry)?))
}

pub(super) fn parse_entry_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::invalid_type(&Value::String(raw.to_owned()), "int"))
}
