//! Tokens the backend hands out and checks.

pub mod playback;

pub use playback::{PlaybackTokenError, PlaybackTokens};
