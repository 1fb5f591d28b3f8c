//! Ends streams nobody carries any more. Ingest renews a live stream's
//! registration every few seconds while audio flows and ends it itself after
//! a silence; the engine's publish hook registers a stream it lets in. A
//! stream whose ingest pod died, or whose outside publisher left, gets
//! neither: without the reaper it would stay in `/streams/active` and keep
//! its seats for ever. A stream is ended when its registration is older than
//! `streams.stale_after` *and* the engine has no publisher for it, so a
//! paused creator (ingest keeps publishing silence) is never cut.

use crate::engine::EngineClients;
use crate::error::RegistryError;
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::Instrument;
use vibes_domain::VibeId;

pub struct StreamReaper {
    store: Arc<SessionStore>,
    engine: EngineClients,
    stale_after: Duration,
}

impl StreamReaper {
    pub fn new(store: Arc<SessionStore>, engine: EngineClients, stale_after: Duration) -> Self {
        Self {
            store,
            engine,
            stale_after,
        }
    }

    /// Runs a round every `interval`, forever.
    pub async fn run(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let span = tracing::info_span!("stream_reaper_round");
            if let Err(error) = self.round().instrument(span).await {
                // Nothing is ended on a partial view: the next round retries.
                tracing::warn!(%error, "stream reaper round skipped");
            }
        }
    }

    /// Ends every stale stream without a publisher; returns the ones it ended.
    pub async fn round(&self) -> Result<Vec<VibeId>, ReaperError> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let stale: Vec<VibeId> = self
            .store
            .live_records()
            .await?
            .into_iter()
            .filter(|record| is_stale(record.renewed_at_ms, now_ms, self.stale_after))
            .map(|record| record.vibe_id)
            .collect();
        if stale.is_empty() {
            return Ok(Vec::new());
        }
        let published = self.engine.published_streams().await?;
        let mut ended = Vec::new();
        for vibe in stale {
            if published.contains(vibe.as_str()) {
                continue;
            }
            if self.store.end_stream(&vibe).await? {
                metrics::counter!("vibes_registry_streams_reaped_total").increment(1);
                tracing::info!(vibe_id = %vibe, "stream ended: no registration and no publisher");
                ended.push(vibe);
            }
        }
        Ok(ended)
    }
}

fn is_stale(renewed_at_ms: u64, now_ms: u64, stale_after: Duration) -> bool {
    u128::from(now_ms.saturating_sub(renewed_at_ms)) > stale_after.as_millis()
}

#[derive(Debug, thiserror::Error)]
pub enum ReaperError {
    #[error("the engine API failed: {0}")]
    Engine(#[from] srs_client::SrsClientError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_stale_only_once_its_registration_is_older_than_the_limit() {
        let limit = Duration::from_secs(30);
        assert!(!is_stale(100_000, 130_000, limit));
        assert!(is_stale(100_000, 130_001, limit));
        // A registration stamped ahead of this clock is fresh, not stale.
        assert!(!is_stale(200_000, 130_000, limit));
    }
}
