//! What is wrong with a request before any service looks at its meaning:
//! the path's stream id, the body's size, type and encoding, `X-Chunk-Seq`,
//! unknown routes. Every service wraps [`RequestError`] in its own error type.

use actix_web::error::{JsonPayloadError, PathError, PayloadError};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use vibes_domain::audio::PcmError;
use vibes_domain::IdError;
use vibes_problem::{Code, Problem, ToProblem};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("vibeId {0}")]
    InvalidVibeId(IdError),
    #[error("{0}")]
    Unreadable(PayloadError),
    #[error("the limit is {limit} bytes")]
    TooLarge { limit: usize },
    #[error("expected {expected}, got {}", got.as_deref().unwrap_or("no Content-Type"))]
    UnsupportedContentType {
        expected: String,
        got: Option<String>,
    },
    #[error("{0}")]
    Pcm(PcmError),
    #[error("{0}")]
    InvalidJson(String),
    #[error("expected serverContent.audioChunks[].data or data (base64 PCM)")]
    NoAudio,
    #[error("audio chunk {index}: {error}")]
    InvalidBase64 {
        index: usize,
        error: base64::DecodeError,
    },
    #[error("{mime_type}: expected 16-bit PCM, 48000 Hz, 2 channels")]
    UnsupportedAudioFormat { mime_type: String },
    #[error("X-Chunk-Seq must be one unsigned 64-bit integer")]
    InvalidChunkSeq,
    #[error("{0}")]
    NoRoute(String),
}

impl ToProblem for RequestError {
    fn code(&self) -> Code {
        match self {
            Self::InvalidVibeId(_) => Code::InvalidVibeId,
            Self::Unreadable(_) => Code::BodyUnreadable,
            Self::TooLarge { .. } | Self::Pcm(PcmError::TooLarge(_)) => Code::BodyTooLarge,
            Self::UnsupportedContentType { .. } => Code::UnsupportedContentType,
            Self::Pcm(PcmError::Empty) => Code::EmptyBody,
            Self::Pcm(PcmError::PartialFrame(_)) => Code::PartialFrame,
            Self::InvalidJson(_) => Code::InvalidJson,
            Self::NoAudio => Code::NoAudio,
            Self::InvalidBase64 { .. } => Code::InvalidBase64,
            Self::UnsupportedAudioFormat { .. } => Code::UnsupportedAudioFormat,
            Self::InvalidChunkSeq => Code::InvalidChunkSeq,
            Self::NoRoute(_) => Code::NotFound,
        }
    }

    fn extend(&self, problem: Problem) -> Problem {
        match self {
            Self::TooLarge { limit } => problem.with_extension("limit_bytes", *limit),
            _ => problem,
        }
    }
}

vibes_problem::response_error!(RequestError);

impl From<PcmError> for RequestError {
    /// PCM over the limit is refused like any body over it.
    fn from(error: PcmError) -> Self {
        match error {
            PcmError::TooLarge(_) => Self::TooLarge {
                limit: vibes_domain::audio::MAX_RAW_BODY_BYTES,
            },
            other => Self::Pcm(other),
        }
    }
}

impl From<&JsonPayloadError> for RequestError {
    fn from(error: &JsonPayloadError) -> Self {
        match error {
            JsonPayloadError::OverflowKnownLength { limit, .. }
            | JsonPayloadError::Overflow { limit } => Self::TooLarge { limit: *limit },
            JsonPayloadError::Payload(PayloadError::Overflow) => Self::TooLarge {
                limit: crate::MAX_JSON_BODY_BYTES,
            },
            JsonPayloadError::ContentType => Self::UnsupportedContentType {
                expected: crate::body::JSON_CONTENT_TYPE.to_owned(),
                got: None,
            },
            other => Self::InvalidJson(other.to_string()),
        }
    }
}

/// actix-web answers malformed JSON bodies with plain text by default.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .error_handler(|error, _request| RequestError::from(&error).into())
}

/// A path that does not parse names no resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|error: PathError, _request| RequestError::NoRoute(error.to_string()).into())
}

/// Default service: unknown routes answer a problem, not an empty 404.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    RequestError::NoRoute(format!("{} {}", request.method(), request.path())).error_response()
}
