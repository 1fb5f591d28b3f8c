use crate::process::TestProcess;
use crate::{free_port, wait_for_port};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Set by `./scripts/test` to share one Redis across all test binaries.
pub const SHARED_REDIS_ENV: &str = "VIBES_TEST_REDIS_URL";

/// A Redis for this test binary: the shared one when the test script started it,
/// otherwise one started here on a free port, once per binary. Tests keep their
/// data apart by using unique vibe ids, so sharing is safe.
pub fn redis_url() -> String {
    if let Ok(url) = std::env::var(SHARED_REDIS_ENV) {
        return url;
    }
    static SERVER: OnceLock<(TestProcess, String)> = OnceLock::new();
    SERVER
        .get_or_init(|| start_redis().expect_started())
        .1
        .clone()
}

/// A connection to this test binary's Redis ([`redis_url`]), for tests of
/// Redis scripts.
pub async fn connection() -> vibes_redis::ConnectionManager {
    vibes_redis::RedisConnector::new(&redis_url(), Duration::from_secs(2))
        .expect("a valid Redis URL")
        .connection()
        .await
        .expect("Redis is reachable")
}

/// Starts a private Redis that the caller owns (for tests that stop it).
pub fn start_redis() -> RedisStart {
    start_redis_on(free_port())
}

/// Starts a private Redis on `port`, e.g. again after stopping one there.
pub fn start_redis_on(port: u16) -> RedisStart {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let process = TestProcess::spawn("redis-server", command);
    wait_for_port(port, Duration::from_secs(10));
    RedisStart {
        process,
        url: format!("redis://127.0.0.1:{port}/"),
        port,
    }
}

pub struct RedisStart {
    pub process: TestProcess,
    pub url: String,
    pub port: u16,
}

impl RedisStart {
    fn expect_started(self) -> (TestProcess, String) {
        (self.process, self.url)
    }
}
