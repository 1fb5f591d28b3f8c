//! Starting the supervisor for tests: the real local engine on free ports.

use srs_supervisor::configuration::{self, Settings};
use srs_supervisor::engine::{EngineState, EngineSupervisor};
use srs_supervisor::startup::Supervisor;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

pub struct Running {
    pub address: String,
    /// Where the supervisor's `/metrics` is (its own listener).
    pub metrics_address: String,
    pub supervisor: Arc<EngineSupervisor>,
    pub rtmp_port: u16,
    _work_dir: TempDir,
}

/// The operators' key of the test supervisors (see `operator.token`).
pub const OPERATOR_TOKEN: &str = "0992492743ce96cd1cd636644cb241766bf3c053ffdee291f434460acdbe3f52";

/// Settings for the installed engine in a fresh folder, every port free, no hooks.
pub fn settings(work_dir: &TempDir) -> Settings {
    vibes_testkit::init_test_logging();
    let mut settings = configuration::load().unwrap();
    settings.engine.binary = vibes_testkit::engine_binary();
    settings.engine.work_dir = work_dir.path().to_path_buf();
    settings.engine.hooks_url = String::new();
    settings.registry.url = String::new();
    [
        settings.engine.rtmp_port,
        settings.engine.http_port,
        settings.engine.api_port,
    ] = vibes_testkit::free_ports();
    settings.operator.token = OPERATOR_TOKEN.to_owned().into();
    settings
}

/// Starts the supervisor and waits until the engine runs.
pub async fn start_running(work_dir: TempDir, settings: Settings) -> Running {
    let running = start(work_dir, settings).await;
    let supervisor = running.supervisor.clone();
    vibes_testkit::wait_until(Duration::from_secs(20), || {
        supervisor.status().state == EngineState::Running
    })
    .await;
    running
}

/// Starts the supervisor (which starts the engine) on a port-0 listener.
pub async fn start(work_dir: TempDir, settings: Settings) -> Running {
    let rtmp_port = settings.engine.rtmp_port;
    let spawned = vibes_testkit::service::spawn::<Supervisor>(settings).await;
    Running {
        address: spawned.address,
        metrics_address: spawned.metrics_address,
        supervisor: spawned.service.engine.clone(),
        rtmp_port,
        _work_dir: work_dir,
    }
}
