use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use vibes_problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the stream's audio buffer is full; retry after the queued audio has played")]
    BufferFull,
    #[error("the stream is ending; send again to start a new one")]
    StreamEnding,
    #[error("chunk {seq} is older than the last accepted chunk {last}")]
    StaleChunk { seq: u64, last: u64 },
    #[error("the session registry is unreachable: {0}")]
    RegistryUnreachable(#[from] reqwest::Error),
    #[error("the session registry refused with {status}: {body}")]
    RegistryRefused { status: u16, body: String },
}

impl From<&IngestError> for Problem {
    fn from(error: &IngestError) -> Self {
        let problem = match error {
            IngestError::BufferFull => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "buffer_full",
                "Audio buffer full",
            )
            .with_retry_after(1),
            IngestError::StaleChunk { last, .. } => Problem::new(
                StatusCode::CONFLICT,
                "stale_chunk_seq",
                "Chunk already superseded",
            )
            .with_extension("last_seq", *last),
            IngestError::StreamEnding => {
                Problem::new(StatusCode::CONFLICT, "stream_ending", "Stream is ending")
                    .with_retry_after(1)
            }
            IngestError::RegistryUnreachable(_) | IngestError::RegistryRefused { .. } => {
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "registry_unavailable",
                    "Session registry unavailable",
                )
                .with_retry_after(1)
            }
        };
        problem.with_detail(error.to_string())
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        Problem::from(self).status_code()
    }

    fn error_response(&self) -> HttpResponse {
        Problem::from(self).error_response()
    }
}
