//! The gateway as a [`Service`]: its state, built from the settings, and
//! its routes behind the CORS policy and the rate-limit headers.

use crate::auth::Authenticator;
use crate::configuration::{CorsSettings, Settings};
use crate::cors;
use crate::error::Backend;
use crate::ingest_router::IngestRouter;
use crate::rate_limit::{self, RateLimiter};
use crate::routes;
use crate::upstream::{ReadinessProbe, Upstream, Upstreams};
use actix_web::middleware::from_fn;
use actix_web::web;
use vibes_domain::api::{HealthReport, PartHealth};
use vibes_tokens::JwtKeys;
use vibes_web::service::BoxError;
use vibes_web::{Service, Startup};

/// The running gateway: `Application::build(settings)`, then `run_until_stopped()`.
pub type Application = vibes_web::Application<Gateway>;

pub struct Gateway {
    cors: CorsSettings,
}

impl Service for Gateway {
    type Settings = Settings;
    async fn build(settings: Settings, startup: &mut Startup) -> Result<Self, BoxError> {
        let urls = &settings.upstreams;
        // One pooled client for the registry and the supervisor, one with the
        // shorter timeout for ingest: keep-alive connections are reused per host.
        let http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout)
            .timeout(urls.request_timeout)
            .pool_idle_timeout(vibes_web::CLIENT_IDLE_TIMEOUT)
            .build()?;
        let ingest_http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout)
            .timeout(urls.ingest_timeout)
            .pool_idle_timeout(vibes_web::CLIENT_IDLE_TIMEOUT)
            .build()?;
        let pool_redis =
            vibes_redis::RedisConnector::new(&settings.redis.url, settings.redis.timeout)?;
        startup.share(IngestRouter::new(
            pool_redis,
            &urls.ingest_pool,
            ingest_http,
        ));
        startup.share(Upstreams {
            registry: Upstream::new(Backend::Registry, &urls.registry_url, http.clone()),
            supervisor: ReadinessProbe::new(&urls.supervisor_url, http),
        });
        let keys = JwtKeys::new(settings.auth.keys())
            .map_err(|error| format!("auth: {error}"))?
            .with_rules(settings.auth.rules());
        startup.share(Authenticator::new(keys, settings.auth.anonymous_join));
        startup.share(RateLimiter::new(
            &settings.redis,
            settings.rate_limits.clone(),
            settings.trust.proxies.clone(),
        )?);
        Ok(Self {
            cors: settings.cors,
        })
    }

    /// The gateway itself needs nothing but its own process to forward
    /// requests; `GET /health` asks every part of the stack.
    async fn readiness(&self) -> HealthReport {
        vibes_web::health::report([("gateway", PartHealth::up())])
    }

    /// Every route in one scope, so the CORS policy also answers preflights
    /// for them.
    fn configure(&self, config: &mut web::ServiceConfig) {
        config.service(
            web::scope("")
                .wrap(from_fn(rate_limit::quota_headers))
                .wrap(cors::policy(&self.cors))
                .configure(routes::configure),
        );
    }
}
