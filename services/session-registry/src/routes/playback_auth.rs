//! The edge's `auth_request` target: may this media request be served?

use crate::error::RegistryError;
use crate::playback::Playback;
use crate::redis::SeatRequest;
use crate::store::SessionStore;
use actix_web::{web, HttpRequest, HttpResponse};

/// The playback token the edge parsed from the media URL.
pub const TOKEN_HEADER: &str = "x-playback-token";
/// The stream the edge parsed from the same URL: the one it will serve.
pub const STREAM_HEADER: &str = "x-playback-stream";

/// 204 when the token is genuine, unexpired and for that stream, and its
/// participant holds (or can take back) a seat; the lease is renewed.
/// 401 for a missing, malformed, forged or expired token; 403 when the token
/// is fine but the participant may not play (left, stream ended or full).
/// While Redis is unreachable a genuine token still plays (204): its HMAC
/// proves a join admitted it, and new joins are refused meanwhile, so no
/// participant beyond the ones already seated can get a token.
#[tracing::instrument(name = "playback_auth", skip_all, fields(vibe_id, participant_id))]
pub async fn authorize(
    request: HttpRequest,
    playback: web::Data<Playback>,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let (vibe, participant) = playback.authorize(header(TOKEN_HEADER), header(STREAM_HEADER))?;
    let span = tracing::Span::current();
    span.record("vibe_id", vibe.as_str());
    span.record(
        "participant_id",
        vibes_telemetry::participant_field(participant.as_str()),
    );
    match store.seat(&vibe, &participant, SeatRequest::Renew).await {
        Ok(_) => {}
        Err(error @ RegistryError::Redis(_)) => {
            let error = vibes_problem::cause_chain(&error);
            tracing::warn!(%error, "playing on a genuine token without its seat");
        }
        Err(refusal) => return Err(refusal.for_media()),
    }
    Ok(HttpResponse::NoContent().finish())
}
