//! Each Lua script against a real Redis.

use redis::aio::ConnectionManager;
use session_registry::redis::keys;
use session_registry::redis::scripts::{end_stream, live_streams, StreamRecord};
use session_registry::redis::{JoinOutcome, SeatRequest, SeatTerms, SessionScripts};
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_testkit::redis_server::connection;

/// A registered stream under a fresh id, with its scripts and connection.
async fn live_stream() -> (ConnectionManager, SessionScripts, VibeId) {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    assert!(scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap());
    (redis, scripts, vibe)
}

fn unique_vibe() -> VibeId {
    VibeId::parse(&format!("test-{}", ParticipantId::generate())).unwrap()
}

fn participant(name: &str) -> ParticipantId {
    ParticipantId::parse(name).unwrap()
}

const UNCONFIRMED_GRACE_MS: u64 = 600;

fn terms(lease_ms: u64, cap: u64) -> SeatTerms {
    SeatTerms {
        lease: Duration::from_millis(lease_ms),
        remember_leave: Duration::from_secs(60),
        default_cap: cap,
        unconfirmed_grace: Duration::from_millis(UNCONFIRMED_GRACE_MS),
    }
}

fn admitted(participant_count: u64, cap: u64) -> JoinOutcome {
    JoinOutcome::Admitted {
        participant_count,
        cap,
    }
}

#[tokio::test]
async fn join_refuses_a_stream_that_is_not_live() {
    let mut redis = connection().await;
    let outcome = SessionScripts::default()
        .seat(
            &mut redis,
            &unique_vibe(),
            &participant("p1"),
            &terms(30_000, 10),
            SeatRequest::Join,
        )
        .await;
    assert_eq!(outcome.unwrap(), JoinOutcome::NotLive);
}

#[tokio::test]
async fn join_admits_up_to_the_cap_and_rejoin_renews_without_counting_twice() {
    let (mut redis, scripts, vibe) = live_stream().await;
    let terms = terms(30_000, 2);
    for (index, name) in ["p1", "p2"].iter().enumerate() {
        let outcome = scripts
            .seat(
                &mut redis,
                &vibe,
                &participant(name),
                &terms,
                SeatRequest::Join,
            )
            .await;
        assert_eq!(outcome.unwrap(), admitted(index as u64 + 1, 2));
    }
    let full = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p3"),
            &terms,
            SeatRequest::Join,
        )
        .await;
    assert_eq!(
        full.unwrap(),
        JoinOutcome::Full {
            participant_count: 2,
            cap: 2
        }
    );
    let renewed = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Renew,
        )
        .await;
    assert_eq!(renewed.unwrap(), admitted(2, 2));
}

#[tokio::test]
async fn expired_leases_free_their_seats() {
    let (mut redis, scripts, vibe) = live_stream().await;
    scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("gone"),
            &terms(50, 1),
            SeatRequest::Join,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;

    assert_eq!(
        scripts.participant_count(&mut redis, &vibe).await.unwrap(),
        0
    );
    let outcome = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("next"),
            &terms(30_000, 1),
            SeatRequest::Join,
        )
        .await;
    assert_eq!(outcome.unwrap(), admitted(1, 1));
}

#[tokio::test]
async fn a_renewal_recreates_a_lost_lease_while_there_is_room() {
    let (mut redis, scripts, vibe) = live_stream().await;
    let terms = terms(30_000, 1);
    let renewed = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Renew,
        )
        .await;
    assert_eq!(renewed.unwrap(), admitted(1, 1));
    let no_room = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p2"),
            &terms,
            SeatRequest::Renew,
        )
        .await;
    assert_eq!(
        no_room.unwrap(),
        JoinOutcome::Full {
            participant_count: 1,
            cap: 1
        }
    );
}

#[tokio::test]
async fn leave_is_idempotent_and_blocks_renewal_until_a_new_join() {
    let (mut redis, scripts, vibe) = live_stream().await;
    let terms = terms(30_000, 5);
    scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Join,
        )
        .await
        .unwrap();
    scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p2"),
            &terms,
            SeatRequest::Join,
        )
        .await
        .unwrap();

    let first = scripts
        .leave(&mut redis, &vibe, &participant("p1"), &terms)
        .await
        .unwrap();
    assert!(first.removed);
    assert_eq!(first.participant_count, 1);
    let second = scripts
        .leave(&mut redis, &vibe, &participant("p1"), &terms)
        .await
        .unwrap();
    assert!(!second.removed);
    assert_eq!(second.participant_count, 1);

    let renewal = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Renew,
        )
        .await;
    assert_eq!(renewal.unwrap(), JoinOutcome::Departed);
    let rejoin = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Join,
        )
        .await;
    assert_eq!(rejoin.unwrap(), admitted(2, 5));
    let renewal = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Renew,
        )
        .await;
    assert_eq!(renewal.unwrap(), admitted(2, 5));
}

#[tokio::test]
async fn a_stream_cap_overrides_the_default() {
    let (mut redis, scripts, vibe) = live_stream().await;
    assert!(scripts.set_cap(&mut redis, &vibe, 1).await.unwrap());
    assert!(
        !scripts
            .set_cap(&mut redis, &unique_vibe(), 1)
            .await
            .unwrap(),
        "not live"
    );
    let terms = terms(30_000, 1000);
    scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Join,
        )
        .await
        .unwrap();
    let full = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p2"),
            &terms,
            SeatRequest::Join,
        )
        .await;
    assert_eq!(
        full.unwrap(),
        JoinOutcome::Full {
            participant_count: 1,
            cap: 1
        }
    );
    let listed = find(&live_streams(&mut redis).await.unwrap(), &vibe);
    assert_eq!(listed.max_participants, Some(1));
}

#[tokio::test]
async fn register_keeps_the_first_start_and_end_removes_everything() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    let fresh = scripts
        .register_stream(&mut redis, &vibe, "ingest-a", Some("creator-1"))
        .await;
    assert!(fresh.unwrap());
    let started = find(&live_streams(&mut redis).await.unwrap(), &vibe).started_at_ms;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!scripts
        .register_stream(&mut redis, &vibe, "ingest-b", None)
        .await
        .unwrap());

    let record = find(&live_streams(&mut redis).await.unwrap(), &vibe);
    assert_eq!(record.started_at_ms, started);
    assert_eq!(record.owner, "ingest-b");
    assert_eq!(record.creator.as_deref(), Some("creator-1"));

    let terms = terms(30_000, 5);
    scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("p1"),
            &terms,
            SeatRequest::Join,
        )
        .await
        .unwrap();
    scripts
        .leave(&mut redis, &vibe, &participant("p1"), &terms)
        .await
        .unwrap();
    assert!(end_stream(&mut redis, &vibe, Duration::from_secs(60))
        .await
        .unwrap());
    assert!(!end_stream(&mut redis, &vibe, Duration::from_secs(60))
        .await
        .unwrap());
    assert!(live_streams(&mut redis)
        .await
        .unwrap()
        .iter()
        .all(|r| r.vibe_id != vibe));
    let leftovers: u64 = redis::cmd("EXISTS")
        .arg(keys::stream_record(&vibe))
        .arg(keys::participant_leases(&vibe))
        .arg(keys::departed_participants(&vibe))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(leftovers, 0);
}

fn find(records: &[StreamRecord], vibe: &VibeId) -> StreamRecord {
    records
        .iter()
        .find(|record| &record.vibe_id == vibe)
        .expect("stream is listed")
        .clone()
}

#[tokio::test]
async fn flv_connections_of_listeners_and_relays_are_recorded_forgotten_and_cleared_with_the_stream(
) {
    use session_registry::redis::scripts::{
        flv_connections, forget_flv_connection, record_flv_connection,
    };
    use session_registry::redis::FlvConnection;
    let (mut redis, _scripts, vibe) = live_stream().await;
    for (client, player) in [
        ("c1", FlvConnection::Listener(participant("p1"))),
        ("c2", FlvConnection::Listener(participant("p2"))),
        ("c3", FlvConnection::EdgeRelay),
    ] {
        record_flv_connection(&mut redis, &vibe, client, &player)
            .await
            .unwrap();
    }
    forget_flv_connection(&mut redis, &vibe, "c1")
        .await
        .unwrap();
    let known = flv_connections(&mut redis, &vibe).await.unwrap();
    assert_eq!(known.len(), 2);
    assert_eq!(known["c2"], FlvConnection::Listener(participant("p2")));
    assert_eq!(known["c3"], FlvConnection::EdgeRelay);

    end_stream(&mut redis, &vibe, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(flv_connections(&mut redis, &vibe).await.unwrap().is_empty());
}

#[tokio::test]
async fn each_call_is_a_client_span_with_its_stream_and_outcome_and_errors_mark_it() {
    let (_, spans) = vibes_telemetry::captured();
    let (mut redis, scripts, vibe) = live_stream().await;
    let (listener, terms) = (participant("traced"), terms(30_000, 10));
    let request = tracing::info_span!("join");
    let seat = scripts.seat(&mut redis, &vibe, &listener, &terms, SeatRequest::Join);
    assert_eq!(
        tracing::Instrument::instrument(seat, request)
            .await
            .unwrap(),
        admitted(1, 10)
    );

    // Other tests trace their own streams meanwhile.
    let of_this_stream = |name: &str| {
        spans
            .named(name)
            .into_iter()
            .find(|span| span.attribute("vibe_id") == Some(vibe.as_str()))
            .unwrap_or_else(|| panic!("no {name} span for {vibe}"))
    };
    assert_eq!(
        of_this_stream("redis_register_stream").attribute("outcome"),
        Some("fresh")
    );
    let seated = of_this_stream("redis_seat");
    assert_eq!(seated.attribute("outcome"), Some("admitted"));
    assert_eq!(seated.attribute("db.system.name"), Some("redis"));
    assert_eq!(seated.kind, "Client");
    assert_eq!(seated.error, None);
    let request = spans
        .named("join")
        .into_iter()
        .find(|span| span.span_id == seated.parent_span_id)
        .expect("the seat span sits inside the request span");
    assert_eq!(seated.trace_id, request.trace_id);

    // A stream record of the wrong type makes the script fail in Redis.
    let broken = unique_vibe();
    redis::cmd("SET")
        .arg(keys::stream_record(&broken))
        .arg("not a hash")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let failed = scripts
        .seat(&mut redis, &broken, &listener, &terms, SeatRequest::Join)
        .await;
    assert!(failed.is_err());
    let failed_span = spans
        .named("redis_seat")
        .into_iter()
        .find(|span| span.attribute("vibe_id") == Some(broken.as_str()))
        .expect("the failed call's span");
    assert_eq!(failed_span.attribute("outcome"), Some("error"));
    let error = failed_span.error.expect("an error status");
    assert!(error.contains("WRONGTYPE"), "{error}");
}

#[tokio::test]
async fn a_stream_whose_record_redis_lost_stays_unconfirmed_for_the_grace_and_an_ended_one_does_not(
) {
    let (mut redis, scripts, vibe) = live_stream().await;
    let terms = terms(30_000, 5);
    let renewer = redis.clone();
    let renew = |vibe: VibeId| {
        let (mut redis, scripts, terms) = (renewer.clone(), &scripts, terms);
        async move {
            scripts
                .seat(
                    &mut redis,
                    &vibe,
                    &participant("p1"),
                    &terms,
                    SeatRequest::Renew,
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(renew(vibe.clone()).await, admitted(1, 5));

    // What an empty restart leaves of this stream: nothing.
    let _: () = redis::pipe()
        .del(keys::stream_record(&vibe))
        .del(keys::participant_leases(&vibe))
        .srem(keys::LIVE_STREAMS, vibe.as_str())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(renew(vibe.clone()).await, JoinOutcome::Unconfirmed);
    let join = scripts
        .seat(
            &mut redis,
            &vibe,
            &participant("new"),
            &terms,
            SeatRequest::Join,
        )
        .await
        .unwrap();
    assert_eq!(
        join,
        JoinOutcome::NotLive,
        "no one joins an unconfirmed stream"
    );
    // The grace counts from the first miss, not from the latest.
    tokio::time::sleep(Duration::from_millis(UNCONFIRMED_GRACE_MS + 100)).await;
    assert_eq!(renew(vibe.clone()).await, JoinOutcome::NotLive);

    // Its owner registers it again: live, the lease re-created, the miss forgotten.
    scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap();
    assert_eq!(renew(vibe.clone()).await, admitted(1, 5));
    let missed: bool = redis::cmd("EXISTS")
        .arg(keys::stream_missing_since(&vibe))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!missed);

    // An ended stream is not live at once: its end is remembered.
    assert!(end_stream(&mut redis, &vibe, Duration::from_secs(60))
        .await
        .unwrap());
    assert_eq!(renew(vibe.clone()).await, JoinOutcome::NotLive);
    // Registered again (a new session of the same id): the end is forgotten.
    scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap();
    assert_eq!(renew(vibe).await, admitted(1, 5));
}
