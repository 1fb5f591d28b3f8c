//! Join and leave. With a participant token, the participant is the token's
//! `sub` (a body may repeat it, but not name someone else); anonymous callers
//! (only where allowed) bring their own id or get one.

use crate::auth::Authenticator;
use crate::rate_limit::{with_quota, RateLimiter, RequestClass};
use crate::startup::Upstreams;
use crate::upstream::Body;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};
use vibes_domain::{ParticipantId, VibeId};
use vibes_problem::Problem;
use vibes_web::body::JSON_CONTENT_TYPE;
use vibes_web::VibePath;

#[utoipa::path(
    post,
    path = "/stream/{vibe_id}/join",
    tag = "listener",
    params(("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`")),
    request_body(content = Option<JoinRequest>, description = "Optional: `participant_id`, which must be the token's `sub`"),
    responses(
        (status = 200, description = "A seat, with playback URLs carrying this participant's token", body = JoinResponse),
        (status = 400, description = "Bad id or JSON", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "Token missing, invalid or expired", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "The body names someone else", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "The stream is not live", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The stream is full", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "Registry or Redis unavailable", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "gateway_join", skip_all, fields(vibe_id = %vibe.0))]
pub async fn join(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let participant = participant(&request, payload, &auth).await?;
    let caller = participant.as_ref().map(ParticipantId::as_str);
    let quota = limiter
        .admit(RequestClass::Membership, &request, caller)
        .await?;
    let body = JoinRequest {
        participant_id: participant,
    };
    Ok(with_quota(
        forward(&vibe, "join", body, &upstreams).await?,
        quota,
    ))
}

#[utoipa::path(
    post,
    path = "/stream/{vibe_id}/leave",
    tag = "listener",
    params(("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`")),
    request_body(content = Option<LeaveRequest>, description = "Optional: `participant_id`, which must be the token's `sub`"),
    responses(
        (status = 200, description = "The seat is free (leaving twice is harmless)", body = LeaveResponse),
        (status = 400, description = "Bad id or JSON", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "Token missing, invalid or expired", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "The body names someone else", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "Registry unavailable", body = crate::openapi::ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "gateway_leave", skip_all, fields(vibe_id = %vibe.0))]
pub async fn leave(
    vibe: VibePath,
    request: HttpRequest,
    payload: web::Payload,
    auth: web::Data<Authenticator>,
    limiter: web::Data<RateLimiter>,
    upstreams: web::Data<Upstreams>,
) -> Result<HttpResponse, actix_web::Error> {
    let participant = participant(&request, payload, &auth)
        .await?
        .ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST, "invalid_json", "Who is leaving?")
                .with_detail("without a participant token the body must name participant_id")
        })?;
    let quota = limiter
        .admit(
            RequestClass::Membership,
            &request,
            Some(participant.as_str()),
        )
        .await?;
    let body = JoinRequest {
        participant_id: Some(participant),
    };
    Ok(with_quota(
        forward(&vibe, "leave", body, &upstreams).await?,
        quota,
    ))
}

/// The caller's participant id: the token's, checked against the body's.
async fn participant(
    request: &HttpRequest,
    payload: web::Payload,
    auth: &Authenticator,
) -> Result<Option<ParticipantId>, Problem> {
    let from_token = auth.participant(request)?;
    let body: JoinRequest = vibes_web::body::read_optional_json(request, payload).await?;
    match (from_token, body.participant_id) {
        (Some(token), Some(named)) if token != named => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "wrong_participant",
            "Not your participant id",
        )
        .with_detail(format!("the token is for {token}, the body names {named}"))),
        (Some(token), _) => Ok(Some(token)),
        (None, named) => Ok(named),
    }
}

async fn forward(
    vibe: &VibePath,
    action: &str,
    body: JoinRequest,
    upstreams: &Upstreams,
) -> Result<HttpResponse, actix_web::Error> {
    let bytes = serde_json::to_vec(&body).map_err(actix_web::error::ErrorInternalServerError)?;
    let body = Body {
        content_type: Some(JSON_CONTENT_TYPE.to_owned()),
        bytes: bytes.into(),
        headers: Vec::new(),
    };
    let path = format!("/stream/{}/{action}", vibe.0);
    Ok(upstreams
        .registry
        .forward(Method::POST, &path, Some(body))
        .await)
}
