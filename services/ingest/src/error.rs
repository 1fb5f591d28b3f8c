//! Every error ingest answers with, and its problem code: the one place
//! ingest's errors meet the catalogue.

use vibes_problem::{Code, Problem, ToProblem};
use vibes_web::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the stream's audio buffer is full; retry after the queued audio has played")]
    BufferFull,
    #[error("the stream is ending; send again to start a new one")]
    StreamEnding,
    #[error("chunk {seq} is older than the last accepted chunk {last}")]
    StaleChunk { seq: u64, last: u64 },
    #[error("the session registry is unreachable")]
    RegistryUnreachable(#[from] reqwest::Error),
    #[error("the session registry refused with {status}: {body}")]
    RegistryRefused { status: u16, body: String },
    #[error("ingest pod {owner} publishes this stream")]
    NotOwner {
        owner: String,
        owner_url: Option<String>,
    },
    #[error("this ingest pod is shutting down and takes no new streams")]
    Draining,
    #[error("stream ownership cannot be checked")]
    OwnershipUnavailable(#[from] vibes_redis::RedisError),
    #[error(transparent)]
    Request(#[from] RequestError),
}

impl ToProblem for IngestError {
    fn code(&self) -> Code {
        match self {
            Self::BufferFull => Code::BufferFull,
            Self::StaleChunk { .. } => Code::StaleChunkSeq,
            Self::StreamEnding => Code::StreamEnding,
            Self::NotOwner { .. } => Code::NotOwner,
            Self::Draining => Code::Draining,
            Self::OwnershipUnavailable(_) => Code::OwnershipUnavailable,
            Self::RegistryUnreachable(_) | Self::RegistryRefused { .. } => {
                Code::RegistryUnavailable
            }
            Self::Request(error) => error.code(),
        }
    }

    fn extend(&self, problem: Problem) -> Problem {
        match self {
            Self::BufferFull
            | Self::StreamEnding
            | Self::OwnershipUnavailable(_)
            | Self::RegistryUnreachable(_)
            | Self::RegistryRefused { .. } => problem.with_retry_after(1),
            Self::StaleChunk { last, .. } => problem.with_extension("last_seq", *last),
            // Read by the gateway, which then asks the owner.
            Self::NotOwner { owner, owner_url } => {
                let problem = problem.with_extension("owner", owner.as_str());
                match owner_url {
                    Some(url) => problem.with_extension("owner_url", url.as_str()),
                    None => problem,
                }
            }
            Self::Request(error) => error.extend(problem),
            Self::Draining => problem,
        }
    }
}

vibes_problem::response_error!(IngestError);
