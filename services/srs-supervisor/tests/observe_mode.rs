//! The `observe` mode (Kubernetes): the supervisor probes an engine it did
//! not start, readiness follows the engine, and it never restarts it.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use srs_supervisor::configuration::EngineMode;
use srs_supervisor::engine::{child, EngineState};
use std::process::{Command, Stdio};
use std::time::Duration;
use vibes_testkit::process::TestProcess;
use vibes_testkit::wait_until;

/// The real engine, started by the test as the kubelet would.
fn start_engine(
    work_dir: &std::path::Path,
    settings: &srs_supervisor::configuration::Settings,
) -> TestProcess {
    let mut engine_settings = settings.engine.clone();
    engine_settings.work_dir = work_dir.to_path_buf();
    child::prepare(&engine_settings).unwrap();
    let mut engine = Command::new(&settings.engine.binary);
    engine
        .args(["-c", child::CONFIG_FILE])
        .current_dir(work_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    TestProcess::spawn("srs", engine)
}

async fn readiness(address: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{address}/health/ready"))
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_an_engine_the_supervisor_never_restarts() {
    let work_dir = tempfile::tempdir().unwrap();
    let engine_dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(&work_dir);
    settings.engine.mode = EngineMode::Observe;
    settings.health.probe_interval = Duration::from_millis(100);
    settings.health.startup_timeout = Duration::from_secs(1);
    let engine = start_engine(engine_dir.path(), &settings);
    let engine_pid = engine.pid();
    let running = support::start_running(work_dir, settings.clone()).await;
    let (address, supervisor) = (running.address.clone(), running.supervisor.clone());
    assert_eq!(running.rtmp_port, settings.engine.rtmp_port);
    assert_eq!(readiness(&address).await.0, StatusCode::OK);
    let status = supervisor.status();
    assert_eq!(
        (status.mode, status.pid),
        ("observe", None),
        "it owns no process"
    );

    drop(engine);
    wait_until(Duration::from_secs(10), || {
        supervisor.status().state == EngineState::Down
    })
    .await;
    let (code, body) = readiness(&address).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    let detail = body["parts"]["engine"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("down") && detail.contains("probes failed"),
        "{detail}"
    );
    let metrics = vibes_testkit::http::scrape(&running.metrics_address).await;
    assert!(metrics.contains("vibes_engine_up"), "{metrics}");
    // Nobody restarted it: its ports stay closed and no restart is counted.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let status = supervisor.status();
    assert_eq!((status.state, status.restarts), (EngineState::Down, 0));
    assert!(
        !std::path::Path::new(&format!("/proc/{engine_pid}/status")).exists()
            || std::fs::read_to_string(format!("/proc/{engine_pid}/stat"))
                .unwrap()
                .split_whitespace()
                .nth(2)
                == Some("Z")
    );

    // The kubelet starts it again: ready again.
    let _engine = start_engine(engine_dir.path(), &settings);
    wait_until(Duration::from_secs(10), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    assert_eq!(readiness(&address).await.0, StatusCode::OK);
    supervisor.stop().await;
}
