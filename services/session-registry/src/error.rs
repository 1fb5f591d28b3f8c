use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use vibes_domain::{ParticipantId, VibeId};
use vibes_problem::Problem;
use vibes_redis::RedisError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("stream {0} is not live")]
    StreamNotLive(VibeId),
    #[error("stream {vibe} is full ({participant_count} of {cap})")]
    StreamFull {
        vibe: VibeId,
        participant_count: u64,
        cap: u64,
    },
    #[error("participant {0} left; join again to play")]
    ParticipantLeft(ParticipantId),
    #[error("the session store (Redis) is unavailable")]
    Redis(#[from] RedisError),
}

impl From<&RegistryError> for Problem {
    fn from(error: &RegistryError) -> Self {
        match error {
            RegistryError::StreamNotLive(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "stream_not_live",
                "Stream is not live",
            )
            .with_detail(error.to_string()),
            RegistryError::StreamFull {
                participant_count,
                cap,
                ..
            } => Problem::new(StatusCode::CONFLICT, "stream_full", "Stream is full")
                .with_detail(error.to_string())
                .with_extension("participant_count", *participant_count)
                .with_extension("max_participants", *cap),
            RegistryError::ParticipantLeft(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "participant_left",
                "Participant left",
            )
            .with_detail(error.to_string()),
            RegistryError::Redis(cause) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry_unavailable",
                "Session registry unavailable",
            )
            .with_detail(format!("{error}: {cause}"))
            .with_retry_after(1),
        }
    }
}

impl ResponseError for RegistryError {
    fn status_code(&self) -> StatusCode {
        Problem::from(self).status_code()
    }

    fn error_response(&self) -> HttpResponse {
        Problem::from(self).error_response()
    }
}
