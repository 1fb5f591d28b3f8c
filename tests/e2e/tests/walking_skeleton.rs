//! One creator chunk reaches a listener through the edge: POST audio → gateway
//! → ingest → ffmpeg → RTMP → engine → HTTP-FLV through nginx → decoded by ffmpeg.

use secrecy::SecretString;
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vibes_domain::audio::BYTES_PER_SECOND;
use vibes_domain::ParticipantId;
use vibes_e2e::{Stack, PLAYBACK_TOKEN_SECRET};
use vibes_testkit::audio::{probe_audio, sine_pcm};
use vibes_testkit::edge::Reply;
use vibes_testkit::tokens::{bearer, creator_bearer, participant_bearer};
use vibes_tokens::PlaybackTokens;
use vibes_tokens::Role;

const PCM: &str = "application/octet-stream";

fn assert_problem(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let problem = reply.json();
    assert_eq!(problem["code"], code, "{problem}");
    assert_eq!(problem["status"], status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creator_chunk_reaches_a_listener_through_the_edge() {
    let stack = Stack::start().await;
    let edge = &stack.edge;

    let health = stack.wait_until_healthy(Duration::from_secs(30)).json();
    assert_eq!(health["status"], "up");
    for part in ["gateway", "session_registry", "ingest", "media_engine"] {
        assert_eq!(health["parts"][part]["status"], "up", "{health}");
    }

    let redirect = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!(
            "http://localhost:{}/streams/active?x=1",
            edge.http_port
        ))
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&redirect.stdout),
        format!(
            "301 https://localhost:{}/streams/active?x=1",
            edge.https_port
        )
    );

    let openapi = edge.get("/stream-api/openapi.json");
    assert_eq!(openapi.status, 200);
    assert!(openapi.json()["paths"]["/stream/{vibe_id}/audio"]["post"].is_object());

    // 1. The first chunk starts the stream.
    let vibe = format!("e2e-{}", std::process::id());
    let creator = creator_bearer(&vibe);
    let listener_token = participant_bearer("listener-1");
    let first_chunk = sine_pcm(2.0);

    // Only the stream's creator may send it audio.
    let audio_path = format!("/stream/{vibe}/audio");
    let refusals = [
        (None, 401, "token_missing"),
        (Some("Bearer not-a-jwt".to_owned()), 401, "token_invalid"),
        (
            Some(bearer(Role::Creator, "creator-1", Some(&vibe), -3600)),
            401,
            "token_expired",
        ),
        (Some(creator_bearer("another-stream")), 403, "wrong_vibe"),
        (Some(listener_token.clone()), 403, "wrong_role"),
    ];
    for (authorization, status, code) in refusals {
        let reply = edge.request_as(
            authorization.as_deref(),
            "POST",
            &audio_path,
            Some(PCM),
            &first_chunk,
        );
        assert_problem(&reply, status, code);
    }
    assert!(
        stack.ingest_streams.get(&vibe.parse().unwrap()).is_none(),
        "nothing started"
    );

    let accepted = edge.request_as(
        Some(&creator),
        "POST",
        &format!("/stream/{vibe}/audio"),
        Some(PCM),
        &first_chunk,
    );
    assert_eq!(
        accepted.status,
        202,
        "{}",
        String::from_utf8_lossy(&accepted.body)
    );
    let accepted = accepted.json();
    assert_eq!(accepted["vibe_id"], vibe.as_str());
    assert_eq!(accepted["accepted_bytes"], 2 * BYTES_PER_SECOND);
    assert_eq!(accepted["accepted_ms"], 2000);

    // Bad input is refused with its own code and leaves the stream alone.
    let pipeline = stack
        .ingest_streams
        .get(&vibe.parse().unwrap())
        .expect("stream is live on ingest");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let encoder_before = pipeline.encoder_pid().expect("an encoder runs");
    let accepted_before = pipeline.stats().chunks_accepted.load(Ordering::Relaxed);
    let too_long = format!("/stream/{}/audio", "x".repeat(65));
    let too_large = sine_pcm(6.0);
    let bad_input: [(&str, &str, &[u8], u16, &str); 6] = [
        (
            "/stream/bad.id!/audio",
            PCM,
            &first_chunk,
            400,
            "invalid_vibe_id",
        ),
        (&too_long, PCM, &first_chunk, 400, "invalid_vibe_id"),
        (&audio_path, PCM, &first_chunk[..6], 400, "partial_frame"),
        (&audio_path, PCM, &[], 400, "empty_body"),
        (
            &audio_path,
            "text/plain",
            &first_chunk,
            415,
            "unsupported_content_type",
        ),
        (&audio_path, PCM, &too_large, 413, "body_too_large"),
    ];
    for (path, content_type, body, status, code) in bad_input {
        let reply = edge.request_as(Some(&creator), "POST", path, Some(content_type), body);
        assert_problem(&reply, status, code);
    }
    assert_eq!(
        pipeline.encoder_pid(),
        Some(encoder_before),
        "bad input must not disturb the encoder"
    );
    let stats = pipeline.stats();
    assert_eq!(
        stats.chunks_accepted.load(Ordering::Relaxed),
        accepted_before
    );
    assert_eq!(stats.encoder_starts.load(Ordering::Relaxed), 1);

    // 3. A listener joins and gets playback URLs under the edge.
    let joined = edge.request_as(
        Some(&listener_token),
        "POST",
        &format!("/stream/{vibe}/join"),
        Some("application/json"),
        b"{}",
    );
    assert_eq!(
        joined.status,
        200,
        "{}",
        String::from_utf8_lossy(&joined.body)
    );
    let joined = joined.json();
    let participant = joined["participant_id"]
        .as_str()
        .expect("participant id")
        .to_owned();
    assert_eq!(joined["participant_count"], 1);
    let flv_url = joined["playback"]["flv"].as_str().expect("FLV URL");
    let flv_path = flv_url.strip_prefix(&edge.url("")).expect("under the edge");
    let token = flv_path.split('/').nth(2).expect("a token in the path");
    assert_eq!(flv_path, format!("/live/{token}/{vibe}.flv"));
    let hls_url = edge.url(&format!("/live/{token}/{vibe}/{vibe}.m3u8"));
    assert_eq!(joined["playback"]["hls"], hls_url.as_str());

    // Media without a genuine, current token is refused at the edge.
    let participant_id = ParticipantId::parse(&participant).unwrap();
    let secret = SecretString::from(PLAYBACK_TOKEN_SECRET.to_owned());
    let tokens = PlaybackTokens::new(secret, Duration::from_secs(60)).unwrap();
    let expired = tokens.mint_with_expiry(&vibe.parse().unwrap(), &participant_id, 1_000);
    let forged = flv_path.replacen(&participant, "someone-else", 1);
    for path in [
        format!("/live/{vibe}.flv"),
        forged,
        format!("/live/{expired}/{vibe}.flv"),
        format!("/live/{expired}/{vibe}/{vibe}.m3u8"),
    ] {
        assert_problem(&edge.get(&path), 401, "playback_token_invalid");
    }

    // 4. The listener reads FLV through the edge while the creator sends 6 s more.
    let capture = tempfile::NamedTempFile::new().unwrap();
    let listener = edge.listen(flv_path, capture.path(), Duration::from_secs(12));
    let listening_since = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(800)).await;
    for _ in 0..3 {
        let reply = edge.request_as(
            Some(&creator),
            "POST",
            &format!("/stream/{vibe}/audio"),
            Some(PCM),
            &sine_pcm(2.0),
        );
        assert_eq!(
            reply.status,
            202,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }

    // 5. The stream is listed with its listener; leaving drops the count.
    let active = edge.get("/streams/active");
    assert_eq!(active.status, 200);
    let active = active.json();
    let listed = find_stream(&active, &vibe);
    assert_eq!(
        listed["creator"], "creator-1",
        "the creator named by the token"
    );
    assert_eq!(listed["participant_count"], 1);
    assert_eq!(
        listed["playback"]["flv"],
        edge.url(&format!("/live/{vibe}.flv"))
    );
    let body = format!(r#"{{"participant_id":"{participant}"}}"#);
    let left = edge.request_as(
        Some(&listener_token),
        "POST",
        &format!("/stream/{vibe}/leave"),
        Some("application/json"),
        body.as_bytes(),
    );
    let listened = listening_since.elapsed();
    assert_eq!(left.status, 200);
    assert_eq!(left.json()["left"], true);
    assert_eq!(left.json()["participant_count"], 0);
    assert_eq!(
        find_stream(&edge.get("/streams/active").json(), &vibe)["participant_count"],
        0
    );
    // The edge re-checks a connected listener's seat (every second in tests)
    // and ends its response; once the edge's brief cache of the last
    // authorization lapses (1 s in tests), its token opens nothing new.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while !listener.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener that left is still connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    assert_problem(&edge.get(flv_path), 403, "playback_forbidden");

    // The creator ends the stream: queued audio is flushed, the listing forgets it.
    let ended = edge.end_stream(&vibe);
    assert_eq!(
        ended.status,
        200,
        "{}",
        String::from_utf8_lossy(&ended.body)
    );
    assert_eq!(ended.json()["was_live"], true);
    let streams = edge.get("/streams/active").json();
    assert!(streams["streams"]
        .as_array()
        .unwrap()
        .iter()
        .all(|stream| stream["vibe_id"] != vibe.as_str()));

    listener.join().expect("listener thread");
    let probed = probe_audio(capture.path());
    println!("listener capture: {probed:?}");
    assert_eq!(probed.codec, "aac");
    assert_eq!(probed.profile, "LC");
    assert_eq!(probed.sample_rate_hz, 48_000);
    assert_eq!(probed.channels, 2);
    // It heard what played from its join until the edge cut it after the
    // leave (within a second and a bit), and nothing twice.
    let heard_at_most = listened.as_secs_f64() + 1.5;
    assert!(
        (2.0..=heard_at_most).contains(&probed.decoded_seconds),
        "the listener should hear 2–{heard_at_most:.1} s; got {:.2} s",
        probed.decoded_seconds
    );
}

fn find_stream<'a>(active: &'a Value, vibe: &str) -> &'a Value {
    active["streams"]
        .as_array()
        .expect("streams array")
        .iter()
        .find(|stream| stream["vibe_id"] == vibe)
        .unwrap_or_else(|| panic!("{vibe} not listed in {active}"))
}
