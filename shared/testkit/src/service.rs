//! Any service, in-process, on port-0 listeners: what every service's tests
//! and the end-to-end stack start.

use std::sync::Arc;
use vibes_web::service::{Service, ServiceSettings};
use vibes_web::{Application, Listeners};

/// A running service: where it answers, and its state.
pub struct Spawned<S: Service> {
    /// `http://127.0.0.1:<port>` of its API.
    pub address: String,
    pub port: u16,
    /// Where its `/metrics` is (its own listener).
    pub metrics_address: String,
    pub service: Arc<S>,
    /// Stops it as SIGTERM does.
    pub stop: actix_web::dev::ServerHandle,
}

/// Starts the service on fresh loopback listeners; panics if it does not build.
pub async fn spawn<S: Service>(settings: S::Settings) -> Spawned<S> {
    spawn_on(Listeners::loopback().expect("loopback listeners"), settings).await
}

/// Starts the service on listeners bound by the caller (a port other parts
/// were configured with before it starts).
pub async fn spawn_on<S: Service>(listeners: Listeners, settings: S::Settings) -> Spawned<S> {
    crate::init_test_logging();
    let application = Application::<S>::build_on(listeners, settings)
        .await
        .unwrap_or_else(|error| panic!("{} does not build: {error}", S::Settings::USAGE.name));
    let spawned = Spawned {
        address: format!("http://127.0.0.1:{}", application.port()),
        port: application.port(),
        metrics_address: format!("http://127.0.0.1:{}", application.metrics_port()),
        service: application.service(),
        stop: application.stop_handle(),
    };
    tokio::spawn(application.run_until_stopped());
    spawned
}

/// Why the service refuses to build with `settings`; panics if it builds.
pub async fn build_error<S: Service>(settings: S::Settings) -> String {
    match Application::<S>::build_on(Listeners::loopback().expect("loopback"), settings).await {
        Ok(_) => panic!("{} built", S::Settings::USAGE.name),
        Err(error) => error.to_string(),
    }
}
