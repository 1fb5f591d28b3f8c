//! Where SRS reports publishers and players (`http_hooks`): it allows a
//! client only when answered HTTP 200 with body `0`, so a player without a
//! genuine token for a seat (or the edge's relay key) gets no media.
//! A publish marks the stream live (again, e.g. after Redis lost its data);
//! an unpublish does not end it, because an encoder restart unpublishes for a
//! moment: the owning ingest pod ends streams.

use crate::error::{PlayerRefused, RegistryError};
use crate::playback::Playback;
use crate::players::{player_started, player_stopped};
use crate::store::SessionStore;
use actix_web::{web, HttpResponse};
use srs_client::{SrsCallbackEvent, SrsCallbackReq};
use vibes_domain::VibeId;

/// SRS allows the client only on HTTP 200 with this body.
const SRS_ALLOW: &str = "0";

pub async fn srs(
    request: web::Json<SrsCallbackReq>,
    store: web::Data<SessionStore>,
    playback: web::Data<Playback>,
) -> Result<HttpResponse, RegistryError> {
    let request = request.into_inner();
    let stream = request.stream.as_deref().unwrap_or_default();
    let vibe =
        VibeId::parse(stream).map_err(|_| PlayerRefused::InvalidStream(stream.to_owned()))?;
    match request.action {
        SrsCallbackEvent::OnPlay => {
            let query = request.param.as_deref().unwrap_or_default();
            player_started(&store, &playback, &vibe, &request.client_id, query).await?;
        }
        SrsCallbackEvent::OnStop => {
            if let Err(error) = player_stopped(&store, &vibe, &request.client_id).await {
                tracing::warn!(%error, "could not record a stopped player");
            }
        }
        SrsCallbackEvent::OnPublish => stream_published(&store, &vibe).await?,
        _ => {}
    }
    Ok(HttpResponse::Ok().body(SRS_ALLOW))
}

/// The engine has a publisher for `vibe`: the stream is live.
async fn stream_published(store: &SessionStore, vibe: &VibeId) -> Result<(), RegistryError> {
    store.register_stream(vibe, "", None).await?;
    tracing::info!(vibe_id = %vibe, "engine reports the stream published");
    Ok(())
}
