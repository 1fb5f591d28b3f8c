//! Stream ownership and the ingest pod pool against a real Redis.

use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_redis::ownership::{Claim, LivePod, OwnershipScripts, PodDirectory, PodInfo};
use vibes_testkit::redis_server::connection;

const LEASE: Duration = Duration::from_secs(5);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ParticipantId::generate())
}

fn unique_vibe() -> VibeId {
    VibeId::parse(&unique("owned")).unwrap()
}

fn owned(claim: Claim) -> vibes_redis::ownership::StreamLease {
    match claim {
        Claim::Owned(lease) => lease,
        Claim::HeldBy(lease) => panic!("expected to own the stream, {lease:?} holds it"),
    }
}

#[tokio::test]
async fn a_stream_has_one_owner_until_it_is_released() {
    let (mut redis, scripts, vibe) = (
        connection().await,
        OwnershipScripts::default(),
        unique_vibe(),
    );
    assert_eq!(scripts.holder(&mut redis, &vibe).await.unwrap(), None);

    let first = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-a", LEASE, None)
            .await
            .unwrap(),
    );
    assert_eq!(first.pod, "pod-a");
    let refused = scripts
        .claim(&mut redis, &vibe, "pod-b", LEASE, None)
        .await
        .unwrap();
    assert_eq!(refused, Claim::HeldBy(first.clone()));
    assert_eq!(
        scripts.holder(&mut redis, &vibe).await.unwrap(),
        Some(first.clone())
    );

    assert!(scripts.release(&mut redis, &vibe, &first).await.unwrap());
    let second = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-b", LEASE, None)
            .await
            .unwrap(),
    );
    assert!(
        second.token > first.token,
        "tokens grow: {first:?} then {second:?}"
    );
    assert!(
        !scripts.release(&mut redis, &vibe, &first).await.unwrap(),
        "an old owner cannot release the new owner's lease"
    );
    assert_eq!(
        scripts.holder(&mut redis, &vibe).await.unwrap(),
        Some(second)
    );
}

#[tokio::test]
async fn taking_over_replaces_only_the_lease_seen_held_by_a_gone_pod() {
    let (mut redis, scripts, vibe) = (
        connection().await,
        OwnershipScripts::default(),
        unique_vibe(),
    );
    let gone = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-a", LEASE, None)
            .await
            .unwrap(),
    );

    let taker = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-b", LEASE, Some(&gone))
            .await
            .unwrap(),
    );
    assert_eq!(taker.pod, "pod-b");
    // A third pod that also saw pod-a's lease and races to take over loses.
    let late = scripts
        .claim(&mut redis, &vibe, "pod-c", LEASE, Some(&gone))
        .await
        .unwrap();
    assert_eq!(late, Claim::HeldBy(taker.clone()));

    // The paused old owner learns on its next renewal that it lost the stream.
    assert!(!scripts
        .renew(&mut redis, &vibe, &gone, LEASE)
        .await
        .unwrap());
    assert!(scripts
        .renew(&mut redis, &vibe, &taker, LEASE)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_lapsed_lease_is_renewed_unless_a_newer_owner_came_and_went() {
    let (mut redis, scripts, vibe) = (
        connection().await,
        OwnershipScripts::default(),
        unique_vibe(),
    );
    let short = Duration::from_millis(50);
    let lease = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-a", short, None)
            .await
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(scripts.holder(&mut redis, &vibe).await.unwrap(), None);
    assert!(
        scripts
            .renew(&mut redis, &vibe, &lease, LEASE)
            .await
            .unwrap(),
        "nobody claimed it meanwhile: still pod-a's"
    );

    let newer = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-b", LEASE, Some(&lease))
            .await
            .unwrap(),
    );
    assert!(scripts.release(&mut redis, &vibe, &newer).await.unwrap());
    assert!(
        !scripts
            .renew(&mut redis, &vibe, &lease, LEASE)
            .await
            .unwrap(),
        "a newer token was handed out, so the old one stays fenced off"
    );
}

#[tokio::test]
async fn a_pod_claiming_again_gets_a_new_token() {
    let (mut redis, scripts, vibe) = (
        connection().await,
        OwnershipScripts::default(),
        unique_vibe(),
    );
    let before = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-a", LEASE, None)
            .await
            .unwrap(),
    );
    let again = owned(
        scripts
            .claim(&mut redis, &vibe, "pod-a", LEASE, None)
            .await
            .unwrap(),
    );
    assert!(again.token > before.token);
    assert!(!scripts
        .renew(&mut redis, &vibe, &before, LEASE)
        .await
        .unwrap());
}

fn info(url: &str, streams: u64, draining: bool) -> PodInfo {
    PodInfo {
        url: url.to_owned(),
        streams,
        draining,
    }
}

#[tokio::test]
async fn the_pool_lists_pods_whose_heartbeat_is_current() {
    let mut redis = connection().await;
    let pool = PodDirectory::new(&unique("pool"));
    pool.heartbeat(&mut redis, "pod-a", &info("http://a", 2, false), LEASE)
        .await
        .unwrap();
    pool.heartbeat(
        &mut redis,
        "pod-b",
        &info("http://b", 0, false),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    pool.heartbeat(&mut redis, "pod-c", &info("http://c", 0, true), LEASE)
        .await
        .unwrap();
    let mut ids: Vec<_> = pool
        .live_pods(&mut redis)
        .await
        .unwrap()
        .into_iter()
        .map(|pod| pod.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["pod-a", "pod-b", "pod-c"]);

    tokio::time::sleep(Duration::from_millis(120)).await;
    pool.leave(&mut redis, "pod-c").await.unwrap();
    let live = pool.live_pods(&mut redis).await.unwrap();
    assert_eq!(
        live,
        [LivePod {
            id: "pod-a".to_owned(),
            info: info("http://a", 2, false)
        }],
        "pod-b's heartbeat expired and pod-c left"
    );
}
