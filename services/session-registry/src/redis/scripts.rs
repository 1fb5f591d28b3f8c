//! Typed calls of the registry's Lua scripts in `scripts/`. `redis::Script`
//! sends EVALSHA and loads the script only when Redis answers NOSCRIPT (e.g.
//! after a restart).

use super::keys;
use redis::aio::ConnectionLike;
use redis::{RedisError, Script};
use std::collections::HashMap;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::redis_span;
use vibes_redis::traced::traced;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Admitted {
        participant_count: u64,
        cap: u64,
    },
    Full {
        participant_count: u64,
        cap: u64,
    },
    NotLive,
    /// Only for renewals: the participant left, so its token no longer seats it.
    Departed,
    /// Only for renewals: Redis holds neither the stream nor its end (it lost
    /// its data); the stream counts as live until its owner registers it
    /// again or `SeatTerms::unconfirmed_grace` runs out. No seat is counted.
    Unconfirmed,
}

impl JoinOutcome {
    /// A short name for metrics and spans.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Admitted { .. } => "admitted",
            Self::Full { .. } => "full",
            Self::NotLive => "not_live",
            Self::Departed => "left",
            Self::Unconfirmed => "unconfirmed",
        }
    }
}

/// Why a seat is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatRequest {
    /// An explicit join: also forgets an earlier leave.
    Join,
    /// A media request renewing (or re-creating) the lease.
    Renew,
}

/// How long the leases and leave records of a stream last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatTerms {
    pub lease: Duration,
    /// A leave is remembered this long: as long as a playback token can live.
    pub remember_leave: Duration,
    pub default_cap: u64,
    /// How long renewals keep a stream whose record Redis lost (neither it
    /// nor its end is there) playing: long enough for its ingest pod to
    /// register it again.
    pub unconfirmed_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaveOutcome {
    pub removed: bool,
    pub participant_count: u64,
}

/// A stream record as stored, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub vibe_id: VibeId,
    pub creator: Option<String>,
    pub owner: String,
    pub started_at_ms: u64,
    /// The last registration (ingest renews every few seconds while audio
    /// flows; the engine's publish hook registers once).
    pub renewed_at_ms: u64,
    pub max_participants: Option<u64>,
}

pub struct SessionScripts {
    seat: Script,
    leave: Script,
    count: Script,
    register_stream: Script,
    set_cap: Script,
}

impl Default for SessionScripts {
    fn default() -> Self {
        Self {
            seat: Script::new(include_str!("scripts/seat.lua")),
            leave: Script::new(include_str!("scripts/leave.lua")),
            count: Script::new(include_str!("scripts/count.lua")),
            register_stream: Script::new(include_str!("scripts/register_stream.lua")),
            set_cap: Script::new(include_str!("scripts/set_cap.lua")),
        }
    }
}

impl SessionScripts {
    pub async fn seat<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        participant: &ParticipantId,
        terms: &SeatTerms,
        request: SeatRequest,
    ) -> Result<JoinOutcome, RedisError> {
        let call = async {
            let outcomes = self
                .seats(
                    connection,
                    vibe,
                    std::slice::from_ref(participant),
                    terms,
                    request,
                )
                .await?;
            Ok(outcomes.into_iter().next().unwrap_or(JoinOutcome::NotLive))
        };
        traced(redis_span!("redis_seat", vibe), call, JoinOutcome::label).await
    }

    /// Renews the seats of many participants of `vibe` in one script call
    /// (the edge's FLV listeners of a stream); the outcomes come in their order.
    pub async fn renew_seats<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        participants: &[ParticipantId],
        terms: &SeatTerms,
    ) -> Result<Vec<JoinOutcome>, RedisError> {
        let call = self.seats(connection, vibe, participants, terms, SeatRequest::Renew);
        traced(
            redis_span!("redis_renew_seats", vibe),
            call,
            |outcomes| match outcomes
                .iter()
                .all(|outcome| matches!(outcome, JoinOutcome::Admitted { .. }))
            {
                true => "all_renewed",
                false => "some_gone",
            },
        )
        .await
    }

    async fn seats<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        participants: &[ParticipantId],
        terms: &SeatTerms,
        request: SeatRequest,
    ) -> Result<Vec<JoinOutcome>, RedisError> {
        let mode = match request {
            SeatRequest::Join => "join",
            SeatRequest::Renew => "renew",
        };
        let mut invocation = self.seat.prepare_invoke();
        invocation
            .key(keys::stream_record(vibe))
            .key(keys::participant_leases(vibe))
            .key(keys::departed_participants(vibe))
            .key(keys::stream_ended(vibe))
            .key(keys::stream_missing_since(vibe))
            .arg(terms.lease.as_millis() as u64)
            .arg(terms.default_cap)
            .arg(mode)
            .arg(terms.unconfirmed_grace.as_millis() as u64);
        for participant in participants {
            invocation.arg(participant.as_str());
        }
        let answer: Vec<i64> = invocation.invoke_async(connection).await?;
        let (participant_count, cap) = match answer[..] {
            [count, cap, ..] => (count.max(0) as u64, cap.max(0) as u64),
            _ => (0, 0),
        };
        Ok(answer
            .iter()
            .skip(2)
            .map(|outcome| match outcome {
                1 => JoinOutcome::Admitted {
                    participant_count,
                    cap,
                },
                0 => JoinOutcome::Full {
                    participant_count,
                    cap,
                },
                -2 => JoinOutcome::Departed,
                -3 => JoinOutcome::Unconfirmed,
                _ => JoinOutcome::NotLive,
            })
            .collect())
    }

    pub async fn leave<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        participant: &ParticipantId,
        terms: &SeatTerms,
    ) -> Result<LeaveOutcome, RedisError> {
        let call = async {
            let (removed, participant_count): (u64, u64) = self
                .leave
                .key(keys::participant_leases(vibe))
                .key(keys::departed_participants(vibe))
                .arg(participant.as_str())
                .arg(terms.remember_leave.as_millis() as u64)
                .invoke_async(connection)
                .await?;
            Ok(LeaveOutcome {
                removed: removed == 1,
                participant_count,
            })
        };
        traced(
            redis_span!("redis_leave", vibe),
            call,
            |outcome| match outcome.removed {
                true => "removed",
                false => "not_seated",
            },
        )
        .await
    }

    pub async fn participant_count<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
    ) -> Result<u64, RedisError> {
        let call = async {
            self.count
                .key(keys::participant_leases(vibe))
                .invoke_async(connection)
                .await
        };
        traced(redis_span!("redis_count", vibe), call, |_| "counted").await
    }

    /// Overrides one live stream's cap. Returns false when it is not live.
    pub async fn set_cap<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        cap: u64,
    ) -> Result<bool, RedisError> {
        let call = async {
            let set: u64 = self
                .set_cap
                .key(keys::stream_record(vibe))
                .arg(cap)
                .invoke_async(connection)
                .await?;
            Ok(set == 1)
        };
        traced(redis_span!("redis_set_cap", vibe), call, |set| match set {
            true => "set",
            false => "not_live",
        })
        .await
    }

    /// Returns true when the stream was not known before (a fresh start).
    pub async fn register_stream<C: ConnectionLike>(
        &self,
        connection: &mut C,
        vibe: &VibeId,
        owner: &str,
        creator: Option<&str>,
    ) -> Result<bool, RedisError> {
        let call = async {
            let fresh: u64 = self
                .register_stream
                .key(keys::stream_record(vibe))
                .key(keys::LIVE_STREAMS)
                .key(keys::stream_ended(vibe))
                .key(keys::stream_missing_since(vibe))
                .arg(vibe.as_str())
                .arg(owner)
                .arg(creator.unwrap_or(""))
                .invoke_async(connection)
                .await?;
            Ok(fresh == 1)
        };
        traced(
            redis_span!("redis_register_stream", vibe),
            call,
            |fresh| match fresh {
                true => "fresh",
                false => "known",
            },
        )
        .await
    }
}

/// Removes a stream and its leases. Returns true when it was live.
/// Ends a stream: its record and seats go, and its end is remembered for
/// `remember` (as long as its playback tokens live), so a renewal can tell an
/// ended stream from one whose record Redis lost.
pub async fn end_stream<C: ConnectionLike>(
    connection: &mut C,
    vibe: &VibeId,
    remember: Duration,
) -> Result<bool, RedisError> {
    let call = async {
        let (removed_from_live, _, _, _, _, _): (u64, (), u64, u64, u64, u64) = redis::pipe()
            .atomic()
            .srem(keys::LIVE_STREAMS, vibe.as_str())
            .cmd("SET")
            .arg(keys::stream_ended(vibe))
            .arg(1)
            .arg("PX")
            .arg(remember.as_millis().max(1) as u64)
            .del(keys::stream_record(vibe))
            .del(keys::participant_leases(vibe))
            .del(keys::departed_participants(vibe))
            .del(keys::flv_connections(vibe))
            .query_async(connection)
            .await?;
        Ok(removed_from_live == 1)
    };
    traced(
        redis_span!("redis_end_stream", vibe),
        call,
        |was_live| match was_live {
            true => "ended",
            false => "not_live",
        },
    )
    .await
}

/// Stream records of every live stream, sorted by vibe id.
pub async fn live_streams<C: ConnectionLike>(
    connection: &mut C,
) -> Result<Vec<StreamRecord>, RedisError> {
    let call = read_live_streams(connection);
    traced(redis_span!("redis_live_streams"), call, |_| "listed").await
}

async fn read_live_streams<C: ConnectionLike>(
    connection: &mut C,
) -> Result<Vec<StreamRecord>, RedisError> {
    let mut vibe_ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys::LIVE_STREAMS)
        .query_async(connection)
        .await?;
    vibe_ids.sort();
    let mut records = Vec::with_capacity(vibe_ids.len());
    for raw in vibe_ids {
        let Ok(vibe_id) = VibeId::parse(&raw) else {
            continue;
        };
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::stream_record(&vibe_id))
            .query_async(connection)
            .await?;
        if fields.get("state").map(String::as_str) != Some("live") {
            continue;
        }
        let started_at_ms = parse_field(&fields, "started_at_ms").unwrap_or(0);
        records.push(StreamRecord {
            creator: fields.get("creator").cloned(),
            owner: fields.get("owner").cloned().unwrap_or_default(),
            started_at_ms,
            renewed_at_ms: parse_field(&fields, "renewed_at_ms").unwrap_or(started_at_ms),
            max_participants: parse_field(&fields, "max_participants"),
            vibe_id,
        });
    }
    Ok(records)
}

fn parse_field(fields: &HashMap<String, String>, name: &str) -> Option<u64> {
    fields.get(name).and_then(|value| value.parse().ok())
}

/// Who an engine client (an FLV connection) plays for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvConnection {
    /// A listener, with its participant's seat.
    Listener(ParticipantId),
    /// The edge's one connection per stream and worker that it fans out to
    /// its listeners; it holds no seat (each listener does, at the edge).
    EdgeRelay,
}

/// Stored in place of a participant id for an edge relay: `~` is not allowed
/// in participant ids, so no listener can be taken for a relay.
const EDGE_RELAY_MARK: &str = "~edge-relay";

impl FlvConnection {
    fn stored(&self) -> &str {
        match self {
            Self::Listener(participant) => participant.as_str(),
            Self::EdgeRelay => EDGE_RELAY_MARK,
        }
    }

    fn from_stored(stored: &str) -> Option<Self> {
        match stored {
            EDGE_RELAY_MARK => Some(Self::EdgeRelay),
            participant => ParticipantId::parse(participant).ok().map(Self::Listener),
        }
    }
}

/// Remembers who an engine client (an FLV connection) plays for.
pub async fn record_flv_connection<C: ConnectionLike>(
    connection: &mut C,
    vibe: &VibeId,
    client_id: &str,
    player: &FlvConnection,
) -> Result<(), RedisError> {
    let call = async {
        redis::cmd("HSET")
            .arg(keys::flv_connections(vibe))
            .arg(client_id)
            .arg(player.stored())
            .query_async(connection)
            .await
    };
    traced(
        redis_span!("redis_record_flv_connection", vibe),
        call,
        |_| "recorded",
    )
    .await
}

pub async fn forget_flv_connection<C: ConnectionLike>(
    connection: &mut C,
    vibe: &VibeId,
    client_id: &str,
) -> Result<(), RedisError> {
    let call = async {
        redis::cmd("HDEL")
            .arg(keys::flv_connections(vibe))
            .arg(client_id)
            .query_async(connection)
            .await
    };
    traced(
        redis_span!("redis_forget_flv_connection", vibe),
        call,
        |_| "forgotten",
    )
    .await
}

/// Engine client id → who it plays for, of the stream's known FLV connections.
pub async fn flv_connections<C: ConnectionLike>(
    connection: &mut C,
    vibe: &VibeId,
) -> Result<HashMap<String, FlvConnection>, RedisError> {
    let call = async {
        redis::cmd("HGETALL")
            .arg(keys::flv_connections(vibe))
            .query_async(connection)
            .await
    };
    let raw: HashMap<String, String> =
        traced(redis_span!("redis_flv_connections", vibe), call, |_| {
            "listed"
        })
        .await?;
    Ok(raw
        .into_iter()
        .filter_map(|(client, stored)| Some((client, FlvConnection::from_stored(&stored)?)))
        .collect())
}
