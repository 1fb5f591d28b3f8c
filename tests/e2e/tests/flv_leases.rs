//! HTTP-FLV listeners hold one long response, so their seats are kept in step
//! with their connections: leases of connected listeners renew past the lease
//! period, a listener that leaves is disconnected, a crashed listener's seat
//! frees within one lease period, and connected listeners never exceed the cap.
//! The edge fans the stream out: the engine sees one connection (the edge's
//! relay, which the registry's warden leaves alone) however many listen.

use serde_json::Value;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vibes_e2e::Stack;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::http::{metric, sample, scrape};
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

const LEASE_SECONDS: u64 = 2;
const CAP: u64 = 2;

struct Listener {
    participant: String,
    flv_path: String,
    thread: JoinHandle<()>,
    capture: tempfile::NamedTempFile,
}

fn join(stack: &Stack, vibe: &str, participant: &str) -> (u16, Value) {
    let body = format!(r#"{{"participant_id":"{participant}"}}"#);
    let reply = stack.edge.request_as(
        Some(&participant_bearer(participant)),
        "POST",
        &format!("/stream/{vibe}/join"),
        Some("application/json"),
        body.as_bytes(),
    );
    (reply.status, reply.json())
}

fn listen(stack: &Stack, vibe: &str, participant: &str, limit: Duration) -> Listener {
    let (status, joined) = join(stack, vibe, participant);
    assert_eq!(status, 200, "{joined}");
    let flv = joined["playback"]["flv"].as_str().unwrap();
    let flv_path = flv.strip_prefix(&stack.edge.url("")).unwrap().to_owned();
    let capture = tempfile::NamedTempFile::new().unwrap();
    let thread = stack.edge.listen(&flv_path, capture.path(), limit);
    Listener {
        participant: participant.to_owned(),
        flv_path,
        thread,
        capture,
    }
}

fn participant_count(stack: &Stack, vibe: &str) -> u64 {
    let active = stack.edge.get("/streams/active").json();
    let stream = active["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vibe_id"] == vibe)
        .cloned();
    stream.expect("stream listed")["participant_count"]
        .as_u64()
        .unwrap()
}

/// FLV players SRS has for the stream, from its API (through the supervisor).
async fn engine_flv_players(stack: &Stack, vibe: &str) -> Vec<Value> {
    let clients: Value = reqwest::get(format!("{}/api/v1/clients", stack.supervisor_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients["code"], 0);
    clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|client| client["type"] == "flv-play" && client["url"] == format!("/live/{vibe}"))
        .cloned()
        .collect()
}

/// The first 4 KiB an HTTP-FLV response delivers, or what came within 1.5 s
/// (nothing if refused).
async fn first_bytes(url: &str) -> Vec<u8> {
    let client = reqwest::Client::new();
    let Ok(mut response) = client.get(url).send().await else {
        return Vec::new();
    };
    let mut body = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while body.len() < 4096 {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flv_listeners_keep_their_seats_while_connected_and_lose_the_connection_with_the_seat() {
    let stack = Stack::start_with(|registry| {
        registry.participants.lease = Duration::from_secs(LEASE_SECONDS);
        registry.participants.max_per_stream = CAP;
        registry.engine.warden_interval = Duration::from_millis(300);
    })
    .await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let vibe = format!("flv-{}", std::process::id());
    let started = stack.edge.request_as(
        Some(&creator_bearer(&vibe)),
        "POST",
        &format!("/stream/{vibe}/audio"),
        Some("application/octet-stream"),
        &sine_pcm(2.0),
    );
    assert_eq!(started.status, 202);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let first = listen(&stack, &vibe, "first", Duration::from_secs(30));
    let second = listen(&stack, &vibe, "second", Duration::from_secs(30));
    tokio::time::sleep(Duration::from_secs(2 * LEASE_SECONDS + 1)).await;

    // Both connected listeners kept their seats past two lease periods, over
    // one engine connection that the warden (every 300 ms) did not cut.
    assert_eq!(participant_count(&stack, &vibe), 2);
    let players = engine_flv_players(&stack, &vibe).await;
    assert_eq!(players.len(), 1, "{players:#?}\n{}", stack.logs_tail(30));
    // The edge's own metrics say the same, and that the seats were renewed
    // by its re-checks (every second here).
    let edge_metrics = scrape(&stack.edge.metrics_address()).await;
    assert_eq!(
        sample(&edge_metrics, "vibes_edge_flv_listeners", &[]),
        2.0,
        "{edge_metrics}\n{}",
        stack.logs_tail(30)
    );
    assert_eq!(sample(&edge_metrics, "vibes_edge_flv_relays", &[]), 1.0);
    let renewed = sample(
        &edge_metrics,
        "vibes_edge_flv_seat_checks_total",
        &[("outcome", "renewed")],
    );
    assert!(renewed >= 6.0, "{edge_metrics}");
    // Writes are coalesced (EDGE_FLV_MERGE_MS, 80 ms by default): AAC comes
    // as ~47 tags a second, a listener is written to at most ~13 times.
    let tags = sample(&edge_metrics, "vibes_edge_flv_listener_tags_total", &[]);
    let writes = sample(&edge_metrics, "vibes_edge_flv_listener_writes_total", &[]);
    assert!(
        writes > 0.0 && tags / writes >= 1.5,
        "{tags} tags in {writes} writes"
    );
    let (status, full) = join(&stack, &vibe, "third");
    assert_eq!((status, full["code"].as_str()), (409, Some("stream_full")));

    // Straight at SRS, past the edge: its on_play hook asks the registry, so
    // a player without a token, or with a made-up relay key, gets no media;
    // the edge's relay key and a seated listener's own token play.
    let direct = |query: String| {
        let url = format!(
            "http://127.0.0.1:{}/live/{vibe}.flv{query}",
            stack.engine_http_port
        );
        async move { first_bytes(&url).await }
    };
    for refused in [
        "".to_owned(),
        "?relay=made-up-key-0123456789abcdef0123".to_owned(),
    ] {
        let body = direct(refused.clone()).await;
        assert!(!body.starts_with(b"FLV"), "{refused:?} got media from SRS");
    }
    let relay = direct(format!("?relay={}", vibes_testkit::edge::EDGE_RELAY_KEY)).await;
    assert!(
        relay.starts_with(b"FLV") && relay.len() > 1000,
        "the relay key plays"
    );
    let token = second.flv_path.split('/').nth(2).unwrap();
    let seated = direct(format!("?token={token}")).await;
    assert!(
        seated.starts_with(b"FLV") && seated.len() > 1000,
        "a seated token plays"
    );
    // A direct player stays only while its seat does: the registry's warden
    // kicks it through SRS's API once its participant leaves (below).
    let first_token = first.flv_path.split('/').nth(2).unwrap();
    let direct_url = format!(
        "http://127.0.0.1:{}/live/{vibe}.flv?token={first_token}",
        stack.engine_http_port
    );
    let (playing, direct_playing) = tokio::sync::oneshot::channel();
    let direct_player = tokio::spawn(async move {
        let mut response = reqwest::get(&direct_url).await.unwrap();
        let mut received = 0;
        let mut playing = Some(playing);
        while let Ok(Some(chunk)) = response.chunk().await {
            received += chunk.len();
            if let Some(playing) = playing.take() {
                let _ = playing.send(());
            }
        }
        received
    });
    tokio::time::timeout(Duration::from_secs(5), direct_playing)
        .await
        .expect("the direct player plays")
        .unwrap();

    // A listener that leaves is disconnected by the edge (its next seat check fails).
    let body = format!(r#"{{"participant_id":"{}"}}"#, first.participant);
    stack.edge.request_as(
        Some(&participant_bearer(&first.participant)),
        "POST",
        &format!("/stream/{vibe}/leave"),
        Some("application/json"),
        body.as_bytes(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !first.thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the listener that left is still connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(size(first.capture.path()) > 0, "it did play before leaving");
    // The warden runs every 300 ms here; the bound leaves room for a busy
    // machine (and for its 5 s grace path, were the hook's record missing).
    let kicked = tokio::time::timeout(Duration::from_secs(10), direct_player).await;
    let received = kicked
        .expect("the warden kicks the direct player who left")
        .unwrap();
    assert!(
        received > 1000,
        "the direct player played before: {received} bytes"
    );
    let edge_metrics_address = stack.edge.metrics_address();
    let ended = |reason| {
        let address = edge_metrics_address.clone();
        async move {
            let labels = [("reason", reason)];
            metric(&address, "vibes_edge_flv_listener_ends_total", &labels).await
        }
    };
    // The edge counts an ended response in its log phase, a moment after
    // the client has seen the end.
    let deadline = Instant::now() + Duration::from_secs(3);
    while ended("seat_gone").await != 1.0 {
        assert!(
            Instant::now() < deadline,
            "the end was not counted as seat_gone:\n{}\n{}",
            scrape(&edge_metrics_address).await,
            stack.logs_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Its seat went to a newcomer; connected listeners stay within the cap.
    let third = listen(&stack, &vibe, "third", Duration::from_secs(4));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(participant_count(&stack, &vibe), 2);
    let players = engine_flv_players(&stack, &vibe).await;
    assert_eq!(players.len(), 1, "{players:#?}\n{}", stack.logs_tail(30));
    let before = size(second.capture.path());
    let chunk = stack.edge.request_as(
        Some(&creator_bearer(&vibe)),
        "POST",
        &format!("/stream/{vibe}/audio"),
        Some("application/octet-stream"),
        &sine_pcm(1.0),
    );
    assert_eq!(chunk.status, 202);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        size(second.capture.path()) > before,
        "the remaining listener keeps receiving audio"
    );

    // A listener that vanishes (its connection ends, no leave) frees its seat
    // within one lease period.
    third.thread.join().unwrap();
    tokio::time::sleep(Duration::from_millis(LEASE_SECONDS * 1000 + 800)).await;
    assert_eq!(
        participant_count(&stack, &vibe),
        1,
        "only the connected listener holds a seat"
    );
    assert_eq!(ended("client_gone").await, 1.0);
    let edge_metrics = scrape(&stack.edge.metrics_address()).await;
    assert_eq!(sample(&edge_metrics, "vibes_edge_flv_listeners", &[]), 1.0);
    assert!(second.flv_path.contains(&second.participant));
}
