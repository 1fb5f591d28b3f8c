//! Keeps FLV players and seats in step, on an interval: renews the lease of
//! every player the engine still has, forgets players the engine no longer
//! has (a lost stop hook), and disconnects players whose seat is gone (left,
//! stream ended, or not re-seatable) and players no hook vouched for. Edge
//! relays are left connected: the edge keeps each of its listeners' seats.

use crate::engine::{EngineClients, FlvPlayer};
use crate::error::RegistryError;
use crate::redis::{FlvConnection, SeatRequest};
use crate::store::SessionStore;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// What one round did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub renewed: usize,
    pub forgotten: usize,
    pub disconnected: usize,
    /// Edge relays seen connected (they hold no seat to renew).
    pub relays: usize,
}

pub struct FlvWarden {
    store: Arc<SessionStore>,
    engine: EngineClients,
    /// Players seen without a recorded participant, and since when: a hook
    /// may still be on its way, so they get `UNVOUCHED_GRACE` first.
    unvouched: HashMap<String, Instant>,
}

/// How long a connected player may go without its hook having vouched for it.
const UNVOUCHED_GRACE: Duration = Duration::from_secs(5);

impl FlvWarden {
    pub fn new(store: Arc<SessionStore>, engine: EngineClients) -> Self {
        Self {
            store,
            engine,
            unvouched: HashMap::new(),
        }
    }

    /// Runs a round every `interval` until the application stops it.
    pub async fn run(mut self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // One trace per round, so its Redis and engine calls group together.
            let span = tracing::info_span!("flv_warden_round");
            match self.round().instrument(span).await {
                Ok(round) if round != Round::default() => {
                    tracing::info!(?round, "FLV warden round")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "FLV warden round skipped"),
            }
        }
    }

    pub async fn round(&mut self) -> Result<Round, WardenError> {
        // What the hooks recorded is read before the engine's list. The other
        // way round, a player whose hook lands between the two reads looks
        // gone from the engine: it would be forgotten, then kicked as
        // unvouched a grace later (an edge relay and all its listeners).
        let mut recorded = Vec::new();
        for vibe in self.store.live_vibe_ids().await? {
            let known = self.store.flv_connections(&vibe).await?;
            recorded.push((vibe, known));
        }
        let players = self.engine.flv_players().await?;
        let mut by_stream: HashMap<String, Vec<FlvPlayer>> = HashMap::new();
        for player in players {
            by_stream
                .entry(player.stream_name.clone())
                .or_default()
                .push(player);
        }
        let mut round = Round::default();
        let mut unvouched = HashMap::new();
        for (vibe, known) in recorded.iter() {
            let connected = by_stream.remove(vibe.as_str()).unwrap_or_default();
            let alive: HashSet<&str> = connected
                .iter()
                .map(|player| player.client_id.as_str())
                .collect();
            for (client_id, player) in known {
                if !alive.contains(client_id.as_str()) {
                    self.store.forget_flv_connection(vibe, client_id).await?;
                    round.forgotten += 1;
                    continue;
                }
                let FlvConnection::Listener(participant) = player else {
                    round.relays += 1;
                    continue;
                };
                match self.store.seat(vibe, participant, SeatRequest::Renew).await {
                    Ok(_) => round.renewed += 1,
                    Err(RegistryError::Redis(error)) => {
                        return Err(RegistryError::Redis(error).into())
                    }
                    Err(refusal) => {
                        let shown = vibes_telemetry::participant_field(participant.as_str());
                        tracing::info!(vibe_id = %vibe, participant_id = shown, %refusal, "disconnecting FLV player");
                        self.disconnect(client_id).await;
                        self.store.forget_flv_connection(vibe, client_id).await?;
                        round.disconnected += 1;
                    }
                }
            }
            for player in connected
                .iter()
                .filter(|player| !known.contains_key(&player.client_id))
            {
                let first_seen = self
                    .unvouched
                    .get(&player.client_id)
                    .copied()
                    .unwrap_or_else(Instant::now);
                if first_seen.elapsed() >= UNVOUCHED_GRACE {
                    tracing::warn!(vibe_id = %vibe, client_id = %player.client_id, "FLV player without a seat; disconnecting");
                    self.disconnect(&player.client_id).await;
                    round.disconnected += 1;
                } else {
                    unvouched.insert(player.client_id.clone(), first_seen);
                }
            }
        }
        // Players of streams not registered as live are left alone: after
        // Redis lost its data the owner re-registers its stream shortly, and
        // an ended stream's players are cut off when its publisher stops.
        self.unvouched = unvouched;
        Ok(round)
    }

    async fn disconnect(&self, client_id: &str) {
        if let Err(error) = self.engine.disconnect(client_id).await {
            tracing::warn!(client_id, %error, "could not disconnect an FLV player");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WardenError {
    #[error("the engine API failed: {0}")]
    Engine(#[from] srs_client::SrsClientError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}
