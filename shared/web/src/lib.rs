//! The HTTP layer every service shares, so each service only adds its routes.

pub mod body;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod tracing_span;
pub mod vibe_path;

pub use vibe_path::VibePath;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use tracing_actix_web::TracingLogger;
use tracing_span::TracedRootSpan;

/// Largest JSON body any service accepts.
pub const MAX_JSON_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A started HTTP server and the port it listens on.
pub struct HttpService {
    port: u16,
    server: Server,
}

impl HttpService {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Serves `routes` on an already bound listener (port 0 in tests) with the
/// common pieces: request tracing and metrics, `/health/live`, `/metrics`
/// (Prometheus text), problem+json for malformed
/// JSON or paths and for unknown routes.
pub fn serve<Routes>(
    service_name: &'static str,
    listener: TcpListener,
    routes: Routes,
) -> std::io::Result<HttpService>
where
    Routes: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let port = listener.local_addr()?.port();
    metrics::handle();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(move |request, next| {
                metrics::track_requests(service_name, request, next)
            }))
            .wrap(TracingLogger::<TracedRootSpan>::new())
            .app_data(metrics::ServiceName(service_name))
            .app_data(vibes_problem::json_config(MAX_JSON_BODY_BYTES))
            .app_data(vibes_problem::path_config())
            .route("/health/live", web::get().to(health::live))
            .route("/metrics", web::get().to(metrics::scrape))
            .configure(routes.clone())
            .default_service(web::to(vibes_problem::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    tracing::info!(service = service_name, port, "listening");
    Ok(HttpService { port, server })
}
