//! The low-latency playlist keeps RFC 8216bis's rules against real media:
//! parts within PART-TARGET, a preload hint naming the next part, blocking
//! reloads that answer once the part exists and give up (503) when it never
//! comes, and 400 for directives a client may not send.

use crate::helpers::{settings, spawn_packager, start_engine, Playlist};
use reqwest::StatusCode;

fn msn_in(uri: &str) -> u64 {
    uri.trim_end_matches(".m4s")
        .split('-')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_fit_the_target_the_hint_names_the_next_part_and_a_blocked_reload_returns_with_it() {
    let engine = start_engine().await;
    let _publisher = engine.publish("rules", 60);
    let packager = spawn_packager(settings(&engine)).await;
    let first = Playlist::parse(&packager.playlist_with("rules", 2).await);

    let part_target = first.part_target.expect("PART-INF");
    assert!(first.part_hold_back.unwrap() >= 3.0 * part_target);
    for (duration, uri) in &first.parts {
        assert!(
            *duration <= part_target,
            "{uri}: {duration} > {part_target}"
        );
    }
    for (index, segment) in first.segments.iter().enumerate() {
        assert_eq!(segment.msn, first.media_sequence + index as u64);
        assert_eq!(msn_in(&segment.uri), segment.msn, "{}", segment.uri);
        assert!(segment.duration.round() as u64 <= first.target_duration);
    }

    let (msn, part) = first.next_part();
    let hint = first.preload_hint.clone().expect("a preload hint");
    assert!(
        hint.ends_with(&format!("-{msn}-{part}.m4s")),
        "{hint} for ({msn}, {part})"
    );
    assert!(
        !first.parts.iter().any(|(_, uri)| *uri == hint),
        "the hinted part is not listed yet"
    );

    // The player asks for the hinted part and for the playlist that will
    // list it, both before the part exists; both answer once it does.
    let part_url = packager.url("rules", &hint);
    let early_part =
        tokio::spawn(async move { reqwest::get(part_url).await.unwrap().bytes().await.unwrap() });
    let blocked = packager
        .get(
            "rules",
            &format!("index.ll.m3u8?_HLS_msn={msn}&_HLS_part={part}"),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::OK, "{}", blocked.text());
    let after = Playlist::parse(&blocked.text());
    assert!(
        after.parts.iter().any(|(_, uri)| *uri == hint),
        "the blocked reload lists the part it waited for: {}",
        blocked.text()
    );
    assert!(after.media_sequence >= first.media_sequence);
    let hinted_bytes = early_part.await.unwrap();
    assert!(!hinted_bytes.is_empty());
    assert_eq!(
        hinted_bytes,
        packager.get("rules", &hint).await.body,
        "the hint's bytes are the part's"
    );

    // The classic playlist: the same segments, no parts, no blocking.
    let classic = packager.get("rules", "index.classic.m3u8").await;
    assert_eq!(classic.content_type, "application/vnd.apple.mpegurl");
    let classic_text = classic.text();
    assert!(!classic_text.contains("#EXT-X-PART") && !classic_text.contains("SERVER-CONTROL"));
    let classic = Playlist::parse(&classic_text);
    let low_latency = Playlist::parse(&packager.get("rules", "index.ll.m3u8").await.text());
    let uris = |playlist: &Playlist| -> Vec<String> {
        playlist
            .segments
            .iter()
            .map(|segment| segment.uri.clone())
            .collect()
    };
    let classic_uris = uris(&classic);
    assert!(!classic_uris.is_empty());
    assert!(
        uris(&low_latency).ends_with(&classic_uris) || classic_uris.ends_with(&uris(&low_latency)),
        "{classic_uris:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_for_a_part_that_never_comes_gives_up_with_503_and_bad_directives_get_400() {
    let engine = start_engine().await;
    let publisher = engine.publish("never", 60);
    let packager = spawn_packager(settings(&engine)).await;
    let playlist = Playlist::parse(&packager.playlist_with("never", 1).await);

    for (query, code) in [
        ("_HLS_part=1", "invalid_reload_directive"),
        ("_HLS_msn=abc", "invalid_reload_directive"),
        ("_HLS_msn=-1", "invalid_reload_directive"),
        ("_HLS_msn=1&_HLS_msn=2", "invalid_reload_directive"),
    ] {
        let reply = packager
            .get("never", &format!("index.ll.m3u8?{query}"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.problem_code(), code, "{query}");
    }
    let last = playlist.segments.last().unwrap().msn;
    let too_far = packager
        .get("never", &format!("index.ll.m3u8?_HLS_msn={}", last + 10))
        .await;
    assert_eq!(too_far.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_far.problem_code(), "reload_too_far_ahead");

    // The publisher stops: the run ends, no further part is made.
    drop(publisher);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ended_run = loop {
        let reply = packager.get("never", "index.ll.m3u8").await;
        let now = Playlist::parse(&reply.text());
        if now.preload_hint.is_none() {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never ended: {}",
            reply.text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (msn, part) = ended_run.next_part();
    let blocked = packager
        .get(
            "never",
            &format!("index.ll.m3u8?_HLS_msn={msn}&_HLS_part={part}"),
        )
        .await;
    assert_eq!(
        blocked.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        blocked.text()
    );
    assert_eq!(blocked.problem_code(), "playlist_not_ready");
    // The ended run's next part will never be made: 404 at once.
    let run = ended_run
        .segments
        .last()
        .unwrap()
        .uri
        .split('-')
        .nth(1)
        .unwrap()
        .to_owned();
    let never = packager
        .get("never", &format!("part-{run}-{msn}-{part}.m4s"))
        .await;
    assert_eq!(never.status, StatusCode::NOT_FOUND, "{}", never.text());
    assert_eq!(never.problem_code(), "not_found");
}
