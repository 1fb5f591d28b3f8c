//! HLS through the edge with SRS: ffprobe plays the URL a join
//! hands out (AAC-LC 48 kHz stereo), also when an FLV player asked the
//! engine for the stream before it was published; segments need the playback token, the
//! stats API counts the HLS viewer from the registry's leases (the engine
//! cannot see it), what players see when the creator ends the stream, and the
//! engine's real HLS latency from POST to a playable segment, measured.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use vibes_e2e::{feed_chirp as feed, Stack};
use vibes_testkit::chirp::stream_moments;
use vibes_testkit::edge::{Edge, Reply};

fn segments(playlist: &Reply) -> Vec<String> {
    String::from_utf8_lossy(&playlist.body)
        .lines()
        .filter(|line| line.ends_with(".ts"))
        .map(str::to_owned)
        .collect()
}

/// Polls the playlist through the edge until it lists a segment; returns the
/// newest, which stays a whole window (the oldest may be deleted by the time
/// it is asked for).
fn newest_listed_segment(edge: &Edge, playlist_path: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let playlist = edge.get(playlist_path);
        if playlist.status == 200 {
            if let Some(segment) = segments(&playlist).last() {
                return segment.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no segment listed: {} {:?}",
            playlist.status,
            playlist.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An FLV player (the edge's relay, by its key) that asks the engine for
/// `vibe` before anything publishes it, as the relay and the packager do
/// while ingest (re)starts its encoder; returned once the engine holds it.
/// SRS 6.0.157 names the stream's source after such a player's request, with
/// `.flv`, and writes its HLS where no playlist URL leads
/// (`scripts/srs-patches/0001-*`).
async fn ask_the_engine_before_it_is_published(stack: &Stack, vibe: &str) -> TcpStream {
    vibes_e2e::register_stream(&stack.registry_url, vibe, "ingest-e2e").await;
    let mut player = TcpStream::connect(("127.0.0.1", stack.engine_http_port)).unwrap();
    write!(
        player,
        "GET /live/{vibe}.flv?relay={} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        vibes_testkit::edge::EDGE_RELAY_KEY
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let clients = stack.engine_api("clients/?count=1000").await;
        let waiting = clients["clients"].as_array().unwrap().iter().any(|client| {
            client["type"] == "flv-play" && client["url"].as_str() == Some(&format!("/live/{vibe}"))
        });
        if waiting {
            return player;
        }
        assert!(
            Instant::now() < deadline,
            "the engine never held the early player: {clients}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn problem_code(reply: &Reply) -> String {
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    reply.json()["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_plays_through_the_edge_and_its_viewer_is_counted_from_leases() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let vibe = format!("hls-{}", std::process::id());
    let early_player = ask_the_engine_before_it_is_published(&stack, &vibe).await;
    let feeder = feed(edge, &vibe, 14, Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let playlist_path = stack.join_for_playback(&vibe, "hls-viewer", "hls");
    newest_listed_segment(edge, &playlist_path, Duration::from_secs(20));
    drop(early_player);
    let hls_url = edge.url(&playlist_path);

    // ffprobe plays the playlist URL from the join, through the edge, and
    // ffmpeg decodes the creator's chirp from it, in order.
    vibes_e2e::assert_plays_the_chirp(edge, &hls_url, ".ts");

    // A segment without a token, or with another stream's token, is refused.
    // SRS keeps a 6 s window of 1 s segments: take one listed now.
    let segment = newest_listed_segment(edge, &playlist_path, Duration::from_secs(5));
    let (directory, _) = playlist_path.rsplit_once('/').unwrap();
    let token = directory.split('/').nth(2).unwrap();
    assert_eq!(edge.get(&format!("{directory}/{segment}")).status, 200);
    for path in [
        format!("/live/{vibe}/{segment}"),
        format!("/live/{vibe}/{vibe}.m3u8"),
        format!("/live/{token}/other-{vibe}/{segment}"),
    ] {
        let refused = edge.get(&path);
        assert_eq!(refused.status, 401, "{path}");
        assert_eq!(problem_code(&refused), "playback_token_invalid");
    }

    // The engine sees no player (HLS is file requests); the registry's lease
    // counts the viewer, and the stats API says it used it.
    let streams = edge.get("/api/v1/streams").json();
    assert_eq!(streams["code"], 0);
    assert!(
        streams["server"]
            .as_str()
            .is_some_and(|id| id.starts_with("vid-")),
        "SRS's own answer: {streams}"
    );
    assert_eq!(streams["listeners_source"], "registry_leases");
    let stream = streams["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stream| stream["name"] == vibe.as_str())
        .unwrap_or_else(|| panic!("{vibe} listed: {streams}"));
    assert_eq!(
        stream["listeners"],
        serde_json::json!({"count": 1, "source": "registry_leases", "engine_players": 0})
    );
    assert_eq!(stream["clients"], 2, "the publisher and the HLS viewer");
    // The fields SRS clients read.
    assert_eq!(stream["app"].as_str(), Some("live"));
    assert!(stream["vhost"].is_string(), "SRS's vhost id: {stream}");
    assert_eq!(stream["url"], format!("/live/{vibe}"));
    assert_eq!(stream["publish"]["active"], true);
    assert!(
        stream["id"].is_string()
            && stream["kbps"]["recv_30s"].is_i64()
            && stream["live_ms"].as_i64() > Some(0)
    );
    assert_eq!(
        (
            stream["audio"]["codec"].as_str(),
            stream["audio"]["sample_rate"].as_i64(),
            stream["audio"]["channel"].as_i64()
        ),
        // SRS reports the FLV tag header's rate field, at most 44.1 kHz;
        // ffprobe above hears the 48 kHz inside.
        (Some("AAC"), Some(44_100), Some(2))
    );
    // Through the edge the public sees SRS's major version and whether it is
    // up; the operators' key shows the pinned build and the process.
    let operator = format!("Bearer {}", vibes_e2e::OPERATOR_TOKEN);
    let public_versions = edge.get("/api/v1/versions").json();
    assert_eq!(
        public_versions["data"],
        serde_json::json!({ "major": 6 }),
        "{public_versions}"
    );
    let versions = edge
        .request_as(Some(&operator), "GET", "/api/v1/versions", None, &[])
        .json();
    assert_eq!(
        versions["data"]["version"].as_str(),
        Some(vibes_testkit::srs_version()),
        "the pinned SRS runs: {versions}"
    );
    let public_summaries = edge.get("/api/v1/summaries").json();
    assert_eq!(
        public_summaries["data"]["ok"].as_bool(),
        Some(true),
        "{public_summaries}"
    );
    assert!(
        public_summaries.get("pid").is_none() && public_summaries["data"].get("self").is_none(),
        "{public_summaries}"
    );
    let summaries = edge
        .request_as(Some(&operator), "GET", "/api/v1/summaries", None, &[])
        .json();
    assert!(
        summaries["data"]["self"]["pid"].is_u64() && summaries["data"]["system"]["cpus"].is_u64(),
        "{summaries}"
    );

    // The creator ends the stream: what players see.
    feeder.join().unwrap();
    let ended = edge.end_stream(&vibe);
    assert_eq!(ended.status, 200);
    let engine_playlist = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .arg(format!(
            "http://127.0.0.1:{}/live/{vibe}/{vibe}.m3u8",
            stack.engine_http_port
        ))
        .output()
        .unwrap();
    let engine_answer = String::from_utf8_lossy(&engine_playlist.stdout).into_owned();
    println!(
        "after the end, the engine's own playlist: ENDLIST {}; answer: {engine_answer:?}",
        engine_answer.contains("#EXT-X-ENDLIST")
    );
    // Once the edge's cached authorization lapses (1 s in tests), the
    // registry refuses the ended stream: a clean 403 problem, not a 404 loop.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for path in [playlist_path.clone(), format!("{directory}/{segment}")] {
        let after_end = edge.get(&path);
        assert_eq!(after_end.status, 403, "{path}");
        assert_eq!(problem_code(&after_end), "playback_forbidden");
    }
}

/// The engine's real HLS latency: from the POST that carries a moment of
/// audio to the first playlist (through the edge) listing a segment that
/// holds it. Reported, with the bounds the engine's design implies asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_latency_from_post_to_a_playable_segment_is_measured() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let vibe = format!("hls-latency-{}", std::process::id());
    const SECONDS: usize = 24;
    // 200 ms ahead: the writer never pads with silence, and a moment's POST
    // time is known to within that.
    let feeder = feed(edge, &vibe, SECONDS, Duration::from_millis(200));
    let first_post = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let playlist_path = stack.join_for_playback(&vibe, "latency-viewer", "hls");
    let (directory, _) = playlist_path.rsplit_once('/').unwrap();
    // Each segment is fetched as soon as a playlist lists it: SRS deletes
    // segments that leave its 6 s window.
    let mut listed: Vec<(String, Duration, Vec<u8>)> = Vec::new();
    let deadline = first_post + Duration::from_secs(SECONDS as u64 + 2);
    while Instant::now() < deadline {
        let playlist = edge.get(&playlist_path);
        if playlist.status == 200 {
            for segment in segments(&playlist) {
                if !listed.iter().any(|(known, ..)| *known == segment) {
                    let listed_at = first_post.elapsed();
                    let fetched = edge.get(&format!("{directory}/{segment}"));
                    assert_eq!(fetched.status, 200, "{segment}");
                    listed.push((segment, listed_at, fetched.body));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent_at = feeder.join().unwrap();
    assert!(listed.len() >= 3, "segments listed: {}", listed.len());
    let mut latencies = Vec::new();
    for (segment, listed_at, body) in &listed {
        let file = tempfile::Builder::new().suffix(".ts").tempfile().unwrap();
        std::fs::write(file.path(), body).unwrap();
        let moments = stream_moments(file.path());
        let (Some(first), Some(last)) = (moments.first(), moments.last()) else {
            continue;
        };
        // The POST of second n carried moments n..n+1.
        let posted = |moment: f64| sent_at[(moment.max(0.0) as usize).min(SECONDS - 1)];
        let oldest = listed_at.saturating_sub(posted(*first));
        let newest = listed_at.saturating_sub(posted(*last));
        println!(
            "segment {segment}: moments {first:.2}..{last:.2} s ({:.2} s), listed {:.2} s after the first POST; \
             POST → playable: {:.2} s for its first moment, {:.2} s for its last",
            last - first,
            listed_at.as_secs_f64(),
            oldest.as_secs_f64(),
            newest.as_secs_f64()
        );
        latencies.push((last - first, oldest, newest));
    }
    // The first listing of the stream's first segment, from the first POST.
    println!(
        "first segment playable {:.2} s after the first POST",
        listed[0].1.as_secs_f64()
    );
    let (durations, oldest, newest): (Vec<f64>, Vec<Duration>, Vec<Duration>) =
        latencies.iter().fold(
            (vec![], vec![], vec![]),
            |(mut d, mut o, mut n), (dur, old, new)| {
                d.push(*dur);
                o.push(*old);
                n.push(*new);
                (d, o, n)
            },
        );
    println!("segment lengths {durations:.2?} s; POST → playable {oldest:.2?} (first moment), {newest:.2?} (last moment)");
    // SRS cuts 1 s segments (hls_fragment 1, hls_aof_ratio 1.0): a moment is
    // playable only once its whole segment is written, so a segment's first
    // moment waits most of a second, and nothing waits longer than a few
    // segments of encoder, writer and polling slack.
    assert!(
        durations.iter().all(|length| *length < 1.5)
            && durations.iter().any(|length| *length > 0.8),
        "1 s segments: {durations:?}"
    );
    assert!(
        oldest
            .iter()
            .all(|latency| *latency >= Duration::from_millis(700)),
        "{oldest:?}"
    );
    assert!(
        oldest
            .iter()
            .all(|latency| *latency <= Duration::from_secs(4)),
        "{oldest:?}"
    );
    edge.end_stream(&vibe);
}
