//! A few hundred malformed requests at the edge: random methods, paths with
//! traversal and bad UTF-8, odd or huge headers, random bodies. Every one is
//! answered with a 4xx (a problem+json from the services, or nginx's own
//! refusal) or a 2xx/3xx where the request happens to be fine — never a 5xx —
//! and the live stream keeps playing throughout.

use std::sync::atomic::Ordering;
use std::time::Duration;
use vibes_e2e::Stack;
use vibes_testkit::audio::sine_pcm;
use vibes_testkit::tokens::{creator_bearer, participant_bearer};

const REQUESTS: usize = 300;

/// xorshift64*: reproducible without a dependency; the seed is in the failure message.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

fn odd_id(random: &mut Random, live: &str) -> String {
    match random.below(9) {
        0 => live.to_owned(),
        1 => {
            let extra = random.below(200);
            "x".repeat(65 + extra)
        }
        2 => "..%2F..%2Fetc%2Fpasswd".to_owned(),
        3 => "%C3%28%FF%FE".to_owned(),
        4 => "%00".to_owned(),
        5 => "a%20b".to_owned(),
        6 => String::new(),
        7 => "%2e%2e".to_owned(),
        _ => random
            .bytes(6)
            .iter()
            .map(|byte| format!("%{byte:02X}"))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_never_get_a_5xx_and_the_stream_keeps_playing() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;
    let live = format!("fuzz-{}", std::process::id());
    let creator = creator_bearer(&live);
    let started = edge.request_as(
        Some(&creator),
        "POST",
        &format!("/stream/{live}/audio"),
        Some("application/octet-stream"),
        &sine_pcm(2.0),
    );
    assert_eq!(started.status, 202);
    let pipeline = stack
        .ingest_streams
        .get(&live.parse().unwrap())
        .expect("live");
    let joined = edge.request_as(
        Some(&participant_bearer("fuzz-listener")),
        "POST",
        &format!("/stream/{live}/join"),
        None,
        &[],
    );
    let flv = joined.json()["playback"]["flv"]
        .as_str()
        .unwrap()
        .to_owned();
    let capture = tempfile::NamedTempFile::new().unwrap();
    let listener = edge.listen(
        flv.strip_prefix(&edge.url("")).unwrap(),
        capture.path(),
        Duration::from_secs(25),
    );
    std::thread::sleep(Duration::from_secs(1));
    let size_before = std::fs::metadata(capture.path())
        .map(|meta| meta.len())
        .unwrap_or(0);

    let seed = 0x5EED_0000_0000_0001 ^ u64::from(std::process::id());
    let mut random = Random(seed);
    // HEAD is left out: curl -X HEAD waits for a body that never comes.
    let methods = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND",
    ];
    let content_types = [
        "application/octet-stream",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "\u{1}bad",
    ];
    let other_creator = creator_bearer("someone-else");
    let authorizations = [
        creator.as_str(),
        other_creator.as_str(),
        "Bearer garbage",
        "Basic Zm9vOmJhcg==",
    ];
    for index in 0..REQUESTS {
        let id = odd_id(&mut random, &live);
        let path = match random.below(9) {
            0 => format!("/stream/{id}/audio"),
            1 => format!("/stream/{id}/join"),
            2 => format!("/stream/{id}/leave"),
            3 => format!("/stream/{id}"),
            4 => format!("/live/{id}/{id}.flv"),
            5 => format!("/live/{id}.{id}.AAAAAAAAAAAAAAAAAAAAAA/{live}/{id}.m3u8"),
            6 => format!("/api/v1/{id}"),
            7 => format!("/streams/active?{id}"),
            _ => format!("/{id}/../../{id}"),
        };
        let method = random.pick(&methods);
        let mut curl = edge.curl();
        curl.args(["--max-time", "5"]);
        // HTTP/1.1: over HTTP/2, nginx resets the stream of a request whose
        // body it did not read (an early refusal), and curl then reports no
        // status at all; the refusals themselves are the same.
        curl.args(["--http1.1", "-X", method, "--path-as-is", "-H", "Expect:"]);
        if random.below(3) > 0 {
            curl.args([
                "-H",
                &format!("Content-Type: {}", random.pick(&content_types)),
            ]);
        }
        if random.below(2) == 0 {
            curl.args([
                "-H",
                &format!("Authorization: {}", random.pick(&authorizations)),
            ]);
        }
        if random.below(12) == 0 {
            curl.args([
                "-H",
                &format!("X-Chunk-Seq: {}", "9".repeat(random.below(40))),
            ]);
        }
        if random.below(25) == 0 {
            curl.args([
                "-H",
                &format!("X-Huge: {}", "h".repeat(16_384 + random.below(32_768))),
            ]);
        }
        if method != "GET" {
            let length = random.below(4096);
            let body = random.bytes(length);
            std::fs::write(capture.path().with_extension("body"), &body).unwrap();
            curl.arg("--data-binary").arg(format!(
                "@{}",
                capture.path().with_extension("body").display()
            ));
        }
        curl.arg(edge.url(&path));
        let output = curl.output().expect("curl runs");
        let head = String::from_utf8_lossy(&output.stdout);
        let status: u16 = head
            .lines()
            .rfind(|line| line.starts_with("HTTP/"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        assert!(
            (200..500).contains(&status),
            "request {index} (seed {seed:#x}) {method} {path} got {status}:\n{head}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // The stream kept playing: same encoder, audio still arriving.
    std::thread::sleep(Duration::from_secs(1));
    let size_after = std::fs::metadata(capture.path())
        .map(|meta| meta.len())
        .unwrap_or(0);
    assert!(
        size_after > size_before,
        "the listener kept receiving: {size_before} → {size_after} bytes"
    );
    assert_eq!(pipeline.stats().encoder_starts.load(Ordering::Relaxed), 1);
    let ended = edge.end_stream(&live);
    assert_eq!(ended.status, 200);
    listener.join().unwrap();
}
