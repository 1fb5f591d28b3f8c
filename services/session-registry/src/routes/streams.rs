use crate::error::RegistryError;
use crate::playback::Playback;
use crate::store::SessionStore;
use actix_web::{web, HttpResponse};
use std::time::{Duration, UNIX_EPOCH};
use vibes_domain::api::{
    ActiveStream, ActiveStreams, MaxParticipants, StreamEnded, StreamRegistered, StreamRegistration,
};
use vibes_web::VibePath;

#[tracing::instrument(name = "active_streams", skip_all)]
pub async fn active(
    store: web::Data<SessionStore>,
    playback: web::Data<Playback>,
) -> Result<HttpResponse, RegistryError> {
    let streams = store
        .live_streams()
        .await?
        .into_iter()
        .map(|(record, participant_count)| ActiveStream {
            playback: playback.public_urls(&record.vibe_id),
            started_at: rfc3339_utc(record.started_at_ms),
            creator: record.creator,
            participant_count,
            max_participants: record.max_participants.unwrap_or(store.terms().default_cap),
            vibe_id: record.vibe_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ActiveStreams { streams }))
}

/// Internal: the ingest instance publishing a stream registers it (again after
/// a Redis restart or a handover; the first start time is kept).
#[tracing::instrument(name = "register_stream", skip_all, fields(vibe_id = %vibe.0, owner = %body.owner))]
pub async fn register(
    vibe: VibePath,
    body: web::Json<StreamRegistration>,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    let fresh = store
        .register_stream(&vibe.0, &body.owner, body.creator.as_deref())
        .await?;
    let mut response = if fresh {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(StreamRegistered {
        vibe_id: vibe.0,
        fresh,
    }))
}

#[tracing::instrument(name = "end_stream", skip_all, fields(vibe_id = %vibe.0))]
pub async fn end(
    vibe: VibePath,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    let was_live = store.end_stream(&vibe.0).await?;
    Ok(HttpResponse::Ok().json(StreamEnded {
        vibe_id: vibe.0,
        was_live,
    }))
}

/// Internal (operators): overrides one live stream's participant cap.
#[tracing::instrument(name = "set_cap", skip_all, fields(vibe_id = %vibe.0, cap = body.max_participants))]
pub async fn set_cap(
    vibe: VibePath,
    body: web::Json<MaxParticipants>,
    store: web::Data<SessionStore>,
) -> Result<HttpResponse, RegistryError> {
    store.set_cap(&vibe.0, body.max_participants).await?;
    Ok(HttpResponse::Ok().json(body.into_inner()))
}

fn rfc3339_utc(epoch_ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(epoch_ms)).to_string()
}
