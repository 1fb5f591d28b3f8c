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

/// Every refusal of a token, in one place. Tokens that are malformed,
/// forged, or break the issuer/audience/lifetime rules are all
/// `401 token_invalid` (clients switch on that), told apart by the stable
/// `reason` extension (and `claim` for a missing one).
fn problem(error: AuthError) -> Problem {
    let invalid = |reason: &str| {
        (
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            "Token invalid",
            Some(reason.to_owned()),
        )
    };
    let (status, code, title, reason) = match &error {
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            "token_missing",
            "Token missing",
            None,
        ),
        AuthError::Invalid(_) | AuthError::WeakKeys => invalid("unverifiable"),
        AuthError::MissingClaim(_) => invalid("claim_missing"),
        AuthError::WrongAudience { .. } => invalid("wrong_audience"),
        AuthError::WrongIssuer { .. } => invalid("wrong_issuer"),
        AuthError::LifetimeTooLong { .. } => invalid("lifetime_too_long"),
        AuthError::IssuedInFuture => invalid("issued_in_future"),
        AuthError::Expired => (
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "Token expired",
            None,
        ),
        AuthError::WrongRole { .. } => (
            StatusCode::FORBIDDEN,
            "wrong_role",
            "Token of the wrong role",
            None,
        ),
        AuthError::WrongVibe => (
            StatusCode::FORBIDDEN,
            "wrong_vibe",
            "Token for another stream",
            None,
        ),
    };
    let mut problem = Problem::new(status, code, title).with_detail(error.to_string());
    if let Some(reason) = reason {
        problem = problem.with_extension("reason", reason);
    }
    if let AuthError::MissingClaim(claim) = &error {
        problem = problem.with_extension("claim", claim.as_str());
    }
    problem
}
