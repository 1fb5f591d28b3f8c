//! A stream nobody carries any more ends on its own, within
//! `streams.stale_after + streams.reap_interval`: one registered by an ingest
//! pod that then vanished, and one an outside publisher fed straight into
//! the engine and left. A stream whose ingest keeps renewing it, and one
//! whose outside publisher is still there, stay live however long that is.

use serde_json::Value;
use std::time::{Duration, Instant};
use vibes_e2e::{register_stream, Stack};

const STALE_AFTER: Duration = Duration::from_secs(3);
const REAP_INTERVAL: Duration = Duration::from_millis(500);
/// The bound the settings promise, plus room for a loaded machine.
const ENDED_WITHIN: Duration = Duration::from_secs(12);
/// The ingest pod the test's registrations name.
const OWNER: &str = "ingest-stale-test";

fn listed(stack: &Stack) -> Vec<String> {
    let active = stack.edge.get("/streams/active").json();
    active["streams"]
        .as_array()
        .expect("a list of streams")
        .iter()
        .filter_map(|stream| stream["vibe_id"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `vibe` is no longer listed; returns how long that took.
async fn ended_within(stack: &Stack, vibe: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while listed(stack).iter().any(|listed| listed == vibe) {
        assert!(
            started.elapsed() < limit,
            "{vibe} still listed after {limit:?}\n{}",
            stack.logs_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_whose_ingest_or_publisher_is_gone_end_and_the_carried_ones_stay() {
    let stack = Stack::start_with(|registry| {
        registry.streams.stale_after = STALE_AFTER;
        registry.streams.reap_interval = REAP_INTERVAL;
    })
    .await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let suffix = std::process::id();
    let [abandoned, renewed, outside] =
        ["abandoned", "renewed", "outside"].map(|name| format!("{name}-{suffix}"));

    // An ingest pod that keeps renewing its stream, as it does while audio flows.
    let renewals = {
        let (registry_url, vibe) = (stack.registry_url.clone(), renewed.clone());
        tokio::spawn(async move {
            loop {
                register_stream(&registry_url, &vibe, OWNER).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    register_stream(&stack.registry_url, &abandoned, OWNER).await;
    let publisher =
        vibes_e2e::publish_into_engine(&stack.rtmp_base_url, std::slice::from_ref(&outside));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !listed(&stack).contains(&outside) {
        assert!(
            Instant::now() < deadline,
            "the publish hook never listed {outside}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    ended_within(&stack, &abandoned, ENDED_WITHIN).await;
    // Well past the limit: both carried streams are still live.
    tokio::time::sleep(STALE_AFTER * 2).await;
    let still = listed(&stack);
    assert!(
        still.contains(&renewed),
        "a renewed stream was ended: {still:?}"
    );
    assert!(
        still.contains(&outside),
        "a published stream was ended: {still:?}"
    );

    drop(publisher);
    ended_within(&stack, &outside, ENDED_WITHIN).await;
    assert!(listed(&stack).contains(&renewed));

    // An ended stream takes no listeners: its seats and record are gone.
    let join = stack.edge.request_as(
        Some(&vibes_testkit::tokens::participant_bearer("late-listener")),
        "POST",
        &format!("/stream/{abandoned}/join"),
        Some("application/json"),
        br#"{"participant_id":"late-listener"}"#,
    );
    let problem: Value = join.json();
    assert_eq!(join.status, 404, "{problem}");
    assert_eq!(problem["code"], "stream_not_live", "{problem}");
    renewals.abort();
}
