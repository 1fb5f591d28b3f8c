//! Starts the whole stack the way production runs it, on free loopback ports:
//! Redis, SRS (through srs-supervisor), the four services and nginx.
//! The services run in-process, each on its own port-0 listeners (API and
//! metrics); everything else is a real child process.

use gateway::startup::Listeners;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use vibes_testkit::edge::{Edge, EdgeUpstreams, Reply};

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
        let (supervisor_listeners, supervisor_port) = loopback_listeners();

        let mut supervisor_settings = srs_supervisor::configuration::load().expect("settings");
        let engine = &mut supervisor_settings.engine;
        engine.binary = vibes_testkit::engine_binary();
        engine.work_dir = runtime_dir.path().join("engine");
        [engine.rtmp_port, engine.http_port, engine.api_port] = vibes_testkit::free_ports();
        engine.hooks_url = format!("http://127.0.0.1:{registry_port}/internal/engine-hooks/srs");
        let engine = engine.clone();
        supervisor_settings.registry.url = format!("http://127.0.0.1:{registry_port}");
        supervisor_settings.operator.token = OPERATOR_TOKEN.to_owned().into();
        let supervisor = srs_supervisor::startup::Application::build_on(
            supervisor_listeners,
            supervisor_settings,
        )
        .expect("supervisor");
        let supervisor_handle = supervisor.supervisor().into_inner();
        tokio::spawn(supervisor.run_until_stopped());

        let edge = Edge::start_with_env(
            &runtime_dir.path().join("edge"),
            &EdgeUpstreams {
                gateway_port,
                registry_port,
                engine_flv_port: engine.http_port,
                engine_hls_port: engine.http_port,
                supervisor_port,
            },
            edge_env,
        );

        let mut registry_settings = session_registry::configuration::load().expect("settings");
        registry_settings.redis.url = vibes_testkit::redis_server::redis_url();
        registry_settings.playback.public_base_url = edge.url("");
        registry_settings.playback.token_secret = PLAYBACK_TOKEN_SECRET.to_owned().into();
        registry_settings.playback.edge_relay_key =
            vibes_testkit::edge::EDGE_RELAY_KEY.to_owned().into();
        registry_settings.engine.api_url = format!("http://127.0.0.1:{}", engine.api_port);
        customize_registry(&mut registry_settings);
        let registry =
            session_registry::startup::Application::build_on(registry_listeners, registry_settings)
                .expect("registry");
        tokio::spawn(registry.run_until_stopped());

        let mut ingest_settings = ingest::configuration::load().expect("settings");
        ingest_settings.instance_id = "ingest-e2e".to_owned();
        ingest_settings.registry.url = format!("http://127.0.0.1:{registry_port}");
        let rtmp_base_url = format!("rtmp://127.0.0.1:{}/live", engine.rtmp_port);
        ingest_settings.encoder.rtmp_base_url = rtmp_base_url.clone();
        let ingest_pool = format!("e2e-{}", vibes_testkit::unique_suffix());
        ingest_settings.ownership.redis_url = vibes_testkit::redis_server::redis_url();
        ingest_settings.ownership.pool = ingest_pool.clone();
        let (listeners, _) = loopback_listeners();
        let ingest = ingest::startup::Application::build_on(listeners, ingest_settings)
            .await
            .expect("ingest");
        let ingest_streams = ingest.streams().into_inner();
        tokio::spawn(ingest.run_until_stopped());

        let mut gateway_settings = gateway::configuration::load().expect("settings");
        let upstreams = &mut gateway_settings.upstreams;
        upstreams.registry_url = format!("http://127.0.0.1:{registry_port}");
        upstreams.ingest_pool = ingest_pool.clone();
        upstreams.supervisor_url = format!("http://127.0.0.1:{supervisor_port}");
        gateway_settings.auth.secret = vibes_testkit::tokens::AUTH_SECRET.to_owned().into();
        gateway_settings.redis.url = vibes_testkit::redis_server::redis_url();
        // The edge's own web pages call the API from this origin, and browsers
        // send `Origin` even on same-origin POSTs: the gateway must list it.
        gateway_settings.cors.allowed_origins = edge.url("");
        let gateway = gateway::startup::Application::build_on(gateway_listeners, gateway_settings)
            .expect("gateway");
        tokio::spawn(gateway.run_until_stopped());

        Self {
            edge,
            ingest_streams,
            supervisor: supervisor_handle,
            supervisor_url: format!("http://127.0.0.1:{supervisor_port}"),
            ingest_pool,
            registry_url: format!("http://127.0.0.1:{registry_port}"),
            rtmp_base_url,
            engine_http_port: engine.http_port,
            engine_api_url: format!("http://127.0.0.1:{}", engine.api_port),
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
        let url = format!("{}/api/v1/{resource}", self.engine_api_url);
        let answer = reqwest::get(&url).await.expect("SRS's API answers");
        answer.json().await.expect("SRS's API answers JSON")
    }

    /// The last `lines` lines of the edge's error log and of SRS's log, for
    /// a failing test to print: the relay's and the engine's side of a
    /// playback that never started are only there.
    pub fn logs_tail(&self, lines: usize) -> String {
        let runtime = self.runtime_dir.path();
        [
            runtime.join("edge/error.log"),
            runtime
                .join("engine")
                .join(srs_supervisor::engine::srs_config::LOG_FILE),
        ]
        .iter()
        .map(|log| {
            let text = std::fs::read_to_string(log).unwrap_or_else(|error| error.to_string());
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            format!("--- {} (last {lines} lines)\n{tail}", log.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// Polls `GET /health` through the edge until every part is up.
    pub fn wait_until_healthy(&self, limit: Duration) -> Reply {
        let deadline = Instant::now() + limit;
        loop {
            let reply = self.edge.get("/health");
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
}
