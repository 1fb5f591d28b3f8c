//! The media engine's SRS-compatible HTTP API: who is connected, and
//! disconnecting a player whose seat is gone.

use srs_client::{SrsClient, SrsClientError};
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

#[derive(Clone)]
pub struct EngineClients {
    api: SrsClient,
}

impl EngineClients {
    pub fn new(api_url: &str, timeout: Duration) -> Result<Self, Box<dyn std::error::Error>> {
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
                client_id: client.id,
                stream_name: client.name,
            })
            .collect())
    }

    pub async fn disconnect(&self, client_id: &str) -> Result<(), SrsClientError> {
        self.api.kickoff_client(client_id).await.map(|_| ())
    }
}
