use crate::error::RequestError;
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use std::future::{ready, Ready};
use vibes_domain::VibeId;

/// The `{vibe_id}` path segment, validated; a bad id answers 400 `invalid_vibe_id`.
#[derive(Debug, Clone)]
pub struct VibePath(pub VibeId);

impl FromRequest for VibePath {
    type Error = RequestError;
    type Future = Ready<Result<Self, RequestError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let raw = request.match_info().get("vibe_id").unwrap_or_default();
        ready(
            VibeId::parse(raw)
                .map(VibePath)
                .map_err(RequestError::InvalidVibeId),
        )
    }
}
