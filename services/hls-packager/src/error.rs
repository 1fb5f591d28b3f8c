use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use vibes_problem::Problem;

/// Every refusal of the packager; each becomes one problem+json answer.
/// Details name what the client can change, never the engine or its errors.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    #[error("{0}")]
    InvalidDirective(&'static str),
    #[error(
        "_HLS_msn/_HLS_part ask for more than the playlist may wait for (RFC 8216bis 6.2.5.2)"
    )]
    TooFarAhead,
    #[error("the playlist did not reach the requested part within three target durations")]
    PlaylistNotReady,
    #[error("the part was not made within three target durations")]
    PartNotReady,
    #[error("the stream has no audio yet; retry shortly")]
    StreamStarting,
    #[error("the stream is not live")]
    StreamNotLive,
    #[error("no such file of this stream")]
    NoSuchFile,
    #[error("this packager serves {0} streams already")]
    AtCapacity(usize),
}

impl From<&PackagerError> for Problem {
    fn from(error: &PackagerError) -> Self {
        let (status, code, title, retry) = match error {
            PackagerError::InvalidDirective(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_reload_directive",
                "Invalid playlist delivery directive",
                None,
            ),
            PackagerError::TooFarAhead => (
                StatusCode::BAD_REQUEST,
                "reload_too_far_ahead",
                "Blocking reload too far ahead",
                None,
            ),
            PackagerError::PlaylistNotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                "playlist_not_ready",
                "Playlist not ready",
                Some(1),
            ),
            PackagerError::PartNotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                "part_not_ready",
                "Part not ready",
                Some(1),
            ),
            PackagerError::StreamStarting => (
                StatusCode::SERVICE_UNAVAILABLE,
                "stream_starting",
                "Stream starting",
                Some(1),
            ),
            PackagerError::StreamNotLive => (
                StatusCode::NOT_FOUND,
                "stream_not_live",
                "Stream is not live",
                None,
            ),
            PackagerError::NoSuchFile => {
                (StatusCode::NOT_FOUND, "not_found", "No such resource", None)
            }
            PackagerError::AtCapacity(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "packager_full",
                "Packager at capacity",
                Some(5),
            ),
        };
        let problem = Problem::new(status, code, title).with_detail(error.to_string());
        match retry {
            Some(seconds) => problem.with_retry_after(seconds),
            None => problem,
        }
    }
}

impl ResponseError for PackagerError {
    fn status_code(&self) -> StatusCode {
        Problem::from(self).status_code()
    }

    fn error_response(&self) -> HttpResponse {
        Problem::from(self).error_response()
    }
}
