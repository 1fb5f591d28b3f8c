//! The media engine: its configuration, how to tell it is healthy, and the
//! supervisor that owns its process.

mod child;
pub mod docker;
pub mod docker_api;
mod observe;
pub mod probe;
pub mod restarts;
pub mod srs_api;
pub mod status;
pub mod supervisor;
pub mod version;
pub mod xiu;
pub mod xiu_api;

pub use status::{EngineState, EngineStatus};
pub use supervisor::{EngineSupervisor, SupervisorError};
