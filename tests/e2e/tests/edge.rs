//! The nginx edge on its own: the repository's template rendered by
//! `scripts/render-edge-config`, the real nginx, curl, testssl and openssl as
//! clients. Upstreams are stub HTTP servers (`vibes_testkit::stub`) that
//! answer like the services and the engine do (the engine sends no
//! Content-Type for HLS) and record what reached them, so each test can tell
//! what the edge answered itself from what it passed on.
//!
//! The OCSP stapling proof runs its own responder (`openssl ocsp`, which binds
//! every interface) inside a private network namespace (`unshare --net`) that
//! holds nothing but `lo`, together with the nginx and the TLS client it tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vibes_testkit::edge::{Edge, EdgeUpstreams, Reply};
use vibes_testkit::free_port;
use vibes_testkit::pki::Pki;
use vibes_testkit::stub::{json, Answer, Stub};

/// The gateway: a problem for `/stream/bad…`, no answer at all for
/// `/health` (so the edge's own 503 shows), JSON for the rest.
fn gateway(_method: &str, path: &str, _original: &str) -> Answer {
    if path.starts_with("/stream/bad") {
        json(
            400,
            "application/problem+json",
            r#"{"status":400,"code":"invalid_vibe_id"}"#,
        )
    } else if path == "/health" {
        None
    } else if path.starts_with("/stream/slow") {
        std::thread::sleep(Duration::from_millis(1500));
        json(200, "application/json", "{}")
    } else {
        json(200, "application/json", r#"{"streams":[]}"#)
    }
}

/// Playback tokens of three listeners: one authorized, one refused, one unknown.
const ALLOWED: &str = "alice.9999999999.AAAAAAAAAAAAAAAAAAAAAA";
const FORBIDDEN: &str = "bobby.9999999999.BBBBBBBBBBBBBBBBBBBBBB";
const UNKNOWN: &str = "carol.9999999999.CCCCCCCCCCCCCCCCCCCCCC";

/// The registry's playback check, keyed on the token the edge parsed.
fn registry(_method: &str, _path: &str, original: &str) -> Answer {
    if original.contains(ALLOWED) {
        Some((204, vec![], vec![]))
    } else if original.contains(FORBIDDEN) {
        json(403, "application/problem+json", r#"{"status":403}"#)
    } else {
        json(401, "application/problem+json", r#"{"status":401}"#)
    }
}

/// The engine: media with no Content-Type and no Cache-Control, so the edge
/// must set both itself.
fn engine(_method: &str, path: &str, _original: &str) -> Answer {
    let body = if path.ends_with(".m3u8") {
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.ts\n".to_vec()
    } else if path.ends_with(".ts") {
        vec![0x47; 188]
    } else {
        short_flv()
    };
    Some((200, vec![], body))
}

const AAC_SEQUENCE_HEADER: [u8; 4] = [0xaf, 0x00, 0x11, 0x90];
const AAC_FRAME: [u8; 5] = [0xaf, 0x01, 0x21, 0x10, 0x04];

/// One FLV audio tag with its trailing PreviousTagSize.
fn flv_audio_tag(timestamp_ms: u32, data: &[u8]) -> Vec<u8> {
    let size = data.len() as u32;
    let mut tag = vec![8];
    tag.extend(&size.to_be_bytes()[1..]);
    tag.extend(&timestamp_ms.to_be_bytes()[1..]);
    tag.extend([(timestamp_ms >> 24) as u8, 0, 0, 0]);
    tag.extend(data);
    tag.extend((11 + size).to_be_bytes());
    tag
}

/// An FLV body as the engine starts one: header, AAC sequence header, frames.
fn short_flv() -> Vec<u8> {
    let mut flv = b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    flv.extend(flv_audio_tag(0, &AAC_SEQUENCE_HEADER));
    flv.extend(flv_audio_tag(0, &AAC_FRAME));
    flv.extend(flv_audio_tag(21, &AAC_FRAME));
    flv
}

/// The engine's HTTP-FLV as the edge's relay reads it: the start of the
/// stream, then a frame every 20 ms for up to 30 s or until the relay hangs up.
fn endless_flv(stream: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
        line.clear();
    }
    log.lock().unwrap().push(request_line.trim_end().to_owned());
    let mut stream = reader.into_inner();
    let mut start = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    start.extend(short_flv());
    if stream.write_all(&start).is_err() {
        return;
    }
    for frame in 2..1500 {
        std::thread::sleep(Duration::from_millis(20));
        if stream
            .write_all(&flv_audio_tag(frame * 20, &AAC_FRAME))
            .is_err()
        {
            return;
        }
    }
}

/// The registry's answer to every playback check (at connect and the FLV
/// relay's batched re-checks) in the one test that uses `rechecked_registry`.
static RECHECK_ANSWER: AtomicU16 = AtomicU16::new(204);

fn rechecked_registry(_method: &str, path: &str, _original: &str) -> Answer {
    let status = RECHECK_ANSWER.load(Ordering::SeqCst);
    match (path, status) {
        (_, 500..) => json(status, "application/problem+json", "{}"),
        // The batch answers which tokens to cut: none, or the one listener's.
        ("/internal/playback-seats", 204) => Some((200, vec![], vec![])),
        ("/internal/playback-seats", _) => Some((200, vec![], format!("{ALLOWED}\n").into_bytes())),
        (_, 204) => Some((204, vec![], vec![])),
        _ => json(status, "application/problem+json", "{}"),
    }
}

/// srs-supervisor's SRS-compatible API.
fn supervisor(_method: &str, _path: &str, _original: &str) -> Answer {
    json(200, "application/json", r#"{"code":0}"#)
}

struct Upstreams {
    gateway: Stub,
    registry: Stub,
    engine: Stub,
    supervisor: Stub,
}

/// An edge in front of fresh stubs, with extra render variables.
fn edge_with_stubs(runtime: &Path, env: &[(&str, &str)]) -> (Edge, Upstreams) {
    vibes_testkit::init_test_logging();
    edge_in_front_of(
        runtime,
        env,
        Upstreams {
            gateway: Stub::start(gateway),
            registry: Stub::start(registry),
            engine: Stub::start(engine),
            supervisor: Stub::start(supervisor),
        },
    )
}

fn edge_in_front_of(runtime: &Path, env: &[(&str, &str)], stubs: Upstreams) -> (Edge, Upstreams) {
    let edge = Edge::start_with_env(
        runtime,
        &EdgeUpstreams {
            gateway_port: stubs.gateway.port,
            registry_port: stubs.registry.port,
            engine_flv_port: stubs.engine.port,
            engine_hls_port: stubs.engine.port,
            supervisor_port: stubs.supervisor.port,
            hls_packager_port: stubs.engine.port,
        },
        env,
    );
    (edge, stubs)
}

// -------------------------------------------------------------- helpers --

fn fetch(edge: &Edge, method: &str, path: &str, headers: &[&str]) -> Reply {
    let mut curl = edge.curl();
    curl.args(["-X", method]);
    for header in headers {
        curl.args(["-H", header]);
    }
    curl.arg(edge.url(path));
    Reply::from_curl(curl)
}

fn describe(reply: &Reply) -> String {
    format!(
        "{} {:?} {}",
        reply.status,
        reply.headers,
        String::from_utf8_lossy(&reply.body)
    )
}

/// The headers every HTTPS answer carries, whatever produced it.
fn assert_security_headers(what: &str, reply: &Reply) {
    let hsts = reply
        .header("strict-transport-security")
        .unwrap_or_else(|| panic!("{what}: no HSTS: {}", describe(reply)));
    let max_age: u64 = hsts
        .split(';')
        .find_map(|part| part.trim().strip_prefix("max-age="))
        .and_then(|age| age.parse().ok())
        .unwrap_or_else(|| panic!("{what}: HSTS without max-age: {hsts}"));
    assert!(
        max_age >= 31_536_000,
        "{what}: HSTS max-age {max_age} < 1 year"
    );
    assert!(hsts.contains("includeSubDomains"), "{what}: {hsts}");
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("x-xss-protection", "0"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(
            reply.header(name),
            Some(value),
            "{what}: {name}: {}",
            describe(reply)
        );
    }
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP: {}", describe(reply)));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(
        reply
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("strict-transport-security"))
            .count(),
        1,
        "{what}: HSTS exactly once"
    );
}

fn assert_problem(what: &str, reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{what}: {}", describe(reply));
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    let problem = reply.json();
    assert_eq!(problem["code"], code, "{what}: {problem}");
    assert_eq!(problem["status"], status, "{what}: {problem}");
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn render(runtime: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let certificates = runtime.join("tls");
    run(Command::new(vibes_testkit::repo_root().join("scripts/dev-cert")).arg(&certificates));
    let mut render = Command::new(vibes_testkit::repo_root().join("scripts/render-edge-config"));
    render
        .arg(runtime.join("edge.conf"))
        .env("EDGE_RUNTIME_DIR", runtime)
        .env("EDGE_TLS_CERT", certificates.join("edge.crt"))
        .env("EDGE_TLS_KEY", certificates.join("edge.key"))
        .env("EDGE_HTTPS_PORT", free_port().to_string())
        .env("EDGE_HTTP_PORT", free_port().to_string())
        .env("EDGE_RELAY_KEY", vibes_testkit::edge::EDGE_RELAY_KEY);
    for name in [
        "GATEWAY_ADDR",
        "REGISTRY_ADDR",
        "ENGINE_FLV_ADDR",
        "ENGINE_HLS_ADDR",
        "SUPERVISOR_ADDR",
        "HLS_PACKAGER_ADDR",
    ] {
        render.env(name, "127.0.0.1:9");
    }
    render
        .envs(env.iter().copied())
        .output()
        .expect("render runs")
}

// ---------------------------------------------------------------- tests --

#[test]
fn the_rendered_config_passes_nginx_t_in_every_variant() {
    let variants: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("EDGE_OCSP_STAPLING", "on"),
            (
                "EDGE_CORS_ORIGINS",
                "https://app.example.com http://localhost:8081",
            ),
            ("EDGE_RESOLVER", "[::1]"),
        ],
        &[
            ("EDGE_OCSP_STAPLING_FILE", "/dev/null"),
            ("EDGE_API_RATE", "5r/s"),
            // Two packager replicas, the streams hashed over them.
            ("HLS_PACKAGER_ADDR", "127.0.0.1:9 localhost:10"),
            ("EDGE_WORKER_PROCESSES", "3"),
        ],
    ];
    for env in variants {
        let runtime = tempfile::tempdir().unwrap();
        let rendered = render(runtime.path(), env);
        assert!(
            rendered.status.success(),
            "{env:?}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let config = std::fs::read_to_string(runtime.path().join("edge.conf")).unwrap();
        let unrendered = config.split("${").skip(1).find(|rest| {
            rest.split_once('}').is_some_and(|(name, _)| {
                name.bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte == b'_')
            })
        });
        assert!(
            unrendered.is_none(),
            "{env:?}: a placeholder was left unrendered: ${{{}",
            unrendered.unwrap_or_default()
        );
        let checked = Command::new("nginx")
            .arg("-t")
            .arg("-p")
            .arg(runtime.path())
            .arg("-c")
            .arg(runtime.path().join("edge.conf"))
            .arg("-e")
            .arg(runtime.path().join("error.log"))
            .output()
            .expect("nginx runs");
        let log = String::from_utf8_lossy(&checked.stderr);
        // A stapling file of /dev/null is not a valid response; -t only checks
        // the syntax up to loading it, so accept that one complaint.
        let stapling_file_only = env
            .iter()
            .any(|(name, _)| *name == "EDGE_OCSP_STAPLING_FILE")
            && log.contains("ssl_stapling_file");
        assert!(
            checked.status.success() || stapling_file_only,
            "{env:?}: nginx -t: {log}"
        );
        if env.is_empty() {
            assert!(log.contains("test is successful"), "{log}");
            // The dev certificate names no OCSP responder: stapling is off by default.
            assert!(config.contains("ssl_stapling off;"), "{config}");
            assert!(config.contains("\nworker_processes auto;"), "{config}");
        }
        if env.contains(&("EDGE_WORKER_PROCESSES", "3")) {
            assert!(config.contains("\nworker_processes 3;"), "{config}");
        }
    }

    // CORS origins are listed exactly: a wildcard or a path is refused.
    for origins in [
        "*",
        "https://app.example.com/player",
        "https://a.example\" 1;",
    ] {
        let runtime = tempfile::tempdir().unwrap();
        let rendered = render(runtime.path(), &[("EDGE_CORS_ORIGINS", origins)]);
        assert!(!rendered.status.success(), "{origins} accepted");
        assert!(String::from_utf8_lossy(&rendered.stderr).contains("EDGE_CORS_ORIGINS"));
    }
    for workers in ["0", "two", "2;"] {
        let runtime = tempfile::tempdir().unwrap();
        let rendered = render(runtime.path(), &[("EDGE_WORKER_PROCESSES", workers)]);
        assert!(!rendered.status.success(), "{workers:?} workers accepted");
        assert!(String::from_utf8_lossy(&rendered.stderr).contains("EDGE_WORKER_PROCESSES"));
    }
    let runtime = tempfile::tempdir().unwrap();
    let rendered = render(runtime.path(), &[("EDGE_OCSP_STAPLING", "yes")]);
    assert!(
        !rendered.status.success(),
        "EDGE_OCSP_STAPLING=yes accepted"
    );
    // The relay key goes into the config: long enough, and nothing that
    // could end its quoted string.
    let runtime = tempfile::tempdir().unwrap();
    let rendered = render(runtime.path(), &[("EDGE_METRICS_LISTEN", "0.0.0.0:x;")]);
    assert!(!rendered.status.success(), "a bad metrics address accepted");
    for key in ["", "short", &format!("{}\" x", "k".repeat(40))] {
        let runtime = tempfile::tempdir().unwrap();
        let rendered = render(runtime.path(), &[("EDGE_RELAY_KEY", key)]);
        assert!(!rendered.status.success(), "relay key {key:?} accepted");
        assert!(String::from_utf8_lossy(&rendered.stderr).contains("EDGE_RELAY_KEY"));
    }
    // Packager replicas are host:port each; anything else would reach the
    // upstream block as nginx syntax.
    for addresses in ["", " ", "127.0.0.1", "a:1; server evil:2", "a:1 b"] {
        let runtime = tempfile::tempdir().unwrap();
        let rendered = render(runtime.path(), &[("HLS_PACKAGER_ADDR", addresses)]);
        assert!(!rendered.status.success(), "{addresses:?} accepted");
        assert!(String::from_utf8_lossy(&rendered.stderr).contains("HLS_PACKAGER_ADDR"));
    }
}

#[test]
fn every_kind_of_answer_carries_the_security_headers_over_http2() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, stubs) = edge_with_stubs(runtime.path(), &[]);

    // The web page: its own CSP that lets the player run.
    let page = edge.get("/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_security_headers("web page", &page);
    let csp = page.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }

    // The API, answered by the gateway, and a problem from the gateway.
    let active = edge.get("/streams/active");
    assert_eq!(active.status, 200, "{}", describe(&active));
    assert_security_headers("API", &active);
    assert_eq!(
        active.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    let bad = edge.request("POST", "/stream/bad.id!/audio", None, b"x");
    assert_problem("gateway problem", &bad, 400, "invalid_vibe_id");
    assert_security_headers("gateway problem", &bad);

    // Problems the edge makes itself.
    let too_large = edge.request(
        "POST",
        "/stream/v/audio",
        Some("application/octet-stream"),
        &vec![0; 3 << 20],
    );
    assert_problem("413", &too_large, 413, "body_too_large");
    assert_security_headers("413", &too_large);
    let down = edge.get("/health");
    assert_problem("upstream down", &down, 503, "edge_upstream_unavailable");
    assert_security_headers("upstream down", &down);
    assert_eq!(down.header("retry-after"), Some("1"));
    let missing = edge.get("/no-such-page.html");
    assert_problem("missing page", &missing, 404, "not_found");
    assert_security_headers("missing page", &missing);

    // /live refusals: no token, a refused token, an unknown token.
    for (path, status, code) in [
        ("/live/v.flv".to_owned(), 401, "playback_token_invalid"),
        (
            format!("/live/{FORBIDDEN}/v.flv"),
            403,
            "playback_forbidden",
        ),
        (
            format!("/live/{UNKNOWN}/v/v.m3u8"),
            401,
            "playback_token_invalid",
        ),
    ] {
        let refused = edge.get(&path);
        assert_problem(&path, &refused, status, code);
        assert_security_headers(&path, &refused);
        assert_eq!(refused.header("cache-control"), None, "{path}");
    }

    // Authorized media: the edge names the HLS types the engine leaves out,
    // playlists are revalidated, segments cached, FLV never stored.
    for (path, content_type, cache_control) in [
        (
            format!("/live/{ALLOWED}/v/v.m3u8"),
            Some("application/vnd.apple.mpegurl"),
            "no-cache",
        ),
        (
            format!("/live/{ALLOWED}/v/7.ts"),
            Some("video/mp2t"),
            "max-age=60",
        ),
        (
            format!("/live/{ALLOWED}/v.flv"),
            Some("video/x-flv"),
            "no-store",
        ),
    ] {
        let media = edge.get(&path);
        assert_eq!(media.status, 200, "{path}: {}", describe(&media));
        assert_security_headers(&path, &media);
        assert_eq!(media.header("content-type"), content_type, "{path}");
        assert_eq!(
            media
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                .count(),
            usize::from(content_type.is_some()),
            "{path}: {:?}",
            media.headers
        );
        assert_eq!(media.header("cache-control"), Some(cache_control), "{path}");
    }
    assert!(stubs.engine.seen().contains(&"GET /live/v/7.ts".to_owned()));
    // FLV is read-only.
    let posted = fetch(&edge, "POST", &format!("/live/{ALLOWED}/v.flv"), &[]);
    assert_problem("POST to FLV", &posted, 405, "method_not_allowed");
    // The FLV relay shows the engine the edge's key, not the listener's token.
    assert!(stubs.engine.seen().contains(&format!(
        "GET /live/v.flv?relay={}",
        vibes_testkit::edge::EDGE_RELAY_KEY
    )));

    // Every answer above came over HTTP/2.
    let mut curl = edge.curl();
    curl.args(["-o", "/dev/null", "-w", "%{http_version}"])
        .arg(edge.url("/"));
    let version = run(&mut curl);
    assert!(version.ends_with('2'), "HTTP version {version}");
}

#[test]
fn plain_http_redirects_to_https_keeping_path_and_query_without_hsts() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, _stubs) = edge_with_stubs(runtime.path(), &[]);
    let mut curl = Command::new("curl");
    // A forged Host changes nothing: the redirect names the configured host.
    curl.args([
        "-sS",
        "--max-time",
        "10",
        "-D",
        "-",
        "-H",
        "Host: evil.example",
    ])
    .arg(format!(
        "http://localhost:{}/live/a/b.m3u8?x=1&y=%20",
        edge.http_port
    ));
    let reply = Reply::from_curl(curl);
    assert_eq!(reply.status, 301);
    assert_eq!(
        reply.header("location"),
        Some(
            format!(
                "https://localhost:{}/live/a/b.m3u8?x=1&y=%20",
                edge.https_port
            )
            .as_str()
        )
    );
    assert_eq!(reply.header("strict-transport-security"), None);
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    // Media headers belong to media answers only.
    assert_eq!(reply.header("cache-control"), None);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
}

#[test]
fn the_access_log_never_holds_a_playback_token_or_a_query_value() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, stubs) = edge_with_stubs(runtime.path(), &[]);
    let secret_query = "participant_id=somebody-secret";
    for path in [
        format!("/live/{ALLOWED}/v/v.m3u8?{secret_query}"),
        format!("/live/{ALLOWED}/v/7.ts"),
        format!("/live/{FORBIDDEN}/v.flv"),
        format!("/live/{ALLOWED}%2F..%2Fw.flv"),
        format!("/streams/active?{secret_query}"),
    ] {
        let _ = fetch(&edge, "GET", &path, &[]);
    }
    assert!(!stubs.registry.seen().is_empty(), "the playback check ran");
    // nginx writes a request's line when the request ends.
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(runtime.path().join("access.log")).unwrap();
    for secret in [ALLOWED, FORBIDDEN, "somebody-secret", "participant_id"] {
        assert!(!log.contains(secret), "{secret} in the access log:\n{log}");
    }
    for shown in [
        "GET /live/-/v/v.m3u8?- ",
        "GET /live/-/v/7.ts ",
        "GET /live/-/v.flv ",
        "GET /streams/active?- ",
    ] {
        assert!(
            log.contains(shown),
            "{shown:?} not in the access log:\n{log}"
        );
    }
}

#[test]
fn live_media_speaks_cors_to_allowed_origins_only() {
    let runtime = tempfile::tempdir().unwrap();
    let allowed = "https://player.example.com";
    let (edge, stubs) = edge_with_stubs(
        runtime.path(),
        &[(
            "EDGE_CORS_ORIGINS",
            "https://player.example.com http://localhost:8081",
        )],
    );
    let flv = format!("/live/{ALLOWED}/v.flv");
    let hls = format!("/live/{UNKNOWN}/v/v.m3u8");

    // Preflights are answered by the edge, before (and without) any playback check.
    for path in [&flv, &hls] {
        let preflight = fetch(
            &edge,
            "OPTIONS",
            path,
            &[
                &format!("Origin: {allowed}"),
                "Access-Control-Request-Method: GET",
                "Access-Control-Request-Headers: range",
            ],
        );
        assert_eq!(preflight.status, 204, "{}", describe(&preflight));
        assert_security_headers("preflight", &preflight);
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some(allowed)
        );
        let methods = preflight.header("access-control-allow-methods").unwrap();
        assert!(methods.contains("GET"), "{methods}");
        assert!(preflight
            .header("access-control-allow-headers")
            .unwrap()
            .eq_ignore_ascii_case("range"));
        assert!(preflight.header("access-control-max-age").is_some());
        assert_eq!(preflight.header("access-control-allow-credentials"), None);
        assert_eq!(preflight.header("vary"), Some("Origin"));
        assert_eq!(preflight.header("content-type"), None);
        assert_eq!(preflight.header("cache-control"), None);
    }
    assert!(
        stubs.registry.seen().is_empty(),
        "a preflight reached the playback check: {:?}",
        stubs.registry.seen()
    );

    // Another origin gets no grant, from preflights or media.
    let stranger = fetch(&edge, "OPTIONS", &flv, &["Origin: https://evil.example"]);
    assert_eq!(stranger.status, 204);
    assert_eq!(stranger.header("access-control-allow-origin"), None);
    let stranger = fetch(&edge, "GET", &flv, &["Origin: https://evil.example"]);
    assert_eq!(stranger.header("access-control-allow-origin"), None);
    let prefix = fetch(
        &edge,
        "GET",
        &flv,
        &["Origin: https://player.example.com.evil.example"],
    );
    assert_eq!(prefix.header("access-control-allow-origin"), None);

    // Media and refusals carry the grant, so a player can read either.
    let media = fetch(&edge, "GET", &flv, &[&format!("Origin: {allowed}")]);
    assert_eq!(media.status, 200);
    assert_eq!(media.header("access-control-allow-origin"), Some(allowed));
    let refused = fetch(&edge, "GET", &hls, &["Origin: http://localhost:8081"]);
    assert_problem("refused with CORS", &refused, 401, "playback_token_invalid");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("http://localhost:8081")
    );
    assert_eq!(refused.header("access-control-allow-methods"), None);

    // The API is not opened cross-origin.
    let api = fetch(
        &edge,
        "GET",
        "/streams/active",
        &[&format!("Origin: {allowed}")],
    );
    assert_eq!(api.status, 200);
    assert_eq!(api.header("access-control-allow-origin"), None);
}

#[test]
fn only_the_read_only_engine_stats_are_exposed_under_api_v1() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, stubs) = edge_with_stubs(runtime.path(), &[]);
    for path in [
        "/api/v1/versions",
        "/api/v1/summaries",
        "/api/v1/streams?count=10",
    ] {
        let reply = edge.get(path);
        assert_eq!(reply.status, 200, "{path}: {}", describe(&reply));
        assert_security_headers(path, &reply);
    }
    assert_eq!(
        stubs.supervisor.seen(),
        [
            "GET /api/v1/versions",
            "GET /api/v1/summaries",
            "GET /api/v1/streams?count=10"
        ]
    );

    for (method, path) in [
        ("POST", "/api/v1/streams"),
        ("DELETE", "/api/v1/streams"),
        ("PUT", "/api/v1/versions"),
    ] {
        let reply = edge.request(method, path, None, b"");
        assert_problem(path, &reply, 405, "method_not_allowed");
        assert_security_headers(path, &reply);
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
    for (method, path) in [
        ("GET", "/api/v1/clients"),
        ("GET", "/api/v1/clients/17"),
        ("DELETE", "/api/v1/clients/17"),
        ("GET", "/api/v1/vhosts"),
        ("GET", "/api/v1/streams/17"),
        ("GET", "/api/v1/streams/../clients"),
    ] {
        let reply = edge.request(method, path, None, b"");
        assert_problem(path, &reply, 404, "not_found");
        assert_security_headers(path, &reply);
    }
    assert_eq!(
        stubs.supervisor.seen().len(),
        3,
        "only the three stats reads reached the supervisor: {:?}",
        stubs.supervisor.seen()
    );
}

#[test]
fn api_routes_answer_429_problems_beyond_the_rate_limit() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, stubs) = edge_with_stubs(
        runtime.path(),
        &[("EDGE_API_RATE", "6r/m"), ("EDGE_API_BURST", "5")],
    );
    // 30 requests at once over one HTTP/2 connection.
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "15", "--cacert"])
        .arg(&edge.certificate)
        .args(["--parallel", "--parallel-max", "30"])
        .args(["-w", "%{http_code}\n"]);
    for _ in 0..30 {
        curl.args(["-o", "/dev/null"])
            .arg(edge.url("/streams/active"));
    }
    let codes = run(&mut curl);
    let limited = codes.lines().filter(|code| *code == "429").count();
    let passed = codes.lines().filter(|code| *code == "200").count();
    assert_eq!(limited + passed, 30, "{codes}");
    assert!((1..=7).contains(&passed), "{passed} passed: {codes}");
    assert!(stubs.gateway.seen().len() <= 7);

    for (method, path) in [
        ("GET", "/streams/active"),
        ("POST", "/stream/v/join"),
        ("GET", "/api/v1/versions"),
        // Unauthenticated and fanned out to every service: limited too.
        ("GET", "/health"),
    ] {
        let reply = edge.request(method, path, Some("application/json"), b"{}");
        assert_problem(path, &reply, 429, "rate_limited");
        assert_security_headers(path, &reply);
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    // Media and pages are not limited.
    assert_eq!(edge.get("/").status, 200);

    // Concurrent requests per client are limited too: with one allowed, a
    // second request while the first is in the gateway is refused.
    let runtime = tempfile::tempdir().unwrap();
    let (edge, _stubs) = edge_with_stubs(runtime.path(), &[("EDGE_API_CONNECTIONS", "1")]);
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "15", "--cacert"])
        .arg(&edge.certificate)
        .args(["--parallel", "--parallel-max", "2", "-w", "%{http_code}\n"]);
    for _ in 0..2 {
        curl.args(["-o", "/dev/null"])
            .arg(edge.url("/stream/slow/join"));
    }
    let mut codes: Vec<_> = run(&mut curl).lines().map(str::to_owned).collect();
    codes.sort();
    assert_eq!(codes, ["200", "429"]);
}

#[test]
fn testssl_finds_only_tls_1_2_and_1_3_strong_ciphers_and_hsts() {
    let runtime = tempfile::tempdir().unwrap();
    let (edge, _stubs) = edge_with_stubs(runtime.path(), &[]);
    let report = runtime.path().join("testssl.json");
    let started = Instant::now();
    let output = Command::new("timeout")
        .arg("180")
        .arg("testssl")
        .args(["--quiet", "--color", "0", "--warnings", "off", "-n", "none"])
        .arg("--add-ca")
        .arg(&edge.certificate)
        .args(["-p", "-s", "-S", "-h", "--jsonfile"])
        .arg(&report)
        .arg(format!("localhost:{}", edge.https_port))
        .stdin(Stdio::null())
        .output()
        .expect("testssl runs (Debian package testssl.sh)");
    println!("testssl took {:?}", started.elapsed());
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap_or_else(|error| {
            panic!(
                "no testssl report ({error}): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }))
        .expect("testssl JSON");
    let findings = findings.as_array().expect("a flat list of findings");
    let finding = |id: &str| -> String {
        findings
            .iter()
            .find(|entry| entry["id"] == id)
            .and_then(|entry| entry["finding"].as_str())
            .unwrap_or_else(|| panic!("testssl reported no {id}"))
            .to_owned()
    };
    for entry in findings {
        println!(
            "{} [{}] {}",
            entry["id"], entry["severity"], entry["finding"]
        );
    }

    for id in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert_eq!(finding(id), "not offered", "{id}");
    }
    assert_eq!(finding("TLS1_2"), "offered");
    assert!(finding("TLS1_3").starts_with("offered"), "TLS1_3");
    assert_eq!(finding("ALPN_HTTP2"), "h2");
    for id in [
        "cipherlist_NULL",
        "cipherlist_aNULL",
        "cipherlist_EXPORT",
        "cipherlist_LOW",
        "cipherlist_3DES_IDEA",
        "cipherlist_AVERAGE",
    ] {
        assert_eq!(finding(id), "not offered", "{id}");
    }
    assert_eq!(finding("cipherlist_STRONG"), "offered");
    assert!(finding("HSTS_time").contains("63072000 seconds"));
    assert_eq!(finding("HSTS_subdomains"), "includes subdomains");
    assert_eq!(finding("X-Frame-Options"), "DENY");
    assert_eq!(finding("X-Content-Type-Options"), "nosniff");
    // Nothing of concern beyond the throwaway dev certificate (30 days,
    // self-signed, no revocation info).
    let concerns: Vec<_> = findings
        .iter()
        .filter(|entry| {
            matches!(
                entry["severity"].as_str(),
                Some("MEDIUM" | "HIGH" | "CRITICAL")
            ) && !entry["id"]
                .as_str()
                .unwrap_or_default()
                .starts_with("cert_")
        })
        .collect();
    assert!(concerns.is_empty(), "{concerns:?}");
}

// ------------------------------------------------------- the real engine --

/// The stub engine above sends no Content-Type at all; this one
/// checks the real engine's HLS through the real stack and edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_engine_hls_gets_its_media_types_and_caching_at_the_edge() {
    use vibes_testkit::audio::sine_pcm;
    use vibes_testkit::tokens::{creator_bearer, participant_bearer};
    let stack = vibes_e2e::Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let vibe = format!("edge-hls-{}", std::process::id());
    let send_chunk = || {
        let reply = edge.request_as(
            Some(&creator_bearer(&vibe)),
            "POST",
            &format!("/stream/{vibe}/audio"),
            Some("application/octet-stream"),
            &sine_pcm(2.0),
        );
        assert_eq!(reply.status, 202, "{}", describe(&reply));
        assert_security_headers("audio", &reply);
    };
    send_chunk();
    let joined = edge.request_as(
        Some(&participant_bearer("hls-listener")),
        "POST",
        &format!("/stream/{vibe}/join"),
        Some("application/json"),
        br#"{"participant_id":"hls-listener"}"#,
    );
    assert_eq!(joined.status, 200, "{}", describe(&joined));
    let hls = joined.json()["playback"]["hls"]
        .as_str()
        .expect("an HLS URL")
        .to_owned();
    let playlist_path = hls.strip_prefix(&edge.url("")).expect("under the edge");

    // Keep the stream fed until the engine lists a segment.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (playlist, segment) = loop {
        let playlist = edge.get(playlist_path);
        if playlist.status == 200 {
            let text = String::from_utf8_lossy(&playlist.body).into_owned();
            if let Some(segment) = text.lines().find(|line| line.ends_with(".ts")) {
                break (playlist, segment.to_owned());
            }
        }
        assert!(
            Instant::now() < deadline,
            "no HLS segment listed: {}",
            describe(&playlist)
        );
        send_chunk();
        tokio::time::sleep(Duration::from_millis(1500)).await;
    };
    assert_security_headers("playlist", &playlist);
    assert_eq!(
        playlist.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(playlist.header("cache-control"), Some("no-cache"));

    let (directory, _) = playlist_path.rsplit_once('/').unwrap();
    let segment_path = format!("{directory}/{segment}");
    let segment = edge.get(&segment_path);
    assert_eq!(
        segment.status,
        200,
        "{segment_path}: {}",
        describe(&segment)
    );
    assert_security_headers("segment", &segment);
    assert_eq!(segment.header("content-type"), Some("video/mp2t"));
    assert_eq!(segment.header("cache-control"), Some("max-age=60"));
    assert_eq!(segment.body.first(), Some(&0x47), "an MPEG-TS sync byte");
    println!(
        "playlist {} bytes, segment {segment_path}: {} bytes",
        playlist.body.len(),
        segment.body.len()
    );
    edge.request_as(
        Some(&creator_bearer(&vibe)),
        "DELETE",
        &format!("/stream/{vibe}"),
        None,
        b"",
    );
}

// ------------------------------------------------------------ OCSP proof --

const NETNS_MARKER: &str = "VIBES_EDGE_OCSP_NETNS";

#[test]
fn ocsp_stapling_is_proven_with_a_local_responder() {
    let started = Instant::now();
    let test_binary = std::env::current_exe().unwrap();
    // The whole proof runs in a network namespace with only `lo`: the
    // responder binds every interface, and in there that is loopback alone.
    // As root, a plain network namespace; otherwise a user namespace too,
    // keeping the user's own id (mapped root would make nginx chown its
    // temp directories to an unmapped `nobody`).
    let root = run(Command::new("id").arg("-u")).trim() == "0";
    let namespaces: &[&str] = if root {
        &["--net"]
    } else {
        &["--net", "--map-current-user"]
    };
    let output = Command::new("timeout")
        .arg("120")
        .arg("unshare")
        .args(namespaces)
        .arg(test_binary)
        .args([
            "--exact",
            "ocsp_stapling_inside_a_private_network",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NETNS_MARKER, "1")
        .stdin(Stdio::null())
        .output()
        .expect("unshare runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{log}");
    assert!(output.status.success(), "the OCSP proof failed: {log}");
    assert!(log.contains("1 passed"), "{log}");
    println!("OCSP proof took {:?}", started.elapsed());
}

/// Run by the test above inside `unshare --net`; does nothing elsewhere.
#[test]
#[ignore = "run inside a private network namespace by ocsp_stapling_is_proven_with_a_local_responder"]
fn ocsp_stapling_inside_a_private_network() {
    if std::env::var_os(NETNS_MARKER).is_none() {
        eprintln!("skipped: only runs inside the namespace its outer test makes");
        return;
    }
    run(Command::new("ip").args(["link", "set", "lo", "up"]));
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let pki = Pki::make(dir);

    // 1. A live responder says "good": nginx fetches it after the first
    //    handshake (which carries no staple) and staples it on later ones.
    let mut responder = pki.responder(&pki.index_good);
    let edge = edge_with(&pki, &dir.join("edge-good"), &[]);
    let config = std::fs::read_to_string(dir.join("edge-good/edge.conf")).unwrap();
    assert!(
        config.contains("ssl_stapling on;"),
        "auto mode turns stapling on for a certificate naming a responder"
    );
    let status = wait_for_staple(
        &pki,
        &edge,
        "Cert Status: good",
        &dir.join("edge-good/error.log"),
    );
    assert!(
        status.contains("OCSP Response Status: successful"),
        "{status}"
    );
    assert!(status.contains("Verify return code: 0 (ok)"), "{status}");
    drop(edge);

    // 2. The leaf is revoked: a fresh nginx asks again, gets "revoked", and
    //    staples nothing (it never staples a revoked response it fetched).
    drop(responder);
    responder = pki.responder(&pki.index_revoked);
    let edge = edge_with(&pki, &dir.join("edge-revoked"), &[]);
    for _ in 0..4 {
        let status = s_client(&pki, &edge);
        assert!(
            status.contains("OCSP response: no response sent"),
            "a revoked certificate was stapled: {status}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let error_log = std::fs::read_to_string(dir.join("edge-revoked/error.log")).unwrap();
    assert!(error_log.contains("revoked"), "{error_log}");
    drop(edge);
    drop(responder);

    // 3. A stapling file holding a revoked response is stapled as it is.
    let request = dir.join("request.der");
    let revoked = dir.join("revoked.der");
    run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(&pki.ca_cert)
        .arg("-cert")
        .arg(&pki.leaf_cert)
        .arg("-reqout")
        .arg(&request));
    run(Command::new("openssl")
        .args(["ocsp", "-index"])
        .arg(&pki.index_revoked)
        .arg("-rsigner")
        .arg(&pki.ca_cert)
        .arg("-rkey")
        .arg(&pki.ca_key)
        .arg("-CA")
        .arg(&pki.ca_cert)
        .args(["-ndays", "1", "-reqin"])
        .arg(&request)
        .arg("-respout")
        .arg(&revoked));
    let edge = edge_with(
        &pki,
        &dir.join("edge-file"),
        &[("EDGE_OCSP_STAPLING_FILE", revoked.to_str().unwrap())],
    );
    let status = s_client(&pki, &edge);
    assert!(
        status.contains("OCSP Response Status: successful"),
        "{status}"
    );
    assert!(status.contains("Cert Status: revoked"), "{status}");
}

/// An edge serving `pki`'s leaf, its stapling checked against `pki`'s CA;
/// no upstream answers.
fn edge_with(pki: &Pki, runtime: &Path, env: &[(&str, &str)]) -> Edge {
    let dead = free_port();
    let mut all = vec![
        ("EDGE_TLS_CERT", pki.leaf_cert.to_str().unwrap()),
        ("EDGE_TLS_KEY", pki.leaf_key.to_str().unwrap()),
        ("EDGE_TLS_TRUSTED_CERT", pki.ca_cert.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    Edge::start_with_env(
        runtime,
        &EdgeUpstreams {
            gateway_port: dead,
            registry_port: dead,
            engine_flv_port: dead,
            engine_hls_port: dead,
            supervisor_port: dead,
            hls_packager_port: dead,
        },
        &all,
    )
}

/// One TLS handshake asking for a staple; openssl's report of it.
fn s_client(pki: &Pki, edge: &Edge) -> String {
    let output = Command::new("timeout")
        .arg("10")
        .args(["openssl", "s_client", "-status", "-servername", "localhost"])
        .args(["-connect", &format!("127.0.0.1:{}", edge.https_port)])
        .arg("-CAfile")
        .arg(&pki.ca_cert)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_for_staple(pki: &Pki, edge: &Edge, expected: &str, error_log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut handshakes = 0;
    loop {
        let status = s_client(pki, edge);
        handshakes += 1;
        if status.contains(expected) {
            println!("stapled after {handshakes} handshakes: {expected}");
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "no staple with {expected:?} after {handshakes} handshakes: {status}\nnginx: {}\nresponder: {}",
            std::fs::read_to_string(error_log).unwrap_or_default(),
            std::fs::read_to_string(pki.index_good.with_extension("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flv_relay_keeps_listeners_while_the_registry_is_down_and_cuts_them_when_the_seat_is_gone(
) {
    use vibes_testkit::http::metric;
    vibes_testkit::init_test_logging();
    let runtime = tempfile::tempdir().unwrap();
    let (edge, stubs) = edge_in_front_of(
        runtime.path(),
        &[],
        Upstreams {
            gateway: Stub::start(gateway),
            registry: Stub::start(rechecked_registry),
            engine: Stub::serving(endless_flv),
            supervisor: Stub::start(supervisor),
        },
    );
    let metrics = edge.metrics_address();
    let checks = |outcome| {
        let metrics = metrics.clone();
        async move {
            let labels = [("outcome", outcome)];
            metric(&metrics, "vibes_edge_flv_seat_checks_total", &labels).await
        }
    };
    let capture = tempfile::NamedTempFile::new().unwrap();
    let size = || std::fs::metadata(capture.path()).map_or(0, |meta| meta.len());
    let listener = edge.listen(
        &format!("/live/{ALLOWED}/v.flv"),
        capture.path(),
        Duration::from_secs(20),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let playing = size();
    assert!(playing > 0, "the listener plays");
    assert!(checks("renewed").await >= 1.0, "its seat was re-checked");

    // The registry fails (5xx): listeners keep playing; their leases would
    // lapse on their own.
    RECHECK_ANSWER.store(503, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !listener.is_finished(),
        "cut off while the registry was down"
    );
    assert!(
        size() > playing,
        "kept receiving while the registry was down"
    );
    assert!(checks("registry_unavailable").await >= 2.0);

    // The registry says the seat is gone: the response ends at the next check.
    RECHECK_ANSWER.store(403, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(4);
    while !listener.is_finished() {
        assert!(Instant::now() < deadline, "still connected without a seat");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ends = [("reason", "seat_gone")];
    let seat_gone = metric(&metrics, "vibes_edge_flv_listener_ends_total", &ends).await;
    assert_eq!(seat_gone, 1.0);
    assert_eq!(metric(&metrics, "vibes_edge_flv_listeners", &[]).await, 0.0);
    // One engine connection carried it all, opened with the edge's key.
    let relay = format!(
        "GET /live/v.flv?relay={} HTTP/1.0",
        vibes_testkit::edge::EDGE_RELAY_KEY
    );
    assert_eq!(stubs.engine.seen(), vec![relay]);
    // The registry was asked once at connect (auth_request) and then only
    // by the relay's batches, each carrying the stream the location parsed.
    let asked = stubs.registry.seen();
    let connect = format!("GET /internal/playback-auth {ALLOWED}/v");
    assert_eq!(
        asked.iter().filter(|seen| **seen == connect).count(),
        1,
        "{asked:?}"
    );
    let batches = asked
        .iter()
        .filter(|seen| *seen == "POST /internal/playback-seats /v")
        .count();
    assert!(batches >= 4 && batches + 1 == asked.len(), "{asked:?}");
}
