//! Mints tokens for local use the way the app's backend does: signed with the
//! key the gateway verifies, `VIBES_AUTH__SECRET` (and `VIBES_AUTH__KID`,
//! default `k1`), issued now (`iat`) by `VIBES_AUTH__ISSUER` for
//! `VIBES_AUTH__AUDIENCE` (the gateway's defaults unless set), the same
//! variables the gateway reads.
//!
//!   vibes-token creator <vibeId> [--sub ID] [--ttl SECONDS] [--aud AUDIENCE] [--iss ISSUER]
//!   vibes-token participant [--sub ID] [--ttl SECONDS] [--aud AUDIENCE] [--iss ISSUER]

use secrecy::SecretString;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vibes_tokens::jwt::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_MAX_LIFETIME};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey, TokenRules};

const USAGE: &str = "usage: vibes-token creator <vibeId> [--sub ID] [--ttl SECONDS] [--aud AUDIENCE] [--iss ISSUER]\n       \
vibes-token participant [--sub ID] [--ttl SECONDS] [--aud AUDIENCE] [--iss ISSUER]\n\
The key comes from VIBES_AUTH__SECRET (and VIBES_AUTH__KID, default k1); the\n\
audience and issuer from VIBES_AUTH__AUDIENCE and VIBES_AUTH__ISSUER (defaults\n\
vibesflow-streaming and vibesflow-app), like the gateway's. The gateway refuses\n\
tokens living longer than its auth.max_lifetime (24h unless configured).";

fn main() -> ExitCode {
    match mint(std::env::args().skip(1).collect()) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("vibes-token: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn mint(arguments: Vec<String>) -> Result<String, String> {
    let mut words = arguments.into_iter();
    let role = match words.next().as_deref() {
        Some("creator") => Role::Creator,
        Some("participant") => Role::Participant,
        Some("--help" | "-h") => return Err("help".to_owned()),
        other => return Err(format!("unknown role {other:?}")),
    };
    let vibe = match role {
        Role::Creator => Some(
            words
                .next()
                .ok_or("a creator token needs the stream's vibeId")?,
        ),
        Role::Participant => None,
    };
    let mut rules = TokenRules {
        audience: setting("VIBES_AUTH__AUDIENCE", DEFAULT_AUDIENCE),
        issuer: setting("VIBES_AUTH__ISSUER", DEFAULT_ISSUER),
        max_lifetime: DEFAULT_MAX_LIFETIME,
    };
    let (mut sub, mut ttl) = (None, 3600);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sub" => sub = Some(value),
            "--ttl" => ttl = value.parse().map_err(|_| "--ttl takes seconds")?,
            "--aud" => rules.audience = value,
            "--iss" => rules.issuer = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if Duration::from_secs(ttl) > DEFAULT_MAX_LIFETIME {
        eprintln!(
            "vibes-token: warning: a gateway with the default auth.max_lifetime (24h) refuses a \
             token living {ttl} s"
        );
    }
    let secret = std::env::var("VIBES_AUTH__SECRET").map_err(|_| "set VIBES_AUTH__SECRET")?;
    let kid = setting("VIBES_AUTH__KID", "k1");
    let keys = JwtKeys::new(vec![SigningKey {
        kid,
        secret: SecretString::from(secret),
    }])
    .map_err(|error| error.to_string())?
    .with_rules(rules);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|error| error.to_string())?
        .as_secs();
    let default_sub = match role {
        Role::Creator => "dev-creator",
        Role::Participant => "dev-listener",
    };
    Ok(keys.mint(&Claims {
        sub: sub.unwrap_or_else(|| default_sub.to_owned()),
        role,
        vibe,
        exp: now + ttl,
    }))
}
