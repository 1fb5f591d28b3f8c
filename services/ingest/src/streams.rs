//! The streams this ingest instance publishes, by vibe id.

use crate::configuration::Settings;
use crate::error::IngestError;
use crate::ownership::{HeldStream, Ownership};
use crate::pipeline::{EndReason, EnqueueError, PipelineConfig, StreamPipeline};
use crate::registry_client::RegistryClient;
use crate::sequence::{Accepted, ChunkSequence, SeqCheck};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use vibes_domain::api::PartHealth;
use vibes_domain::{CreatorId, VibeId};
use vibes_redis::ownership::LastChunk;
use vibes_web::Startup;

pub struct LiveStreams {
    streams: Mutex<HashMap<VibeId, LiveStream>>,
    /// Held while a stream is claimed and registered, so two first chunks of
    /// one stream cannot claim it twice.
    starting: tokio::sync::Mutex<()>,
    registry: RegistryClient,
    ownership: Arc<Ownership>,
    settings: Settings,
    pipeline_config: PipelineConfig,
}

struct LiveStream {
    pipeline: Arc<StreamPipeline>,
    held: Arc<HeldStream>,
    registered_at: Instant,
    sequence: ChunkSequence,
}

impl LiveStream {
    /// Checks the chunk's number, if it has one, and queues it.
    fn take(
        &mut self,
        vibe: &VibeId,
        pcm: Bytes,
        seq: Option<u64>,
    ) -> Result<Accepted, IngestError> {
        if let Some(seq) = seq {
            match self.sequence.check(seq) {
                SeqCheck::Retry(answer) => return Ok(answer),
                SeqCheck::Stale { last } => return Err(IngestError::StaleChunk { seq, last }),
                SeqCheck::New { missing: 0 } => {}
                SeqCheck::New { missing } => {
                    tracing::warn!(vibe_id = %vibe, seq, missing, "chunks missing before this one; their time plays as silence");
                }
            }
        }
        let accepted_bytes = pcm.len();
        self.pipeline.enqueue(pcm).map_err(|error| match error {
            EnqueueError::Full => {
                metrics::counter!("vibes_ingest_buffer_full_total").increment(1);
                IngestError::BufferFull
            }
            EnqueueError::Ending => IngestError::StreamEnding,
        })?;
        let answer = Accepted {
            accepted_bytes,
            queued_chunks: self.pipeline.queued_chunks(),
            seq,
            duplicate: false,
        };
        if let Some(seq) = seq {
            self.sequence.record(seq, answer);
        }
        Ok(answer)
    }
}

impl LiveStreams {
    /// The streams of this instance, a task that retires streams whose
    /// pipelines ended by themselves, and one that keeps this pod in the pool
    /// and its streams' leases renewed.
    pub fn start(
        settings: Settings,
        registry: RegistryClient,
        ownership: Arc<Ownership>,
        startup: &mut Startup,
    ) -> Arc<Self> {
        let (ended_by_itself, mut ended) = mpsc::unbounded_channel();
        let pipeline_config = PipelineConfig {
            encoder: settings.encoder.clone(),
            max_queued_chunks: settings.buffer.max_queued_chunks,
            max_queued: settings.buffer.max_queued,
            max_added_latency: settings.buffer.max_added_latency,
            idle_end: settings.stream.idle_end,
            ended_by_itself,
            ownership: ownership.clone(),
        };
        let streams = Arc::new(Self {
            streams: Mutex::default(),
            starting: tokio::sync::Mutex::default(),
            registry,
            ownership,
            settings,
            pipeline_config,
        });
        let retiring = Arc::downgrade(&streams);
        startup.spawn("retire_ended_streams", async move {
            while let Some((vibe, reason)) = ended.recv().await {
                let Some(streams) = retiring.upgrade() else {
                    return;
                };
                if let Err(error) = streams.retire(&vibe, reason).await {
                    let error = vibes_problem::cause_chain(&error);
                    tracing::warn!(vibe_id = %vibe, %error, "could not retire a stream");
                }
            }
        });
        startup.spawn(
            "ingest_pool_heartbeat",
            keep_in_pool(Arc::downgrade(&streams)),
        );
        streams
    }

    pub fn get(&self, vibe: &VibeId) -> Option<Arc<StreamPipeline>> {
        let streams = self.streams.lock().expect("streams lock");
        streams.get(vibe).map(|stream| stream.pipeline.clone())
    }

    pub fn count(&self) -> usize {
        self.streams.lock().expect("streams lock").len()
    }

    /// Queues a chunk for `vibe`, starting the stream on its first chunk. A new
    /// stream is registered before any audio is accepted, so a listener can
    /// join as soon as the creator's first POST succeeds; a live stream is
    /// registered again now and then, so the registry recovers it after
    /// Redis lost its data.
    pub async fn accept(
        &self,
        vibe: &VibeId,
        pcm: Bytes,
        seq: Option<u64>,
        creator: Option<&CreatorId>,
    ) -> Result<Accepted, IngestError> {
        let is_live_here = |streams: &Self| {
            streams
                .streams
                .lock()
                .expect("streams lock")
                .contains_key(vibe)
        };
        let mut is_new = false;
        if !is_live_here(self) {
            let _starting = self.starting.lock().await;
            if !is_live_here(self) {
                self.start_stream(vibe, creator).await?;
                is_new = true;
            }
        }
        let (answer, held) = self.take(vibe, pcm, seq, is_new)?;
        // Recorded before the answer: a retry the new owner gets after a
        // failover is then always one this pod already answered 202.
        if let (Some(seq), false) = (answer.seq, answer.duplicate) {
            let chunk = LastChunk {
                seq,
                bytes: answer.accepted_bytes as u64,
            };
            self.ownership.record_chunk(vibe, &held, chunk).await;
        }
        Ok(answer)
    }

    /// Queues a chunk on this pod's live stream, re-registering the stream
    /// when due; returns the answer and the stream's lease.
    fn take(
        &self,
        vibe: &VibeId,
        pcm: Bytes,
        seq: Option<u64>,
        is_new: bool,
    ) -> Result<(Accepted, Arc<HeldStream>), IngestError> {
        let mut streams = self.streams.lock().expect("streams lock");
        let Some(stream) = streams.get_mut(vibe) else {
            // Ended or lost between the start and now: the creator sends again.
            return Err(IngestError::StreamEnding);
        };
        if !is_new && stream.registered_at.elapsed() >= self.settings.registry.reregister_interval {
            stream.registered_at = Instant::now();
            let (registry, vibe) = (self.registry.clone(), vibe.clone());
            tokio::spawn(async move {
                if let Err(error) = registry.register(&vibe, None).await {
                    let error = vibes_problem::cause_chain(&error);
                    tracing::warn!(vibe_id = %vibe, %error, "re-registering the stream failed");
                }
            });
        }
        let answer = stream.take(vibe, pcm, seq)?;
        Ok((answer, stream.held.clone()))
    }

    /// Claims a stream for this pod, registers it and starts its pipeline.
    async fn start_stream(
        &self,
        vibe: &VibeId,
        creator: Option<&CreatorId>,
    ) -> Result<(), IngestError> {
        let held = Arc::new(self.ownership.claim(vibe).await?);
        if let Err(error) = self
            .registry
            .register(vibe, creator.map(CreatorId::as_str))
            .await
        {
            self.ownership.release(vibe, &held).await;
            return Err(error);
        }
        tracing::info!(vibe_id = %vibe, token = held.lease.token, "stream started");
        metrics::gauge!("vibes_ingest_streams_active").increment(1.0);
        // Taken over from a pod that failed: its chunk numbers go on.
        let sequence = match self.ownership.last_chunk(vibe).await {
            Some(last) => ChunkSequence::resumed_after(last.seq, last.bytes as usize),
            None => ChunkSequence::default(),
        };
        let pipeline =
            StreamPipeline::start(vibe.clone(), held.clone(), self.pipeline_config.clone());
        let stream = LiveStream {
            pipeline: Arc::new(pipeline),
            held,
            registered_at: Instant::now(),
            sequence,
        };
        self.streams
            .lock()
            .expect("streams lock")
            .insert(vibe.clone(), stream);
        Ok(())
    }

    /// Removes a stream whose pipeline ended by itself, unless the stream
    /// under that id is already a new one. An idle stream ends for everyone;
    /// a lost one lives on at its new owner.
    async fn retire(&self, vibe: &VibeId, reason: EndReason) -> Result<(), IngestError> {
        let Some(stream) = self.remove_if(vibe, |stream| stream.pipeline.is_ending()) else {
            return Ok(());
        };
        stream.pipeline.end().await;
        if reason == EndReason::Idle {
            self.registry.end(vibe).await?;
            self.ownership.forget_chunks(vibe).await;
            self.ownership.release(vibe, &stream.held).await;
            tracing::info!(vibe_id = %vibe, "idle stream ended");
        }
        Ok(())
    }

    fn remove_if(
        &self,
        vibe: &VibeId,
        condition: impl Fn(&LiveStream) -> bool,
    ) -> Option<LiveStream> {
        let mut streams = self.streams.lock().expect("streams lock");
        if !condition(streams.get(vibe)?) {
            return None;
        }
        metrics::gauge!("vibes_ingest_streams_active").decrement(1.0);
        streams.remove(vibe)
    }

    /// Ends a stream: queued audio is encoded and sent, the encoder exits, and
    /// the registry forgets the stream. Returns false if it was not live here.
    pub async fn end(&self, vibe: &VibeId) -> Result<bool, IngestError> {
        let Some(stream) = self.remove_if(vibe, |_| true) else {
            // Not published here: only its owner may end a live stream.
            self.ownership.live_owner_elsewhere(vibe).await?;
            self.registry.end(vibe).await?;
            return Ok(false);
        };
        stream.pipeline.end().await;
        tracing::info!(vibe_id = %vibe, "stream ended");
        self.registry.end(vibe).await?;
        self.ownership.forget_chunks(vibe).await;
        self.ownership.release(vibe, &stream.held).await;
        Ok(true)
    }

    /// A clean shutdown: takes no new streams, plays out every stream's
    /// queued audio, gives the streams up (they stay live: their next chunk
    /// starts them on another pod), and leaves the pool.
    pub async fn hand_over(&self) {
        self.ownership.start_draining();
        let streams: Vec<(VibeId, LiveStream)> =
            self.streams.lock().expect("streams lock").drain().collect();
        for (vibe, stream) in streams {
            metrics::gauge!("vibes_ingest_streams_active").decrement(1.0);
            stream.pipeline.end().await;
            self.ownership.release(&vibe, &stream.held).await;
            tracing::info!(vibe_id = %vibe, "stream handed over");
        }
        self.ownership.leave().await;
    }

    /// Up while this pod's heartbeat in the pool is confirmed and it takes
    /// new streams.
    pub fn pool_health(&self) -> PartHealth {
        self.ownership.health()
    }

    /// How many streams are live here, as a part of readiness that is always up.
    pub fn count_health(&self) -> PartHealth {
        PartHealth {
            status: vibes_domain::api::HealthStatus::Up,
            detail: Some(format!("{} live", self.count())),
        }
    }

    fn held_streams(&self) -> Vec<(VibeId, Arc<HeldStream>)> {
        let streams = self.streams.lock().expect("streams lock");
        streams
            .iter()
            .map(|(vibe, stream)| (vibe.clone(), stream.held.clone()))
            .collect()
    }
}

/// Heartbeats this pod into the pool and renews its streams' leases until
/// the pod leaves (or the application stops it).
async fn keep_in_pool(streams: std::sync::Weak<LiveStreams>) {
    let mut last_renewal = Instant::now();
    loop {
        let Some(live) = streams.upgrade() else {
            return;
        };
        let ownership = live.ownership.clone();
        if ownership.has_left() {
            return;
        }
        let renew_due = last_renewal.elapsed() >= ownership.renew_interval();
        let held = live.held_streams();
        let count = held.len() as u64;
        drop(live);
        match ownership.keep(count, &held, renew_due).await {
            Ok(()) => {
                if renew_due {
                    last_renewal = Instant::now();
                }
            }
            Err(error) => {
                metrics::counter!("vibes_ingest_heartbeat_failures_total").increment(1);
                tracing::warn!(%error, "heartbeat to the ingest pool failed");
            }
        }
        tokio::time::sleep(ownership.heartbeat_interval()).await;
    }
}
