//! Every error the registry answers with, and its problem code: the one
//! place the registry's errors meet the catalogue.

use actix_web::http::StatusCode;
use vibes_domain::{ParticipantId, VibeId};
use vibes_problem::{Code, Problem, ToProblem};
use vibes_redis::RedisError;
use vibes_tokens::PlaybackTokenError;
use vibes_web::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("stream {0} is not live")]
    StreamNotLive(VibeId),
    #[error("stream {vibe} is full ({participant_count} of {cap})")]
    StreamFull {
        vibe: VibeId,
        participant_count: u64,
        cap: u64,
    },
    #[error("participant {0} left; join again to play")]
    ParticipantLeft(ParticipantId),
    #[error("the session store (Redis) is unavailable")]
    Redis(#[from] RedisError),
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The edge's batched seat re-check was malformed.
    #[error("{0}")]
    InvalidSeatCheck(String),
    #[error(transparent)]
    PlaybackToken(#[from] PlaybackTokenError),
    /// A seat refused to a media request: nginx's `auth_request` tells only
    /// 401 and 403 apart, so it answers 403 with the refusal's own code.
    #[error(transparent)]
    MediaRefused(Box<RegistryError>),
    /// The engine's play hook: SRS lets the player in only on 200.
    #[error(transparent)]
    PlayerRefused(Box<PlayerRefused>),
}

impl RegistryError {
    /// This error as the answer to a media request (see `MediaRefused`);
    /// Redis being down stays a 503.
    pub fn for_media(self) -> Self {
        match self {
            Self::Redis(_) | Self::PlaybackToken(_) | Self::MediaRefused(_) => self,
            refusal => Self::MediaRefused(Box::new(refusal)),
        }
    }
}

impl From<PlayerRefused> for RegistryError {
    fn from(refusal: PlayerRefused) -> Self {
        Self::PlayerRefused(Box::new(refusal))
    }
}

impl ToProblem for RegistryError {
    fn code(&self) -> Code {
        match self {
            Self::StreamNotLive(_) => Code::StreamNotLive,
            Self::StreamFull { .. } => Code::StreamFull,
            Self::ParticipantLeft(_) => Code::ParticipantLeft,
            Self::Redis(_) => Code::RegistryUnavailable,
            Self::Request(error) => error.code(),
            Self::InvalidSeatCheck(_) => Code::InvalidSeatCheck,
            Self::PlaybackToken(_) => Code::PlaybackTokenInvalid,
            Self::MediaRefused(refusal) => refusal.code(),
            Self::PlayerRefused(_) => Code::PlaybackForbidden,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MediaRefused(_) => StatusCode::FORBIDDEN,
            other => other.code().status(),
        }
    }

    fn extend(&self, problem: Problem) -> Problem {
        match self {
            Self::StreamFull {
                participant_count,
                cap,
                ..
            } => problem
                .with_extension("participant_count", *participant_count)
                .with_extension("max_participants", *cap),
            Self::Redis(_) => problem.with_retry_after(1),
            Self::Request(error) => error.extend(problem),
            Self::MediaRefused(refusal) => refusal.extend(problem),
            _ => problem,
        }
    }
}

vibes_problem::response_error!(RegistryError);

/// Why the engine's play hook refused a player.
#[derive(Debug, thiserror::Error)]
pub enum PlayerRefused {
    #[error("invalid stream name {0:?}")]
    InvalidStream(String),
    #[error("no playback token in the player's URL")]
    NoToken,
    #[error("the player's edge relay key is not the configured one")]
    RelayKey,
    #[error(transparent)]
    Token(#[from] PlaybackTokenError),
    #[error(transparent)]
    Seat(#[from] RegistryError),
}
