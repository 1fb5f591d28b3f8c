//! `docker` mode: the engine is an SRS container managed through the Docker
//! Engine API. The supervisor creates it when it is missing, starts it when it
//! is stopped, and restarts it when it stops answering its probes (Docker's
//! own restart policy covers a process that exits, not one that hangs). When
//! the supervisor stops, the container keeps running: its streams outlive a
//! supervisor upgrade.

use crate::configuration::Settings;
use crate::engine::docker_api::{DockerApi, DockerError};
use crate::engine::supervisor::{Context, Outcome};
use crate::engine::EngineState;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Where the SRS image reads the config file and writes HLS files.
const SRS_CONFIG_PATH: &str = "/usr/local/srs/conf/vibes.conf";
const SRS_HLS_PATH: &str = "/usr/local/srs/objs/nginx/html";
/// SRS's pid file and FFmpeg logs (`srs_config::RUN_DIR` in the image).
const SRS_RUN_PATH: &str = "/usr/local/srs/objs/run";
/// The non-root user compose and k8s run SRS as.
const SRS_USER: &str = "10001:10001";
/// Marks containers this supervisor created.
const MANAGED_BY_LABEL: &str = "io.vibesflow.managed-by";

#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("container {0} does not exist and docker.config_host_path is empty, so it cannot be created")]
    CannotCreate(String),
}

pub(crate) async fn supervise(mut context: Context) {
    let docker = client(&context.settings);
    check_api_version(&docker, &context.settings.docker.api_version).await;
    let mut restarts = context.restarts();
    let mut restart_running_container = false;
    loop {
        let outcome =
            match ensure_running(&docker, &context.settings, restart_running_container).await {
                Ok(id) => {
                    context.update(|status| {
                        status.state = EngineState::Starting;
                        status.container = Some(id);
                        status.started_at = Some(std::time::SystemTime::now());
                    });
                    let outcome = context
                        .watch(&mut restarts, std::future::pending::<String>())
                        .await;
                    // A container that stopped answering is restarted even though
                    // Docker still sees its process running.
                    restart_running_container = matches!(outcome, Outcome::Failed(_));
                    outcome
                }
                Err(error) => Outcome::Failed(error.to_string()),
            };
        match outcome {
            Outcome::StopRequested => {
                context.stopped(&mut restarts);
                tracing::info!(
                    container = %context.settings.docker.container,
                    "supervisor stopping; the engine container keeps running"
                );
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

pub fn client(settings: &Settings) -> DockerApi {
    // A restart waits for the engine to stop (up to the stop timeout) before it answers.
    let timeout = settings.docker.stop_timeout + Duration::from_secs(30);
    DockerApi::new(
        settings.docker.socket.clone(),
        &settings.docker.api_version,
        timeout,
    )
}

/// Logs whether the daemon serves the configured API version; the requests
/// themselves fail with the daemon's own message if it does not.
async fn check_api_version(docker: &DockerApi, wanted: &str) {
    match docker.daemon_version().await {
        Ok(daemon) if daemon.serves(wanted) => {
            tracing::info!(docker = %daemon.version, api = wanted, "Docker daemon serves the API version");
        }
        Ok(daemon) => tracing::error!(
            docker = %daemon.version,
            api = wanted,
            oldest = %daemon.min_api_version,
            newest = %daemon.api_version,
            "Docker daemon does not serve the configured API version (docker.api_version)"
        ),
        Err(error) => tracing::warn!(%error, "Docker daemon version unknown"),
    }
}

/// Makes the engine's container run: create it if missing, start it if
/// stopped, restart it if `restart_running` (it stopped answering). Returns its id.
pub async fn ensure_running(
    docker: &DockerApi,
    settings: &Settings,
    restart_running: bool,
) -> Result<String, EnsureError> {
    let name = &settings.docker.container;
    match docker.inspect(name).await? {
        None => {
            if settings.docker.config_host_path.is_empty() {
                return Err(EnsureError::CannotCreate(name.clone()));
            }
            let id = docker.create(name, &container_spec(settings)).await?;
            docker.start(&id).await?;
            tracing::info!(container = %name, %id, "engine container created and started");
            Ok(id)
        }
        Some(container) if !container.state.running => {
            docker.start(&container.id).await?;
            tracing::info!(
                container = %name,
                was = %container.state.status,
                exit_code = container.state.exit_code,
                "engine container started"
            );
            Ok(container.id)
        }
        Some(container) if restart_running => {
            docker
                .restart(&container.id, settings.docker.stop_timeout)
                .await?;
            tracing::info!(container = %name, "engine container restarted");
            Ok(container.id)
        }
        Some(container) => Ok(container.id),
    }
}

/// The SRS container as VibesFlow runs it (the same as compose's `srs`
/// service): the generated srs.conf (see `srs_config`), the engine's ports,
/// and the same hardening: a non-root user, a read-only root filesystem with
/// only the HLS volume and a tmpfs for `objs/run` writable, no capabilities,
/// no privilege escalation.
pub fn container_spec(settings: &Settings) -> Value {
    let docker = &settings.docker;
    let engine = &settings.engine;
    let mut binds = vec![format!("{}:{SRS_CONFIG_PATH}:ro", docker.config_host_path)];
    if !docker.hls_volume.is_empty() {
        // nocopy: the image's pages in that folder are not copied in (the
        // copy would hand the folder to root).
        binds.push(format!("{}:{SRS_HLS_PATH}:nocopy", docker.hls_volume));
    }
    let mut exposed = Map::new();
    for port in [engine.rtmp_port, engine.http_port, engine.api_port] {
        exposed.insert(format!("{port}/tcp"), json!({}));
    }
    let mut endpoints = Map::new();
    for network in docker.network_names() {
        endpoints.insert(network, json!({ "Aliases": [docker.network_alias] }));
    }
    json!({
        "Image": docker.image,
        "Cmd": docker.command_words(),
        "Labels": { MANAGED_BY_LABEL: "srs-supervisor" },
        "ExposedPorts": exposed,
        "StopTimeout": docker.stop_timeout.as_secs(),
        "User": SRS_USER,
        "HostConfig": {
            "Binds": binds,
            "RestartPolicy": { "Name": "unless-stopped" },
            "ReadonlyRootfs": true,
            "Tmpfs": { SRS_RUN_PATH: "uid=10001,gid=10001,mode=0700,size=16m" },
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges:true"],
        },
        "NetworkingConfig": { "EndpointsConfig": endpoints },
    })
}
