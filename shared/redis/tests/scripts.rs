//! Each Lua script against a real Redis.

use redis::aio::ConnectionManager;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::scripts::{end_stream, live_streams};
use vibes_redis::{JoinOutcome, RedisConnector, SessionScripts};

async fn connection() -> ConnectionManager {
    RedisConnector::new(
        &vibes_testkit::redis_server::redis_url(),
        Duration::from_secs(2),
    )
    .unwrap()
    .connection()
    .await
    .expect("Redis is reachable")
}

fn unique_vibe() -> VibeId {
    VibeId::parse(&format!("test-{}", ParticipantId::generate())).unwrap()
}

fn participant(name: &str) -> ParticipantId {
    ParticipantId::parse(name).unwrap()
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn join_refuses_a_stream_that_is_not_live() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let outcome = scripts
        .join(&mut redis, &unique_vibe(), &participant("p1"), LEASE, 10)
        .await;
    assert_eq!(outcome.unwrap(), JoinOutcome::NotLive);
}

#[tokio::test]
async fn join_admits_up_to_the_cap_and_rejoin_renews_without_counting_twice() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    assert!(scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap());

    for (index, name) in ["p1", "p2"].iter().enumerate() {
        let outcome = scripts
            .join(&mut redis, &vibe, &participant(name), LEASE, 2)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            JoinOutcome::Admitted {
                participant_count: index as u64 + 1,
                cap: 2
            }
        );
    }
    let full = scripts
        .join(&mut redis, &vibe, &participant("p3"), LEASE, 2)
        .await
        .unwrap();
    assert_eq!(
        full,
        JoinOutcome::Full {
            participant_count: 2,
            cap: 2
        }
    );
    let renewed = scripts
        .join(&mut redis, &vibe, &participant("p1"), LEASE, 2)
        .await
        .unwrap();
    assert_eq!(
        renewed,
        JoinOutcome::Admitted {
            participant_count: 2,
            cap: 2
        }
    );
}

#[tokio::test]
async fn expired_leases_free_their_seats() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap();
    let short = Duration::from_millis(50);
    scripts
        .join(&mut redis, &vibe, &participant("gone"), short, 1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;

    assert_eq!(
        scripts.participant_count(&mut redis, &vibe).await.unwrap(),
        0
    );
    let outcome = scripts
        .join(&mut redis, &vibe, &participant("next"), LEASE, 1)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        JoinOutcome::Admitted {
            participant_count: 1,
            cap: 1
        }
    );
}

#[tokio::test]
async fn leave_is_idempotent() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    scripts
        .register_stream(&mut redis, &vibe, "ingest-a", None)
        .await
        .unwrap();
    scripts
        .join(&mut redis, &vibe, &participant("p1"), LEASE, 5)
        .await
        .unwrap();
    scripts
        .join(&mut redis, &vibe, &participant("p2"), LEASE, 5)
        .await
        .unwrap();

    let first = scripts
        .leave(&mut redis, &vibe, &participant("p1"))
        .await
        .unwrap();
    assert!(first.removed);
    assert_eq!(first.participant_count, 1);
    let second = scripts
        .leave(&mut redis, &vibe, &participant("p1"))
        .await
        .unwrap();
    assert!(!second.removed);
    assert_eq!(second.participant_count, 1);
}

#[tokio::test]
async fn register_keeps_the_first_start_and_end_removes_everything() {
    let mut redis = connection().await;
    let scripts = SessionScripts::default();
    let vibe = unique_vibe();
    assert!(scripts
        .register_stream(&mut redis, &vibe, "ingest-a", Some("creator-1"))
        .await
        .unwrap());
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

    scripts
        .join(&mut redis, &vibe, &participant("p1"), LEASE, 5)
        .await
        .unwrap();
    assert!(end_stream(&mut redis, &vibe).await.unwrap());
    assert!(!end_stream(&mut redis, &vibe).await.unwrap());
    assert!(live_streams(&mut redis)
        .await
        .unwrap()
        .iter()
        .all(|r| r.vibe_id != vibe));
    assert_eq!(
        scripts.participant_count(&mut redis, &vibe).await.unwrap(),
        0
    );
}

fn find(
    records: &[vibes_redis::scripts::StreamRecord],
    vibe: &VibeId,
) -> vibes_redis::scripts::StreamRecord {
    records
        .iter()
        .find(|record| &record.vibe_id == vibe)
        .expect("stream is listed")
        .clone()
}
