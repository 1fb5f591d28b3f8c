//! The supervisor with the real engine: starts it, reports it, restarts it
//! after it is killed, stops it.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use srs_supervisor::engine::EngineState;
use std::time::Duration;
use vibes_testkit::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_is_restarted_and_a_stop_ends_it() {
    let work_dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(&work_dir);
    settings.health.probe_interval = Duration::from_millis(200);
    // Long enough that the test sees the engine down before it is back, even
    // on a busy machine.
    settings.health.restart_backoff = vec![Duration::from_secs(2)];
    let config_file = work_dir
        .path()
        .join(srs_supervisor::engine::child::CONFIG_FILE);
    let running = support::start_running(work_dir, settings).await;
    let (address, supervisor, rtmp_port) = (
        running.address.clone(),
        running.supervisor.clone(),
        running.rtmp_port,
    );
    let metrics_address = running.metrics_address.clone();
    let ready = reqwest::get(format!("{address}/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let first_pid = supervisor.status().pid.expect("engine pid");
    let config = std::fs::read_to_string(&config_file).unwrap();
    assert!(
        config.contains(&format!("listen              127.0.0.1:{rtmp_port};"))
            && config.contains("gop_cache       off;"),
        "{config}"
    );

    // SAFETY: SIGKILL to the engine process the supervisor started.
    unsafe { libc::kill(first_pid as libc::pid_t, libc::SIGKILL) };
    wait_until(Duration::from_secs(5), || {
        supervisor.status().state != EngineState::Running
    })
    .await;
    let not_ready = reqwest::get(format!("{address}/health/ready"))
        .await
        .unwrap();
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = not_ready.json().await.unwrap();
    assert_eq!(body["parts"]["engine"]["status"], "down");

    wait_until(Duration::from_secs(20), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    let status = supervisor.status();
    assert_eq!(status.restarts, 1);
    assert_ne!(status.pid, Some(first_pid));
    assert!(status.last_failure.unwrap().contains("signal: 9"));
    let engine: Value = reqwest::get(format!("{address}/engine"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(engine["state"], "running");
    assert_eq!(engine["restarts"], 1);
    let restarts =
        vibes_testkit::http::metric(&metrics_address, "vibes_engine_restarts_total", &[]).await;
    assert!(
        restarts >= 1.0,
        "restarts are counted in /metrics: {restarts}"
    );
    // Only on the metrics listener: the API port has no /metrics.
    vibes_testkit::http::expect_problem(
        reqwest::get(format!("{address}/metrics")).await.unwrap(),
        reqwest::StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let second_pid = status.pid.unwrap();
    supervisor.stop().await;
    assert_eq!(supervisor.status().state, EngineState::Stopped);
    assert!(
        !std::path::Path::new(&format!("/proc/{second_pid}")).exists() || is_zombie(second_pid)
    );
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2) == Some("Z"))
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_keeps_dying_is_reported_as_a_crash_loop() {
    let work_dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(&work_dir);
    // A real program that exits at once, like an engine with a broken config.
    settings.engine.binary = "false".to_owned();
    settings.health.restart_backoff = vec![Duration::from_millis(20)];
    settings.health.crash_loop_failures = 3;
    let running = support::start(work_dir, settings).await;
    let (address, supervisor) = (running.address.clone(), running.supervisor.clone());

    wait_until(Duration::from_secs(10), || supervisor.status().crash_loop).await;
    let status = supervisor.status();
    assert!(status.restarts >= 3);
    assert!(status.last_failure.unwrap().contains("exited during start"));
    let ready = reqwest::get(format!("{address}/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    let detail = body["parts"]["engine"]["detail"].as_str().unwrap();
    assert!(detail.contains("crash loop"), "{detail}");
    supervisor.stop().await;
}
