//! Seats for simulated listeners, taken from the registry's own port as the
//! gateway would: the engine's hooks refuse (and disconnect) an FLV player
//! without a valid playback token, so even listeners that bypass the edge
//! play with one, passed as `?token=` just as the edge passes it.

use serde_json::json;
use std::error::Error;
use vibes_domain::api::{ActiveStreams, JoinResponse};

type Failure = Box<dyn Error + Send + Sync>;

pub struct Seat {
    /// The playback URL through the edge, as handed to the app.
    pub edge_flv: String,
    pub token: String,
}

impl Seat {
    /// The same stream straight from the engine's HTTP-FLV port.
    pub fn engine_flv(&self, engine_flv_url: &str, vibe: &str) -> String {
        format!("{engine_flv_url}/live/{vibe}.flv?token={}", self.token)
    }
}

/// Registers `vibe` as live (for a stream published straight to the engine).
pub async fn register_stream(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
) -> Result<(), Failure> {
    http.put(format!("{registry_url}/internal/streams/{vibe}"))
        .json(&json!({ "owner": "bench" }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// The participant count the registry at `registry_url` lists for `vibe`
/// (`GET /streams/active`); None when the stream is not listed.
pub async fn participant_count(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
) -> Result<Option<u64>, Failure> {
    let active: ActiveStreams = http
        .get(format!("{registry_url}/streams/active"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(active
        .streams
        .iter()
        .find(|stream| stream.vibe_id.as_str() == vibe)
        .map(|stream| stream.participant_count))
}

/// The registry answered a join with something other than a seat.
#[derive(Debug)]
pub struct JoinRefused {
    pub status: u16,
    pub what: String,
}

impl std::fmt::Display for JoinRefused {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.what)
    }
}

impl Error for JoinRefused {}

pub async fn join(
    http: &reqwest::Client,
    registry_url: &str,
    vibe: &str,
    participant: &str,
) -> Result<Seat, Failure> {
    let response = http
        .post(format!("{registry_url}/stream/{vibe}/join"))
        .json(&json!({ "participant_id": participant }))
        .send()
        .await?;
    let status = response.status();
    if status != 200 {
        let body = response.text().await.unwrap_or_default();
        return Err(Box::new(JoinRefused {
            status: status.as_u16(),
            what: format!("join {vibe} as {participant}: {status} {body}"),
        }));
    }
    let joined: JoinResponse = response.json().await?;
    let token = token_of(&joined.playback.flv).ok_or("the FLV URL carries no token")?;
    Ok(Seat {
        token: token.to_owned(),
        edge_flv: joined.playback.flv,
    })
}

/// `…/live/<token>/<vibe>.flv` → `<token>`.
fn token_of(flv_url: &str) -> Option<&str> {
    let (_, after_live) = flv_url.split_once("/live/")?;
    let (token, _) = after_live.split_once('/')?;
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_path_segment_after_live() {
        assert_eq!(
            token_of("https://localhost:8443/live/p1.1700000000.abcdefghijklmnopqrstuv/v1.flv"),
            Some("p1.1700000000.abcdefghijklmnopqrstuv")
        );
        assert_eq!(token_of("https://localhost:8443/v1.flv"), None);
        assert_eq!(token_of("https://localhost:8443/live//v1.flv"), None);
    }

    #[test]
    fn the_engine_url_passes_the_token_as_the_edge_does() {
        let seat = Seat {
            edge_flv: String::new(),
            token: "p1.17.tag".to_owned(),
        };
        assert_eq!(
            seat.engine_flv("http://127.0.0.1:8081", "v1"),
            "http://127.0.0.1:8081/live/v1.flv?token=p1.17.tag"
        );
    }
}
