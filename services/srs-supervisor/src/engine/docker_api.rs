//! The few Docker Engine API calls the `docker` mode needs, over the daemon's
//! unix socket: inspect, create, start, restart (and the daemon's version).
//! Every path names the configured API version, so a newer daemon answers in
//! the shape this client was written against.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("the Docker socket {socket} is unreachable: {source}")]
    Unreachable {
        socket: String,
        source: std::io::Error,
    },
    #[error("the Docker API exchange failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("the Docker API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the Docker API answered {status}: {message}")]
    Api { status: StatusCode, message: String },
    #[error("the Docker API answered with unexpected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `State` of `GET /containers/{id}/json` (ContainerState), the fields we use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContainerState {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Restarting", default)]
    pub restarting: bool,
    #[serde(rename = "ExitCode", default)]
    pub exit_code: i64,
    #[serde(rename = "StartedAt", default)]
    pub started_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Container {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "RestartCount", default)]
    pub restart_count: i64,
    #[serde(rename = "State")]
    pub state: ContainerState,
}

/// `GET /version`: which API versions the daemon serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DaemonVersion {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
}

impl DaemonVersion {
    /// True when the daemon serves API `version` (`1.44` style numbers).
    pub fn serves(&self, version: &str) -> bool {
        let parse = |text: &str| -> Option<(u32, u32)> {
            let (major, minor) = text.split_once('.')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        };
        match (
            parse(version),
            parse(&self.min_api_version),
            parse(&self.api_version),
        ) {
            (Some(wanted), Some(oldest), Some(newest)) => oldest <= wanted && wanted <= newest,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct ErrorResponse {
    message: String,
}

#[derive(Deserialize)]
struct CreateResponse {
    #[serde(rename = "Id")]
    id: String,
}

#[derive(Debug, Clone)]
pub struct DockerApi {
    socket: PathBuf,
    version: String,
    timeout: Duration,
}

impl DockerApi {
    pub fn new(socket: PathBuf, version: &str, timeout: Duration) -> Self {
        Self {
            socket,
            version: version.to_owned(),
            timeout,
        }
    }

    /// `GET /version`, unversioned: it answers whatever versions the daemon serves.
    pub async fn daemon_version(&self) -> Result<DaemonVersion, DockerError> {
        let body = self.expect(Method::GET, "/version", None, &[200]).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// `GET /containers/{name}/json`; `None` when there is no such container.
    pub async fn inspect(&self, name: &str) -> Result<Option<Container>, DockerError> {
        let path = self.versioned(&format!("/containers/{name}/json"));
        let (status, body) = self.send(Method::GET, &path, None).await?;
        match status {
            StatusCode::OK => Ok(Some(serde_json::from_slice(&body)?)),
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(api_error(status, &body)),
        }
    }

    /// `POST /containers/create?name=…` with a ContainerConfig + HostConfig body.
    pub async fn create(&self, name: &str, spec: &Value) -> Result<String, DockerError> {
        let path = self.versioned(&format!("/containers/create?name={name}"));
        let body = self
            .expect(Method::POST, &path, Some(spec.to_string()), &[201])
            .await?;
        let created: CreateResponse = serde_json::from_slice(&body)?;
        Ok(created.id)
    }

    /// `POST /containers/{id}/start`; an already running container (304) is fine.
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        let path = self.versioned(&format!("/containers/{id}/start"));
        self.expect(Method::POST, &path, None, &[204, 304]).await?;
        Ok(())
    }

    /// `POST /containers/{id}/restart?t=…`: SIGTERM, `t` seconds, then SIGKILL, then start.
    pub async fn restart(&self, id: &str, stop_timeout: Duration) -> Result<(), DockerError> {
        let path = self.versioned(&format!(
            "/containers/{id}/restart?t={}",
            stop_timeout.as_secs()
        ));
        self.expect(Method::POST, &path, None, &[204]).await?;
        Ok(())
    }

    fn versioned(&self, path: &str) -> String {
        format!("/v{}{path}", self.version)
    }

    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        accepted: &[u16],
    ) -> Result<Bytes, DockerError> {
        let (status, answer) = self.send(method, path, body).await?;
        if accepted.contains(&status.as_u16()) {
            Ok(answer)
        } else {
            Err(api_error(status, &answer))
        }
    }

    /// One request on a fresh connection (the supervisor makes a few a minute).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Bytes), DockerError> {
        let exchange = async {
            let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
                DockerError::Unreachable {
                    socket: self.socket.display().to_string(),
                    source,
                }
            })?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "Docker API connection closed");
                }
            });
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, "docker");
            if body.is_some() {
                request = request.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let request = request
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .expect("a request built from valid parts");
            let response = sender.send_request(request).await?;
            let status = response.status();
            let answer = response.into_body().collect().await?.to_bytes();
            Ok((status, answer))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| DockerError::Timeout(self.timeout))?
    }
}

fn api_error(status: StatusCode, body: &[u8]) -> DockerError {
    let message = serde_json::from_slice::<ErrorResponse>(body)
        .map(|error| error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    DockerError::Api { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_serves_the_versions_between_its_oldest_and_newest() {
        let daemon = |min: &str, max: &str| DaemonVersion {
            version: "29.0.0".to_owned(),
            api_version: max.to_owned(),
            min_api_version: min.to_owned(),
        };
        assert!(daemon("1.44", "1.52").serves("1.44"));
        assert!(daemon("1.24", "1.44").serves("1.44"));
        assert!(!daemon("1.24", "1.43").serves("1.44"), "Docker 24");
        assert!(!daemon("1.45", "1.52").serves("1.44"));
        assert!(!daemon("x", "1.52").serves("1.44"));
    }
}
