//! Who is calling: creators (their token names their stream) and
//! participants (their token's `sub` is their participant id).

use actix_web::http::header;
use actix_web::HttpRequest;
use vibes_domain::{CreatorId, ParticipantId, VibeId};
use vibes_tokens::jwt::bearer_token;
use vibes_tokens::{AuthError, JwtKeys};

pub struct Authenticator {
    keys: JwtKeys,
    anonymous_join: bool,
}

impl Authenticator {
    pub fn new(keys: JwtKeys, anonymous_join: bool) -> Self {
        Self {
            keys,
            anonymous_join,
        }
    }

    /// The creator of `vibe`: a creator token whose `vibe` claim is this stream.
    pub fn creator(&self, request: &HttpRequest, vibe: &VibeId) -> Result<CreatorId, AuthError> {
        let token = bearer_token(authorization(request))?;
        self.keys.creator_of(token, vibe)
    }

    /// The participant a participant token names; `None` for an anonymous
    /// caller where anonymous joins are allowed.
    pub fn participant(&self, request: &HttpRequest) -> Result<Option<ParticipantId>, AuthError> {
        match bearer_token(authorization(request)) {
            Err(AuthError::Missing) if self.anonymous_join => Ok(None),
            Err(error) => Err(error),
            Ok(token) => self.keys.participant(token).map(Some),
        }
    }
}

fn authorization(request: &HttpRequest) -> Option<&str> {
    request.headers().get(header::AUTHORIZATION)?.to_str().ok()
}
