//! A stream's audio from the engine: its HTTP-FLV, read once per stream the
//! way the edge relay reads it (`?relay=<key>`, which the registry's on_play
//! hook admits as the edge's), as AAC packets.

use crate::configuration::EngineSettings;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use vibes_domain::api::PartHealth;
use vibes_domain::VibeId;
use vibes_flv::{AacPacket, FlvReader};

/// What one engine connection delivered, in order.
#[derive(Debug)]
pub enum Audio {
    /// The AudioSpecificConfig (at the start, and again if the encoder changes).
    Config(Bytes),
    /// One raw AAC frame.
    Frame(Bytes),
}

/// How an engine connection ended.
#[derive(Debug)]
pub struct Ended {
    /// Whether any audio came before it ended.
    pub played: bool,
    /// Why, for the log (never shown to clients).
    pub reason: String,
}

#[derive(Clone)]
pub struct EngineInput {
    http: reqwest::Client,
    base_url: String,
    relay_key: SecretString,
    silence_timeout: Duration,
}

impl EngineInput {
    pub fn new(settings: &EngineSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .build()?;
        Ok(Self {
            http,
            base_url: settings.flv_base_url.trim_end_matches('/').to_owned(),
            relay_key: settings.relay_key.clone(),
            silence_timeout: settings.silence_timeout,
        })
    }

    /// Reads `vibe`'s FLV until it ends or stays silent, handing each AAC
    /// packet to `deliver`. The engine holds a request for a stream nobody
    /// publishes without answering; that, too, ends after the silence timeout.
    pub async fn play(&self, vibe: &VibeId, mut deliver: impl FnMut(Audio)) -> Ended {
        let url = format!("{}/live/{vibe}.flv", self.base_url);
        let request = self
            .http
            .get(&url)
            .query(&[("relay", self.relay_key.expose_secret())])
            .send();
        let mut played = false;
        let ended = |played, reason: String| Ended { played, reason };
        let mut response = match tokio::time::timeout(self.silence_timeout, request).await {
            Err(_) => return ended(false, "the engine did not answer".to_owned()),
            Ok(Err(error)) => return ended(false, format!("engine request failed: {error}")),
            Ok(Ok(response)) if !response.status().is_success() => {
                return ended(false, format!("the engine answered {}", response.status()))
            }
            Ok(Ok(response)) => response,
        };
        let mut reader = FlvReader::default();
        loop {
            let chunk = match tokio::time::timeout(self.silence_timeout, response.chunk()).await {
                Err(_) => return ended(played, "the engine's FLV went silent".to_owned()),
                Ok(Err(error)) => {
                    return ended(played, format!("reading the engine's FLV: {error}"))
                }
                Ok(Ok(None)) => return ended(played, "the engine ended the FLV".to_owned()),
                Ok(Ok(Some(chunk))) => chunk,
            };
            reader.push(&chunk);
            loop {
                match reader.next_tag() {
                    Ok(Some(tag)) => match tag.aac() {
                        Some(AacPacket::SequenceHeader(config)) => deliver(Audio::Config(config)),
                        Some(AacPacket::Frame(frame)) => {
                            played = true;
                            deliver(Audio::Frame(frame));
                        }
                        None => {}
                    },
                    Ok(None) => break,
                    Err(error) => return ended(played, format!("the engine's FLV: {error}")),
                }
            }
        }
    }

    /// Whether the engine's HTTP server answers at all (readiness).
    /// Up while the engine's HTTP server answers: every stream reads from
    /// it (part of readiness).
    pub async fn health(&self) -> PartHealth {
        match self.reachable().await {
            Ok(()) => PartHealth::up(),
            Err(reason) => PartHealth::down(reason),
        }
    }

    pub async fn reachable(&self) -> Result<(), String> {
        let answer = self
            .http
            .get(&self.base_url)
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        answer.map(|_| ()).map_err(|error| {
            tracing::warn!(%error, "engine unreachable");
            "the engine's HTTP server does not answer".to_owned()
        })
    }
}
