//! Creator and participant tokens for scenarios that go through the gateway,
//! signed with the key the bench gave the gateway (`VIBES_AUTH__SECRET`,
//! `VIBES_AUTH__KID`), as the app's backend would.

use secrecy::SecretString;
use std::time::{SystemTime, UNIX_EPOCH};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey};

pub struct Minter {
    keys: JwtKeys,
}

impl Minter {
    pub fn from_env() -> Result<Self, String> {
        let secret = std::env::var("VIBES_AUTH__SECRET")
            .map_err(|_| "set VIBES_AUTH__SECRET to the gateway's token key")?;
        let kid = std::env::var("VIBES_AUTH__KID").unwrap_or_else(|_| "k1".to_owned());
        let keys = JwtKeys::new(vec![SigningKey {
            kid,
            secret: SecretString::from(secret),
        }])
        .map_err(|error| error.to_string())?;
        Ok(Self { keys })
    }

    /// `Authorization` value for the creator of `vibe`.
    pub fn creator(&self, vibe: &str) -> String {
        self.bearer(Role::Creator, &format!("creator-{vibe}"), Some(vibe))
    }

    /// `Authorization` value for participant `sub`.
    pub fn participant(&self, sub: &str) -> String {
        self.bearer(Role::Participant, sub, None)
    }

    fn bearer(&self, role: Role, sub: &str, vibe: Option<&str>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            vibe: vibe.map(str::to_owned),
            exp: now + 3600,
        };
        format!("Bearer {}", self.keys.mint(&claims))
    }
}
