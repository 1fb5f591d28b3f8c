//! The streams this ingest instance publishes, by vibe id.

use crate::configuration::Settings;
use crate::error::IngestError;
use crate::pipeline::{EnqueueError, PipelineConfig, StreamPipeline};
use crate::registry_client::RegistryClient;
use crate::sequence::{Accepted, ChunkSequence, SeqCheck};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vibes_domain::{CreatorId, VibeId};

pub struct LiveStreams {
    streams: Mutex<HashMap<VibeId, LiveStream>>,
    registry: RegistryClient,
    settings: Settings,
    pipeline_config: PipelineConfig,
}

struct LiveStream {
    pipeline: Arc<StreamPipeline>,
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
    /// The streams of this instance, and a task that retires streams whose
    /// pipelines ended by themselves (idle).
    pub fn start(settings: Settings, registry: RegistryClient) -> Arc<Self> {
        let (ended_by_itself, mut ended) = mpsc::unbounded_channel();
        let pipeline_config = PipelineConfig {
            encoder: settings.encoder.clone(),
            max_queued_chunks: settings.buffer.max_queued_chunks,
            idle_end: Duration::from_secs(settings.stream.idle_end_seconds),
            ended_by_itself,
        };
        let streams = Arc::new(Self {
            streams: Mutex::default(),
            registry,
            settings,
            pipeline_config,
        });
        let retiring = Arc::downgrade(&streams);
        tokio::spawn(async move {
            while let Some(vibe) = ended.recv().await {
                let Some(streams) = retiring.upgrade() else {
                    return;
                };
                if let Err(error) = streams.retire_idle(&vibe).await {
                    tracing::warn!(vibe_id = %vibe, %error, "could not retire an idle stream");
                }
            }
        });
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
        let is_new = !self
            .streams
            .lock()
            .expect("streams lock")
            .contains_key(vibe);
        if is_new {
            self.registry
                .register(vibe, creator.map(CreatorId::as_str))
                .await?;
        }
        let mut streams = self.streams.lock().expect("streams lock");
        let stream = streams.entry(vibe.clone()).or_insert_with(|| {
            tracing::info!(vibe_id = %vibe, "stream started");
            metrics::gauge!("vibes_ingest_streams_active").increment(1.0);
            LiveStream {
                pipeline: Arc::new(StreamPipeline::start(
                    vibe.clone(),
                    self.pipeline_config.clone(),
                )),
                registered_at: Instant::now(),
                sequence: ChunkSequence::default(),
            }
        });
        if !is_new && stream.registered_at.elapsed() >= self.settings.registry.reregister_interval()
        {
            stream.registered_at = Instant::now();
            let (registry, vibe) = (self.registry.clone(), vibe.clone());
            tokio::spawn(async move {
                if let Err(error) = registry.register(&vibe, None).await {
                    tracing::warn!(vibe_id = %vibe, %error, "re-registering the stream failed");
                }
            });
        }
        stream.take(vibe, pcm, seq)
    }

    /// Removes a stream whose pipeline ended by itself, unless the stream
    /// under that id is already a new one.
    async fn retire_idle(&self, vibe: &VibeId) -> Result<(), IngestError> {
        let pipeline = {
            let mut streams = self.streams.lock().expect("streams lock");
            match streams.get(vibe) {
                Some(stream) if stream.pipeline.is_ending() => {
                    metrics::gauge!("vibes_ingest_streams_active").decrement(1.0);
                    streams.remove(vibe).map(|stream| stream.pipeline)
                }
                _ => None,
            }
        };
        if let Some(pipeline) = pipeline {
            pipeline.end().await;
            self.registry.end(vibe).await?;
            tracing::info!(vibe_id = %vibe, "idle stream ended");
        }
        Ok(())
    }

    /// Ends a stream: queued audio is encoded and sent, the encoder exits, and
    /// the registry forgets the stream. Returns false if it was not live here.
    pub async fn end(&self, vibe: &VibeId) -> Result<bool, IngestError> {
        let removed = self.streams.lock().expect("streams lock").remove(vibe);
        if removed.is_some() {
            metrics::gauge!("vibes_ingest_streams_active").decrement(1.0);
        }
        let pipeline = removed.map(|stream| stream.pipeline);
        if let Some(pipeline) = &pipeline {
            pipeline.end().await;
            tracing::info!(vibe_id = %vibe, "stream ended");
        }
        self.registry.end(vibe).await?;
        Ok(pipeline.is_some())
    }
}
