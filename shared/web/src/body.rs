//! Request bodies read by hand where the extractor defaults would answer
//! plain text: size limits, content types and optional JSON.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use vibes_domain::audio::{self, PcmError};
use vibes_problem::Problem;

pub const PCM_CONTENT_TYPE: &str = "application/octet-stream";

/// Reads the body, refusing it with 413 as soon as it grows past `limit`.
pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Bytes, Problem> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                "Request body unreadable",
            )
            .with_detail(error.to_string())
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "Body too large",
    )
    .with_detail(format!("the limit is {limit} bytes"))
    .with_extension("limit_bytes", limit)
}

/// The media type of the request without parameters, lower-cased.
pub fn media_type(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

pub fn unsupported_media_type(expected: &str, got: Option<&str>) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_content_type",
        "Unsupported content type",
    )
    .with_detail(format!(
        "expected {expected}, got {}",
        got.unwrap_or("no Content-Type")
    ))
}

/// An audio chunk of raw PCM: `application/octet-stream`, whole s16le stereo
/// frames, at most 1 MiB.
pub async fn read_pcm(request: &HttpRequest, payload: web::Payload) -> Result<Bytes, Problem> {
    let media_type = media_type(request);
    if media_type.as_deref() != Some(PCM_CONTENT_TYPE) {
        return Err(unsupported_media_type(
            PCM_CONTENT_TYPE,
            media_type.as_deref(),
        ));
    }
    if let Some(length) = declared_length(request) {
        if length > audio::MAX_RAW_BODY_BYTES {
            return Err(too_large(audio::MAX_RAW_BODY_BYTES));
        }
    }
    let body = read_limited(payload, audio::MAX_RAW_BODY_BYTES).await?;
    audio::validate_pcm_len(body.len()).map_err(pcm_problem)?;
    Ok(body)
}

fn declared_length(request: &HttpRequest) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn pcm_problem(error: PcmError) -> Problem {
    let (code, title) = match error {
        PcmError::Empty => ("empty_body", "Empty audio chunk"),
        PcmError::PartialFrame(_) => ("partial_frame", "Audio is not whole PCM frames"),
        PcmError::TooLarge(_) => return too_large(audio::MAX_RAW_BODY_BYTES),
    };
    Problem::new(StatusCode::BAD_REQUEST, code, title).with_detail(error.to_string())
}

/// A JSON body that may be absent: no body (or `Content-Length: 0`) is `T::default()`.
pub async fn read_optional_json<T>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<T, Problem>
where
    T: DeserializeOwned + Default,
{
    let body = read_limited(payload, crate::MAX_JSON_BODY_BYTES).await?;
    if body.is_empty() {
        return Ok(T::default());
    }
    let media_type = media_type(request);
    if media_type.as_deref() != Some("application/json") {
        return Err(unsupported_media_type(
            "application/json",
            media_type.as_deref(),
        ));
    }
    serde_json::from_slice(&body).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Malformed JSON body",
        )
        .with_detail(error.to_string())
    })
}
