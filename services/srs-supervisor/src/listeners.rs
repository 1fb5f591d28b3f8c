//! Listener counts from the session registry's leases. The engine sees only
//! connected players (FLV); an HLS viewer is a series of file requests it
//! cannot tell apart, but every listener holds a lease, renewed by each
//! authorized media request.

use crate::configuration::RegistrySettings;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Deserialize)]
struct ActiveStreams {
    streams: Vec<ActiveStream>,
}

#[derive(Deserialize)]
struct ActiveStream {
    vibe_id: String,
    participant_count: u64,
}

#[derive(Clone)]
pub struct LeaseCounts {
    http: reqwest::Client,
    url: Option<String>,
}

impl LeaseCounts {
    pub fn new(registry: &RegistrySettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(registry.timeout)
            .build()?;
        let url = (!registry.url.is_empty())
            .then(|| format!("{}/streams/active", registry.url.trim_end_matches('/')));
        Ok(Self { http, url })
    }

    /// Listeners holding a lease, per live stream; `None` when the registry
    /// is not configured or does not answer (the engine's counts stand then).
    pub async fn per_stream(&self) -> Option<HashMap<String, u64>> {
        let url = self.url.as_ref()?;
        let answer = async {
            let response = self.http.get(url).send().await?.error_for_status()?;
            response.json::<ActiveStreams>().await
        };
        match answer.await {
            Ok(active) => Some(
                active
                    .streams
                    .into_iter()
                    .map(|stream| (stream.vibe_id, stream.participant_count))
                    .collect(),
            ),
            Err(error) => {
                tracing::warn!(%error, "registry leases unavailable; listener counts from the engine");
                None
            }
        }
    }
}

/// Where a listener count comes from.
const FROM_LEASES: &str = "registry_leases";
const FROM_ENGINE: &str = "engine";

/// Replaces each stream's engine player count with its lease count where
/// the registry knows the stream, and says where each count came from.
pub fn count_listeners(body: &mut Value, leased: Option<&HashMap<String, u64>>) {
    body["listeners_source"] = json!(if leased.is_some() {
        FROM_LEASES
    } else {
        FROM_ENGINE
    });
    let Some(streams) = body["streams"].as_array_mut() else {
        return;
    };
    for stream in streams {
        let publishers = u64::from(stream["publish"]["active"].as_bool().unwrap_or(false));
        let engine_players = stream["clients"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(publishers);
        let name = stream["name"].as_str().unwrap_or_default();
        let (count, source) = match leased.and_then(|leased| leased.get(name)) {
            Some(&holding_a_lease) => (holding_a_lease, FROM_LEASES),
            None => (engine_players, FROM_ENGINE),
        };
        stream["clients"] = json!(count + publishers);
        stream["listeners"] = json!({
            "count": count,
            "source": source,
            "engine_players": engine_players,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_replace_the_engines_player_count_where_the_registry_knows_the_stream() {
        let mut body = json!({
            "code": 0,
            "streams": [
                { "name": "known", "clients": 3, "publish": { "active": true } },
                { "name": "unknown", "clients": 2, "publish": { "active": false } },
            ],
        });
        let leased = HashMap::from([("known".to_owned(), 40)]);
        count_listeners(&mut body, Some(&leased));
        assert_eq!(body["listeners_source"], FROM_LEASES);
        let known = &body["streams"][0];
        assert_eq!(known["clients"], 41);
        assert_eq!(
            known["listeners"],
            json!({ "count": 40, "source": FROM_LEASES, "engine_players": 2 })
        );
        let unknown = &body["streams"][1];
        assert_eq!(unknown["clients"], 2);
        assert_eq!(unknown["listeners"]["source"], FROM_ENGINE);

        let mut body = json!({ "streams": [{ "name": "known", "clients": 1, "publish": { "active": true } }] });
        count_listeners(&mut body, None);
        assert_eq!(body["listeners_source"], FROM_ENGINE);
        assert_eq!(body["streams"][0]["listeners"]["count"], 0);
    }
}
