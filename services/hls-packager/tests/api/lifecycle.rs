//! A stream is packaged from its first playlist request on, stops when nobody
//! asks for it, and its playlist ends (EXT-X-ENDLIST) when the stream does.

use crate::helpers::{settings, spawn_packager, start_engine, Playlist};
use reqwest::StatusCode;
use std::time::Duration;
use vibes_testkit::{wait_until, wait_until_async};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packaging_starts_on_the_first_request_and_stops_when_nobody_asks() {
    let engine = start_engine().await;
    let _publisher = engine.publish("lazy", 60);
    let mut settings = settings(&engine);
    settings.streams.idle_stop = Duration::from_secs(2);
    let packager = spawn_packager(settings).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        packager.streams.count(),
        0,
        "nothing is packaged before a request"
    );
    // Media of a stream that is not packaged are not found (and start nothing).
    let media = packager.get("lazy", "init-0a1b2c3d.mp4").await;
    assert_eq!(media.status, StatusCode::NOT_FOUND);
    assert_eq!(packager.streams.count(), 0);

    packager.playlist_with("lazy", 1).await;
    assert_eq!(packager.streams.count(), 1);
    let streams = packager.streams.clone();
    wait_until(Duration::from_secs(10), || streams.count() == 0).await;
    let stops = vibes_testkit::http::metric(
        &packager.metrics_address,
        "vibes_hls_packager_stops_total",
        &[("why", "idle")],
    )
    .await;
    assert_eq!(stops, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playlist_ends_with_the_stream_and_then_the_stream_is_let_go() {
    let engine = start_engine().await;
    let publisher = engine.publish("ending", 60);
    let mut settings = settings(&engine);
    settings.streams.reconnect_for = Duration::from_secs(1);
    settings.engine.silence_timeout = Duration::from_secs(1);
    settings.streams.ended_retention = Duration::from_secs(3);
    let packager = spawn_packager(settings).await;
    let live = Playlist::parse(&packager.playlist_with("ending", 2).await);
    assert!(!live.ended);
    drop(publisher);

    let (ended, _) = packager
        .playlist_until(
            "ending",
            Duration::from_secs(15),
            "EXT-X-ENDLIST",
            |playlist| playlist.ended,
        )
        .await;
    assert!(ended.preload_hint.is_none());
    assert!(ended.segments.last().unwrap().msn >= live.segments.last().unwrap().msn);
    // RFC 8216bis: a server ignores _HLS_msn once the playlist has ENDLIST.
    let future = ended.segments.last().unwrap().msn + 1;
    let reply = packager
        .get("ending", &format!("index.ll.m3u8?_HLS_msn={future}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(Playlist::parse(&reply.text()).ended);

    let streams = packager.streams.clone();
    wait_until(Duration::from_secs(10), || streams.count() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_nobody_publishes_is_starting_then_not_live() {
    let engine = start_engine().await;
    let mut settings = settings(&engine);
    settings.streams.first_segment_wait = Duration::from_millis(500);
    settings.streams.reconnect_for = Duration::from_secs(1);
    settings.engine.silence_timeout = Duration::from_secs(1);
    let packager = spawn_packager(settings).await;
    let starting = packager.get("nobody", "index.ll.m3u8").await;
    assert_eq!(starting.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(starting.problem_code(), "stream_starting");
    let detail = String::from_utf8_lossy(&starting.body).into_owned();
    assert!(
        !detail.contains("127.0.0.1"),
        "no internal address: {detail}"
    );

    wait_until_async(Duration::from_secs(10), "stream_not_live", || {
        let reply = packager.get("nobody", "index.classic.m3u8");
        async move {
            let reply = reply.await;
            reply.status == StatusCode::NOT_FOUND && reply.problem_code() == "stream_not_live"
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_engine_and_metrics_stay_on_their_own_port() {
    let engine = start_engine().await;
    let packager = spawn_packager(settings(&engine)).await;
    let ready = reqwest::get(format!("{}/health/ready", packager.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let live = reqwest::get(format!("{}/health/live", packager.address))
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    vibes_testkit::http::assert_metrics_apart(
        &packager.address,
        &packager.metrics_address,
        reqwest::Method::GET,
        "/live/v1/index.ll.m3u8",
    )
    .await;
    let unknown = packager.get("v1", "v1.m3u8").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.problem_code(), "not_found");
    let bad_id = packager.get("bad.id", "index.ll.m3u8").await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.problem_code(), "invalid_vibe_id");

    engine.supervisor.stop().await;
    let down = reqwest::get(format!("{}/health/ready", packager.address))
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report: serde_json::Value = down.json().await.unwrap();
    assert_eq!(report["parts"]["engine"]["status"], "down");
}
