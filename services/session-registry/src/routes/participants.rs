use crate::error::RegistryError;
use crate::playback::Playback;
use crate::redis::SeatRequest;
use crate::store::SessionStore;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};
use vibes_domain::ParticipantId;
use vibes_web::VibePath;

#[tracing::instrument(name = "join", skip_all, fields(vibe_id = %vibe.0, participant_id))]
pub async fn join(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    store: web::Data<SessionStore>,
    playback: web::Data<Playback>,
) -> Result<HttpResponse, actix_web::Error> {
    let body: JoinRequest = vibes_web::body::read_optional_json(&request, payload).await?;
    let participant = body.participant_id.unwrap_or_else(ParticipantId::generate);
    let shown = vibes_telemetry::participant_field(participant.as_str());
    tracing::Span::current().record("participant_id", shown);
    let seat = store.seat(&vibe.0, &participant, SeatRequest::Join).await?;
    Ok(HttpResponse::Ok().json(JoinResponse {
        playback: playback.urls_for(&vibe.0, &participant),
        vibe_id: vibe.0,
        participant_id: participant,
        participant_count: seat.participant_count,
        max_participants: seat.cap,
        lease_seconds: store.terms().lease.as_secs(),
    }))
}

#[tracing::instrument(name = "leave", skip_all, fields(vibe_id = %vibe.0, participant_id))]
pub async fn leave(
    vibe: VibePath,
    body: web::Json<LeaveRequest>,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    let LeaveRequest { participant_id } = body.into_inner();
    let shown = vibes_telemetry::participant_field(participant_id.as_str());
    tracing::Span::current().record("participant_id", shown);
    let outcome = store.leave(&vibe.0, &participant_id).await?;
    Ok(HttpResponse::Ok().json(LeaveResponse {
        vibe_id: vibe.0,
        participant_id,
        left: outcome.removed,
        participant_count: outcome.participant_count,
    }))
}
