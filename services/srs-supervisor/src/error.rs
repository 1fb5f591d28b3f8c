//! Every error the supervisor's API answers with, and its problem code: the
//! one place its errors meet the catalogue.

use crate::engine::srs_api::EngineApiError;
use vibes_problem::{Code, ToProblem};

/// The engine's API is internal: its address and its client's errors stay
/// in the log (the catalogue withholds the detail).
impl ToProblem for EngineApiError {
    fn code(&self) -> Code {
        match self {
            Self::Unreachable(_) | Self::Refused(_) => Code::EngineApiUnavailable,
        }
    }
}

vibes_problem::response_error!(EngineApiError);
