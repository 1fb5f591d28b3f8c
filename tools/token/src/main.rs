//! Mints tokens for local use, signed with the key the gateway verifies:
//! `VIBES_AUTH__SECRET` (and `VIBES_AUTH__KID`, default `k1`).
//!
//!   vibes-token creator <vibeId> [--sub ID] [--ttl SECONDS]
//!   vibes-token participant [--sub ID] [--ttl SECONDS]

use secrecy::SecretString;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use vibes_tokens::{Claims, JwtKeys, Role, SigningKey};

const USAGE: &str = "usage: vibes-token creator <vibeId> [--sub ID] [--ttl SECONDS]\n       \
vibes-token participant [--sub ID] [--ttl SECONDS]\n\
The key comes from VIBES_AUTH__SECRET (and VIBES_AUTH__KID, default k1).";

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
    let (mut sub, mut ttl) = (None, 3600);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sub" => sub = Some(value),
            "--ttl" => ttl = value.parse().map_err(|_| "--ttl takes seconds")?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let secret = std::env::var("VIBES_AUTH__SECRET").map_err(|_| "set VIBES_AUTH__SECRET")?;
    let kid = std::env::var("VIBES_AUTH__KID").unwrap_or_else(|_| "k1".to_owned());
    let keys = JwtKeys::new(vec![SigningKey {
        kid,
        secret: SecretString::from(secret),
    }])
    .map_err(|error| error.to_string())?;
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
