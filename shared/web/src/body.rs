//! Request bodies read by hand where the extractor defaults would answer
//! plain text: size limits, content types and optional JSON.

use crate::error::RequestError;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use vibes_domain::api::LyriaMessage;
use vibes_domain::audio;

pub const PCM_CONTENT_TYPE: &str = "application/octet-stream";
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Reads the body, refusing it with 413 as soon as it grows past `limit`.
pub async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Bytes, RequestError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(RequestError::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(RequestError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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

pub fn unsupported_media_type(expected: &str, got: Option<&str>) -> RequestError {
    RequestError::UnsupportedContentType {
        expected: expected.to_owned(),
        got: got.map(str::to_owned),
    }
}

/// An audio chunk as PCM: raw (`application/octet-stream`, at most 1 MiB) or
/// a Lyria message (`application/json`, at most 2 MiB, base64 inside). Either
/// way the audio is whole s16le stereo frames, at most 1 MiB of them.
pub async fn read_audio(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Bytes, RequestError> {
    let media_type = media_type(request);
    let (limit, is_json) = match media_type.as_deref() {
        Some(PCM_CONTENT_TYPE) => (audio::MAX_RAW_BODY_BYTES, false),
        Some(JSON_CONTENT_TYPE) => (crate::MAX_JSON_BODY_BYTES, true),
        other => {
            let expected = format!("{PCM_CONTENT_TYPE} or {JSON_CONTENT_TYPE}");
            return Err(unsupported_media_type(&expected, other));
        }
    };
    if declared_length(request).is_some_and(|length| length > limit) {
        return Err(RequestError::TooLarge { limit });
    }
    let body = read_limited(payload, limit).await?;
    let pcm = if is_json { decode_lyria(&body)? } else { body };
    audio::validate_pcm_len(pcm.len())?;
    let encoding = if is_json { "lyria" } else { "raw" };
    crate::metrics::record_chunk(request, encoding, pcm.len());
    Ok(pcm)
}

/// The PCM inside a Lyria message: every chunk's base64 payload, in order.
fn decode_lyria(body: &[u8]) -> Result<Bytes, RequestError> {
    let message: LyriaMessage = serde_json::from_slice(body)
        .map_err(|error| RequestError::InvalidJson(error.to_string()))?;
    let chunks = message.chunks();
    if chunks.is_empty() {
        return Err(RequestError::NoAudio);
    }
    let mut pcm = BytesMut::new();
    for (index, (data, mime_type)) in chunks.into_iter().enumerate() {
        if let Some(mime_type) = mime_type {
            check_mime_type(mime_type)?;
        }
        let decoded = STANDARD
            .decode(data)
            .map_err(|error| RequestError::InvalidBase64 { index, error })?;
        pcm.extend_from_slice(&decoded);
    }
    Ok(pcm.freeze())
}

/// Lyria labels its PCM `audio/l16` (or `audio/pcm`) with optional `rate`
/// and `channels` parameters; anything else is not the format we encode.
fn check_mime_type(mime_type: &str) -> Result<(), RequestError> {
    let lowered = mime_type.to_ascii_lowercase();
    let mut parts = lowered.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    let parameter_ok = |part: &str| match part.split_once('=') {
        Some(("rate", rate)) => rate == audio::SAMPLE_RATE_HZ.to_string(),
        Some(("channels", channels)) => channels == audio::CHANNELS.to_string(),
        _ => true,
    };
    if matches!(essence, "audio/l16" | "audio/pcm") && parts.all(parameter_ok) {
        return Ok(());
    }
    Err(RequestError::UnsupportedAudioFormat {
        mime_type: mime_type.to_owned(),
    })
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

/// A JSON body that may be absent: no body (or `Content-Length: 0`) is `T::default()`.
pub async fn read_optional_json<T>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<T, RequestError>
where
    T: DeserializeOwned + Default,
{
    let body = read_limited(payload, crate::MAX_JSON_BODY_BYTES).await?;
    if body.is_empty() {
        return Ok(T::default());
    }
    let media_type = media_type(request);
    if media_type.as_deref() != Some(JSON_CONTENT_TYPE) {
        return Err(unsupported_media_type(
            JSON_CONTENT_TYPE,
            media_type.as_deref(),
        ));
    }
    serde_json::from_slice(&body).map_err(|error| RequestError::InvalidJson(error.to_string()))
}
