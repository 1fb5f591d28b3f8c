//! A playback token lets one participant play one stream until it expires:
//! `<participant>.<expiry unix seconds>.<tag>`, where the tag is the first 16
//! bytes of HMAC-SHA256 over the stream, the participant and the expiry,
//! base64url without padding. It only uses characters that are safe in a URL
//! path segment, so it can sit in the playback path and every HLS segment URL
//! (relative to the playlist) carries it too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vibes_domain::{ParticipantId, VibeId};

const TAG_BYTES: usize = 16;
/// Keys shorter than this are refused: HS256 wants at least its output size.
pub const MIN_SECRET_BYTES: usize = 32;
/// Separates the fields of what is signed, so no two inputs sign alike.
const DOMAIN: &str = "vibes-playback-v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaybackTokenError {
    #[error("the playback token is malformed")]
    Malformed,
    #[error("the playback token's signature does not match")]
    BadSignature,
    #[error("the playback token expired")]
    Expired,
    #[error("the playback token secret must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
}

pub struct PlaybackTokens {
    secret: SecretString,
    ttl: Duration,
}

impl PlaybackTokens {
    pub fn new(secret: SecretString, ttl: Duration) -> Result<Self, PlaybackTokenError> {
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(PlaybackTokenError::WeakSecret);
        }
        Ok(Self { secret, ttl })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `participant` on `vibe`, valid for the configured time from `now`.
    pub fn mint(&self, vibe: &VibeId, participant: &ParticipantId, now: SystemTime) -> String {
        let expiry = unix_seconds(now) + self.ttl.as_secs();
        self.mint_with_expiry(vibe, participant, expiry)
    }

    /// A token with an explicit expiry (unix seconds), e.g. an already expired one in tests.
    pub fn mint_with_expiry(
        &self,
        vibe: &VibeId,
        participant: &ParticipantId,
        expiry: u64,
    ) -> String {
        let tag = self
            .mac(vibe, participant.as_str(), expiry)
            .finalize()
            .into_bytes();
        let tag = URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]);
        format!("{participant}.{expiry}.{tag}")
    }

    /// The participant the token was minted for, if it is genuine, for this
    /// stream, and not expired at `now`.
    pub fn verify(
        &self,
        vibe: &VibeId,
        token: &str,
        now: SystemTime,
    ) -> Result<ParticipantId, PlaybackTokenError> {
        let mut fields = token.split('.');
        let (Some(participant), Some(expiry), Some(tag), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(PlaybackTokenError::Malformed);
        };
        let participant =
            ParticipantId::parse(participant).map_err(|_| PlaybackTokenError::Malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| PlaybackTokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| PlaybackTokenError::Malformed)?;
        if tag.len() != TAG_BYTES {
            return Err(PlaybackTokenError::Malformed);
        }
        self.mac(vibe, participant.as_str(), expiry)
            .verify_truncated_left(&tag)
            .map_err(|_| PlaybackTokenError::BadSignature)?;
        if unix_seconds(now) >= expiry {
            return Err(PlaybackTokenError::Expired);
        }
        Ok(participant)
    }

    fn mac(&self, vibe: &VibeId, participant: &str, expiry: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(format!("{DOMAIN}\n{vibe}\n{participant}\n{expiry}").as_bytes());
        mac
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> PlaybackTokens {
        PlaybackTokens::new(
            SecretString::from(secret.to_owned()),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    fn ids() -> (VibeId, ParticipantId) {
        (
            VibeId::parse("v1").unwrap(),
            ParticipantId::parse("p-1").unwrap(),
        )
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_minted_token_verifies_for_its_stream_until_it_expires() {
        let (vibe, participant) = ids();
        let tokens = tokens(SECRET);
        let token = tokens.mint(&vibe, &participant, at(NOW));
        assert!(token.starts_with("p-1.1800000060."), "{token}");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(tokens.verify(&vibe, &token, at(NOW + 59)), Ok(participant));
        assert_eq!(
            tokens.verify(&vibe, &token, at(NOW + 60)),
            Err(PlaybackTokenError::Expired)
        );
    }

    #[test]
    fn another_stream_participant_expiry_or_secret_breaks_the_signature() {
        let (vibe, participant) = ids();
        let token = tokens(SECRET).mint(&vibe, &participant, at(NOW));
        let other_vibe = VibeId::parse("v2").unwrap();
        assert_eq!(
            tokens(SECRET).verify(&other_vibe, &token, at(NOW)),
            Err(PlaybackTokenError::BadSignature)
        );
        let other_secret = tokens("another secret that is long enough!!");
        assert_eq!(
            other_secret.verify(&vibe, &token, at(NOW)),
            Err(PlaybackTokenError::BadSignature)
        );
        let renamed = token.replacen("p-1", "p-2", 1);
        assert_eq!(
            tokens(SECRET).verify(&vibe, &renamed, at(NOW)),
            Err(PlaybackTokenError::BadSignature)
        );
        let extended = token.replacen("1800000060", "1900000060", 1);
        assert_eq!(
            tokens(SECRET).verify(&vibe, &extended, at(NOW)),
            Err(PlaybackTokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_told_apart_from_forged_ones() {
        let (vibe, _) = ids();
        for token in [
            "",
            "a.b",
            "p.1.x.y",
            "bad id.1.AAAAAAAAAAAAAAAAAAAAAA",
            "p.soon.AAAAAAAAAAAAAAAAAAAAAA",
            "p.1.short",
        ] {
            assert_eq!(
                tokens(SECRET).verify(&vibe, token, at(NOW)),
                Err(PlaybackTokenError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        let result = PlaybackTokens::new(
            SecretString::from("short".to_owned()),
            Duration::from_secs(1),
        );
        assert!(matches!(result, Err(PlaybackTokenError::WeakSecret)));
    }
}
