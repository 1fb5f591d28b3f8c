//! The `docker` mode against a recorded Docker Engine API exchange: no Docker
//! engine runs here, so a unix-socket HTTP server in the test replays request
//! and response pairs stored in `tests/fixtures/docker/` (shaped like the
//! Engine API 1.44 reference) and checks that the supervisor sent exactly the
//! expected requests, in order, with the expected bodies.

use serde_json::Value;
use srs_supervisor::configuration::{self, EngineMode, Settings};
use srs_supervisor::engine::docker::{client, ensure_running, EnsureError};
use srs_supervisor::engine::docker_api::DockerError;
use srs_supervisor::engine::{EngineState, EngineSupervisor};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use vibes_testkit::wait_until;

const CONTAINER_ID: &str = "6f3a9c1e2b7d4a08c5e1f92b3d6a7c4e8b0f1d2c3a4b5c6d7e8f9a0b1c2d3e4f";

/// A request as the replaying daemon received it.
#[derive(Debug, Clone, PartialEq)]
struct Received {
    method: String,
    path: String,
    host: Option<String>,
    body: Option<Value>,
}

/// Serves the fixture's exchanges in order on a unix socket; every request is
/// recorded, and a request that is not the next expected one gets a 500
/// naming the difference (so the client sees an error, and the test too).
struct ReplayDaemon {
    socket: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
    exchanges: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl ReplayDaemon {
    fn start(fixture: &str, placeholders: &[(&str, String)]) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/docker")
            .join(fixture);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (name, value) in placeholders {
            text = text.replace(&format!("${{{name}}}"), value);
        }
        let fixture: Value = serde_json::from_str(&text).unwrap();
        let exchanges = fixture["exchanges"].as_array().unwrap().clone();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (served, log) = (exchanges.clone(), received.clone());
        tokio::spawn(async move {
            let mut next = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let expected = served.get(next).cloned();
                next += 1;
                answer(stream, expected, &log).await;
            }
        });
        Self {
            socket,
            received,
            exchanges,
            _dir: dir,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every exchange of the fixture happened, exactly as recorded.
    fn assert_replayed_in_full(&self) {
        let received = self.received();
        let expected: Vec<Received> = self
            .exchanges
            .iter()
            .map(|exchange| {
                let request = &exchange["request"];
                Received {
                    method: request["method"].as_str().unwrap().to_owned(),
                    path: request["path"].as_str().unwrap().to_owned(),
                    host: Some("docker".to_owned()),
                    body: request.get("body").cloned(),
                }
            })
            .collect();
        assert_eq!(received, expected);
    }
}

async fn answer(
    stream: tokio::net::UnixStream,
    expected: Option<Value>,
    log: &Mutex<Vec<Received>>,
) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await.unwrap();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .map_or(0, |length| length.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    let received = Received {
        method,
        path,
        host: headers.get("host").cloned(),
        body: (!body.is_empty()).then(|| serde_json::from_slice(&body).expect("a JSON body")),
    };
    if received.body.is_some() {
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    log.lock().unwrap().push(received.clone());

    let (status, response_headers, response_body) = match expected {
        Some(exchange) if matches_request(&exchange["request"], &received) => {
            let response = &exchange["response"];
            let body = match &response["body"] {
                Value::Null => String::new(),
                body => format!("{body}\n"),
            };
            (response["status"].as_u64().unwrap(), response["headers"].clone(), body)
        }
        other => (
            500,
            serde_json::json!({"Content-Type": "application/json"}),
            serde_json::json!({"message": format!("unexpected request {received:?}; expected {other:?}")}).to_string(),
        ),
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in response_headers.as_object().unwrap() {
        head.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap()));
    }
    if status != 204 && status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", response_body.len()));
    }
    head.push_str("\r\n");
    let mut stream = reader.into_inner();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(response_body.as_bytes()).await.unwrap();
    stream.shutdown().await.ok();
}

fn matches_request(expected: &Value, received: &Received) -> bool {
    expected["method"] == received.method.as_str()
        && expected["path"] == received.path.as_str()
        && expected.get("body").cloned() == received.body
}

fn reason(status: u64) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    }
}

/// Settings of the docker mode as compose runs it, the engine on `ports`.
fn docker_settings(socket: &Path, ports: [u16; 3]) -> Settings {
    vibes_testkit::init_test_logging();
    let mut settings = configuration::load().unwrap();
    settings.engine.mode = EngineMode::Docker;
    [
        settings.engine.rtmp_port,
        settings.engine.http_port,
        settings.engine.api_port,
    ] = ports;
    settings.docker.socket = socket.to_path_buf();
    settings.docker.config_host_path = "/srv/vibesflow/compose/srs.conf".to_owned();
    settings.docker.hls_volume = "vibesflow_srs-hls".to_owned();
    settings.docker.networks = "vibesflow_public vibesflow_internal".to_owned();
    settings.registry.url = String::new();
    settings.health.probe_interval = Duration::from_millis(100);
    settings.health.probe_timeout = Duration::from_millis(200);
    settings.health.restart_backoff = vec![Duration::from_millis(50)];
    settings
}

/// Stands in for the container's engine: something accepts on each port.
fn engine_ports(ports: [u16; 3]) -> Vec<TcpListener> {
    ports
        .iter()
        .map(|port| TcpListener::bind(("127.0.0.1", *port)).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_container_is_started_not_created() {
    let daemon = ReplayDaemon::start("start_stopped_container.json", &[]);
    let settings = docker_settings(&daemon.socket, [1935, 8080, 1985]);
    let id = ensure_running(&client(&settings), &settings, false)
        .await
        .unwrap();
    assert_eq!(id, CONTAINER_ID);
    daemon.assert_replayed_in_full();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_too_old_for_the_api_version_is_reported_with_its_message() {
    let daemon = ReplayDaemon::start("daemon_too_old.json", &[]);
    let settings = docker_settings(&daemon.socket, [1935, 8080, 1985]);
    let error = ensure_running(&client(&settings), &settings, false)
        .await
        .unwrap_err();
    match &error {
        EnsureError::Docker(DockerError::Api { status, message }) => {
            assert_eq!(status.as_u16(), 400);
            assert!(
                message.contains("Maximum supported API version is 1.43"),
                "{message}"
            );
        }
        other => panic!("expected the daemon's refusal, got {other:?}"),
    }
    daemon.assert_replayed_in_full();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_container_is_not_created_without_its_config_file() {
    let daemon = ReplayDaemon::start("create_start_then_restart.json", &[]);
    let mut settings = docker_settings(&daemon.socket, [1935, 8080, 1985]);
    settings.docker.config_host_path = String::new();
    // The fixture's first exchange is GET /version; ask for it, then the container.
    let version = client(&settings).daemon_version().await.unwrap();
    assert_eq!(
        (version.version.as_str(), version.api_version.as_str()),
        ("25.0.5", "1.44")
    );
    assert!(version.serves("1.44"));
    let error = ensure_running(&client(&settings), &settings, false)
        .await
        .unwrap_err();
    assert!(
        matches!(error, EnsureError::CannotCreate(ref name) if name == "vibesflow-srs"),
        "{error}"
    );
    assert_eq!(
        daemon.received().len(),
        2,
        "nothing created: {:?}",
        daemon.received()
    );
}

/// Span names and fields as they closed.
#[derive(Clone, Default)]
struct ClosedSpans(Arc<Mutex<Vec<ClosedSpan>>>);

/// A span's name and its fields' last values.
type ClosedSpan = (String, BTreeMap<String, String>);

struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for ClosedSpans {
    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        context: Context<'_, S>,
    ) {
        let mut fields = Fields(BTreeMap::new());
        attributes.record(&mut fields);
        context.span(id).unwrap().extensions_mut().insert(fields);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        context: Context<'_, S>,
    ) {
        if let Some(fields) = context
            .span(id)
            .unwrap()
            .extensions_mut()
            .get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: tracing::span::Id, context: Context<'_, S>) {
        let span = context.span(&id).unwrap();
        let fields = span
            .extensions()
            .get::<Fields>()
            .map(|fields| fields.0.clone())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((span.name().to_owned(), fields));
    }
}

/// The whole docker mode: the container is created and started, runs, stops
/// answering, is restarted through the API, and runs again; the restart is
/// counted, logged and traced as an `engine_restart` span.
#[tokio::test(flavor = "current_thread")]
async fn the_docker_mode_creates_starts_and_restarts_the_container() {
    let spans = ClosedSpans::default();
    let _tracing =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let ports = vibes_testkit::free_ports();
    let daemon = ReplayDaemon::start(
        "create_start_then_restart.json",
        &[
            ("RTMP_PORT", ports[0].to_string()),
            ("HTTP_PORT", ports[1].to_string()),
            ("API_PORT", ports[2].to_string()),
        ],
    );
    let engine = engine_ports(ports);
    let supervisor = EngineSupervisor::start(docker_settings(&daemon.socket, ports)).unwrap();
    wait_until(Duration::from_secs(10), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    let status = supervisor.status();
    assert_eq!(status.mode, "docker");
    assert_eq!(status.container.as_deref(), Some(CONTAINER_ID));
    assert_eq!(status.restarts, 0);
    assert_eq!(
        daemon.received().len(),
        4,
        "version, inspect, create, start"
    );

    // The engine stops answering; after three failed probes it is restarted.
    drop(engine);
    wait_until(Duration::from_secs(10), || daemon.received().len() == 6).await;
    let engine = engine_ports(ports);
    wait_until(Duration::from_secs(10), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    let status = supervisor.status();
    assert_eq!(status.restarts, 1);
    assert!(
        status
            .last_failure
            .as_deref()
            .unwrap()
            .contains("3 probes failed"),
        "{status:?}"
    );
    daemon.assert_replayed_in_full();

    supervisor.stop().await;
    assert_eq!(supervisor.status().state, EngineState::Stopped);
    drop(engine);
    let restarts: Vec<_> = spans
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| name == "engine_restart")
        .cloned()
        .collect();
    assert_eq!(restarts.len(), 1, "one engine_restart span: {restarts:?}");
    let fields = &restarts[0].1;
    assert_eq!(fields["engine.mode"], "docker");
    assert_eq!(fields["outcome"], "running");
    assert_eq!(fields["attempt"], "1");
    assert!(fields["reason"].contains("probes failed"), "{fields:?}");
    assert!(
        fields["downtime_ms"].parse::<u64>().unwrap() > 0,
        "{fields:?}"
    );
}
