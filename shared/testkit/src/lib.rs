//! Helpers for tests that run real processes. Everything binds to 127.0.0.1.

pub mod audio;
pub mod chirp;
pub mod edge;
pub mod http;
pub mod pki;
pub mod process;
pub mod redis_server;
pub mod service;
pub mod stub;
pub mod tokens;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A port that is free now, for processes that cannot bind port 0 and
/// report it back (Redis, the engine, nginx).
///
/// Ports come from below the kernel's ephemeral range: a port handed out for
/// binding 0 can be taken by any outgoing connection (ffmpeg publishing, a
/// probe, a client) before the process it was meant for binds it, and an
/// engine that cannot bind its port never starts. Below that range only
/// explicit binds compete; a counter keeps this process's picks apart and a
/// trial bind skips ports someone else holds.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct ports that are free now (see [`free_port`]).
pub fn free_ports<const N: usize>() -> [u16; N] {
    std::array::from_fn(|_| next_free_port())
}

fn next_free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOWEST: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = ephemeral_range_start().saturating_sub(LOWEST).max(1_000);
    // Test binaries running side by side start at different places.
    let offset = u64::from(std::process::id()) * 7_919 % u64::from(span);
    let offset = u32::try_from(offset).expect("below span");
    for _ in 0..span {
        let candidate = LOWEST + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(candidate).expect("below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range");
}

/// The first port the kernel hands out to outgoing connections and binds of
/// port 0 (Linux's default when the setting cannot be read).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
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

const SRS_PIN: &str = include_str!("../../../scripts/srs-pin");

fn pinned(name: &str) -> &'static str {
    SRS_PIN
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("scripts/srs-pin names {name}"))
        .trim()
}

/// The SRS version every test runs: `SRS_VERSION` in `scripts/srs-pin`.
pub fn srs_version() -> &'static str {
    pinned("SRS_VERSION")
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
    // Built with scripts/srs-patches applied, under SRS_BUILD.
    let built = format!("{cache}/{}/srs", pinned("SRS_BUILD"));
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
