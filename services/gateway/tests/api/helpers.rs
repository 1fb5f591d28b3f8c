use gateway::configuration::{self, Settings};
use gateway::startup::Application;
use vibes_testkit::tokens::{creator_bearer, AUTH_SECRET};
use vibes_web::Listeners;

pub struct TestGateway {
    pub address: String,
    /// Where the gateway's `/metrics` is (its own listener).
    pub metrics_address: String,
}

/// A client that speaks as the creator of stream `v1`.
pub fn creator_of_v1() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let token = creator_bearer("v1").parse().unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, token);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Upstream URLs that refuse connections (port 9 is discard; nothing listens).
pub async fn spawn_gateway_without_backends() -> TestGateway {
    spawn_gateway(false).await
}

pub async fn spawn_gateway(anonymous_join: bool) -> TestGateway {
    spawn_gateway_with(|settings| settings.auth.anonymous_join = anonymous_join).await
}

/// The test settings: the test token key, the test Redis, a pool of its own
/// with no ingest pod in it, and backends that refuse connections.
pub fn test_settings() -> Settings {
    let mut settings = configuration::load().unwrap();
    settings.redis.url = vibes_testkit::redis_server::redis_url();
    settings.auth.secret = AUTH_SECRET.to_owned().into();
    settings.upstreams.ingest_pool = format!("gateway-alone-{}", vibes_testkit::unique_suffix());
    for url in [
        &mut settings.upstreams.registry_url,
        &mut settings.upstreams.supervisor_url,
    ] {
        *url = "http://127.0.0.1:9".to_owned();
    }
    settings
}

pub async fn spawn_gateway_with(customize: impl FnOnce(&mut Settings)) -> TestGateway {
    vibes_testkit::init_test_logging();
    let mut settings = test_settings();
    customize(&mut settings);
    let application = Application::build_on(Listeners::loopback().unwrap(), settings)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_address = format!("http://127.0.0.1:{}", application.metrics_port());
    tokio::spawn(application.run_until_stopped());
    TestGateway {
        address,
        metrics_address,
    }
}
