//! One nginx worker relays more live streams than lua-nginx-module's default
//! 256 running timers allow (each stream's FLV relay is one timer): 300 live
//! streams, one listener each through the edge, a relay each in the same
//! worker (the test edge runs a single process), and the streams that carry
//! audio play through it.
//!
//! Publishing 300 streams for real is more than this machine's two cores do
//! in a test, so 290 streams are registered as live the way ingest does (a
//! relay to SRS for such a stream waits for its publisher, holding its timer
//! all the same) and 10 are published by ffmpeg.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use vibes_domain::{ParticipantId, VibeId};
use vibes_e2e::{Stack, PLAYBACK_TOKEN_SECRET};

const STREAMS: usize = 300;
const PUBLISHED: usize = 10;
/// Listeners per client address: under nginx's 128 concurrent HTTP/2
/// streams per connection and the edge's per-address /live limit.
const PER_ADDRESS: usize = 100;

/// Publishers SRS has whose stream name starts with `prefix`.
async fn engine_publishers(stack: &Stack, prefix: &str) -> usize {
    let clients = stack.engine_api("clients/?count=2000").await;
    clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|client| {
            client["publish"] == true && client["name"].as_str().unwrap().starts_with(prefix)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_relays_more_than_256_live_streams() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let prefix = format!("many-{}-", std::process::id());
    let vibes: Vec<String> = (0..STREAMS)
        .map(|index| format!("{prefix}{index}"))
        .collect();

    // One encoder copies its AAC to the first 10 streams (SRS's on_publish
    // hook marks them live); the rest are registered.
    let _publisher = vibes_e2e::publish_into_engine(&stack.rtmp_base_url, &vibes[..PUBLISHED]);
    for vibe in &vibes[PUBLISHED..] {
        vibes_e2e::register_stream(&stack.registry_url, vibe, "relay-capacity-test").await;
    }
    vibes_testkit::wait_until_async(Duration::from_secs(30), "the 10 streams publish", || {
        let (stack, prefix) = (&stack, prefix.clone());
        async move { engine_publishers(stack, &prefix).await == PUBLISHED }
    })
    .await;

    // A listener per stream with a token of its own (a valid token takes a
    // seat while the stream has room), 100 per client address over HTTP/2.
    let tokens = vibes_tokens::PlaybackTokens::new(
        PLAYBACK_TOKEN_SECRET.to_owned().into(),
        Duration::from_secs(3600),
    )
    .unwrap();
    let captures = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for (batch, vibes) in vibes.chunks(PER_ADDRESS).enumerate() {
        let mut curl = Command::new("curl");
        curl.args(["-s", "--http2", "--parallel", "--parallel-immediate"])
            .args([
                "--parallel-max",
                &PER_ADDRESS.to_string(),
                "--max-time",
                "6",
            ])
            .args(["--interface", &format!("127.0.0.{}", batch + 2), "--cacert"])
            .arg(&stack.edge.certificate);
        for vibe in vibes {
            let participant = ParticipantId::parse(&format!("listener-of-{vibe}")).unwrap();
            let token = tokens.mint(
                &VibeId::parse(vibe).unwrap(),
                &participant,
                SystemTime::now(),
            );
            curl.arg("-o")
                .arg(captures.path().join(format!("{vibe}.flv")))
                .arg(stack.edge.url(&format!("/live/{token}/{vibe}.flv")));
        }
        clients.push(
            curl.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }

    // At some moment every stream has its relay in this one worker.
    let metrics = stack.edge.metrics_address();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut most_relays = 0.0_f64;
    while Instant::now() < deadline && most_relays < STREAMS as f64 {
        let relays = vibes_testkit::http::metric(&metrics, "vibes_edge_flv_relays", &[]).await;
        most_relays = most_relays.max(relays);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for mut client in clients {
        let _ = client.wait();
    }
    assert_eq!(
        most_relays, STREAMS as f64,
        "relays open at once in one worker"
    );

    // The published streams played through their relays: seconds of FLV audio.
    let mut silent = Vec::new();
    for vibe in &vibes[..PUBLISHED] {
        let capture =
            std::fs::read(captures.path().join(format!("{vibe}.flv"))).unwrap_or_default();
        if !(capture.starts_with(b"FLV") && capture.len() > 20_000) {
            let start = String::from_utf8_lossy(&capture[..capture.len().min(200)]).to_string();
            silent.push(format!("{vibe}: {} bytes: {start}", capture.len()));
        }
    }
    assert!(
        silent.is_empty(),
        "published streams that did not play: {silent:?}"
    );
    // 300 live streams would slow every later listing in a shared Redis.
    let http = reqwest::Client::new();
    for vibe in &vibes {
        let ended = http
            .delete(format!("{}/internal/streams/{vibe}", stack.registry_url))
            .send()
            .await
            .unwrap();
        assert!(ended.status().is_success(), "{}", ended.status());
    }
}
