//! One stream being packaged: its timeline, the task that fills it from the
//! engine, and the waiting that blocking requests do on it.

use crate::aac::AudioConfig;
use crate::configuration::{HlsSettings, StreamSettings};
use crate::input::{Audio, EngineInput};
use crate::timeline::Timeline;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use vibes_domain::VibeId;

/// How soon an engine that answered nothing (or ended) is asked again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);

pub struct PackagedStream {
    pub vibe: VibeId,
    timeline: Mutex<Timeline>,
    /// Bumped after every change of the timeline; blocked requests wait on it.
    changed: watch::Sender<u64>,
    /// Milliseconds since `epoch` of the last request for this stream.
    last_request_ms: AtomicU64,
    /// When the stream ended (ms since `epoch`, 0 = not ended).
    ended_at_ms: AtomicU64,
    epoch: Instant,
}

impl PackagedStream {
    pub fn new(vibe: VibeId, hls: HlsSettings) -> Arc<Self> {
        Arc::new(Self {
            vibe,
            timeline: Mutex::new(Timeline::new(hls, SystemTime::now())),
            changed: watch::channel(0).0,
            last_request_ms: AtomicU64::new(0),
            ended_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// The timeline, to read (a short lock: never held across an await).
    pub fn timeline(&self) -> MutexGuard<'_, Timeline> {
        self.timeline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn change(&self, update: impl FnOnce(&mut Timeline)) {
        update(&mut self.timeline());
        self.changed.send_modify(|version| *version += 1);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A request for this stream came: it is not idle.
    pub fn touch(&self) {
        self.last_request_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_request_ms.load(Ordering::Relaxed)),
        )
    }

    /// How long ago the stream ended, if it did.
    pub fn ended_for(&self) -> Option<Duration> {
        match self.ended_at_ms.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Duration::from_millis(self.now_ms().saturating_sub(at))),
        }
    }

    /// Waits until `ready` holds on the timeline or `limit` passes; returns
    /// whether it held. `ready` is checked after every change.
    pub async fn wait_for<T>(
        &self,
        limit: Duration,
        mut ready: impl FnMut(&Timeline) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(found) = ready(&self.timeline()) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives as long as the stream: only the deadline ends this.
                Ok(Err(_)) | Err(_) => return ready(&self.timeline()),
            }
        }
    }

    /// Fills the timeline from the engine until the stream ends: each engine
    /// connection is a run; after one ends the engine is asked again for
    /// `reconnect_for` (an engine or encoder restart), then the playlist ends.
    pub async fn package(self: Arc<Self>, engine: EngineInput, settings: StreamSettings) {
        let mut gone_since = Instant::now();
        let vibe = self.vibe.clone();
        loop {
            let mut config: Option<AudioConfig> = None;
            let ended = engine
                .play(&vibe, |audio| match audio {
                    Audio::Config(raw) => {
                        if config.as_ref().is_some_and(|current| current.raw == raw) {
                            return;
                        }
                        match AudioConfig::parse(raw) {
                            Ok(parsed) => {
                                let started = SystemTime::now();
                                self.change(|timeline| {
                                    let run = timeline.start_run(parsed.clone(), started);
                                    tracing::info!(vibe_id = %vibe, run = %run.id, codec = %parsed.codec(), "run started");
                                });
                                metrics::counter!("vibes_hls_packager_runs_total").increment(1);
                                config = Some(parsed);
                            }
                            Err(error) => {
                                tracing::warn!(vibe_id = %vibe, %error, "audio the packager cannot cut");
                                config = None;
                                self.change(Timeline::end_run);
                            }
                        }
                    }
                    Audio::Frame(frame) => {
                        if config.is_none() {
                            return;
                        }
                        let mut timeline = self.timeline();
                        let cut = timeline.push_frame(frame);
                        drop(timeline);
                        if cut {
                            metrics::counter!("vibes_hls_packager_parts_total").increment(1);
                            self.changed.send_modify(|version| *version += 1);
                        }
                    }
                })
                .await;
            if ended.played {
                tracing::info!(vibe_id = %vibe, reason = %ended.reason, "engine connection ended");
                gone_since = Instant::now();
                self.change(Timeline::end_run);
            }
            if gone_since.elapsed() >= settings.reconnect_for {
                tracing::info!(vibe_id = %vibe, reason = %ended.reason, "stream ended");
                self.change(Timeline::end_stream);
                self.ended_at_ms
                    .store(self.now_ms().max(1), Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }
}
