//! The HTTP layer every service shares, so each service only adds its routes.

pub mod body;
pub mod error;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod service;
pub mod tracing_span;
pub mod vibe_path;

pub use error::RequestError;
pub use service::{Application, Service, ServiceSettings, Startup};
pub use vibe_path::VibePath;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::time::Duration;
use tracing_actix_web::TracingLogger;
use tracing_span::TracedRootSpan;

/// Largest JSON body any service accepts.
pub const MAX_JSON_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How long a service keeps an idle keep-alive connection (actix-web's
/// default, stated here because clients must stay under it).
pub const SERVER_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// How long a client of the services (the gateway, ingest; the edge's
/// upstreams say 4 s too) keeps an idle pooled connection: under
/// [`SERVER_KEEP_ALIVE`], so that no request goes out on a connection the
/// service is closing at that moment. Neither reqwest nor nginx retries a
/// POST sent on such a connection: the caller got a 503 (joins refused in
/// tests/e2e/tests/edge_cluster.rs).
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The two sockets a service serves on: its API, and its Prometheus
/// `/metrics` alone, so that monitoring can be let in to metrics without
/// reaching anything else (ingest's `DELETE`, the registry's `/internal/*`).
pub struct Listeners {
    pub api: TcpListener,
    pub metrics: TcpListener,
}

impl Listeners {
    /// Both on 127.0.0.1, each on a free port (tests).
    pub fn loopback() -> std::io::Result<Self> {
        Ok(Self {
            api: TcpListener::bind("127.0.0.1:0")?,
            metrics: TcpListener::bind("127.0.0.1:0")?,
        })
    }
}

/// A started service: its API server and its metrics server, and their ports.
pub struct HttpService {
    port: u16,
    metrics_port: u16,
    server: Server,
    metrics: Server,
}

impl HttpService {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Stops the API server as a signal would (tests stop one replica of
    /// several); `run_until_stopped` then returns.
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests; the
    /// metrics stay up until the API has drained.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics_handle = self.metrics.handle();
        let api = async move {
            let served = self.server.await;
            metrics_handle.stop(true).await;
            served
        };
        let (served, _) = futures_util::future::join(api, self.metrics).await;
        served
    }
}

/// Serves `routes` on an already bound API listener (port 0 in tests) with
/// the common pieces: request tracing and metrics, `/health/live`,
/// problem+json for malformed JSON or paths and for unknown routes; and
/// `GET /metrics` (Prometheus text) on the metrics listener, which serves
/// nothing else.
pub fn serve<Routes>(
    service_name: &'static str,
    listeners: Listeners,
    routes: Routes,
) -> std::io::Result<HttpService>
where
    Routes: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let port = listeners.api.local_addr()?.port();
    let metrics_port = listeners.metrics.local_addr()?.port();
    metrics::handle();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(move |request, next| {
                metrics::track_requests(service_name, request, next)
            }))
            .wrap(TracingLogger::<TracedRootSpan>::new())
            .app_data(metrics::ServiceName(service_name))
            .app_data(error::json_config(MAX_JSON_BODY_BYTES))
            .app_data(error::path_config())
            .route("/health/live", web::get().to(health::live))
            .configure(routes.clone())
            .default_service(web::to(error::not_found))
    })
    .keep_alive(SERVER_KEEP_ALIVE)
    .listen(listeners.api)?
    .shutdown_timeout(10)
    .run();
    // Stopped with the API server (above), not by signals of its own.
    let metrics = HttpServer::new(|| {
        App::new()
            .route("/metrics", web::get().to(metrics::scrape))
            .default_service(web::to(error::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listeners.metrics)?
    .shutdown_timeout(1)
    .run();
    tracing::info!(service = service_name, port, metrics_port, "listening");
    Ok(HttpService {
        port,
        metrics_port,
        server,
        metrics,
    })
}
