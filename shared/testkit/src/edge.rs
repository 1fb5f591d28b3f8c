//! The real nginx edge with the repository's template, and curl as its client
//! (curl verifies the dev certificate like a browser would).

use crate::process::TestProcess;
use crate::{free_port, repo_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The key the test edge's FLV relay shows the engine; a registry behind a
/// test edge needs it as `playback.edge_relay_key`.
pub const EDGE_RELAY_KEY: &str = "a08044a1b9d834e8b83be29b7c9a861627ba220960b8930214a39c053f7b1dc3";

pub struct Edge {
    pub https_port: u16,
    pub http_port: u16,
    /// The edge's own Prometheus metrics (`/metrics`), plain HTTP.
    pub metrics_port: u16,
    pub certificate: PathBuf,
    nginx: TestProcess,
}

/// How the edge's nginx runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processes {
    /// One process, no workers: killing it (even with SIGKILL) leaves
    /// nothing behind. What most tests need.
    Single,
    /// A master and this many workers, as production runs it: each worker
    /// keeps its own FLV relay per stream, and SIGTERM to the master stops
    /// them all.
    MasterAndWorkers(u8),
}

/// Where the edge forwards to.
pub struct EdgeUpstreams {
    pub gateway_port: u16,
    pub registry_port: u16,
    pub engine_flv_port: u16,
    pub engine_hls_port: u16,
    /// srs-supervisor, for the read-only `/api/v1/*` stats routes.
    pub supervisor_port: u16,
    /// The hls-packager (LL-HLS); more replicas through `HLS_PACKAGER_ADDR`
    /// in the extra variables.
    pub hls_packager_port: u16,
}

impl EdgeUpstreams {
    /// The `*_ADDR` settings of the edge template, all on loopback.
    fn addresses(&self) -> [(&'static str, String); 6] {
        let loopback = |port: u16| format!("127.0.0.1:{port}");
        [
            ("GATEWAY_ADDR", loopback(self.gateway_port)),
            ("REGISTRY_ADDR", loopback(self.registry_port)),
            ("ENGINE_FLV_ADDR", loopback(self.engine_flv_port)),
            ("ENGINE_HLS_ADDR", loopback(self.engine_hls_port)),
            ("SUPERVISOR_ADDR", loopback(self.supervisor_port)),
            ("HLS_PACKAGER_ADDR", loopback(self.hls_packager_port)),
        ]
    }
}

impl Edge {
    pub fn start(runtime_dir: &Path, upstreams: &EdgeUpstreams) -> Self {
        Self::start_with_env(runtime_dir, upstreams, &[])
    }

    /// Like [`Edge::start`], with more variables for `scripts/render-edge-config`
    /// (they win over the ones set here, e.g. `EDGE_CORS_ORIGINS`, `EDGE_API_BURST`).
    pub fn start_with_env(
        runtime_dir: &Path,
        upstreams: &EdgeUpstreams,
        extra_env: &[(&str, &str)],
    ) -> Self {
        Self::start_as(runtime_dir, upstreams, extra_env, Processes::Single)
    }

    /// Like [`Edge::start_with_env`], with nginx run as `processes` says.
    pub fn start_as(
        runtime_dir: &Path,
        upstreams: &EdgeUpstreams,
        extra_env: &[(&str, &str)],
        processes: Processes,
    ) -> Self {
        let certificates = runtime_dir.join("tls");
        run_script(Command::new(repo_root().join("scripts/dev-cert")).arg(&certificates));
        // A port picked as free may be taken by another process before
        // nginx binds it; then nginx cannot start, and the other process
        // would answer in its place. Start again on other ports.
        for _ in 0..3 {
            let ports = (free_port(), free_port(), free_port());
            let mut nginx = spawn_nginx(runtime_dir, upstreams, extra_env, processes, ports);
            if started(&mut nginx, runtime_dir, Duration::from_secs(10)) {
                return Self {
                    https_port: ports.0,
                    http_port: ports.1,
                    metrics_port: ports.2,
                    certificate: certificates.join("edge.crt"),
                    nginx,
                };
            }
        }
        panic!("nginx could not listen on free ports three times");
    }

    /// Stops the edge as an orchestrator does: SIGTERM to nginx (its
    /// master, which stops its workers). Blocks until it has exited (at
    /// most 15 s, then it is killed); returns whether it exited on SIGTERM.
    pub fn stop(&mut self) -> bool {
        self.nginx.stop(Duration::from_secs(15))
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    /// `DELETE /stream/{vibe}` as the stream's creator: ends the stream.
    pub fn end_stream(&self, vibe: &str) -> Reply {
        let creator = crate::tokens::creator_bearer(vibe);
        let path = format!("/stream/{vibe}");
        self.request_as(Some(&creator), "DELETE", &path, None, &[])
    }

    /// Where the edge's own `/metrics` is (for `http::scrape`).
    pub fn metrics_address(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    /// One request through the edge.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        self.request_as(None, method, path, content_type, body)
    }

    /// One request through the edge with an `Authorization` header value.
    pub fn request_as(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        self.request_with_headers(authorization, method, path, content_type, &[], body)
    }

    /// One request through the edge with more headers.
    pub fn request_with_headers(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut curl = self.curl();
        curl.args(["-X", method, "--data-binary", "@-", "-H", "Expect:"]);
        for (name, value) in headers {
            curl.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(authorization) = authorization {
            curl.args(["-H", &format!("Authorization: {authorization}")]);
        }
        if let Some(content_type) = content_type {
            curl.args(["-H", &format!("Content-Type: {content_type}")]);
        } else {
            // curl adds a form content type to --data-binary unless told not to.
            curl.args(["-H", "Content-Type:"]);
        }
        curl.arg(self.url(path));
        Reply::from_curl_with_input(curl, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        let mut curl = self.curl();
        curl.arg(self.url(path));
        Reply::from_curl(curl)
    }

    /// Reads `path` (an endless FLV response) into `capture` for up to `limit`,
    /// reconnecting like a player when the answer is an error (the edge's 503
    /// while the stream has not started yet) or an empty body.
    pub fn listen(
        &self,
        path: &str,
        capture: &Path,
        limit: Duration,
    ) -> std::thread::JoinHandle<()> {
        let url = self.url(path);
        let certificate = self.certificate.clone();
        let capture = capture.to_path_buf();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + limit;
            while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
                let _ = Command::new("curl")
                    // --no-buffer: bytes reach the capture file as they
                    // arrive; --fail: an error's body is not audio.
                    .args(["-sSNf", "--max-time", &format!("{:.1}", left.as_secs_f64())])
                    .arg("--cacert")
                    .arg(&certificate)
                    .arg("-o")
                    .arg(&capture)
                    .arg(&url)
                    .stderr(Stdio::null())
                    .status();
                let received = std::fs::metadata(&capture)
                    .map(|meta| meta.len())
                    .unwrap_or(0);
                if received > 0 {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    }

    /// curl with the dev CA, bounded time, headers on stdout before the body.
    pub fn curl(&self) -> Command {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--max-time", "15", "-D", "-", "--cacert"])
            .arg(&self.certificate);
        curl
    }
}

/// Renders the edge config for these ports and starts nginx on it.
fn spawn_nginx(
    runtime_dir: &Path,
    upstreams: &EdgeUpstreams,
    extra_env: &[(&str, &str)],
    processes: Processes,
    (https_port, http_port, metrics_port): (u16, u16, u16),
) -> TestProcess {
    let workers = match processes {
        Processes::Single => "auto".to_owned(),
        Processes::MasterAndWorkers(workers) => workers.to_string(),
    };
    let certificates = runtime_dir.join("tls");
    let config = runtime_dir.join("edge.conf");
    let mut render = Command::new(repo_root().join("scripts/render-edge-config"));
    render
        .arg(&config)
        .env("EDGE_RUNTIME_DIR", runtime_dir)
        .env("EDGE_TLS_CERT", certificates.join("edge.crt"))
        .env("EDGE_TLS_KEY", certificates.join("edge.key"))
        .env("EDGE_HTTPS_PORT", https_port.to_string())
        .env("EDGE_HTTP_PORT", http_port.to_string())
        .env("EDGE_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        // Short, so a test sees a leave take effect at the edge quickly.
        .env("EDGE_PLAYBACK_AUTH_CACHE", "1s")
        .env("EDGE_FLV_REAUTH_SECONDS", "1")
        .env("EDGE_RELAY_KEY", EDGE_RELAY_KEY)
        .env("EDGE_WORKER_PROCESSES", workers)
        .envs(upstreams.addresses())
        .envs(extra_env.iter().copied());
    run_script(&mut render);
    let mut nginx = Command::new(nginx_binary());
    nginx
        .arg("-p")
        .arg(runtime_dir)
        .arg("-c")
        .arg(&config)
        .arg("-e")
        .arg(runtime_dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match processes {
        Processes::Single => {
            // worker_processes is ignored without a master.
            nginx.args(["-g", "daemon off; master_process off;"]);
            TestProcess::spawn("nginx", nginx)
        }
        Processes::MasterAndWorkers(_) => {
            nginx.args(["-g", "daemon off;"]);
            TestProcess::spawn_group("nginx", nginx)
        }
    }
}

/// Whether `nginx` has opened every port it listens on: it writes its pid
/// file (`EDGE_RUNTIME_DIR/nginx.pid`) only after binding all of them. One
/// of them may be taken meanwhile by another process (a free port is only
/// free when it is picked); nginx then retries for a few seconds and exits,
/// after having bound the others, so a listening HTTPS port alone proves
/// nothing. False once nginx has exited.
fn started(nginx: &mut TestProcess, runtime_dir: &Path, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let pid_file = runtime_dir.join("nginx.pid");
    let pid = nginx.pid().to_string();
    while std::time::Instant::now() < deadline {
        let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if written.trim() == pid {
            return true;
        }
        if !nginx.is_running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A response as curl reports it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// Runs a curl command made with [`Edge::curl`] (headers on stdout before the body).
    pub fn from_curl(curl: Command) -> Self {
        Self::from_curl_with_input(curl, &[])
    }

    fn from_curl_with_input(mut curl: Command, input: &[u8]) -> Self {
        use std::io::Write;
        let mut child = curl
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl runs");
        child
            .stdin
            .take()
            .expect("stdin piped")
            .write_all(input)
            .expect("body sent to curl");
        let output = child.wait_with_output().expect("curl finishes");
        assert!(
            output.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        parse_response(&output.stdout)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn parse_response(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("curl printed headers");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn nginx_binary() -> String {
    std::env::var("VIBES_TEST_NGINX_BINARY").unwrap_or_else(|_| "nginx".to_owned())
}

fn run_script(command: &mut Command) {
    let output = command.output().expect("script runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
