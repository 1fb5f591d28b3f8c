//! Every error the gateway answers with, and its problem code: the one
//! place the gateway's errors meet the catalogue. Answers of the services
//! behind it (problems included) are relayed as they are.

use std::fmt;
use std::time::Duration;
use vibes_domain::ParticipantId;
use vibes_problem::{Code, Problem, ToProblem};
use vibes_redis::RedisError;
use vibes_tokens::AuthError;
use vibes_web::RequestError;

/// A service behind the gateway that requests are forwarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Registry,
    Ingest,
}

impl fmt::Display for Backend {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Registry => "session registry",
            Self::Ingest => "ingest pod",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the token is for {token}, the body names {named}")]
    WrongParticipant {
        token: ParticipantId,
        named: ParticipantId,
    },
    #[error("without a participant token the body must name participant_id")]
    NoParticipant,
    #[error("{class} requests: at most {per_second} per second, {burst} at once")]
    RateLimited {
        class: &'static str,
        per_second: f64,
        burst: u64,
        retry_after: Duration,
    },
    #[error("the {backend} did not answer")]
    Unreachable {
        backend: Backend,
        #[source]
        cause: reqwest::Error,
    },
    #[error("the {backend}'s answer broke off")]
    AnswerBroken {
        backend: Backend,
        #[source]
        cause: reqwest::Error,
    },
    #[error("the ingest pool cannot be read")]
    IngestPoolUnreadable(#[source] RedisError),
    #[error("no live ingest pod in pool {pool:?} accepted the stream")]
    NoIngestPod { pool: String },
}

impl ToProblem for GatewayError {
    fn code(&self) -> Code {
        match self {
            Self::Request(error) => error.code(),
            Self::Auth(error) => auth_code(error),
            Self::WrongParticipant { .. } => Code::WrongParticipant,
            Self::NoParticipant => Code::InvalidJson,
            Self::RateLimited { .. } => Code::RateLimited,
            Self::Unreachable {
                backend: Backend::Registry,
                ..
            } => Code::RegistryUnavailable,
            Self::Unreachable {
                backend: Backend::Ingest,
                ..
            }
            | Self::NoIngestPod { .. } => Code::IngestUnavailable,
            Self::AnswerBroken { .. } => Code::UpstreamBroken,
            Self::IngestPoolUnreadable(_) => Code::IngestPoolUnavailable,
        }
    }

    fn extend(&self, problem: Problem) -> Problem {
        match self {
            Self::Request(error) => error.extend(problem),
            Self::Auth(error) => with_token_reason(error, problem),
            Self::RateLimited { retry_after, .. } => {
                problem.with_retry_after(retry_after.as_secs_f64().ceil().max(1.0) as u32)
            }
            Self::Unreachable { .. } | Self::IngestPoolUnreadable(_) | Self::NoIngestPod { .. } => {
                problem.with_retry_after(1)
            }
            Self::WrongParticipant { .. } | Self::NoParticipant | Self::AnswerBroken { .. } => {
                problem
            }
        }
    }
}

vibes_problem::response_error!(GatewayError);

/// Tokens that are malformed, forged, or break the issuer/audience/lifetime
/// rules are all `token_invalid` (clients switch on that), told apart by
/// the stable `reason` extension.
fn auth_code(error: &AuthError) -> Code {
    match error {
        AuthError::Missing => Code::TokenMissing,
        AuthError::Expired => Code::TokenExpired,
        AuthError::WrongRole { .. } => Code::WrongRole,
        AuthError::WrongVibe => Code::WrongVibe,
        AuthError::Invalid(_)
        | AuthError::WeakKeys
        | AuthError::MissingClaim(_)
        | AuthError::WrongAudience { .. }
        | AuthError::WrongIssuer { .. }
        | AuthError::LifetimeTooLong { .. }
        | AuthError::IssuedInFuture => Code::TokenInvalid,
    }
}

fn with_token_reason(error: &AuthError, problem: Problem) -> Problem {
    let reason = match error {
        AuthError::Invalid(_) | AuthError::WeakKeys => "unverifiable",
        AuthError::MissingClaim(claim) => {
            return problem
                .with_extension("reason", "claim_missing")
                .with_extension("claim", claim.as_str())
        }
        AuthError::WrongAudience { .. } => "wrong_audience",
        AuthError::WrongIssuer { .. } => "wrong_issuer",
        AuthError::LifetimeTooLong { .. } => "lifetime_too_long",
        AuthError::IssuedInFuture => "issued_in_future",
        AuthError::Missing
        | AuthError::Expired
        | AuthError::WrongRole { .. }
        | AuthError::WrongVibe => return problem,
    };
    problem.with_extension("reason", reason)
}
