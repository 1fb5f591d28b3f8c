//! Stream and participant state, all of it in Redis so any number of registry
//! instances agree.

use crate::configuration::{ParticipantSettings, PlaybackSettings};
use crate::error::RegistryError;
use crate::redis::scripts::{self, StreamRecord};
use crate::redis::{
    FlvConnection, JoinOutcome, LeaveOutcome, SeatRequest, SeatTerms, SessionScripts,
};
use std::collections::HashMap;
use vibes_domain::api::PartHealth;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::RedisConnector;

pub struct SessionStore {
    redis: RedisConnector,
    scripts: SessionScripts,
    terms: SeatTerms,
}

/// A seat held by a participant after a join or renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    pub participant_count: u64,
    pub cap: u64,
}

impl SessionStore {
    pub fn new(
        redis: RedisConnector,
        participants: &ParticipantSettings,
        playback: &PlaybackSettings,
    ) -> Self {
        let terms = SeatTerms {
            lease: participants.lease,
            remember_leave: playback.token_ttl,
            default_cap: participants.max_per_stream,
            unconfirmed_grace: participants.unconfirmed_grace,
        };
        Self {
            redis,
            scripts: SessionScripts::default(),
            terms,
        }
    }

    pub fn terms(&self) -> &SeatTerms {
        &self.terms
    }

    /// Up while Redis answers (part of readiness).
    pub async fn health(&self) -> PartHealth {
        match self.redis.ping().await {
            Ok(()) => PartHealth::up(),
            Err(error) => PartHealth::down(RegistryError::from(error).to_string()),
        }
    }

    pub async fn register_stream(
        &self,
        vibe: &VibeId,
        owner: &str,
        creator: Option<&str>,
    ) -> Result<bool, RegistryError> {
        let mut connection = self.redis.connection().await?;
        let fresh = self
            .scripts
            .register_stream(&mut connection, vibe, owner, creator);
        Ok(fresh.await?)
    }

    pub async fn end_stream(&self, vibe: &VibeId) -> Result<bool, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(scripts::end_stream(&mut connection, vibe, self.terms.remember_leave).await?)
    }

    /// Seats a participant: a join, or a media request renewing its lease.
    pub async fn seat(
        &self,
        vibe: &VibeId,
        participant: &ParticipantId,
        request: SeatRequest,
    ) -> Result<Seat, RegistryError> {
        let request_label = match request {
            SeatRequest::Join => "join",
            SeatRequest::Renew => "renew",
        };
        let count_seat = |outcome| count_seats(request_label, outcome, 1);
        let seated = async {
            let mut connection = self.redis.connection().await?;
            let seat = self
                .scripts
                .seat(&mut connection, vibe, participant, &self.terms, request);
            seat.await
        };
        let outcome = seated
            .await
            .inspect_err(|_| count_seat("redis_unavailable"))?;
        count_seat(outcome.label());
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
            // Redis lost the stream's record a moment ago: it plays on, uncounted.
            JoinOutcome::Unconfirmed => Ok(Seat {
                participant_count: 0,
                cap: self.terms.default_cap,
            }),
            JoinOutcome::NotLive => Err(RegistryError::StreamNotLive(vibe.clone())),
            JoinOutcome::Departed => Err(RegistryError::ParticipantLeft(participant.clone())),
        }
    }

    /// Renews the seats of many participants of `vibe` in one Redis call
    /// (the edge's FLV listeners of a stream) and says, in their order,
    /// whether each still holds one.
    pub async fn renew_seats(
        &self,
        vibe: &VibeId,
        participants: &[ParticipantId],
    ) -> Result<Vec<bool>, RegistryError> {
        let renewed = async {
            let mut connection = self.redis.connection().await?;
            let renewal =
                self.scripts
                    .renew_seats(&mut connection, vibe, participants, &self.terms);
            renewal.await
        };
        let outcomes = renewed.await.inspect_err(|_| {
            count_seats("renew", "redis_unavailable", participants.len() as u64)
        })?;
        Ok(outcomes
            .iter()
            .map(|outcome| {
                count_seats("renew", outcome.label(), 1);
                matches!(
                    outcome,
                    JoinOutcome::Admitted { .. } | JoinOutcome::Unconfirmed
                )
            })
            .collect())
    }

    pub async fn leave(
        &self,
        vibe: &VibeId,
        participant: &ParticipantId,
    ) -> Result<LeaveOutcome, RegistryError> {
        let mut connection = self.redis.connection().await?;
        let outcome = self
            .scripts
            .leave(&mut connection, vibe, participant, &self.terms);
        Ok(outcome.await?)
    }

    /// Overrides one live stream's participant cap.
    pub async fn set_cap(&self, vibe: &VibeId, cap: u64) -> Result<(), RegistryError> {
        let mut connection = self.redis.connection().await?;
        match self.scripts.set_cap(&mut connection, vibe, cap).await? {
            true => Ok(()),
            false => Err(RegistryError::StreamNotLive(vibe.clone())),
        }
    }

    pub async fn record_flv_connection(
        &self,
        vibe: &VibeId,
        client_id: &str,
        player: &FlvConnection,
    ) -> Result<(), RegistryError> {
        let mut connection = self.redis.connection().await?;
        let recorded = scripts::record_flv_connection(&mut connection, vibe, client_id, player);
        Ok(recorded.await?)
    }

    pub async fn forget_flv_connection(
        &self,
        vibe: &VibeId,
        client_id: &str,
    ) -> Result<(), RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(scripts::forget_flv_connection(&mut connection, vibe, client_id).await?)
    }

    pub async fn flv_connections(
        &self,
        vibe: &VibeId,
    ) -> Result<HashMap<String, FlvConnection>, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(scripts::flv_connections(&mut connection, vibe).await?)
    }

    pub async fn live_vibe_ids(&self) -> Result<Vec<VibeId>, RegistryError> {
        let records = self.live_records().await?;
        Ok(records.into_iter().map(|record| record.vibe_id).collect())
    }

    /// Live streams' records, without counting their participants.
    pub async fn live_records(&self) -> Result<Vec<StreamRecord>, RegistryError> {
        let mut connection = self.redis.connection().await?;
        Ok(scripts::live_streams(&mut connection).await?)
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

fn count_seats(request: &'static str, outcome: &'static str, seats: u64) {
    metrics::counter!("vibes_registry_seats_total", "request" => request, "outcome" => outcome)
        .increment(seats);
}
