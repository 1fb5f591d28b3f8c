//! Which ingest pod publishes which stream. Each stream has at most one owner:
//! a lease (`SET NX PX` semantics, in a script) carrying a fencing token that
//! grows with every new owner, so a pod that was paused or cut off learns on its
//! next renewal that it must stop. Pods announce themselves (address, load) with
//! a heartbeat in a pool, where the gateway finds a stream's owner or, for a new
//! stream, the least-loaded pod.

use crate::keys;
use redis::aio::ConnectionLike;
use redis::{RedisError, Script};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use vibes_domain::VibeId;

/// One pod's hold on one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLease {
    pub pod: String,
    /// Grows with every new owner of the stream.
    pub token: u64,
}

impl StreamLease {
    /// The value stored under the stream's owner key.
    fn stored(&self) -> String {
        format!("{}\n{}", self.pod, self.token)
    }

    fn parse(stored: &str) -> Option<Self> {
        let (pod, token) = stored.rsplit_once('\n')?;
        Some(Self {
            pod: pod.to_owned(),
            token: token.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller owns the stream now.
    Owned(StreamLease),
    /// Another pod does.
    HeldBy(StreamLease),
}

pub struct OwnershipScripts {
    claim: Script,
    renew: Script,
    release: Script,
    record_chunk: Script,
}

/// A stream's last accepted numbered chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastChunk {
    pub seq: u64,
    pub bytes: u64,
}

impl Default for OwnershipScripts {
    fn default() -> Self {
        Self {
            claim: Script::new(include_str!("scripts/claim_stream.lua")),
            renew: Script::new(include_str!("scripts/renew_stream.lua")),
            release: Script::new(include_str!("scripts/release_stream.lua")),
            record_chunk: Script::new(include_str!("scripts/record_chunk.lua")),
        }
    }
}

impl OwnershipScripts {
    /// Who owns the stream now, if anyone.
    pub async fn holder<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
    ) -> Result<Option<StreamLease>, RedisError> {
        let stored: Option<String> = redis::cmd("GET")
            .arg(keys::stream_owner(vibe))
            .query_async(connection)
            .await?;
        Ok(stored.as_deref().and_then(StreamLease::parse))
    }

    /// Claims the stream for `pod`. `taking_over` names the lease of a pod
    /// known to be gone; only that lease is replaced, any other holder wins.
    pub async fn claim<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        pod: &str,
        lease: Duration,
        taking_over: Option<&StreamLease>,
    ) -> Result<Claim, RedisError> {
        let (owned, holder, token): (i64, String, u64) = self
            .claim
            .key(keys::stream_owner(vibe))
            .key(keys::stream_fence(vibe))
            .arg(pod)
            .arg(lease.as_millis() as u64)
            .arg(taking_over.map(StreamLease::stored).unwrap_or_default())
            .invoke_async(connection)
            .await?;
        let lease = StreamLease { pod: holder, token };
        Ok(if owned == 1 {
            Claim::Owned(lease)
        } else {
            Claim::HeldBy(lease)
        })
    }

    /// Extends the lease; false means another pod owns the stream now.
    pub async fn renew<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        lease: &StreamLease,
        duration: Duration,
    ) -> Result<bool, RedisError> {
        let renewed: i64 = self
            .renew
            .key(keys::stream_owner(vibe))
            .key(keys::stream_fence(vibe))
            .arg(&lease.pod)
            .arg(lease.token)
            .arg(duration.as_millis() as u64)
            .invoke_async(connection)
            .await?;
        Ok(renewed == 1)
    }

    /// Gives the stream up so the next chunk's pod can claim it at once.
    pub async fn release<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        lease: &StreamLease,
    ) -> Result<bool, RedisError> {
        let released: i64 = self
            .release
            .key(keys::stream_owner(vibe))
            .arg(&lease.pod)
            .arg(lease.token)
            .invoke_async(connection)
            .await?;
        Ok(released == 1)
    }

    /// Records `chunk` as the stream's last accepted one for `keep`, if
    /// `lease` still owns the stream; false when it does not.
    pub async fn record_chunk<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        lease: &StreamLease,
        chunk: LastChunk,
        keep: Duration,
    ) -> Result<bool, RedisError> {
        let recorded: i64 = self
            .record_chunk
            .key(keys::stream_owner(vibe))
            .key(keys::last_chunk(vibe))
            .arg(lease.stored())
            .arg(format!("{} {}", chunk.seq, chunk.bytes))
            .arg(keep.as_millis() as u64)
            .invoke_async(connection)
            .await?;
        Ok(recorded == 1)
    }

    /// The stream's last accepted numbered chunk, as its owner recorded it.
    pub async fn last_chunk<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
    ) -> Result<Option<LastChunk>, RedisError> {
        let stored: Option<String> = redis::cmd("GET")
            .arg(keys::last_chunk(vibe))
            .query_async(connection)
            .await?;
        Ok(stored.as_deref().and_then(|stored| {
            let (seq, bytes) = stored.split_once(' ')?;
            Some(LastChunk {
                seq: seq.parse().ok()?,
                bytes: bytes.parse().ok()?,
            })
        }))
    }

    /// Forgets the stream's chunk numbers: it ended, and a new stream under
    /// the same id may count from the start again.
    pub async fn forget_chunks<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
    ) -> Result<(), RedisError> {
        redis::cmd("DEL")
            .arg(keys::last_chunk(vibe))
            .query_async(connection)
            .await
    }
}

/// What a pod tells the pool about itself on every heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    /// Where the gateway reaches the pod.
    pub url: String,
    pub streams: u64,
    /// Shutting down: keeps its streams until handed over, takes no new ones.
    pub draining: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePod {
    pub id: String,
    pub info: PodInfo,
}

/// The ingest pods of one pool (a deployment; tests use one pool each).
pub struct PodDirectory {
    live: String,
    details: String,
    heartbeat: Script,
    list: Script,
}

impl PodDirectory {
    pub fn new(pool: &str) -> Self {
        Self {
            live: keys::live_ingest_pods(pool),
            details: keys::ingest_pod_details(pool),
            heartbeat: Script::new(include_str!("scripts/pod_heartbeat.lua")),
            list: Script::new(include_str!("scripts/live_pods.lua")),
        }
    }

    /// Announces `pod` as alive for `ttl`.
    pub async fn heartbeat<C: ConnectionLike>(
        &self,
        connection: &mut C,
        pod: &str,
        info: &PodInfo,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let details = serde_json::to_string(info).expect("pod details serialize");
        self.announce(connection, pod, ttl, &details).await
    }

    /// Removes `pod` from the pool at once (a clean shutdown).
    pub async fn leave<C: ConnectionLike>(
        &self,
        connection: &mut C,
        pod: &str,
    ) -> Result<(), RedisError> {
        self.announce(connection, pod, Duration::ZERO, "").await
    }

    async fn announce<C: ConnectionLike>(
        &self,
        connection: &mut C,
        pod: &str,
        ttl: Duration,
        details: &str,
    ) -> Result<(), RedisError> {
        let _: i64 = self
            .heartbeat
            .key(&self.live)
            .key(&self.details)
            .arg(pod)
            .arg(ttl.as_millis() as u64)
            .arg(details)
            .invoke_async(connection)
            .await?;
        Ok(())
    }

    /// Pods whose heartbeat is current. Details that do not parse (a newer
    /// pod's format) are skipped rather than failing the whole list.
    pub async fn live_pods<C: ConnectionLike>(
        &self,
        connection: &mut C,
    ) -> Result<Vec<LivePod>, RedisError> {
        let flat: Vec<String> = self
            .list
            .key(&self.live)
            .key(&self.details)
            .invoke_async(connection)
            .await?;
        Ok(flat
            .chunks_exact(2)
            .filter_map(|pair| {
                let info = serde_json::from_str(&pair[1]).ok()?;
                Some(LivePod {
                    id: pair[0].clone(),
                    info,
                })
            })
            .collect())
    }
}

impl LivePod {
    /// The pod a new stream should go to: the fewest streams among those not
    /// draining, ties broken by id so concurrent gateways agree.
    pub fn least_loaded<'a>(pods: &'a [LivePod], excluded: &[String]) -> Option<&'a LivePod> {
        pods.iter()
            .filter(|pod| !pod.info.draining && !excluded.contains(&pod.id))
            .min_by(|a, b| {
                a.info
                    .streams
                    .cmp(&b.info.streams)
                    .then_with(|| a.id.cmp(&b.id))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_survives_its_stored_form() {
        let lease = StreamLease {
            pod: "ingest-0#ab12".to_owned(),
            token: 42,
        };
        assert_eq!(StreamLease::parse(&lease.stored()), Some(lease));
        assert_eq!(StreamLease::parse("no-token"), None);
    }

    fn pod(id: &str, streams: u64, draining: bool) -> LivePod {
        LivePod {
            id: id.to_owned(),
            info: PodInfo {
                url: format!("http://{id}"),
                streams,
                draining,
            },
        }
    }

    #[test]
    fn new_streams_go_to_the_least_loaded_pod_that_is_not_draining() {
        let pods = [pod("a", 3, false), pod("b", 1, true), pod("c", 2, false)];
        assert_eq!(LivePod::least_loaded(&pods, &[]).unwrap().id, "c");
        assert_eq!(
            LivePod::least_loaded(&pods, &["c".to_owned()]).unwrap().id,
            "a"
        );
        assert!(LivePod::least_loaded(&pods[1..2], &[]).is_none());
    }
}
