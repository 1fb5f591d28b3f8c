//! The media engine's SRS-compatible HTTP API: who is connected, and
//! disconnecting a player whose seat is gone.

use srs_client::{SrsClient, SrsClientError};
use std::collections::HashSet;
use std::time::Duration;

/// SRS's client type for HTTP-FLV players.
const FLV_PLAYER_TYPE: &str = "flv-play";
/// Enough for every player of every stream on one engine in one page.
const CLIENT_PAGE: i64 = 100_000;

/// An FLV player connected to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvPlayer {
    pub client_id: String,
    pub stream_name: String,
}

/// The stream a client plays: the last segment of its `url` (`/live/<vibe>`).
/// SRS names an HTTP-FLV player after the file it asked for (`<vibe>.flv`),
/// so `name` is only the fallback, without that extension.
fn stream_name<'client>(url: &'client str, name: &'client str) -> &'client str {
    match url.rsplit_once('/') {
        Some((_, last)) if !last.is_empty() => last,
        _ => name.strip_suffix(".flv").unwrap_or(name),
    }
}

#[derive(Clone)]
pub struct EngineClients {
    api: SrsClient,
}

impl EngineClients {
    pub fn new(api_url: &str, timeout: Duration) -> Result<Self, vibes_web::service::BoxError> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            api: SrsClient::with_http_client(api_url, http)?,
        })
    }

    pub async fn flv_players(&self) -> Result<Vec<FlvPlayer>, SrsClientError> {
        let clients = self.api.get_client_page_list(0, CLIENT_PAGE).await?;
        Ok(clients
            .into_iter()
            .filter(|client| client.r#type == FLV_PLAYER_TYPE)
            .map(|client| FlvPlayer {
                stream_name: stream_name(&client.url, &client.name).to_owned(),
                client_id: client.id,
            })
            .collect())
    }

    /// The streams someone publishes into the engine right now (ingest's
    /// encoder, or any other publisher the publish hook let in).
    pub async fn published_streams(&self) -> Result<HashSet<String>, SrsClientError> {
        let clients = self.api.get_client_page_list(0, CLIENT_PAGE).await?;
        Ok(clients
            .into_iter()
            .filter(|client| client.publish)
            .map(|client| stream_name(&client.url, &client.name).to_owned())
            .collect())
    }

    pub async fn disconnect(&self, client_id: &str) -> Result<(), SrsClientError> {
        self.api.kickoff_client(client_id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::stream_name;

    #[test]
    fn an_flv_player_plays_the_stream_its_url_names() {
        assert_eq!(stream_name("/live/abc", "abc.flv"), "abc");
        assert_eq!(stream_name("", "abc.flv"), "abc");
        assert_eq!(stream_name("/live/", "abc"), "abc");
    }
}
