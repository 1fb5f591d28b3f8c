//! Each stream is packaged by one hls-packager replica (the edge hashes
//! streams over them, consistently), until that replica is lost: then
//! another takes the stream over at the next playlist reload.

use hls_packager::startup::Packager;
use std::time::{Duration, Instant};
use vibes_domain::VibeId;
use vibes_e2e::{playlist_with, Stack};
use vibes_testkit::edge::Reply;
use vibes_testkit::service::spawn_on;
use vibes_web::Listeners;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_has_one_packager_replica_and_a_lost_replica_costs_a_reload() {
    let replicas = [
        Listeners::loopback().unwrap(),
        Listeners::loopback().unwrap(),
    ];
    let addresses: Vec<String> = replicas
        .iter()
        .map(|listeners| format!("127.0.0.1:{}", listeners.api.local_addr().unwrap().port()))
        .collect();
    let packager_addr = addresses.join(" ");
    let stack = Stack::start_with_edge(|_| {}, &[("HLS_PACKAGER_ADDR", &packager_addr)]).await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let mut started = Vec::new();
    for listeners in replicas {
        let mut settings = hls_packager::configuration::load().unwrap();
        settings.engine.flv_base_url = format!("http://127.0.0.1:{}", stack.engine_http_port);
        settings.engine.relay_key = vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
        started.push(spawn_on::<Packager>(listeners, settings).await);
    }
    let streams: Vec<_> = started
        .iter()
        .map(|replica| replica.service.streams.clone())
        .collect();
    let stops: Vec<_> = started.iter().map(|replica| replica.stop.clone()).collect();

    let edge = &stack.edge;
    let suffix = std::process::id();
    // Two streams, published straight into SRS by one ffmpeg (its
    // on_publish hook marks them live): through the gateway, one creator may
    // send only 2 chunks a second, and the other LL-HLS tests send too.
    let vibes: Vec<String> = (0..2).map(|n| format!("replica-{n}-{suffix}")).collect();
    let _publisher = vibes_e2e::publish_into_engine(&stack.rtmp_base_url, &vibes);
    let registry = reqwest::Client::new();
    for vibe in &vibes {
        let active = format!("{}/streams/active", stack.registry_url);
        vibes_testkit::wait_until_async(Duration::from_secs(20), "the stream is live", || {
            let (registry, active, vibe) = (&registry, active.clone(), vibe.clone());
            async move {
                let listed = registry
                    .get(&active)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                listed.contains(&format!("\"{vibe}\""))
            }
        })
        .await;
    }
    let paths: Vec<String> = vibes
        .iter()
        .map(|vibe| stack.join_for_playback(vibe, "replica-viewer", "ll_hls"))
        .collect();
    for path in &paths {
        playlist_with(edge, path, 1);
        // Reloads go where the first request went.
        playlist_with(edge, path, 1);
    }
    let owner = |vibe: &str| -> Vec<usize> {
        let vibe = VibeId::parse(vibe).unwrap();
        (0..2)
            .filter(|&replica| streams[replica].is_packaging(&vibe))
            .collect()
    };
    for vibe in &vibes {
        assert_eq!(
            owner(vibe).len(),
            1,
            "{vibe} is packaged once: {:?}",
            owner(vibe)
        );
    }

    // The replica of the first stream is lost: the next reload is answered
    // by the other one, which takes the stream over (a run of its own).
    let run_of = |reply: &Reply| -> String {
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        let segment = text.lines().find(|line| line.starts_with("seg-")).unwrap();
        segment.split('-').nth(1).unwrap().to_owned()
    };
    let before = run_of(&playlist_with(edge, &paths[0], 1));
    let lost = owner(&vibes[0])[0];
    stops[lost].stop(false).await;
    // (The edge may still hold the last answer for its one-second cache.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while run_of(&playlist_with(edge, &paths[0], 1)) == before {
        assert!(
            Instant::now() < deadline,
            "no other replica took {} over",
            vibes[0]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(owner(&vibes[0]).contains(&(1 - lost)));

    // Live streams left in a shared Redis slow every later test's listings.
    for vibe in &vibes {
        let ended = registry
            .delete(format!("{}/internal/streams/{vibe}", stack.registry_url))
            .send()
            .await
            .unwrap();
        assert!(ended.status().is_success(), "{}", ended.status());
    }
}
