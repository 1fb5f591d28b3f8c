//! The streams this ingest instance publishes, by vibe id.

use crate::configuration::Settings;
use crate::error::IngestError;
use crate::pipeline::{EnqueueError, StreamPipeline};
use crate::registry_client::RegistryClient;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vibes_domain::VibeId;

pub struct LiveStreams {
    pipelines: Mutex<HashMap<VibeId, Arc<StreamPipeline>>>,
    registry: RegistryClient,
    settings: Settings,
}

impl LiveStreams {
    pub fn new(settings: Settings, registry: RegistryClient) -> Self {
        Self {
            pipelines: Mutex::default(),
            registry,
            settings,
        }
    }

    pub fn get(&self, vibe: &VibeId) -> Option<Arc<StreamPipeline>> {
        self.pipelines
            .lock()
            .expect("streams lock")
            .get(vibe)
            .cloned()
    }

    pub fn count(&self) -> usize {
        self.pipelines.lock().expect("streams lock").len()
    }

    /// Queues a chunk for `vibe`, starting the stream on its first chunk. A new
    /// stream is registered before any audio is accepted, so a listener can
    /// join as soon as the creator's first POST succeeds.
    pub async fn accept(
        &self,
        vibe: &VibeId,
        pcm: Bytes,
    ) -> Result<Arc<StreamPipeline>, IngestError> {
        let pipeline = match self.get(vibe) {
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
        let mut pipelines = self.pipelines.lock().expect("streams lock");
        let pipeline = pipelines.entry(vibe.clone()).or_insert_with(|| {
            tracing::info!(vibe_id = %vibe, "stream started");
            Arc::new(StreamPipeline::start(
                vibe.clone(),
                self.settings.encoder.clone(),
                self.settings.buffer.max_queued_chunks,
            ))
        });
        Ok(pipeline.clone())
    }

    /// Ends a stream: queued audio is encoded and sent, the encoder exits, and
    /// the registry forgets the stream. Returns false if it was not live here.
    pub async fn end(&self, vibe: &VibeId) -> Result<bool, IngestError> {
        let pipeline = self.pipelines.lock().expect("streams lock").remove(vibe);
        if let Some(pipeline) = &pipeline {
            pipeline.end().await;
            tracing::info!(vibe_id = %vibe, "stream ended");
        }
        self.registry.end(vibe).await?;
        Ok(pipeline.is_some())
    }
}
