//! Tokens the backend hands out and checks.

pub mod jwt;
pub mod key;
pub mod playback;
pub mod relay;

pub use jwt::{AuthError, Claims, JwtKeys, Role, SigningKey, TokenRules};
pub use key::KeyDigest;
pub use playback::{PlaybackTokenError, PlaybackTokens};
pub use relay::{EdgeRelayKey, WeakRelayKey};
