//! Starts the whole stack the way production runs it, on free loopback ports:
//! Redis, SRS (through srs-supervisor), the five services and nginx
//! ([`Stack`]), or several edges, gateways and registries in front of one
//! engine ([`Cluster`]).
//! The services run in-process, each on its own port-0 listeners (API and
//! metrics); everything else is a real child process.

use gateway::startup::Gateway;
use hls_packager::startup::Packager;
use ingest::startup::Ingest;
use session_registry::startup::Registry;
use srs_supervisor::startup::Supervisor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use vibes_testkit::chirp::chirp_pcm;
use vibes_testkit::edge::{Edge, EdgeUpstreams, Processes, Reply};
use vibes_testkit::service::spawn_on;
use vibes_testkit::tokens::creator_bearer;
use vibes_web::Listeners;

/// The registry's playback token key in the test stack, so tests can forge
/// (for instance already expired) tokens. Made with `openssl rand -base64 48`:
/// the registry refuses placeholders and guessable keys.
pub const PLAYBACK_TOKEN_SECRET: &str =
    "89SGtMeTAiikk38VAu/FurKq+wESR0LTLJoWhS5Gb9u5aeJ0SfC+hpnMMx0W3ndC";

/// The operators' key of the test stack's stats API (srs-supervisor's
/// `operator.token`): it shows SRS's whole answers through the edge.
pub const OPERATOR_TOKEN: &str = "94e049d414bba7ccd2a79973d66551047b764f4c4fe1d30bddbe80b93337e540";

pub struct Stack {
    pub edge: Edge,
    pub ingest_streams: Arc<ingest::streams::LiveStreams>,
    pub supervisor: Arc<srs_supervisor::engine::EngineSupervisor>,
    /// srs-supervisor's internal API (SRS's stats, read-only).
    pub supervisor_url: String,
    /// What more ingest pods need to join this stack (its pool, registry, engine).
    pub ingest_pool: String,
    pub registry_url: String,
    pub rtmp_base_url: String,
    /// SRS's own HTTP port for FLV and HLS (behind the edge).
    pub engine_http_port: u16,
    /// SRS's own HTTP API (internal: clients, kicks).
    pub engine_api_url: String,
    /// The hls-packager's API (behind the edge) and its `/metrics`.
    pub hls_packager_url: String,
    pub hls_packager_metrics: String,
    runtime_dir: TempDir,
}

/// A service's listeners: the API's (and its port, which other parts are
/// configured with before the service starts) and its metrics'.
fn loopback_listeners() -> (Listeners, u16) {
    let listeners = Listeners::loopback().expect("loopback listeners");
    let port = listeners.api.local_addr().expect("bound").port();
    (listeners, port)
}

impl Stack {
    /// Call from a multi-threaded runtime: the edge client (curl) blocks the
    /// test's own thread while the services answer on the workers.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the stack with the registry's settings adjusted (lease, cap…).
    pub async fn start_with(
        customize_registry: impl FnOnce(&mut session_registry::configuration::Settings),
    ) -> Self {
        Self::start_with_edge(customize_registry, &[]).await
    }

    /// Starts the stack with the registry's settings adjusted and more
    /// variables for the edge's render script (limits, …).
    pub async fn start_with_edge(
        customize_registry: impl FnOnce(&mut session_registry::configuration::Settings),
        edge_env: &[(&str, &str)],
    ) -> Self {
        vibes_testkit::init_test_logging();
        let runtime_dir = tempfile::tempdir().expect("runtime dir");

        let (registry_listeners, registry_port) = loopback_listeners();
        let (gateway_listeners, gateway_port) = loopback_listeners();
        let engine = Engine::start(runtime_dir.path(), registry_port).await;

        let edge = Edge::start_with_env(
            &runtime_dir.path().join("edge"),
            &engine.upstreams(gateway_port, registry_port),
            edge_env,
        );

        let mut registry_settings = registry_settings(&edge, &engine);
        customize_registry(&mut registry_settings);
        start_registry(registry_listeners, registry_settings).await;
        let (ingest_pool, ingest_streams) = start_ingest(registry_port, &engine).await;
        start_gateway(
            gateway_listeners,
            registry_port,
            &ingest_pool,
            &engine,
            &edge,
        )
        .await;

        Self {
            edge,
            ingest_streams,
            supervisor: engine.supervisor,
            supervisor_url: format!("http://127.0.0.1:{}", engine.supervisor_port),
            ingest_pool,
            registry_url: format!("http://127.0.0.1:{registry_port}"),
            rtmp_base_url: engine.rtmp_base_url,
            engine_http_port: engine.http_port,
            engine_api_url: format!("http://127.0.0.1:{}", engine.api_port),
            hls_packager_url: format!("http://127.0.0.1:{}", engine.packager_port),
            hls_packager_metrics: engine.packager_metrics.clone(),
            runtime_dir,
        }
    }

    /// Joins `vibe` as `participant` through the edge and returns the
    /// playback URL of `kind` ("flv" or "hls"), as a path under the edge.
    pub fn join_for_playback(&self, vibe: &str, participant: &str, kind: &str) -> String {
        let joined = self.edge.request_as(
            Some(&vibes_testkit::tokens::participant_bearer(participant)),
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
        let url = joined.json()["playback"][kind]
            .as_str()
            .unwrap_or_else(|| panic!("a {kind} playback URL"))
            .to_owned();
        url.strip_prefix(&self.edge.url(""))
            .expect("playback under the edge")
            .to_owned()
    }

    /// SRS's own API answer to `GET /api/v1/<resource>` (a path and query,
    /// e.g. `clients/?count=1000`), straight from SRS.
    pub async fn engine_api(&self, resource: &str) -> serde_json::Value {
        engine_api(&self.engine_api_url, resource).await
    }

    /// The last `lines` lines of the edge's error log and of SRS's log, for
    /// a failing test to print: the relay's and the engine's side of a
    /// playback that never started are only there.
    pub fn logs_tail(&self, lines: usize) -> String {
        let runtime = self.runtime_dir.path();
        logs_tail(
            &[runtime.join("edge/error.log"), engine_log(runtime)],
            lines,
        )
    }

    /// Polls `GET /health` through the edge until every part is up.
    pub fn wait_until_healthy(&self, limit: Duration) -> Reply {
        wait_until_healthy(&self.edge, limit)
    }
}

/// Polls `GET /health` through `edge` until every part is up.
fn wait_until_healthy(edge: &Edge, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let reply = edge.get("/health");
        if reply.status == 200 {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "stack not healthy after {limit:?}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SRS's answer to `GET /api/v1/<resource>` at `engine_api_url`.
async fn engine_api(engine_api_url: &str, resource: &str) -> serde_json::Value {
    let url = format!("{engine_api_url}/api/v1/{resource}");
    let answer = reqwest::get(&url).await.expect("SRS's API answers");
    answer.json().await.expect("SRS's API answers JSON")
}

/// SRS's log in a stack's runtime folder.
fn engine_log(runtime_dir: &Path) -> PathBuf {
    runtime_dir
        .join("engine")
        .join(srs_supervisor::engine::srs_config::LOG_FILE)
}

/// The last `lines` lines of each of `logs`, headed by its path.
fn logs_tail(logs: &[PathBuf], lines: usize) -> String {
    logs.iter()
        .map(|log| {
            let text = std::fs::read_to_string(log).unwrap_or_else(|error| error.to_string());
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            format!("--- {} (last {lines} lines)\n{tail}", log.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// SRS as srs-supervisor's child (the supervisor runs in-process), and the
/// hls-packager that reads it.
struct Engine {
    supervisor: Arc<srs_supervisor::engine::EngineSupervisor>,
    supervisor_port: u16,
    rtmp_base_url: String,
    /// SRS's HTTP port (FLV and HLS) and its API's.
    http_port: u16,
    api_port: u16,
    /// The hls-packager's API and its `/metrics`.
    packager_port: u16,
    packager_metrics: String,
}

impl Engine {
    /// Starts the supervisor, which starts SRS with its hooks pointed at the
    /// registry on `registry_port`.
    async fn start(runtime_dir: &Path, registry_port: u16) -> Self {
        let (supervisor_listeners, supervisor_port) = loopback_listeners();
        let mut supervisor_settings = srs_supervisor::configuration::load().expect("settings");
        let engine = &mut supervisor_settings.engine;
        engine.binary = vibes_testkit::engine_binary();
        engine.work_dir = runtime_dir.join("engine");
        [engine.rtmp_port, engine.http_port, engine.api_port] = vibes_testkit::free_ports();
        engine.hooks_url = format!("http://127.0.0.1:{registry_port}/internal/engine-hooks/srs");
        let (rtmp_port, http_port, api_port) =
            (engine.rtmp_port, engine.http_port, engine.api_port);
        supervisor_settings.registry.url = format!("http://127.0.0.1:{registry_port}");
        supervisor_settings.operator.token = OPERATOR_TOKEN.to_owned().into();
        let supervisor = spawn_on::<Supervisor>(supervisor_listeners, supervisor_settings).await;
        let handle = supervisor.service.engine.clone();
        let (packager_port, packager_metrics) = start_packager(http_port).await;
        Self {
            supervisor: handle,
            supervisor_port,
            rtmp_base_url: format!("rtmp://127.0.0.1:{rtmp_port}/live"),
            http_port,
            api_port,
            packager_port,
            packager_metrics,
        }
    }

    /// What an edge in front of this engine forwards to.
    fn upstreams(&self, gateway_port: u16, registry_port: u16) -> EdgeUpstreams {
        EdgeUpstreams {
            gateway_port,
            registry_port,
            engine_flv_port: self.http_port,
            engine_hls_port: self.http_port,
            supervisor_port: self.supervisor_port,
            hls_packager_port: self.packager_port,
        }
    }
}

/// The hls-packager (LL-HLS), reading SRS's HTTP-FLV on `engine_http_port`
/// as the edge's relay does; its API port and its `/metrics` address.
async fn start_packager(engine_http_port: u16) -> (u16, String) {
    let (listeners, port) = loopback_listeners();
    let mut settings = hls_packager::configuration::load().expect("settings");
    settings.engine.flv_base_url = format!("http://127.0.0.1:{engine_http_port}");
    settings.engine.relay_key = vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
    let packager = spawn_on::<Packager>(listeners, settings).await;
    (port, packager.metrics_address)
}

/// The registry's test settings: the test Redis, playback URLs under
/// `edge`, the test keys, `engine`'s API for the warden.
fn registry_settings(edge: &Edge, engine: &Engine) -> session_registry::configuration::Settings {
    let mut settings = session_registry::configuration::load().expect("settings");
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    settings.playback.public_base_url = edge.url("");
    settings.playback.token_secret = PLAYBACK_TOKEN_SECRET.to_owned().into();
    settings.playback.edge_relay_key = vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
    settings.engine.api_url = format!("http://127.0.0.1:{}", engine.api_port);
    // Tests share one Redis but each stack has its own engine, and a reaper
    // sees only its own engine's publishers: it would end the streams other
    // stacks published straight into their engines. Only the reaper's own
    // test (stale_streams) shortens this.
    settings.streams.stale_after = Duration::from_secs(3600);
    settings
}

async fn start_registry(listeners: Listeners, settings: session_registry::configuration::Settings) {
    spawn_on::<Registry>(listeners, settings).await;
}

/// One ingest pod in a pool of its own; returns the pool and its streams.
async fn start_ingest(
    registry_port: u16,
    engine: &Engine,
) -> (String, Arc<ingest::streams::LiveStreams>) {
    let mut settings = ingest::configuration::load().expect("settings");
    settings.instance_id = "ingest-e2e".to_owned();
    settings.registry.url = format!("http://127.0.0.1:{registry_port}");
    settings.encoder.rtmp_base_url = engine.rtmp_base_url.clone();
    let pool = format!("e2e-{}", vibes_testkit::unique_suffix());
    settings.ownership.redis_url = vibes_testkit::redis_server::redis_url();
    settings.ownership.pool = pool.clone();
    let (listeners, _) = loopback_listeners();
    let ingest = spawn_on::<Ingest>(listeners, settings).await;
    (pool, ingest.service.streams.clone())
}

/// A gateway behind `edge`, asking the registry on `registry_port` and
/// sending audio to the pods of `ingest_pool`.
async fn start_gateway(
    listeners: Listeners,
    registry_port: u16,
    ingest_pool: &str,
    engine: &Engine,
    edge: &Edge,
) {
    let mut settings = gateway::configuration::load().expect("settings");
    let upstreams = &mut settings.upstreams;
    upstreams.registry_url = format!("http://127.0.0.1:{registry_port}");
    upstreams.ingest_pool = ingest_pool.to_owned();
    upstreams.supervisor_url = format!("http://127.0.0.1:{}", engine.supervisor_port);
    settings.auth.secret = vibes_testkit::tokens::AUTH_SECRET.to_owned().into();
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    // The edge's own web pages call the API from this origin, and browsers
    // send `Origin` even on same-origin POSTs: the gateway must list it.
    settings.cors.allowed_origins = edge.url("");
    spawn_on::<Gateway>(listeners, settings).await;
}

/// Several edges in front of one Redis, one ingest pod and one engine, each
/// edge with a gateway and a registry of its own, as several pods of each
/// run in production. Edge `i` sends the API to gateway `i`, which asks
/// registry `i` (whose playback URLs name edge `i`), and checks playback
/// with registry `i + 1`: no registry sees all of a listener's calls, so
/// the cap holds only if it lives in Redis alone.
pub struct Cluster {
    /// `None` once stopped.
    pub edges: Vec<Option<Edge>>,
    pub supervisor: Arc<srs_supervisor::engine::EngineSupervisor>,
    pub ingest_streams: Arc<ingest::streams::LiveStreams>,
    /// Each registry's own port, in the edges' order.
    pub registry_urls: Vec<String>,
    /// SRS's own HTTP API (internal: clients, kicks).
    pub engine_api_url: String,
    runtime_dir: TempDir,
}

impl Cluster {
    /// `size` edges, gateways and registries; each edge's nginx is a master
    /// with `workers` workers. Every registry gets `customize_registry`.
    pub async fn start(
        size: usize,
        workers: u8,
        customize_registry: impl Fn(&mut session_registry::configuration::Settings),
    ) -> Self {
        vibes_testkit::init_test_logging();
        let runtime_dir = tempfile::tempdir().expect("runtime dir");
        let registries: Vec<(Listeners, u16)> = (0..size).map(|_| loopback_listeners()).collect();
        let gateways: Vec<(Listeners, u16)> = (0..size).map(|_| loopback_listeners()).collect();
        let registry_port = |index: usize| registries[index % size].1;
        let engine = Engine::start(runtime_dir.path(), registry_port(0)).await;
        let edges: Vec<Edge> = (0..size)
            .map(|index| {
                Edge::start_as(
                    &runtime_dir.path().join(format!("edge-{index}")),
                    &engine.upstreams(gateways[index].1, registry_port(index + 1)),
                    &[],
                    Processes::MasterAndWorkers(workers),
                )
            })
            .collect();
        let registry_urls = (0..size)
            .map(|index| format!("http://127.0.0.1:{}", registry_port(index)))
            .collect();
        let registry_ports: Vec<u16> = registries.iter().map(|(_, port)| *port).collect();
        for (index, (listeners, _)) in registries.into_iter().enumerate() {
            let mut settings = registry_settings(&edges[index], &engine);
            customize_registry(&mut settings);
            start_registry(listeners, settings).await;
        }
        let (ingest_pool, ingest_streams) = start_ingest(registry_ports[0], &engine).await;
        for (index, (listeners, _)) in gateways.into_iter().enumerate() {
            let registry = registry_ports[index];
            start_gateway(listeners, registry, &ingest_pool, &engine, &edges[index]).await;
        }
        Self {
            edges: edges.into_iter().map(Some).collect(),
            supervisor: engine.supervisor.clone(),
            ingest_streams,
            registry_urls,
            engine_api_url: format!("http://127.0.0.1:{}", engine.api_port),
            runtime_dir,
        }
    }

    /// Edge `index`, which must not have been stopped.
    pub fn edge(&self, index: usize) -> &Edge {
        self.edges[index].as_ref().expect("a running edge")
    }

    /// Polls `GET /health` through every running edge until every part is up.
    pub fn wait_until_healthy(&self, limit: Duration) {
        for edge in self.edges.iter().flatten() {
            wait_until_healthy(edge, limit);
        }
    }

    /// SIGTERM to edge `index`'s nginx master; blocks until it and its
    /// workers have exited. Returns whether they did on SIGTERM.
    pub fn stop_edge(&mut self, index: usize) -> bool {
        let mut edge = self.edges[index].take().expect("a running edge");
        edge.stop()
    }

    /// SRS's own API answer to `GET /api/v1/<resource>` (a path and query,
    /// e.g. `streams/`), straight from SRS.
    pub async fn engine_api(&self, resource: &str) -> serde_json::Value {
        engine_api(&self.engine_api_url, resource).await
    }

    /// The last `lines` lines of every edge's error log and of SRS's log.
    pub fn logs_tail(&self, lines: usize) -> String {
        let runtime = self.runtime_dir.path();
        let mut logs: Vec<PathBuf> = (0..self.edges.len())
            .map(|index| runtime.join(format!("edge-{index}/error.log")))
            .collect();
        logs.push(engine_log(runtime));
        logs_tail(&logs, lines)
    }
}

/// POSTs one second of chirp per second through the edge (`lead` ahead of
/// the real-time writer), from a thread of its own; returns when each second
/// was sent, relative to the first POST.
pub fn feed_chirp(
    edge: &Edge,
    vibe: &str,
    seconds: usize,
    lead: Duration,
) -> std::thread::JoinHandle<Vec<Duration>> {
    let url = edge.url(&format!("/stream/{vibe}/audio"));
    let certificate = edge.certificate.clone();
    let authorization = format!("Authorization: {}", creator_bearer(vibe));
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut sent_at = Vec::new();
        for second in 0..seconds {
            let due = (started + Duration::from_secs(second as u64)).checked_sub(lead);
            if let Some(wait) = due.and_then(|due| due.checked_duration_since(Instant::now())) {
                std::thread::sleep(wait);
            }
            sent_at.push(started.elapsed());
            let mut curl = Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--data-binary",
                    "@-",
                ])
                .args([
                    "-H",
                    &authorization,
                    "-H",
                    "Content-Type: application/octet-stream",
                ])
                .arg("--cacert")
                .arg(&certificate)
                .arg(&url)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("curl runs");
            use std::io::Write;
            curl.stdin
                .take()
                .unwrap()
                .write_all(&chirp_pcm(second, 1))
                .unwrap();
            let output = curl.wait_with_output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                "202",
                "second {second}"
            );
        }
        sent_at
    })
}

/// ffmpeg or ffprobe reading an HTTPS URL of the edge, trusting its dev CA.
pub fn ffmpeg_over_edge(tool: &str, edge: &Edge) -> Command {
    let mut command = Command::new(tool);
    command
        .args(["-v", "error", "-tls_verify", "1", "-ca_file"])
        .arg(&edge.certificate);
    command
}

/// ffprobe reads `url` (a playlist through the edge) as AAC-LC 48 kHz
/// stereo, and 3 s of it copied into a `suffix` file decode as the
/// creator's chirp (`feed_chirp`), in order.
pub fn assert_plays_the_chirp(edge: &Edge, url: &str, suffix: &str) {
    let probe = ffmpeg_over_edge("ffprobe", edge)
        .args(["-select_streams", "a:0", "-show_streams", "-of", "json"])
        .arg(url)
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let probed: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let audio = &probed["streams"][0];
    assert_eq!(
        (
            audio["codec_name"].as_str(),
            audio["profile"].as_str(),
            audio["sample_rate"].as_str(),
            audio["channels"].as_u64()
        ),
        (Some("aac"), Some("LC"), Some("48000"), Some(2)),
        "{probed}"
    );
    let capture = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    let copied = ffmpeg_over_edge("ffmpeg", edge)
        .arg("-i")
        .arg(url)
        .args(["-map", "0:a", "-t", "3", "-c", "copy", "-y"])
        .arg(capture.path())
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let moments = vibes_testkit::chirp::stream_moments(capture.path());
    assert!(
        moments.len() >= 50,
        "≥ 2.5 s of the chirp decoded: {} windows",
        moments.len()
    );
    assert!(moments.windows(2).all(|pair| pair[1] > pair[0]), "in order");
}

/// The playlist through the edge once it lists `segments` whole segments.
pub fn playlist_with(edge: &Edge, path: &str, segments: usize) -> Reply {
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

/// Registers `vibe` as live with the registry at `registry_url`, as the
/// ingest pod `owner` would.
pub async fn register_stream(registry_url: &str, vibe: &str, owner: &str) {
    let registered = reqwest::Client::new()
        .put(format!("{registry_url}/internal/streams/{vibe}"))
        .json(&serde_json::json!({ "owner": owner, "creator": null }))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "{}", registered.status());
}

/// One ffmpeg publishing a 440 Hz sine (AAC-LC 48 kHz stereo, 128 kb/s, in
/// real time, 60 s) straight into the engine as each of `vibes` (a tee; a
/// failing output does not stop the others). SRS's on_publish hook marks
/// each stream live in the registry.
pub fn publish_into_engine(
    rtmp_base_url: &str,
    vibes: &[String],
) -> vibes_testkit::process::TestProcess {
    let outputs: Vec<String> = vibes
        .iter()
        .map(|vibe| format!("[f=flv:onfail=ignore]{rtmp_base_url}/{vibe}"))
        .collect();
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg
        .args(["-v", "error", "-re", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:duration=60"])
        .args(["-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "128k"])
        .args(["-map", "0:a", "-f", "tee", &outputs.join("|")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    vibes_testkit::process::TestProcess::spawn("ffmpeg", ffmpeg)
}
