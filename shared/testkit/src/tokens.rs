//! Tokens for tests, signed with the key the tests configure the gateway with
//! and carrying the issuer and audience the gateway expects by default.

use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use vibes_tokens::jwt::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey};

/// The gateway's token key in tests (`openssl rand -base64 48`: the services
/// refuse placeholders and low-entropy keys, test keys included).
pub const AUTH_SECRET: &str = "SmqB+66kqgjMHmkK9pQihII8R37C/rlNJte+CILMVqR4Uu3iBkbq/BeqO6lwtm+C";
pub const AUTH_KID: &str = "k1";
/// The registry's playback token key in tests that do not forge playback tokens.
pub const PLAYBACK_TOKEN_SECRET: &str =
    "nL0Vxq2d61ZwHU69z/nhEVxyhuRU7uMhMYTUJ7vQaGaY+94Wf9pM4ewQCJ8f5wQ5";

fn keys() -> JwtKeys {
    let key = SigningKey {
        kid: AUTH_KID.to_owned(),
        secret: SecretString::from(AUTH_SECRET.to_owned()),
    };
    JwtKeys::new(vec![key]).expect("a strong test key")
}

/// Now, in unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn expiry(ttl_seconds: i64) -> u64 {
    unix_now()
        .checked_add_signed(ttl_seconds)
        .expect("a sane expiry")
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

/// The claims of a participant token for `sub` as the gateway expects them
/// (issuer, audience, issued now, valid an hour), to change before signing
/// with [`bearer_with_claims`].
pub fn participant_claims(sub: &str) -> Value {
    let now = unix_now();
    json!({
        "sub": sub,
        "role": "participant",
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    })
}

/// `Authorization` value carrying exactly `claims`, signed with the test key.
pub fn bearer_with_claims(claims: &Value) -> String {
    format!("Bearer {}", keys().sign(claims))
}
