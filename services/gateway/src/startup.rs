use crate::auth::Authenticator;
use crate::configuration::Settings;
use crate::cors;
use crate::error::Backend;
use crate::ingest_router::IngestRouter;
use crate::rate_limit::{self, RateLimiter};
use crate::routes;
use crate::upstream::{ReadinessProbe, Upstream, Upstreams};
use actix_web::middleware::from_fn;
use actix_web::web;
use vibes_tokens::JwtKeys;
use vibes_web::HttpService;
/// The API and metrics listeners `build_on` serves on.
pub use vibes_web::Listeners;

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
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()?;
        let pool_redis = vibes_redis::RedisConnector::new(
            &settings.redis.url,
            std::time::Duration::from_millis(settings.redis.timeout_ms),
        )?;
        let ingest_http = reqwest::Client::builder()
            .connect_timeout(urls.connect_timeout())
            .timeout(urls.ingest_timeout())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()?;
        let ingest = web::Data::new(IngestRouter::new(
            pool_redis,
            &urls.ingest_pool,
            ingest_http,
        ));
        let upstreams = web::Data::new(Upstreams {
            registry: Upstream::new(Backend::Registry, &urls.registry_url, http.clone()),
            supervisor: ReadinessProbe::new(&urls.supervisor_url, http),
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
                        .wrap(from_fn(rate_limit::quota_headers))
                        .wrap(cors::policy(&cors))
                        .configure(routes::configure),
                );
        })?;
        Ok(service)
    }
}
