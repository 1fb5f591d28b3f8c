//! Who is calling: creators (their token names their stream) and
//! participants (their token's `sub` is their participant id).

use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;
use vibes_domain::{CreatorId, ParticipantId, VibeId};
use vibes_problem::Problem;
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
    pub fn creator(&self, request: &HttpRequest, vibe: &VibeId) -> Result<CreatorId, Problem> {
        let token = bearer_token(authorization(request)).map_err(problem)?;
        self.keys.creator_of(token, vibe).map_err(problem)
    }

    /// The participant a participant token names; `None` for an anonymous
    /// caller where anonymous joins are allowed.
    pub fn participant(&self, request: &HttpRequest) -> Result<Option<ParticipantId>, Problem> {
        match bearer_token(authorization(request)) {
            Err(AuthError::Missing) if self.anonymous_join => Ok(None),
            Err(error) => Err(problem(error)),
            Ok(token) => self.keys.participant(token).map(Some).map_err(problem),
        }
    }
}

fn authorization(request: &HttpRequest) -> Option<&str> {
    request.headers().get(header::AUTHORIZATION)?.to_str().ok()
}

fn problem(error: AuthError) -> Problem {
    let (status, code, title) = match &error {
        AuthError::Missing => (StatusCode::UNAUTHORIZED, "token_missing", "Token missing"),
        AuthError::Invalid(_) | AuthError::WeakKeys => {
            (StatusCode::UNAUTHORIZED, "token_invalid", "Token invalid")
        }
        AuthError::Expired => (StatusCode::UNAUTHORIZED, "token_expired", "Token expired"),
        AuthError::WrongRole { .. } => (
            StatusCode::FORBIDDEN,
            "wrong_role",
            "Token of the wrong role",
        ),
        AuthError::WrongVibe => (
            StatusCode::FORBIDDEN,
            "wrong_vibe",
            "Token for another stream",
        ),
    };
    Problem::new(status, code, title).with_detail(error.to_string())
}
