//! FLV players as the engine reports them. An HTTP-FLV response lasts as long
//! as the listener listens, so the check nginx makes at connect is not enough:
//! each player is tied to its participant here, its lease is renewed while it
//! stays connected, and it is disconnected once its seat is gone.

use crate::error::RegistryError;
use crate::playback::Playback;
use crate::store::SessionStore;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::SeatRequest;
use vibes_tokens::PlaybackTokenError;

#[derive(Debug, thiserror::Error)]
pub enum PlayerRefused {
    #[error("no playback token in the player's URL")]
    NoToken,
    #[error(transparent)]
    Token(#[from] PlaybackTokenError),
    #[error(transparent)]
    Seat(#[from] RegistryError),
}

/// The `token=` parameter of a player's query string.
pub fn token_in_query(query: &str) -> Option<&str> {
    query
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|token| !token.is_empty())
}

/// A player connected with `query`: its token must be genuine and its
/// participant seated (the seat is renewed); then the connection is recorded.
pub async fn player_started(
    store: &SessionStore,
    playback: &Playback,
    vibe: &VibeId,
    client_id: &str,
    query: &str,
) -> Result<ParticipantId, PlayerRefused> {
    let token = token_in_query(query).ok_or(PlayerRefused::NoToken)?;
    let participant = playback
        .tokens()
        .verify(vibe, token, std::time::SystemTime::now())?;
    store.seat(vibe, &participant, SeatRequest::Renew).await?;
    store
        .record_flv_connection(vibe, client_id, &participant)
        .await?;
    let shown = vibes_telemetry::participant_field(participant.as_str());
    tracing::info!(vibe_id = %vibe, participant_id = shown, client_id, "FLV player connected");
    Ok(participant)
}

pub async fn player_stopped(
    store: &SessionStore,
    vibe: &VibeId,
    client_id: &str,
) -> Result<(), RegistryError> {
    store.forget_flv_connection(vibe, client_id).await?;
    tracing::info!(vibe_id = %vibe, client_id, "FLV player disconnected");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_among_other_parameters() {
        assert_eq!(token_in_query("?token=a.1.b"), Some("a.1.b"));
        assert_eq!(token_in_query("x=1&token=a.1.b&y=2"), Some("a.1.b"));
        assert_eq!(token_in_query("?x=1"), None);
        assert_eq!(token_in_query("token="), None);
        assert_eq!(token_in_query(""), None);
    }
}
