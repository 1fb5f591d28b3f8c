use crate::error::IngestError;
use crate::streams::LiveStreams;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{AudioAccepted, StreamEnded};
use vibes_domain::audio::pcm_duration;
use vibes_domain::CreatorId;
use vibes_web::headers::CREATOR_HEADER;
use vibes_web::VibePath;

/// 202 for a new chunk, 200 for a retry of the last accepted one (same answer).
#[tracing::instrument(name = "accept_audio", skip_all, fields(vibe_id = %vibe.0, bytes, seq))]
pub async fn accept(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, IngestError> {
    let seq = vibes_web::headers::chunk_seq(&request)?;
    let creator = creator(&request);
    let pcm = vibes_web::body::read_audio(&request, payload).await?;
    let span = tracing::Span::current();
    span.record("bytes", pcm.len());
    if let Some(seq) = seq {
        span.record("seq", seq);
    }
    let accepted = streams.accept(&vibe.0, pcm, seq, creator.as_ref()).await?;
    let mut response = if accepted.duplicate {
        HttpResponse::Ok()
    } else {
        HttpResponse::Accepted()
    };
    Ok(response.json(AudioAccepted {
        vibe_id: vibe.0,
        accepted_bytes: accepted.accepted_bytes as u64,
        accepted_ms: pcm_duration(accepted.accepted_bytes).as_millis() as u64,
        queued_chunks: accepted.queued_chunks as u64,
        seq: accepted.seq,
        duplicate: accepted.duplicate,
    }))
}

/// The creator the gateway authenticated (ingest is only reachable inside).
fn creator(request: &HttpRequest) -> Option<CreatorId> {
    let value = request.headers().get(CREATOR_HEADER)?.to_str().ok()?;
    CreatorId::parse(value).ok()
}

#[tracing::instrument(name = "end_stream", skip_all, fields(vibe_id = %vibe.0))]
pub async fn end(
    vibe: VibePath,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, IngestError> {
    let was_live = streams.end(&vibe.0).await?;
    Ok(HttpResponse::Ok().json(StreamEnded {
        vibe_id: vibe.0,
        was_live,
    }))
}
