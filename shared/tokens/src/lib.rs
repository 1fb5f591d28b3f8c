//! Tokens the backend hands out and checks.

pub mod jwt;
pub mod playback;

pub use jwt::{AuthError, Claims, JwtKeys, Role, SigningKey};
pub use playback::{PlaybackTokenError, PlaybackTokens};
