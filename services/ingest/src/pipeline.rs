//! One task per live stream: takes accepted chunks in order from a bounded
//! queue and writes them into the stream's encoder, restarting the encoder
//! when it fails so the stream outlives any one ffmpeg process.

use crate::configuration::EncoderSettings;
use crate::encoder::Encoder;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use vibes_domain::VibeId;

/// How long ffmpeg gets to send its last packets when a stream ends.
const FINISH_GRACE: Duration = Duration::from_secs(5);

enum Command {
    Chunk(Bytes),
    End,
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("the stream's buffer is full")]
    Full,
    #[error("the stream is ending")]
    Ending,
}

/// Counters a test or the health endpoint can read.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub encoder_starts: AtomicU64,
    pub chunks_written: AtomicU64,
    pub bytes_written: AtomicU64,
}

pub struct StreamPipeline {
    vibe: VibeId,
    commands: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<PipelineStats>,
    encoder_pid: Arc<AtomicU64>,
}

impl StreamPipeline {
    pub fn start(vibe: VibeId, settings: EncoderSettings, max_queued_chunks: usize) -> Self {
        let (commands, queue) = mpsc::channel(max_queued_chunks.max(1));
        let stats = Arc::new(PipelineStats::default());
        let encoder_pid = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            vibe: vibe.clone(),
            settings,
            stats: stats.clone(),
            encoder_pid: encoder_pid.clone(),
        };
        let task = tokio::spawn(worker.run(queue));
        Self {
            vibe,
            commands,
            task: Mutex::new(Some(task)),
            stats,
            encoder_pid,
        }
    }

    /// Queues a chunk; refuses instead of waiting when the queue is full, so a
    /// creator that sends faster than real time is told to back off.
    pub fn enqueue(&self, pcm: Bytes) -> Result<(), EnqueueError> {
        self.commands
            .try_send(Command::Chunk(pcm))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => EnqueueError::Full,
                mpsc::error::TrySendError::Closed(_) => EnqueueError::Ending,
            })
    }

    /// Chunks waiting for the encoder.
    pub fn queued_chunks(&self) -> usize {
        self.commands.max_capacity() - self.commands.capacity()
    }

    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// The running encoder's process id, if one runs.
    pub fn encoder_pid(&self) -> Option<u32> {
        match self.encoder_pid.load(Ordering::Relaxed) {
            0 => None,
            pid => Some(pid as u32),
        }
    }

    /// Ends the stream after every queued chunk reached the encoder and the
    /// encoder flushed its output.
    pub async fn end(&self) {
        let _ = self.commands.send(Command::End).await;
        let task = self.task.lock().expect("pipeline task lock").take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(vibe_id = %self.vibe, %error, "stream pipeline task failed");
            }
        }
    }
}

struct Worker {
    vibe: VibeId,
    settings: EncoderSettings,
    stats: Arc<PipelineStats>,
    encoder_pid: Arc<AtomicU64>,
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<Command>) {
        let mut encoder: Option<Encoder> = None;
        while let Some(Command::Chunk(pcm)) = queue.recv().await {
            self.write_until_accepted(&mut encoder, &pcm).await;
        }
        if let Some(encoder) = encoder.take() {
            match encoder.finish(FINISH_GRACE).await {
                Ok(status) => tracing::info!(vibe_id = %self.vibe, %status, "encoder finished"),
                Err(error) => {
                    tracing::warn!(vibe_id = %self.vibe, %error, "encoder did not finish")
                }
            }
        }
        self.encoder_pid.store(0, Ordering::Relaxed);
    }

    /// Writes one chunk, (re)starting the encoder as often as needed. A chunk
    /// that failed part-way is written again whole to the new encoder: a few
    /// milliseconds repeated beat a gap.
    async fn write_until_accepted(&self, encoder: &mut Option<Encoder>, pcm: &[u8]) {
        let mut failures = 0;
        loop {
            if encoder.is_none() {
                match Encoder::spawn(&self.settings, &self.vibe) {
                    Ok(started) => {
                        self.stats.encoder_starts.fetch_add(1, Ordering::Relaxed);
                        self.encoder_pid
                            .store(u64::from(started.pid().unwrap_or(0)), Ordering::Relaxed);
                        *encoder = Some(started);
                    }
                    Err(error) => {
                        tracing::error!(vibe_id = %self.vibe, %error, "encoder could not start");
                        tokio::time::sleep(self.settings.restart_backoff(failures)).await;
                        failures += 1;
                        continue;
                    }
                }
            }
            let running = encoder.as_mut().expect("an encoder runs here");
            match running.write(pcm).await {
                Ok(()) => {
                    self.stats.chunks_written.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .bytes_written
                        .fetch_add(pcm.len() as u64, Ordering::Relaxed);
                    return;
                }
                Err(error) => {
                    tracing::warn!(vibe_id = %self.vibe, %error, failures, "encoder failed; restarting it");
                    if let Some(failed) = encoder.take() {
                        failed.kill().await;
                    }
                    self.encoder_pid.store(0, Ordering::Relaxed);
                    tokio::time::sleep(self.settings.restart_backoff(failures)).await;
                    failures += 1;
                }
            }
        }
    }
}
