//! FLV players as the engine reports them. An HTTP-FLV response lasts as long
//! as the listener listens, so the check nginx makes at connect is not enough:
//! each player is tied to its participant here, its lease is renewed while it
//! stays connected, and it is disconnected once its seat is gone. The edge's
//! relays (one connection per stream and nginx worker, fanned out to that
//! worker's listeners) show the edge's key instead; the edge keeps each of
//! its listeners' seats itself.

use crate::error::{PlayerRefused, RegistryError};
use crate::playback::Playback;
use crate::redis::{FlvConnection, SeatRequest};
use crate::store::SessionStore;
use vibes_domain::VibeId;

/// The non-empty value of parameter `name` in a player's query string.
pub fn query_parameter<'query>(query: &'query str, name: &str) -> Option<&'query str> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name && !value.is_empty()).then_some(value))
}

/// A player connected with `query`: an edge relay must show the edge's key;
/// a listener's token must be genuine and its participant seated (the seat
/// is renewed). Then the connection is recorded.
pub async fn player_started(
    store: &SessionStore,
    playback: &Playback,
    vibe: &VibeId,
    client_id: &str,
    query: &str,
) -> Result<FlvConnection, PlayerRefused> {
    let player = match query_parameter(query, "relay") {
        Some(key) if playback.is_edge_relay_key(key) => FlvConnection::EdgeRelay,
        Some(_) => return Err(PlayerRefused::RelayKey),
        None => {
            let token = query_parameter(query, "token").ok_or(PlayerRefused::NoToken)?;
            let participant =
                playback
                    .tokens()
                    .verify(vibe, token, std::time::SystemTime::now())?;
            store.seat(vibe, &participant, SeatRequest::Renew).await?;
            FlvConnection::Listener(participant)
        }
    };
    store
        .record_flv_connection(vibe, client_id, &player)
        .await?;
    match &player {
        FlvConnection::Listener(participant) => {
            let shown = vibes_telemetry::participant_field(participant.as_str());
            tracing::info!(vibe_id = %vibe, participant_id = shown, client_id, "FLV player connected");
        }
        FlvConnection::EdgeRelay => {
            tracing::info!(vibe_id = %vibe, client_id, "edge relay connected")
        }
    }
    Ok(player)
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
    fn parameters_are_found_among_others_by_their_whole_name() {
        let token = |query| query_parameter(query, "token");
        assert_eq!(token("?token=a.1.b"), Some("a.1.b"));
        assert_eq!(token("x=1&token=a.1.b&y=2"), Some("a.1.b"));
        assert_eq!(token("?x=1"), None);
        assert_eq!(token("token="), None);
        assert_eq!(token("mytoken=a.1.b"), None);
        assert_eq!(token(""), None);
        assert_eq!(query_parameter("token=t&relay=k", "relay"), Some("k"));
    }
}
