//! This pod's place in the ingest pool and its hold on the streams it
//! publishes. A pod publishes a stream only while (a) it owns the stream's
//! lease and (b) its own heartbeat is current: other pods take a stream over
//! only from a pod whose heartbeat expired, so a pod that was paused or cut off
//! from Redis stops by its own clock before anyone else starts, and after such
//! a gap it checks every lease (the fencing token) before publishing again.

use crate::configuration::OwnershipSettings;
use crate::error::IngestError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vibes_domain::api::PartHealth;
use vibes_domain::VibeId;
use vibes_redis::ownership::{
    Claim, LastChunk, LivePod, OwnershipScripts, PodDirectory, PodInfo, StreamLease,
};
use vibes_redis::{ConnectionManager, RedisConnector, RedisError};

/// How long a stream's last chunk seq is kept after its last write: far
/// longer than a creator retries one chunk, bounded so ended streams leave
/// nothing behind.
const CHUNK_RECORD_KEPT: Duration = Duration::from_secs(600);

pub struct Ownership {
    redis: RedisConnector,
    scripts: OwnershipScripts,
    pool: PodDirectory,
    pod_id: String,
    url: String,
    settings: OwnershipSettings,
    liveness: Liveness,
    draining: AtomicBool,
    left: AtomicBool,
}

/// Until when this pod's last confirmed heartbeat lets it publish.
struct Liveness {
    epoch: Instant,
    alive_until_ms: AtomicU64,
}

impl Liveness {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            alive_until_ms: AtomicU64::new(0),
        }
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn is_current(&self) -> bool {
        self.since_epoch(Instant::now()) < self.alive_until_ms.load(Ordering::Acquire)
    }

    fn confirm(&self, heartbeat_sent_at: Instant, ttl: Duration) {
        let until = self.since_epoch(heartbeat_sent_at) + ttl.as_millis() as u64;
        self.alive_until_ms.fetch_max(until, Ordering::AcqRel);
    }
}

/// One stream's lease as its pipeline sees it.
pub struct HeldStream {
    pub lease: StreamLease,
    lost: AtomicBool,
}

impl HeldStream {
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }
}

impl Ownership {
    pub fn new(
        settings: OwnershipSettings,
        pod_id: String,
        url: String,
    ) -> Result<Self, vibes_redis::RedisSettingsError> {
        Ok(Self {
            redis: RedisConnector::new(&settings.redis_url, settings.redis_timeout)?,
            scripts: OwnershipScripts::default(),
            pool: PodDirectory::new(&settings.pool),
            pod_id,
            url,
            settings,
            liveness: Liveness::new(),
            draining: AtomicBool::new(false),
            left: AtomicBool::new(false),
        })
    }

    /// Whether this pod may write audio to the engine for `stream` now.
    pub fn may_publish(&self, stream: &HeldStream) -> bool {
        !stream.is_lost() && self.liveness.is_current()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Claims `vibe` for this pod, taking it over from a pod whose heartbeat
    /// expired; a stream held by a live pod is refused with that pod's address.
    #[tracing::instrument(name = "ownership_claim", skip_all, fields(vibe_id = %vibe, pod = %self.pod_id, outcome))]
    pub async fn claim(&self, vibe: &VibeId) -> Result<HeldStream, IngestError> {
        if self.is_draining() {
            return Err(IngestError::Draining);
        }
        let mut redis = self.redis.connection().await?;
        let lease = self.settings.lease;
        let (outcome, claim) = match self
            .scripts
            .claim(&mut redis, vibe, &self.pod_id, lease, None)
            .await?
        {
            Claim::HeldBy(holder) => {
                if let Some(live) = self.live_pod(&mut redis, &holder.pod).await? {
                    return Err(self.held_elsewhere(vibe, &holder, Some(&live)));
                }
                tracing::warn!(vibe_id = %vibe, gone = %holder.pod, "the stream's owner stopped its heartbeat; taking the stream over");
                let claim = self
                    .scripts
                    .claim(&mut redis, vibe, &self.pod_id, lease, Some(&holder))
                    .await?;
                ("taken_over", claim)
            }
            owned => ("claimed", owned),
        };
        match claim {
            Claim::Owned(lease) => {
                tracing::Span::current().record("outcome", outcome);
                metrics::counter!("vibes_ingest_ownership_claims_total", "outcome" => outcome)
                    .increment(1);
                Ok(HeldStream {
                    lease,
                    lost: AtomicBool::new(false),
                })
            }
            Claim::HeldBy(holder) => {
                let live = self.live_pod(&mut redis, &holder.pod).await?;
                Err(self.held_elsewhere(vibe, &holder, live.as_ref()))
            }
        }
    }

    /// `id` in the pool, if its heartbeat is current.
    async fn live_pod(
        &self,
        redis: &mut ConnectionManager,
        id: &str,
    ) -> Result<Option<LivePod>, RedisError> {
        let pods = self.pool.live_pods(redis).await?;
        Ok(pods.into_iter().find(|pod| pod.id == id))
    }

    fn held_elsewhere(
        &self,
        vibe: &VibeId,
        holder: &StreamLease,
        live: Option<&LivePod>,
    ) -> IngestError {
        tracing::Span::current().record("outcome", "held_elsewhere");
        metrics::counter!("vibes_ingest_ownership_claims_total", "outcome" => "held_elsewhere")
            .increment(1);
        tracing::info!(vibe_id = %vibe, owner = %holder.pod, "stream is owned by another pod");
        IngestError::NotOwner {
            owner: holder.pod.clone(),
            owner_url: live.map(|pod| pod.info.url.clone()),
        }
    }

    /// The stream's owner if it is another live pod (for requests about a
    /// stream this pod does not publish).
    pub async fn live_owner_elsewhere(&self, vibe: &VibeId) -> Result<(), IngestError> {
        let mut redis = self.redis.connection().await?;
        let Some(holder) = self.scripts.holder(&mut redis, vibe).await? else {
            return Ok(());
        };
        if holder.pod == self.pod_id {
            return Ok(());
        }
        match self.live_pod(&mut redis, &holder.pod).await? {
            Some(live) => Err(self.held_elsewhere(vibe, &holder, Some(&live))),
            None => Ok(()),
        }
    }

    /// Gives a stream up (it ended here, or moves to another pod).
    pub async fn release(&self, vibe: &VibeId, stream: &HeldStream) {
        let released = async {
            let mut redis = self.redis.connection().await?;
            self.scripts.release(&mut redis, vibe, &stream.lease).await
        };
        if let Err(error) = released.await {
            tracing::warn!(vibe_id = %vibe, %error, "could not release the stream's lease; it expires by itself");
        }
    }

    /// Records the stream's last accepted numbered chunk beside its lease,
    /// for a pod that takes the stream over. Best effort: while Redis is
    /// unreachable a retry after a failover may play twice.
    pub async fn record_chunk(&self, vibe: &VibeId, stream: &HeldStream, chunk: LastChunk) {
        let recorded = async {
            let mut redis = self.redis.connection().await?;
            let keep = CHUNK_RECORD_KEPT;
            let record = self
                .scripts
                .record_chunk(&mut redis, vibe, &stream.lease, chunk, keep);
            record.await
        };
        match recorded.await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(vibe_id = %vibe, seq = chunk.seq, "not recording a chunk of a stream another pod owns now")
            }
            Err(error) => {
                tracing::warn!(vibe_id = %vibe, seq = chunk.seq, %error, "could not record the last chunk's seq")
            }
        }
    }

    /// The last numbered chunk the stream's previous owner accepted, if any.
    pub async fn last_chunk(&self, vibe: &VibeId) -> Option<LastChunk> {
        let read = async {
            let mut redis = self.redis.connection().await?;
            self.scripts.last_chunk(&mut redis, vibe).await
        };
        read.await
            .inspect_err(|error| tracing::warn!(vibe_id = %vibe, %error, "could not read the stream's last chunk seq"))
            .ok()
            .flatten()
    }

    /// The stream ended: its chunk numbers may start again.
    pub async fn forget_chunks(&self, vibe: &VibeId) {
        let forgotten = async {
            let mut redis = self.redis.connection().await?;
            self.scripts.forget_chunks(&mut redis, vibe).await
        };
        if let Err(error) = forgotten.await {
            tracing::warn!(vibe_id = %vibe, %error, "could not forget the stream's chunk seq; it expires by itself");
        }
    }

    /// Announces this pod, and renews the leases of `held` when due (always
    /// after a gap in the heartbeat, before publishing again). A stream whose
    /// lease another pod holds now is marked lost; its pipeline stops.
    pub async fn keep(
        &self,
        streams: u64,
        held: &[(VibeId, std::sync::Arc<HeldStream>)],
        renew_leases: bool,
    ) -> Result<(), RedisError> {
        let sent_at = Instant::now();
        let had_lapsed = !self.liveness.is_current();
        let info = PodInfo {
            url: self.url.clone(),
            streams,
            draining: self.is_draining(),
        };
        let mut redis = self.redis.connection().await?;
        self.pool
            .heartbeat(&mut redis, &self.pod_id, &info, self.settings.heartbeat_ttl)
            .await?;
        if renew_leases || had_lapsed {
            for (vibe, stream) in held {
                let still_ours = self
                    .scripts
                    .renew(&mut redis, vibe, &stream.lease, self.settings.lease)
                    .await?;
                if !still_ours && !stream.lost.swap(true, Ordering::AcqRel) {
                    tracing::warn!(vibe_id = %vibe, token = stream.lease.token, "another pod owns the stream now; this pod stops publishing it");
                    metrics::counter!("vibes_ingest_ownership_lost_total").increment(1);
                }
            }
        }
        self.liveness.confirm(sent_at, self.settings.heartbeat_ttl);
        Ok(())
    }

    /// Takes no new streams from now on; the pool hears it on the next heartbeat.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Leaves the pool at once (after the streams were handed over).
    pub async fn leave(&self) {
        self.left.store(true, Ordering::Release);
        let left = async {
            let mut redis = self.redis.connection().await?;
            self.pool.leave(&mut redis, &self.pod_id).await
        };
        if let Err(error) = left.await {
            tracing::warn!(%error, "could not leave the ingest pool; the heartbeat expires by itself");
        }
    }

    pub fn health(&self) -> PartHealth {
        if self.is_draining() {
            PartHealth::down("shutting down: handing its streams over")
        } else if self.liveness.is_current() {
            PartHealth::up()
        } else {
            PartHealth::down("heartbeat to the ingest pool not confirmed (Redis unreachable?)")
        }
    }

    pub fn has_left(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    pub fn heartbeat_interval(&self) -> Duration {
        self.settings.heartbeat_interval
    }

    pub fn renew_interval(&self) -> Duration {
        self.settings.lease / 3
    }
}
