//! The streams this packager serves: started by their first playlist
//! request, stopped once they ended (after `ended_retention`) or nobody
//! asked for them for `idle_stop`.

use crate::configuration::{HlsSettings, StreamSettings};
use crate::input::EngineInput;
use crate::stream::PackagedStream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use vibes_domain::api::PartHealth;
use vibes_domain::VibeId;
use vibes_web::Startup;

/// How often streams are checked for idleness and their end.
const JANITOR_INTERVAL: Duration = Duration::from_secs(1);

struct Entry {
    stream: Arc<PackagedStream>,
    task: JoinHandle<()>,
}

pub struct Streams {
    live: Mutex<HashMap<VibeId, Entry>>,
    engine: EngineInput,
    hls: HlsSettings,
    settings: StreamSettings,
}

/// Every stream slot is taken.
#[derive(Debug)]
pub struct AtCapacity(pub usize);

impl Streams {
    /// The streams, and a task that sweeps ended and idle ones every second
    /// until the application stops.
    pub fn start(
        engine: EngineInput,
        hls: HlsSettings,
        settings: StreamSettings,
        startup: &mut Startup,
    ) -> Arc<Self> {
        let streams = Arc::new(Self {
            live: Mutex::new(HashMap::new()),
            engine,
            hls,
            settings,
        });
        startup.spawn(
            "stream_sweeper",
            sweep_while_alive(Arc::downgrade(&streams)),
        );
        streams
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<VibeId, Entry>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The stream if it is being packaged (media requests never start one).
    pub fn get(&self, vibe: &VibeId) -> Option<Arc<PackagedStream>> {
        let stream = self.live().get(vibe).map(|entry| entry.stream.clone())?;
        stream.touch();
        Some(stream)
    }

    /// The stream, started now if it is not packaged yet (playlist requests).
    pub fn get_or_start(&self, vibe: &VibeId) -> Result<Arc<PackagedStream>, AtCapacity> {
        let mut live = self.live();
        if let Some(entry) = live.get(vibe) {
            entry.stream.touch();
            return Ok(entry.stream.clone());
        }
        if live.len() >= self.settings.max_streams {
            return Err(AtCapacity(self.settings.max_streams));
        }
        let stream = PackagedStream::new(vibe.clone(), self.hls.clone());
        stream.touch();
        let task = tokio::spawn(
            stream
                .clone()
                .package(self.engine.clone(), self.settings.clone()),
        );
        live.insert(
            vibe.clone(),
            Entry {
                stream: stream.clone(),
                task,
            },
        );
        metrics::gauge!("vibes_hls_packager_streams").set(live.len() as f64);
        metrics::counter!("vibes_hls_packager_starts_total").increment(1);
        tracing::info!(vibe_id = %vibe, "packaging started");
        Ok(stream)
    }

    /// Whether `vibe` is being packaged here (without counting as a request).
    pub fn is_packaging(&self, vibe: &VibeId) -> bool {
        self.live().contains_key(vibe)
    }

    /// Up while a stream slot is free (part of readiness).
    pub fn capacity_health(&self) -> PartHealth {
        let max = self.settings().max_streams;
        match self.count() < max {
            true => PartHealth::up(),
            false => PartHealth::down(format!("all {max} stream slots are taken")),
        }
    }

    pub fn count(&self) -> usize {
        self.live().len()
    }

    /// Drops streams that ended a while ago or that nobody asks for.
    fn sweep(&self) {
        let mut live = self.live();
        live.retain(|vibe, entry| {
            let ended = entry
                .stream
                .ended_for()
                .is_some_and(|ended| ended >= self.settings.ended_retention);
            let idle = entry.stream.idle_for() >= self.settings.idle_stop;
            if ended || idle {
                entry.task.abort();
                let why = if ended { "ended" } else { "idle" };
                tracing::info!(vibe_id = %vibe, why, "packaging stopped");
                metrics::counter!("vibes_hls_packager_stops_total", "why" => why).increment(1);
            }
            !(ended || idle)
        });
        metrics::gauge!("vibes_hls_packager_streams").set(live.len() as f64);
    }
}

/// Sweeps every second for as long as the streams exist (or until the
/// application stops the task).
async fn sweep_while_alive(streams: std::sync::Weak<Streams>) {
    loop {
        tokio::time::sleep(JANITOR_INTERVAL).await;
        let Some(streams) = streams.upgrade() else {
            return;
        };
        streams.sweep();
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        for entry in self.live().values() {
            entry.task.abort();
        }
    }
}
