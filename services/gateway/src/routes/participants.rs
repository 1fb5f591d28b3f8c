//! Join and leave. With a participant token, the participant is the token's
//! `sub` (a body may repeat it, but not name someone else); anonymous callers
//! (only where allowed) bring their own id or get one.

use crate::auth::Authenticator;
use crate::error::GatewayError;
use crate::rate_limit::{RateLimiter, RequestClass};
use crate::upstream::{Body, Upstreams};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use vibes_domain::api::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};
use vibes_domain::{ParticipantId, VibeId};
use vibes_web::body::JSON_CONTENT_TYPE;
use vibes_web::VibePath;

vibes_problem::problem_responses!(
    /// What a join may be refused with, here or by the registry.
    JoinProblems: [
        InvalidVibeId, InvalidJson, BodyUnreadable, TokenMissing, TokenInvalid, TokenExpired,
        WrongRole, WrongParticipant, StreamNotLive, StreamFull, BodyTooLarge,
        UnsupportedContentType, RateLimited, RegistryUnavailable, UpstreamBroken,
    ]
);

vibes_problem::problem_responses!(
    /// What a leave may be refused with, here or by the registry.
    LeaveProblems: [
        InvalidVibeId, InvalidJson, BodyUnreadable, TokenMissing, TokenInvalid, TokenExpired,
        WrongRole, WrongParticipant, BodyTooLarge, UnsupportedContentType, RateLimited,
        RegistryUnavailable, UpstreamBroken,
    ]
);

#[utoipa::path(
    post,
    path = "/stream/{vibe_id}/join",
    tag = "listener",
    params(("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`")),
    request_body(content = Option<JoinRequest>, description = "Optional: `participant_id`, which must be the token's `sub`"),
    responses(
        (status = 200, description = "A seat, with playback URLs carrying this participant's token", body = JoinResponse),
        JoinProblems,
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
) -> Result<HttpResponse, GatewayError> {
    let participant = participant(&request, payload, &auth).await?;
    let caller = participant.as_ref().map(ParticipantId::as_str);
    limiter
        .admit(RequestClass::Membership, &request, caller)
        .await?;
    let body = JoinRequest {
        participant_id: participant,
    };
    forward(&vibe, "join", body, &upstreams).await
}

#[utoipa::path(
    post,
    path = "/stream/{vibe_id}/leave",
    tag = "listener",
    params(("vibe_id" = VibeId, Path, description = "The stream: `[A-Za-z0-9_-]{1,64}`")),
    request_body(content = Option<LeaveRequest>, description = "Optional: `participant_id`, which must be the token's `sub`"),
    responses(
        (status = 200, description = "The seat is free (leaving twice is harmless)", body = LeaveResponse),
        LeaveProblems,
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
) -> Result<HttpResponse, GatewayError> {
    let participant = participant(&request, payload, &auth)
        .await?
        .ok_or(GatewayError::NoParticipant)?;
    limiter
        .admit(
            RequestClass::Membership,
            &request,
            Some(participant.as_str()),
        )
        .await?;
    let body = JoinRequest {
        participant_id: Some(participant),
    };
    forward(&vibe, "leave", body, &upstreams).await
}

/// The caller's participant id: the token's, checked against the body's.
async fn participant(
    request: &HttpRequest,
    payload: web::Payload,
    auth: &Authenticator,
) -> Result<Option<ParticipantId>, GatewayError> {
    let from_token = auth.participant(request)?;
    let body: JoinRequest = vibes_web::body::read_optional_json(request, payload).await?;
    match (from_token, body.participant_id) {
        (Some(token), Some(named)) if token != named => {
            Err(GatewayError::WrongParticipant { token, named })
        }
        (Some(token), _) => Ok(Some(token)),
        (None, named) => Ok(named),
    }
}

async fn forward(
    vibe: &VibePath,
    action: &str,
    body: JoinRequest,
    upstreams: &Upstreams,
) -> Result<HttpResponse, GatewayError> {
    // A struct of ids and options always serializes.
    let bytes = serde_json::to_vec(&body).expect("a JoinRequest serializes");
    let body = Body {
        content_type: Some(JSON_CONTENT_TYPE.to_owned()),
        bytes: bytes.into(),
        headers: Vec::new(),
    };
    let path = format!("/stream/{}/{action}", vibe.0);
    upstreams
        .registry
        .forward(Method::POST, &path, Some(body))
        .await
}
