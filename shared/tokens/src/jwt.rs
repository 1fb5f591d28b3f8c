//! Creator and participant tokens: HS256 JWTs issued by the app's backend
//! (or the `vibes-token` dev CLI) with claims `sub`, `role`, `vibe` (creators),
//! and the registered claims `iss` (who issued it), `aud` (who it is for),
//! `iat` and `exp`. All of them are required: `iss` and `aud` must be the
//! configured values ([`TokenRules`]), and `exp - iat` at most the configured
//! maximum lifetime, so a leaked token is good for a bounded time and a token
//! minted for another service with the same key is refused. Several keys may
//! be configured, each with a key id (`kid`), so the secret can be rotated:
//! tokens name their key; new tokens use the first.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vibes_domain::{CreatorId, ParticipantId, VibeId};

/// Keys shorter than this are refused: HS256 wants at least its output size.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock difference tolerated between the token issuer and us.
const LEEWAY_SECONDS: u64 = 30;
/// The `aud` tokens carry unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "vibesflow-streaming";
/// The `iss` tokens carry unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "vibesflow-app";
/// The longest `exp - iat` accepted unless configured otherwise.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Creator,
    Participant,
}

/// What a token says about its holder. The registered claims (`iss`, `aud`,
/// `iat`) are added when minting and checked when verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vibe: Option<String>,
    /// Expiry, unix seconds.
    pub exp: u64,
}

/// Who issues the tokens, who they are for, and how long one may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRules {
    pub audience: String,
    pub issuer: String,
    pub max_lifetime: Duration,
}

impl Default for TokenRules {
    fn default() -> Self {
        Self {
            audience: DEFAULT_AUDIENCE.to_owned(),
            issuer: DEFAULT_ISSUER.to_owned(),
            max_lifetime: DEFAULT_MAX_LIFETIME,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token expired")]
    Expired,
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the token is not for this service: `aud` must be {expected:?}")]
    WrongAudience { expected: String },
    #[error("the token was not issued by {expected:?} (`iss`)")]
    WrongIssuer { expected: String },
    #[error("the token lives {lifetime_seconds} s (`exp` - `iat`); at most {max_seconds} s are accepted")]
    LifetimeTooLong {
        lifetime_seconds: u64,
        max_seconds: u64,
    },
    #[error("the token was issued in the future (`iat`)")]
    IssuedInFuture,
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

/// The claims as they travel: the holder's, and the registered ones.
#[derive(Serialize)]
struct Minted<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
}

/// What verification reads besides the holder's claims (`iss` and `aud` are
/// checked by the JWT library).
#[derive(Deserialize)]
struct Presented {
    #[serde(flatten)]
    claims: Claims,
    iat: Option<u64>,
}

pub struct JwtKeys {
    keys: Vec<SigningKey>,
    rules: TokenRules,
}

impl JwtKeys {
    /// The first key signs new tokens; all of them verify. The rules are
    /// the defaults until [`JwtKeys::with_rules`].
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
        Ok(Self {
            keys,
            rules: TokenRules::default(),
        })
    }

    /// The issuer, audience and lifetime tokens are minted with and checked against.
    pub fn with_rules(mut self, rules: TokenRules) -> Self {
        self.rules = rules;
        self
    }

    pub fn rules(&self) -> &TokenRules {
        &self.rules
    }

    /// A token with `claims`, issued now by the configured issuer for the
    /// configured audience.
    pub fn mint(&self, claims: &Claims) -> String {
        self.sign(&Minted {
            claims,
            iss: &self.rules.issuer,
            aud: &self.rules.audience,
            iat: unix_now(),
        })
    }

    /// Signs exactly `claims` with the current key, whatever they say: for
    /// tests and tools that need tokens the rules refuse.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
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
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_audience(&[&self.rules.audience]);
        validation.set_issuer(&[&self.rules.issuer]);
        let secret = DecodingKey::from_secret(key.secret.expose_secret().as_bytes());
        let presented = jsonwebtoken::decode::<Presented>(token, &secret, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
                ErrorKind::InvalidAudience => AuthError::WrongAudience {
                    expected: self.rules.audience.clone(),
                },
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer {
                    expected: self.rules.issuer.clone(),
                },
                _ => AuthError::Invalid(error.to_string()),
            })?
            .claims;
        let issued_at = presented
            .iat
            .ok_or_else(|| AuthError::MissingClaim("iat".to_owned()))?;
        if issued_at > unix_now() + LEEWAY_SECONDS {
            return Err(AuthError::IssuedInFuture);
        }
        let lifetime_seconds = presented.claims.exp.saturating_sub(issued_at);
        let max_seconds = self.rules.max_lifetime.as_secs();
        if lifetime_seconds > max_seconds {
            return Err(AuthError::LifetimeTooLong {
                lifetime_seconds,
                max_seconds,
            });
        }
        Ok(presented.claims)
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
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

    /// Claims as they travel, any of them left out at will.
    #[derive(Serialize, Deserialize)]
    struct Raw {
        sub: String,
        role: Role,
        #[serde(skip_serializing_if = "Option::is_none")]
        iss: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        aud: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        iat: Option<u64>,
        exp: u64,
    }

    /// Signs raw claims: a participant token valid for a minute, with
    /// `change` applied.
    fn raw(keys: &JwtKeys, change: impl FnOnce(&mut Raw)) -> String {
        let mut claims = Raw {
            sub: "p1".to_owned(),
            role: Role::Participant,
            iss: Some(DEFAULT_ISSUER.to_owned()),
            aud: Some(DEFAULT_AUDIENCE.to_owned()),
            iat: Some(now()),
            exp: now() + 60,
        };
        change(&mut claims);
        keys.sign(&claims)
    }

    #[test]
    fn minted_tokens_carry_issuer_audience_and_issue_time() {
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)]).unwrap();
        assert_eq!(
            keys.participant(&raw(&keys, |_| {})).unwrap().as_str(),
            "p1"
        );
        let minted = keys.mint(&creator("v1", now() + 60));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[DEFAULT_AUDIENCE]);
        let secret = DecodingKey::from_secret(SECRET_A.as_bytes());
        let claims = jsonwebtoken::decode::<Raw>(&minted, &secret, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims.iss.as_deref(), Some(DEFAULT_ISSUER));
        assert_eq!(claims.aud.as_deref(), Some(DEFAULT_AUDIENCE));
        assert!(claims.iat.unwrap().abs_diff(now()) <= 1);
    }

    #[test]
    fn issuer_audience_and_issue_time_are_required() {
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)]).unwrap();
        for claim in ["aud", "iss", "iat"] {
            let token = raw(&keys, |claims| match claim {
                "aud" => claims.aud = None,
                "iss" => claims.iss = None,
                _ => claims.iat = None,
            });
            assert_eq!(
                keys.participant(&token),
                Err(AuthError::MissingClaim(claim.to_owned()))
            );
        }
    }

    #[test]
    fn issuer_and_audience_must_be_the_configured_ones() {
        let rules = TokenRules {
            audience: "streaming-prod".to_owned(),
            issuer: "app-prod".to_owned(),
            ..TokenRules::default()
        };
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)])
            .unwrap()
            .with_rules(rules);
        let right = raw(&keys, |claims| {
            claims.aud = Some("streaming-prod".to_owned());
            claims.iss = Some("app-prod".to_owned());
        });
        assert!(keys.participant(&right).is_ok());
        assert!(keys
            .participant(&keys.mint(&creator("v1", now() + 60)))
            .is_err());
        let wrong_audience = raw(&keys, |claims| claims.iss = Some("app-prod".to_owned()));
        assert_eq!(
            keys.participant(&wrong_audience),
            Err(AuthError::WrongAudience {
                expected: "streaming-prod".to_owned()
            })
        );
        let wrong_issuer = raw(&keys, |claims| {
            claims.aud = Some("streaming-prod".to_owned())
        });
        assert_eq!(
            keys.participant(&wrong_issuer),
            Err(AuthError::WrongIssuer {
                expected: "app-prod".to_owned()
            })
        );
    }

    #[test]
    fn lifetimes_over_the_maximum_and_future_issue_times_are_refused() {
        let keys = JwtKeys::new(vec![key("k1", SECRET_A)])
            .unwrap()
            .with_rules(TokenRules {
                max_lifetime: Duration::from_secs(3600),
                ..TokenRules::default()
            });
        let exactly = raw(&keys, |claims| claims.exp = now() + 3600);
        assert!(keys.participant(&exactly).is_ok());
        let too_long = raw(&keys, |claims| claims.exp = now() + 3601);
        assert_eq!(
            keys.participant(&too_long),
            Err(AuthError::LifetimeTooLong {
                lifetime_seconds: 3601,
                max_seconds: 3600
            })
        );
        // A later `iat` would make any lifetime look short.
        let from_the_future = raw(&keys, |claims| {
            claims.iat = Some(now() + 3000);
            claims.exp = now() + 3600;
        });
        assert_eq!(
            keys.participant(&from_the_future),
            Err(AuthError::IssuedInFuture)
        );
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
