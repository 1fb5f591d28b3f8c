//! The skeleton every service shares, zero2prod-shaped: `main` is one call
//! ([`main`]), settings are validated before anything starts, the
//! application is built on listeners (port 0 in tests), serves until
//! SIGTERM/SIGINT, and then stops what it owns: first the service's own
//! shutdown (ingest hands its streams over, the supervisor stops the
//! engine), then its background tasks. A service only says what is its own
//! ([`Service`]).

use crate::{HttpService, Listeners};
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::task::JoinSet;
use tracing::Instrument;
pub use vibes_config::{ServerSettings, Usage};
use vibes_domain::api::HealthReport;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What every service's settings have: who the service is, where it
/// listens, how much it logs, and a check of what their types cannot say.
pub trait ServiceSettings: DeserializeOwned + Send + 'static {
    /// The service's name (logs, metrics, traces), `--help` and defaults.
    const USAGE: Usage;
    fn log_level(&self) -> &str;
    fn api(&self) -> &ServerSettings;
    fn metrics(&self) -> &ServerSettings;
    /// Runs before anything starts; the error names the setting.
    fn validate(&self) -> Result<(), BoxError>;
}

/// Implements [`ServiceSettings`] for a settings struct with a `log_level`,
/// a `server` and a `metrics` listener (or the one named) and a
/// `validate(&self)` method, and defines the module's `DEFAULTS` (the
/// compiled-in `config/default.toml`) and `load()`. The service's name and
/// `--help` text are its package's name and description:
/// `service_settings!(Settings, include_str!("../config/default.toml"))`.
#[macro_export]
macro_rules! service_settings {
    ($settings:ty, $defaults:expr) => {
        $crate::service_settings!($settings, $defaults, metrics = metrics);
    };
    ($settings:ty, $defaults:expr, metrics = $($metrics:ident).+) => {
        /// The compiled-in defaults (`config/default.toml`).
        pub const DEFAULTS: &str = $defaults;

        /// The settings: the defaults, then `VIBES_CONFIG_FILE`, then `VIBES_*` variables.
        pub fn load() -> Result<$settings, vibes_config::SettingsError> {
            vibes_config::load(DEFAULTS)
        }

        impl $crate::service::ServiceSettings for $settings {
            const USAGE: $crate::service::Usage = $crate::service::Usage {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
                about: env!("CARGO_PKG_DESCRIPTION"),
                defaults_toml: DEFAULTS,
            };
            fn log_level(&self) -> &str {
                &self.log_level
            }
            fn api(&self) -> &$crate::service::ServerSettings {
                &self.server
            }
            fn metrics(&self) -> &$crate::service::ServerSettings {
                &self.$($metrics).+
            }
            fn validate(&self) -> Result<(), $crate::service::BoxError> {
                Ok(<$settings>::validate(self)?)
            }
        }
    };
}

/// What a service adds to the skeleton.
pub trait Service: Send + Sync + Sized + 'static {
    type Settings: ServiceSettings;

    /// Builds the service's state from validated settings once its API
    /// listener is bound: what the handlers need goes to
    /// [`Startup::share`], what runs beside the API to [`Startup::spawn`].
    fn build(
        settings: Self::Settings,
        startup: &mut Startup,
    ) -> impl Future<Output = Result<Self, BoxError>> + Send;

    /// Its routes (called once per HTTP worker, after the shared data).
    fn configure(&self, config: &mut web::ServiceConfig);

    /// What `GET /health/ready` reports: each part the service needs, and
    /// why one is down. Liveness (`/health/live`) checks nothing.
    fn readiness(&self) -> impl Future<Output = HealthReport> + Send;

    /// Runs when the API has drained, before the background tasks stop.
    fn stop(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

type Registration = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// What a service is given while it is built: its API port, the data its
/// handlers share, and its background tasks.
pub struct Startup {
    api_port: u16,
    shared: Vec<Registration>,
    tasks: BackgroundTasks,
}

impl Startup {
    /// The port the API listens on (ingest advertises it to the gateways).
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// Shares `data` with every handler (`web::Data<T>`); the service may
    /// keep the handle it gets back.
    pub fn share<T: Send + Sync + 'static>(&mut self, data: T) -> web::Data<T> {
        self.share_arc(Arc::new(data))
    }

    /// [`Self::share`] for data already behind an `Arc`.
    pub fn share_arc<T: Send + Sync + 'static>(&mut self, data: Arc<T>) -> web::Data<T> {
        let data = web::Data::from(data);
        let registered = data.clone();
        self.shared.push(Arc::new(move |config| {
            config.app_data(registered.clone());
        }));
        data
    }

    /// Runs `task` beside the API until the application stops.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(name, task);
    }
}

/// Tasks a service runs beside its API (the registry's warden and census,
/// ingest's heartbeat). The application owns them and stops them last.
#[derive(Default)]
pub struct BackgroundTasks {
    tasks: JoinSet<()>,
}

impl BackgroundTasks {
    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let span = tracing::info_span!("background_task", task = name);
        self.tasks.spawn(task.instrument(span));
    }

    /// Stops every task where it waits next, and waits until they are gone.
    async fn stop(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// A built service: its HTTP servers, its state, its background tasks.
pub struct Application<S: Service> {
    http: HttpService,
    service: Arc<S>,
    tasks: BackgroundTasks,
}

impl<S: Service> Application<S> {
    /// Checks the settings, then listens where they say.
    pub async fn build(settings: S::Settings) -> Result<Self, BoxError> {
        settings.validate()?;
        let listeners = Listeners {
            api: settings.api().bind()?,
            metrics: settings.metrics().bind()?,
        };
        Self::build_on(listeners, settings).await
    }

    /// Checks the settings and serves on already bound listeners (port 0 in tests).
    pub async fn build_on(listeners: Listeners, settings: S::Settings) -> Result<Self, BoxError> {
        settings.validate()?;
        let mut startup = Startup {
            api_port: listeners.api.local_addr()?.port(),
            shared: Vec::new(),
            tasks: BackgroundTasks::default(),
        };
        let service = Arc::new(S::build(settings, &mut startup).await?);
        let (routes, shared) = (web::Data::from(service.clone()), startup.shared);
        let http = crate::serve(S::Settings::USAGE.name, listeners, move |config| {
            for register in &shared {
                register(config);
            }
            config
                .app_data(routes.clone())
                .route("/health/ready", web::get().to(ready::<S>));
            routes.configure(config);
        })?;
        Ok(Self {
            http,
            service,
            tasks: startup.tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.http.port()
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_port(&self) -> u16 {
        self.http.metrics_port()
    }

    /// The service's state, for tests that inspect or disturb it.
    pub fn service(&self) -> Arc<S> {
        self.service.clone()
    }

    /// Stops the application as SIGTERM does (tests).
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.http.stop_handle()
    }

    /// Serves until SIGTERM/SIGINT (or [`Self::stop_handle`]), then stops
    /// the service and its background tasks before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.http.run_until_stopped().await;
        self.service.stop().await;
        self.tasks.stop().await;
        served
    }
}

async fn ready<S: Service>(service: web::Data<S>) -> HttpResponse {
    crate::health::report_response(&service.readiness().await)
}

/// A service binary's whole `main`: `--help`/`--version`, settings, telemetry,
/// then the application until it stops. A failure prints its cause chain.
pub async fn main<S: Service>() -> ExitCode {
    match run::<S>().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {}", vibes_problem::cause_chain(&*error));
            ExitCode::FAILURE
        }
    }
}

async fn run<S: Service>() -> Result<(), BoxError> {
    let usage = S::Settings::USAGE;
    if vibes_config::answer_command_line(&usage)? {
        return Ok(());
    }
    let settings: S::Settings = vibes_config::load(usage.defaults_toml)?;
    let _telemetry = vibes_telemetry::init(usage.name, settings.log_level());
    Application::<S>::build(settings)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
