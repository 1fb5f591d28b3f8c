//! The engine is killed and restarted under a stream: the packager
//! reconnects, and the playlist goes on with the next media sequence number
//! after an EXT-X-DISCONTINUITY, with the new run's own init segment.

use crate::helpers::{settings, spawn_packager, start_engine, Playlist};
use srs_supervisor::engine::EngineState;
use std::time::Duration;
use vibes_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_engine_restart_the_playlist_goes_on_after_a_discontinuity() {
    let engine = start_engine().await;
    let publisher = engine.publish("restart", 60);
    let packager = spawn_packager(settings(&engine)).await;
    let before = Playlist::parse(&packager.playlist_with("restart", 2).await);
    assert_eq!(before.discontinuity_sequence, 0);
    assert!(before.segments.iter().all(|segment| !segment.discontinuity));

    let pid = engine.supervisor.status().pid.expect("engine pid");
    // SAFETY: SIGKILL to the engine process the supervisor started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    drop(publisher);
    let supervisor = engine.supervisor.clone();
    wait_until(Duration::from_secs(5), || {
        supervisor.status().pid != Some(pid)
    })
    .await;
    wait_until(Duration::from_secs(20), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    let _publisher = engine.publish("restart", 60);

    let what = "a discontinuity and two segments after it";
    let (after, _) = packager
        .playlist_until("restart", Duration::from_secs(30), what, |playlist| {
            let from = playlist
                .segments
                .iter()
                .position(|segment| segment.discontinuity);
            from.is_some_and(|from| from > 0 && playlist.segments.len() - from >= 2)
        })
        .await;
    let from = after
        .segments
        .iter()
        .position(|segment| segment.discontinuity)
        .unwrap();
    let (old, new) = (&after.segments[from - 1], &after.segments[from]);
    assert_ne!(old.map, new.map, "the new run has its own init segment");
    let run_of = |uri: &str| uri.split('-').nth(1).unwrap().to_owned();
    assert_ne!(run_of(&new.uri), run_of(&before.segments[0].uri));
    // Numbers go on: every segment's name carries its media sequence number.
    for segment in &after.segments {
        let named: u64 = segment
            .uri
            .trim_end_matches(".m4s")
            .split('-')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(named, segment.msn, "{}", segment.uri);
    }
    assert!(after.media_sequence >= before.media_sequence);
    assert!(new.msn > before.segments.last().unwrap().msn);
    assert!(!after.ended);
    let init = packager.get("restart", &new.map).await;
    assert_eq!(init.status, reqwest::StatusCode::OK);
}
