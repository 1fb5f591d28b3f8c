//! Tokens for tests, signed with the key the tests configure the gateway with.

use secrecy::SecretString;
use std::time::{SystemTime, UNIX_EPOCH};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey};

/// The gateway's token key in tests.
pub const AUTH_SECRET: &str = "test-auth-secret-0123456789abcdef0123";
pub const AUTH_KID: &str = "k1";

fn keys() -> JwtKeys {
    let key = SigningKey {
        kid: AUTH_KID.to_owned(),
        secret: SecretString::from(AUTH_SECRET.to_owned()),
    };
    JwtKeys::new(vec![key]).expect("a strong test key")
}

fn expiry(ttl_seconds: i64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    now.checked_add_signed(ttl_seconds).expect("a sane expiry")
}

/// `Authorization` value for the creator of `vibe`.
pub fn creator_bearer(vibe: &str) -> String {
    bearer(Role::Creator, "creator-1", Some(vibe), 3600)
}

/// `Authorization` value for participant `sub`.
pub fn participant_bearer(sub: &str) -> String {
    bearer(Role::Participant, sub, None, 3600)
}

/// `Authorization` value for any claims; a negative `ttl_seconds` has expired.
pub fn bearer(role: Role, sub: &str, vibe: Option<&str>, ttl_seconds: i64) -> String {
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        vibe: vibe.map(str::to_owned),
        exp: expiry(ttl_seconds),
    };
    format!("Bearer {}", keys().mint(&claims))
}
