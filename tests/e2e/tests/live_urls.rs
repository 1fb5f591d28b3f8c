//! The `/live` URL space against real nginx, registry and SRS: a token plays
//! only its own stream, whatever the URL says.
//!
//! Two live streams: A carries silence and B a loud tone, so the audio of any
//! media answer tells which stream it came from. Listeners hold tokens of A
//! (a seated participant, another seated participant), of B, of a
//! participant who left A, and an expired one. Every probe is a URL that
//! names B (or a stream that does not exist) behind an A token in some
//! encoding (FLV, the engine's HLS and the packager's LL-HLS URLs alike):
//! percent-encoded separators and dots in either case, double
//! encoding, dot and empty segments, `;` parameters, backslashes, unicode
//! look-alikes, overlong paths; plus the canonical URLs of each token. Two
//! things must hold for every probe: no answer carries media of a stream its
//! token does not admit, and no relay to SRS ever opens for such a stream.
//! Every non-canonical URL gets a 400 problem (or nginx's own 400/414).
//! Then the /live limits: two FLV connections per seat, the third 429.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use vibes_domain::{ParticipantId, VibeId};
use vibes_e2e::{Stack, PLAYBACK_TOKEN_SECRET};
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::edge::Edge;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

/// What a probe got: status (0 = closed without an answer), content type,
/// body (what came within the probe's time).
struct Probe {
    status: u16,
    content_type: String,
    code: String,
    body: Vec<u8>,
}

/// GETs `path` through the edge exactly as written (`--path-as-is`: curl
/// neither normalises dot segments nor re-encodes), reading at most `seconds`.
fn probe(edge: &Edge, path: &[u8], seconds: f64, source: Option<&str>) -> Probe {
    let mut url = edge.url("").into_bytes();
    url.extend_from_slice(path);
    let mut curl = Command::new("curl");
    curl.args(["-s", "--path-as-is", "-D", "-", "--http1.1"])
        .args(["--max-time", &seconds.to_string(), "--cacert"])
        .arg(&edge.certificate);
    if let Some(source) = source {
        curl.args(["--interface", source]);
    }
    use std::os::unix::ffi::OsStrExt;
    curl.arg(std::ffi::OsStr::from_bytes(&url));
    let output = curl.output().expect("curl runs");
    let raw = output.stdout;
    let Some(split) = raw.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Probe {
            status: 0,
            content_type: String::new(),
            code: String::new(),
            body: Vec::new(),
        };
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let body = raw[split + 4..].to_vec();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|problem| problem["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Probe {
        status,
        content_type,
        code,
        body,
    }
}

/// The loudest sample of `media` (FLV or MPEG-TS), in dB; None if it holds
/// no decodable audio.
fn loudest_db(media: &[u8]) -> Option<f64> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), media).unwrap();
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(file.path())
        .args(["-map", "0:a", "-af", "volumedetect", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&output.stderr);
    log.lines()
        .find_map(|line| line.split("max_volume:").nth(1))
        .and_then(|value| value.trim().trim_end_matches(" dB").parse().ok())
}

/// Which of the two streams `media` came from: A is silence, B a tone.
#[derive(Debug, PartialEq)]
enum Heard {
    A,
    B,
    Nothing,
}

fn heard(media: &[u8]) -> Heard {
    match loudest_db(media) {
        Some(db) if db > -30.0 => Heard::B,
        Some(_) => Heard::A,
        None => Heard::Nothing,
    }
}

/// Joins `vibe` as `participant`; returns the token of its playback URLs.
fn join(stack: &Stack, vibe: &str, participant: &str) -> String {
    let flv = stack.join_for_playback(vibe, participant, "flv");
    flv.split('/').nth(2).unwrap().to_owned()
}

/// SRS's FLV players of each of `vibes` now, from its own API: the edge's
/// relays to those streams.
async fn engine_players(stack: &Stack, vibes: &[&str]) -> Vec<usize> {
    let clients = stack.engine_api("clients/?start=0&count=1000").await;
    let clients = clients["clients"].as_array().unwrap();
    vibes
        .iter()
        .map(|vibe| {
            clients
                .iter()
                .filter(|client| {
                    client["type"] == "flv-play" && client["url"] == format!("/live/{vibe}")
                })
                .count()
        })
        .collect()
}

/// Waits until the edge writes to `listeners` FLV listeners: a closed
/// client is noticed at the next write, so limits free a moment later.
async fn wait_for_listeners(stack: &Stack, listeners: f64) {
    let address = stack.edge.metrics_address();
    vibes_testkit::wait_until_async(Duration::from_secs(5), "FLV listeners at the edge", || {
        let address = address.clone();
        async move {
            vibes_testkit::http::metric(&address, "vibes_edge_flv_listeners", &[]).await
                == listeners
        }
    })
    .await;
}

/// Percent-encodes every byte of `text`, upper or lower case.
fn encode_all(text: &str, lower: bool) -> String {
    text.bytes()
        .map(|byte| {
            if lower {
                format!("%{byte:02x}")
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// URLs that name `b` (or `made_up`) behind a token for `a`, in every
/// encoding trick we know; each must be refused.
fn hostile_paths(token: &str, a: &str, b: &str, made_up: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<String> = Vec::new();
    for (sep, dot) in [
        ("%2F", "%2E"),
        ("%2f", "%2e"),
        ("%252F", "%252E"),
        ("%25%32%46", "%25%32%45"),
        ("%5C", "%2E"),
        ("%5c", "%2e"),
        ("\\", "."),
        ("%C0%AF", "%C0%AE"),
        ("%E2%88%95", "%EF%BC%8E"),
        ("%EF%BC%8F", "%E2%80%A4"),
    ] {
        {
            let target = b;
            paths.extend([
                format!("/live/{token}/{a}{sep}..{sep}{target}.flv"),
                format!("/live/{token}/{a}/..{sep}{target}.flv"),
                format!("/live/{token}/{a}{sep}{dot}{dot}{sep}{target}.flv"),
                format!("/live/{token}/{a}/{dot}{dot}/{target}.flv"),
                format!("/live/{token}/{a}{sep}..{sep}{target}/{target}.m3u8"),
                format!("/live/{token}/{a}/..{sep}{target}/{target}.m3u8"),
                format!("/live/{token}/{a}/{dot}{dot}{sep}{target}/0.ts"),
                format!("/live/{token}{sep}{target}.flv"),
                format!("/live/{token}/{a}{sep}..{sep}{made_up}.flv"),
                // The hls-packager's LL-HLS playlists and media.
                format!("/live/{token}/{a}{sep}..{sep}{target}/index.ll.m3u8"),
                format!("/live/{token}/{a}/{dot}{dot}{sep}{target}/index.classic.m3u8"),
                format!("/live/{token}/{a}/..{sep}{target}/init-0a1b2c3d.mp4"),
                format!("/live/{token}/{a}{sep}{dot}{dot}{sep}{made_up}/index.ll.m3u8"),
            ]);
        }
    }
    for target in [b, made_up] {
        paths.extend([
            // Raw dot segments and empty segments (curl sends them as written).
            format!("/live/{token}/{a}/../{target}.flv"),
            format!("/live/{token}/./{target}.flv"),
            format!("/live/{token}//{target}.flv"),
            format!("/live/{token}/{a}/../{target}/{target}.m3u8"),
            format!("/live/{token}/{a}/./../{target}/1.ts"),
            format!("/live/./{token}/{target}.flv"),
            format!("/live/{token}/{target}.flv/"),
            format!("/live/{token}/{target}/./{target}.m3u8"),
            format!("/live/{token}/{a}/../{target}/index.ll.m3u8"),
            format!("/live/{token}/{target}/./index.ll.m3u8"),
            format!("/live/{token}//{target}/index.ll.m3u8"),
            format!("/live/{token}/{target}/index%2Ell.m3u8"),
            format!("/live/{token}/{target}/index.ll.m3u8;x=1"),
            format!("/live/{token}/{a}/../{target}/part-0a1b2c3d-1-0.m4s"),
            // Parameters and mixed encodings.
            format!("/live/{token}/{target}.flv;jsessionid=1"),
            format!("/live/{token};x=1/{target}.flv"),
            format!("/live/{token}/{a};/../{target}.flv"),
            format!("/live/{token}/{}.flv", encode_all(target, false)),
            format!("/live/{token}/{}.flv", encode_all(target, true)),
            format!("/live/{}/{target}.flv", encode_all(token, false)),
            format!("/live/{token}/{target}%2Eflv"),
            format!("/live/{token}/{target}.fl%76"),
            format!("/live/{token}/{target}%00.flv"),
            format!("/live/{token}/{target}.flv%3F"),
            // Overlong: a huge segment, many segments.
            format!("/live/{token}/{}/../{target}.flv", "x".repeat(5000)),
            format!("/live/{token}/{}{target}.flv", "a/../".repeat(400)),
            format!("/live/{token}/{}/{target}.flv", "x".repeat(300)),
        ]);
    }
    let mut raw: Vec<Vec<u8>> = paths.into_iter().map(String::into_bytes).collect();
    // Raw (unencoded) unicode look-alikes of '/' and '.'.
    for look_alike in ["\u{2215}", "\u{FF0F}", "\u{2044}"] {
        raw.push(format!("/live/{token}/{a}{look_alike}..{look_alike}{b}.flv").into_bytes());
    }
    raw.push(format!("/live/{token}/{a}\u{FF0E}\u{FF0E}/{b}.flv").into_bytes());
    // Invalid UTF-8 outright.
    let mut invalid = format!("/live/{token}/{a}/").into_bytes();
    invalid.extend_from_slice(&[0xC0, 0xAF, 0xFF]);
    invalid.extend_from_slice(format!("{b}.flv").as_bytes());
    raw.push(invalid);
    raw
}

/// Posts a second of each creator's audio through the edge, every second,
/// until `feeding` turns false: A silence, B a tone.
fn feed(
    stack: &Stack,
    streams: [(String, Vec<u8>); 2],
    feeding: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (edge_url, certificate) = (stack.edge.url(""), stack.edge.certificate.clone());
    std::thread::spawn(move || {
        while feeding.load(Ordering::Relaxed) {
            for (vibe, pcm) in &streams {
                let mut child = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "--max-time", "5", "--cacert"])
                    .arg(&certificate)
                    .args(["-H", &format!("Authorization: {}", creator_bearer(vibe))])
                    .args(["-H", "Content-Type: application/octet-stream"])
                    .args(["--data-binary", "@-"])
                    .arg(format!("{edge_url}/stream/{vibe}/audio"))
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                let _ = child.stdin.take().unwrap().write_all(pcm);
                let _ = child.wait();
            }
            std::thread::sleep(Duration::from_millis(900));
        }
    })
}

/// FLV relays the edge has open now (all streams), from its metrics.
async fn edge_relays(stack: &Stack) -> f64 {
    vibes_testkit::http::metric(&stack.edge.metrics_address(), "vibes_edge_flv_relays", &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_plays_only_its_own_stream_whatever_the_url() {
    let stack = Stack::start_with_edge(
        // Three seats per stream: B is full, so a token of A cannot squeeze in.
        |registry| registry.participants.max_per_stream = 3,
        &[("EDGE_LIVE_CONNECTIONS_PER_ADDRESS", "3")],
    )
    .await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let suffix = std::process::id();
    let (a, b, made_up) = (
        format!("quiet-{suffix}"),
        format!("loud-{suffix}"),
        format!("nobody-{suffix}"),
    );
    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = feed(
        &stack,
        [(a.clone(), vec![0; 192_000]), (b.clone(), sine_pcm(1.0))],
        feeding.clone(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let a_token = join(&stack, &a, "a-listener");
    let a_other = join(&stack, &a, "a-other");
    let left = join(&stack, &a, "a-leaver");
    let body = r#"{"participant_id":"a-leaver"}"#;
    let leave = stack.edge.request_as(
        Some(&participant_bearer("a-leaver")),
        "POST",
        &format!("/stream/{a}/leave"),
        Some("application/json"),
        body.as_bytes(),
    );
    assert_eq!(leave.status, 200);
    let b_token = join(&stack, &b, "b-listener");
    join(&stack, &b, "b-second");
    join(&stack, &b, "b-third");
    let tokens = vibes_tokens::PlaybackTokens::new(
        PLAYBACK_TOKEN_SECRET.to_owned().into(),
        Duration::from_secs(3600),
    )
    .unwrap();
    let expired = tokens.mint_with_expiry(
        &VibeId::parse(&a).unwrap(),
        &ParticipantId::parse("a-listener").unwrap(),
        1_000,
    );
    // The edge's cached authorizations (1 s in tests) of the leaver lapse.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // The canonical URLs: each token plays exactly its own stream.
    let own_flv = probe(
        &stack.edge,
        format!("/live/{a_token}/{a}.flv").as_bytes(),
        3.0,
        None,
    );
    assert_eq!(
        own_flv.status,
        200,
        "{}",
        String::from_utf8_lossy(&own_flv.body)
    );
    assert_eq!(heard(&own_flv.body), Heard::A, "A's token hears A");
    let playlist = probe(
        &stack.edge,
        format!("/live/{a_other}/{a}/{a}.m3u8").as_bytes(),
        3.0,
        None,
    );
    assert_eq!(playlist.status, 200);
    let segment = String::from_utf8_lossy(&playlist.body)
        .lines()
        .rfind(|line| line.ends_with(".ts"))
        .expect("a segment listed")
        .to_owned();
    let own_segment = probe(
        &stack.edge,
        format!("/live/{a_other}/{a}/{segment}").as_bytes(),
        3.0,
        None,
    );
    assert_eq!(
        (own_segment.status, heard(&own_segment.body)),
        (200, Heard::A)
    );

    // The LL-HLS playlist (hls-packager) of A's token: A's audio.
    let ll_playlist = probe(
        &stack.edge,
        format!("/live/{a_other}/{a}/index.ll.m3u8").as_bytes(),
        8.0,
        None,
    );
    assert_eq!(
        ll_playlist.status,
        200,
        "{}",
        String::from_utf8_lossy(&ll_playlist.body)
    );
    let ll_text = String::from_utf8_lossy(&ll_playlist.body).into_owned();
    let ll_attribute = |tag: &str| -> String {
        let line = ll_text.lines().rfind(|line| line.starts_with(tag)).unwrap();
        let uri = line.split("URI=\"").nth(1).unwrap();
        uri.split('"').next().unwrap().to_owned()
    };
    let (ll_init, ll_part) = (ll_attribute("#EXT-X-MAP:"), ll_attribute("#EXT-X-PART:"));
    let mut ll_media = probe(
        &stack.edge,
        format!("/live/{a_other}/{a}/{ll_init}").as_bytes(),
        3.0,
        None,
    )
    .body;
    let part = probe(
        &stack.edge,
        format!("/live/{a_other}/{a}/{ll_part}").as_bytes(),
        3.0,
        None,
    );
    assert_eq!(part.status, 200);
    ll_media.extend_from_slice(&part.body);
    assert_eq!(heard(&ll_media), Heard::A, "A's LL-HLS part is A's audio");

    // Canonical URLs of another stream, or of a seat that is gone: refused.
    for (path, expected) in [
        (format!("/live/{a_token}/{b}/index.ll.m3u8"), 401),
        (format!("/live/{a_token}/{b}/index.classic.m3u8"), 401),
        (format!("/live/{a_token}/{b}/{ll_part}"), 401),
        (format!("/live/{a_token}/{made_up}/index.ll.m3u8"), 401),
        (format!("/live/{b_token}/{a}/{ll_init}"), 401),
        (format!("/live/{left}/{a}/index.ll.m3u8"), 403),
        (format!("/live/{left}/{a}/{ll_part}"), 403),
        (format!("/live/{a_token}/{b}.flv"), 401),
        (format!("/live/{a_token}/{b}/{b}.m3u8"), 401),
        (format!("/live/{a_token}/{b}/{segment}"), 401),
        (format!("/live/{a_token}/{made_up}.flv"), 401),
        (format!("/live/{b_token}/{a}.flv"), 401),
        (format!("/live/{a_token}/{a}/{b}.m3u8"), 401),
        (format!("/live/{left}/{a}.flv"), 403),
        (format!("/live/{left}/{a}/{a}.m3u8"), 403),
        (format!("/live/{expired}/{a}.flv"), 401),
    ] {
        let refused = probe(&stack.edge, path.as_bytes(), 3.0, None);
        assert_eq!(
            refused.status,
            expected,
            "{path}: {}",
            String::from_utf8_lossy(&refused.body)
        );
        assert_eq!(refused.content_type, "application/problem+json", "{path}");
    }

    // Every trick: 400 (the edge's problem, or nginx's own for a request it
    // cannot parse; 414 for a request line past its buffers), no media, no relay.
    let mut hostile: Vec<Vec<u8>> = Vec::new();
    for token in [&a_token, &a_other, &left, &expired] {
        let paths = hostile_paths(token, &a, &b, &made_up);
        let take = if token == &a_token { paths.len() } else { 24 };
        hostile.extend(paths.into_iter().take(take));
    }
    hostile.extend(
        hostile_paths(&b_token, &b, &a, &made_up)
            .into_iter()
            .take(24),
    );
    let mut refused_as_not_canonical = 0;
    let started = std::time::Instant::now();
    for (index, path) in hostile.iter().enumerate() {
        let shown = String::from_utf8_lossy(path);
        let answer = probe(&stack.edge, path, 2.0, None);
        assert!(
            answer.status == 400 || answer.status == 414,
            "{shown}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        // A problem body is a few hundred bytes; anything bigger is decoded.
        if answer.body.len() > 1024 {
            assert_eq!(heard(&answer.body), Heard::Nothing, "{shown} carried media");
        }
        refused_as_not_canonical += usize::from(answer.code == "media_url_not_canonical");
        // B and the made-up stream never had a listener: no relay, ever. (A
        // has its own listener's relay; the edge's relay count covers it.) A
        // relay lives seconds (SRS holds one for a stream without publisher
        // 5 s), so a look after every few probes sees any.
        if index % 4 == 3 {
            let players = engine_players(&stack, &[&b, &made_up]).await;
            assert_eq!(
                players,
                [0, 0],
                "up to {shown}: a relay to B or the made-up stream"
            );
        }
    }
    println!("probing took {:?}", started.elapsed());
    println!(
        "{} hostile URLs refused ({} with the edge's media_url_not_canonical, the rest by nginx itself)",
        hostile.len(),
        refused_as_not_canonical
    );
    assert!(
        refused_as_not_canonical * 10 >= hostile.len() * 9,
        "{refused_as_not_canonical}"
    );
    // The packager packaged A (its own listener asked) and nothing else.
    let packaged = vibes_testkit::http::metric(
        &stack.hls_packager_metrics,
        "vibes_hls_packager_starts_total",
        &[],
    )
    .await;
    assert_eq!(packaged, 1.0, "only A was ever packaged");
    // The only relay the edge ever opened is A's, for its own listener.
    assert_eq!(engine_players(&stack, &[&b, &made_up]).await, [0, 0]);
    assert!(edge_relays(&stack).await <= 1.0);
    let never_played = vibes_testkit::http::metric(
        &stack.edge.metrics_address(),
        "vibes_edge_flv_relay_ends_total",
        &[("outcome", "never_played")],
    )
    .await;
    assert_eq!(
        never_played, 0.0,
        "no relay ever tried a stream that does not play"
    );
    let streams = stack.engine_api("streams/?count=1000").await;
    assert!(
        streams["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|stream| stream["name"] != made_up.as_str()),
        "SRS never heard of the made-up stream: {streams}"
    );

    // Limits: a seat holds two FLV connections at once, not three; a client
    // address (here at most 3) no more than its limit.
    let flv = format!("/live/{a_token}/{a}.flv");
    let hold = |path: &str, seconds: u32| {
        let (url, certificate) = (stack.edge.url(path), stack.edge.certificate.clone());
        std::thread::spawn(move || {
            Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "--max-time",
                    &seconds.to_string(),
                    "--cacert",
                ])
                .arg(&certificate)
                .arg(&url)
                .status()
        })
    };
    wait_for_listeners(&stack, 0.0).await;
    let holders = [hold(&flv, 10), hold(&flv, 10)];
    wait_for_listeners(&stack, 2.0).await;
    let third = probe(&stack.edge, flv.as_bytes(), 2.0, None);
    assert_eq!((third.status, third.code.as_str()), (429, "rate_limited"));
    let other_seat = format!("/live/{a_other}/{a}.flv");
    let from_here = probe(&stack.edge, other_seat.as_bytes(), 2.0, None);
    assert_eq!(
        from_here.status, 200,
        "the third connection from this address"
    );
    wait_for_listeners(&stack, 2.0).await;
    let holder = hold(&other_seat, 6);
    wait_for_listeners(&stack, 3.0).await;
    let fourth = probe(&stack.edge, other_seat.as_bytes(), 1.0, None);
    assert_eq!(
        (fourth.status, fourth.code.as_str()),
        (429, "rate_limited"),
        "a fourth from one address"
    );
    let elsewhere = probe(&stack.edge, other_seat.as_bytes(), 1.5, Some("127.0.0.2"));
    assert_eq!(
        elsewhere.status, 200,
        "another address is not limited by this one"
    );
    for holder in holders.into_iter().chain([holder]) {
        let _ = holder.join();
    }

    feeding.store(false, Ordering::Relaxed);
    feeder.join().unwrap();
}
