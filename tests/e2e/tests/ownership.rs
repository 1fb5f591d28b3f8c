//! Streams outlive the ingest pod that publishes them. Three more ingest pods
//! run as real processes in the stack's pool (this test binary started again
//! in "pod" mode, so each is the ingest library in its own process); one
//! stream moves between them while a creator keeps sending through the edge:
//! its owner is killed (-9), the next owner is paused (SIGSTOP, the fencing
//! case) and the one after that is stopped with SIGTERM (hand-over). After each
//! move a listener that (re)connects through the edge hears the stream.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vibes_e2e::Stack;
use vibes_redis::ownership::{OwnershipScripts, PodDirectory};
use vibes_redis::RedisConnector;
use vibes_testkit::audio::{probe_audio, sine_pcm};
use vibes_testkit::process::TestProcess;
use vibes_testkit::tokens::creator_bearer;

const POD_MODE: &str = "VIBES_E2E_INGEST_POD";
const PCM: &str = "application/octet-stream";
/// The bound: a listener hears the stream again this soon after its
/// owner died.
const RECONNECT_WITHIN: Duration = Duration::from_secs(5);

/// Not a test of its own: the body of the ingest pod processes started below.
#[test]
#[ignore = "runs only as a child process of the ownership test"]
fn ingest_pod_process() {
    if std::env::var_os(POD_MODE).is_none() {
        return;
    }
    let _telemetry = vibes_telemetry::init("ingest", "info");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let settings = ingest::configuration::load().expect("pod settings");
        ingest::startup::Application::build(settings)
            .await
            .expect("the pod starts")
            .run_until_stopped()
            .await
            .expect("the pod stops cleanly");
    });
}

struct Pod {
    process: TestProcess,
    /// Where the pod's `/metrics` is (its own listener).
    metrics_address: String,
}

impl Pod {
    /// Pod names sort before the stack's own pod ("ingest-e2e"), so the least-
    /// loaded choice (ties broken by name) sends the stream to these first.
    fn start(stack: &Stack, name: &str) -> Self {
        let port = vibes_testkit::free_port();
        let metrics_port = vibes_testkit::free_port();
        // The pod's log goes to a file; the harness shows this line (and so
        // where to look) only when the test fails.
        let log_path =
            std::env::temp_dir().join(format!("vibes-e2e-{name}-{}.log", std::process::id()));
        eprintln!("{name} logs to {}", log_path.display());
        let log = std::fs::File::create(&log_path).expect("a log file for the pod");
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args(["ingest_pod_process", "--exact", "--ignored", "--nocapture"])
            .env(POD_MODE, "1")
            .env("VIBES_INSTANCE_ID", name)
            .env("VIBES_SERVER__HOST", "127.0.0.1")
            .env("VIBES_SERVER__PORT", port.to_string())
            .env("VIBES_METRICS__HOST", "127.0.0.1")
            .env("VIBES_METRICS__PORT", metrics_port.to_string())
            .env("VIBES_REGISTRY__URL", &stack.registry_url)
            .env("VIBES_ENCODER__RTMP_BASE_URL", &stack.rtmp_base_url)
            .env(
                "VIBES_OWNERSHIP__REDIS_URL",
                vibes_testkit::redis_server::redis_url(),
            )
            .env("VIBES_OWNERSHIP__POOL", &stack.ingest_pool)
            // The child's test harness prints its own summary there, which
            // must not count among this binary's results.
            .stdout(Stdio::null())
            .stderr(log);
        let process = TestProcess::spawn(name, command);
        vibes_testkit::wait_for_port(port, Duration::from_secs(20));
        Self {
            process,
            metrics_address: format!("http://127.0.0.1:{metrics_port}"),
        }
    }

    /// The pod's running ffmpeg: its only child process (the kernel lists
    /// children per thread that started them).
    fn encoder_pid(&self) -> u32 {
        let tasks = format!("/proc/{}/task", self.process.pid());
        let mut pids = Vec::new();
        for task in std::fs::read_dir(&tasks).expect("the pod's threads") {
            let children =
                std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
            pids.extend(
                children
                    .split_whitespace()
                    .filter_map(|pid| pid.parse::<u32>().ok()),
            );
        }
        assert_eq!(
            pids.len(),
            1,
            "one encoder under {}: {pids:?}",
            self.process.name
        );
        pids[0]
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.process.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {}", self.process.name);
    }
}

struct Cluster {
    redis: RedisConnector,
    ownership: OwnershipScripts,
    pool: PodDirectory,
}

impl Cluster {
    fn new(stack: &Stack) -> Self {
        Self {
            redis: RedisConnector::new(
                &vibes_testkit::redis_server::redis_url(),
                Duration::from_secs(2),
            )
            .unwrap(),
            ownership: OwnershipScripts::default(),
            pool: PodDirectory::new(&stack.ingest_pool),
        }
    }

    async fn owner(&self, vibe: &str) -> Option<String> {
        let mut redis = self.redis.connection().await.unwrap();
        let vibe = vibe.parse().unwrap();
        let lease = self.ownership.holder(&mut redis, &vibe).await.unwrap();
        lease.map(|lease| lease.pod)
    }

    async fn live_pods(&self) -> Vec<String> {
        let mut redis = self.redis.connection().await.unwrap();
        let pods = self.pool.live_pods(&mut redis).await.unwrap();
        pods.into_iter().map(|pod| pod.id).collect()
    }
}

/// A creator sending 1 s chunks with sequence numbers through the edge, and
/// retrying a chunk (same number) while the stream changes hands.
struct Creator<'a> {
    stack: &'a Stack,
    vibe: String,
    token: String,
    seq: u64,
}

impl Creator<'_> {
    /// Sends the next chunk until it is accepted; returns how many tries it took.
    async fn send(&mut self) -> u32 {
        self.seq += 1;
        let chunk = sine_pcm(1.0);
        let path = format!("/stream/{}/audio", self.vibe);
        let seq = self.seq.to_string();
        for attempt in 1..=20 {
            let reply = self.stack.edge.request_with_headers(
                Some(&self.token),
                "POST",
                &path,
                Some(PCM),
                &[("x-chunk-seq", &seq)],
                &chunk,
            );
            match reply.status {
                200 | 202 => return attempt,
                503 => tokio::time::sleep(Duration::from_millis(300)).await,
                status => panic!(
                    "chunk {seq}: unexpected {status}: {}",
                    String::from_utf8_lossy(&reply.body)
                ),
            }
        }
        panic!("chunk {seq} was never accepted");
    }

    /// Sends the last accepted chunk again, as a creator whose answer got
    /// lost does; returns the reply's status and body.
    fn resend_last(&self) -> (u16, serde_json::Value) {
        let reply = self.stack.edge.request_with_headers(
            Some(&self.token),
            "POST",
            &format!("/stream/{}/audio", self.vibe),
            Some(PCM),
            &[("x-chunk-seq", &self.seq.to_string())],
            &sine_pcm(1.0),
        );
        (reply.status, reply.json())
    }

    /// Real time: one chunk per second for `seconds`.
    async fn stream_for(&mut self, seconds: u32) {
        for _ in 0..seconds {
            let sent_at = Instant::now();
            self.send().await;
            tokio::time::sleep(Duration::from_secs(1).saturating_sub(sent_at.elapsed())).await;
        }
    }
}

/// A listener that connects now, while the creator keeps streaming, and
/// reports how many seconds of audio it decoded.
async fn listen_while_streaming(creator: &mut Creator<'_>, flv_path: &str) -> f64 {
    let capture = tempfile::NamedTempFile::new().unwrap();
    let listener = creator
        .stack
        .edge
        .listen(flv_path, capture.path(), Duration::from_secs(4));
    creator.stream_for(4).await;
    listener.join().expect("listener thread");
    probe_audio(capture.path()).decoded_seconds
}

async fn wait_for_owner(cluster: &Cluster, vibe: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let owner = cluster.owner(vibe).await;
        if owner
            .as_deref()
            .is_some_and(|pod| pod.starts_with(expected))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "owner is {owner:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_survives_its_owner_being_killed_paused_and_stopped() {
    let stack = Stack::start().await;
    stack.wait_until_healthy(Duration::from_secs(30));
    let cluster = Cluster::new(&stack);
    let pods = [
        Pod::start(&stack, "a-pod-1"),
        Pod::start(&stack, "a-pod-2"),
        Pod::start(&stack, "a-pod-3"),
    ];
    vibes_testkit::wait_until_async(Duration::from_secs(10), "four pods in the pool", || async {
        cluster.live_pods().await.len() == 4
    })
    .await;

    let vibe = format!("owned-{}", vibes_testkit::unique_suffix());
    let mut creator = Creator {
        stack: &stack,
        vibe: vibe.clone(),
        token: creator_bearer(&vibe),
        seq: 0,
    };
    creator.stream_for(2).await;
    wait_for_owner(&cluster, &vibe, "a-pod-1#").await;

    let flv_path = stack.join_for_playback(&vibe, "listener-1", "flv");
    let heard = listen_while_streaming(&mut creator, &flv_path).await;
    assert!(heard >= 2.0, "the first owner's stream plays: {heard} s");

    // 0. The owner's encoder dies: the pod starts another under the same
    // stream name, and a listener that reconnects hears the stream again.
    let encoder = pods[0].encoder_pid();
    Command::new("kill")
        .args(["-KILL", &encoder.to_string()])
        .status()
        .expect("kill runs");
    let killed_at = Instant::now();
    while killed_at.elapsed() < RECONNECT_WITHIN {
        creator.send().await;
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    assert_ne!(pods[0].encoder_pid(), encoder, "a new encoder runs");
    let heard = listen_while_streaming(&mut creator, &flv_path).await;
    assert!(
        heard >= 2.0,
        "after the encoder restart the stream plays: {heard} s"
    );

    // 1. The owner dies: the next chunk goes to a live pod, which takes the
    // stream over once the dead pod's heartbeat expired. A retry of the last
    // chunk the dead pod accepted is answered as a retry by the new owner
    // (the seq is kept with the stream's ownership), not played twice.
    pods[0].signal("KILL");
    let killed_at = Instant::now();
    let mut retry = creator.resend_last();
    while retry.0 == 503 && killed_at.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        retry = creator.resend_last();
    }
    assert_eq!(retry.0, 200, "{}", retry.1);
    assert_eq!(
        (retry.1["duplicate"].as_bool(), retry.1["seq"].as_u64()),
        (Some(true), Some(creator.seq)),
        "{}",
        retry.1
    );
    let tries = creator.send().await;
    let moved_after = killed_at.elapsed();
    wait_for_owner(&cluster, &vibe, "a-pod-2#").await;
    eprintln!("takeover: first chunk accepted {moved_after:?} after kill -9 ({tries} tries)");
    tokio::time::sleep(RECONNECT_WITHIN.saturating_sub(killed_at.elapsed())).await;
    let heard = listen_while_streaming(&mut creator, &flv_path).await;
    assert!(
        heard >= 2.0,
        "a listener connecting {RECONNECT_WITHIN:?} after the kill hears {heard} s"
    );

    // 2. The owner freezes: another pod takes over; when the frozen one wakes
    // up, its fencing token is stale and it stops instead of publishing too.
    pods[1].signal("STOP");
    creator.stream_for(4).await;
    wait_for_owner(&cluster, &vibe, "a-pod-3#").await;
    pods[1].signal("CONT");
    let paused = &pods[1].metrics_address;
    vibes_testkit::wait_until_async(Duration::from_secs(5), "the paused pod lost", || async {
        vibes_testkit::http::metric(paused, "vibes_ingest_ownership_lost_total", &[]).await == 1.0
    })
    .await;
    vibes_testkit::wait_until_async(Duration::from_secs(5), "the paused pod let go", || async {
        vibes_testkit::http::metric(paused, "vibes_ingest_streams_active", &[]).await == 0.0
    })
    .await;
    let heard = listen_while_streaming(&mut creator, &flv_path).await;
    assert!(heard >= 2.0, "after the pause the stream plays: {heard} s");
    assert!(cluster.owner(&vibe).await.unwrap().starts_with("a-pod-3#"));

    // 3. The owner is told to stop: it plays out its queue, releases the
    // stream and leaves the pool at once (not after its heartbeat expires).
    pods[2].signal("TERM");
    let mut stopping = pods.into_iter().nth(2).unwrap();
    vibes_testkit::wait_until(Duration::from_secs(10), || !stopping.process.is_running()).await;
    assert_eq!(stopping.process.exit_code(), Some(0), "a clean exit");
    let left = cluster.live_pods().await;
    assert!(
        !left.iter().any(|pod| pod.starts_with("a-pod-3#")),
        "the stopped pod left the pool: {left:?}"
    );
    assert_ne!(
        cluster
            .owner(&vibe)
            .await
            .map(|pod| pod.starts_with("a-pod-3#")),
        Some(true),
        "the stopped pod released the stream"
    );
    assert_eq!(
        creator.send().await,
        1,
        "the next chunk starts at once elsewhere"
    );
    let heard = listen_while_streaming(&mut creator, &flv_path).await;
    assert!(
        heard >= 2.0,
        "after the hand-over the stream plays: {heard} s"
    );
}
