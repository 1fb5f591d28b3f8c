//! Every refusal of the packager and its problem code: the one place the
//! packager's errors meet the catalogue. Details name what the client can
//! change, never the engine or its errors.

use vibes_problem::{Code, Problem, ToProblem};

#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    #[error("{0}")]
    InvalidDirective(&'static str),
    #[error(
        "_HLS_msn/_HLS_part ask for more than the playlist may wait for (RFC 8216bis 6.2.5.2)"
    )]
    TooFarAhead,
    #[error("the playlist did not reach the requested part within three target durations")]
    PlaylistNotReady,
    #[error("the part was not made within three target durations")]
    PartNotReady,
    #[error("the stream has no audio yet; retry shortly")]
    StreamStarting,
    #[error("the stream is not live")]
    StreamNotLive,
    #[error("no such file of this stream")]
    NoSuchFile,
    #[error("this packager serves {0} streams already")]
    AtCapacity(usize),
}

impl ToProblem for PackagerError {
    fn code(&self) -> Code {
        match self {
            Self::InvalidDirective(_) => Code::InvalidReloadDirective,
            Self::TooFarAhead => Code::ReloadTooFarAhead,
            Self::PlaylistNotReady => Code::PlaylistNotReady,
            Self::PartNotReady => Code::PartNotReady,
            Self::StreamStarting => Code::StreamStarting,
            Self::StreamNotLive => Code::StreamNotLive,
            Self::NoSuchFile => Code::NotFound,
            Self::AtCapacity(_) => Code::PackagerFull,
        }
    }

    fn extend(&self, problem: Problem) -> Problem {
        match self {
            Self::PlaylistNotReady | Self::PartNotReady | Self::StreamStarting => {
                problem.with_retry_after(1)
            }
            Self::AtCapacity(_) => problem.with_retry_after(5),
            _ => problem,
        }
    }
}

vibes_problem::response_error!(PackagerError);
