//! Where the media engine reports publishers and players: xiu's notify hooks
//! (fire-and-forget, so a refused player is disconnected through the engine
//! API) and SRS's `http_hooks` (which refuse a player unless answered 200 `0`).
//! A publish marks the stream live (again, e.g. after Redis lost its data);
//! an unpublish does not end it, because an encoder restart unpublishes for a
//! moment: the owning ingest pod ends streams.

use crate::engine::EngineClients;
use crate::playback::Playback;
use crate::players::{player_started, player_stopped};
use crate::store::SessionStore;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Deserialize;
use srs_client::{SrsCallbackEvent, SrsCallbackReq};
use vibes_domain::VibeId;
use vibes_problem::Problem;

/// SRS allows the client only on HTTP 200 with this body.
const SRS_ALLOW: &str = "0";

/// xiu's hook body (StreamHubEventMessage), sent without a content type.
#[derive(Debug, Deserialize)]
enum XiuEvent {
    Subscribe {
        identifier: XiuIdentifier,
        info: XiuClientInfo,
    },
    UnSubscribe {
        identifier: XiuIdentifier,
        info: XiuClientInfo,
    },
    Publish {
        identifier: XiuIdentifier,
    },
    UnPublish {
        identifier: XiuIdentifier,
    },
}

#[derive(Debug, Deserialize)]
struct XiuIdentifier {
    rtmp: XiuRtmpName,
}

#[derive(Debug, Deserialize)]
struct XiuRtmpName {
    stream_name: String,
}

#[derive(Debug, Deserialize)]
struct XiuClientInfo {
    id: String,
    #[serde(default)]
    sub_type: String,
    notify_info: XiuNotifyInfo,
}

#[derive(Debug, Deserialize)]
struct XiuNotifyInfo {
    #[serde(default)]
    request_url: String,
}

pub async fn xiu(
    body: web::Bytes,
    store: web::Data<SessionStore>,
    playback: web::Data<Playback>,
    engine: web::Data<EngineClients>,
) -> HttpResponse {
    let event: XiuEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_hook",
                "Unreadable engine hook",
            )
            .with_detail(error.to_string())
            .error_response()
        }
    };
    match event {
        // Only HTTP-FLV players: the engine's own HLS remuxer subscribes too.
        XiuEvent::Subscribe { identifier, info } if info.sub_type.contains("HttpFlv") => {
            let Ok(vibe) = VibeId::parse(&identifier.rtmp.stream_name) else {
                return HttpResponse::Ok().body(SRS_ALLOW);
            };
            let query = info
                .notify_info
                .request_url
                .split_once('?')
                .map(|(_, query)| query)
                .unwrap_or("");
            if let Err(refusal) = player_started(&store, &playback, &vibe, &info.id, query).await {
                tracing::warn!(vibe_id = %vibe, client_id = %info.id, %refusal, "refused FLV player; disconnecting");
                if let Err(error) = engine.disconnect(&info.id).await {
                    tracing::warn!(client_id = %info.id, %error, "could not disconnect a refused player");
                }
            }
        }
        XiuEvent::UnSubscribe { identifier, info } if info.sub_type.contains("HttpFlv") => {
            if let Ok(vibe) = VibeId::parse(&identifier.rtmp.stream_name) {
                if let Err(error) = player_stopped(&store, &vibe, &info.id).await {
                    tracing::warn!(%error, "could not record a stopped player");
                }
            }
        }
        XiuEvent::Publish { identifier } => {
            if let Ok(vibe) = VibeId::parse(&identifier.rtmp.stream_name) {
                if let Err(error) = stream_published(&store, &vibe).await {
                    tracing::warn!(%error, "could not mark a published stream live");
                }
            }
        }
        XiuEvent::UnPublish { identifier } => {
            tracing::info!(stream = %identifier.rtmp.stream_name, "engine reports the publisher gone");
        }
        XiuEvent::Subscribe { .. } | XiuEvent::UnSubscribe { .. } => {}
    }
    HttpResponse::Ok().body(SRS_ALLOW)
}

pub async fn srs(
    request: web::Json<SrsCallbackReq>,
    store: web::Data<SessionStore>,
    playback: web::Data<Playback>,
) -> HttpResponse {
    let request = request.into_inner();
    let stream = request.stream.as_deref().unwrap_or_default();
    let Ok(vibe) = VibeId::parse(stream) else {
        return refuse_srs(&format!("invalid stream name {stream:?}"));
    };
    match request.action {
        SrsCallbackEvent::OnPlay => {
            let query = request.param.as_deref().unwrap_or_default();
            match player_started(&store, &playback, &vibe, &request.client_id, query).await {
                Ok(_) => HttpResponse::Ok().body(SRS_ALLOW),
                Err(refusal) => refuse_srs(&refusal.to_string()),
            }
        }
        SrsCallbackEvent::OnStop => {
            if let Err(error) = player_stopped(&store, &vibe, &request.client_id).await {
                tracing::warn!(%error, "could not record a stopped player");
            }
            HttpResponse::Ok().body(SRS_ALLOW)
        }
        SrsCallbackEvent::OnPublish => match stream_published(&store, &vibe).await {
            Ok(()) => HttpResponse::Ok().body(SRS_ALLOW),
            Err(error) => error.error_response(),
        },
        _ => HttpResponse::Ok().body(SRS_ALLOW),
    }
}

/// The engine has a publisher for `vibe`: the stream is live.
async fn stream_published(
    store: &SessionStore,
    vibe: &VibeId,
) -> Result<(), crate::error::RegistryError> {
    store.register_stream(vibe, "", None).await?;
    tracing::info!(vibe_id = %vibe, "engine reports the stream published");
    Ok(())
}

fn refuse_srs(reason: &str) -> HttpResponse {
    Problem::new(
        StatusCode::FORBIDDEN,
        "playback_forbidden",
        "Playback not allowed",
    )
    .with_detail(reason)
    .error_response()
}
