//! The keys the registry writes. The vibe id sits in a `{hash tag}` so all
//! keys of one stream land in the same Redis Cluster slot and one script may
//! touch them.

use vibes_domain::VibeId;

/// Set of vibe ids currently live.
pub const LIVE_STREAMS: &str = "vibes:streams:live";

/// Hash: `state`, `owner`, `creator`, `started_at_ms`, optional `max_participants`.
pub fn stream_record(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:stream")
}

/// Sorted set: member = participant id, score = lease expiry (ms since epoch).
pub fn participant_leases(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:leases")
}

/// Sorted set: member = participant id that left, score = when that may be forgotten (ms).
pub fn departed_participants(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:left")
}

/// String, expiring: the stream ended (its record is gone for good), kept as
/// long as a playback token can live.
pub fn stream_ended(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:ended")
}

/// String, expiring: when a seat renewal first found no record of the stream
/// and no end (ms): Redis lost its data, until ingest registers it again.
pub fn stream_missing_since(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:missing-since")
}

/// Hash: engine client id of a connected FLV player → its participant id.
pub fn flv_connections(vibe: &VibeId) -> String {
    format!("vibes:{{{vibe}}}:flv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_stream_share_a_hash_tag() {
        let vibe = VibeId::parse("abc").unwrap();
        assert_eq!(stream_record(&vibe), "vibes:{abc}:stream");
        assert_eq!(participant_leases(&vibe), "vibes:{abc}:leases");
        assert_eq!(departed_participants(&vibe), "vibes:{abc}:left");
    }
}
