//! Stream and participant state, all of it in Redis so any number of registry
//! instances agree.

use crate::configuration::ParticipantSettings;
use crate::error::RegistryError;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::scripts::{self, StreamRecord};
use vibes_redis::{JoinOutcome, LeaveOutcome, RedisConnector, SessionScripts};

pub struct SessionStore {
    redis: RedisConnector,
    scripts: SessionScripts,
    default_cap: u64,
    lease: Duration,
}

/// A seat held by a participant after a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    pub participant_count: u64,
    pub cap: u64,
}

impl SessionStore {
    pub fn new(redis: RedisConnector, participants: &ParticipantSettings) -> Self {
        Self {
            redis,
            scripts: SessionScripts::default(),
            default_cap: participants.max_per_stream,
            lease: participants.lease(),
        }
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn default_cap(&self) -> u64 {
        self.default_cap
    }

    pub async fn ping(&self) -> Result<(), RegistryError> {
        Ok(self.redis.ping().await?)
    }

    pub async fn register_stream(
        &self,
        vibe: &VibeId,
        owner: &str,
        creator: Option<&str>,
    ) -> Result<bool, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(self
            .scripts
            .register_stream(&mut connection, vibe, owner, creator)
            .await?)
    }

    pub async fn end_stream(&self, vibe: &VibeId) -> Result<bool, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(scripts::end_stream(&mut connection, vibe).await?)
    }

    pub async fn join(
        &self,
        vibe: &VibeId,
        participant: &ParticipantId,
    ) -> Result<Seat, RegistryError> {
        let mut connection = self.redis.connection().await?;
        let outcome = self
            .scripts
            .join(
                &mut connection,
                vibe,
                participant,
                self.lease,
                self.default_cap,
            )
            .await?;
        match outcome {
            JoinOutcome::Admitted {
                participant_count,
                cap,
            } => Ok(Seat {
                participant_count,
                cap,
            }),
            JoinOutcome::Full {
                participant_count,
                cap,
            } => Err(RegistryError::StreamFull {
                vibe: vibe.clone(),
                participant_count,
                cap,
            }),
            JoinOutcome::NotLive => Err(RegistryError::StreamNotLive(vibe.clone())),
        }
    }

    pub async fn leave(
        &self,
        vibe: &VibeId,
        participant: &ParticipantId,
    ) -> Result<LeaveOutcome, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(self
            .scripts
            .leave(&mut connection, vibe, participant)
            .await?)
    }

    /// Live streams with their participant counts at read time.
    pub async fn live_streams(&self) -> Result<Vec<(StreamRecord, u64)>, RegistryError> {
        let mut connection = self.redis.connection().await?;
        let records = scripts::live_streams(&mut connection).await?;
        let mut streams = Vec::with_capacity(records.len());
        for record in records {
            let count = self
                .scripts
                .participant_count(&mut connection, &record.vibe_id)
                .await?;
            streams.push((record, count));
        }
        Ok(streams)
    }
}
