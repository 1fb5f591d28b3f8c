//! The media engine: its configuration, how to tell it is healthy, and the
//! supervisor that owns its process.

pub mod child;
pub mod docker;
pub mod docker_api;
mod observe;
pub mod probe;
pub mod restarts;
pub mod srs_api;
pub mod srs_config;
pub mod status;
pub mod supervisor;

pub use status::{EngineState, EngineStatus};
pub use supervisor::{EngineSupervisor, SupervisorError};
