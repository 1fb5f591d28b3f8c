//! `child` mode: the engine is this process's child. Spawned, watched,
//! killed and spawned again when it exits or stops answering; SIGTERM on stop.

use crate::configuration::EngineSettings;
use crate::engine::srs_config;
use crate::engine::supervisor::{Context, Outcome};
use crate::engine::EngineState;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// SRS's config in the engine's folder, rewritten at every supervisor start.
pub const CONFIG_FILE: &str = "engine.conf";

/// Time the engine gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Prepares the engine's folder: SRS's config and the folders it writes to.
pub fn prepare(engine: &EngineSettings) -> std::io::Result<()> {
    std::fs::create_dir_all(engine.work_dir.join(srs_config::HLS_DIR))?;
    std::fs::create_dir_all(engine.work_dir.join(srs_config::RUN_DIR))?;
    std::fs::write(
        engine.work_dir.join(CONFIG_FILE),
        srs_config::render(engine),
    )
}

pub(crate) async fn supervise(mut context: Context) {
    let mut restarts = context.restarts();
    loop {
        let outcome = match spawn(&context) {
            Ok(mut child) => {
                let outcome = context.watch(&mut restarts, exit_of(&mut child)).await;
                match outcome {
                    Outcome::StopRequested => terminate(&mut child).await,
                    Outcome::Failed(_) => {
                        let _ = child.kill().await;
                    }
                }
                outcome
            }
            Err(error) => Outcome::Failed(format!(
                "could not start {}: {error}",
                context.settings.engine.binary
            )),
        };
        match outcome {
            Outcome::StopRequested => {
                context.stopped(&mut restarts);
                tracing::info!("engine stopped");
                return;
            }
            Outcome::Failed(reason) => {
                if context.restart_after(&mut restarts, reason).await {
                    return;
                }
            }
        }
    }
}

fn spawn(context: &Context) -> std::io::Result<Child> {
    let engine = &context.settings.engine;
    // SRS writes its own log (or stdout); what it prints before it has read
    // its config lands in the same file.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(engine.work_dir.join(srs_config::LOG_FILE))?;
    let child = Command::new(&engine.binary)
        .args(["-c", CONFIG_FILE])
        .current_dir(&engine.work_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    tracing::info!(pid = child.id(), binary = %engine.binary, "engine process started");
    context.update(|status| {
        status.state = EngineState::Starting;
        status.pid = child.id();
        status.started_at = Some(std::time::SystemTime::now());
    });
    Ok(child)
}

async fn exit_of(child: &mut Child) -> String {
    match child.wait().await {
        Ok(status) => status.to_string(),
        Err(error) => format!("wait failed: {error}"),
    }
}

/// SIGTERM first so the engine closes its connections; SIGKILL if it lingers.
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: plain syscall on a pid we own and have not reaped yet.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}
