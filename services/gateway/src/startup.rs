use crate::auth::Authenticator;
use crate::configuration::Settings;
use crate::cors;
use crate::ingest_router::IngestRouter;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::upstream::Upstream;
use actix_web::web;
use vibes_tokens::JwtKeys;
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.

/// How long an idle keep-alive connection to an upstream is kept: below the
/// 5 s after which the services (actix-web) close idle connections, so a
/// request never goes out on a connection the upstream is closing at that
/// moment (a join or a chunk then failed as `503 registry_unavailable`,
/// seen in tests/e2e/tests/edge_cluster.rs). The edge's FLV relay keeps 4 s
/// for the same reason.
const UPSTREAM_IDLE: std::time::Duration = std::time::Duration::from_secs(4);
pub use vibes_web::Listeners;

/// The internal services the gateway talks to.
#[derive(Clone)]
pub struct Upstreams {
    pub registry: Upstream,
    pub supervisor: Upstream,
}

pub struct Application;

impl Application {
    /// Checks the settings, then listens where they say.
    pub fn build(settings: Settings) -> Result<HttpService, Box<dyn std::error::Error>> {
        settings.validate()?;
        let listeners = Listeners {
            api: settings.server.bind()?,
            metrics: settings.metrics.bind()?,
        };
        Self::build_on(listeners, settings)
    }

    /// Checks the settings and serves on already bound listeners (port 0 in tests).
    pub fn build_on(
        listeners: Listeners,
        settings: Settings,
    ) -> Result<HttpService, Box<dyn std::error::Error>> {
        settings.validate()?;
        let urls = &settings.upstreams;
        // One pooled client for all upstreams: keep-alive connections are reused per host.
        let http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout())
            .timeout(urls.request_timeout())
            .pool_idle_timeout(UPSTREAM_IDLE)
            .build()?;
        let pool_redis = vibes_redis::RedisConnector::new(
            &settings.redis.url,
            std::time::Duration::from_millis(settings.redis.timeout_ms),
        )?;
        let ingest_http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout())
            .timeout(urls.ingest_timeout())
            .pool_idle_timeout(UPSTREAM_IDLE)
            .build()?;
        let ingest = web::Data::new(IngestRouter::new(
            pool_redis,
            &urls.ingest_pool,
            ingest_http,
        ));
        let upstreams = web::Data::new(Upstreams {
            registry: Upstream::new("registry", &urls.registry_url, http.clone()),
            supervisor: Upstream::new("engine_supervisor", &urls.supervisor_url, http),
        });
        let keys = JwtKeys::new(settings.auth.keys())
            .map_err(|error| format!("auth: {error}"))?
            .with_rules(settings.auth.rules());
        let auth = web::Data::new(Authenticator::new(keys, settings.auth.anonymous_join));
        let limiter = RateLimiter::new(
            &settings.redis,
            settings.rate_limits.clone(),
            settings.trust.proxies.clone(),
        )?;
        let limiter = web::Data::new(limiter);
        let cors = settings.cors.clone();
        let service = vibes_web::serve("gateway", listeners, move |config| {
            config
                .app_data(upstreams.clone())
                .app_data(ingest.clone())
                .app_data(auth.clone())
                .app_data(limiter.clone())
                // A scope spanning every route, so the CORS policy also
                // answers preflights for them.
                .service(
                    web::scope("")
                        .wrap(cors::policy(&cors))
                        .configure(routes::configure),
                );
        })?;
        Ok(service)
    }
}
