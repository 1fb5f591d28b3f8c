//! Creator and participant tokens: HS256 JWTs issued by the app's backend
//! (or the `vibes-token` dev CLI) with claims `sub`, `role`, `vibe` (creators)
//! and `exp`. Several keys may be configured, each with a key id (`kid`), so
//! the secret can be rotated: tokens name their key; new tokens use the first.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use vibes_domain::{CreatorId, ParticipantId, VibeId};

/// Keys shorter than this are refused: HS256 wants at least its output size.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock difference tolerated between the token issuer and us.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Creator,
    Participant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vibe: Option<String>,
    /// Expiry, unix seconds.
    pub exp: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token expired")]
    Expired,
    #[error("the token is for a {got:?}, this needs a {expected:?}")]
    WrongRole { expected: Role, got: Role },
    #[error("the token is for another stream")]
    WrongVibe,
    #[error("token signing keys must be at least {MIN_SECRET_BYTES} bytes and have distinct ids")]
    WeakKeys,
}

/// One signing key and its id.
#[derive(Debug, Clone, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub secret: SecretString,
}

pub struct JwtKeys {
    keys: Vec<SigningKey>,
}

impl JwtKeys {
    /// The first key signs new tokens; all of them verify.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, AuthError> {
        let strong = keys
            .iter()
            .all(|key| key.secret.expose_secret().len() >= MIN_SECRET_BYTES);
        let mut kids: Vec<&str> = keys.iter().map(|key| key.kid.as_str()).collect();
        kids.sort_unstable();
        kids.dedup();
        if keys.is_empty() || !strong || kids.len() != keys.len() {
            return Err(AuthError::WeakKeys);
        }
        Ok(Self { keys })
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let header = Header {
            kid: Some(key.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        let secret = EncodingKey::from_secret(key.secret.expose_secret().as_bytes());
        jsonwebtoken::encode(&header, claims, &secret).expect("HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::Invalid(error.to_string()))?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|key| &key.kid == kid),
            None => self.keys.first(),
        }
        .ok_or_else(|| AuthError::Invalid("unknown key id".to_owned()))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let secret = DecodingKey::from_secret(key.secret.expose_secret().as_bytes());
        jsonwebtoken::decode::<Claims>(token, &secret, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(error.to_string()),
            })
    }

    /// The creator of `vibe`, if the token is a creator token for it.
    pub fn creator_of(&self, token: &str, vibe: &VibeId) -> Result<CreatorId, AuthError> {
        let claims = self.verify(token)?;
        expect_role(&claims, Role::Creator)?;
        if claims.vibe.as_deref() != Some(vibe.as_str()) {
            return Err(AuthError::WrongVibe);
        }
        CreatorId::parse(&claims.sub).map_err(|error| AuthError::Invalid(format!("sub {error}")))
    }

    /// The participant a participant token names.
    pub fn participant(&self, token: &str) -> Result<ParticipantId, AuthError> {
        let claims = self.verify(token)?;
        expect_role(&claims, Role::Participant)?;
        ParticipantId::parse(&claims.sub)
            .map_err(|error| AuthError::Invalid(format!("sub {error}")))
    }
}

fn expect_role(claims: &Claims, expected: Role) -> Result<(), AuthError> {
    if claims.role == expected {
        Ok(())
    } else {
        Err(AuthError::WrongRole {
            expected,
            got: claims.role,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn key(kid: &str, secret: &str) -> SigningKey {
        SigningKey {
            kid: kid.to_owned(),
            secret: SecretString::from(secret.to_owned()),
        }
    }

    const SECRET_A: &str = "first-signing-secret-0123456789abcdef";
    const SECRET_B: &str = "second-signing-secret-0123456789abcdef";

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn creator(vibe: &str, exp: u64) -> Claims {
        Claims {
            sub: "creator-1".to_owned(),
            role: Role::Creator,
            vibe: Some(vibe.to_owned()),
            exp,
        }
    }

    #[test]
    fn a_creator_token_opens_its_own_stream_only() {
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)]).unwrap();
        let token = keys.mint(&creator("v1", now() + 60));
        let v1 = VibeId::parse("v1").unwrap();
        assert_eq!(keys.creator_of(&token, &v1).unwrap().as_str(), "creator-1");
        assert_eq!(
            keys.creator_of(&token, &VibeId::parse("v2").unwrap()),
            Err(AuthError::WrongVibe)
        );
        assert!(matches!(
            keys.participant(&token),
            Err(AuthError::WrongRole { .. })
        ));
    }

    #[test]
    fn expired_forged_and_unknown_key_tokens_are_refused() {
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)]).unwrap();
        let v1 = VibeId::parse("v1").unwrap();
        let expired = keys.mint(&creator("v1", now() - 3600));
        assert_eq!(keys.creator_of(&expired, &v1), Err(AuthError::Expired));
        let other = JwtKeys::new(vec![key("k1", SECRET_B)])
            .unwrap()
            .mint(&creator("v1", now() + 60));
        assert!(matches!(
            keys.creator_of(&other, &v1),
            Err(AuthError::Invalid(_))
        ));
        let unknown_kid = JwtKeys::new(vec![key("k9", SECRET_A)])
            .unwrap()
            .mint(&creator("v1", now() + 60));
        assert!(matches!(
            keys.creator_of(&unknown_kid, &v1),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            keys.verify("not.a.jwt"),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_while_new_ones_use_the_new_key() {
        let old = JwtKeys::new(vec![key("k1", SECRET_A)]).unwrap();
        let rotated = JwtKeys::new(vec![key("k2", SECRET_B), key("k1", SECRET_A)]).unwrap();
        let participant = Claims {
            sub: "p1".to_owned(),
            role: Role::Participant,
            vibe: None,
            exp: now() + 60,
        };
        let old_token = old.mint(&participant);
        assert_eq!(rotated.participant(&old_token).unwrap().as_str(), "p1");
        let new_token = rotated.mint(&participant);
        assert!(matches!(
            old.participant(&new_token),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn weak_or_duplicate_keys_are_refused() {
        assert!(JwtKeys::new(vec![]).is_err());
        assert!(JwtKeys::new(vec![key("k1", "short")]).is_err());
        assert!(JwtKeys::new(vec![key("k1", SECRET_A), key("k1", SECRET_B)]).is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::Missing));
    }
}
