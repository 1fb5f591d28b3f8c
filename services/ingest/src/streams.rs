//! The streams this ingest instance publishes, by vibe id.

use crate::configuration::Settings;
use crate::error::IngestError;
use crate::pipeline::{EnqueueError, StreamPipeline};
use crate::registry_client::RegistryClient;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vibes_domain::VibeId;

pub struct LiveStreams {
    streams: Mutex<HashMap<VibeId, LiveStream>>,
    registry: RegistryClient,
    settings: Settings,
}

struct LiveStream {
    pipeline: Arc<StreamPipeline>,
    registered_at: Instant,
}

impl LiveStreams {
    pub fn new(settings: Settings, registry: RegistryClient) -> Self {
        Self {
            streams: Mutex::default(),
            registry,
            settings,
        }
    }

    pub fn get(&self, vibe: &VibeId) -> Option<Arc<StreamPipeline>> {
        let streams = self.streams.lock().expect("streams lock");
        streams.get(vibe).map(|stream| stream.pipeline.clone())
    }

    pub fn count(&self) -> usize {
        self.streams.lock().expect("streams lock").len()
    }

    /// The pipeline of a live stream; re-registers the stream in the
    /// background when the last registration is old enough, so the registry
    /// recovers it if Redis lost its data.
    fn existing(&self, vibe: &VibeId) -> Option<Arc<StreamPipeline>> {
        let mut streams = self.streams.lock().expect("streams lock");
        let stream = streams.get_mut(vibe)?;
        if stream.registered_at.elapsed() >= self.settings.registry.reregister_interval() {
            stream.registered_at = Instant::now();
            let (registry, vibe) = (self.registry.clone(), vibe.clone());
            tokio::spawn(async move {
                if let Err(error) = registry.register(&vibe, None).await {
                    tracing::warn!(vibe_id = %vibe, %error, "re-registering the stream failed");
                }
            });
        }
        Some(stream.pipeline.clone())
    }

    /// Queues a chunk for `vibe`, starting the stream on its first chunk. A new
    /// stream is registered before any audio is accepted, so a listener can
    /// join as soon as the creator's first POST succeeds.
    pub async fn accept(
        &self,
        vibe: &VibeId,
        pcm: Bytes,
    ) -> Result<Arc<StreamPipeline>, IngestError> {
        let pipeline = match self.existing(vibe) {
            Some(pipeline) => pipeline,
            None => self.start(vibe).await?,
        };
        pipeline.enqueue(pcm).map_err(|error| match error {
            EnqueueError::Full => IngestError::BufferFull,
            EnqueueError::Ending => IngestError::StreamEnding,
        })?;
        Ok(pipeline)
    }

    async fn start(&self, vibe: &VibeId) -> Result<Arc<StreamPipeline>, IngestError> {
        self.registry.register(vibe, None).await?;
        let mut streams = self.streams.lock().expect("streams lock");
        let stream = streams.entry(vibe.clone()).or_insert_with(|| {
            tracing::info!(vibe_id = %vibe, "stream started");
            LiveStream {
                pipeline: Arc::new(StreamPipeline::start(
                    vibe.clone(),
                    self.settings.encoder.clone(),
                    self.settings.buffer.max_queued_chunks,
                )),
                registered_at: Instant::now(),
            }
        });
        Ok(stream.pipeline.clone())
    }

    /// Ends a stream: queued audio is encoded and sent, the encoder exits, and
    /// the registry forgets the stream. Returns false if it was not live here.
    pub async fn end(&self, vibe: &VibeId) -> Result<bool, IngestError> {
        let removed = self.streams.lock().expect("streams lock").remove(vibe);
        let pipeline = removed.map(|stream| stream.pipeline);
        if let Some(pipeline) = &pipeline {
            pipeline.end().await;
            tracing::info!(vibe_id = %vibe, "stream ended");
        }
        self.registry.end(vibe).await?;
        Ok(pipeline.is_some())
    }
}
