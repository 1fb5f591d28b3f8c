use gateway::configuration::{self, Settings};
use gateway::startup::Gateway;
use vibes_testkit::service::{spawn, Spawned};
use vibes_testkit::tokens::{creator_bearer, AUTH_SECRET};

/// The gateway on port 0: its `address`, its `metrics_address`.
pub type TestGateway = Spawned<Gateway>;

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
    let mut settings = test_settings();
    customize(&mut settings);
    spawn::<Gateway>(settings).await
}
