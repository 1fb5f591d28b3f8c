//! LL-HLS through the edge: the URL a join hands out plays (ffprobe/ffmpeg
//! decode the creator's chirp in order), it needs its own stream's token,
//! listeners asking for the same part or blocking reload share one packager
//! request, and each stream is packaged by one replica (consistent hashing)
//! until that replica is lost, when another takes the stream over.

use hls_packager::startup::Application;
use std::time::{Duration, Instant};
use vibes_domain::VibeId;
use vibes_e2e::{feed_chirp, Stack};
use vibes_testkit::edge::{Edge, Reply};
use vibes_web::Listeners;

/// The playlist through the edge once it lists `segments` whole segments.
fn playlist_with(edge: &Edge, path: &str, segments: usize) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = edge.get(path);
        let listed = String::from_utf8_lossy(&reply.body)
            .matches("#EXTINF")
            .count();
        if reply.status == 200 && listed >= segments {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of `#EXT-X-PRELOAD-HINT`'s URI in `playlist`.
fn preload_hint(playlist: &Reply) -> String {
    let text = String::from_utf8_lossy(&playlist.body);
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI="))
        .unwrap_or_else(|| panic!("a preload hint in {text}"));
    line.trim_matches('"').to_owned()
}

/// Requests the hinted part's media sequence number and index name.
fn msn_and_part(part_uri: &str) -> (u64, u64) {
    let fields: Vec<&str> = part_uri.trim_end_matches(".m4s").split('-').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

/// Requests the packager got for its media route so far.
async fn packager_requests(stack: &Stack) -> f64 {
    vibes_testkit::http::metric(
        &stack.hls_packager_metrics,
        "vibes_http_requests_total",
        &[
            ("service", "hls-packager"),
            ("route", "/live/{vibe_id}/{file}"),
        ],
    )
    .await
}

/// GETs every path at once through the edge, one thread each; the replies
/// and how far apart the first and last answer came.
fn all_at_once(edge: &Edge, paths: &[String]) -> (Vec<Reply>, Duration) {
    let handles: Vec<_> = paths
        .iter()
        .map(|path| {
            let mut curl = edge.curl();
            curl.arg(edge.url(path));
            std::thread::spawn(move || {
                let reply = Reply::from_curl(curl);
                (reply, Instant::now())
            })
        })
        .collect();
    let answers: Vec<(Reply, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = answers.iter().map(|(_, at)| *at).min().unwrap();
    let last = answers.iter().map(|(_, at)| *at).max().unwrap();
    (
        answers.into_iter().map(|(reply, _)| reply).collect(),
        last - first,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ll_hls_plays_through_the_edge_and_listeners_share_one_packager_request() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let vibe = format!("llhls-{}", std::process::id());
    let feeder = feed_chirp(edge, &vibe, 24, Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let path = stack.join_for_playback(&vibe, "ll-viewer", "ll_hls");
    assert!(path.ends_with(&format!("/{vibe}/index.ll.m3u8")), "{path}");
    let playlist = playlist_with(edge, &path, 2);
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(playlist.header("cache-control"), Some("no-cache"));
    let (directory, _) = path.rsplit_once('/').unwrap();

    // ffprobe and ffmpeg play the join's URL through the edge (the playlist
    // is also a plain HLS playlist of fMP4 segments to them).
    vibes_e2e::assert_plays_the_chirp(edge, &edge.url(&path), ".mp4");

    // Without a token, or with another stream's: refused before the packager.
    let hint = preload_hint(&playlist);
    let token = directory.split('/').nth(2).unwrap();
    for refused_path in [
        format!("/live/{vibe}/index.ll.m3u8"),
        format!("/live/{token}/other-{vibe}/index.ll.m3u8"),
        format!("/live/{token}/other-{vibe}/{hint}"),
    ] {
        let refused = edge.get(&refused_path);
        assert_eq!(refused.status, 401, "{refused_path}");
        assert_eq!(
            refused.header("content-type"),
            Some("application/problem+json")
        );
    }
    // A bad directive is the packager's 400 problem, passed through.
    let bad = edge.get(&format!("{path}?_HLS_part=1"));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "invalid_reload_directive");

    // Eight listeners, each with its own seat, ask for the next part's
    // playlist at once: one request reaches the packager.
    let directories: Vec<String> = (0..8)
        .map(|listener| {
            let path = stack.join_for_playback(&vibe, &format!("ll-listener-{listener}"), "ll_hls");
            path.rsplit_once('/').unwrap().0.to_owned()
        })
        .collect();
    let latest = edge.get(&path);
    let (msn, part) = msn_and_part(&preload_hint(&latest));
    let before = packager_requests(&stack).await;
    let reload: Vec<String> = directories
        .iter()
        .map(|directory| format!("{directory}/index.ll.m3u8?_HLS_msn={msn}&_HLS_part={part}"))
        .collect();
    let (replies, spread) = all_at_once(edge, &reload);
    let awaited = format!("-{msn}-{part}.m4s\"");
    for reply in &replies {
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert!(String::from_utf8_lossy(&reply.body).contains(&awaited));
    }
    assert_eq!(
        packager_requests(&stack).await - before,
        1.0,
        "one blocking reload for eight"
    );
    println!("8 blocked reloads answered within {spread:?} of each other");

    // The next hinted part, asked for by all of them before it exists.
    let next_hint = preload_hint(&replies[0]);
    let before = packager_requests(&stack).await;
    let part_paths: Vec<String> = directories
        .iter()
        .map(|directory| format!("{directory}/{next_hint}"))
        .collect();
    let (parts, spread) = all_at_once(edge, &part_paths);
    for reply in &parts {
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some("audio/mp4"));
        assert_eq!(reply.body, parts[0].body, "the same part for everyone");
    }
    assert_eq!(
        packager_requests(&stack).await - before,
        1.0,
        "one part request for eight"
    );
    println!("8 hinted part requests answered within {spread:?} of each other");

    feeder.join().unwrap();
}

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
    let replicas: Vec<Application> = replicas
        .into_iter()
        .map(|listeners| {
            let mut settings = hls_packager::configuration::load().unwrap();
            settings.engine.flv_base_url = format!("http://127.0.0.1:{}", stack.engine_http_port);
            settings.engine.relay_key = vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
            Application::build_on(listeners, settings).unwrap()
        })
        .collect();
    let streams: Vec<_> = replicas.iter().map(Application::streams).collect();
    let stops: Vec<_> = replicas.iter().map(Application::stop_handle).collect();
    for replica in replicas {
        tokio::spawn(replica.run_until_stopped());
    }

    let edge = &stack.edge;
    let suffix = std::process::id();
    // Four streams, published straight into SRS by one ffmpeg (its
    // on_publish hook marks them live): more chunks through the gateway
    // than one creator's rate limit allows are not the point here.
    let vibes: Vec<String> = (0..4).map(|n| format!("replica-{n}-{suffix}")).collect();
    let outputs: Vec<String> = vibes
        .iter()
        .map(|vibe| format!("[f=flv:onfail=ignore]{}/{vibe}", stack.rtmp_base_url))
        .collect();
    let mut ffmpeg = std::process::Command::new("ffmpeg");
    ffmpeg
        .args([
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=60",
        ])
        .args([
            "-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "128k", "-map", "0:a",
        ])
        .args(["-f", "tee", &outputs.join("|")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _publisher = vibes_testkit::process::TestProcess::spawn("ffmpeg", ffmpeg);
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
}
