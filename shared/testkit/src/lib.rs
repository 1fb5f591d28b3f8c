//! Helpers for tests that run real processes. Everything binds to 127.0.0.1.

pub mod audio;
pub mod chirp;
pub mod edge;
pub mod http;
pub mod process;
pub mod redis_server;
pub mod service;
pub mod tokens;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A port that was free a moment ago, for processes that cannot bind port 0
/// and report it back (Redis, the engine, nginx).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// `N` distinct ports that were free a moment ago: each is held until all
/// are picked (one at a time, the system may hand out the same port twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    std::array::from_fn(|index| listeners[index].local_addr().expect("bound").port())
}

/// A fresh suffix for names tests must not share (Redis pools, stream ids).
pub fn unique_suffix() -> String {
    vibes_domain::ParticipantId::generate().to_string()
}

/// Waits until something accepts TCP connections on `port`, or panics after `limit`.
pub fn wait_for_port(port: u16, limit: Duration) {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + limit;
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {address} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Service logs are silent in tests unless `TEST_LOG` is set.
pub fn init_test_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let level = "info,actix_server=warn";
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::util::SubscriberInitExt::try_init(
                vibes_telemetry::subscriber(level, std::io::stderr),
            );
        } else {
            let _ = tracing_subscriber::util::SubscriberInitExt::try_init(
                vibes_telemetry::subscriber(level, std::io::sink),
            );
        }
    });
}

/// The SRS version every test runs: `SRS_VERSION` in `scripts/srs-pin`.
pub fn srs_version() -> &'static str {
    const PIN: &str = include_str!("../../../scripts/srs-pin");
    PIN.lines()
        .find_map(|line| line.strip_prefix("SRS_VERSION="))
        .expect("scripts/srs-pin names SRS_VERSION")
        .trim()
}

/// The SRS binary: `VIBES_TEST_ENGINE_BINARY`, else where
/// `scripts/install-srs` builds the pinned version, else `srs` on the PATH.
pub fn engine_binary() -> String {
    if let Ok(binary) = std::env::var("VIBES_TEST_ENGINE_BINARY") {
        return binary;
    }
    let cache = std::env::var("VIBES_SRS_CACHE_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.cache/vibesflow/srs",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let built = format!("{cache}/{}/srs", srs_version());
    if std::path::Path::new(&built).exists() {
        built
    } else {
        "srs".to_owned()
    }
}

/// The repository root, for tests that use the scripts and the nginx template.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("testkit sits two levels below the root")
        .to_path_buf()
}

/// Polls an asynchronous `condition` until it holds, or panics after `limit`.
pub async fn wait_until_async<Check, Answer>(limit: Duration, what: &str, mut condition: Check)
where
    Check: FnMut() -> Answer,
    Answer: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `condition` until it holds, or panics after `limit`.
pub async fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
