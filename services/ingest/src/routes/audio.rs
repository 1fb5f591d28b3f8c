use crate::streams::LiveStreams;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{AudioAccepted, StreamEnded};
use vibes_domain::audio::pcm_duration;
use vibes_web::VibePath;

#[tracing::instrument(name = "accept_audio", skip_all, fields(vibe_id = %vibe.0, bytes))]
pub async fn accept(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let pcm = vibes_web::body::read_pcm(&request, payload).await?;
    let accepted_bytes = pcm.len();
    tracing::Span::current().record("bytes", accepted_bytes);
    let pipeline = streams.accept(&vibe.0, pcm).await?;
    Ok(HttpResponse::Accepted().json(AudioAccepted {
        vibe_id: vibe.0,
        accepted_bytes: accepted_bytes as u64,
        accepted_ms: pcm_duration(accepted_bytes).as_millis() as u64,
        queued_chunks: pipeline.queued_chunks() as u64,
    }))
}

#[tracing::instrument(name = "end_stream", skip_all, fields(vibe_id = %vibe.0))]
pub async fn end(
    vibe: VibePath,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let was_live = streams.end(&vibe.0).await?;
    Ok(HttpResponse::Ok().json(StreamEnded {
        vibe_id: vibe.0,
        was_live,
    }))
}
