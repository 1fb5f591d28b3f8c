//! Request bodies read by hand where the extractor defaults would answer
//! plain text: size limits, content types and optional JSON.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use vibes_domain::api::LyriaMessage;
use vibes_domain::audio::{self, PcmError};
use vibes_problem::Problem;

pub const PCM_CONTENT_TYPE: &str = "application/octet-stream";
pub const JSON_CONTENT_TYPE: &str = "application/json";

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

/// An audio chunk as PCM: raw (`application/octet-stream`, at most 1 MiB) or
/// a Lyria message (`application/json`, at most 2 MiB, base64 inside). Either
/// way the audio is whole s16le stereo frames, at most 1 MiB of them.
pub async fn read_audio(request: &HttpRequest, payload: web::Payload) -> Result<Bytes, Problem> {
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
        return Err(too_large(limit));
    }
    let body = read_limited(payload, limit).await?;
    let pcm = if is_json { decode_lyria(&body)? } else { body };
    audio::validate_pcm_len(pcm.len()).map_err(pcm_problem)?;
    let encoding = if is_json { "lyria" } else { "raw" };
    crate::metrics::record_chunk(request, encoding, pcm.len());
    Ok(pcm)
}

/// The PCM inside a Lyria message: every chunk's base64 payload, in order.
fn decode_lyria(body: &[u8]) -> Result<Bytes, Problem> {
    let message: LyriaMessage = serde_json::from_slice(body).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Malformed JSON body",
        )
        .with_detail(error.to_string())
    })?;
    let chunks = message.chunks();
    if chunks.is_empty() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "no_audio",
            "No audio in the message",
        )
        .with_detail("expected serverContent.audioChunks[].data or data (base64 PCM)"));
    }
    let mut pcm = BytesMut::new();
    for (index, (data, mime_type)) in chunks.into_iter().enumerate() {
        if let Some(mime_type) = mime_type {
            check_mime_type(mime_type)?;
        }
        let decoded = STANDARD.decode(data).map_err(|error| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_base64",
                "Audio is not valid base64",
            )
            .with_detail(format!("audio chunk {index}: {error}"))
        })?;
        pcm.extend_from_slice(&decoded);
    }
    Ok(pcm.freeze())
}

/// Lyria labels its PCM `audio/l16` (or `audio/pcm`) with optional `rate`
/// and `channels` parameters; anything else is not the format we encode.
fn check_mime_type(mime_type: &str) -> Result<(), Problem> {
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
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_audio_format",
        "Unsupported audio format",
    )
    .with_detail(format!(
        "{mime_type}: expected 16-bit PCM, 48000 Hz, 2 channels"
    )))
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
    if media_type.as_deref() != Some(JSON_CONTENT_TYPE) {
        return Err(unsupported_media_type(
            JSON_CONTENT_TYPE,
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
