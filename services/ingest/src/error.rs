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
    #[error("ingest pod {owner} publishes this stream")]
    NotOwner {
        owner: String,
        owner_url: Option<String>,
    },
    #[error("this ingest pod is shutting down and takes no new streams")]
    Draining,
    #[error("stream ownership cannot be checked: {0}")]
    OwnershipUnavailable(#[from] vibes_redis::RedisError),
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
            IngestError::NotOwner { owner, owner_url } => {
                let problem = Problem::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    "not_owner",
                    "Another ingest pod publishes this stream",
                )
                .with_extension("owner", owner.as_str());
                match owner_url {
                    Some(url) => problem.with_extension("owner_url", url.as_str()),
                    None => problem,
                }
            }
            IngestError::Draining => Problem::new(
                StatusCode::MISDIRECTED_REQUEST,
                "draining",
                "Ingest pod shutting down",
            ),
            IngestError::OwnershipUnavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ownership_unavailable",
                "Stream ownership unavailable",
            )
            .with_retry_after(1),
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
