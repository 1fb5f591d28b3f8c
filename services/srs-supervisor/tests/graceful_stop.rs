//! The real binary: SIGTERM stops the engine cleanly and the supervisor exits 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vibes_testkit::free_ports;

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.split_whitespace().nth(2) != Some("Z"))
        .unwrap_or(false)
}

#[test]
fn sigterm_stops_the_engine_and_the_supervisor_exits_zero() {
    let work_dir = tempfile::tempdir().unwrap();
    let [port, metrics_port, rtmp_port, http_port, api_port] = free_ports();
    let mut supervisor = Command::new(env!("CARGO_BIN_EXE_srs-supervisor"))
        .env("VIBES_SERVER__PORT", port.to_string())
        .env("VIBES_METRICS__PORT", metrics_port.to_string())
        .env("VIBES_ENGINE__BINARY", vibes_testkit::engine_binary())
        .env("VIBES_ENGINE__WORK_DIR", work_dir.path())
        .env("VIBES_ENGINE__HOOKS_URL", "")
        .env("VIBES_ENGINE__RTMP_PORT", rtmp_port.to_string())
        .env("VIBES_ENGINE__HTTP_PORT", http_port.to_string())
        .env("VIBES_ENGINE__API_PORT", api_port.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the supervisor binary starts");

    let deadline = Instant::now() + Duration::from_secs(20);
    let engine_pid = loop {
        let status = Command::new("curl")
            .args(["-s", &format!("http://127.0.0.1:{port}/engine")])
            .output()
            .ok()
            .and_then(|output| serde_json::from_slice::<serde_json::Value>(&output.stdout).ok());
        if let Some(status) = status.filter(|status| status["state"] == "running") {
            break status["pid"].as_u64().expect("engine pid") as u32;
        }
        assert!(Instant::now() < deadline, "the engine did not start");
        std::thread::sleep(Duration::from_millis(100));
    };

    // SAFETY: SIGTERM to the supervisor process this test started.
    unsafe { libc::kill(supervisor.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = supervisor.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the supervisor did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
    assert!(
        !running(engine_pid),
        "the engine stopped with its supervisor"
    );
}
