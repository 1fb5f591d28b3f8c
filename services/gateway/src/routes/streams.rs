use crate::auth::Authenticator;
use crate::error::GatewayError;
use crate::ingest_router::IngestRouter;
use crate::rate_limit::{RateLimiter, RequestClass};
use crate::upstream::{Body, Upstreams};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{ActiveStreams, AudioAccepted, LyriaMessage, StreamEnded};
use vibes_domain::VibeId;
use vibes_web::body::PCM_CONTENT_TYPE;
use vibes_web::headers::{CHUNK_SEQ_HEADER, CREATOR_HEADER};
use vibes_web::VibePath;

vibes_problem::problem_responses!(
    /// What a chunk may be refused with, here or by the stream's ingest pod.
    AudioProblems: [
        InvalidVibeId, InvalidChunkSeq, EmptyBody, PartialFrame, InvalidJson, InvalidBase64,
        NoAudio, BodyUnreadable, TokenMissing, TokenInvalid, TokenExpired, WrongRole, WrongVibe,
        StaleChunkSeq, StreamEnding, BodyTooLarge, UnsupportedContentType,
        UnsupportedAudioFormat, RateLimited, BufferFull, RegistryUnavailable, IngestUnavailable,
        IngestPoolUnavailable, OwnershipUnavailable, UpstreamBroken,
    ]
);

vibes_problem::problem_responses!(
    /// What ending a stream may be refused with, here or by its ingest pod.
    EndProblems: [
        InvalidVibeId, TokenMissing, TokenInvalid, TokenExpired, WrongRole, WrongVibe,
        RateLimited, RegistryUnavailable, IngestUnavailable, IngestPoolUnavailable,
        OwnershipUnavailable, UpstreamBroken,
    ]
);

vibes_problem::problem_responses!(
    /// What the listing may be refused with.
    ActiveProblems: [RateLimited, RegistryUnavailable, UpstreamBroken]
);

/// Checked here (creator token, rate, id, content type, whole frames, size,
/// chunk number) so bad chunks never cost an ingest pod anything; a Lyria JSON
/// body is decoded here and passed on as raw PCM, a third smaller than base64.
#[utoipa::path(
    post,
    path = "/stream/{vibe_id}/audio",
    tag = "creator",
    params(
        ("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`"),
        ("X-Chunk-Seq" = Option<u64>, Header, description = "Increasing per stream: a retry with the same number adds no audio"),
    ),
    request_body(
        description = "Raw s16le 48 kHz stereo PCM (≤ 1 MiB, whole frames), or a Lyria RealTime message carrying it in base64 (≤ 2 MiB)",
        content((Vec<u8> = "application/octet-stream"), (LyriaMessage = "application/json")),
    ),
    responses(
        (status = 202, description = "Queued for the encoder", body = AudioAccepted),
        (status = 200, description = "A retry of the last accepted chunk: its first answer, `duplicate: true`", body = AudioAccepted),
        AudioProblems,
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "gateway_audio", skip_all, fields(vibe_id = %vibe.0, creator, bytes, seq))]
pub async fn audio(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    ingest: web::Data<IngestRouter>,
) -> Result<HttpResponse, GatewayError> {
    let creator = auth.creator(&request, &vibe.0)?;
    tracing::Span::current().record("creator", creator.as_str());
    limiter
        .admit(RequestClass::Audio, &request, Some(creator.as_str()))
        .await?;
    let seq = vibes_web::headers::chunk_seq(&request)?;
    let pcm = vibes_web::body::read_audio(&request, payload).await?;
    let span = tracing::Span::current();
    span.record("bytes", pcm.len());
    if let Some(seq) = seq {
        span.record("seq", seq);
    }
    let mut headers = vec![(CREATOR_HEADER, creator.to_string())];
    headers.extend(seq.map(|seq| (CHUNK_SEQ_HEADER, seq.to_string())));
    let body = Body {
        content_type: Some(PCM_CONTENT_TYPE.to_owned()),
        bytes: pcm,
        headers,
    };
    let path = format!("/stream/{}/audio", vibe.0);
    ingest
        .forward(&vibe.0, Method::POST, &path, Some(body))
        .await
}

#[utoipa::path(
    delete,
    path = "/stream/{vibe_id}",
    tag = "creator",
    params(("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`")),
    responses(
        (status = 200, description = "Queued audio was played out and the stream ended", body = StreamEnded),
        EndProblems,
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "gateway_end_stream", skip_all, fields(vibe_id = %vibe.0))]
pub async fn end(
    vibe: VibePath,
    request: HttpRequest,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    ingest: web::Data<IngestRouter>,
) -> Result<HttpResponse, GatewayError> {
    let creator = auth.creator(&request, &vibe.0)?;
    limiter
        .admit(RequestClass::Audio, &request, Some(creator.as_str()))
        .await?;
    let path = format!("/stream/{}", vibe.0);
    ingest.forward(&vibe.0, Method::DELETE, &path, None).await
}

#[utoipa::path(
    get,
    path = "/streams/active",
    tag = "listener",
    responses(
        (status = 200, description = "Live streams (playback URLs without tokens: playing needs a join)", body = ActiveStreams),
        ActiveProblems,
    ),
)]
pub async fn active(
    request: HttpRequest,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, GatewayError> {
    limiter.admit(RequestClass::Reads, &request, None).await?;
    upstreams
        .registry
        .forward(Method::GET, "/streams/active", None)
        .await
}
