//! The web pages in a real browser: the whole stack on free ports, then
//! `node --test web/tests/` drives Debian's headless Chromium (playwright-core)
//! through the edge. The creator simulator streams, listeners join and play
//! over HTTP-FLV and HLS, and the pages' messages are checked against the
//! registry. Node's output goes to this test's log; the test passes when node's
//! test runner ran every test and none failed.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vibes_e2e::Stack;
use vibes_testkit::edge::Reply;
use vibes_testkit::repo_root;
use vibes_testkit::tokens::{bearer, creator_bearer, participant_bearer};
use vibes_tokens::Role;

/// Two seats: one FLV and one HLS listener fit, a third is refused.
const CAP: u64 = 2;
/// Node's own budget; the browser test needs about 30 s on an idle machine.
const NODE_LIMIT: Duration = Duration::from_secs(180);

fn token(bearer: String) -> String {
    bearer
        .strip_prefix("Bearer ")
        .expect("a bearer value")
        .to_owned()
}

fn run_script(script: &Path) {
    let status = Command::new(script).status().expect("script runs");
    assert!(status.success(), "{} failed: {status}", script.display());
}

fn assert_not_found(reply: &Reply, path: &str) {
    assert_eq!(reply.status, 404, "{path} must not be served");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{path}"
    );
    assert_eq!(reply.json()["code"], "not_found", "{path}");
}

/// Forwards a child's output line by line into this test's (captured) output
/// and keeps it for the verdict.
fn forward(stream: impl Read + Send + 'static, name: &'static str) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = String::new();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            println!("{name}: {line}");
            kept.push_str(&line);
            kept.push('\n');
        }
        kept
    })
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("node is waitable") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("node's browser test ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `# name N` line of node's TAP summary.
fn tap_count(output: &str, name: &str) -> u64 {
    output
        .lines()
        .find_map(|line| line.strip_prefix(&format!("# {name} ")))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("node printed no '# {name}' summary line"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_page_and_creator_simulator_work_in_headless_chromium() {
    let root = repo_root();
    run_script(&root.join("scripts/bundle-web"));
    let stack = Stack::start_with(|registry| registry.participants.max_per_stream = CAP).await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let edge = &stack.edge;

    // The site is served with its players; its tooling is not.
    for (path, content_type) in [
        ("/listen.html", "text/html"),
        ("/create.html", "text/html"),
        ("/vendor/mpegts.js", "application/javascript"),
        ("/vendor/hls.light.min.js", "application/javascript"),
        ("/assets/listen.js", "application/javascript"),
    ] {
        let reply = edge.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|value| value.starts_with(content_type)),
            "{path}: {:?}",
            reply.header("content-type")
        );
    }
    assert!(String::from_utf8_lossy(&edge.get("/listen.html").body).contains("<audio"));
    for path in [
        "/package.json",
        "/package-lock.json",
        "/node_modules/hls.js/package.json",
        "/tests/pages.test.mjs",
        "/vendor/.package-lock.sha256",
        "/.gitignore",
    ] {
        assert_not_found(&edge.get(path), path);
    }

    let vibe = format!("web-{}", std::process::id());
    let artifacts = root.join("web/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");
    let screenshots = ["creator.png", "listener.png", "listener-390px.png"];
    for screenshot in screenshots {
        let _ = std::fs::remove_file(artifacts.join(screenshot));
    }
    let mut node = Command::new("node")
        .args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
        .arg("tests/")
        .current_dir(root.join("web"))
        .env("VIBES_WEB_BASE_URL", edge.url(""))
        .env("VIBES_WEB_VIBE", &vibe)
        .env("VIBES_WEB_MAX_PARTICIPANTS", CAP.to_string())
        .env("VIBES_WEB_CREATOR_TOKEN", token(creator_bearer(&vibe)))
        .env(
            "VIBES_WEB_LISTENER_TOKENS",
            ["web-flv", "web-hls", "web-late"]
                .map(|sub| token(participant_bearer(sub)))
                .join(","),
        )
        .env(
            "VIBES_WEB_EXPIRED_LISTENER_TOKEN",
            token(bearer(Role::Participant, "web-expired", None, -60)),
        )
        .env("VIBES_WEB_ARTIFACTS", &artifacts)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/install-deps installs it)");
    let stdout = forward(node.stdout.take().expect("piped"), "node");
    let stderr = forward(node.stderr.take().expect("piped"), "node stderr");
    let status = wait_with_limit(&mut node, NODE_LIMIT);
    let output = stdout.join().expect("stdout forwarded");
    stderr.join().expect("stderr forwarded");

    if !status.success() {
        panic!(
            "node's browser test failed: {status}\n{}",
            stack.logs_tail(80)
        );
    }
    assert_eq!(tap_count(&output, "fail"), 0);
    assert_eq!(tap_count(&output, "skipped"), 0);
    assert_eq!(tap_count(&output, "todo"), 0);
    assert!(tap_count(&output, "pass") >= 10, "{output}");

    // The creator page ended the stream: the registry no longer lists it.
    let active = edge.get("/streams/active").json();
    assert!(
        active["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .all(|stream| stream["vibe_id"] != vibe.as_str()),
        "{active}"
    );
    for screenshot in screenshots {
        let bytes = std::fs::read(artifacts.join(screenshot)).expect("screenshot written");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{screenshot}"
        );
    }
}
