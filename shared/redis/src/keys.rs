//! The keys every service shares: a stream's owner and the ingest pool. The
//! vibe id sits in a `{hash tag}` so all keys of one stream land in the same
//! Redis Cluster slot and one script may touch them (the registry's keys of a
//! stream share it: `session_registry::redis::keys`).

use vibes_domain::VibeId;

/// String `<pod>\n<fencing token>`, expiring: which ingest pod publishes the stream.
pub fn stream_owner(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:owner")
}

/// String `<seq> <bytes>`, expiring: the stream's last accepted X-Chunk-Seq
/// and its size, written by the owner, read by the pod that takes over.
pub fn last_chunk(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:last-chunk")
}

/// Counter: the last fencing token handed out for the stream's ownership.
pub fn stream_fence(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:fence")
}

/// Sorted set: member = ingest pod id, score = heartbeat expiry (ms). One
/// `{hash tag}` per pool keeps a pool's two keys in one Redis Cluster slot.
pub fn live_ingest_pods(pool: &str) -> String {
    format!("vibes:{{ingest:{pool}}}:pods")
}

/// Hash: ingest pod id → JSON details (address, load, draining).
pub fn ingest_pod_details(pool: &str) -> String {
    format!("vibes:{{ingest:{pool}}}:pod-details")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_stream_share_a_hash_tag() {
        let vibe = VibeId::parse("abc").unwrap();
        assert_eq!(stream_owner(&vibe), "vibes:{abc}:owner");
        assert_eq!(stream_fence(&vibe), "vibes:{abc}:fence");
        assert_eq!(last_chunk(&vibe), "vibes:{abc}:last-chunk");
    }
}
