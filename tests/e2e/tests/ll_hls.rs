//! LL-HLS through the edge: the URL a join hands out plays (ffprobe/ffmpeg
//! decode the creator's chirp in order), it needs its own stream's token,
//! and listeners asking for the same part or blocking reload share one
//! packager request. (Replicas: `ll_hls_replicas.rs`, a binary of its own,
//! since the packagers of one process count their requests together.)

use std::time::{Duration, Instant};
use vibes_e2e::{feed_chirp, playlist_with, Stack};
use vibes_testkit::edge::{Edge, Reply};

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
    // Live streams left in a shared Redis slow every later test's listings.
    assert_eq!(edge.end_stream(&vibe).status, 200);
}
