use crate::auth::Authenticator;
use crate::rate_limit::{with_quota, RateLimiter, RequestClass};
use crate::startup::Upstreams;
use crate::upstream::Body;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_web::body::PCM_CONTENT_TYPE;
use vibes_web::headers::{CHUNK_SEQ_HEADER, CREATOR_HEADER};
use vibes_web::VibePath;

/// Checked here (creator token, rate, id, content type, whole frames, size,
/// chunk number) so bad chunks never cost an ingest pod anything; a Lyria JSON
/// body is decoded here and passed on as raw PCM, a third smaller than base64.
#[tracing::instrument(name = "gateway_audio", skip_all, fields(vibe_id = %vibe.0, creator, bytes, seq))]
pub async fn audio(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let creator = auth.creator(&request, &vibe.0)?;
    tracing::Span::current().record("creator", creator.as_str());
    let quota = limiter
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
    let response = upstreams
        .ingest
        .forward(Method::POST, &path, Some(body))
        .await;
    Ok(with_quota(response, quota))
}

#[tracing::instrument(name = "gateway_end_stream", skip_all, fields(vibe_id = %vibe.0))]
pub async fn end(
    vibe: VibePath,
    request: HttpRequest,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let creator = auth.creator(&request, &vibe.0)?;
    let quota = limiter
        .admit(RequestClass::Audio, &request, Some(creator.as_str()))
        .await?;
    let path = format!("/stream/{}", vibe.0);
    let response = upstreams.ingest.forward(Method::DELETE, &path, None).await;
    Ok(with_quota(response, quota))
}

pub async fn active(
    request: HttpRequest,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let quota = limiter.admit(RequestClass::Reads, &request, None).await?;
    let response = upstreams
        .registry
        .forward(Method::GET, "/streams/active", None)
        .await;
    Ok(with_quota(response, quota))
}
