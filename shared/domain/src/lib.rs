//! Types every service agrees on: validated ids, the PCM format creators send,
//! and the JSON bodies that cross service boundaries.

pub mod api;
pub mod audio;
pub mod ids;

pub use ids::{CreatorId, IdError, ParticipantId, VibeId};
