//! The edge's `auth_request` target: may this media request be served?

use crate::error::RegistryError;
use crate::playback::Playback;
use crate::store::SessionStore;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use vibes_problem::Problem;
use vibes_redis::SeatRequest;

/// The header nginx sets to the media request's path and query.
pub const ORIGINAL_URI_HEADER: &str = "x-original-uri";

/// 204 when the path's token is genuine, unexpired and for that stream, and
/// its participant holds (or can take back) a seat; the lease is renewed.
/// 401 for a missing, malformed, forged or expired token; 403 when the token
/// is fine but the participant may not play (left, stream ended or full).
#[tracing::instrument(name = "playback_auth", skip_all, fields(vibe_id, participant_id))]
pub async fn authorize(
    request: HttpRequest,
    playback: web::Data<Playback>,
    store: web::Data<SessionStore>,
) -> HttpResponse {
    let media_path = request
        .headers()
        .get(ORIGINAL_URI_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let (vibe, participant) = match playback.authorize(media_path) {
        Ok(granted) => granted,
        Err(error) => {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "playback_token_invalid",
                "Playback token refused",
            )
            .with_detail(error.to_string())
            .error_response()
        }
    };
    let span = tracing::Span::current();
    span.record("vibe_id", vibe.as_str());
    span.record(
        "participant_id",
        vibes_telemetry::participant_field(participant.as_str()),
    );
    match store.seat(&vibe, &participant, SeatRequest::Renew).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(error @ RegistryError::Redis(_)) => error.error_response(),
        Err(error) => Problem::from(&error)
            .with_status(StatusCode::FORBIDDEN)
            .error_response(),
    }
}
