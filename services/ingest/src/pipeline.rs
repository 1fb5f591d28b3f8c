//! One task per live stream: takes accepted chunks in order from a bounded
//! queue and feeds them to the stream's encoder at real-time pace, with
//! silence wherever the creator is late, restarting the encoder when it fails
//! so the stream outlives any one ffmpeg process.
//!
//! Two bounds keep the stream live rather than ever later: a creator may queue
//! at most `max_queued` of audio ahead of what plays (beyond it: 429, nothing
//! accepted is lost), and audio that waited longer than `max_added_latency`
//! (only possible while the encoder or the engine was stuck) is dropped when
//! its turn comes, counted, instead of delaying everything after it.

use crate::configuration::EncoderSettings;
use crate::encoder::Encoder;
use crate::ownership::{HeldStream, Ownership};
use crate::pacer::{Pacer, SLICE};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;
use vibes_domain::audio::{pcm_duration, pcm_len};
use vibes_domain::VibeId;

/// How long ffmpeg gets to send its last packets when a stream ends.
const FINISH_GRACE: Duration = Duration::from_secs(5);
/// When writing fell further behind the clock than this (a stalled encoder),
/// the schedule restarts from now instead of bursting the backlog.
const MAX_LAG: Duration = Duration::from_millis(200);

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
    pub chunks_accepted: AtomicU64,
    /// Chunks whose every byte reached the encoder.
    pub chunks_played: AtomicU64,
    pub encoder_starts: AtomicU64,
    pub silence_bytes: AtomicU64,
    /// Accepted audio dropped because it waited longer than the latency cap.
    pub late_dropped_bytes: AtomicU64,
}

/// An accepted chunk and when it was accepted.
struct QueuedChunk {
    pcm: Bytes,
    accepted_at: Instant,
}

pub struct StreamPipeline {
    vibe: VibeId,
    chunks: mpsc::Sender<QueuedChunk>,
    queued_bytes: Arc<AtomicUsize>,
    max_queued_bytes: usize,
    ending: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<PipelineStats>,
    encoder_pid: Arc<AtomicU64>,
}

/// What a pipeline needs besides its stream's id.
#[derive(Clone)]
pub struct PipelineConfig {
    pub encoder: EncoderSettings,
    pub max_queued_chunks: usize,
    /// Audio a creator may queue ahead of what plays.
    pub max_queued: Duration,
    /// Audio that waited longer than this is dropped, not played late.
    pub max_added_latency: Duration,
    /// A stream that has had nothing but silence this long ends by itself.
    pub idle_end: Duration,
    /// Where a pipeline that ended by itself reports its stream.
    pub ended_by_itself: mpsc::UnboundedSender<(VibeId, EndReason)>,
    pub ownership: Arc<Ownership>,
}

/// Why a pipeline ended without being asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No audio for the idle time.
    Idle,
    /// Another pod owns the stream now.
    OwnershipLost,
}

impl StreamPipeline {
    pub fn start(vibe: VibeId, held: Arc<HeldStream>, config: PipelineConfig) -> Self {
        let PipelineConfig {
            encoder: settings,
            max_queued_chunks,
            max_queued,
            max_added_latency,
            idle_end,
            ended_by_itself,
            ownership,
        } = config;
        let (chunks, receiver) = mpsc::channel(max_queued_chunks.max(1));
        let stats = Arc::new(PipelineStats::default());
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let queue = Queue {
            receiver,
            queued_bytes: queued_bytes.clone(),
            max_added_latency,
            stats: stats.clone(),
        };
        let encoder_pid = Arc::new(AtomicU64::new(0));
        let ending = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            vibe: vibe.clone(),
            settings,
            stats: stats.clone(),
            encoder_pid: encoder_pid.clone(),
            ending: ending.clone(),
            encoder: None,
            idle_end,
            ended_by_itself,
            ownership,
            held,
        };
        let task = tokio::spawn(worker.run(queue));
        Self {
            vibe,
            chunks,
            queued_bytes,
            max_queued_bytes: pcm_len(max_queued),
            ending,
            task: Mutex::new(Some(task)),
            stats,
            encoder_pid,
        }
    }

    /// Queues a chunk; refuses instead of waiting when the queue is full, so a
    /// creator that sends faster than real time is told to back off.
    pub fn enqueue(&self, pcm: Bytes) -> Result<(), EnqueueError> {
        if self.ending.load(Ordering::Acquire) {
            return Err(EnqueueError::Ending);
        }
        let length = pcm.len();
        let queued = self.queued_bytes.fetch_add(length, Ordering::AcqRel);
        // One chunk always fits an empty queue, whatever its length.
        if queued > 0 && queued + length > self.max_queued_bytes {
            self.queued_bytes.fetch_sub(length, Ordering::AcqRel);
            return Err(EnqueueError::Full);
        }
        let chunk = QueuedChunk {
            pcm,
            accepted_at: Instant::now(),
        };
        self.chunks.try_send(chunk).map_err(|error| {
            self.queued_bytes.fetch_sub(length, Ordering::AcqRel);
            match error {
                mpsc::error::TrySendError::Full(_) => EnqueueError::Full,
                mpsc::error::TrySendError::Closed(_) => EnqueueError::Ending,
            }
        })?;
        self.stats.chunks_accepted.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vibes_ingest_chunks_accepted_total").increment(1);
        // How far ahead of what plays this chunk's audio ends: the buffer
        // fill as a distribution, without a label per stream.
        metrics::histogram!("vibes_ingest_queued_audio_seconds")
            .record(pcm_duration(queued + length).as_secs_f64());
        Ok(())
    }

    /// True once the stream is ending (ended by its creator, or idle).
    pub fn is_ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
    }

    /// Chunks waiting for the encoder.
    pub fn queued_chunks(&self) -> usize {
        self.chunks.max_capacity() - self.chunks.capacity()
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

    /// Ends the stream: every accepted chunk still queued is written at once
    /// (listeners' players buffer it), then the encoder flushes and exits.
    pub async fn end(&self) {
        self.ending.store(true, Ordering::Release);
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
    ending: Arc<AtomicBool>,
    encoder: Option<Encoder>,
    idle_end: Duration,
    ended_by_itself: mpsc::UnboundedSender<(VibeId, EndReason)>,
    ownership: Arc<Ownership>,
    held: Arc<HeldStream>,
}

impl Worker {
    async fn run(mut self, mut queue: Queue) {
        // The clock starts with the first chunk, so a stream never opens with
        // silence that only reflects how fast the worker was scheduled.
        let mut pacer = match self.first_chunk(&mut queue).await {
            Some(chunk) => Pacer::starting_with(chunk),
            None => Pacer::default(),
        };
        // Wall-clock time up to which the encoder has been fed.
        let mut fed_until = Instant::now();
        let mut last_audio_at = Instant::now();
        while !self.ending.load(Ordering::Acquire) {
            if !self.ownership.may_publish(&self.held) {
                if self.held.is_lost() {
                    self.stop_publishing().await;
                    self.end_by_itself(EndReason::OwnershipLost);
                    return;
                }
                // Unsure whether the stream is still ours: publish nothing
                // (another pod may take over) and keep the queue until the
                // next heartbeat settles it.
                self.stop_publishing().await;
                tokio::time::sleep(SLICE).await;
                fed_until = Instant::now();
                continue;
            }
            let audio = pacer.next_audio(|| queue.next_in_time());
            let slice = if !audio.pcm.is_empty() {
                last_audio_at = Instant::now();
                audio
            } else if let Some(chunk) = queue.next_before(fed_until).await {
                // Audio arrived before the encoder ran dry: play it at once.
                pacer.resume_with(chunk);
                continue;
            } else if self.ending.load(Ordering::Acquire) {
                break;
            } else if last_audio_at.elapsed() >= self.idle_end {
                self.end_by_itself(EndReason::Idle);
                break;
            } else {
                Pacer::silence()
            };
            self.write_until_accepted(&slice.pcm).await;
            self.stats
                .chunks_played
                .fetch_add(slice.chunks_finished, Ordering::Relaxed);
            self.stats
                .silence_bytes
                .fetch_add(slice.silence_bytes as u64, Ordering::Relaxed);
            metrics::counter!("vibes_ingest_silence_ms_total")
                .increment(pcm_duration(slice.silence_bytes).as_millis() as u64);

            fed_until += pcm_duration(slice.pcm.len());
            let now = Instant::now();
            if now > fed_until + MAX_LAG {
                fed_until = now;
            }
            // Audio runs at most one slice ahead of the clock; silence is
            // written only once it is due (`next_before` waits for that).
            tokio::time::sleep_until(fed_until - SLICE).await;
        }
        self.flush(pacer.take_rest(), &mut queue).await;
    }

    /// Refuses further chunks (they start a new stream once this one is gone)
    /// and reports the stream; `flush` still plays anything that raced in.
    fn end_by_itself(&self, reason: EndReason) {
        self.ending.store(true, Ordering::Release);
        if reason == EndReason::Idle {
            tracing::info!(vibe_id = %self.vibe, idle = ?self.idle_end, "no audio for the idle time; ending the stream");
        }
        let _ = self.ended_by_itself.send((self.vibe.clone(), reason));
    }

    /// Cuts the stream off at the engine at once, without flushing.
    async fn stop_publishing(&mut self) {
        if let Some(encoder) = self.take_encoder() {
            encoder.kill().await;
        }
    }

    /// The running encoder, which from now on is no longer this stream's.
    fn take_encoder(&mut self) -> Option<Encoder> {
        self.encoder_pid.store(0, Ordering::Relaxed);
        self.encoder.take()
    }

    async fn first_chunk(&self, queue: &mut Queue) -> Option<Bytes> {
        while !self.ending.load(Ordering::Acquire) {
            match tokio::time::timeout(SLICE, queue.receiver.recv()).await {
                Ok(chunk) => return chunk.map(|chunk| queue.taken(chunk)),
                Err(_elapsed) => continue,
            }
        }
        None
    }

    async fn flush(&mut self, rest: Bytes, queue: &mut Queue) {
        queue.receiver.close();
        if !rest.is_empty() {
            self.write_until_accepted(&rest).await;
            self.stats.chunks_played.fetch_add(1, Ordering::Relaxed);
        }
        while let Some(chunk) = queue.receiver.recv().await {
            let pcm = queue.taken(chunk);
            self.write_until_accepted(&pcm).await;
            self.stats.chunks_played.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(encoder) = self.encoder.take() {
            let span = tracing::info_span!("encoder_flush", vibe_id = %self.vibe);
            match encoder.finish(FINISH_GRACE).instrument(span).await {
                Ok(status) => tracing::info!(vibe_id = %self.vibe, %status, "encoder finished"),
                Err(error) => {
                    tracing::warn!(vibe_id = %self.vibe, %error, "encoder did not finish")
                }
            }
        }
        self.encoder_pid.store(0, Ordering::Relaxed);
    }

    /// Writes PCM, (re)starting the encoder as often as needed. A write that
    /// failed part-way is repeated whole to the new encoder: a few
    /// milliseconds heard twice beat a gap.
    async fn write_until_accepted(&mut self, pcm: &[u8]) {
        let mut failures = 0;
        loop {
            let encoder = match self.encoder.as_mut() {
                Some(encoder) => encoder,
                None => match Encoder::spawn(&self.settings, &self.vibe) {
                    Ok(started) => {
                        self.stats.encoder_starts.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("vibes_ingest_encoder_starts_total").increment(1);
                        let pid = started.pid().unwrap_or(0);
                        self.encoder_pid.store(u64::from(pid), Ordering::Relaxed);
                        self.encoder.insert(started)
                    }
                    Err(error) => {
                        tracing::error!(vibe_id = %self.vibe, %error, "encoder could not start");
                        tokio::time::sleep(self.settings.wait_before_restart(failures)).await;
                        failures += 1;
                        continue;
                    }
                },
            };
            match encoder.write(pcm).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(vibe_id = %self.vibe, %error, failures, "encoder failed; restarting it");
                    let backoff = self.settings.wait_before_restart(failures);
                    let failed = self.take_encoder();
                    let span = tracing::info_span!("encoder_restart", vibe_id = %self.vibe, failures, backoff_ms = backoff.as_millis() as u64);
                    async move {
                        if let Some(failed) = failed {
                            failed.kill().await;
                        }
                        tokio::time::sleep(backoff).await;
                    }
                    .instrument(span)
                    .await;
                    failures += 1;
                }
            }
        }
    }
}

/// The worker's end of a stream's queue.
struct Queue {
    receiver: mpsc::Receiver<QueuedChunk>,
    queued_bytes: Arc<AtomicUsize>,
    max_added_latency: Duration,
    stats: Arc<PipelineStats>,
}

impl Queue {
    fn taken(&self, chunk: QueuedChunk) -> Bytes {
        self.queued_bytes
            .fetch_sub(chunk.pcm.len(), Ordering::AcqRel);
        chunk.pcm
    }

    /// The next queued chunk that has not waited too long, without waiting;
    /// older ones are dropped (and counted) on the way.
    fn next_in_time(&mut self) -> Option<Bytes> {
        loop {
            let chunk = self.receiver.try_recv().ok()?;
            if let Some(pcm) = self.unless_too_late(chunk) {
                return Some(pcm);
            }
        }
    }

    /// Like `next_in_time`, waiting for a chunk until `deadline` (None then,
    /// or when the queue is closed).
    async fn next_before(&mut self, deadline: Instant) -> Option<Bytes> {
        loop {
            let chunk = tokio::time::timeout_at(deadline, self.receiver.recv())
                .await
                .ok()??;
            if let Some(pcm) = self.unless_too_late(chunk) {
                return Some(pcm);
            }
        }
    }

    fn unless_too_late(&self, chunk: QueuedChunk) -> Option<Bytes> {
        let waited = chunk.accepted_at.elapsed();
        let pcm = self.taken(chunk);
        if waited <= self.max_added_latency {
            return Some(pcm);
        }
        let dropped = pcm_duration(pcm.len());
        tracing::warn!(
            ?waited,
            ?dropped,
            "audio waited longer than the latency cap; dropping it"
        );
        self.stats
            .late_dropped_bytes
            .fetch_add(pcm.len() as u64, Ordering::Relaxed);
        metrics::counter!("vibes_ingest_late_audio_dropped_ms_total")
            .increment(dropped.as_millis() as u64);
        None
    }
}
